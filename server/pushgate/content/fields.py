"""The notification member's fields: their limits, and which may be templates.

One list for the API's checks at creation and the send workers' checks of what a template
rendered for one subscriber. A path names a field in the member: ("title",),
("actions", 0, "navigate"), ("data", "section").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pushgate.api.text import has_control

Path = tuple[str | int, ...]

MAX_TITLE_LENGTH = 256
MAX_BODY_LENGTH = 2048
MAX_TAG_LENGTH = 128
MAX_ACTION_LENGTH = 64
MAX_URL_LENGTH = 2048
MAX_DATA_STRING = 2048
URL_FIELDS = ("navigate", "icon", "image", "badge")
# The member's text fields that may be templates, with their most characters; `navigate` is
# the request's `url`.
TEXT_FIELDS = {"title": MAX_TITLE_LENGTH, "body": MAX_BODY_LENGTH, "tag": MAX_TAG_LENGTH}
REQUEST_NAMES = {"navigate": "url"}  # a member field's name in the request, where it differs


def templatable(member: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    """Every string of the member that may be a template, with its path."""
    for name in (*TEXT_FIELDS, *URL_FIELDS):
        if isinstance(member.get(name), str):
            yield (name,), member[name]
    for index, action in enumerate(member.get("actions") or ()):
        for name in ("title", "navigate"):
            if isinstance(action.get(name), str):
                yield ("actions", index, name), action[name]
    yield from _data_strings(member.get("data"), ("data",))


def _data_strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _data_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _data_strings(item, (*path, index))


def describe(path: Path) -> str:
    """The request's name of a field: url, actions[0].title, data.section."""
    text = REQUEST_NAMES.get(str(path[0]), str(path[0]))
    for part in path[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    if path[0] == "actions" and path[-1] == "navigate":
        text = text[: -len("navigate")] + "url"
    return text


def max_length(path: Path) -> int:
    if path[0] == "actions":
        return MAX_URL_LENGTH if path[-1] == "navigate" else MAX_ACTION_LENGTH
    if path[0] in URL_FIELDS:
        return MAX_URL_LENGTH
    return TEXT_FIELDS.get(str(path[0]), MAX_DATA_STRING)


def rendered_problem(path: Path, text: str) -> str | None:
    """Why `text`, rendered for one subscriber, cannot be that field; None when it can."""
    name = describe(path)
    if path[0] == "title" and not text.strip():
        return f"{name} rendered empty"
    if len(text) > max_length(path):
        return f"{name} rendered to {len(text)} characters; at most {max_length(path)}"
    if has_control(text, multiline=path[0] in ("body", "data")):
        return f"{name} rendered with control characters"
    if path[-1] in URL_FIELDS and not is_http_url(text):
        return f"{name} rendered {text[:80]!r}, not an absolute http or https URL"
    return None


def is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def get_path(member: dict[str, Any], path: Path) -> Any:
    value: Any = member
    for part in path:
        value = value[part]
    return value


def set_path(member: dict[str, Any], path: Path, value: Any) -> None:
    target: Any = member
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
