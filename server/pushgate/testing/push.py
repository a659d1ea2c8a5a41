"""`POST /push/{id}`: refuse as an injected fault says, or validate, decrypt and record.

`PushHandler.answer` is the same for every protocol: the aiohttp side (HTTP/1.1) and the HTTP/2
side (`h2server.py`) both hand it the method, path, headers and body.
"""

from __future__ import annotations

import asyncio
import re
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
    PushAnswer,
    PushRejected,
    error_answer,
)
from pushgate.testing.validation import (
    ERRNO_UNAUTHORIZED,
    VapidIdentity,
    VapidVerifier,
    check_headers,
    recorded_headers,
)

MAX_TTL_SECONDS = 60 * 24 * 3600  # autopush caps TTL at 60 days and says so in its answer
ERRNO_NOT_FOUND = 102
_PUSH_PATH = re.compile(r"/push/([^/?#]+)")


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
        """The aiohttp side: HTTP/1.1, plain or over TLS."""
        version = request.version
        body = await request.read()
        protocol = f"http/{version.major}.{version.minor}"
        answer = await self.answer(request.method, request.path, request.headers, body, protocol)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    async def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, protocol: str
    ) -> PushAnswer:
        """Answer one push request; `headers` are looked up case-insensitively, `protocol` is
        the ALPN name it came over (`http/1.1`, `h2`) and goes into the journal."""
        match = _PUSH_PATH.fullmatch(path)
        if match is None:
            return error_answer(404, ERRNO_NOT_FOUND, f"no push resource at {path}")
        if method != "POST":
            return error_answer(405, UNKNOWN_ERRNO, f"{method} is not allowed here, only POST")
        endpoint_id = match[1]
        arrived = self._clock()
        fault = self._faults.take(endpoint_id)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        error: str | None = None
        if fault is not None and fault.refuses:
            answer, error = _fault_answer(fault), f"injected fault {fault.status}"
        else:
            try:
                answer = await self._accept(endpoint_id, headers, body, arrived)
            except PushRejected as exc:
                answer, error = error_answer(exc.status, exc.errno, exc.message), exc.message
        seen = RecordedRequest(
            endpoint_id,
            answer.status,
            CIMultiDictProxy(CIMultiDict(headers)),
            len(body),
            arrived,
            error,
            fault is not None,
            protocol,
        )
        self._journal.record_request(seen)
        return answer

    async def _accept(
        self, endpoint_id: str, headers: Mapping[str, str], body: bytes, arrived: float
    ) -> PushAnswer:
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
        return PushAnswer(201, {"Location": f"/m/{message_id}", "TTL": str(ttl)})


def _check_restricted_key(target: Target, identity: VapidIdentity) -> None:
    """A subscription made with an applicationServerKey takes pushes signed by that key only
    (RFC 8292 §4.2; autopush answers 401)."""
    key = target.key if isinstance(target, Channel) else target.application_server_key
    if key is not None and key != identity.raw_public_key:
        message = "k is not the key this subscription was made with"
        raise PushRejected(401, ERRNO_UNAUTHORIZED, message)


def _fault_answer(fault: Fault) -> PushAnswer:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    if fault.body is not None or fault.headers:
        return _answer_as_given(fault, headers or {})
    errno = DEFAULT_ERRNO.get(fault.status, UNKNOWN_ERRNO)
    return error_answer(fault.status, errno, "injected fault", headers)


def _answer_as_given(fault: Fault, headers: dict[str, str]) -> PushAnswer:
    """Another push service's answer: the fault's own body and headers."""
    body = fault.body or ""
    headers = {**headers, **(fault.headers or {})}
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json" if body.startswith("{") else "text/plain"
    return PushAnswer(fault.status, headers, body.encode())
