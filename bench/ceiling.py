"""The sink's own ceiling: how many requests a second nginx answers with nothing else to do.

`wrk` measures HTTP/1.1 over TLS with keep-alive, `h2load` HTTP/2 (ALPN). Both are bounded:
wrk by time, h2load by count, and each by a subprocess timeout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.config import CONCURRENCY, PAYLOAD

WRK_SECONDS = 3
H2LOAD_REQUESTS = 30_000
TOOL_TIMEOUT_S = 60
BODY_BYTES = len(PAYLOAD) + 103  # what an aes128gcm message of this payload weighs


@dataclass(frozen=True)
class Ceiling:
    tool: str
    protocol: str
    requests_per_s: float | None
    note: str = ""


def _post_script(out_dir: Path) -> Path:
    path = out_dir / "wrk-post.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = string.rep("x", {BODY_BYTES})\n'
        'wrk.headers["Content-Encoding"] = "aes128gcm"\n'
        'wrk.headers["TTL"] = "60"\n'
    )
    return path


def wrk_ceiling(url: str, out_dir: Path, seconds: int = WRK_SECONDS) -> Ceiling:
    if shutil.which("wrk") is None:
        return Ceiling("wrk", "HTTP/1.1+TLS", None, "wrk not installed (Debian: wrk)")
    args = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "-s", str(_post_script(out_dir))]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    note = f"{non2xx.group(1)} non-2xx" if non2xx else ""
    return Ceiling("wrk", "HTTP/1.1+TLS", float(match.group(1)) if match else None, note)


def h2load_ceiling(url: str, out_dir: Path, requests: int = H2LOAD_REQUESTS) -> Ceiling:
    if shutil.which("h2load") is None:
        return Ceiling("h2load", "HTTP/2+TLS", None, "h2load not installed (nghttp2-client)")
    body = out_dir / "h2load-body.bin"
    body.write_bytes(b"x" * BODY_BYTES)
    args = ["h2load", f"-n{requests}", "-c10", "-m10", "-t1", "-d", str(body)]
    args += ["-H", "content-encoding: aes128gcm", "-H", "ttl: 60", url]
    done = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    match = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", done.stdout)
    status = re.search(r"status codes: (\d+) 2xx", done.stdout)
    note = "" if status and int(status.group(1)) == requests else "not all 2xx"
    return Ceiling("h2load", "HTTP/2+TLS", float(match.group(1)) if match else None, note)
