"""The "new site" form: a name and the origins the snippet runs on, checked as
`pushgate sites create` checks them."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import ImmutableMultiDict

MAX_NAME_LENGTH = 100
MAX_ORIGINS = 20


@dataclass
class SiteForm:
    name: str = ""
    origins_text: str = ""
    origins: tuple[str, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)


def parse_site_form(form: ImmutableMultiDict[str, str]) -> SiteForm:
    """The fields as typed, the clean origins, and an error per field that needs one."""
    result = SiteForm(
        name=form.get("name", "").strip()[: MAX_NAME_LENGTH + 1],
        origins_text=form.get("origins", "")[:5000],
    )
    if not result.name:
        result.errors["name"] = "Enter a name for the site."
    elif len(result.name) > MAX_NAME_LENGTH:
        result.errors["name"] = f"Use at most {MAX_NAME_LENGTH} characters."
    lines = [line.strip() for line in result.origins_text.splitlines() if line.strip()]
    bad = [line for line in lines if origin_of(line) is None]
    if not lines:
        result.errors["origins"] = "Enter at least one origin, like https://news.example.com."
    elif bad:
        result.errors["origins"] = f"Not an origin (scheme and host only): {bad[0]}"
    elif len(lines) > MAX_ORIGINS:
        result.errors["origins"] = f"Enter at most {MAX_ORIGINS} origins."
    else:
        result.origins = tuple(dict.fromkeys(o for o in map(origin_of, lines) if o))
    return result


def origin_of(value: str) -> str | None:
    """`https://host[:port]` lower-cased, or None if `value` is not an origin."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"
