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
            except (EOFError, OSError, TypeError):  # TypeError: closed by the writer meanwhile
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


class Outbox:
    """One sender thread per pipe, so messages never interleave and never block the loop."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done = threading.Event()
        threading.Thread(target=self._write, daemon=True, name="pushgate-pipe-writer").start()

    def put(self, message: Any) -> None:
        self._queue.put(message)

    def close(self, wait_seconds: float = 0.0) -> None:
        """Close the pipe once what was put is sent; wait for that up to `wait_seconds` (a
        process about to exit must, or its daemon writer dies with its last messages)."""
        self._queue.put(None)
        if wait_seconds:
            self._done.wait(wait_seconds)

    def _write(self) -> None:
        try:
            while (message := self._queue.get()) is not None:
                try:
                    self._conn.send(message)
                except (BrokenPipeError, OSError):
                    return
            self._conn.close()
        finally:
            self._done.set()


def start_writer(conn: Connection) -> Outbox:
    return Outbox(conn)
