"""The operator's dashboard: server-rendered pages under /dashboard/ (issue #12)."""
