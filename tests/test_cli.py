"""The `pushgate` command as a site owner runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port, pushgate_command


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
    assert set(created) == {"id", "api_key", "vapid_public_key", "origins"}
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
