"""Listening sockets bound before anything starts, so that a port in use is one sentence, not
uvicorn's traceback after the whole gateway has started."""

from __future__ import annotations

import errno
import socket

from pushgate.cli_errors import CommandFailed

ALL_INTERFACES = ("0.0.0.0", "::", "")


def listening_socket(host: str, port: int, *, what: str, port_flag: str) -> socket.socket:
    """A TCP socket bound to (`host`, `port`), for uvicorn to listen on; `what` and `port_flag`
    name the server and its option in the failure's sentence (CommandFailed)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CommandFailed(_not_here(host, exc.strerror)) from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CommandFailed(_refused(host, port, what, port_flag, exc)) from exc
    return sock


def _refused(host: str, port: int, what: str, port_flag: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot start {what}: port {port} on {host} is in use (another pushgate, or another "
            f"program): stop it, or choose a free port with {port_flag}"
        )
    if exc.errno == errno.EACCES:
        return (
            f"cannot start {what}: no permission to listen on port {port} (ports below 1024 "
            f"need root): choose a port above 1024 with {port_flag}, behind a proxy"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return _not_here(host, exc.strerror)
    return f"cannot start {what} on {host}:{port}: {exc.strerror or exc}"


def _not_here(host: str, reason: str | None) -> str:
    return (
        f"{host!r} is not an address of this machine ({reason}): choose one with --host "
        "(127.0.0.1 for this machine only, 0.0.0.0 for every interface)"
    )


def on_all_interfaces(host: str) -> bool:
    return host in ALL_INTERFACES
