"""The benchmark's shared set-up: TLS files, nginx and the sample sink, keys, subscriptions."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import keys as keymod
from bench.config import (
    PAYLOAD,
    REPO_DIR,
    SAMPLES_PER_ROW,
    SINK_PORTS,
    SLOW_DELAY_S,
    VAPID_SUBJECT,
)
from bench.sample_sink import SampleSink
from bench.sink import NginxSink
from bench.tls import TlsFiles, make_tls
from pushgate.webpush.vapid import generate_key_pair


@dataclass
class BenchEnv:
    out_dir: Path
    tls: TlsFiles
    sink: NginxSink
    slow: NginxSink  # the sick push service: one port, every answer after SLOW_DELAY_S
    samples: SampleSink
    keys: keymod.KeySet
    vapid_file: Path
    payload_file: Path

    @property
    def ports(self) -> list[int]:
        return self.sink.ports

    @property
    def slow_port(self) -> int:
        return self.slow.ports[0]

    def client_env(self) -> dict[str, str]:
        """The environment for every sender: trust the bench CA through each library's variable
        (requests lets REQUESTS_CA_BUNDLE override `Session.verify`, so it must be set too)."""
        ca = str(self.tls.ca_cert)
        names = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
        return {**os.environ, "PYTHONPATH": str(REPO_DIR), **dict.fromkeys(names, ca)}

    def sample_indices(self, size: int) -> list[int]:
        return keymod.sample_indices(size, SAMPLES_PER_ROW)

    def endpoint_of(self, size: int) -> dict[int, str]:
        """Endpoint overrides for the sampled subscribers (the rest go to /push/)."""
        return {
            i: f"https://127.0.0.1:{self.ports[i % len(self.ports)]}/sample/{i}"
            for i in self.sample_indices(size)
        }

    def endpoint(self, i: int, sampled: dict[int, str]) -> str:
        return sampled.get(i) or f"https://127.0.0.1:{self.ports[i % len(self.ports)]}/push/{i}"

    @property
    def slow_endpoint_prefix(self) -> str:
        return f"https://127.0.0.1:{self.slow_port}/"

    def slow_endpoint(self, i: int) -> str:
        return f"{self.slow_endpoint_prefix}push/{i}"

    def subscriptions_file(self, size: int) -> Path:
        path = self.out_dir / f"subs-{size}.jsonl"
        sampled = self.endpoint_of(size)
        return keymod.write_subscriptions(
            self.keys, size, lambda i: self.endpoint(i, sampled), path
        )


def sink_ports(base: int) -> tuple[list[int], int, int]:
    """The sink's ports for a base port: BASE..BASE+3 for nginx's healthy push services,
    BASE+4 for the slow one, BASE+9 for the sample sink."""
    return [base + i for i in range(SINK_PORTS)], base + SINK_PORTS, base + 9


def ports_free(base: int) -> bool:
    ports, slow_port, sample_port = sink_ports(base)
    for port in (*ports, slow_port, sample_port):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@contextmanager
def bench_env(out_dir: Path, base_port: int, max_size: int) -> Iterator[BenchEnv]:
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if not ports_free(base_port):
        raise SystemExit(f"a sink port near {base_port} is busy; pass --base-port")
    ports, slow_port, sample_port = sink_ports(base_port)
    tls = make_tls(out_dir)
    vapid = generate_key_pair()
    vapid_file = out_dir / "vapid.json"
    vapid_file.write_text(
        json.dumps(
            {
                "private_key": vapid.private_key,
                "public_key": vapid.public_key,
                "subject": VAPID_SUBJECT,
            }
        )
    )
    vapid_file.chmod(0o600)
    payload_file = out_dir / "payload.json"
    payload_file.write_bytes(PAYLOAD)
    samples = SampleSink(sample_port)
    samples.start()
    sink = NginxSink(ports, sample_port, tls, out_dir)
    slow = NginxSink([slow_port], sample_port, tls, out_dir, name="nginx-slow")
    try:
        sink.start(0)
        slow.start(SLOW_DELAY_S * 1000)
        keys = keymod.load_or_make(max_size, out_dir)
        yield BenchEnv(out_dir, tls, sink, slow, samples, keys, vapid_file, payload_file)
    finally:
        sink.stop()
        slow.stop()
        samples.stop()
