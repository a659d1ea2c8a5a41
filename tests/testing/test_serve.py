"""`serve_forever`: the service as its own process, stopped by a signal."""

import asyncio
import re
import signal
import sys

import aiohttp

from tests.testing.pushing import Pusher

LAUNCH = "from pushgate.testing import serve_forever; serve_forever('127.0.0.1', 0)"
BANNER = re.compile(
    r"local push service listening on (http://127\.0\.0\.1:\d+) \(WebSocket ws://127\.0\.0\.1:\d+/\)"
)


async def test_serve_forever_prints_its_url_serves_and_stops_on_sigterm(push: Pusher):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        match = BANNER.fullmatch(line.strip())
        assert match, line
        base_url = match.group(1)
        async with push.http.post(f"{base_url}/_test/browsers") as response:
            endpoint = (await response.json())["endpoint"]
        assert (await push.raw(endpoint, b"", {"Content-Encoding": None})).status == 201
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_forever_stops_on_sigint(http: aiohttp.ClientSession):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        await asyncio.wait_for(process.stdout.readline(), 10)
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
