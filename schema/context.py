"""The GraphQL context: who is calling, from where, and the process's services.

Built once per HTTP request, but once per WebSocket *connection*, so it holds factories and lazily
computed values, never a database session.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from src.auth.roles import Principal
from src.auth.tokens import bearer_token
from src.cluster_view import ClusterView
from src.errors import Unauthenticated
from src.services import Services

_VIEW_MAX_AGE = 2.0  # a WebSocket connection's view of the cluster is refreshed after this


class Context(BaseContext):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self._principal: Principal | None = None
        self._auth_error: Unauthenticated | None = None
        self._authenticated = False
        self._view: tuple[float, ClusterView] | None = None

    @property
    def view(self) -> ClusterView:
        """Inspect replies shared by every field of this request."""
        now = time.monotonic()
        if self._view is None or now - self._view[0] > _VIEW_MAX_AGE:
            self._view = (now, ClusterView(self.services.inspector))
        return self._view[1]

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

    def principal(self) -> Principal | None:
        """The caller, or None when no token was sent; raises Unauthenticated for a bad token."""
        if not self._authenticated:
            self._authenticated = True
            try:
                token = self._token()
                self._principal = self.services.tokens.verify(token) if token else None
                self._auth_error = None
            except Unauthenticated as exc:
                self._principal, self._auth_error = None, exc
        if self._auth_error is not None:
            raise self._auth_error
        expires_at = self._principal.expires_at if self._principal else None
        if expires_at is not None and expires_at < datetime.now(UTC):
            raise Unauthenticated("token expired")  # a long-lived WebSocket outlives its token
        return self._principal

    @cached_property
    def client_ip(self) -> str | None:
        """The caller's address; X-Forwarded-For counts only from a trusted proxy."""
        if self.request is None or self.request.client is None:
            return None
        peer = self.request.client.host
        if peer in self.services.settings.trusted_proxy_set():
            forwarded = self.request.headers.get("x-forwarded-for", "")
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            trusted = self.services.settings.trusted_proxy_set()
            for hop in reversed(hops):
                if hop not in trusted:
                    return hop
        return peer

    @cached_property
    def user_agent(self) -> str | None:
        if self.request is None:
            return None
        agent = self.request.headers.get("user-agent")
        return agent[:512] if agent else None


Info = StrawberryInfo[Context, Any]

__all__ = ["Context", "Info"]
