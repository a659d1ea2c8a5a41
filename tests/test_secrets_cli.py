"""`pushgate secrets`, PUSHGATE_SECRET_KEY and the log settings as an operator meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import free_port
from tests.test_cli import run


def create_site(tmp_path: Path, name: str, **env: str) -> tuple[int, str]:
    out = run(
        "sites",
        "create",
        "--name",
        name,
        "--origin",
        "https://a.example",
        "--json",
        cwd=tmp_path,
        PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'p.db'}",
        **env,
    )
    return out.returncode, out.stdout + out.stderr


def new_key(tmp_path: Path) -> str:
    out = run("secrets", "generate-key", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    Fernet(out.stdout.strip())  # a usable key
    return out.stdout.strip()


def test_rotate_to_a_new_key_then_the_old_one_can_go(tmp_path: Path) -> None:
    old, new = new_key(tmp_path), new_key(tmp_path)
    assert create_site(tmp_path, "one", PUSHGATE_SECRET_KEY=old)[0] == 0
    database = f"sqlite:///{tmp_path / 'p.db'}"
    out = run(
        "secrets", "rotate", "--database", database, "--secret-key", f"{new},{old}", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "re-encrypted 1 VAPID private key(s) with the newest key"
    code, text = create_site(tmp_path, "two", PUSHGATE_SECRET_KEY=new)
    assert code == 0, text
    assert json.loads(text)["id"]


def test_rotate_encrypts_keys_stored_in_plain_text(tmp_path: Path) -> None:
    for name in ("one", "two"):
        assert create_site(tmp_path, name)[0] == 0
    key = new_key(tmp_path)
    out = run(
        "secrets",
        "rotate",
        cwd=tmp_path,
        PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'p.db'}",
        PUSHGATE_SECRET_KEY=key,
    )
    assert out.returncode == 0 and "re-encrypted 2 " in out.stdout, out.stderr
    code, text = create_site(tmp_path, "three")
    assert code == 1 and "VAPID keys are encrypted; set PUSHGATE_SECRET_KEY" in text


def test_serve_with_encrypted_keys_and_no_secret_key_stops_with_one_line(tmp_path: Path) -> None:
    assert create_site(tmp_path, "one", PUSHGATE_SECRET_KEY=new_key(tmp_path))[0] == 0
    out = run(
        "serve",
        cwd=tmp_path,
        PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'p.db'}",
        PUSHGATE_PORT=str(free_port()),
        PUSHGATE_VAPID_SUBJECT="mailto:ops@news.example",
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "Error: VAPID keys are encrypted; set PUSHGATE_SECRET_KEY (or --secret-key) "
        "to the key that encrypted them"
    )


def test_rotate_without_a_secret_key_is_a_usage_error(tmp_path: Path) -> None:
    out = run("secrets", "rotate", cwd=tmp_path, PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'p.db'}")
    assert out.returncode == 2 and "NEW,OLD" in out.stderr


@pytest.mark.parametrize("value", ["hunter2", "a,b"])
def test_a_secret_key_that_is_not_a_fernet_key_is_a_usage_error(tmp_path: Path, value: str) -> None:
    code, text = create_site(tmp_path, "one", PUSHGATE_SECRET_KEY=value)
    assert code == 2 and "not a Fernet key" in text and "generate-key" in text
    assert value not in text  # the error names the key's position, not the key
    assert not (tmp_path / "p.db").exists()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [("PUSHGATE_LOG_LEVEL", "loud", "--log-level"), ("PUSHGATE_LOG_FORMAT", "xml", "text or json")],
)
def test_unknown_log_level_or_format_is_a_usage_error(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    out = run(
        "serve",
        cwd=tmp_path,
        PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'p.db'}",
        PUSHGATE_PORT=str(free_port()),
        PUSHGATE_VAPID_SUBJECT="mailto:ops@news.example",
        **{name: value},
    )
    assert out.returncode == 2 and says in out.stderr and repr(value) in out.stderr
