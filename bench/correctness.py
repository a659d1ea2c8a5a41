"""The correctness pass: decrypt what the sample sink kept, as the subscribers' browsers would.

A row whose sample is missing or does not decrypt to the expected plaintext is marked WRONG, so
a fast but wrong sender cannot win the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.keys import KeySet
from pushgate.webpush.encryption import DecryptionError, decrypt

PlaintextCheck = Callable[[bytes], bool]
PerSubscriber = Callable[[int], PlaintextCheck]  # subscriber index -> its check


@dataclass(frozen=True)
class SampleCheck:
    expected: int  # sampled subscribers
    received: int  # of them, how many got at least one body
    decrypted: int  # bodies that decrypted and matched
    bad: int  # bodies that did not

    @property
    def ok(self) -> bool:
        return self.expected > 0 and self.received == self.expected and self.bad == 0

    def describe(self) -> str:
        if self.ok:
            return f"ok {self.decrypted}/{self.expected}"
        return f"WRONG (got {self.received}/{self.expected}, {self.bad} bad)"


def exact(payload: bytes) -> PlaintextCheck:
    return lambda plaintext: plaintext == payload


def json_with_title(title: str) -> PlaintextCheck:
    """pushgate builds its own JSON payload; it must carry the title we sent."""

    def check(plaintext: bytes) -> bool:
        try:
            doc = json.loads(plaintext)
        except ValueError:
            return False
        notification = doc.get("notification", doc) if isinstance(doc, dict) else {}
        return isinstance(notification, dict) and notification.get("title") == title

    return check


def title_per_subscriber(title_of: Callable[[int], str]) -> PerSubscriber:
    """A title rendered per subscriber (issue #11): each sampled subscriber's body must carry
    its own title, not another subscriber's and not the template."""
    return lambda index: json_with_title(title_of(index))


def check_sample(
    bodies: dict[int, list[bytes]], indices: Sequence[int], keys: KeySet, check: PlaintextCheck
) -> SampleCheck:
    """Decrypt every kept body with its subscriber's keys; each must pass `check`."""
    return check_sample_each(bodies, indices, keys, lambda index: check)


def check_sample_each(
    bodies: dict[int, list[bytes]], indices: Sequence[int], keys: KeySet, check_for: PerSubscriber
) -> SampleCheck:
    """The same, each subscriber's bodies against its own check `check_for(index)`."""
    received = decrypted = bad = 0
    for index in indices:
        got = bodies.get(index, [])
        received += bool(got)
        private, auth = keys.private_key(index)
        check = check_for(index)
        for body in got:
            try:
                good = check(decrypt(body, private, auth))
            except DecryptionError:
                good = False
            decrypted += good
            bad += not good
    return SampleCheck(len(indices), received, decrypted, bad)
