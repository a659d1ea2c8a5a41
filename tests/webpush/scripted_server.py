"""A scripted, misbehaving HTTP/1.1 server on loopback, for the push client's tests.

It reads requests off raw sockets, counts every complete request it read, and plays one script
per connection: the n-th connection it accepts runs `scripts[n]` (or `default` past the end).
A script is an async function of a `Peer`, which reads requests and writes whatever bytes the
script likes: well-formed answers, half of one, garbage, an answer nobody asked for, a reset.
With a TLS context, `handshake(n)` says whether connection n gets its TLS handshake at all: a
connection denied it is held open, silent, as a push service that accepts TCP and then stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import re
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
GONE = b"HTTP/1.1 410 Gone\r\nContent-Length: 4\r\n\r\ngone"
_STATUS = re.compile(rb"HTTP/1\.[01] ([0-9]{3}) ")
_LENGTH = re.compile(rb"\r\ncontent-length: *([0-9]+)\r\n", re.IGNORECASE)


@dataclass
class Seen:
    """One complete request the server read, and the final status it meant as the answer."""

    connection: int
    path: str
    body: bytes
    answered: int = 0


Script = Callable[["Peer"], Awaitable[None]]
T = TypeVar("T")


class Peer:
    """The server's end of one connection, as a script drives it."""

    def __init__(
        self,
        server: ScriptedServer,
        number: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server, self.number = server, number
        self.reader, self.writer = reader, writer

    async def read_request(self) -> Seen | None:
        """The next request, counted once read whole; None at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = _LENGTH.search(head)
        body = await self.reader.readexactly(int(length.group(1))) if length else b""
        path = head.split(b" ", 2)[1].decode()
        seen = Seen(self.number, path, body)
        self.server.requests.append(seen)
        return seen

    async def discard(self) -> None:
        """Read and drop whatever bytes arrive next, unparsed and uncounted."""
        await self.reader.read(65536)

    async def send(self, data: bytes, *, to: Seen | None = None, every: int = 0) -> None:
        """Write `data`; `to` records it as that request's answer (its first final status);
        `every` > 0 writes it in pieces of that many bytes, each its own TCP segment."""
        if to is not None:
            finals = [int(s) for s in _STATUS.findall(data) if int(s) >= 200]
            to.answered = finals[0] if finals else 0
        if not every:
            self.writer.write(data)
            await self.writer.drain()
            return
        for start in range(0, len(data), every):
            self.writer.write(data[start : start + every])
            await self.writer.drain()
            await asyncio.sleep(0.002)  # Nagle is off: each piece leaves in its own segment

    async def answer(self, data: bytes, **options: int) -> Seen | None:
        """Read one request and send `data` as its answer."""
        seen = await self.read_request()
        if seen is not None:
            await self.send(data, to=seen, **options)
        return seen

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), as a crashed or overloaded server does."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        """Close gracefully: FIN, after anything written."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    async def hold(self) -> None:
        """Say nothing more, and keep the connection open until the client gives up."""
        while await self.reader.read(65536):
            pass


async def keep_answering(peer: Peer) -> None:
    """A well-behaved push service: 201 to every request, keep-alive."""
    while await peer.answer(CREATED) is not None:
        pass


class ScriptedServer:
    """Listens on 127.0.0.1 from a thread with its own asyncio loop, whatever loop the client
    under test runs on (uvloop cannot start a server-side TLS handshake on a stream)."""

    def __init__(
        self,
        *scripts: Script,
        default: Script = keep_answering,
        tls: ssl.SSLContext | None = None,
        handshake: Callable[[int], bool] = lambda number: True,
    ) -> None:
        self.scripts, self.default = scripts, default
        self.tls, self.handshake = tls, handshake
        self.requests: list[Seen] = []
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def seen(self, path: str) -> list[Seen]:
        return [request for request in self.requests if request.path == path]

    async def __aenter__(self) -> ScriptedServer:
        self._thread.start()
        self.port = await self._in_thread(self._listen())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._in_thread(self._shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 5)
        self._loop.close()

    async def _in_thread(self, work: Coroutine[object, object, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _shut(self) -> None:
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()  # scripts reading or holding see EOF and end
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=5)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        number, self.connections = self.connections, self.connections + 1
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        script = self.scripts[number] if number < len(self.scripts) else self.default
        try:
            if self.tls is not None:
                if not self.handshake(number):
                    await Peer(self, number, reader, writer).hold()  # never a ServerHello
                    return
                await writer.start_tls(self.tls)
            await script(Peer(self, number, reader, writer))
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client gave up on this connection; that is its business
        except asyncio.CancelledError:
            pass  # shutting down (asyncio's stream server logs a cancelled handler as an error)
        finally:
            self._tasks.discard(task)
            writer.transport.abort()


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and the file that
    makes a client trust it (for SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
