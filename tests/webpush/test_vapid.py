import time

from py_vapid import Vapid02
from py_vapid.jwt import decode

from pushgate.webpush.vapid import (
    RENEW_BEFORE_SECONDS,
    TOKEN_LIFETIME_SECONDS,
    VapidSigner,
    generate_key_pair,
    origin_of,
)


def _claims(header: str) -> tuple[dict, str]:
    token, key = header.removeprefix("vapid t=").split(",k=")
    return decode(token, key), key


def test_authorization_header_is_signed_with_the_sites_key_and_right_claims():
    keys = generate_key_pair()
    now = 1_800_000_000.0
    signer = VapidSigner(keys, "mailto:ops@news.example", clock=lambda: now)
    header = signer.authorization("https://fcm.googleapis.com/fcm/send/abc?x=1")
    claims, key = _claims(header)
    assert key == keys.public_key
    assert claims == {
        "aud": "https://fcm.googleapis.com",
        "sub": "mailto:ops@news.example",
        "exp": int(now) + TOKEN_LIFETIME_SECONDS,
    }
    assert TOKEN_LIFETIME_SECONDS <= 12 * 3600
    assert Vapid02.verify(header)


def test_token_is_cached_per_origin_and_renewed_before_expiry():
    now = [time.time()]
    signer = VapidSigner(generate_key_pair(), "mailto:a@b.example", clock=lambda: now[0])
    first = signer.authorization("https://updates.push.services.mozilla.com/wpush/v2/a")
    assert signer.authorization("https://updates.push.services.mozilla.com/wpush/v2/b") == first
    other = signer.authorization("https://fcm.googleapis.com/fcm/send/a")
    assert other != first and _claims(other)[0]["aud"] == "https://fcm.googleapis.com"
    now[0] += TOKEN_LIFETIME_SECONDS - RENEW_BEFORE_SECONDS + 1
    renewed = signer.authorization("https://updates.push.services.mozilla.com/wpush/v2/a")
    assert renewed != first and _claims(renewed)[0]["exp"] > _claims(first)[0]["exp"]


def test_origin_keeps_non_default_ports_only():
    assert origin_of("https://web.push.apple.com:443/x") == "https://web.push.apple.com"
    assert origin_of("http://127.0.0.1:8090/push/1") == "http://127.0.0.1:8090"


def test_key_pair_repr_hides_the_private_key():
    keys = generate_key_pair()
    assert keys.private_key not in repr(keys) and keys.public_key in repr(keys)
    assert len(keys.public_key) == 87 and "=" not in keys.public_key


def test_ipv6_push_service_origin_is_signed_too():
    signer = VapidSigner(generate_key_pair(), "mailto:a@b.example")
    claims, _ = _claims(signer.authorization("http://[::1]:8090/push/1"))
    assert claims["aud"] == "http://[::1]:8090"


def test_audience_cache_keeps_origins_apart():
    signer = VapidSigner(generate_key_pair(), "mailto:a@b.example")
    for endpoint, audience in [
        ("https://fcm.googleapis.com/fcm/send/a", "https://fcm.googleapis.com"),
        ("https://fcm.googleapis.com:443/fcm/send/b", "https://fcm.googleapis.com"),
        ("http://127.0.0.1:8090/push/1", "http://127.0.0.1:8090"),
        ("http://127.0.0.1:8091/push/1", "http://127.0.0.1:8091"),
        ("https://web.push.apple.com/x", "https://web.push.apple.com"),
    ]:
        assert _claims(signer.authorization(endpoint))[0]["aud"] == audience
