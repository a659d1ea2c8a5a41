"""Audiences as data (#9): a filter tree parsed and checked at the edge, segments resolved into
it, and the facts about subscribers that filters read (country, browser, push service).

The tree is pure data; store backends compile it to their own SQL."""
