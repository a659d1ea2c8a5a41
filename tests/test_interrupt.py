"""Ctrl-C in the terminal that runs `pushgate serve` (or `make run`) reaches the whole process
group, send workers included: the gateway stops in order, and no worker dies with a traceback
or is restarted on the way out."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import VAPID_SUBJECT, free_port, pushgate_command

WORKERS = 2


def start_in_own_group(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    """`pushgate serve` as a terminal starts it: SIGINT not ignored, its own process group."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    command = pushgate_command(
        "serve", "--port", str(port), "--database", f"sqlite:///{tmp_path / 'p.db'}"
    )
    return subprocess.Popen(
        [*command, "--send-workers", str(WORKERS)],
        env=environ | {"PUSHGATE_VAPID_SUBJECT": VAPID_SUBJECT},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_workers(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
            if health["send_workers"]["running"] == WORKERS:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("send workers did not start")


def test_ctrl_c_stops_serve_without_tracebacks(tmp_path: Path) -> None:
    port = free_port()
    process = start_in_own_group(tmp_path, port)
    try:
        wait_for_workers(port, process)
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert "Traceback" not in output, output
    assert "KeyboardInterrupt" not in output, output
    assert "starting a new one" not in output, output
    assert process.returncode != 0, output  # interrupted, as Click reports it
