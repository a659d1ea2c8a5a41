from collections.abc import AsyncIterator

import aiohttp
import pytest

from pushgate.testing import LocalPushService
from pushgate.webpush.vapid import VapidKeyPair, VapidSigner, generate_key_pair
from tests.testing.pushing import SUBJECT, Pusher


@pytest.fixture
async def service() -> AsyncIterator[LocalPushService]:
    async with LocalPushService() as svc:
        yield svc


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def vapid_keys() -> VapidKeyPair:
    return generate_key_pair()


@pytest.fixture
def signer(vapid_keys: VapidKeyPair) -> VapidSigner:
    return VapidSigner(vapid_keys, SUBJECT)


@pytest.fixture
def push(http: aiohttp.ClientSession, signer: VapidSigner) -> Pusher:
    return Pusher(http, signer)
