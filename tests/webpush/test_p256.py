"""The hand-written P-256 point check against OpenSSL's (cryptography's from_encoded_point)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from pushgate.webpush.b64 import b64url_encode
from pushgate.webpush.encryption import InvalidSubscriptionKeys, check_subscriber_keys
from pushgate.webpush.p256 import P, is_uncompressed_point

CURVE = ec.SECP256R1()
AUTH = b64url_encode(b"\x01" * 16)


def openssl_accepts(raw: bytes) -> bool:
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(CURVE, raw)
    except ValueError:
        return False
    return True


def a_point() -> bytes:
    key = ec.generate_private_key(CURVE).public_key()
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def test_real_keys_are_points() -> None:
    for _ in range(200):
        raw = a_point()
        assert is_uncompressed_point(raw) and openssl_accepts(raw)


@settings(max_examples=500)
@given(st.binary(min_size=64, max_size=64))
def test_random_coordinates_agree_with_openssl(coordinates: bytes) -> None:
    raw = b"\x04" + coordinates
    assert is_uncompressed_point(raw) == openssl_accepts(raw)


@settings(max_examples=300)
@given(st.integers(0, 64), st.integers(1, 255))
def test_one_flipped_byte_agrees_with_openssl(index: int, flip: int) -> None:
    raw = bytearray(a_point())
    raw[index] ^= flip
    assert is_uncompressed_point(bytes(raw)) == openssl_accepts(bytes(raw))


def test_coordinates_past_the_field_are_refused_even_when_they_reduce_to_a_point() -> None:
    raw = a_point()
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:], "big")
    wrapped = [(x + P, y), (x, y + P)]
    for wx, wy in wrapped:
        if wx < 2**256 and wy < 2**256:
            bad = b"\x04" + wx.to_bytes(32, "big") + wy.to_bytes(32, "big")
            assert not is_uncompressed_point(bad) and not openssl_accepts(bad)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x04",
        b"\x04" + bytes(64),  # (0, 0): not on the curve
        b"\x02" + bytes(32),  # compressed forms are not what browsers send
        b"\x05" + a_point()[1:],
        a_point() + b"\x00",
        a_point()[:64],
    ],
)
def test_malformed_encodings_are_refused(raw: bytes) -> None:
    assert not is_uncompressed_point(raw)  # subscribe takes only what browsers send


def test_check_subscriber_keys_answers_as_loading_them_would() -> None:
    check_subscriber_keys(b64url_encode(a_point()), AUTH)
    off_curve = b"\x04" + bytes(63) + b"\x01"
    with pytest.raises(InvalidSubscriptionKeys, match="not a point on P-256"):
        check_subscriber_keys(b64url_encode(off_curve), AUTH)
    with pytest.raises(InvalidSubscriptionKeys, match="16 bytes"):
        check_subscriber_keys(b64url_encode(a_point()), b64url_encode(b"\x01" * 15))
