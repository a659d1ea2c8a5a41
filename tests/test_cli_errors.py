"""Every failure a user of the `pushgate` command can cause is one line saying what is wrong
and what to do, with a non-zero exit code; `pushgate --debug CMD` shows the traceback."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from pushgate.cli import main
from pushgate.server import listening_line, public_url_warning
from pushgate.settings import Settings
from tests.conftest import VAPID_SUBJECT, Gateway, free_port, pushgate_command


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    return subprocess.run(
        pushgate_command(*args),
        cwd=cwd,
        env=environ | {"PUSHGATE_VAPID_SUBJECT": VAPID_SUBJECT} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(out: subprocess.CompletedProcess[str], *words: str, code: int = 1) -> str:
    """The failure's one line, after checking the exit code and that nothing else was said."""
    assert out.returncode == code, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), out.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@contextlib.contextmanager
def port_in_use() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@contextlib.contextmanager
def foreign_server() -> Iterator[str]:
    """A web server that is not pushgate: Python's file server, which refuses POST with 501."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run("send", "--title", "Hello", "--api-key", "pgk_x", *args, cwd=tmp_path, **env)


def test_send_to_an_unreachable_gateway_says_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    one_line_error(send(tmp_path, "--gateway", url), f"cannot connect to the gateway at {url}")


def test_send_to_a_gateway_without_a_scheme_asks_for_one(tmp_path: Path) -> None:
    out = send(tmp_path, "--gateway", "127.0.0.1:8080")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "put http:// or https:// in front" in out.stderr


def test_send_to_a_server_that_is_not_pushgate_names_it(tmp_path: Path) -> None:
    with foreign_server() as url:
        line = one_line_error(send(tmp_path, "--gateway", url))
    assert f"{url} does not answer as a pushgate gateway (HTTP 501" in line
    assert "--gateway" in line


def test_send_with_a_bad_api_key_says_which_setting(
    module_gateway: Gateway, tmp_path: Path
) -> None:
    out = send(tmp_path, "--gateway", module_gateway.base_url)
    one_line_error(out, "the gateway refused the API key", "PUSHGATE_API_KEY")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out = run("--debug", "send", "--title", "Hi", "--api-key", "k", "--gateway", url, cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "httpx.ConnectError" in out.stderr


@pytest.mark.parametrize(
    ("command", "port_flag"),
    [
        (("serve",), "--port"),
        (("demo",), "--port"),
        (("demo", "--port", "0"), "--demo-port"),
        (("push-service",), "--port"),
        (("serve", "--port", "0"), "--metrics-port"),
    ],
)
def test_a_port_in_use_is_one_line(
    tmp_path: Path, command: tuple[str, ...], port_flag: str
) -> None:
    database = f"sqlite:///{tmp_path / 'p.db'}"
    with port_in_use() as port:
        args = [*command, port_flag, str(port)]
        if command[0] != "push-service":
            args += ["--database", database]
        out = run(*args, cwd=tmp_path)
    one_line_error(
        out, f"port {port} on 127.0.0.1 is in use", f"choose a free port with {port_flag}"
    )


def test_serve_on_a_host_of_another_machine_is_one_line(tmp_path: Path) -> None:
    out = run("serve", "--host", "192.0.2.1", "--database", f"sqlite:///{tmp_path / 'h.db'}",
              cwd=tmp_path)  # fmt: skip
    one_line_error(out, "'192.0.2.1' is not an address of this machine", "--host")


def test_a_database_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    database = f"sqlite:///{blocker / 'sub' / 'pushgate.db'}"
    for command in (("sites", "create", "--name", "n", "--origin", "https://a.example"),
                    ("migrate",), ("serve", "--port", str(free_port()))):  # fmt: skip
        out = run(*command, "--database", database, cwd=tmp_path)
        one_line_error(out, f"cannot create or open the database at {database}", "--database")


def test_a_folder_given_as_the_database_is_one_line(tmp_path: Path) -> None:
    out = run("migrate", "--database", f"sqlite:///{tmp_path}", cwd=tmp_path)
    one_line_error(out, f"sqlite:///{tmp_path} is a folder", f"sqlite:///{tmp_path}/pushgate.db")


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"These are my notes, not a database. " * 100)
    path.chmod(0o644)  # not a database: its mode is left alone, and nothing else is said
    database = f"sqlite:///{path}"
    for command in (("sites", "create", "--name", "n", "--origin", "https://a.example"),
                    ("serve", "--port", str(free_port()))):  # fmt: skip
        out = run(*command, "--database", database, cwd=tmp_path)
        one_line_error(out, f"{database} is not a SQLite database", "PUSHGATE_DATABASE")
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_unreachable_postgresql_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://pushgate:s3cret@127.0.0.1:{free_port()}/pushgate"
    out = run("sites", "create", "--name", "n", "--origin", "https://a.example",
              "--database", url, cwd=tmp_path)  # fmt: skip
    line = one_line_error(out, "is PostgreSQL running there?", "PUSHGATE_DATABASE")
    assert "s3cret" not in line


def test_send_offers_only_its_own_options(tmp_path: Path) -> None:
    out = run("send", "--help", cwd=tmp_path)
    assert out.returncode == 0
    for absent in ("--host", "--port", "--database", "--public-url"):
        assert absent not in out.stdout
    assert "--database" not in run("push-service", "--help", cwd=tmp_path).stdout


@pytest.mark.parametrize(
    "name", ["serve", "worker", "demo", "send", "push-service", "migrate", "copy-db"]
)
def test_every_option_has_help(name: str) -> None:
    command = main.commands[name]
    assert command.help
    for param in command.params:
        if isinstance(param, click.Option) and "--help" not in param.opts:
            assert param.help, f"{name} {param.opts[0]} has no help"


def test_every_interface_without_a_public_url_warns(tmp_path: Path) -> None:
    """Checked without listening beyond loopback: the port is taken on 127.0.0.1, so binding
    it on every interface fails, after the warning."""
    database = f"sqlite:///{tmp_path / 'w.db'}"
    with port_in_use() as port:
        serve = run("serve", "--host", "0.0.0.0", "--port", str(port), "--database", database,
                    cwd=tmp_path)  # fmt: skip
        demo = run("demo", "--host", "0.0.0.0", "--port", str(port), "--database", database,
                   cwd=tmp_path)  # fmt: skip
    warning, error = serve.stderr.splitlines()
    assert "listening on every interface (0.0.0.0) without --public-url" in warning
    assert "PUSHGATE_PUBLIC_URL" in warning
    assert error.startswith(f"Error: cannot start the gateway: port {port} on 0.0.0.0 is in use")
    warning, error = demo.stderr.splitlines()
    assert f"the demo's pages and commands use http://127.0.0.1:{port}" in warning
    assert "set --public-url" in warning and "is in use" in error


def test_thelistening_line_names_no_public_url_on_every_interface() -> None:
    everywhere = Settings(host="::", port=8080)
    assert public_url_warning(everywhere) is not None
    line = listening_line(everywhere, "pushgate listening on")
    assert line == "pushgate listening on http://[::]:8080 (no public URL: see the warning above)"
    public = Settings(host="0.0.0.0", port=8080, public_url="https://push.example.com")
    assert public_url_warning(public) is None
    assert listening_line(public, "on").endswith("(public URL https://push.example.com)")
