"""Logging in to the dashboard over HTTP against a real gateway: the form, sessions and their
cookie, the `next` parameter, logging out, and the lockout after failed logins (on the test
clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest
from argon2 import PasswordHasher

from pushgate.store import open_store
from pushgate.store.operator_rows import Operator
from tests.conftest import Gateway
from tests.dashboard.conftest import PASSWORD, DashboardGateway, Visitor, csrf_of, visit

LOCK_SECONDS = 15 * 60


def _session_cookie(answer: httpx.Response) -> str:
    cookies = [
        v for v in answer.headers.get_list("set-cookie") if v.startswith("pushgate_session=")
    ]
    assert len(cookies) == 1, answer.headers
    return cookies[0]


async def test_login_page_has_labelled_email_and_password_and_a_log_in_button(
    visitor: Visitor,
) -> None:
    page = await visitor.http.get("/dashboard/login")
    assert page.status_code == 200
    html = page.text
    assert '<label for="email">Email</label>' in html
    assert '<input id="email" name="email" type="email"' in html
    assert '<label for="password">Password</label>' in html
    assert '<input id="password" name="password" type="password"' in html
    assert '<button type="submit">Log in</button>' in html
    assert "pushgate_login=" in page.headers["set-cookie"]


async def test_right_password_starts_a_session_in_an_httponly_lax_cookie_for_12_hours(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    email = await dashboard.add_user("admin")
    answer = await visitor.login(email.upper())  # emails are compared lower-cased
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/"
    cookie = _session_cookie(answer)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # the public URL is http://
    home = await visitor.http.get("/dashboard/")
    assert home.status_code == 200
    assert f"{email} (admin)" in home.text


async def test_session_cookie_is_secure_when_the_public_url_is_https(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(PUSHGATE_PUBLIC_URL="https://push.example")
    secure = DashboardGateway(gateway)
    email = await secure.add_user("admin")
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        login = await http.get("/dashboard/login")
        assert "Secure" in login.headers["set-cookie"]
        answer = await http.post(
            "/dashboard/login",
            data={"csrf_token": csrf_of(login.text), "email": email, "password": PASSWORD},
            # httpx keeps a Secure cookie for https only: hand it over as the browser would.
            headers={"Cookie": f"pushgate_login={login.cookies['pushgate_login']}"},
        )
    assert answer.status_code == 303
    assert "Secure" in _session_cookie(answer)


async def test_wrong_password_is_401_with_no_session(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    email = await dashboard.add_user("admin")
    answer = await visitor.login(email, "wrong password, long enough")
    assert answer.status_code == 401
    assert "Wrong email or password." in answer.text
    assert not [v for v in answer.headers.get_list("set-cookie") if "pushgate_session" in v]
    unknown = await visitor.login("nobody@example.com")
    assert unknown.status_code == 401
    assert "Wrong email or password." in unknown.text  # the same words: no account enumeration
    assert (await visitor.http.get("/dashboard/")).status_code == 303


async def test_login_without_or_with_a_wrong_form_token_is_403_and_starts_no_session(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    email = await dashboard.add_user("admin")
    await visitor.http.get("/dashboard/login")  # the browser holds the login cookie
    for token in (None, "wrong-token"):
        data = {"email": email, "password": PASSWORD}
        if token:
            data["csrf_token"] = token
        answer = await visitor.http.post("/dashboard/login", data=data)
        assert answer.status_code == 403
        assert "pushgate_session" not in answer.headers.get("set-cookie", "")
    assert (await visitor.http.get("/dashboard/")).status_code == 303


@pytest.mark.parametrize(
    "path", ["/dashboard/", "/dashboard/sites/abc123?tab=embed", "/dashboard/no/such/page"]
)
async def test_no_session_redirects_with_303_to_login_with_next(
    dashboard: DashboardGateway, visitor: Visitor, path: str
) -> None:
    answer = await visitor.http.get(path)
    assert answer.status_code == 303
    expected = "/dashboard/login" + ("" if path == "/dashboard/" else f"?next={quote(path, '')}")
    assert answer.headers["location"] == expected
    email = await dashboard.add_user("admin")
    after = await visitor.login(email, next_path=path)
    assert after.headers["location"] == path


async def test_state_changing_request_without_session_redirects_and_changes_nothing(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    answer = await visitor.http.post("/dashboard/sites/new", data={"name": "x", "origins": "x"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login"


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/dashboard/",
        "//evil.example/dashboard/",
        "/\\evil.example",
        "/dashboard/../../evil",
        "/dashboard/%2e%2e/evil",
        "/elsewhere",
        "javascript:alert(1)",
        "/dashboard/login",
        " /dashboard/",
    ],
)
async def test_next_is_only_ever_a_local_dashboard_path(
    dashboard: DashboardGateway, visitor: Visitor, next_path: str
) -> None:
    email = await dashboard.add_user("admin")
    answer = await visitor.login(email, next_path=next_path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/"
    again = await visitor.http.get("/dashboard/login", params={"next": next_path})
    assert again.headers["location"] == "/dashboard/"


async def test_logout_ends_the_session_for_its_cookie(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    await visitor.logged_in(await dashboard.add_user("admin"))
    token = await visitor.csrf()
    cookie = visitor.http.cookies["pushgate_session"]
    answer = await visitor.http.post("/dashboard/logout", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    # The old cookie, replayed, opens nothing: the session is gone from the database.
    async with httpx.AsyncClient(base_url=dashboard.url) as replayer:
        replay = await replayer.get("/dashboard/", headers={"Cookie": f"pushgate_session={cookie}"})
    assert replay.status_code == 303


async def test_session_expires_after_12_hours_on_the_clock(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    await visitor.logged_in(await dashboard.add_user("admin"))
    dashboard.advance(12 * 3600 - 60)
    assert (await visitor.http.get("/dashboard/")).status_code == 200
    dashboard.advance(61)
    assert (await visitor.http.get("/dashboard/")).status_code == 303


async def test_reset_password_ends_the_operators_sessions(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    email = await dashboard.add_user("admin")
    await visitor.logged_in(email)
    new_password = "another long password"
    done = dashboard.users("reset-password", email, "--password-stdin", password=new_password)
    assert done.returncode == 0, done.stderr
    assert (await visitor.http.get("/dashboard/")).status_code == 303
    assert (await visitor.login(email)).status_code == 401
    assert (await visitor.login(email, new_password)).status_code == 303


async def _fail(dashboard: DashboardGateway, email: str, address: str | None = None) -> int:
    async with visit(dashboard, address) as one:
        return (await one.login(email, "not the password at all")).status_code


async def test_five_failures_for_one_account_lock_it_for_15_minutes_from_any_address(
    dashboard: DashboardGateway,
) -> None:
    email = await dashboard.add_user("admin")
    assert [await _fail(dashboard, email) for _ in range(5)] == [401] * 5  # 5 addresses
    async with visit(dashboard) as fresh:
        locked = await fresh.login(email)  # the right password, from a sixth address
        assert locked.status_code == 429
        assert "Too many failed logins. Try again in 15 minutes." in locked.text
        assert int(locked.headers["retry-after"]) == LOCK_SECONDS
        assert "pushgate_session" not in locked.headers.get("set-cookie", "")
        dashboard.advance(LOCK_SECONDS - 30)
        assert (await fresh.login(email)).status_code == 429
        dashboard.advance(31)
        assert (await fresh.login(email)).status_code == 303


async def test_five_failures_from_one_address_lock_that_address_only(
    dashboard: DashboardGateway,
) -> None:
    email = await dashboard.add_user("admin")
    async with visit(dashboard) as guesser:
        address = guesser.http.headers["x-forwarded-for"]
        for n in range(5):  # five different accounts, none of them real
            assert (await guesser.login(f"guess{n}@example.com")).status_code == 401
        assert (await guesser.login(email)).status_code == 429
    assert await _fail(dashboard, email) == 401  # another address may still try
    async with visit(dashboard) as other:
        assert (await other.login(email)).status_code == 303
    dashboard.advance(LOCK_SECONDS + 1)
    async with visit(dashboard, address) as again:
        assert (await again.login(email)).status_code == 303


async def test_four_failures_then_the_right_password_logs_in_and_forgives_the_account(
    dashboard: DashboardGateway,
) -> None:
    email = await dashboard.add_user("admin")
    assert [await _fail(dashboard, email) for _ in range(4)] == [401] * 4
    async with visit(dashboard) as right:
        assert (await right.login(email)).status_code == 303
    assert [await _fail(dashboard, email) for _ in range(4)] == [401] * 4
    async with visit(dashboard) as right_again:
        assert (await right_again.login(email)).status_code == 303


async def test_login_rehashes_a_password_hashed_with_older_parameters(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    now = dashboard.now()
    async with open_store(dashboard.gateway.database) as store:
        await store.create_operator(
            Operator("op_rehash", "old@example.com", "admin", weak, now, now)
        )
    await visitor.logged_in("old@example.com")
    async with open_store(dashboard.gateway.database) as store:
        operator = await store.operator_by_email("old@example.com")
    assert operator is not None and operator.password_hash != weak
    assert not PasswordHasher().check_needs_rehash(operator.password_hash)
    assert PasswordHasher().verify(operator.password_hash, PASSWORD)
    assert (await visitor.http.get("/dashboard/")).status_code == 200  # the session stays


async def test_a_burst_of_parallel_guesses_gets_five_tries_and_no_more(
    dashboard: DashboardGateway,
) -> None:
    email = await dashboard.add_user("admin")
    async with visit(dashboard) as guesser:
        form = await guesser.http.get("/dashboard/login")
        data = {"csrf_token": csrf_of(form.text), "email": email, "password": "a wrong guess!"}
        answers = await asyncio.gather(
            *(guesser.http.post("/dashboard/login", data=data) for _ in range(12))
        )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [401] * 5 + [429] * 7
