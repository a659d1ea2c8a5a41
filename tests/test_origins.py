"""Origins as browsers send them (pushgate.origins): typed forms normalised to the one a browser's
Origin header carries, what is no origin refused with a reason, http warned about."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.origins import InvalidOrigin, insecure_origin_warning, normalise_origin


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://news.example", "https://news.example"),
        ("https://news.example ", "https://news.example"),
        ("\t https://news.example/\n", "https://news.example"),
        ("HTTPS://News.EXAMPLE", "https://news.example"),
        ("https://news.example:443", "https://news.example"),
        ("https://news.example:0443/", "https://news.example"),
        ("http://localhost:80", "http://localhost"),
        ("https://news.example:80", "https://news.example:80"),
        ("http://news.example:443", "http://news.example:443"),
        ("http://localhost:8081", "http://localhost:8081"),
        ("https://news.example:", "https://news.example"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://[2001:DB8:0:0::1]", "https://[2001:db8::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://news.example.", "https://news.example."),
    ],
)
def test_typed_origin_is_stored_as_a_browser_sends_it(typed: str, stored: str) -> None:
    assert normalise_origin(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("news.example", "no scheme: give it as https://news.example"),
        ("news.example/blog", "no scheme: give it as https://news.example"),
        ("ftp://news.example", "not http or https"),
        ("https://news.example/blog", "drop '/blog'"),
        ("https://news.example/?a=1", "drop '/?a=1'"),
        ("https://news.example?a=1", "drop '?a=1'"),
        ("https://news.example#top", "drop '#top'"),
        ("https://news.example\\x", "drop"),
        ("https://user:pw@news.example", "user name"),
        ("https://@news.example", "user name"),
        ("https://", "no host name"),
        ("https://:443", "no host name"),
        ("https://news..example", "invalid host name"),
        ("https://-news.example", "invalid host name"),
        ("https://news example", "invalid host name"),
        ("https://news.example:99999", "invalid port"),
        ("https://news.example:0", "invalid port"),
        ("https://news.example:44a", "invalid port"),
        ("https://news.example:-1", "invalid port"),
        ("https://[::1", "malformed IPv6"),
        ("https://[nonsense]", "malformed IPv6"),
        ("https://[::1]x", "malformed IPv6"),
        ("https://" + "a" * 300 + ".example", "at most 300 characters"),
    ],
)
def test_what_is_no_origin_is_refused_with_its_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidOrigin) as refused:
        normalise_origin(typed)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "origin", ["https://news.example", "http://localhost:8081", "http://127.0.0.1", "http://[::1]"]
)
def test_https_and_local_http_origins_need_no_warning(origin: str) -> None:
    assert insecure_origin_warning(origin) is None


@pytest.mark.parametrize(
    "origin", ["http://news.example", "http://news.example:8080", "http://192.168.1.2"]
)
def test_plain_http_elsewhere_is_warned_about(origin: str) -> None:
    warning = insecure_origin_warning(origin)
    assert warning is not None and warning.startswith(origin + ": browsers only allow push")


LABEL = st.text(string.ascii_letters + string.digits, min_size=1, max_size=20)
HOSTS = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
PORTS = st.one_of(st.none(), st.integers(1, 65535))
SCHEMES = st.sampled_from(["http", "https", "HTTP", "Https"])
SPACE = st.text(" \t\n\r", max_size=3)


def typed_origin(scheme: str, host: str, port: int | None, slash: bool, pad: str) -> str:
    return f"{pad}{scheme}://{host}{'' if port is None else f':{port}'}{'/' if slash else ''}{pad}"


@given(SCHEMES, HOSTS, PORTS, st.booleans(), SPACE)
def test_normalised_origin_is_what_urlsplit_reads_back_in_lower_case(
    scheme: str, host: str, port: int | None, slash: bool, pad: str
) -> None:
    stored = normalise_origin(typed_origin(scheme, host, port, slash, pad))
    parts = urlsplit(stored)
    assert (parts.scheme, parts.hostname) == (scheme.lower(), host.lower())
    default = 443 if scheme.lower() == "https" else 80
    assert parts.port == (None if port in (None, default) else port)
    assert parts.path == parts.query == parts.fragment == "" and parts.username is None
    assert stored == stored.strip().lower()


@given(SCHEMES, HOSTS, PORTS, st.booleans(), SPACE)
def test_normalising_twice_changes_nothing(
    scheme: str, host: str, port: int | None, slash: bool, pad: str
) -> None:
    once = normalise_origin(typed_origin(scheme, host, port, slash, pad))
    assert normalise_origin(once) == once


@given(
    SCHEMES,
    HOSTS,
    PORTS,
    st.text(string.ascii_letters + string.digits + "/?#=&", min_size=1, max_size=10).filter(
        lambda tail: tail.strip("/") != ""
    ),
)
def test_any_path_query_or_fragment_is_refused(
    scheme: str, host: str, port: int | None, tail: str
) -> None:
    base = typed_origin(scheme, host, port, False, "")
    with pytest.raises(InvalidOrigin):
        normalise_origin(base + ("/" if tail[0] not in "/?#" else "") + tail)


@given(st.text(max_size=60))
def test_any_text_is_normalised_or_refused_never_crashes(text: str) -> None:
    try:
        stored = normalise_origin(text)
    except InvalidOrigin:
        return
    assert normalise_origin(stored) == stored
    assert urlsplit(stored).scheme in ("http", "https")
