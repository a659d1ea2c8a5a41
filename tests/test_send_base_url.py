"""`pushgate send --gateway` given a path under the gateway (the API's URL rather than the
gateway's) says to drop the path, instead of relaying a 404 about a doubled route; without
an API key it says where one comes from."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Gateway
from tests.test_cli_errors import one_line_error, run, send


def test_a_gateway_url_with_a_path_asks_for_the_base_url(
    module_gateway: Gateway, tmp_path: Path
) -> None:
    url = f"{module_gateway.base_url}/api"
    line = one_line_error(send(tmp_path, "--gateway", url))
    assert line.startswith(f"Error: {url} is a pushgate gateway, but not its base URL"), line
    assert "without a path, as http://127.0.0.1:8080" in line


def test_send_without_an_api_key_says_where_one_comes_from(tmp_path: Path) -> None:
    out = run("send", "--title", "Hello", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    line = out.stderr.strip().splitlines()[-1]  # after Click's usage lines
    assert line.startswith("Error: no API key: give --api-key or set PUSHGATE_API_KEY"), line
