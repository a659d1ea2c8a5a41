"""Notification content beyond fixed text: Jinja2 templates in a locked-down sandbox, language
variants, and the per-subscriber rendering the send workers do (issue #11)."""
