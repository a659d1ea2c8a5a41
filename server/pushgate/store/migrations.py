"""Versioned schema for the SQLite backend. Append a migration; never edit a shipped one."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: sites, subscriptions, notifications, deliveries, events
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE sites (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        origins TEXT NOT NULL,            -- JSON list of origins
        vapid_private_key TEXT NOT NULL,  -- base64url scalar; never leaves the server
        vapid_public_key TEXT NOT NULL,
        prompt_text TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE api_keys (
        key_hash TEXT PRIMARY KEY,        -- sha256 of the key; the key itself is never stored
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        created_at REAL NOT NULL
    );
    CREATE TABLE subscriptions (
        key INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: delivery tokens name it
        id TEXT NOT NULL UNIQUE,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        timezone TEXT,
        language TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        external_id TEXT,
        browser TEXT,
        created_at REAL NOT NULL,
        last_seen_at REAL NOT NULL,
        UNIQUE (site_id, endpoint)
    );
    CREATE INDEX subscriptions_site ON subscriptions (site_id, key);
    CREATE INDEX subscriptions_external ON subscriptions (site_id, external_id)
        WHERE external_id IS NOT NULL;
    CREATE TABLE notifications (
        key INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        payload TEXT NOT NULL,
        audience TEXT NOT NULL,
        ttl INTEGER NOT NULL,
        urgency TEXT,
        topic TEXT,
        idempotency_key TEXT,
        request_hash TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        created_at REAL NOT NULL,
        cursor INTEGER NOT NULL DEFAULT 0,     -- last subscription key expanded into deliveries
        expanded INTEGER NOT NULL DEFAULT 0,
        targeted INTEGER NOT NULL DEFAULT 0,
        accepted INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        clicked INTEGER NOT NULL DEFAULT 0,
        dismissed INTEGER NOT NULL DEFAULT 0,
        UNIQUE (site_id, idempotency_key)
    );
    CREATE INDEX notifications_active ON notifications (status) WHERE status != 'done';
    -- No foreign key to subscriptions: a gone subscriber is deleted, its delivery stays counted.
    CREATE TABLE deliveries (
        notification_key INTEGER NOT NULL REFERENCES notifications(key) ON DELETE CASCADE,
        subscription_key INTEGER NOT NULL,
        state TEXT NOT NULL,                   -- pending | accepted | gone | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_status INTEGER,
        reason TEXT,
        PRIMARY KEY (notification_key, subscription_key)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_pending ON deliveries (notification_key, next_attempt_at)
        WHERE state = 'pending';
    CREATE TABLE events (
        notification_key INTEGER NOT NULL,
        subscription_key INTEGER NOT NULL,
        kind TEXT NOT NULL,
        action TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (notification_key, subscription_key, kind)
    ) WITHOUT ROWID;
    """,
    # 2: why a notification failed as a whole (its delivery raised the same error 3 times)
    """
    ALTER TABLE notifications ADD COLUMN error TEXT;
    CREATE INDEX notifications_running ON notifications (status)
        WHERE status IN ('queued', 'sending');
    """,
    # 3: a site's delivery rules (issue #9): the zone for subscribers without one, quiet hours
    # ("HH:MM" local wall-clock times; NULL: none), a frequency cap (NULL: none)
    """
    ALTER TABLE sites ADD COLUMN default_timezone TEXT NOT NULL DEFAULT 'UTC';
    ALTER TABLE sites ADD COLUMN quiet_hours_start TEXT;
    ALTER TABLE sites ADD COLUMN quiet_hours_end TEXT;
    ALTER TABLE sites ADD COLUMN quiet_hours_allow_high_urgency INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sites ADD COLUMN frequency_cap_max INTEGER;
    ALTER TABLE sites ADD COLUMN frequency_cap_period TEXT;   -- "24h": a number and m, h or d
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
