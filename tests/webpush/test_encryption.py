import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.webpush.b64 import b64url_decode, b64url_encode
from pushgate.webpush.encryption import (
    MAX_PLAINTEXT_BYTES,
    InvalidSubscriptionKeys,
    decrypt,
    encrypt,
    load_subscriber_keys,
)

# RFC 8291 Appendix A.
PLAINTEXT = b"When I grow up, I want to be a watermelon"
AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
UA_PUBLIC = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
SALT = "DGv6ra1nlYgDCS1FRnbzlw"
EXPECTED = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS"
    "6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qul"
    "cy4a-fN"
)


def _private(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(b64url_decode(b64), "big"), ec.SECP256R1())


def test_encrypt_matches_rfc8291_appendix_a():
    body = encrypt(
        PLAINTEXT, UA_PUBLIC, AUTH, salt=b64url_decode(SALT), sender_key=_private(AS_PRIVATE)
    )
    assert b64url_encode(body) == EXPECTED


def test_decrypt_rfc8291_appendix_a_as_a_browser_would():
    assert decrypt(b64url_decode(EXPECTED), _private(UA_PRIVATE), b64url_decode(AUTH)) == PLAINTEXT


def test_encrypt_uses_fresh_key_and_salt_per_message():
    first, second = encrypt(PLAINTEXT, UA_PUBLIC, AUTH), encrypt(PLAINTEXT, UA_PUBLIC, AUTH)
    assert first[:16] != second[:16] and first[21:86] != second[21:86]
    assert decrypt(second, _private(UA_PRIVATE), b64url_decode(AUTH)) == PLAINTEXT


def test_encrypt_largest_plaintext_fills_exactly_4096_bytes():
    assert len(encrypt(b"x" * MAX_PLAINTEXT_BYTES, UA_PUBLIC, AUTH)) == 4096
    with pytest.raises(ValueError, match="3993"):
        encrypt(b"x" * (MAX_PLAINTEXT_BYTES + 1), UA_PUBLIC, AUTH)


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [
        (UA_PUBLIC[:-4], AUTH),  # truncated point
        ("B" + "A" * 86, AUTH),  # 65 bytes but not on the curve
        (UA_PUBLIC, AUTH + "AA"),  # 17-byte auth
        ("not base64!", AUTH),
    ],
)
def test_load_subscriber_keys_rejects_bad_keys(p256dh, auth):
    with pytest.raises(InvalidSubscriptionKeys):
        load_subscriber_keys(p256dh, auth)


@pytest.mark.parametrize("key_length", [0, 1, 16, 32, 63, 64])
def test_hmac_sha256_equals_the_standard_library(key_length):
    import hmac

    from pushgate.webpush.hmac256 import hmac_sha256

    key, message = bytes(range(key_length)), b"WebPush: info\x00" * 7
    assert hmac_sha256(key, message) == hmac.digest(key, message, "sha256")


def test_hmac_sha256_refuses_keys_longer_than_a_block():
    from pushgate.webpush.hmac256 import hmac_sha256

    with pytest.raises(ValueError):
        hmac_sha256(bytes(65), b"x")
