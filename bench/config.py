"""Constants shared by every part of the benchmark: paths, payload, concurrency, ports."""

from __future__ import annotations

import json
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
VENV_PYTHON = REPO_DIR / ".venv" / "bin" / "python"

DEFAULT_SIZES = (
    10_000,
    20_000,
    100_000,
)  # issue #14: far row at 10,000, ratios at 20,000 and 100,000
MILLION = 1_000_000
QUICK_SIZE = 1_000

CONCURRENCY = 100  # in-flight sends for every concurrent peer (issue #4)
SINK_PORTS = 4  # loopback ports standing for four push-service origins
DEFAULT_BASE_PORT = 18440  # sink ports are BASE..BASE+3, the slow one BASE+4, samples BASE+9
FAR_DELAY_MS = 50  # the "far-away" push service adds this to every answer
SLOW_DELAY_S = 20  # the sick push service answers 201 only after this long (issue #8)
SLOW_EVERY = 20  # one subscriber in this many is on the sick service (5 %)
SAMPLES_PER_ROW = 20  # bodies kept and decrypted per row (the correctness pass)
PUSH_TTL_SECONDS = 3600
VAPID_SUBJECT = "mailto:bench@example.com"
SITE_ORIGIN = "https://bench.example"

# Issue #11: every bench subscriber has a tag `name`, one of NAMES by its index (7, a prime, so
# that the evenly spread samples meet every name); the templated row's title reads it per message.
NAMES = ("Ada", "Björn", "Chloé", "Dmitri", "Eun-ji", "Farah", "Giulia")
TEMPLATED_TITLE = "Breaking for {{ subscriber.tags.name }}: the bench headline"


def subscriber_name(index: int) -> str:
    return NAMES[index % len(NAMES)]


def templated_title(index: int) -> str:
    """TEMPLATED_TITLE as subscriber `index` must receive it."""
    return f"Breaking for {subscriber_name(index)}: the bench headline"


# ~200 bytes of JSON, the same plaintext for every peer (pushgate builds its own from TITLE).
TITLE = "Breaking: the bench headline"
PAYLOAD = json.dumps(
    {
        "title": TITLE,
        "body": "A two-line summary of the story, long enough to look like real news text.",
        "url": "https://bench.example/news/2024/bench-story",
        "tag": "bench",
        "icon": "https://bench.example/icon.png",
    },
    separators=(",", ":"),
).encode()
