"""A notification's jobs for the send workers: claimed deliveries with what each message needs
(the payload template, or content that differs per subscriber with each one's profile), the
VAPID header of each endpoint's origin, and a TTL that is what is left of each one's lifetime."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pushgate.content.variants import Content, message_content
from pushgate.delivery.jobs import BatchJob, Target
from pushgate.delivery.payload import build_template
from pushgate.store.models import DeliveryTarget, Notification, SubscriberProfile
from pushgate.webpush.vapid import VapidSigner


class JobMaker:
    """Turns a notification's claimed deliveries into BatchJobs."""

    def __init__(
        self,
        notification: Notification,
        *,
        signer: VapidSigner,
        secret: bytes,
        events_url: str,
        clock: Callable[[], float],
    ) -> None:
        self.n = notification
        self._signer = signer
        self._secret = secret
        self._clock = clock
        self._template = build_template(notification.payload, notification.id, events_url)
        # Language variants and per-subscriber templates: the jobs carry each subscriber's
        # profile, and the send workers pick or render its message. None: one message for all.
        self.content = message_content(
            notification.payload, Content.from_json(notification.content), notification.id,
            events_url,
        )  # fmt: skip
        self.profiles: dict[int, SubscriberProfile] = {}  # read per batch when content is set

    def job_for(self, targets: Sequence[DeliveryTarget], timeout: float) -> BatchJob:
        sign = self._signer.authorization
        if self.content is not None:
            return self._job_with_profiles(targets, timeout)
        return BatchJob(
            self.n.key,
            self._template,
            self._secret,
            self._ttl_left(targets[0]),
            self.n.urgency,
            self.n.topic,
            [
                Target(
                    t.subscription_key, t.endpoint, t.p256dh, t.auth, t.attempts, sign(t.endpoint)
                )
                for t in targets
            ],
            timeout,
        )

    def _job_with_profiles(self, targets: Sequence[DeliveryTarget], timeout: float) -> BatchJob:
        sign, profiles = self._signer.authorization, self.profiles
        return BatchJob(
            self.n.key,
            self._template,
            self._secret,
            self._ttl_left(targets[0]),
            self.n.urgency,
            self.n.topic,
            [
                Target(
                    t.subscription_key,
                    t.endpoint,
                    t.p256dh,
                    t.auth,
                    t.attempts,
                    sign(t.endpoint),
                    profiles.get(t.subscription_key),
                    t.variant,
                )
                for t in targets
            ],  # fmt: skip
            timeout,
            self.content,
        )

    def _ttl_left(self, target: DeliveryTarget) -> int:
        """The TTL header: what is left of the delivery's lifetime (RFC 8030 §5.2), whole
        seconds, at least 1 (0 would drop it for a browser that is offline this moment)."""
        left = self.expires_at(target) - self._clock()
        return max(1, min(self.n.ttl, math.ceil(left)))

    def expires_at(self, target: DeliveryTarget) -> float:
        """The end of a delivery's lifetime (its own, or its notification's)."""
        return target.expires_at or self.n.expires_at
