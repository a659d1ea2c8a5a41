"""Demo data for the README's dashboard screenshots: a site called "Daily Planet" with two weeks
of simulated visitors on the gateway's test clock. Each day some are shown the soft prompt (two
wordings), some of those subscribe through the public route with their own browser, language,
time zone and section tag, and a few leave; a local receiver takes the site's event hook; a
storm warning and a cup final are sent, and the browsers that decrypted them report `delivered`,
`clicked` and `dismissed` as the service worker does. Seeded, so every run draws the same.

The store stamps a subscription with the machine's time, not the test clock's, so the demo writes
subscriptions in-process with that time moved to the demo's day (`backdated`): that is what
spreads the Subscribers page's growth over two weeks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

import pushgate.store.sqlite.subscriptions as sqlite_subscriptions
from pushgate.audience.fields import browser_of
from pushgate.clock import FileClock
from pushgate.store.base import Store
from pushgate.store.models import NewSubscription
from pushgate.testing import LocalPushService
from pushgate.testing.browser import SimulatedBrowser

ORIGIN = "https://www.dailyplanet.example"
DAY_SECONDS = 86_400
DAYS = 14
SEED = 1938  # the year the Daily Planet first went to press
CONCURRENCY = 20
DONE_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.2
PROMPT_VARIANTS: list[dict[str, Any]] = [
    {"id": "brief", "text": "Get the morning's top stories from the Daily Planet?",
     "accept": "Yes, please", "dismiss": "Not now", "weight": 50},
    {"id": "breaking", "text": "Breaking news from Metropolis, as it happens?",
     "accept": "Notify me", "dismiss": "No thanks", "weight": 50},
]  # fmt: skip
GRANT_RATE = {"brief": 0.42, "breaking": 0.27}  # of the visitors shown each wording
SHOWN_PER_DAY = (28, 46)  # per variant, low and high
USER_AGENTS = [  # weights follow a news site's rough browser mix
    (50, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"),
    (18, "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"),
    (14, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    (10, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Edg/131.0"),
    (8, "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Safari/605.1.15"),
]  # fmt: skip
LANGUAGES = [(55, "en-US"), (15, "en-GB"), (12, "es"), (10, "de"), (8, "fr")]
TIME_ZONES = [
    (45, "America/New_York"), (20, "America/Chicago"), (15, "America/Los_Angeles"),
    (10, "Europe/London"), (10, "Europe/Berlin"),
]  # fmt: skip
SECTIONS = [(45, "news"), (35, "sport"), (20, "weather")]


def pick(rng: random.Random, weighted: list[tuple[int, str]]) -> str:
    return rng.choices([v for _, v in weighted], weights=[w for w, _ in weighted])[0]


@dataclass
class Reader:
    browser: SimulatedBrowser
    section: str


@dataclass
class Planet:
    """The demo site and what was made for it."""

    id: str
    api_key: str
    readers: list[Reader] = field(default_factory=list)
    sent: dict[str, str] = field(default_factory=dict)  # title -> notification id

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@asynccontextmanager
async def crm_receiver(port: int) -> AsyncIterator[list[int]]:
    """A CRM's event endpoint on localhost: busy (503) for its first batch, then 200."""
    answered: list[int] = []

    async def take(_: web.Request) -> web.Response:
        status = 503 if not answered else 200
        answered.append(status)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/crm/pushgate-events", take)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield answered
    finally:
        await runner.cleanup()


class _DemoTime:
    """Stands in for the `time` module where the SQLite store stamps subscriptions."""

    def __init__(self, clock_file: Path) -> None:
        self.clock_file = clock_file

    def time(self) -> float:
        return float(self.clock_file.read_text())


@contextmanager
def backdated(clock_file: Path) -> Iterator[None]:
    real = sqlite_subscriptions.time
    sqlite_subscriptions.time = _DemoTime(clock_file)  # type: ignore[assignment]
    try:
        yield
    finally:
        sqlite_subscriptions.time = real


