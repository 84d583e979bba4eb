"""`me`: the caller's effective permissions."""

from __future__ import annotations

from schema.core.context import Info
from schema.core.fields import query
from schema.identity.types import Me, Scope
from src.auth.oidc import OidcPrincipal
from src.auth.roles import Role


@query(Role.VIEWER)
async def me(info: Info) -> Me:
    """Who you are to celery-admin: subject, role, and (when role bindings limit you) the parts
    of the cluster you may touch."""
    principal = info.context.caller()
    scope = await info.context.access.scope_for(principal)
    sso = principal if isinstance(principal, OidcPrincipal) else None
    return Me(
        subject=principal.subject,
        role=principal.role.claim,
        issuer=sso.issuer if sso else None,
        groups=list(sso.groups) if sso else [],
        scoped=scope is not None,
        scopes=[
            Scope(
                binding=r.binding,
                queues=list(r.queues),
                task_names=list(r.task_names),
                workers=list(r.workers),
            )
            for r in (scope.rules if scope else ())
        ],
    )


__all__ = ["me"]
