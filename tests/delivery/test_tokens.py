"""Event tokens: opaque (no database keys readable), verifiable without a lookup, unforgeable."""

from __future__ import annotations

import os

import pytest

from pushgate.delivery.tokens import TOKEN_LENGTH, make_token, read_token
from pushgate.webpush.b64 import b64url_decode, b64url_encode

SECRET = bytes(range(32))


@pytest.mark.parametrize(
    ("notification_key", "subscription_key"), [(0, 0), (1, 2), (7, 123_456_789), (2**64 - 1, 2**63)]
)
def test_token_round_trips_to_its_keys(notification_key: int, subscription_key: int) -> None:
    token = make_token(SECRET, notification_key, subscription_key)
    assert len(token) == TOKEN_LENGTH
    assert read_token(SECRET, token) == (notification_key, subscription_key)


def test_consecutive_keys_give_unrelated_tokens() -> None:
    tokens = [make_token(SECRET, 5, key) for key in range(1, 200)]
    tokens += [make_token(SECRET, key, 5) for key in range(1000, 1200)]
    assert len(set(tokens)) == len(tokens)
    raw = [b64url_decode(t) for t in tokens]
    # No shared prefix between neighbours beyond chance (a shared first byte is 1 in 256).
    shared = sum(a[:2] == b[:2] for a, b in zip(raw, raw[1:], strict=False))
    assert shared == 0
    # The keys do not appear in the token in any position or byte order.
    for key in (1, 2, 3, 199, 1000, 1199):
        for packed in (key.to_bytes(8, "big"), key.to_bytes(8, "little")):
            assert packed not in b"".join(raw)


def test_every_flipped_bit_is_refused() -> None:
    raw = bytearray(b64url_decode(make_token(SECRET, 42, 4242)))
    for bit in range(len(raw) * 8):
        forged = bytearray(raw)
        forged[bit // 8] ^= 1 << (bit % 8)
        assert read_token(SECRET, b64url_encode(bytes(forged))) is None, bit


def test_non_canonical_spelling_of_the_last_character_is_refused() -> None:
    token = make_token(SECRET, 42, 4242)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for other in alphabet:
        if other != token[-1]:
            assert read_token(SECRET, token[:-1] + other) is None


def test_token_made_with_another_secret_is_refused() -> None:
    token = make_token(os.urandom(32), 42, 4242)
    assert read_token(SECRET, token) is None


@pytest.mark.parametrize("token", [None, 12, "", "x" * 43, "x" * 44, "!" * 43, "é" * 43])
def test_malformed_tokens_are_refused(token: object) -> None:
    assert read_token(SECRET, token) is None
