"""Stats that stay cheap at scale (issue #12 part 9): series read from the roll-ups, the
retention job that prunes per-delivery rows, CSV exports, and the subscriber service the
dashboard and the API share."""
