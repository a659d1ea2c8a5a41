"""Where the dashboard sends a browser: the login page with a `next` that can only ever be a
path of this dashboard (never another site: no open redirect)."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from starlette.responses import RedirectResponse

HOME = "/dashboard/"
LOGIN = "/dashboard/login"
MAX_NEXT_LENGTH = 2000
_SAFE_PATH = re.compile(r"/dashboard(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?")


def safe_next(value: str | None) -> str:
    """`value` if it is a local /dashboard path (with an optional query), else the home page.
    Refused: other hosts (`//evil`, `https://…`), backslashes, `..` segments, control bytes."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.fragment or "\\" in value:
        return HOME
    if not _SAFE_PATH.fullmatch(parts.path) or "//" in parts.path:
        return HOME
    if ".." in parts.path.split("/") or "%2e" in parts.path.lower() or "%5c" in value.lower():
        return HOME
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return HOME
    if parts.path.startswith(LOGIN):
        return HOME  # never back to the login form
    return value


def to_login(next_path: str | None = None) -> RedirectResponse:
    """303 to the login page, remembering where the operator was going."""
    target = safe_next(next_path)
    query = "" if target == HOME else "?" + urlencode({"next": target})
    return RedirectResponse(LOGIN + query, status_code=303)


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
