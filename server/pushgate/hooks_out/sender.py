"""POSTing one batch to a hook: signed, no redirects followed, no cookies or proxies, a whole
attempt within SEND_TIMEOUT_SECONDS, and every connection only to addresses checked at connect
time (the feed poller's PublicOnlyResolver: a name cannot resolve elsewhere between the check
and the connect). The answer is one line for the dashboard, never the receiver's body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiohttp

from pushgate import __version__
from pushgate.api.render import iso
from pushgate.automation.public_addresses import AddressRefused, PublicOnlyResolver, allowed_set
from pushgate.hooks_out.model import HookRefused, checked_url, public_only
from pushgate.hooks_out.signing import SIGNATURE_HEADER, signature
from pushgate.store.event_hook_rows import HookEvent

SEND_TIMEOUT_SECONDS = 10.0
USER_AGENT = f"pushgate/{__version__} (+event hooks)"
MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer
    error: str | None  # None: the receiver took the batch (2xx)

    @property
    def ok(self) -> bool:
        return self.error is None


def event_json(event: HookEvent) -> dict[str, object]:
    """One event as the receiver reads it; absent members are left out."""
    out: dict[str, object] = {"type": event.type, "at": iso(event.at)}
    if event.notification_id is not None:
        out["notification_id"] = event.notification_id
    out["subscription_id"] = event.subscription_id
    if event.action is not None:
        out["action"] = event.action
    return out


def batch_body(events: Sequence[HookEvent]) -> bytes:
    return json.dumps({"events": [event_json(e) for e in events]}, separators=(",", ":")).encode()


class HookResolver(PublicOnlyResolver):
    """PublicOnlyResolver whose refusals name the hooks' setting."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list:  # type: ignore[override,type-arg]
        try:
            return await super().resolve(host, port, family)  # type: ignore[arg-type]
        except AddressRefused as exc:
            raise AddressRefused(str(public_only(exc))) from None


def hook_session(allowed_hosts: Iterable[str]) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=HookResolver(allowed_set(allowed_hosts)), use_dns_cache=False
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),
        headers={"User-Agent": USER_AGENT},
    )


async def post_batch(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    body: bytes,
    allowed_hosts: Iterable[str],
    timeout: float = SEND_TIMEOUT_SECONDS,
) -> Answer:
    """POST one signed batch; what came of it (a 3xx is a failure: redirects are not followed)."""
    try:
        target = checked_url(url, allowed_hosts)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(body, secret)}
        async with asyncio.timeout(timeout):
            async with session.post(
                target, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return Answer(response.status, None)
                return Answer(response.status, f"HTTP {response.status} {_line(response.reason)}")
    except HookRefused as exc:
        return Answer(None, _line(str(exc)))
    except AddressRefused as exc:
        return Answer(None, _line(str(exc)))
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:g} s")
    except aiohttp.ClientError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, AddressRefused):
            return Answer(None, _line(str(cause)))
        return Answer(None, _line(f"{type(exc).__name__}: {exc}"))
    except OSError as exc:
        return Answer(None, _line(f"{type(exc).__name__}: {exc}"))


def _line(text: str | None) -> str:
    flat = "".join(c if c.isprintable() else " " for c in (text or ""))
    return " ".join(flat.split())[:MAX_ERROR_CHARS]
