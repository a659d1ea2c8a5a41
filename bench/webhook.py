"""Issue #11's webhook latency: how long a signed call to an incoming webhook takes to answer.

One webhook is created on the bench's running gateway (the same `serve` and store as the
broadcast rows), its templates reading the payload as a CMS's "post published" would, with a
secret and a `dedupe_key`. Then CALLS sequential calls, each a distinct post id (so every call
creates a notification, none is a dedupe hit), each on a new connection as a CMS makes them,
are timed from the request until the 202 is read. Their audience matches nobody, so they add no
messages to the broadcast rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

CALLS = 50
TIMEOUT_S = 10.0
SECRET = "bench-webhook-secret-0123456789"
HOOK = {
    "name": "bench-cms",
    "notification": {
        "title": "{{ payload.post.title }}",
        "body": "{{ payload.post.excerpt }}",
        "url": "{{ payload.post.permalink }}",
        "audience": {"external_ids": ["nobody"]},  # no subscriber has it: nothing is sent
    },
    "secret": SECRET,
    "dedupe_key": "{{ payload.post.id }}",
}


@dataclass
class WebhookLatency:
    ms: list[float] = field(default_factory=list)  # one per call that answered 202
    errors: list[str] = field(default_factory=list)  # the others: status and body

    def percentile(self, share: float) -> float | None:
        """Nearest rank (an observed call): with 50 calls, p99 is the slowest."""
        if not self.ms:
            return None
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]

    def summary(self) -> str:
        if not self.ms:
            return f"no call answered 202 ({'; '.join(self.errors[:2]) or 'none made'})"
        return (
            f"{len(self.ms)} sequential signed calls: p50 {self.percentile(0.5):.1f} ms, "
            f"p99 {self.percentile(0.99):.1f} ms, max {max(self.ms):.1f} ms, "
            f"{len(self.errors)} errors"
        )


def _request(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def create_webhook(base_url: str, api_key: str) -> str:
    """The new webhook's URL, made absolute on `base_url` (the gateway has no public URL)."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    status, answer = _request(f"{base_url}/api/v1/webhooks", json.dumps(HOOK).encode(), headers)
    if status != 201:
        raise RuntimeError(f"POST /api/v1/webhooks: {status} {answer[:200]!r}")
    return base_url + "/hooks/" + str(json.loads(answer)["url"]).rsplit("/hooks/", 1)[1]


def _post(post_id: int) -> bytes:
    post = {
        "id": post_id,
        "title": f"Bench post {post_id}: the council approves the tram line",
        "excerpt": "Construction starts in spring.",
        "permalink": f"https://bench.example/news/{post_id}",
    }
    return json.dumps({"post": post}).encode()


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Pushgate-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def webhook_latency(base_url: str, api_key: str, calls: int = CALLS) -> WebhookLatency:
    """Create the bench's webhook and time `calls` sequential signed calls to it."""
    url = create_webhook(base_url, api_key)
    out = WebhookLatency()
    first_id = time.time_ns()  # distinct from any earlier run's ids, whatever the store holds
    for n in range(calls):
        body = _post(first_id + n)
        headers = _signed(body)  # signed before the clock starts, as a CMS signs
        start = time.perf_counter()
        status, answer = _request(url, body, headers)
        elapsed = (time.perf_counter() - start) * 1000
        if status == 202:
            out.ms.append(elapsed)
        else:
            out.errors.append(f"{status} {answer[:100]!r}")
    return out
