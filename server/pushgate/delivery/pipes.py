"""Pipe plumbing, used on both sides: a reader thread and a writer thread per pipe, so that
neither side's event loop ever blocks on a pipe."""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from multiprocessing.connection import Connection
from typing import Any

from pushgate.delivery.jobs import STOP


def start_reader(
    conn: Connection, loop: asyncio.AbstractEventLoop, deliver: Any, *, exit_on_eof: bool = False
) -> None:
    """Hand each message to the event loop; None when the other side is gone.

    In a worker (`exit_on_eof`), a vanished parent means a crash: nobody will record what this
    worker sends, and the restarted gateway sends those messages again, so stop at once.
    """

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                if exit_on_eof:
                    os._exit(0)
                message = None
            if message == STOP:
                message = None
            try:
                loop.call_soon_threadsafe(deliver, message)
            except RuntimeError:  # the loop is closed
                return
            if message is None:
                return

    threading.Thread(target=read, daemon=True, name="pushgate-pipe-reader").start()


def start_writer(conn: Connection) -> queue.SimpleQueue[Any]:
    """One sender per pipe, so messages never interleave; put None to close."""
    outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def write() -> None:
        while (message := outbox.get()) is not None:
            try:
                conn.send(message)
            except (BrokenPipeError, OSError):
                return
        conn.close()

    threading.Thread(target=write, daemon=True, name="pushgate-pipe-writer").start()
    return outbox
