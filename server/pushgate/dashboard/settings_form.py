"""The settings form of a site: the soft prompt's words, default time zone, quiet hours and
frequency cap, turned into the body `PATCH /api/v1/site` takes and checked by the same function
(pushgate.api.site_rules.site_patch_of), so the dashboard and the API refuse the same things.
Each group is checked on its own too, so that every wrong field gets its own message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import ImmutableMultiDict

from pushgate.api.site_rules import site_patch_of
from pushgate.site_rules import InvalidRule
from pushgate.store.models import Site, SiteChange, SiteRules

MAX_FIELD_CHARS = 400  # more than any field takes; the rules say exactly how much
TEXT_FIELDS = (
    "prompt_text",
    "prompt_accept",
    "prompt_dismiss",
    "prompt_snooze_days",
    "default_timezone",
    "quiet_start",
    "quiet_end",
    "cap_max",
    "cap_period",
)
# Where a rule's path (`quiet_hours.start`) is shown: beside which field of the form.
FIELD_OF_PATH = {
    "prompt.text": "prompt_text",
    "prompt.accept": "prompt_accept",
    "prompt.dismiss": "prompt_dismiss",
    "prompt.snooze_days": "prompt_snooze_days",
    "default_timezone": "default_timezone",
    "quiet_hours": "quiet_start",
    "quiet_hours.start": "quiet_start",
    "quiet_hours.end": "quiet_end",
    "frequency_cap": "cap_max",
    "frequency_cap.max": "cap_max",
    "frequency_cap.period": "cap_period",
}


@dataclass
class SettingsForm:
    values: dict[str, str] = field(default_factory=dict)  # as typed (or as stored)
    quiet_allow_high: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    change: SiteChange | None = None
    rules: SiteRules | None = None


def form_of_site(site: Site) -> SettingsForm:
    """The form filled in with what the site has now (blank: the default)."""
    quiet, cap = site.quiet_hours, site.frequency_cap
    values = {
        "prompt_text": site.prompt_text or "",
        "prompt_accept": site.prompt_accept or "",
        "prompt_dismiss": site.prompt_dismiss or "",
        "prompt_snooze_days": ""
        if site.prompt_snooze_days is None
        else str(site.prompt_snooze_days),
        "default_timezone": site.default_timezone,
        "quiet_start": quiet.start if quiet else "",
        "quiet_end": quiet.end if quiet else "",
        "cap_max": str(cap.max) if cap else "",
        "cap_period": cap.period if cap else "",
    }
    return SettingsForm(values, quiet_allow_high=bool(quiet and quiet.allow_high_urgency))


def parse_settings_form(form: ImmutableMultiDict[str, str]) -> SettingsForm:
    """The form as typed, with `change` and `rules` set when every field passed."""
    values = {name: form.get(name, "").strip()[:MAX_FIELD_CHARS] for name in TEXT_FIELDS}
    result = SettingsForm(values, quiet_allow_high=form.get("quiet_allow_high") == "on")
    groups = _patch_groups(values, result.quiet_allow_high, result.errors)
    # One check per prompt word, per rule: the first wrong field of each is shown.
    parts = [{"prompt": {name: value}} for name, value in groups["prompt"].items()]
    parts += [{name: value} for name, value in groups.items() if name != "prompt"]
    for part in parts:
        try:
            site_patch_of(part)
        except InvalidRule as exc:
            _note(result.errors, exc)
    if not result.errors:
        result.change, result.rules, _ = site_patch_of(groups)
    return result


def _patch_groups(
    values: dict[str, str], allow_high: bool, errors: dict[str, str]
) -> dict[str, Any]:
    """The PATCH /api/v1/site body the form means: a blank field is the default (null)."""
    prompt = {
        "text": values["prompt_text"] or None,
        "accept": values["prompt_accept"] or None,
        "dismiss": values["prompt_dismiss"] or None,
        "snooze_days": _number(values["prompt_snooze_days"]),
    }
    body: dict[str, Any] = {
        "prompt": prompt,
        "default_timezone": values["default_timezone"] or None,
    }
    start, end = values["quiet_start"], values["quiet_end"]
    if start or end:
        body["quiet_hours"] = {"start": start, "end": end, "allow_high_urgency": allow_high}
    else:
        body["quiet_hours"] = None
    count, period = values["cap_max"], values["cap_period"]
    if count or period:
        body["frequency_cap"] = {"max": _number(count), "period": period}
    else:
        body["frequency_cap"] = None
    if not start and end:
        errors["quiet_start"] = "Give both times, or neither for no quiet hours."
    if start and not end:
        errors["quiet_end"] = "Give both times, or neither for no quiet hours."
    # Else the rule names the blank field as typed: "…from "1m" to "30d", not ''".
    if not count and period:
        errors["cap_max"] = "Give both a number and a period, or neither for no cap."
    if count and not period:
        errors["cap_period"] = "Give both a number and a period, or neither for no cap."
    return body


def _number(text: str) -> Any:
    """Digits as a number; anything else as typed, for the rule to refuse in its own words."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else (text or None)


def _note(errors: dict[str, str], exc: InvalidRule) -> None:
    name = FIELD_OF_PATH.get(exc.path, "prompt_text")
    problem = str(exc)[len(exc.path) + 1 :]
    errors.setdefault(name, problem[:1].upper() + problem[1:] + ".")
