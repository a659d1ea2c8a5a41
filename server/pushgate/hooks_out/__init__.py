"""Event streams out (issue #12 part 8): a site's events POSTed in signed batches to its hooks."""
