"""The `pushgate` command as a site owner runs it."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pushgate.store.migrations import SCHEMA_VERSION
from tests.conftest import Gateway, free_port, pushgate_command, site_of


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    return subprocess.run(
        pushgate_command(*args),
        cwd=cwd,
        env=environ | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sites_create_json_prints_exactly_one_object(tmp_path: Path) -> None:
    out = run(
        "sites",
        "create",
        "--name",
        "news",
        "--origin",
        "https://news.example/",
        "--origin",
        "http://localhost:8081",
        "--json",
        "--database",
        f"sqlite:///{tmp_path / 'a.db'}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert set(created) == {"id", "name", "api_key", "vapid_public_key", "origins"}
    assert created["origins"] == ["https://news.example", "http://localhost:8081"]
    assert len(created["vapid_public_key"]) == 87
    assert created["api_key"] not in (tmp_path / "a.db").read_bytes().decode("latin-1")


def test_sites_create_text_shows_the_script_tag(tmp_path: Path) -> None:
    out = run(
        "sites",
        "create",
        "--name",
        "news",
        "--origin",
        "https://news.example",
        "--public-url",
        "https://push.news.example",
        cwd=tmp_path,
        PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'b.db'}",
    )
    assert '<script src="https://push.news.example/static/pushgate.js" data-site="' in out.stdout
    assert 'importScripts("https://push.news.example/sw/pushgate-sw.js")' in out.stdout


@pytest.mark.parametrize("origin", ["news.example", "https://news.example/path", "ftp://x.example"])
def test_sites_create_refuses_what_is_not_an_origin(tmp_path: Path, origin: str) -> None:
    out = run(
        "sites",
        "create",
        "--name",
        "n",
        "--origin",
        origin,
        cwd=tmp_path,
        PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'c.db'}",
    )
    assert out.returncode == 2 and "origin" in out.stderr


@pytest.mark.parametrize(
    ("subject", "says"),
    [
        (None, "PUSHGATE_VAPID_SUBJECT"),
        ("ops@example.com", "mailto:"),
        ("mailto:ops@localhost", "localhost"),
        ("https://localhost", "localhost"),
        ("mailto: ops@example.com", "spaces"),
        ("http://example.com", "mailto:"),
    ],
)
def test_serve_refuses_to_start_without_a_valid_vapid_subject(
    tmp_path: Path, subject: str | None, says: str
) -> None:
    env = {"PUSHGATE_DATABASE": f"sqlite:///{tmp_path / 'd.db'}", "PUSHGATE_PORT": str(free_port())}
    if subject is not None:
        env["PUSHGATE_VAPID_SUBJECT"] = subject
    out = run("serve", cwd=tmp_path, **env)
    assert out.returncode == 2
    assert says in out.stderr


def test_default_database_is_outside_the_working_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    out = run(
        "sites",
        "create",
        "--name",
        "n",
        "--origin",
        "https://a.example",
        "--json",
        cwd=work,
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        PATH=os.environ["PATH"],
    )
    assert out.returncode == 0, out.stderr
    assert list(work.iterdir()) == []
    assert (home / "data" / "pushgate" / "pushgate.db").exists()


def test_unknown_database_scheme_is_a_usage_error(tmp_path: Path) -> None:
    out = run(
        "sites",
        "create",
        "--name",
        "n",
        "--origin",
        "https://a.example",
        "--database",
        "mysql://x",
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "sqlite:///" in out.stderr


def test_send_wait_to_an_audience_of_nobody_says_so_and_exits_3(
    module_gateway: Gateway, tmp_path: Path
) -> None:
    site = site_of(module_gateway, "nobody reads sports")
    env = {"PUSHGATE_API_KEY": site.api_key, "PUSHGATE_GATEWAY": module_gateway.base_url}
    out = run("send", "--title", "Hi", "--tag", "topic=sports", "--wait", cwd=tmp_path, **env)
    assert out.returncode == 3, out.stderr
    created, counts = (json.loads(line) for line in out.stdout.splitlines())
    assert created["targeted_estimate"] == 0 and counts["targeted"] == 0
    assert out.stderr.startswith("no subscriber matched")

    # Without --wait the send is made (a scheduled one may yet find readers), and said so.
    out = run("send", "--title", "Hi", "--tag", "topic=sports", cwd=tmp_path, **env)
    assert out.returncode == 0 and json.loads(out.stdout)["targeted_estimate"] == 0
    assert out.stderr.startswith("no subscriber matched")


def test_send_prints_the_answers_warnings(module_gateway: Gateway, tmp_path: Path) -> None:
    site = site_of(module_gateway, "long reads")
    env = {"PUSHGATE_API_KEY": site.api_key, "PUSHGATE_GATEWAY": module_gateway.base_url}
    out = run("send", "--title", "Hi", "--body", "ü" * 1500, cwd=tmp_path, **env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["warnings"][0]["code"] == "payload_large"
    assert out.stderr.startswith("warning: the push payload is 3")
    assert "Firefox for Android" in out.stderr.splitlines()[0]


def test_every_line_the_demo_prints_works_pasted_into_a_fresh_shell(tmp_path: Path) -> None:
    """`pushgate demo` on a database of its own: the lines it prints for a new shell put
    `pushgate` on the PATH and point every command at the demo's gateway and database."""
    port, demo_port = free_port(), free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    demo = subprocess.Popen(
        pushgate_command("demo", "--database", "sqlite:///var/demo.db", "--port", str(port),
                         "--demo-port", str(demo_port)),
        cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        printed: list[str] = []
        while not any("--tag topic=sports" in line for line in printed):
            line = demo.stdout.readline()
            assert line, "pushgate demo exited early:\n" + "".join(printed)
            printed.append(line)
        block = printed[printed.index(next(x for x in printed if "In another shell" in x)) + 1 :]
        setup = [line.strip() for line in itertools.takewhile(str.strip, block)]
        commands = [x.strip() for x in printed if x.startswith(("  curl ", "  pushgate send "))]
        assert setup[0] == f". {Path(sys.prefix) / 'bin' / 'activate'}"
        assert f"export PUSHGATE_DATABASE=sqlite:///{tmp_path / 'var' / 'demo.db'}" in setup
        curl, send, sports = commands  # curl's answer ends without a newline: echo one
        script = "\n".join(["set -e", *setup, "cd /", "pushgate migrate", f"{curl}; echo", send,
                            f"{sports} || echo exit=$?"])  # fmt: skip
        fresh_shell = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
        out = subprocess.run(["bash", "-c", script], env=fresh_shell, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    finally:
        demo.terminate()
        demo.wait(20)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert (
        lines[0]
        == f"sqlite:///{tmp_path / 'var' / 'demo.db'} is at schema {SCHEMA_VERSION}: nothing to do"
    )
    # curl's answer, then pushgate send's: both accepted, both to nobody yet.
    assert [json.loads(line)["targeted_estimate"] for line in lines[1:3]] == [0, 0]
    assert lines[-1] == "exit=3"  # the sports line waits, and finds no sports reader yet
