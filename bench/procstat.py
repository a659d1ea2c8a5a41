"""CPU seconds and resident memory of a process tree, read from /proc (Linux only)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

SAMPLE_S = 0.05  # how often a Monitor reads /proc
# How often a Monitor looks for new descendants after its first second (every sample before):
# finding them reads every process's stat file, ~8 ms of CPU on the 2-core machine, which
# every 50 ms took a sixth of a core from the rows being measured.
RESCAN_S = 1.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from "state" on


def tree(*roots: int) -> list[int]:
    """The `roots` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system time, including that of children already reaped."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / TICKS


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size: shared pages split between the processes sharing them, so the
    sum over a server and its forked workers does not count the shared pages twice."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


class Monitor:
    """Peak summed RSS and PSS and CPU seconds of the process trees under `roots`, sampled in
    a thread."""

    def __init__(self, *roots: int) -> None:
        self.roots = roots
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._cpu_start = 0.0
        self.cpu_seconds = 0.0

    def _run(self) -> None:
        started = scanned = time.monotonic()
        pids = tree(*self.roots)
        while not self._stop.is_set():
            now = time.monotonic()
            if now - started < RESCAN_S or now - scanned >= RESCAN_S:
                pids, scanned = tree(*self.roots), now
            self.peak_rss = max(self.peak_rss, rss_bytes(pids))
            self.peak_pss = max(self.peak_pss, pss_bytes(pids))
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> Monitor:
        self._cpu_start = cpu_seconds(tree(*self.roots))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = cpu_seconds(tree(*self.roots)) - self._cpu_start
