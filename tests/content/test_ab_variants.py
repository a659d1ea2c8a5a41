"""A/B variants in the content model: each delivery's variant picks its message, a variant's
own subscriber templates render per message, and the sample split is even, random and sized
by the running total (content/ab_test.py)."""

from __future__ import annotations

import random
from collections import Counter

from pushgate.api.notification_request import notification_request
from pushgate.content.ab_test import AbTest, split, winner
from pushgate.content.variants import Content, message_content
from pushgate.store.models import Counts, SubscriberProfile

EVENTS_URL = "https://push.example/v1/events"


def _content(body: dict[str, object]) -> tuple[dict[str, object], Content]:
    new = notification_request(body, None, EVENTS_URL)
    return new.payload, Content.from_json(new.content)


def test_each_variant_is_its_own_message_and_may_read_the_subscriber() -> None:
    body = {
        "title": "Base",
        "variants": [{"title": "A"}, {"title": "Hello {{ subscriber.tags.name }}"}],
        "ab_test": {"sample_percent": 10, "winner_after": "10s"},
    }
    payload, content = _content(body)
    made = message_content(payload, content, "n1", EVENTS_URL)
    assert made is not None
    profile = SubscriberProfile("en", {"name": "Ada"}, None, None, None)
    assert made.template_for(profile, 0).render("t").find(b'"title":"A"') > 0
    assert made.template_for(profile, 1).render("t").find(b'"title":"Hello Ada"') > 0
    assert made.template_for(profile, None).render("t").find(b'"title":"Base"') > 0


def test_the_split_is_even_random_and_follows_the_running_total() -> None:
    test = AbTest(20, 60, "clicked", 3)
    rng = random.Random(7)
    variants: list[int | None] = []
    for before in range(0, 1000, 37):  # batches of odd sizes
        variants += split(test, before, min(37, 1000 - before), rng)
    assigned = Counter(v for v in variants if v is not None)
    assert sum(assigned.values()) == 200
    assert sorted(assigned.values()) == [66, 67, 67]
    again = []
    for before in range(0, 1000, 37):
        again += split(test, before, min(37, 1000 - before), random.Random(8))
    assert again != variants  # drawn at random, not by position


def test_the_best_rate_wins_and_the_first_on_a_tie() -> None:
    assert winner([Counts(accepted=50, clicked=5), Counts(accepted=50, clicked=10)], "clicked") == 1
    assert winner([Counts(accepted=40, clicked=4), Counts(accepted=50, clicked=5)], "clicked") == 0
    assert winner([Counts(), Counts(accepted=10)], "clicked") == 0
    assert winner([Counts(accepted=10, delivered=9), Counts(accepted=10)], "delivered") == 0
    assert winner([Counts(accepted=10), Counts(accepted=10, delivered=2)], "delivered") == 1
