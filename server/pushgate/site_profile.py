"""A site's name, origins and soft-prompt words, and its API keys' names, as they come in and go
out: checked the same way for `PATCH /api/v1/site`, `POST /api/v1/keys` and `pushgate sites`/
`pushgate keys`. Each refusal is an InvalidRule naming the field, as pushgate.site_rules does,
so the API answers a 400 and the CLI a usage error, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pushgate.api.render import iso
from pushgate.origins import InvalidOrigin, insecure_origin_warning, normalise_origin
from pushgate.site_rules import InvalidRule, rules_json
from pushgate.store.models import ApiKey, Site, SiteChange

MAX_SITE_NAME_LENGTH = 100
MAX_KEY_NAME_LENGTH = 64
MAX_ORIGINS = 100
MAX_PROMPT_TEXT_LENGTH = 200  # a sentence in the dialog
MAX_PROMPT_BUTTON_LENGTH = 40  # a button's label
MIN_SNOOZE_DAYS, MAX_SNOOZE_DAYS = 1, 365
PROFILE_NAMES = ("name", "origins", "prompt")  # PATCH /api/v1/site members beside the rules
PROMPT_NAMES = ("text", "accept", "dismiss", "snooze_days")
PROMPT_FIELDS = ("prompt_text", "prompt_accept", "prompt_dismiss", "prompt_snooze_days")


def name_of(value: Any, path: str = "name", max_length: int = MAX_SITE_NAME_LENGTH) -> str:
    """A site's or key's name: trimmed, 1 to `max_length` characters, no control characters."""
    text = value.strip() if isinstance(value, str) else None
    if not text or len(text) > max_length or not text.isprintable():
        raise InvalidRule(path, f"must be text of 1 to {max_length} printable characters")
    return text


def origins_of(values: Sequence[Any], path: str = "origins") -> tuple[tuple[str, ...], list[str]]:
    """Origins normalised (pushgate.origins), duplicates dropped, and a warning for each that
    browsers will not allow push on."""
    if not values:
        raise InvalidRule(path, "must hold at least one origin, like https://news.example")
    if len(values) > MAX_ORIGINS:
        raise InvalidRule(path, f"may hold at most {MAX_ORIGINS} origins")
    clean: dict[str, None] = {}
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise InvalidRule(f"{path}[{index}]", "must be a string like https://news.example")
        try:
            clean[normalise_origin(value)] = None
        except InvalidOrigin as exc:
            raise InvalidRule(f"{path}[{index}]", f"is refused: {exc}") from None
    warnings = [w for w in map(insecure_origin_warning, clean) if w is not None]
    return tuple(clean), warnings


def prompt_words_of(value: Any, path: str, max_length: int) -> str | None:
    """A prompt's text or button label; None (null) is the snippet's default."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRule(path, "must be non-empty text, or null for the snippet's default")
    if len(value) > max_length or not value.isprintable():
        raise InvalidRule(path, f"must be at most {max_length} printable characters")
    return value.strip()


def snooze_days_of(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRule(path, f"must be a whole number of days from {MIN_SNOOZE_DAYS}")
    if not MIN_SNOOZE_DAYS <= value <= MAX_SNOOZE_DAYS:
        raise InvalidRule(path, f"must be from {MIN_SNOOZE_DAYS} to {MAX_SNOOZE_DAYS} days")
    return value


def prompt_change_of(value: Any, path: str = "prompt") -> dict[str, Any]:
    """The prompt fields a `prompt` member sets: only those it names; null resets all four."""
    if value is None:
        return dict.fromkeys(PROMPT_FIELDS)
    if not isinstance(value, dict):
        raise InvalidRule(path, 'must be null or {"text", "accept", "dismiss", "snooze_days"}')
    _only(value, PROMPT_NAMES, path)
    limits = {"text": MAX_PROMPT_TEXT_LENGTH, "accept": MAX_PROMPT_BUTTON_LENGTH}
    fields: dict[str, Any] = {}
    for name in ("text", "accept", "dismiss"):
        if name in value:
            limit = limits.get(name, MAX_PROMPT_BUTTON_LENGTH)
            fields[f"prompt_{name}"] = prompt_words_of(value[name], f"{path}.{name}", limit)
    if "snooze_days" in value:
        fields["prompt_snooze_days"] = snooze_days_of(value["snooze_days"], f"{path}.snooze_days")
    return fields


def site_change_of(body: dict[str, Any]) -> tuple[SiteChange, list[str]]:
    """The name, origins and prompt members of a `PATCH /api/v1/site` body (the caller has
    refused unknown members), and the origins' warnings."""
    fields: dict[str, Any] = {}
    warnings: list[str] = []
    if "name" in body:
        fields["name"] = name_of(body["name"])
    if "origins" in body:
        if not isinstance(body["origins"], list):
            raise InvalidRule("origins", "must be a list of origins like https://news.example")
        fields["origins"], warnings = origins_of(body["origins"])
    if "prompt" in body:
        fields |= prompt_change_of(body["prompt"])
    return SiteChange(**fields, given=frozenset(fields)), warnings


def prompt_json(site: Site) -> dict[str, Any]:
    """The soft prompt's words as the snippet reads them; null: its own default."""
    return {
        "text": site.prompt_text,
        "accept": site.prompt_accept,
        "dismiss": site.prompt_dismiss,
        "snooze_days": site.prompt_snooze_days,
    }


def site_json(site: Site) -> dict[str, Any]:
    """The site as `GET /api/v1/site` and `pushgate sites show --json` give it."""
    return rules_json(site) | {"prompt": prompt_json(site), "created_at": iso(site.created_at)}


def key_json(key: ApiKey) -> dict[str, Any]:
    """A key as listed: its id and name and times, never the key nor its hash."""
    return {
        "id": key.id,
        "name": key.name,
        "created_at": iso(key.created_at),
        "last_used_at": None if key.last_used_at is None else iso(key.last_used_at),
    }


def _only(data: dict[str, Any], names: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise InvalidRule(f"{path}.{unknown[0]}", f"is not known; this takes {', '.join(names)}")
