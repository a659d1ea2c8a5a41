"""`POST /push/{id}`: refuse as an injected fault says, or validate, decrypt and record."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from pushgate.testing.autopush import AutopushHub
from pushgate.testing.faults import Fault, FaultPlan
from pushgate.testing.records import Journal, ReceivedMessage, RecordedRequest
from pushgate.testing.registry import Channel, Endpoints, Target
from pushgate.testing.replies import (
    DEFAULT_ERRNO,
    UNKNOWN_ERRNO,
    PushRejected,
    error_response,
)
from pushgate.testing.validation import (
    ERRNO_UNAUTHORIZED,
    VapidIdentity,
    VapidVerifier,
    check_headers,
    recorded_headers,
)

MAX_TTL_SECONDS = 60 * 24 * 3600  # autopush caps TTL at 60 days and says so in its answer


class PushHandler:
    """Answers pushes as autopush does; accepted ones go to a simulated browser or Firefox."""

    def __init__(
        self,
        endpoints: Endpoints,
        verifier: VapidVerifier,
        faults: FaultPlan,
        hub: AutopushHub,
        journal: Journal,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._endpoints = endpoints
        self._verifier = verifier
        self._faults = faults
        self._hub = hub
        self._journal = journal
        self._clock = clock

    async def handle(self, request: web.Request) -> web.Response:
        endpoint_id = request.match_info["id"]
        arrived = self._clock()
        body = await request.read()
        fault = self._faults.take(endpoint_id)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        error: str | None = None
        if fault is not None and fault.refuses:
            response, error = _fault_response(fault), f"injected fault {fault.status}"
        else:
            try:
                response = await self._accept(endpoint_id, request.headers, body, arrived)
            except PushRejected as exc:
                response, error = error_response(exc.status, exc.errno, exc.message), exc.message
        headers = CIMultiDictProxy(CIMultiDict(request.headers))
        seen = RecordedRequest(
            endpoint_id, response.status, headers, len(body), arrived, error, fault is not None
        )
        self._journal.record_request(seen)
        return response

    async def _accept(
        self, endpoint_id: str, headers: Mapping[str, str], body: bytes, arrived: float
    ) -> web.Response:
        target = self._endpoints.get(endpoint_id)
        ttl = min(check_headers(headers, body), MAX_TTL_SECONDS)
        identity = self._verifier.verify(headers.get("Authorization"))
        _check_restricted_key(target, identity)
        message_id = uuid.uuid4().hex
        if isinstance(target, Channel):
            await self._hub.deliver(target, message_id, ttl, body)
            plaintext, decrypt_error = b"", None
        else:
            plaintext, decrypt_error = target.decrypt(body)
        message = ReceivedMessage(
            endpoint_id=endpoint_id,
            message_id=message_id,
            plaintext=plaintext,
            headers=recorded_headers(headers),
            vapid_claims=identity.claims,
            vapid_public_key=identity.public_key,
            received_at=arrived,
            body=body,
            decrypt_error=decrypt_error,
            via_websocket=isinstance(target, Channel),
        )
        if not isinstance(target, Channel):
            target.deliver(message)
        self._journal.record_received(message)
        # RFC 8030 §5: 201 with the push message resource in Location.
        return web.Response(status=201, headers={"Location": f"/m/{message_id}", "TTL": str(ttl)})


def _check_restricted_key(target: Target, identity: VapidIdentity) -> None:
    """A subscription made with an applicationServerKey takes pushes signed by that key only
    (RFC 8292 §4.2; autopush answers 401)."""
    key = target.key if isinstance(target, Channel) else target.application_server_key
    if key is not None and key != identity.raw_public_key:
        message = "k is not the key this subscription was made with"
        raise PushRejected(401, ERRNO_UNAUTHORIZED, message)


def _fault_response(fault: Fault) -> web.Response:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    if fault.body is not None or fault.headers:
        return _answer_as_given(fault, headers or {})
    errno = DEFAULT_ERRNO.get(fault.status, UNKNOWN_ERRNO)
    return error_response(fault.status, errno, "injected fault", headers)


def _answer_as_given(fault: Fault, headers: dict[str, str]) -> web.Response:
    """Another push service's answer: the fault's own body and headers."""
    body = fault.body or ""
    headers = {**headers, **(fault.headers or {})}
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json" if body.startswith("{") else "text/plain"
    return web.Response(status=fault.status, body=body.encode(), headers=headers)
