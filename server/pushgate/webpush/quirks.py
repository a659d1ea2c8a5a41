"""Every push service's known answers: what each means for the delivery, and for the operator.

One row per answer a push service is known to give, matched by push service, status and a
pattern of the body or of a header. A row whose push service is named matches that service's
endpoints, and also endpoints of an unknown host (a self-hosted autopush, the local push
service) when its pattern matches: the answer's shape names the service. Rows without a
pattern (a bare 503) match any service.

Sources: autopush's error codes (autopush-rs docs/src/errors.md), Apple's web push answers
(`{"reason": ...}` bodies), WNS's X-WNS-* headers, and FCM's plain-text answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from http import HTTPStatus

from pushgate.webpush.responses import Outcome, Verdict, advised_delay, classify

ANY = "*"
# Response headers a row may read: only these are kept of an answer (http1_connection).
QUIRK_HEADERS = ("x-wns-status", "x-wns-error-description")
TTL_RAN_OUT = "TTL ran out: "  # the prefix of a retried delivery that ran out of time
PUSH_SERVICES = ("fcm", "mozilla", "apple", "wns", "other")
MAX_DETAIL_CHARS = 200  # of an unknown answer's body, kept as its reason


@dataclass(frozen=True)
class Quirk:
    service: str  # fcm, mozilla, apple, wns, or ANY
    status: int
    code: str  # the stored and shown reason: short, stable, unique in the table
    verdict: Verdict
    explanation: str  # for the operator: what it means and what to do
    body: re.Pattern[str] | None = None
    header: tuple[str, re.Pattern[str]] | None = None  # (lower-case name, value pattern)

    def matches(self, service: str, status: int, body: str, headers: Mapping[str, str]) -> bool:
        if status != self.status:
            return False
        patterned = self.body is not None or self.header is not None
        if self.service not in (ANY, service) and not (service == "other" and patterned):
            return False
        if self.body is not None and not self.body.search(body):
            return False
        if self.header is not None:
            name, pattern = self.header
            return pattern.search(headers.get(name, "")) is not None
        return True


def _apple(reason: str) -> re.Pattern[str]:
    return re.compile(rf'"reason"\s*:\s*"{reason}"')


def _errno(*numbers: int) -> re.Pattern[str]:
    return re.compile(rf'"errno"\s*:\s*({"|".join(map(str, numbers))})\b')


_VAPID_KEY_CHANGED = (
    "The push was signed with a VAPID key other than the one the browser subscribed with "
    "(the site's VAPID keys changed since, or the subscription was imported from another "
    "sender). It cannot be delivered with this key: the visitor must subscribe again."
)

QUIRKS: tuple[Quirk, ...] = (
    # Apple (web.push.apple.com): 4xx answers carry {"reason": "..."}.
    Quirk("apple", 403, "BadJwtToken", Verdict.FAILED,
          "Apple refused the VAPID JWT: its subject (PUSHGATE_VAPID_SUBJECT) is a localhost "
          "address or malformed. Set a real mailto: or https: contact and restart the gateway.",
          body=_apple("BadJwtToken")),
    Quirk("apple", 400, "BadWebPushTopic", Verdict.FAILED,
          "Apple refused the Topic header: a topic must be at most 32 characters of the "
          "URL-safe base64 alphabet (letters, digits, - and _). Send with a shorter topic.",
          body=_apple("BadWebPushTopic")),
    Quirk("apple", 400, "VapidPkHashMismatch", Verdict.FAILED, _VAPID_KEY_CHANGED,
          body=_apple("VapidPkHashMismatch")),
    # WNS (*.notify.windows.com, Edge on Windows): the X-WNS-* headers say why.
    Quirk("wns", 406, "appthrottled", Verdict.RETRY,
          "WNS is throttling this sender (rate limit): the messages are retried after its "
          "Retry-After, or with backoff, until their TTL runs out.",
          header=("x-wns-status", re.compile("appthrottled", re.I))),
    Quirk("wns", 400, "TTL conflicts with cache policy", Verdict.FAILED,
          "WNS refused the message's TTL as in conflict with its cache policy for the channel "
          "(a TTL of 0 for a message WNS would have to cache). Send with a longer TTL.",
          header=("x-wns-error-description", re.compile(r"\bTTL\b|cache", re.I))),
    # FCM (fcm.googleapis.com, Chrome and most Chromium browsers): plain-text answers.
    Quirk("fcm", 404, "old /fcm/send endpoint", Verdict.GONE,
          "FCM does not take this endpoint: an old /fcm/send/ URL from a subscription made "
          "without a VAPID key (gcm_sender_id), or a damaged one. The subscription is removed; "
          "the browser subscribes again on the visitor's next visit.",
          body=re.compile("valid push subscription endpoint should be specified", re.I)),
    Quirk("fcm", 403, "VAPID key mismatch", Verdict.FAILED, _VAPID_KEY_CHANGED,
          body=re.compile("does not correspond to the sender ID", re.I)),
    Quirk("fcm", 410, "NotRegistered", Verdict.GONE,
          "The browser unsubscribed, or FCM expired the subscription (an app data wipe, a "
          "reinstall, a long absence). The subscription is removed.",
          body=re.compile("NotRegistered|unsubscribed or expired", re.I)),
    # Mozilla autopush (Firefox): JSON answers with an errno.
    Quirk("mozilla", 404, "errno 102", Verdict.GONE,
          "autopush does not know this endpoint (invalid URL endpoint): it should never be used "
          "again. The subscription is removed.", body=_errno(102)),
    Quirk("mozilla", 410, "errno 103/105/106", Verdict.GONE,
          "The subscription expired, its user agent went away, or it was unsubscribed "
          "(errno 103, 105 or 106). The subscription is removed.", body=_errno(103, 105, 106)),
    Quirk("mozilla", 413, "errno 104", Verdict.FAILED,
          "The encrypted message is larger than autopush takes (4,096 bytes; Firefox for "
          "Android takes 3,070). Shorten the title, body or data.", body=_errno(104)),
    Quirk("mozilla", 401, "errno 109", Verdict.FAILED,
          "autopush refused the VAPID authorization: the JWT is expired or names another "
          "audience, or the key is not the one the subscription was made with.",
          body=_errno(109)),
    Quirk("mozilla", 400, "errno 110", Verdict.FAILED,
          "autopush found the message's encryption keys invalid: the subscription's keys are "
          "damaged (the browser must subscribe again).", body=_errno(110)),
    Quirk("mozilla", 400, "errno 111", Verdict.FAILED,
          "autopush missed a required header (TTL or Content-Encoding): a proxy between the "
          "gateway and the push service may strip headers.", body=_errno(111)),
    Quirk("mozilla", 400, "errno 113", Verdict.FAILED,
          "autopush refused the Topic header: letters, digits, - and _ only, at most 32. "
          "Send with a shorter topic.", body=_errno(113)),
    # Any push service: overloaded or in maintenance, with advice on when to come back.
    Quirk(ANY, 503, "unavailable", Verdict.RETRY,
          "The push service is overloaded or in maintenance: the messages are retried after "
          "its Retry-After (or with backoff) until their TTL runs out."),
    Quirk(ANY, 429, "rate limited", Verdict.RETRY,
          "The push service limits this sender's rate: the messages are retried after its "
          "Retry-After (or with backoff) until their TTL runs out."),
)  # fmt: skip

_BY_CODE = {q.code: q for q in QUIRKS}


def find_quirk(
    service: str, status: int, body: str, headers: Mapping[str, str] | None = None
) -> Quirk | None:
    """The row that explains this answer, if one does."""
    for quirk in QUIRKS:
        if quirk.matches(service, status, body, headers or {}):
            return quirk
    return None


def stored_reason(service: str, detail: str) -> str:
    """A delivery's reason as stored: `SERVICE: DETAIL`, so that it names its push service
    even after a gone subscription (and with it the service it was on) is deleted."""
    return f"{service}: {detail}"


def parse_reason(reason: str) -> tuple[str | None, str, bool]:
    """(push service or None, detail, whether retries ran out of TTL) of a stored reason."""
    ran_out = reason.startswith(TTL_RAN_OUT)
    rest = reason[len(TTL_RAN_OUT) :] if ran_out else reason
    service, sep, detail = rest.partition(": ")
    if sep and service in PUSH_SERVICES:
        return service, detail, ran_out
    return None, rest, ran_out


def explain(status: int, detail: str) -> str:
    """What a stored failure means: the quirk's explanation, else one by status."""
    quirk = _BY_CODE.get(detail)
    if quirk is not None and quirk.status == status:
        return quirk.explanation
    return _generic(status, detail)


