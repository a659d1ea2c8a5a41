"""The sites the browser-facing routes read, kept for a moment.

Every subscribe, preflight and config request names its site. Reading it from the store each
time cost ~100 µs of CPU (a round trip to the database thread, the row, the VAPID key's
unsealing): a third of a subscribe's (issue #14 part 4). A site read is kept for
CACHE_SECONDS. This gateway drops every kept site as soon as a request that may change one
starts and again when it ends (`ForgetSitesOnChange`: any unsafe method outside the
browser-facing `/v1/` routes: the admin API, the dashboard's forms), so its own changes are seen
by the next request; a change made elsewhere (another gateway of a cluster, the `pushgate sites`
command) is seen within CACHE_SECONDS, as with the event hooks' cache. Unknown site ids are
never kept, so made-up ids cannot fill memory; at most SITES_KEPT sites are.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from pushgate.store import Store
from pushgate.store.models import Site

CACHE_SECONDS = 1.0
SITES_KEPT = 10_000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BROWSER_FACING = "/v1/"  # subscribe, events, config, prompt events, track: they change no site


class SiteCache:
    def __init__(self, store: Store, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._monotonic = monotonic
        self._kept: dict[str, tuple[float, Site]] = {}  # site id -> (read at, site)

    async def get(self, site_id: str) -> Site | None:
        now = self._monotonic()
        kept = self._kept.get(site_id)
        if kept is not None and now - kept[0] <= CACHE_SECONDS:
            return kept[1]
        site = await self._store.get_site(site_id)
        if site is None:
            self._kept.pop(site_id, None)
            return None
        if len(self._kept) >= SITES_KEPT:
            self._kept.clear()  # rare (that many sites busy at once): start again
        self._kept[site_id] = (now, site)
        return site

    def forget(self) -> None:
        self._kept.clear()


class ForgetSitesOnChange:
    """ASGI middleware: drops the app's kept sites around every request that may change one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _may_change_a_site(scope):
            await self.app(scope, receive, send)
            return
        sites = _cache_of(scope)
        if sites is not None:
            sites.forget()
        try:
            await self.app(scope, receive, send)
        finally:
            if sites is not None:
                sites.forget()


def _may_change_a_site(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
        return False
    return not str(scope["path"]).startswith(BROWSER_FACING)


def _cache_of(scope: Scope) -> SiteCache | None:
    ctx = getattr(scope["app"].state, "ctx", None)  # None before the lifespan has run
    return None if ctx is None else ctx.sites
