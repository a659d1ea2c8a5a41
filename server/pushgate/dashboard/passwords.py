"""Operators' passwords: the length rule, and argon2id hashes (argon2-cffi's defaults, RFC 9106's
second recommended option) computed off the event loop."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12  # characters
MAX_PASSWORD_LENGTH = 1024  # characters: longer is no safer, only slower to hash
CONCURRENT_HASHES = 2  # each takes 64 MiB and ~50 ms of a core: a login flood cannot take more

_hasher = PasswordHasher()
_hashing = ThreadPoolExecutor(CONCURRENT_HASHES, thread_name_prefix="pushgate-argon2")


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so that an unknown address takes as long as a
    wrong password."""
    return _hasher.hash("pushgate: no such operator")


class WeakPassword(ValueError):
    """The password breaks the length rule; the message says how."""


def check_password(password: str) -> str:
    """The password if it keeps the rules, else WeakPassword."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


@dataclass(frozen=True)
class Verified:
    ok: bool
    new_hash: str | None = None  # set when the stored hash used older parameters


def verify_password(stored_hash: str | None, password: str) -> Verified:
    """Whether `password` matches; `stored_hash` None (no such operator) takes as long, fails."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return Verified(False)
    try:
        _hasher.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return Verified(False)
    if stored_hash is None:
        return Verified(False)
    if _hasher.check_needs_rehash(stored_hash):
        return Verified(True, _hasher.hash(password))
    return Verified(True)


async def verify_password_async(stored_hash: str | None, password: str) -> Verified:
    """verify_password in a thread, at most CONCURRENT_HASHES at a time."""
    return await asyncio.get_running_loop().run_in_executor(
        _hashing, verify_password, stored_hash, password
    )
