"""The peers pushgate is measured against. Each runs as its own process and prints one JSON
line: {"sent": n, "ok": n_201, "failed": n, "seconds": wall time of the sends alone}."""
