"""Operators as the CLI and the dashboard manage them: the rules above the store (emails
lower-cased and checked, roles, an editor's sites existing, passwords hashed)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from pushgate.dashboard.passwords import hash_password
from pushgate.store import Store
from pushgate.store.operator_rows import ROLES, Operator

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a path, less its brackets
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class AccountError(ValueError):
    """A request the rules refuse; the message says why, and names no secret."""


def normalize_email(email: str) -> str:
    """The address lower-cased and trimmed, or AccountError if it cannot be one."""
    clean = email.strip().lower()
    if len(clean) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(clean):
        raise AccountError(f"{email!r} is not an email address")
    return clean


async def create_operator(
    store: Store,
    email: str,
    role: str,
    site_refs: Sequence[str],
    password: str,
    now: float,
) -> Operator:
    """A new operator; `site_refs` (an editor's sites) are site ids or names.
    AccountError for a bad role or site; WeakPassword for a short one; OperatorExists."""
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    if role == "admin" and site_refs:
        raise AccountError("an admin sees every site: --site is for editors")
    if role == "editor" and not site_refs:
        raise AccountError("an editor needs at least one --site")
    site_ids = tuple(dict.fromkeys([await _site_id(store, ref) for ref in site_refs]))
    operator = Operator(
        id="op_" + secrets.token_hex(8),
        email=normalize_email(email),
        role=role,
        password_hash=hash_password(password),
        created_at=now,
        updated_at=now,
        site_ids=site_ids,
    )
    return await store.create_operator(operator)


async def reset_password(store: Store, email: str, password: str, now: float) -> Operator:
    """Set a new password and end every session of the operator."""
    operator = await store.operator_by_email(normalize_email(email))
    if operator is None:
        raise AccountError(f"no operator has the email {email!r}")
    await store.set_operator_password(operator.id, hash_password(password), now, end_sessions=True)
    return operator


def visible_site_ids(operator: Operator) -> tuple[str, ...] | None:
    """The sites the operator may see: None means every site (an admin)."""
    return None if operator.is_admin else operator.site_ids


def may_see(operator: Operator, site_id: str) -> bool:
    return operator.is_admin or site_id in operator.site_ids


async def _site_id(store: Store, ref: str) -> str:
    site = await store.get_site(ref) or await store.find_site_by_name(ref)
    if site is None:
        raise AccountError(f"no site has the id or name {ref!r} (pushgate sites list shows them)")
    return site.id
