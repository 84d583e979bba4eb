"""The caller's effective permissions, as `me` answers them."""

from __future__ import annotations

import strawberry


@strawberry.type(description="A part of the cluster a scoped caller may touch (a role binding).")
class Scope:
    binding: str = strawberry.field(description="The binding's id in access.bindings.")
    queues: list[str] = strawberry.field(description="Queues, exactly; empty: any queue.")
    task_names: list[str] = strawberry.field(
        description="Task name patterns (fnmatch); empty: any."
    )
    workers: list[str] = strawberry.field(description="Worker hostname patterns (fnmatch).")


@strawberry.type(description="The caller: who, with which role, limited to which scopes.")
class Me:
    subject: str
    role: str
    issuer: str | None = strawberry.field(description="The identity provider, for SSO callers.")
    groups: list[str] = strawberry.field(description="The provider's groups the role came from.")
    scoped: bool = strawberry.field(description="True: only `scopes` may be touched.")
    scopes: list[Scope]


__all__ = ["Me", "Scope"]
