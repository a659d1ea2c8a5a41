"""A notification request's content: templates rendered or kept, and language variants.

Before the fields are checked, every template among them is parsed (a syntax error answers
`400 invalid_template` naming the field and the line); one that reads `subscriber` is kept,
to be rendered per message by the send workers; any other is rendered now, once, with the
request's variables (`payload` for a webhook, `item` for a feed, `event` for a trigger).
`"localized": {"de": {...}}` variants each become a whole member: the default fields with
the variant's over them, and `lang` set to the variant's tag unless it sets one. An A/B
test's `"variants": [{...}, ...]` (api/ab_request.py) become whole members the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pushgate.api.ab_request import variant_fields
from pushgate.api.validation import LANGUAGE, invalid, require_object
from pushgate.content.fields import (
    URL_FIELDS,
    Path,
    describe,
    max_length,
    set_path,
)
from pushgate.content.sandbox import RenderFailed, TemplateInvalid, check, is_template, render
from pushgate.content.variants import DEFAULT, Content, ab_key
from pushgate.errors import ApiError

MEMBER_FIELDS = (
    "title", "body", "url", "icon", "image", "badge", "tag", "lang", "renotify",
    "require_interaction", "silent", "actions", "data",
)  # fmt: skip
MAX_VARIANTS = 50
URL_PLACEHOLDER = "https://template.invalid/"  # a URL template's stand-in while fields are checked
SUBSCRIBER = "subscriber"

MemberBuilder = Callable[[dict[str, Any]], dict[str, Any]]


def content_of(
    data: dict[str, Any], variables: Mapping[str, Any], build: MemberBuilder
) -> tuple[dict[str, Any], Content]:
    """The default member (built by `build` from checked request fields) and the content."""
    own = {name: data[name] for name in MEMBER_FIELDS if name in data}
    member, paths = member_with_templates(own, variables, build, "")
    personal = {DEFAULT: paths} if paths else {}
    localized = {}
    for language, fields in _variants(data.get("localized")).items():
        merged = own | fields
        merged.setdefault("lang", language)
        prefix = f"localized.{language}."
        localized[language], paths = member_with_templates(merged, variables, build, prefix)
        if paths:
            personal[language] = paths
    tested = []
    for index, fields in enumerate(variant_fields(data)):
        variant, paths = _variant_member(own | fields, variables, build, index)
        tested.append(variant)
        if paths:
            personal[ab_key(index)] = paths
    # A per-subscriber template may read the request's variables too ("{{ payload.title }}
    # for {{ subscriber.tags.name }}"): they travel with the content.
    kept = dict(variables) if personal else {}
    return member, Content(localized, personal, kept, tested)


def _variant_member(
    fields: dict[str, Any], variables: Mapping[str, Any], build: MemberBuilder, index: int
) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """An A/B variant's member; a field it breaks is named with the variant's index."""
    prefix = f"variants[{index}]."
    try:
        return member_with_templates(fields, variables, build, prefix)
    except ApiError as exc:
        if exc.error.code != "invalid_request":
            raise
        raise ApiError("invalid_request", f"variants[{index}]: {exc.message}") from None


def _variants(value: Any) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    variants = require_object(value, "localized")
    if len(variants) > MAX_VARIANTS:
        raise invalid(f"localized holds {len(variants)} languages; at most {MAX_VARIANTS}")
    seen: set[str] = set()
    for language, fields in variants.items():
        if not LANGUAGE.match(language) or language.lower() in seen:
            raise invalid(f"localized: {language!r} is not a BCP 47 language tag, or repeats one")
        seen.add(language.lower())
        unknown = sorted(set(require_object(fields, f"localized.{language}")) - set(MEMBER_FIELDS))
        if unknown:
            raise invalid(f"localized.{language}: unknown field {unknown[0]!r}")
    return variants


def member_with_templates(
    fields: dict[str, Any], variables: Mapping[str, Any], build: MemberBuilder, prefix: str
) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """The member built from `fields` with every template rendered, except those that read
    `subscriber`: kept as they are, their member paths returned."""
    fields = _copied(fields)
    personal: list[Path] = []
    kept: dict[Path, str] = {}
    for request_path, path, source in list(_templates(fields)):
        name = prefix + describe(path)
        if SUBSCRIBER in template_variables(source, name):
            personal.append(path)
            if path[-1] in URL_FIELDS:  # checked per message, once rendered
                kept[path] = source
                set_path(fields, request_path, URL_PLACEHOLDER)
            continue
        set_path(fields, request_path, render_now(source, variables, name, max_length(path)))
    member = build(fields)
    for path, source in kept.items():
        set_path(member, path, source)
    return member, tuple(personal)


def template_variables(source: str, name: str) -> frozenset[str]:
    """The variables a template reads; `400 invalid_template` naming `name` and the line."""
    try:
        return check(source)
    except TemplateInvalid as exc:
        line = f" line {exc.line}" if exc.line else ""
        raise ApiError("invalid_template", f"{name}{line}: {exc.reason}") from None


def render_now(source: str, variables: Mapping[str, Any], name: str, limit: int) -> str:
    """A template rendered once; `422 template_error` with the reason when it fails."""
    try:
        return render(source, variables, limit)
    except RenderFailed as exc:
        reason = str(exc).removeprefix("template_error: ")
        raise ApiError("template_error", f"{name}: {reason}") from None


def _templates(fields: dict[str, Any]) -> Iterator[tuple[Path, Path, str]]:
    """(path in the request, path in the member, source) of every template among `fields`."""
    for name in ("title", "body", "tag", "url", "icon", "image", "badge"):
        value = fields.get(name)
        if isinstance(value, str) and is_template(value):
            yield (name,), ("navigate" if name == "url" else name,), value
    actions = fields.get("actions")
    for index, action in enumerate(actions if isinstance(actions, list) else ()):
        for name in ("title", "url") if isinstance(action, dict) else ():
            value = action.get(name)
            if isinstance(value, str) and is_template(value):
                member_name = "navigate" if name == "url" else name
                yield ("actions", index, name), ("actions", index, member_name), value
    for path, value in _data_templates(fields.get("data"), ("data",)):
        yield path, path, value


def _data_templates(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str) and is_template(value):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _data_templates(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _data_templates(item, (*path, index))


def _copied(value: Any) -> Any:
    """A copy of the JSON containers (rendering writes into them; the request stays as sent)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def rendered_audience(value: Any, variables: Mapping[str, Any]) -> Any:
    """An audience's JSON with each template among its strings rendered (a webhook's
    `{"filter": {"field": "tags.section", "op": "eq", "value": "{{ payload.category }}"}}`)."""
    return _render_strings(value, variables, "audience")


def _render_strings(value: Any, variables: Mapping[str, Any], name: str) -> Any:
    if isinstance(value, str) and is_template(value):
        if SUBSCRIBER in template_variables(value, name):
            raise ApiError("invalid_template", f"{name}: an audience cannot depend on subscriber")
        return render_now(value, variables, name, max_length(("data",)))
    if isinstance(value, dict):
        return {k: _render_strings(v, variables, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_strings(v, variables, f"{name}[{i}]") for i, v in enumerate(value)]
    return value
