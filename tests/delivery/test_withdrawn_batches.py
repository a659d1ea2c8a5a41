"""What a send worker withdraws: a cancel covers every batch, a lease lapse those handed out."""

from __future__ import annotations

from pushgate.delivery.jobs import parse_withdraw, withdraw_message
from pushgate.delivery.sender_process import WithdrawnBatches


def test_a_cancel_covers_every_batch_of_that_notification_now_and_later() -> None:
    withdrawn = WithdrawnBatches()
    withdrawn.add(*parse_withdraw(withdraw_message(7)))
    assert withdrawn.covers(7, 0) and withdrawn.covers(7, 10**9)
    assert not withdrawn.covers(8, 0)


def test_a_lapse_covers_the_batches_handed_out_until_then_only() -> None:
    withdrawn = WithdrawnBatches()
    withdrawn.add(*parse_withdraw(withdraw_message(7, 41)))
    assert withdrawn.covers(7, 0) and withdrawn.covers(7, 41)
    assert not withdrawn.covers(7, 42)  # claimed again afterwards, under a fresh lease
    assert not withdrawn.covers(3, 1)


def test_a_later_lapse_or_a_cancel_only_widens_what_is_withdrawn() -> None:
    withdrawn = WithdrawnBatches()
    withdrawn.add(*parse_withdraw(withdraw_message(7, 50)))
    withdrawn.add(*parse_withdraw(withdraw_message(7, 20)))  # an older message, arriving late
    assert withdrawn.covers(7, 50) and not withdrawn.covers(7, 51)
    withdrawn.add(*parse_withdraw(withdraw_message(7)))
    assert withdrawn.covers(7, 51)


def test_the_message_round_trips_every_key_and_bound() -> None:
    assert parse_withdraw(withdraw_message(12345)) == (12345, float("inf"))
    assert parse_withdraw(withdraw_message(1, 0)) == (1, 0.0)
