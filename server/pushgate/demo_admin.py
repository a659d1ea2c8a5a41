"""`pushgate demo`'s dashboard login: an admin operator made on the first run, with a random
password printed that once (only its hash is stored); later runs say the account exists and
how to set a new password."""

from __future__ import annotations

import secrets
import shlex
import time
from dataclasses import dataclass

from pushgate.settings import Settings

DEMO_ADMIN_EMAIL = "admin@pushgate.example"
PASSWORD_BYTES = 15  # 20 characters of base64url: far above the 12-character minimum


@dataclass(frozen=True)
class DemoAdmin:
    email: str
    password: str | None  # None: made on an earlier run, the password is not known


async def ensure_demo_admin(settings: Settings, email: str = DEMO_ADMIN_EMAIL) -> DemoAdmin:
    """The demo's admin: created (with a new random password) unless it exists already."""
    from pushgate.dashboard.accounts import create_operator
    from pushgate.store import open_store

    async with open_store(settings) as store:
        if await store.operator_by_email(email) is not None:
            return DemoAdmin(email, None)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        await create_operator(store, email, "admin", (), password, time.time())
    return DemoAdmin(email, password)


def dashboard_lines(gateway_url: str, admin: DemoAdmin) -> list[str]:
    """What `pushgate demo` prints about the dashboard: where, and how to log in."""
    reset = f"pushgate users reset-password {shlex.quote(admin.email)}"
    if admin.password is not None:
        login = [
            f"  email:     {admin.email}",
            f"  password:  {admin.password}",
            f"  (shown this once: only its hash is stored; set another with: {reset})",
        ]
    else:
        login = [
            f"  email:     {admin.email}   (the account made on the first run)",
            f"  password:  the one printed then; forgot it? set a new one with: {reset}",
        ]
    return [f"dashboard:         {gateway_url}/dashboard/", *login]
