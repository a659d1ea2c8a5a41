"""README.md stays true to the code: every setting and every error code is documented."""

from __future__ import annotations

import re
from pathlib import Path

from pushgate.errors import ERROR_CODES
from pushgate.settings import SETTINGS_FIELDS, env_var, flag_name

README = (Path(__file__).parents[1] / "README.md").read_text()


def _table_rows(heading: str) -> list[list[str]]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `")
    ]


def test_every_setting_is_in_the_readme_table_with_flag_and_env_var() -> None:
    rows = {row[0]: row for row in _table_rows("Settings")}
    assert set(rows) == {f"`{flag_name(name)}`" for name in SETTINGS_FIELDS}
    for name in SETTINGS_FIELDS:
        assert rows[f"`{flag_name(name)}`"][1] == f"`{env_var(name)}`"


def test_every_error_code_is_in_the_readme_with_its_status() -> None:
    rows = {row[0].strip("`"): int(row[1]) for row in _table_rows("Error codes")}
    assert rows == {code: error.status for code, error in ERROR_CODES.items()}


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make run", "make test"]