async def _ok(answer: httpx.Response, *codes: int) -> dict[str, Any]:
    if answer.status_code not in codes:
        raise RuntimeError(f"{answer.request.method} {answer.request.url}: {answer.text}")
    return dict(answer.json()) if answer.content else {}


class Builder:
    def __init__(
        self,
        api: httpx.AsyncClient,
        store: Store,
        push: LocalPushService,
        planet: Planet,
        clock_file: Path,
    ) -> None:
        self.api, self.store, self.push, self.planet = api, store, push, planet
        self.clock_file = clock_file
        self.rng = random.Random(SEED)
        self.gate = asyncio.Semaphore(CONCURRENCY)

    def advance(self, seconds: float) -> None:
        FileClock.write(self.clock_file, float(self.clock_file.read_text()) + seconds)

    async def prompt_event(self, event: str, variant: str) -> None:
        async with self.gate:
            answer = await self.api.post(
                f"/v1/sites/{self.planet.id}/prompt-events",
                json={"event": event, "variant": variant},
                headers={"Origin": ORIGIN},
            )
        await _ok(answer, 204)

    async def visitor(self, variant: str) -> None:
        """One visitor shown the prompt: dismisses it, or accepts and answers the browser."""
        await self.prompt_event("shown", variant)
        if self.rng.random() < GRANT_RATE[variant] / 0.8:
            await self.prompt_event("accepted", variant)
            granted = self.rng.random() < 0.8
            await self.prompt_event("granted" if granted else "denied", variant)
            if granted:
                await self.subscribe()
        else:
            await self.prompt_event("dismissed", variant)

    async def subscribe(self) -> None:
        browser = self.push.new_browser()
        section = pick(self.rng, SECTIONS)
        new = NewSubscription(
            browser.endpoint,
            browser.p256dh,
            browser.auth,
            timezone=pick(self.rng, TIME_ZONES),
            language=pick(self.rng, LANGUAGES),
            tags={"section": section},
            browser=browser_of(pick(self.rng, USER_AGENTS)),
        )
        self.planet.readers.append(Reader(browser, section))
        with backdated(self.clock_file):
            await self.store.upsert_subscription(self.planet.id, new)

    async def leave(self, count: int) -> None:
        for reader in self.rng.sample(self.planet.readers, count):
            self.planet.readers.remove(reader)
            with backdated(self.clock_file):
                endpoint = reader.browser.endpoint
                await self.store.remove_subscription_by_endpoint(self.planet.id, endpoint)

    async def day(self, index: int) -> None:
        visits = [
            str(v["id"]) for v in PROMPT_VARIANTS for _ in range(self.rng.randint(*SHOWN_PER_DAY))
        ]
        self.rng.shuffle(visits)
        # One at a time: the seeded draws stay in order, so every run makes the same readers.
        for variant in visits:
            await self.visitor(variant)
        if index > 2:
            await self.leave(self.rng.randint(1, 4))

    async def send(
        self, body: dict[str, Any], delivered: float, clicked: float, dismissed: float
    ) -> str:
        answer = await self.api.post("/api/v1/notifications", json=body, headers=self.planet.auth)
        nid = str((await _ok(answer, 202))["id"])
        self.planet.sent[body["title"]] = nid
        wanted = body.get("audience", {}).get("tags", {}).get("section")
        reached = [r.browser for r in self.planet.readers if wanted in (None, r.section)]
        await asyncio.gather(*(b.wait_for(1, timeout=DONE_TIMEOUT_SECONDS) for b in reached))
        await self.until_done(nid)
        reports = {"delivered": 0, "clicked": 0, "dismissed": 0}
        for browser in reached:
            token = next(
                p["pushgate"]["token"]
                for p in (m.json() for m in browser.messages)
                if p["pushgate"]["id"] == nid
            )
            for kind in self.reported(delivered, clicked, dismissed):
                reply = await self.api.post(
                    "/v1/events", json={"token": token, "type": kind}, headers={"Origin": ORIGIN}
                )
                await _ok(reply, 204)
                reports[kind] += 1
        await self.until_counted(nid, len(reached), reports)
        return nid

    def reported(self, delivered: float, clicked: float, dismissed: float) -> list[str]:
        """What one browser reports: shares of all reached (clicked and dismissed are among
        the delivered, and exclusive)."""
        draw = self.rng.random()
        if draw >= delivered:
            return []
        if draw < clicked:
            return ["delivered", "clicked"]
        return ["delivered", "dismissed"] if draw >= delivered - dismissed else ["delivered"]

    async def until_counted(self, nid: str, reached: int, reports: dict[str, int]) -> None:
        """The gateway's counts are what the browsers reported (a check of the demo itself)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DONE_TIMEOUT_SECONDS
        wanted = {"accepted": reached, **reports}
        while True:
            answer = await self.api.get(f"/api/v1/notifications/{nid}", headers=self.planet.auth)
            counts = (await _ok(answer, 200))["counts"]
            if {k: counts[k] for k in wanted} == wanted:
                return
            if loop.time() > deadline:
                raise RuntimeError(f"notification {nid}: counts {counts}, reported {wanted}")
            await asyncio.sleep(POLL_SECONDS)

    async def until_done(self, nid: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DONE_TIMEOUT_SECONDS
        while True:
            answer = await self.api.get(f"/api/v1/notifications/{nid}", headers=self.planet.auth)
            if (await _ok(answer, 200))["status"] == "done":
                return
            if loop.time() > deadline:
                raise RuntimeError(f"notification {nid} not done in {DONE_TIMEOUT_SECONDS} s")
            await asyncio.sleep(POLL_SECONDS)


async def build(
    api: httpx.AsyncClient,
    store: Store,
    push: LocalPushService,
    planet: Planet,
    clock_file: Path,
    hook_url: str,
) -> None:
    """Two weeks of the Daily Planet, ending on the test clock's today."""
    builder = Builder(api, store, push, planet, clock_file)
    answer = await api.patch(
        "/api/v1/site", json={"prompt_variants": PROMPT_VARIANTS}, headers=planet.auth
    )
    await _ok(answer, 200)
    for index in range(DAYS):
        if index == DAYS - 1:  # added today: a hook only holds its last 24 hours' events
            events = ["subscribed", "unsubscribed", "delivered", "clicked"]
            hook = {"url": hook_url, "events": events, "secret": "planet-crm-signing-secret"}
            await _ok(await api.post("/api/v1/event-hooks", json=hook, headers=planet.auth), 201)
        await builder.day(index)
        if index == DAYS - 4:
            storm = {"title": "Storm warning for Metropolis",
                     "body": "Winds up to 70 mph from 6 pm. Stay indoors.",
                     "url": ORIGIN + "/weather/storm-warning", "urgency": "high"}  # fmt: skip
            await builder.send(storm, delivered=0.86, clicked=0.31, dismissed=0.2)
        if index < DAYS - 1:
            builder.advance(DAY_SECONDS)
    cup = {"title": "Metropolis wins the cup!",
           "body": "A last-minute header seals it. Read Jimmy Olsen's match report.",
           "url": ORIGIN + "/sport/cup-final",
           "audience": {"tags": {"section": "sport"}}}  # fmt: skip
    await builder.send(cup, delivered=0.83, clicked=0.24, dismissed=0.25)
    weekend = datetime.fromtimestamp(float(clock_file.read_text()) + 2 * DAY_SECONDS, UTC)
    later = {"title": "The weekend edition is out",
             "send_at": weekend.strftime("%Y-%m-%dT08:00:00Z")}  # fmt: skip
    answer = await api.post("/api/v1/notifications", json=later, headers=planet.auth)
    planet.sent[later["title"]] = str((await _ok(answer, 202))["id"])
