"""The GraphQL context: who is calling, from where, and typed accessors to the parts resolvers use.

Built once per HTTP request, but once per WebSocket *connection*, so it holds long-lived parts
and lazily computed values, never a database session. Resolvers see only the accessors below,
not the composition root behind them (src/runtime.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar, cast

from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from src.access_scope import AccessScope
from src.audit.service import AuditService
from src.auth.access import Access
from src.auth.authenticator import Authenticator
from src.auth.policy import NO_TOKEN, Policy
from src.auth.revocation import Revocations
from src.auth.roles import Principal, Role
from src.auth.tokens import TokenService, bearer_token
from src.bus import EventBus
from src.control.cluster_view import ClusterView
from src.control.plane import ControlPlane
from src.doctor import Doctor
from src.errors import Unauthenticated
from src.identity_settings import PublicClient
from src.logs import bind
from src.monitoring.service import Monitoring
from src.periodic.service import Periodic
from src.queues.catalog import QueueCatalog
from src.runtime import Runtime
from src.security.document import DocumentCaps
from src.security.rate_limit import RateLimiter
from src.security.shield import client_address
from src.security.task_data import TaskDataRedactor
from src.system.config import ConfigStore
from src.system.degraded import degraded_reasons
from src.system.facts import SystemFacts
from src.system.health import HealthChecks
from src.task_store.query import TaskStore
from src.workers.directory import WorkerDirectory

_VIEW_MAX_AGE = 2.0  # a WebSocket connection's view of the cluster is refreshed after this
_ONCE_KEYS = 256
T = TypeVar("T")


class Context(BaseContext):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self._runtime = runtime
        self._principal: Principal | None = None
        self._auth_error: Unauthenticated | None = None
        self._authenticated = False
        self._view: tuple[float, ClusterView] | None = None
        # The caller's scope, set by the guard (src/auth/access.py); the task filters add it.
        self.task_scope: AccessScope | None = None
        self.audited_attempts = (
            0  # mutation attempts the guard audited (schema/core/audit_rejected.py)
        )
        self._once: dict[Hashable, tuple[float, asyncio.Future[Any]]] = {}

    # -- the parts resolvers use ----------------------------------------------------------

    @property
    def policy(self) -> Policy:
        return self._runtime.policy

    @property
    def public_client(self) -> PublicClient | None:
        """The identity provider's sign-in for browsers, when configured (systemInfo)."""
        return self._runtime.settings.public_client()

    @property
    def access(self) -> Access:
        assert self._runtime.access is not None  # built with the runtime
        return self._runtime.access

    @property
    def tokens(self) -> TokenService:
        return self._runtime.tokens

    @property
    def revocations(self) -> Revocations:
        return self._runtime.revocations

    @property
    def task_data(self) -> TaskDataRedactor:
        return self._runtime.task_data

    def may_see_task_data(self) -> bool:
        """Whether this caller may see task data (args, results, tracebacks); False for a caller
        without a valid token."""
        try:
            principal = self.principal()
        except Unauthenticated:
            return False
        return self._runtime.policy.may_see_task_data(principal)

    @property
    def audit(self) -> AuditService:
        return self._runtime.audit

    @property
    def control(self) -> ControlPlane:
        return self._runtime.control

    @property
    def queues(self) -> QueueCatalog:
        return self._runtime.queues

    @property
    def tasks(self) -> TaskStore:
        return self._runtime.tasks

    @property
    def workers(self) -> WorkerDirectory:
        return self._runtime.workers

    @property
    def monitoring(self) -> Monitoring:
        return self._runtime.monitoring

    @property
    def periodic(self) -> Periodic:
        return self._runtime.periodic

    @property
    def config(self) -> ConfigStore:
        return self._runtime.config

    @property
    def health(self) -> HealthChecks:
        return self._runtime.health

    def degraded(self) -> list[str]:
        """What this process does in a lesser way right now (src/system/degraded.py)."""
        return degraded_reasons(self._runtime.limiter)

    @property
    def system(self) -> SystemFacts:
        return self._runtime.system

    @property
    def doctor(self) -> Doctor:
        return self._runtime.doctor

    @property
    def bus(self) -> EventBus:
        return self._runtime.bus

    @property
    def limiter(self) -> RateLimiter:
        return self._runtime.limiter

    @property
    def production(self) -> bool:
        return self._runtime.settings.production

    @property
    def deadline_seconds(self) -> float:
        return self._runtime.settings.request_deadline_seconds

    @cached_property
    def document_caps(self) -> DocumentCaps:
        """What an authenticated caller's documents may ask for (src/security/document.py)."""
        settings = self._runtime.settings
        return DocumentCaps(
            max_fields=settings.max_query_fields,
            max_selections=settings.max_query_selections,
            max_aliases=50,
            max_depth=12,
            max_cost=settings.max_query_cost,
            max_recursion=settings.max_query_recursion,
        )

    @property
    def view(self) -> ClusterView:
        """Inspect replies shared by every field of this request."""
        now = time.monotonic()
        if self._view is None or now - self._view[0] > _VIEW_MAX_AGE:
            self._view = (now, ClusterView(self._runtime.inspector))
        return self._view[1]

    async def once(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """`work()` run once for every field of this request that asks for `key` (20 aliases of
        `alerts` are one Redis read, not 20 connections); like `view`, shared for a WebSocket
        connection's fields for at most `_VIEW_MAX_AGE` seconds."""
        now = time.monotonic()
        held = self._once.get(key)
        if (
            held is None
            or now - held[0] > _VIEW_MAX_AGE
            or (held[1].done() and held[1].exception() is not None)
        ):
            if len(self._once) > _ONCE_KEYS:
                self._once.clear()
            held = (now, asyncio.ensure_future(work()))
            self._once[key] = held
        return cast("T", await asyncio.shield(held[1]))

    # -- the caller -----------------------------------------------------------------------

    def _token(self) -> str | None:
        params = self.connection_params
        if isinstance(params, dict):
            for key in ("Authorization", "authorization"):
                if isinstance(params.get(key), str):
                    return bearer_token(params[key])
            for key in ("token", "accessToken"):
                if isinstance(params.get(key), str) and params[key]:
                    return str(params[key])
        if self.request is not None:
            return bearer_token(self.request.headers.get("authorization"))
        return None

    @property
    def _authenticator(self) -> Authenticator:
        assert self._runtime.authenticator is not None  # built with the runtime
        return self._runtime.authenticator

    async def authenticate(self) -> None:
        """Verify the caller's token once (per request, per WebSocket connection), with the
        identity provider's keys fetched off the event loop and a failure counted; `principal()`
        then answers from the result (the guard and the WebSocket handshake call this first)."""
        if self._authenticated:
            return
        try:
            token = self._token()
            principal = (
                await self._authenticator.authenticate(token, ip=self.client_ip) if token else None
            )
        except Unauthenticated as exc:
            self._principal, self._auth_error = None, exc
        except (OverflowError, ValueError, TypeError) as exc:  # e.g. exp=1e20: pyjwt fails
            self._principal = None
            self._auth_error = Unauthenticated(f"malformed token ({type(exc).__name__})")
        else:
            self._principal, self._auth_error = principal, None
            if principal is not None:
                bind(subject=principal.subject)
        self._authenticated = True

    async def sign_in_flags(self, principal: Principal | None) -> list[str] | None:
        """For a super_admin: whether its subject or address is new (not seen for N days)."""
        if principal is None or not principal.has(Role.SUPER_ADMIN):
            return None
        activity = self._authenticator.activity
        return await activity.unfamiliar(subject=principal.subject, ip=self.client_ip) or None

    def peek_principal(self) -> Principal | None:
        """The caller if its token verifies now, else None; unlike `principal()` it decides
        nothing for the request (for log context: the identity provider's keys may not be
        fetched yet, and `authenticate()` still has to fetch them)."""
        if self._authenticated:
            return self._principal
        try:
            token = self._token()
            return self._authenticator.verify(token) if token else None
        except Unauthenticated:
            return None

    def principal(self) -> Principal | None:
        """The caller, or None when no token was sent; raises Unauthenticated for a bad token."""
        if not self._authenticated:
            self._authenticated = True
            try:
                token = self._token()
                self._principal = self._authenticator.verify(token) if token else None
                self._auth_error = None
            except Unauthenticated as exc:
                self._principal, self._auth_error = None, exc
            except (OverflowError, ValueError, TypeError) as exc:  # e.g. exp=1e20: pyjwt fails
                self._principal = None
                self._auth_error = Unauthenticated(f"malformed token ({type(exc).__name__})")
        if self._auth_error is not None:
            raise self._auth_error
        principal = self._principal
        if principal is None:
            return None
        # A long-lived WebSocket outlives its token, or sees it revoked.
        if principal.expires_at is not None and principal.expires_at < datetime.now(UTC):
            raise Unauthenticated("token expired")
        if self._runtime.tokens.is_revoked(principal):
            raise Unauthenticated("token revoked")
        return principal

    def caller(self) -> Principal:
        """The authenticated caller (a guarded field's resolver always has one)."""
        principal = self.principal()
        if principal is None:
            raise Unauthenticated(NO_TOKEN)
        return principal

    @cached_property
    def client_ip(self) -> str | None:
        """The caller's address; X-Forwarded-For counts only from a trusted proxy (as the flood
        shield reads it: src/security/shield.py)."""
        if self.request is None or self.request.client is None:
            return None
        return client_address(
            self.request.client.host,
            ",".join(self.request.headers.getlist("x-forwarded-for")) or None,
            self._runtime.settings.trusted_proxy_set(),
        )

    def refused_token(self) -> str | None:
        """The token sent, when it was checked and refused (the flood shield remembers it)."""
        if not self._authenticated or self._auth_error is None:
            return None
        try:
            return self._token()
        except Unauthenticated:
            return None

    @cached_property
    def user_agent(self) -> str | None:
        if self.request is None:
            return None
        agent = self.request.headers.get("user-agent")
        return agent[:512] if agent else None


Info = StrawberryInfo[Context, Any]

__all__ = ["Context", "Info"]
