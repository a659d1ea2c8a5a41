"""The WebSocket side, driven as Firefox drives it (docs/architecture.md, "Browser tests")."""

import asyncio

import aiohttp
import pytest
from websockets.exceptions import ConnectionClosed

from pushgate.testing import LocalPushService
from pushgate.webpush.b64 import b64url_decode, b64url_encode
from pushgate.webpush.vapid import VapidKeyPair, VapidSigner, generate_key_pair
from tests.testing.fake_firefox import SUBPROTOCOL, FakeFirefox, firefox
from tests.testing.pushing import SUBJECT, Pusher

BODY = bytes(range(256)) * 2  # stands in for an aes128gcm body Firefox would decrypt


async def _registered(client: FakeFirefox, uaid: str | None = None) -> tuple[str, str]:
    await client.hello(uaid)
    reply = await client.register()
    return reply["channelID"], reply["pushEndpoint"]


async def test_hello_without_uaid_mints_one_with_webpush_on(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        assert client.ws.subprotocol == SUBPROTOCOL
        reply = await client.hello()
    assert reply["messageType"] == "hello" and reply["status"] == 200
    assert reply["use_webpush"] is True and reply["broadcasts"] == {}
    assert isinstance(reply["uaid"], str) and len(reply["uaid"]) == 32


async def test_hello_with_uaid_echoes_it(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        reply = await client.hello("5f0b2a3c4d5e6f708192a3b4c5d6e7f8")
    assert reply["uaid"] == "5f0b2a3c4d5e6f708192a3b4c5d6e7f8"


async def test_register_answers_push_endpoint_on_this_service(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        await client.hello()
        reply = await client.register(channel_id="c0ffee00-0000-4000-8000-000000000001")
    assert reply["messageType"] == "register" and reply["status"] == 200
    assert reply["channelID"] == "c0ffee00-0000-4000-8000-000000000001"
    assert reply["pushEndpoint"].startswith(f"{service.base_url}/push/")


async def test_http_push_reaches_connected_client_as_notification(
    service: LocalPushService, push: Pusher
):
    async with firefox(service.ws_url) as client:
        channel_id, endpoint = await _registered(client)
        answer = await push.raw(endpoint, BODY, {"TTL": "120"})
        note = await client.receive()
    assert answer.status == 201
    assert note["messageType"] == "notification" and note["channelID"] == channel_id
    assert note["ttl"] == 120 and note["headers"] == {"encoding": "aes128gcm"}
    assert b64url_decode(note["data"]) == BODY and "=" not in note["data"]
    [received] = service.received
    assert received.via_websocket and received.plaintext == b"" and received.body == BODY
    assert received.message_id == note["version"]
    assert answer.headers["Location"] == f"/m/{note['version']}"


async def test_notification_versions_are_unique(service: LocalPushService, push: Pusher):
    async with firefox(service.ws_url) as client:
        _, endpoint = await _registered(client)
        for _ in range(3):
            await push.raw(endpoint, BODY)
        versions = {(await client.receive())["version"] for _ in range(3)}
    assert len(versions) == 3


async def test_ack_is_recorded_with_code_and_endpoint(service: LocalPushService, push: Pusher):
    async with firefox(service.ws_url) as client:
        channel_id, endpoint = await _registered(client)
        await push.raw(endpoint, BODY)
        await push.raw(endpoint, BODY)
        first, second = await client.receive(), await client.receive()
        await client.ack(channel_id, first["version"], 100)
        await client.ack(channel_id, second["version"], 101)
        acks = await service.wait_for_acks(2, timeout=5)
    assert [(a.version, a.code) for a in acks] == [
        (first["version"], 100),
        (second["version"], 101),
    ]
    assert acks[0].uaid == client.uaid and acks[0].channel_id == channel_id
    assert acks[0].endpoint_id == endpoint.rsplit("/", 1)[1]


async def test_unregister_makes_the_endpoint_answer_410(service: LocalPushService, push: Pusher):
    async with firefox(service.ws_url) as client:
        channel_id, endpoint = await _registered(client)
        await client.send({"messageType": "unregister", "channelID": channel_id})
        reply = await client.receive()
    assert reply == {"messageType": "unregister", "channelID": channel_id, "status": 200}
    assert (await push.raw(endpoint, BODY)).status == 410


async def test_unacked_notification_is_sent_again_on_reconnect(
    service: LocalPushService, push: Pusher
):
    async with firefox(service.ws_url) as client:
        channel_id, endpoint = await _registered(client)
        await push.raw(endpoint, BODY)
        first = await client.receive()
        uaid = client.uaid
    async with firefox(service.ws_url) as client:
        await client.hello(uaid)
        again = await client.receive()
    assert again == first


async def test_push_while_disconnected_is_delivered_after_hello(
    service: LocalPushService, push: Pusher
):
    async with firefox(service.ws_url) as client:
        channel_id, endpoint = await _registered(client)
        uaid = client.uaid
    assert (await push.raw(endpoint, BODY)).status == 201
    async with firefox(service.ws_url) as client:
        await client.hello(uaid)
        note = await client.receive()
    assert note["channelID"] == channel_id and b64url_decode(note["data"]) == BODY


async def test_acked_notification_is_not_sent_again_on_reconnect(
    service: LocalPushService, push: Pusher
):
    async with firefox(service.ws_url) as client:
        channel_id, endpoint = await _registered(client)
        await push.raw(endpoint, BODY)
        note = await client.receive()
        await client.ack(channel_id, note["version"])
        await service.wait_for_acks(1, timeout=5)
        uaid = client.uaid
    async with firefox(service.ws_url) as client:
        await client.hello(uaid)
        assert await client.ping() == {}  # the pong comes first: nothing was re-sent


async def test_ttl_zero_push_while_disconnected_is_dropped(service: LocalPushService, push: Pusher):
    async with firefox(service.ws_url) as client:
        _, endpoint = await _registered(client)
        uaid = client.uaid
    assert (await push.raw(endpoint, BODY, {"TTL": "0"})).status == 201
    async with firefox(service.ws_url) as client:
        await client.hello(uaid)
        assert await client.ping() == {}


async def test_ping_is_answered_with_empty_object(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        await client.hello()
        assert await client.ping() == {}


async def test_broadcast_subscribe_is_ignored(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        await client.hello()
        await client.send({"messageType": "broadcast_subscribe", "broadcasts": {"x": "v1"}})
        assert await client.ping() == {}


async def test_message_before_hello_closes_the_connection(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        await client.send({"messageType": "register", "channelID": "c"})
        with pytest.raises(ConnectionClosed):
            await client.receive()


async def test_register_with_malformed_key_answers_status_400(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        await client.hello()
        reply = await client.register(key="not a key")
    assert reply["status"] == 400 and "pushEndpoint" not in reply


async def test_channel_registered_with_key_refuses_push_signed_by_another_key(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair, http: aiohttp.ClientSession
):
    # Firefox sends the applicationServerKey as base64url with padding.
    padded = b64url_encode(b64url_decode(vapid_keys.public_key)) + "="
    async with firefox(service.ws_url) as client:
        await client.hello()
        endpoint = (await client.register(key=padded))["pushEndpoint"]
        stranger = Pusher(http, VapidSigner(generate_key_pair(), SUBJECT))
        refused = await stranger.raw(endpoint, BODY)
        accepted = await push.raw(endpoint, BODY)
        note = await client.receive()
    assert refused.status == 401 and refused.json()["errno"] == 109
    assert accepted.status == 201 and note["version"] == service.received[0].message_id


async def test_second_connection_for_same_uaid_takes_over_delivery(
    service: LocalPushService, push: Pusher
):
    async with firefox(service.ws_url) as old:
        channel_id, endpoint = await _registered(old)
        async with firefox(service.ws_url) as new:
            await new.hello(old.uaid)
            await push.raw(endpoint, BODY)
            note = await new.receive()
            with pytest.raises(ConnectionClosed):
                await old.receive()
    assert note["channelID"] == channel_id


async def test_plain_http_get_of_root_answers_200(
    service: LocalPushService, http: aiohttp.ClientSession
):
    async with http.get(f"{service.base_url}/") as response:
        assert response.status == 200
        assert "push service" in await response.text()


async def test_stop_with_a_connected_client_closes_it_promptly(service: LocalPushService):
    async with firefox(service.ws_url) as client:
        await client.hello()
        await asyncio.wait_for(service.stop(), timeout=2)
        with pytest.raises(ConnectionClosed):
            await client.receive()