def _generic(status: int, detail: str) -> str:
    if detail == "expired":
        return "The notification's lifetime ended before this delivery could be sent."
    if detail.startswith("endpoint not allowed"):
        return (
            "The endpoint's host is not an allowed push service (see "
            "PUSHGATE_ALLOWED_PUSH_HOSTS); nothing was sent."
        )
    if status == 0:
        return "No answer from the push service (a network error or a timeout)."
    if status in (404, 410):
        return "The subscription no longer exists at the push service; it is removed."
    if status in (401, 403):
        return "The push service refused the VAPID authorization (subject, key or JWT)."
    if status == 413:
        return "The encrypted message is larger than the push service takes."
    if status in (429, 503) or status >= 500:
        return "The push service was overloaded or failing; the message was retried."
    return "The push service refused the message; its answer is the reason."


def classify_answer(
    service: str,
    status: int,
    retry_after: str | None,
    body: str,
    headers: Mapping[str, str] | None = None,
    *,
    attempt: int = 0,
    now: datetime | None = None,
) -> Outcome:
    """A push service's refusal (status >= 300) as the engine acts on it: by its row in the
    table when it has one (Retry-After honoured on a retry), else by its status. The reason
    names the push service, and is the row's code or the start of the answer."""
    quirk = find_quirk(service, status, body, headers)
    if quirk is None:
        outcome = classify(status, retry_after, body, attempt=attempt, now=now)
        detail = body.strip()[:MAX_DETAIL_CHARS] or _phrase(status)
        return replace(outcome, reason=stored_reason(service, detail))
    delay = advised_delay(retry_after, attempt, now) if quirk.verdict is Verdict.RETRY else 0.0
    return Outcome(quirk.verdict, status, stored_reason(service, quirk.code), delay)


def _phrase(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
