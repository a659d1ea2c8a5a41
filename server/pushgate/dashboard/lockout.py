"""Failed logins: after MAX_FAILURES for one account or one client address within WINDOW, that
subject answers 429 for LOCKOUT. Counted in the database, so every gateway of a cluster agrees;
timed by the injected wall clock (pushgate.clock), so tests move time instead of waiting."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from pushgate.store import Store

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60.0
LOCKOUT_SECONDS = 15 * 60.0
# A lock starts at a failure and is judged on the failures of one window before it.
REMEMBER_SECONDS = WINDOW_SECONDS + LOCKOUT_SECONDS


@dataclass(frozen=True)
class LoginSubjects:
    """What a login attempt counts against: the account (even one that does not exist, so an
    attacker learns nothing) and the client address."""

    email: str
    address: str

    @property
    def all(self) -> tuple[str, str]:
        return (f"email:{self.email}", f"address:{self.address}")

    @property
    def account(self) -> str:
        return f"email:{self.email}"


# One attempt at a time per subject in this process: without it, a burst of parallel guesses
# would all pass the check before the first failure is written. (Across the gateways of a
# cluster each process counts in the same table, so a burst gains at most one try per gateway.)
_attempts: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@asynccontextmanager
async def one_attempt_at_a_time(subjects: LoginSubjects) -> AsyncIterator[None]:
    """Hold both subjects' locks (in a fixed order, so two attempts never wait on each other)."""
    async with AsyncExitStack() as stack:
        for subject in sorted(subjects.all):
            lock = _attempts.get(subject)
            if lock is None:
                lock = _attempts[subject] = asyncio.Lock()
            await stack.enter_async_context(lock)
        yield


def locked_until(failures: Sequence[float]) -> float:
    """When the lock the failure times (oldest first) set ends; 0: no lock. The lock starts at
    any failure that is the MAX_FAILURES-th within WINDOW_SECONDS, and lasts LOCKOUT_SECONDS."""
    until = 0.0
    for i in range(MAX_FAILURES - 1, len(failures)):
        if failures[i] - failures[i - MAX_FAILURES + 1] <= WINDOW_SECONDS:
            until = max(until, failures[i] + LOCKOUT_SECONDS)
    return until


async def lock_end(store: Store, subjects: LoginSubjects, now: float) -> float | None:
    """The end of the lock on either subject, or None when a login may be tried now."""
    rows = await store.login_failures(subjects.all, now - REMEMBER_SECONDS)
    ends = [locked_until([at for subject, at in rows if subject == s]) for s in subjects.all]
    end = max(ends)
    return end if end > now else None


async def record_failure(store: Store, subjects: LoginSubjects, now: float) -> None:
    await store.record_login_failure(subjects.all, now, forget_before=now - REMEMBER_SECONDS)


async def record_success(store: Store, subjects: LoginSubjects) -> None:
    """The account's failures are forgiven; the address's stay (its owner may be guessing
    other accounts' passwords with its own login in between)."""
    await store.forget_login_failures(subjects.account)
