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
    # 4: filters and segments (issue #9): every tag in a table indexed for equality and ranges
    # (kept by the subscription writes), the GeoIP country, the push service from the endpoint's
    # host (computed, never stale), time indexes, saved segments, and a notification's audience
    # as resolved when its delivery started
    """
    CREATE TABLE subscription_tags (
        subscription_key INTEGER NOT NULL REFERENCES subscriptions(key) ON DELETE CASCADE,
        name TEXT NOT NULL,
        site_id TEXT NOT NULL,
        kind TEXT NOT NULL,               -- string, number or boolean (value 1 or 0)
        value,                            -- no declared type: "5" stays text, 5 a number
        PRIMARY KEY (subscription_key, name)
    ) WITHOUT ROWID;
    CREATE INDEX subscription_tags_value ON subscription_tags (site_id, name, kind, value);
    INSERT INTO subscription_tags (subscription_key, name, site_id, kind, value)
        SELECT s.key, j.key, s.site_id,
            CASE j.type WHEN 'text' THEN 'string' WHEN 'integer' THEN 'number'
                WHEN 'real' THEN 'number' ELSE 'boolean' END,
            CASE j.type WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE j.value END
        FROM subscriptions s, json_each(s.tags) j;
    ALTER TABLE subscriptions ADD COLUMN country TEXT;  -- from GeoIP; NULL: from the time zone
    ALTER TABLE subscriptions ADD COLUMN endpoint_host TEXT GENERATED ALWAYS AS (lower(substr(
        substr(endpoint, instr(endpoint, '://') + 3), 1,
        instr(substr(endpoint, instr(endpoint, '://') + 3) || '/', '/') - 1))) VIRTUAL;
    ALTER TABLE subscriptions ADD COLUMN push_service TEXT GENERATED ALWAYS AS (CASE
        WHEN endpoint_host IN ('fcm.googleapis.com', 'android.googleapis.com') THEN 'fcm'
        WHEN endpoint_host LIKE '%.push.services.mozilla.com' THEN 'mozilla'
        WHEN endpoint_host LIKE '%.push.apple.com' THEN 'apple'
        WHEN endpoint_host LIKE '%.notify.windows.com' THEN 'wns'
        ELSE 'other' END) VIRTUAL;
    CREATE INDEX subscriptions_created ON subscriptions (site_id, created_at);
    CREATE INDEX subscriptions_last_seen ON subscriptions (site_id, last_seen_at);
    CREATE TABLE segments (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        filter TEXT NOT NULL,             -- the filter tree as JSON
        description TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (site_id, name)
    ) WITHOUT ROWID;
    ALTER TABLE notifications ADD COLUMN resolved_audience TEXT;  -- JSON tree; NULL: not yet
    """,
    # 5: scheduling (issue #9): a notification's start, local time, throttle and rule overrides;
    # per delivery its own end of life, when the push service accepted it (frequency caps count
    # these) and whether an engine holds it (a lease, apart from its due time, so that a restart
    # frees what was taken and leaves scheduled deliveries scheduled)
    """
    ALTER TABLE notifications ADD COLUMN send_at REAL;
    ALTER TABLE notifications ADD COLUMN deliver_at_local TEXT;
    ALTER TABLE notifications ADD COLUMN throttle_per_minute INTEGER;
    ALTER TABLE notifications ADD COLUMN ignore_quiet_hours INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE notifications ADD COLUMN ignore_frequency_cap INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE notifications ADD COLUMN capped INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE notifications ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX notifications_listed ON notifications (site_id, status, key);
    CREATE INDEX notifications_live ON notifications (status, send_at)
        WHERE status IN ('scheduled', 'queued', 'sending');
    ALTER TABLE deliveries ADD COLUMN leased INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN expires_at REAL;       -- NULL: the notification's
    ALTER TABLE deliveries ADD COLUMN accepted_at REAL;
    UPDATE deliveries SET leased = 1 WHERE state = 'pending' AND attempts = 0;
    CREATE INDEX deliveries_accepted ON deliveries (subscription_key, accepted_at)
        WHERE accepted_at IS NOT NULL;
    """,
    # 6: push_service as a plain column written with each endpoint: SQLite computes even a
    # VIRTUAL generated column on every insert (a bulk import paid 2 µs a row for it)
    """
    ALTER TABLE subscriptions DROP COLUMN push_service;
    ALTER TABLE subscriptions DROP COLUMN endpoint_host;
    ALTER TABLE subscriptions ADD COLUMN push_service TEXT;  -- fcm, mozilla, apple, wns, other
    UPDATE subscriptions SET push_service = lower(substr(
        substr(endpoint, instr(endpoint, '://') + 3), 1,
        instr(substr(endpoint, instr(endpoint, '://') + 3) || '/', '/') - 1));  -- the host
    UPDATE subscriptions SET push_service = CASE
        WHEN push_service IN ('fcm.googleapis.com', 'android.googleapis.com') THEN 'fcm'
        WHEN push_service LIKE '%.push.services.mozilla.com' THEN 'mozilla'
        WHEN push_service LIKE '%.push.apple.com' THEN 'apple'
        WHEN push_service LIKE '%.notify.windows.com' THEN 'wns'
        ELSE 'other' END;
    """,
    # 7: automation (issue #11): a notification's per-subscriber content (language variants,
    # fields templated over the subscriber), incoming webhooks, and events sent by a site's back
    # end or its pages
    """
    ALTER TABLE notifications ADD COLUMN content TEXT;  -- JSON (delivery/content.py); NULL: plain
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,  -- sha256 of the URL's token, which the hook is found by
        token TEXT NOT NULL,              -- the token (sealed with PUSHGATE_SECRET_KEY when set)
        secret TEXT,                      -- the HMAC secret, sealed likewise; NULL: unsigned
        definition TEXT NOT NULL,         -- JSON: {"notification", "dedupe_key"}
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (site_id, name)
    );
    CREATE TABLE tracked_events (
        key INTEGER PRIMARY KEY AUTOINCREMENT,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        id TEXT NOT NULL,                 -- the caller's id, or one made up
        name TEXT NOT NULL,
        subscription_key INTEGER,         -- one browser's event (the page's, or by subscription_id)
        external_id TEXT,                 -- a user's event: every subscription of that user
        props TEXT NOT NULL DEFAULT '{}', -- a flat JSON object of typed values
        occurred_at REAL NOT NULL,
        received_at REAL NOT NULL,
        UNIQUE (site_id, id)
    );
    CREATE INDEX tracked_events_received ON tracked_events (site_id, received_at);
    """,
    # 8: RSS and Atom feeds (issue #11): when each is polled next (and who holds it: one
    # gateway polls a feed at a time), what its last poll said, and every entry it has seen
    """
    CREATE TABLE feeds (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        definition TEXT NOT NULL,          -- JSON: {"notification": ... or null}
        interval_seconds INTEGER NOT NULL,
        next_poll_at REAL NOT NULL,
        leased_until REAL NOT NULL DEFAULT 0,
        primed INTEGER NOT NULL DEFAULT 0, -- the first poll recorded what was there
        etag TEXT,
        last_modified TEXT,
        last_polled_at REAL,
        last_status TEXT,                  -- ok | not_modified | error
        last_error TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        sent INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX feeds_due ON feeds (next_poll_at);
    CREATE INDEX feeds_site ON feeds (site_id, created_at);
    CREATE TABLE feed_entries (
        feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        identity TEXT NOT NULL,            -- sha256 of the entry's id or guid, else its link
        notification_id TEXT,              -- NULL: there before the first poll
        seen_at REAL NOT NULL,
        PRIMARY KEY (feed_id, identity)
    ) WITHOUT ROWID;
    """,
    # 9: triggers (issue #11): the rules, their pending runs (each with its due time, like a
    # delivery; claimed with a lease, so that one gateway performs it), and which tracked
    # events the trigger processor has read
    """
    CREATE TABLE triggers (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,         -- JSON: when, delay, unless, group_by, action
        enabled INTEGER NOT NULL DEFAULT 1,
        fired INTEGER NOT NULL DEFAULT 0,
        cancelled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (site_id, name)
    );
    CREATE TABLE trigger_runs (
        key INTEGER PRIMARY KEY AUTOINCREMENT,
        trigger_id TEXT NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
        user_key TEXT NOT NULL,           -- "user:<external_id>" or "subscription:<key>"
        group_value TEXT NOT NULL,        -- the group_by value as JSON; '' without group_by
        event TEXT NOT NULL,              -- the when event that (re)started it, as JSON
        started_at REAL NOT NULL,         -- that event's time: unless counts `within` from it
        due_at REAL NOT NULL,
        state TEXT NOT NULL,              -- pending | fired | cancelled
        leased_until REAL NOT NULL DEFAULT 0,
        finished_at REAL
    );
    CREATE UNIQUE INDEX trigger_runs_open ON trigger_runs (trigger_id, user_key, group_value)
        WHERE state = 'pending';
    CREATE INDEX trigger_runs_due ON trigger_runs (due_at) WHERE state = 'pending';
    ALTER TABLE tracked_events ADD COLUMN processed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX tracked_events_unprocessed ON tracked_events (key) WHERE processed = 0;
    """,
    # 10: the operator's first hour (issue #13): API keys with an id, a name and when each was
    # last used, so that several per site can be listed and revoked; the soft prompt's words
    # and snooze per site (NULL: the snippet's defaults)
    """
    ALTER TABLE api_keys ADD COLUMN id TEXT;
    ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE api_keys ADD COLUMN last_used_at REAL;
    UPDATE api_keys SET id = 'key_' || lower(hex(randomblob(8))) WHERE id IS NULL;
    CREATE UNIQUE INDEX api_keys_id ON api_keys (id);
    CREATE INDEX api_keys_site ON api_keys (site_id, created_at);
    ALTER TABLE sites ADD COLUMN prompt_accept TEXT;
    ALTER TABLE sites ADD COLUMN prompt_dismiss TEXT;
    ALTER TABLE sites ADD COLUMN prompt_snooze_days INTEGER;
    """,
    # 11: the dashboard (issue #12): operators (admins see every site, editors their own),
    # their sessions (only a hash of the cookie is kept) and failed logins (for the lockout,
    # in the database so that every gateway of a cluster counts the same)
    """
    CREATE TABLE operators (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,           -- lower-cased
        role TEXT NOT NULL,                   -- admin | editor
        password_hash TEXT NOT NULL,          -- argon2id
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE operator_sites (
        operator_id TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        PRIMARY KEY (operator_id, site_id)
    ) WITHOUT ROWID;
    CREATE TABLE dashboard_sessions (
        token_hash TEXT PRIMARY KEY,          -- sha256 of the cookie value
        operator_id TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
    CREATE TABLE login_failures (
        subject TEXT NOT NULL,                -- "email:<address>" or "address:<client ip>"
        at REAL NOT NULL
    );
    CREATE INDEX login_failures_subject ON login_failures (subject, at);
    """,
    # 12: prompt A/B tests (issue #12 part 6): up to four soft-prompt variants per site and
    # daily counters of the snippet's prompt events per variant (a roll-up: one row per
    # site, day, variant and event, never a row per event)
    """
    CREATE TABLE prompt_variants (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        id TEXT NOT NULL,                     -- short slug chosen by the operator or a..d
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        accept_label TEXT NOT NULL,
        dismiss_label TEXT NOT NULL,
        weight INTEGER NOT NULL,              -- 1..100
        PRIMARY KEY (site_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE prompt_event_counts (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        day TEXT NOT NULL,                    -- UTC date, YYYY-MM-DD
        variant_id TEXT NOT NULL,
        event TEXT NOT NULL,                  -- shown | accepted | dismissed | granted | denied
        count INTEGER NOT NULL,
        PRIMARY KEY (site_id, day, variant_id, event)
    ) WITHOUT ROWID;
    """,
    # 13: event streams out (issue #12, part 8): hooks a site's events are POSTed to, an outbox
    # of events per hook (written where the facts happen, drained by a leased dispatcher) and the
    # last attempts per hook for the dashboard
    """
    CREATE TABLE event_hooks (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        events TEXT NOT NULL,                 -- JSON list of event types
        secret TEXT NOT NULL,                 -- sealed like VAPID keys
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        backoff REAL NOT NULL DEFAULT 0,      -- seconds; 0 while the receiver answers
        leased_until REAL NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0    -- events given up after the retry window
    );
    CREATE INDEX event_hooks_site ON event_hooks (site_id, created_at);
    CREATE TABLE event_hook_outbox (
        key INTEGER PRIMARY KEY AUTOINCREMENT,
        hook_id TEXT NOT NULL REFERENCES event_hooks(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        at REAL NOT NULL,
        notification_id TEXT,
        subscription_id TEXT NOT NULL,
        action TEXT
    );
    CREATE INDEX event_hook_outbox_hook ON event_hook_outbox (hook_id, key);
    CREATE TABLE event_hook_attempts (
        key INTEGER PRIMARY KEY AUTOINCREMENT,
        hook_id TEXT NOT NULL REFERENCES event_hooks(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        status INTEGER,                       -- the receiver's HTTP status; NULL: no answer
        error TEXT,
        event_count INTEGER NOT NULL
    );
    CREATE INDEX event_hook_attempts_hook ON event_hook_attempts (hook_id, key);
    """,
    # 14: message A/B tests (issue #12 part 7): a notification's test (JSON: sample percent,
    # seconds until the winner, metric) and its winner's index once chosen; each delivery's
    # variant (NULL: none yet, a held delivery of the rest, or a notification without variants)
    """
    ALTER TABLE notifications ADD COLUMN ab_test TEXT;
    ALTER TABLE notifications ADD COLUMN winner INTEGER;
    ALTER TABLE deliveries ADD COLUMN variant INTEGER;
    """,
    # 15: stats that stay cheap at scale (issue #12 part 9): per site and UTC bucket ('day'
    # rows kept forever, 'hour' rows for PUSHGATE_DELIVERY_RETENTION) the subscribers that came
    # and went, and per notification the outcomes and events; counters per breakdown value
    # (browser, push service, language, country, time zone) kept by the subscription writes; and
    # which notifications' per-delivery rows the retention job has pruned
    """
    CREATE TABLE subscriber_rollups (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        span TEXT NOT NULL,                   -- day | hour
        bucket INTEGER NOT NULL,              -- epoch seconds of the bucket's UTC start
        new INTEGER NOT NULL DEFAULT 0,
        unsubscribed INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,      -- the push service answered 404 or 410
        PRIMARY KEY (site_id, span, bucket)
    ) WITHOUT ROWID;
    INSERT INTO subscriber_rollups (site_id, span, bucket, new)
        SELECT site_id, 'day', CAST(created_at / 86400 AS INTEGER) * 86400, COUNT(*)
        FROM subscriptions GROUP BY 1, 2, 3;
    CREATE TABLE delivery_rollups (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        span TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        notification_key INTEGER NOT NULL,
        accepted INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        clicked INTEGER NOT NULL DEFAULT 0,
        dismissed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (site_id, span, bucket, notification_key)
    ) WITHOUT ROWID;
    INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, accepted, delivered,
            clicked, dismissed, failed, gone)
        SELECT site_id, 'day', CAST(created_at / 86400 AS INTEGER) * 86400, key, accepted,
            delivered, clicked, dismissed, failed, gone
        FROM notifications WHERE accepted + delivered + clicked + dismissed + failed + gone > 0;
    CREATE TABLE subscriber_breakdowns (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        dimension TEXT NOT NULL,              -- browser, push_service, language, country, timezone
        value TEXT NOT NULL,                  -- '' when unknown
        count INTEGER NOT NULL,
        PRIMARY KEY (site_id, dimension, value)
    ) WITHOUT ROWID;
    INSERT INTO subscriber_breakdowns (site_id, dimension, value, count)
        SELECT site_id, 'browser', COALESCE(browser, ''), COUNT(*) FROM subscriptions GROUP BY 1, 3
        UNION ALL SELECT site_id, 'push_service', COALESCE(push_service, ''), COUNT(*)
            FROM subscriptions GROUP BY 1, 3
        UNION ALL SELECT site_id, 'language', COALESCE(language, ''), COUNT(*)
            FROM subscriptions GROUP BY 1, 3
        UNION ALL SELECT site_id, 'country', COALESCE(country, ''), COUNT(*)
            FROM subscriptions GROUP BY 1, 3
        UNION ALL SELECT site_id, 'timezone', COALESCE(timezone, ''), COUNT(*)
            FROM subscriptions GROUP BY 1, 3;
    ALTER TABLE notifications ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX notifications_unpruned ON notifications (created_at) WHERE pruned = 0;
    """,
    # 16: the subscriber roll-ups and breakdown counters split into shards (the subscription's
    # key mod 8 on PostgreSQL; always 0 on SQLite's single writer): concurrent subscribes of one
    # site on PostgreSQL waited on its one roll-up row (2.3x slower at 50 at once)
    """
    ALTER TABLE subscriber_rollups RENAME TO subscriber_rollups_unsharded;
    CREATE TABLE subscriber_rollups (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        span TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        shard INTEGER NOT NULL DEFAULT 0,
        new INTEGER NOT NULL DEFAULT 0,
        unsubscribed INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (site_id, span, bucket, shard)
    ) WITHOUT ROWID;
    INSERT INTO subscriber_rollups (site_id, span, bucket, new, unsubscribed, gone)
        SELECT site_id, span, bucket, new, unsubscribed, gone FROM subscriber_rollups_unsharded;
    DROP TABLE subscriber_rollups_unsharded;
    ALTER TABLE subscriber_breakdowns RENAME TO subscriber_breakdowns_unsharded;
    CREATE TABLE subscriber_breakdowns (
        site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        dimension TEXT NOT NULL,
        value TEXT NOT NULL,
        shard INTEGER NOT NULL DEFAULT 0,
        count INTEGER NOT NULL,
        PRIMARY KEY (site_id, dimension, value, shard)
    ) WITHOUT ROWID;
    INSERT INTO subscriber_breakdowns (site_id, dimension, value, count)
        SELECT site_id, dimension, value, count FROM subscriber_breakdowns_unsharded;
    DROP TABLE subscriber_breakdowns_unsharded;
    """,
    # 17: the retention job finds the hourly roll-ups past the retention by their time
    """
    CREATE INDEX subscriber_rollups_hours ON subscriber_rollups (bucket) WHERE span = 'hour';
    CREATE INDEX delivery_rollups_hours ON delivery_rollups (bucket) WHERE span = 'hour';
    """,
    # 18: a notification's roll-ups found by its key (its counters by day, its timeline by
    # minute): the primary key starts with the site, so those reads scanned the whole table
    """
    CREATE INDEX delivery_rollups_notification ON delivery_rollups (notification_key, span, bucket);
    """,
    # 19: nothing on SQLite. PostgreSQL drops the deliveries' foreign key (its per-row check
    # was an eighth of the database's CPU per message); here it costs little, and dropping it
    # would copy the whole deliveries table.
    """
    -- no statement
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
