"""The dashboard's records (operators, their sessions, sites as the dashboard lists them) and the
store verbs that read and write them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

ROLES = ("admin", "editor")


class OperatorExists(Exception):
    """An operator with that email exists already; nothing was stored."""


@dataclass(frozen=True)
class Operator:
    id: str
    email: str  # lower-cased
    role: str  # admin | editor
    password_hash: str  # argon2id, PHC string
    created_at: float
    updated_at: float
    site_ids: tuple[str, ...] = ()  # an editor's sites; admins see every site

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class DashboardSession:
    token_hash: str  # sha256 of the cookie value: a stolen database opens no session
    operator: Operator
    csrf_token: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class SiteSummary:
    """A site as the dashboard's list shows it."""

    id: str
    name: str
    origins: tuple[str, ...]
    subscribers: int
    created_at: float


class OperatorStore(Protocol):
    # operators
    async def create_operator(self, operator: Operator) -> Operator: ...
    async def get_operator(self, operator_id: str) -> Operator | None: ...
    async def operator_by_email(self, email: str) -> Operator | None: ...
    async def list_operators(self) -> list[Operator]: ...
    async def delete_operator(self, email: str) -> bool: ...
    async def set_operator_password(
        self, operator_id: str, password_hash: str, now: float, *, end_sessions: bool
    ) -> bool: ...
    async def site_summaries(self, site_ids: Sequence[str] | None) -> list[SiteSummary]: ...

    # sessions and failed logins
    async def create_dashboard_session(
        self, token_hash: str, operator_id: str, csrf_token: str, now: float, expires_at: float
    ) -> None: ...
    async def dashboard_session(self, token_hash: str, now: float) -> DashboardSession | None: ...
    async def end_dashboard_session(self, token_hash: str) -> None: ...
    async def record_login_failure(
        self, subjects: Sequence[str], now: float, *, forget_before: float
    ) -> None: ...
    async def login_failures(
        self, subjects: Sequence[str], since: float
    ) -> list[tuple[str, float]]: ...
    async def forget_login_failures(self, subject: str) -> None: ...
