"""Web Push protocol code: VAPID (RFC 8292), payload encryption (RFC 8291), sending (RFC 8030).

Nothing here knows about sites, storage or HTTP handlers; the app wires it.
"""
