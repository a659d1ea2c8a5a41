"""Encryption off the event loop: batches of messages encrypted in worker processes.

An ECDH agreement per message costs ~60-100 µs of CPU; done on the event loop it would stall
every request for the whole broadcast, and in threads it would hold the GIL. Worker
processes take a batch (one template, many subscribers) and return the bodies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from pushgate.delivery.payload import PayloadTemplate
from pushgate.delivery.tokens import make_token
from pushgate.webpush.encryption import InvalidSubscriptionKeys, encrypt

MAX_DEFAULT_WORKERS = 4
PARENT_CHECK_SECONDS = 1.0

# (subscription_key, p256dh, auth)
Recipient = tuple[int, str, str]


def encrypt_batch(
    template: PayloadTemplate, secret: bytes, notification_key: int, recipients: Sequence[Recipient]
) -> list[bytes | None]:
    """Runs in a worker: one encrypted body per recipient, None where its keys are unusable."""
    bodies: list[bytes | None] = []
    for subscription_key, p256dh, auth in recipients:
        plaintext = template.render(make_token(secret, notification_key, subscription_key))
        try:
            bodies.append(encrypt(plaintext, p256dh, auth))
        except InvalidSubscriptionKeys:
            bodies.append(None)
    return bodies


def _warm_up() -> None:
    """Import and initialise OpenSSL in the worker before the first broadcast needs it."""


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: a gateway killed with SIGKILL must not leave its workers behind."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class Encryptor:
    def __init__(self, workers: int = 0) -> None:
        count = workers or min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS)
        context = multiprocessing.get_context("spawn")  # no fork of a threaded event loop
        self._pool = ProcessPoolExecutor(
            max_workers=count,
            mp_context=context,
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
        self.workers = count

    async def warm_up(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, _warm_up) for _ in range(self.workers))
        )

    async def encrypt(
        self,
        template: PayloadTemplate,
        secret: bytes,
        notification_key: int,
        recipients: Sequence[Recipient],
    ) -> list[bytes | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, encrypt_batch, template, secret, notification_key, list(recipients)
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
