"""VAPID private keys encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA-256), keys rotatable.

`--secret-key` / PUSHGATE_SECRET_KEY holds Fernet keys, comma-separated, newest first: the newest
seals, any of them unseals (cryptography's MultiFernet). A sealed value carries the `fernet:`
prefix, so values written without a key (or before this existed) still read as they are, and
`pushgate secrets rotate` seals every value again with the newest key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pushgate.settings import SettingsError, parse_list

log = logging.getLogger("pushgate.store")

SEALED_PREFIX = "fernet:"
_UNSEALED_CACHED = 1024  # a site's key is unsealed once, not on every API request


class SealedKeyUnavailable(RuntimeError):
    """A stored value is sealed and no configured key opens it."""


def parse_secret_keys(value: str | None) -> tuple[str, ...]:
    """The comma-separated Fernet keys of PUSHGATE_SECRET_KEY; SettingsError names a bad one."""
    keys = parse_list(value)
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise SettingsError(
                f"PUSHGATE_SECRET_KEY: key {position} of {len(keys)} is not a Fernet key "
                "(32 bytes, url-safe base64, 44 characters); make one with "
                "`pushgate secrets generate-key`."
            ) from None
    return keys


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class Sealer:
    """Seals and unseals stored secrets with the configured keys (none: stored as given)."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None
        self.unseal = lru_cache(maxsize=_UNSEALED_CACHED)(self._unseal)

    def __repr__(self) -> str:
        return f"Sealer(enabled={self.enabled})"

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(SEALED_PREFIX)

    def seal(self, plain: str) -> str:
        if self._fernet is None:
            return plain
        return SEALED_PREFIX + self._fernet.encrypt(plain.encode()).decode("ascii")

    def reseal(self, stored: str) -> str:
        """`stored` sealed with the newest key, whether it was plain or sealed with any key."""
        return self.seal(self.unseal(stored))

    def check(self, stored: Sequence[str]) -> None:
        """At start: every sealed value opens (else SealedKeyUnavailable); say if some are plain."""
        for value in stored:
            self.unseal(value)
        plain = sum(not self.is_sealed(value) for value in stored)
        if plain and self.enabled:
            log.warning(
                "%d of %d VAPID private keys are stored in plain text: "
                "run `pushgate secrets rotate` to encrypt them",
                plain,
                len(stored),
            )

    def _unseal(self, stored: str) -> str:
        if not self.is_sealed(stored):
            return stored
        if self._fernet is None:
            raise SealedKeyUnavailable(
                "VAPID keys are encrypted; set PUSHGATE_SECRET_KEY (or --secret-key) "
                "to the key that encrypted them"
            )
        try:
            return self._fernet.decrypt(stored[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SealedKeyUnavailable(
                "VAPID keys are encrypted with a key PUSHGATE_SECRET_KEY does not hold; add the "
                "key that encrypted them (after the new one, comma-separated)"
            ) from None
