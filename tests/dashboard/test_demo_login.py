"""`make run` (`pushgate demo`) prints the dashboard's URL and an admin's email and password the
first time; those log in over HTTP and show the demo site. A second run on the same database
creates no second account, prints no password, and says how to set a new one."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.dashboard.conftest import csrf_of

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60
LAST_LINE = "pushgate users reset-password"  # the dashboard block ends with it


async def start_demo(database: str) -> tuple[asyncio.subprocess.Process, str, str]:
    port, demo_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    env |= {"PUSHGATE_DATABASE": database, "PYTHONUNBUFFERED": "1"}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pushgate", "demo", "--port", str(port),
        "--demo-port", str(demo_port), cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert demo.stdout is not None
    lines: list[str] = []
    try:
        while not any(LAST_LINE in line for line in lines):
            line = await asyncio.wait_for(demo.stdout.readline(), STARTUP_TIMEOUT_SECONDS)
            if not line:
                pytest.fail("pushgate demo exited early:\n" + "".join(lines), pytrace=False)
            lines.append(line.decode())
    except BaseException:
        await stop(demo)
        raise
    return demo, f"http://127.0.0.1:{port}", "".join(lines)


async def stop(demo: asyncio.subprocess.Process) -> None:
    if demo.returncode is None:
        demo.terminate()
        try:
            await asyncio.wait_for(demo.wait(), 10)
        except TimeoutError:
            demo.kill()
            await demo.wait()


async def log_in(gateway_url: str, email: str, password: str) -> httpx.Response:
    """Log in as a browser does; the sites page it lands on."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
        form = await client.get("/dashboard/login")
        data = {"csrf_token": csrf_of(form.text), "email": email, "password": password}
        answer = await client.post("/dashboard/login", data=data)
        assert answer.status_code == 303, answer.text
        return await client.get(answer.headers["location"])


async def test_make_run_prints_credentials_that_log_in_and_only_once(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    demo, url, text = await start_demo(database)
    try:
        assert f"dashboard:         {url}/dashboard/" in text
        email = re.search(r"^  email:\s+(\S+)$", text, re.M)
        password = re.search(r"^  password:\s+(\S+)$", text, re.M)
        assert email and password, text
        assert "pushgate users reset-password admin@pushgate.example" in text
        sites = await log_in(url, email.group(1), password.group(1))
        assert sites.status_code == 200
        assert "admin@pushgate.example (admin)" in sites.text
        assert "Demo news site" in sites.text
    finally:
        await stop(demo)

    demo, url, text = await start_demo(database)
    try:
        assert password.group(1) not in text
        assert "(the account made on the first run)" in text
        assert "set a new one with: pushgate users reset-password admin@pushgate.example" in text
        assert (await log_in(url, email.group(1), password.group(1))).status_code == 200
    finally:
        await stop(demo)
