"""Dashboard forms: URL-encoded bodies (what a <form method="post"> sends), read with a size
limit and parsed once per request."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request

from pushgate.api.http import read_body
from pushgate.errors import ApiError

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 100
FORM_TYPE = "application/x-www-form-urlencoded"


class FormTooLarge(Exception):
    pass


async def read_form(request: Request) -> ImmutableMultiDict[str, str]:
    """The request's form fields (empty for another content type); FormTooLarge past the limit."""
    cached = getattr(request.state, "form", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    form: ImmutableMultiDict[str, str] = ImmutableMultiDict()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == FORM_TYPE:
        try:
            raw = await read_body(request, MAX_FORM_BYTES)
            pairs = parse_qsl(
                raw.decode("utf-8", "replace"),
                keep_blank_values=True,
                max_num_fields=MAX_FORM_FIELDS,
            )
        except (ApiError, ValueError) as exc:
            raise FormTooLarge(str(exc)) from exc
        form = ImmutableMultiDict(pairs)
    request.state.form = form
    return form


def field(form: ImmutableMultiDict[str, str], name: str, limit: int = 2000) -> str:
    """A text field, trimmed and cut to `limit` characters (the form's own maxlength)."""
    return form.get(name, "").strip()[:limit]
