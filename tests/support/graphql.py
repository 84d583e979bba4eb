"""A small GraphQL-over-HTTP client for the tests, and token helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from src.auth.roles import Role
from src.auth.tokens import TokenService
from src.config import Settings


@dataclass
class GraphQLResponse:
    status: int
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]

    @property
    def codes(self) -> list[str | None]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def ok(self) -> dict[str, Any]:
        assert not self.errors, self.errors
        assert self.data is not None
        return self.data


def mint(
    settings: Settings,
    role: Role,
    *,
    subject: str | None = None,
    ttl: timedelta = timedelta(hours=1),
) -> str:
    return TokenService(settings).mint(subject or f"test-{role.claim}", role, ttl=ttl)


async def gql(
    client: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> GraphQLResponse:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    response = await client.post(
        url, json={"query": query, "variables": variables or {}}, headers=sent
    )
    body = response.json()
    return GraphQLResponse(response.status_code, body.get("data"), body.get("errors") or [])


__all__ = ["GraphQLResponse", "gql", "mint"]
