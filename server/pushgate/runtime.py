"""How pushgate's processes run: on uvloop where installed, with a collector tuned for fan-out."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any

# Collect the youngest generation after this many new container objects, not the default 700.
GC_YOUNG_THRESHOLD = 20_000


def relax_gc() -> None:
    """Fan-out makes and drops millions of short-lived objects (tasks, futures, buffers), and
    almost none sit in reference cycles, which are all the collector is for. At the default
    threshold it ran every few messages and walked every live object on each older pass: about
    15 % of a send worker's CPU in a TLS sending benchmark. Freeze what start-up loaded (it
    lives as long as the process) and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop where installed: the API and the engine share one loop, so its speed counts."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
