"""`/_test/...`: drive the service over HTTP when it runs in another process (the demo, the
benchmarks, a browser test's server). Not part of any real push service."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from pushgate.testing.browser import SimulatedBrowser
from pushgate.testing.faults import Fault
from pushgate.testing.records import ReceivedMessage


class Controllable(Protocol):
    @property
    def received(self) -> list[ReceivedMessage]: ...

    def inject(self, fault: Fault) -> None: ...

    def clear_faults(self) -> None: ...

    def new_browser(self, application_server_key: str | None = None) -> SimulatedBrowser: ...


def control_routes(service: Controllable) -> list[web.RouteDef]:
    """`POST`/`DELETE /_test/faults`, `POST /_test/browsers`, `GET /_test/received?since=N`."""

    async def add_fault(request: web.Request) -> web.Response:
        try:
            fault = Fault.from_json(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        service.inject(fault)
        return web.json_response(fault.to_json(), status=201)

    async def clear_faults(request: web.Request) -> web.Response:
        service.clear_faults()
        return web.Response(status=204)

    async def new_browser(request: web.Request) -> web.Response:
        try:
            data = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        key = data.get("applicationServerKey") if isinstance(data, dict) else None
        browser = service.new_browser(key if isinstance(key, str) else None)
        return web.json_response(browser.subscription(), status=201)

    async def received(request: web.Request) -> web.Response:
        since = request.query.get("since", "0")
        if not since.isascii() or not since.isdigit():
            return web.json_response({"error": "since must be an integer >= 0"}, status=400)
        messages = service.received[int(since) :]
        return web.json_response([m.to_json() for m in messages])

    return [
        web.post("/_test/faults", add_fault),
        web.delete("/_test/faults", clear_faults),
        web.post("/_test/browsers", new_browser),
        web.get("/_test/received", received),
    ]
