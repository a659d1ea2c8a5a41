"""The "new site" form: a name and the origins the snippet runs on (one a line), checked by the
rules the API and `pushgate sites` use (pushgate.site_profile), each refusal shown beside its
field."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import ImmutableMultiDict

from pushgate.site_profile import MAX_SITE_NAME_LENGTH, name_of, origins_of
from pushgate.site_rules import InvalidRule

MAX_ORIGINS_TEXT = 20_000  # characters of the textarea read at all


@dataclass
class SiteForm:
    name: str = ""
    origins_text: str = ""
    origins: tuple[str, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # origins browsers refuse push on


def parse_site_form(form: ImmutableMultiDict[str, str]) -> SiteForm:
    """The fields as typed, the clean origins, and an error per field that needs one."""
    result = SiteForm(
        name=form.get("name", "")[: MAX_SITE_NAME_LENGTH * 2],
        origins_text=form.get("origins", "")[:MAX_ORIGINS_TEXT],
    )
    try:
        result.name = name_of(result.name)
    except InvalidRule:
        result.errors["name"] = (
            "Enter a name for the site."
            if not result.name.strip()
            else f"Use 1 to {MAX_SITE_NAME_LENGTH} printable characters."
        )
    lines = [line.strip() for line in result.origins_text.splitlines() if line.strip()]
    try:
        result.origins, result.warnings = origins_of(lines)
    except InvalidRule as exc:
        result.errors["origins"] = _origin_problem(exc, lines)
    return result


def parse_origins_form(form: ImmutableMultiDict[str, str]) -> SiteForm:
    """The "origins" form of a site's page: only the origins."""
    result = SiteForm(origins_text=form.get("origins", "")[:MAX_ORIGINS_TEXT])
    lines = [line.strip() for line in result.origins_text.splitlines() if line.strip()]
    try:
        result.origins, result.warnings = origins_of(lines)
    except InvalidRule as exc:
        result.errors["origins"] = _origin_problem(exc, lines)
    return result


def _origin_problem(exc: InvalidRule, lines: list[str]) -> str:
    """The rule's words, with `origins[2]` turned into the line the operator typed (once: most
    of the rule's words quote it already, "'news.example' has no scheme: …")."""
    text = str(exc)
    if exc.path.startswith("origins[") and exc.path.endswith("]"):
        line = lines[int(exc.path[len("origins[") : -1])]
        problem = text[len(exc.path) + 1 :]
        reason = problem.removeprefix("is refused: ")
        return reason if repr(line) in reason else f"{line} {problem}"
    return "Origins " + text[len(exc.path) + 1 :]
