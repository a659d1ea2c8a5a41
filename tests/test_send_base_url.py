"""`pushgate send --gateway` given a path under the gateway (the API's URL rather than the
gateway's) says to drop the path, instead of relaying a 404 about a doubled route."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Gateway
from tests.test_cli_errors import one_line_error, send


def test_a_gateway_url_with_a_path_asks_for_the_base_url(
    module_gateway: Gateway, tmp_path: Path
) -> None:
    url = f"{module_gateway.base_url}/api"
    line = one_line_error(send(tmp_path, "--gateway", url))
    assert line.startswith(f"Error: {url} is a pushgate gateway, but not its base URL"), line
    assert "without a path, as http://127.0.0.1:8080" in line
