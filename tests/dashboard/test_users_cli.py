"""`pushgate users` as a process: create (password from stdin, checked for length), list,
delete and reset-password, on a database the gateway uses."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import pushgate_command

PASSWORD = "correct horse battery staple"


class Users:
    def __init__(self, database: str) -> None:
        self.env = {"PUSHGATE_DATABASE": database}

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            pushgate_command(*args),
            env=os.environ | self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def listed(self) -> list[dict[str, object]]:
        done = self("users", "list", "--json")
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))


@pytest.fixture
def users(tmp_path: Path) -> Users:
    return Users(f"sqlite:///{tmp_path / 'pushgate.db'}")


def test_users_create_list_reset_and_delete(users: Users) -> None:
    site = json.loads(
        users("sites", "create", "--name", "news", "--origin", "https://n.example", "--json").stdout
    )
    made = users(
        "users", "create", "--email", "Ed@Example.com", "--role", "editor",
        "--site", site["id"], "--site", "news", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"created editor ed@example.com ({site['id']})\n"
    assert PASSWORD not in made.stdout + made.stderr
    admin = users(
        "users", "create", "--email", "boss@example.com", "--role", "admin", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert admin.returncode == 0, admin.stderr

    listed = users.listed()
    assert [(u["email"], u["role"], u["sites"]) for u in listed] == [
        ("boss@example.com", "admin", []),
        ("ed@example.com", "editor", [site["id"]]),
    ]
    table = users("users", "list").stdout
    assert "ed@example.com" in table and "(every site)" in table

    reset = users(
        "users", "reset-password", "ED@example.com", "--password-stdin", stdin="new password 123\n"
    )
    assert reset.returncode == 0, reset.stderr
    assert "sessions have ended" in reset.stdout

    deleted = users("users", "delete", "ed@example.com")
    assert deleted.returncode == 0, deleted.stderr
    assert [u["email"] for u in users.listed()] == ["boss@example.com"]
    again = users("users", "delete", "ed@example.com")
    assert again.returncode == 1
    assert "no operator has the email ed@example.com" in again.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "admin"], "eleven char\n", "at least 12 characters"),
        (["--role", "editor"], PASSWORD + "\n", "an editor needs at least one --site"),
        (
            ["--role", "editor", "--site", "nope"],
            PASSWORD + "\n",
            "no site has the id or name 'nope' (pushgate sites list shows them)",
        ),
        (["--role", "admin", "--site", "x"], PASSWORD + "\n", "--site is for editors"),
        (["--role", "owner"], PASSWORD + "\n", "'owner' is not one of 'admin', 'editor'"),
    ],
)
def test_users_create_refuses_with_a_clear_error_and_stores_nothing(
    users: Users, args: list[str], stdin: str, message: str
) -> None:
    done = users(
        "users", "create", "--email", "a@example.com", *args, "--password-stdin", stdin=stdin
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert users.listed() == []


def test_users_create_refuses_a_taken_email_before_asking_for_a_password(users: Users) -> None:
    args = ["users", "create", "--email", "a@example.com", "--role", "admin", "--password-stdin"]
    assert users(*args, stdin=PASSWORD + "\n").returncode == 0
    again = users(*args[:3], "A@EXAMPLE.COM", *args[4:], stdin="")
    assert again.returncode == 2
    assert "exists already" in again.stderr


def test_users_create_prompts_twice_and_refuses_a_mismatch(users: Users) -> None:
    # Without --password-stdin click asks on the terminal; with no terminal it reads stdin.
    args = ["users", "create", "--email", "p@example.com", "--role", "admin"]
    mismatch = users(*args, stdin=f"{PASSWORD}\nsomething else entirely\n")
    assert mismatch.returncode != 0
    assert users.listed() == []
    match = users(*args, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert match.returncode == 0, match.stderr
    assert [u["email"] for u in users.listed()] == ["p@example.com"]
