"""The feed poller: runs inside each `serve`, polls every due feed once across the cluster
(a feed is leased while it is polled), and sends each new entry exactly once.

- The first poll of a feed (or of its new URL) only records what is there: no backlog blast.
- An entry is known by the SHA-256 of its id or guid, else its link; once seen it is never
  sent again (an edited entry keeps its id), and a restart re-sends nothing.
- Its notification is created with an idempotency key made of the feed and the entry, before
  the entry is recorded: a crash between the two sends nothing twice.
- A failing feed backs off (the interval doubled per failure, at most a day), shows its error,
  and never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from pushgate.api.context import AppContext
from pushgate.api.notification_service import create_rendered
from pushgate.automation.feed_fetch import FeedFetchError, fetch_feed
from pushgate.automation.feed_items import FeedItem, FeedParseError, parse_feed
from pushgate.errors import ApiError
from pushgate.store.automation_models import Feed, PollOutcome

log = logging.getLogger("pushgate.feeds")

TICK_SECONDS = 1.0  # how often due feeds are looked for (their due times read the app's clock)
LEASE_SECONDS = 120.0  # a poll takes at most the fetch timeout and a few writes
FEEDS_PER_CLAIM = 8
MAX_BACKOFF_SECONDS = 24 * 3600
MAX_SENT_PER_POLL = 10  # a feed that replaced every entry at once does not blast them all


DEFAULT_BODY = "{{ item.summary | truncate(120, False, '…', 0) }}"


def default_definition(item: FeedItem) -> dict[str, Any]:
    """Without a feed's own `notification`: the entry's title (else its summary), its summary
    as plain text cut to 120 characters, its link. Templates over `item`, never the entry's
    own text as a template: a title holding "{{" is shown as written."""
    definition = {"title": "{{ item.title }}" if item.title else DEFAULT_BODY}
    if item.title and item.summary:
        definition["body"] = DEFAULT_BODY
    if item.link:
        definition["url"] = "{{ item.link }}"
    return definition


def item_variables(item: FeedItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "link": item.link,
        "summary": item.summary,
        "image": item.image,
        "published": item.published,
        "id": item.identity,
    }


def identity_of(item: FeedItem) -> str:
    return hashlib.sha256(item.identity.encode()).hexdigest()


class FeedPoller:
    def __init__(self, ctx: AppContext, *, tick: float = TICK_SECONDS) -> None:
        self._ctx = ctx
        self._tick = tick
        self._clock: Callable[[], float] = ctx.clock

    async def run(self) -> None:
        while True:
            try:
                await self.poll_due()
            except Exception as exc:  # the database is away, say: try again next tick
                log.warning("feed poller: %s", exc)
            await asyncio.sleep(self._tick)

    async def poll_due(self) -> int:
        """Poll every feed due now (in parallel); how many were polled."""
        now = self._clock()
        feeds = await self._ctx.store.claim_due_feeds(now, now + LEASE_SECONDS, FEEDS_PER_CLAIM)
        await asyncio.gather(*(self._poll(feed) for feed in feeds))
        return len(feeds)

    async def _poll(self, feed: Feed) -> None:
        try:
            outcome = await self._fetch_and_send(feed)
        except (FeedFetchError, FeedParseError) as exc:
            outcome = self._failed(feed, str(exc))
        except Exception as exc:  # never let one feed stop the others
            log.exception("feed %s: poll failed", feed.id)
            outcome = self._failed(feed, f"{type(exc).__name__}: {exc}")
        await self._ctx.store.finish_poll(feed, outcome, self._clock())

    def _failed(self, feed: Feed, error: str) -> PollOutcome:
        failures = feed.failures + 1
        wait = min(feed.interval_seconds * 2 ** min(failures, 20), MAX_BACKOFF_SECONDS)
        log.warning("feed %s (%s): %s; next try in %d s", feed.id, feed.url, error, wait)
        return PollOutcome(
            "error", error, feed.etag, feed.last_modified, feed.primed, failures,
            self._clock() + wait, 0,
        )  # fmt: skip

    async def _fetch_and_send(self, feed: Feed) -> PollOutcome:
        settings = self._ctx.settings
        response = await fetch_feed(
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            allowed_hosts=settings.allowed_feed_hosts,
        )
        next_poll = self._clock() + feed.interval_seconds
        if response.status == "not_modified":
            return PollOutcome(
                "not_modified", None, feed.etag, feed.last_modified, feed.primed, 0, next_poll, 0
            )
        items = parse_feed(response.body, base_url=response.final_url)
        sent, problem = await self._send_new(feed, items)
        return PollOutcome(
            "ok", problem, response.etag, response.last_modified, True, 0, next_poll, sent
        )

    async def _send_new(self, feed: Feed, items: list[FeedItem]) -> tuple[int, str | None]:
        """Send the entries not seen before, oldest first; (how many sent, the last problem)."""
        store, now = self._ctx.store, self._clock()
        by_identity = {identity_of(item): item for item in items}
        seen = await store.seen_entries(feed.id, list(by_identity))
        new = [(key, item) for key, item in by_identity.items() if key not in seen]
        if not feed.primed:
            await store.record_feed_entries(feed.id, [(key, None) for key, _ in new], now)
            return 0, None
        new.reverse()  # feeds list the newest first
        sent, problem = 0, None
        for key, item in new:
            notification_id = None
            if sent < MAX_SENT_PER_POLL:
                try:
                    notification_id = await self._send(feed, key, item, now)
                    sent += 1
                except ApiError as exc:  # this entry does not render: recorded, not retried
                    problem = f"entry {item.identity[:200]}: {exc.message}"
                    log.warning("feed %s: %s", feed.id, problem)
            await store.record_feed_entries(feed.id, [(key, notification_id)], now)
        return sent, problem

    async def _send(self, feed: Feed, key: str, item: FeedItem, now: float) -> str:
        definition = feed.notification or default_definition(item)
        variables: dict[str, Any] = {"item": item_variables(item)}
        notification, _ = await create_rendered(
            self._ctx, feed.site_id, definition, variables,
            idempotency_key=f"feed:{feed.id}:{key}", request_hash=feed.id, since=None, now=now,
        )  # fmt: skip
        return notification.id


@contextlib.asynccontextmanager
async def running_poller(ctx: AppContext) -> Any:
    """Poll feeds in the background while the app runs."""
    task = asyncio.create_task(FeedPoller(ctx).run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
