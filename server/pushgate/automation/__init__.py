"""Pushes that send themselves: feeds, triggers (issue #11)."""
