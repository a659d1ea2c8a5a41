"""The trigger engine: runs inside each `serve`. Every tick it reads the tracked events no
processor has read (one processor at a time: an advisory lock on PostgreSQL), turns them into
the runs they start or cancel (automation/trigger_rules.py) and writes those with the events
marked read, in one transaction; then it performs the runs now due, each claimed with a lease.

A run's notification carries the idempotency key of the run: performed again after a crash
between sending and recording, it sends nothing twice. Merging tags twice changes nothing.
Time is the app's clock (tests drive it); a run fires on the first tick at or after its due
time, after that tick has read the events before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from pushgate.api.context import AppContext
from pushgate.api.notification_content import render_now
from pushgate.api.notification_service import create_rendered
from pushgate.api.validation import tag_changes_of
from pushgate.automation.trigger_rules import TriggerRule, rule_of
from pushgate.content.sandbox import is_template
from pushgate.errors import ApiError
from pushgate.store.automation_models import DueRun, PendingEvent, RunCancel, RunStart
from pushgate.store.models import SubscriptionChanges
from pushgate.subscribers import TooManyTags, merge_user_tags, update_subscription

log = logging.getLogger("pushgate.triggers")

TICK_SECONDS = 1.0
EVENTS_PER_TICK = 500
RUNS_PER_CLAIM = 50
LEASE_SECONDS = 60.0
PROCESSOR_LOCK = 0  # the advisory lock's number (notification keys start at 1)
MAX_TAG_VALUE = 256


class TriggerEngine:
    def __init__(self, ctx: AppContext, *, tick: float = TICK_SECONDS) -> None:
        self._ctx = ctx
        self._tick = tick

    async def run(self) -> None:
        while True:
            try:
                await self.process_events()
                await self.fire_due()
            except Exception as exc:  # the database is away, say: try again next tick
                log.warning("trigger engine: %s", exc)
            await asyncio.sleep(self._tick)

    async def process_events(self) -> int:
        """Read the unread events into run changes; how many events were read."""
        store = self._ctx.store
        async with store.exclusive(PROCESSOR_LOCK) as mine:
            if not mine:
                return 0
            events = await store.unprocessed_events(EVENTS_PER_TICK)
            if not events:
                return 0
            rules: dict[str, list[TriggerRule]] = {}
            changes: list[RunStart | RunCancel] = []
            for event in events:
                if event.site_id not in rules:
                    rules[event.site_id] = await self._rules(event.site_id)
                changes += await self._changes(rules[event.site_id], event)
            await store.apply_trigger_changes(changes, [e.key for e in events], self._ctx.clock())
            return len(events)

    async def _rules(self, site_id: str) -> list[TriggerRule]:
        triggers = await self._ctx.store.enabled_triggers(site_id)
        return [rule_of(t.id, t.definition) for t in triggers]

    async def _changes(
        self, rules: list[TriggerRule], event: PendingEvent
    ) -> list[RunStart | RunCancel]:
        relevant = [r for r in rules if event.name in (r.when_event, r.unless_event)]
        profiles = []
        if any(r.reads_subscriber for r in relevant):
            profiles = await self._ctx.store.user_profiles(
                event.site_id, event.external_id, event.subscription_key
            )
        return [change for rule in relevant for change in rule.changes(event, profiles)]

    async def fire_due(self) -> int:
        """Perform the runs due now; how many."""
        now = self._ctx.clock()
        runs = await self._ctx.store.claim_due_runs(now, now + LEASE_SECONDS, RUNS_PER_CLAIM)
        for run in runs:
            fired = await self._perform(run)
            await self._ctx.store.finish_run(run, self._ctx.clock(), fired=fired)
        return len(runs)

    async def _perform(self, run: DueRun) -> bool:
        """True when the action was taken; False when it cannot be (logged, not retried)."""
        action = run.definition["action"]
        try:
            if "send" in action:
                await self._send(run, action["send"])
            else:
                await self._set_tags(run, action["set_tags"])
        except (ApiError, TooManyTags) as exc:
            log.warning("trigger %s: run %d not performed: %s", run.trigger_id, run.key, exc)
            return False
        return True

    async def _send(self, run: DueRun, send: dict[str, Any]) -> None:
        now = self._ctx.clock()
        await create_rendered(
            self._ctx, run.site_id, send | {"audience": run.event["audience"]},
            {"event": run.event["event"]},
            idempotency_key=f"trigger-run:{run.key}", request_hash=run.trigger_id, since=None,
            now=now,
        )  # fmt: skip

    async def _set_tags(self, run: DueRun, set_tags: dict[str, Any]) -> None:
        variables = {"event": run.event["event"]}
        rendered = {
            name: render_now(value, variables, f"set_tags.{name}", MAX_TAG_VALUE)
            if isinstance(value, str) and is_template(value)
            else value
            for name, value in set_tags.items()
        }
        tags = tag_changes_of(rendered, "set_tags")
        audience, store = run.event["audience"], self._ctx.store
        if "external_ids" in audience:
            await merge_user_tags(store, run.site_id, audience["external_ids"][0], tags)
        else:
            changes = SubscriptionChanges(tags=tags)
            await update_subscription(store, run.site_id, audience["subscription_ids"][0], changes)


@contextlib.asynccontextmanager
async def running_engine(ctx: AppContext) -> AsyncIterator[TriggerEngine]:
    engine = TriggerEngine(ctx)
    task = asyncio.create_task(engine.run())
    try:
        yield engine
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
