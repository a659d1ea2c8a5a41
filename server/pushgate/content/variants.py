"""What a notification's messages may differ in, and how one subscriber's message is made.

A notification's `Content` (stored with it) holds its language variants and its A/B test's
variants, each a whole notification member, and per variant the paths of fields templated
over `subscriber`. An A/B variant is chosen per delivery (its `variant` index), a language
variant per subscriber; a notification has one kind or the other, never both. The
engine turns it into a `MessageContent` once per run: variants without such fields become
ready payload templates; the send workers render the others per message, in the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pushgate.content.fields import Path, get_path, max_length, rendered_problem
from pushgate.content.sandbox import RenderFailed, render
from pushgate.delivery.payload import PayloadTemplate, build_template
from pushgate.store.models import SubscriberProfile
from pushgate.webpush.encryption import MAX_PLAINTEXT_BYTES

DEFAULT = ""  # the variant key of the notification's own fields


def ab_key(index: int) -> str:
    """The variant key of an A/B test's variant `index` (no language tag has a colon)."""
    return f"ab:{index}"


Profile = SubscriberProfile


def _variables(profile: Profile | None, others: Mapping[str, Any]) -> dict[str, Any]:
    return {**others, "subscriber": (profile or EMPTY_PROFILE)._asdict()}


@dataclass(frozen=True)
class Content:
    localized: dict[str, dict[str, Any]] = field(default_factory=dict)  # language -> member
    personal: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # variant -> paths
    variables: dict[str, Any] = field(default_factory=dict)  # payload, item, event: as created
    ab: list[dict[str, Any]] = field(default_factory=list)  # A/B variant index -> member

    @property
    def per_subscriber(self) -> bool:
        return bool(self.localized or self.personal or self.ab)

    def to_json(self) -> dict[str, Any]:
        data = {
            "localized": self.localized,
            "personal": {key: [list(p) for p in paths] for key, paths in self.personal.items()},
            "variables": self.variables,
        }
        return data | {"ab": self.ab} if self.ab else data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Content:
        if not data:
            return cls()
        personal = {k: tuple(tuple(p) for p in v) for k, v in data.get("personal", {}).items()}
        return cls(
            dict(data.get("localized", {})),
            personal,
            dict(data.get("variables", {})),
            list(data.get("ab", [])),
        )


def pick_variant(languages: Mapping[str, str], language: str | None) -> str:
    """The variant for a subscriber's language: the exact tag, then its primary language,
    else DEFAULT. `languages` maps lower-case tags to variant keys."""
    if not language:
        return DEFAULT
    wanted = language.lower()
    return languages.get(wanted) or languages.get(wanted.split("-", 1)[0]) or DEFAULT


@dataclass(frozen=True)
class MessageContent:
    """Crosses the pipe with each job of a notification whose messages differ."""

    notification_id: str
    events_url: str
    languages: dict[str, str]  # lower-case tag -> variant key
    ready: dict[str, PayloadTemplate]  # variant -> its payload, the same for every subscriber
    members: dict[str, dict[str, Any]]  # variant -> member with templated fields
    personal: dict[str, tuple[Path, ...]]
    variables: dict[str, Any]  # what the templates read besides subscriber

    def template_for(self, profile: Profile | None, ab: int | None = None) -> PayloadTemplate:
        """The payload for one subscriber (of A/B variant `ab`, if the delivery has one);
        RenderFailed with the reason when it cannot be."""
        if ab is not None:
            variant = ab_key(ab)
        else:
            variant = pick_variant(self.languages, profile.language if profile else None)
        ready = self.ready.get(variant)
        if ready is not None:
            return ready
        variables = _variables(profile, self.variables)
        member = _rendered(self.members[variant], self.personal[variant], variables)
        template = build_template(member, self.notification_id, self.events_url)
        if template.size > MAX_PLAINTEXT_BYTES:
            raise RenderFailed(
                f"payload_too_large: {template.size} bytes of plaintext; at most "
                f"{MAX_PLAINTEXT_BYTES}"
            )
        return template


def message_content(
    member: dict[str, Any], content: Content, notification_id: str, events_url: str
) -> MessageContent | None:
    """None when every subscriber gets the same message (the broadcast's fast path)."""
    if not content.per_subscriber:
        return None
    members = {
        DEFAULT: member,
        **content.localized,
        **{ab_key(index): m for index, m in enumerate(content.ab)},
    }
    ready = {
        key: build_template(m, notification_id, events_url)
        for key, m in members.items()
        if not content.personal.get(key)
    }
    personal = {key: paths for key, paths in content.personal.items() if paths}
    return MessageContent(
        notification_id,
        events_url,
        {key.lower(): key for key in content.localized},
        ready,
        {key: members[key] for key in personal},
        personal,
        content.variables,
    )


def _rendered(
    member: dict[str, Any], paths: Iterable[Path], variables: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of `member` with each templated field rendered with `variables`; only the
    containers on the way to a rendered field are copied."""
    result = dict(member)
    for path in paths:
        limit = _render_limit(path)
        text = render(get_path(member, path), variables, limit)
        problem = rendered_problem(path, text)
        if problem is not None:
            raise RenderFailed(f"template_error: {problem}")
        _set_copied(result, member, path, text)
    return result


def _render_limit(path: Path) -> int:
    return max_length(path) + 1  # one more, so that the check names the real length's excess


def _set_copied(result: dict[str, Any], original: dict[str, Any], path: Path, value: Any) -> None:
    target: Any = result
    source: Any = original
    for part in path[:-1]:
        source = source[part]
        if target[part] is source:  # not yet copied on this message
            target[part] = list(source) if isinstance(source, list) else dict(source)
        target = target[part]
    target[path[-1]] = value


EMPTY_PROFILE = Profile(None, {}, None, None, None)
