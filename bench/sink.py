"""The push-service sink: Debian's nginx on several loopback ports, TLS, HTTP/1.1 and HTTP/2.

Each port stands for one push-service origin. `/push/…` reads the body and answers 201, after
FAR_DELAY_MS in "far" mode (the echo module's `echo_sleep`); `/sample/…` is proxied to the
sample sink, which keeps bodies for the correctness pass. The access log has one line per
request with the time it started, which gives per-row counts and time to first message.

The sick push service of the slow-service row is a second instance on a port of its own,
always in a 20 s mode (bench.env): its own nginx, so that cutting its sleeping requests when a
row is over (a restart: the old worker closes what is left after SHUTDOWN_TIMEOUT_S) touches no
connection to the healthy ones.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sample_sink import DELAY_HEADER
from bench.tls import TlsFiles

NGINX = "/usr/sbin/nginx"
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
LOG_FORMAT = "$msec $request_time $status $server_port"
START_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 1  # a stop closes whatever is still open (sleeping requests) after this


@dataclass(frozen=True)
class SinkLog:
    """What the sink saw during one row."""

    requests: int
    created: int  # answered 201
    first_start: float | None  # wall-clock time the earliest request began (epoch seconds)
    last_end: float | None


def _push_location(delay_ms: int) -> str:
    sleep = f"echo_sleep {delay_ms / 1000:.3f};" if delay_ms else ""
    return f"echo_read_request_body; echo_status 201; {sleep} echo -n '';"


def render_conf(
    ports: list[int], sample_port: int, tls: TlsFiles, out_dir: Path, delay_ms: int
) -> str:
    servers = "\n".join(
        f"""  server {{
    listen 127.0.0.1:{port} ssl http2 reuseport;
    location /push/ {{ {_push_location(delay_ms)} }}
    location /sample/ {{
      proxy_set_header {DELAY_HEADER} {delay_ms};
      proxy_pass http://sample;
    }}
    location / {{ return 404; }}
  }}"""
        for port in ports
    )
    tmp = out_dir / "nginx-tmp"
    # As root, nginx's workers would run as nobody and could not reach a private out_dir
    # (pytest's tmp folders are 0700): keep them as the invoking user.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""load_module {ECHO_MODULE};
{user}worker_processes 1;
pid {out_dir}/nginx.pid;
worker_shutdown_timeout {SHUTDOWN_TIMEOUT_S}s;
error_log {out_dir}/nginx-error.log warn;
events {{ worker_connections 16384; }}
http {{
  log_format sink '{LOG_FORMAT}';
  access_log {out_dir}/access.log sink buffer=256k flush=1s;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  client_max_body_size 8k; client_body_buffer_size 8k;
  keepalive_requests 100000000; keepalive_timeout 300s;
  ssl_certificate {tls.server_cert}; ssl_certificate_key {tls.server_key};
  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:bench:10m;
  upstream sample {{ server 127.0.0.1:{sample_port}; keepalive 16; }}
  proxy_http_version 1.1; proxy_set_header Connection "";
{servers}
}}
"""


class NginxSink:
    """Start, restart in another mode, read per-row logs, stop."""

    def __init__(
        self, ports: list[int], sample_port: int, tls: TlsFiles, out_dir: Path, name: str = "nginx"
    ):
        self.ports, self.sample_port, self.tls = ports, sample_port, tls
        self.out_dir = out_dir.resolve() / name
        self.conf = self.out_dir / "nginx.conf"
        self.delay_ms = 0
        self._pid: int | None = None

    @property
    def access_log(self) -> Path:
        return self.out_dir / "access.log"

    def start(self, delay_ms: int = 0) -> None:
        self.delay_ms = delay_ms
        (self.out_dir / "nginx-tmp").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            render_conf(self.ports, self.sample_port, self.tls, self.out_dir, delay_ms)
        )
        args = [NGINX, "-c", str(self.conf), "-e", str(self.out_dir / "nginx-error.log")]
        subprocess.run([*args, "-t", "-q"], check=True)
        subprocess.run(args, check=True)
        self._pid = self._wait_for_pid()
        self.access_log.unlink(missing_ok=True)
        self._reopen_logs()

    def _wait_for_pid(self) -> int:
        pid_file = self.out_dir / "nginx.pid"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if pid_file.exists() and pid_file.read_text().strip():
                return int(pid_file.read_text())
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not start; see {self.out_dir}/nginx-error.log")

    def stop(self) -> None:
        if self._pid is None:
            return
        try:
            os.kill(self._pid, signal.SIGQUIT)  # graceful: finish what is in flight
            _wait_gone(self._pid, timeout=10)
        except ProcessLookupError:
            pass
        self._pid = None

    def restart(self, delay_ms: int) -> None:
        """Switch modes with a full restart, so no worker of the old mode keeps answering."""
        self.stop()
        self.start(delay_ms)

    def _reopen_logs(self) -> None:
        if self._pid is not None:
            os.kill(self._pid, signal.SIGUSR1)
        time.sleep(0.2)  # the master passes the signal on to the worker

    def begin_row(self) -> None:
        """Start a fresh access log so the next `end_row` sees only this row's requests."""
        self.access_log.unlink(missing_ok=True)
        self._reopen_logs()

    def end_row(self, name: str) -> SinkLog:
        """Close this row's log (reopening flushes nginx's buffer) and summarise it."""
        kept = self.out_dir / f"access-{name}.log"
        if self.access_log.exists():
            shutil.move(self.access_log, kept)
        self._reopen_logs()
        return summarise_log(kept)


def summarise_log(path: Path) -> SinkLog:
    requests = created = 0
    first: float | None = None
    last: float | None = None
    if path.exists():
        with path.open() as fh:
            for line in fh:
                msec, request_time, status, _port = line.split()
                end = float(msec)
                start = end - float(request_time)
                requests += 1
                created += status == "201"
                first = start if first is None else min(first, start)
                last = end if last is None else max(last, end)
    return SinkLog(requests, created, first, last)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
