"""When a delivery is due: pure functions of the clock, a time zone and the site's rules.

A delivery is a row with a due time (docs/architecture.md). These modules compute due times (once
per time zone for a whole batch, never per subscriber), quiet-hour delays and the throttle's
per-second budget; the delivery engine writes and claims the rows.
"""
