"""The one list of API error codes and the one JSON error shape.

Every non-2xx answer is `{"error": {"code", "message", "status"}}`; README.md documents each
code below, and tests/test_docs.py keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    summary: str


_CODES = [
    ErrorCode("invalid_json", 400, "The request body is not valid JSON."),
    ErrorCode("invalid_request", 400, "A field is missing, of the wrong type or out of range."),
    ErrorCode("endpoint_not_allowed", 400, "The endpoint is not https on a known push service."),
    ErrorCode(
        "invalid_key", 400, "p256dh is not an uncompressed P-256 point, or auth is not 16 bytes."
    ),
    ErrorCode("invalid_topic", 400, "topic is not 1-32 base64url characters (length not 4n+1)."),
    ErrorCode(
        "payload_too_large", 400, "The notification payload exceeds 3993 bytes of plaintext."
    ),
    ErrorCode(
        "invalid_template", 400, "A template does not parse; the message names field and line."
    ),
    ErrorCode("unauthorized", 401, "Missing or wrong API key."),
    ErrorCode("invalid_signature", 401, "The webhook's X-Pushgate-Signature is missing or wrong."),
    ErrorCode("origin_not_allowed", 403, "The request's Origin is not one of the site's origins."),
    ErrorCode("subscription_limit", 403, "The site holds as many subscriptions as it may."),
    ErrorCode("invalid_token", 403, "The event token is forged, malformed or for another site."),
    ErrorCode("not_found", 404, "No such site, subscription or notification (for this API key)."),
    ErrorCode("method_not_allowed", 405, "The route does not accept this HTTP method."),
    ErrorCode(
        "idempotency_conflict", 409, "The Idempotency-Key was used before with another body."
    ),
    ErrorCode("duplicate_event", 409, "This event was already recorded for this delivery."),
    ErrorCode("segment_exists", 409, "The site has a segment of that name already."),
    ErrorCode("webhook_exists", 409, "The site has a webhook of that name already."),
    ErrorCode("trigger_exists", 409, "The site has a trigger of that name already."),
    ErrorCode("site_exists", 409, "Another site has that name already."),
    ErrorCode("last_api_key", 409, "The key is the site's last: create another, then revoke it."),
    ErrorCode(
        "segment_in_use",
        409,
        "A segment, or a scheduled, queued or sending notification, uses the segment.",
    ),
    ErrorCode("not_cancellable", 409, "The notification is done or failed: nothing to cancel."),
    ErrorCode("body_too_large", 413, "The request body exceeds the route's size limit."),
    ErrorCode("template_error", 422, "The request's data does not render the notification."),
    ErrorCode("rate_limited", 429, "Too many requests; the Retry-After header says when to retry."),
    ErrorCode("store_unavailable", 503, "The database cannot be reached or written."),
    ErrorCode("delivery_unavailable", 503, "Fewer send workers run than configured (/healthz)."),
    ErrorCode("internal_error", 500, "An unexpected error; the server log has the details."),
]

ERROR_CODES: dict[str, ErrorCode] = {e.code: e for e in _CODES}


class ApiError(Exception):
    """An error answered to an API client in the one JSON shape."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.error = ERROR_CODES[code]
        self.message = message or self.error.summary
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return self.error.status

    def to_json(self) -> dict[str, object]:
        return {"error": {"code": self.error.code, "message": self.message, "status": self.status}}
