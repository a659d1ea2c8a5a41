"""The per-service gate on how far a send worker encrypts ahead of the wire."""

from __future__ import annotations

import asyncio

import pytest

from pushgate.delivery.ahead import EncryptAhead


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_holds_at_the_limit_and_hands_on_in_order() -> None:
    gate = EncryptAhead(2)
    await gate.acquire("a")
    await gate.acquire("a")
    got: list[int] = []

    async def wait(n: int) -> None:
        await gate.acquire("a")
        got.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await _settle()
    assert got == []
    gate.release("a")
    await _settle()
    assert got == [0]
    gate.release("a")
    gate.release("a")
    await _settle()
    assert got == [0, 1, 2]
    await asyncio.gather(*waiters)


async def test_one_full_service_does_not_hold_another() -> None:
    gate = EncryptAhead(1)
    await gate.acquire("slow.example")
    blocked = asyncio.create_task(gate.acquire("slow.example"))
    await asyncio.wait_for(gate.acquire("fast.example"), 1)  # not behind the slow one
    await _settle()
    assert not blocked.done()
    gate.release("slow.example")
    await asyncio.wait_for(blocked, 1)


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    gate = EncryptAhead(1)
    await gate.acquire("a")
    first = asyncio.create_task(gate.acquire("a"))
    second = asyncio.create_task(gate.acquire("a"))
    await _settle()
    gate.release("a")  # hands the place to `first`...
    first.cancel()  # ...which is cancelled before it runs: the place goes on to `second`
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    gate.release("a")
    await asyncio.wait_for(gate.acquire("a"), 1)  # nothing leaked: the one place is free


async def test_a_waiter_cancelled_while_waiting_is_skipped() -> None:
    gate = EncryptAhead(1)
    await gate.acquire("a")
    gone = asyncio.create_task(gate.acquire("a"))
    await _settle()
    gone.cancel()
    await _settle()
    gate.release("a")
    await asyncio.wait_for(gate.acquire("a"), 1)
