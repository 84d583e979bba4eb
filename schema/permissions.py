"""Role guards declared on fields: `permission_classes=[IsAdmin]`.

No or a bad token raises UNAUTHENTICATED; a role too low raises FORBIDDEN. `has_permission` returns a
real bool, as Strawberry requires.
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from schema.context import Info
from src.auth.roles import Principal, Role
from src.errors import Forbidden, Unauthenticated


def require_role(info: Info, role: Role) -> Principal:
    """The caller, if they hold at least `role`; raises otherwise."""
    principal = info.context.principal()
    if principal is None:
        raise Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
    if not principal.has(role):
        raise Forbidden(f"requires role {role.claim}; you have {principal.role.claim}")
    return principal


class _RolePermission(BasePermission):
    role: ClassVar[Role]
    message = "Forbidden"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        require_role(info, self.role)
        return True


class IsViewer(_RolePermission):
    role = Role.VIEWER


class IsAdmin(_RolePermission):
    role = Role.ADMIN


class IsSuperAdmin(_RolePermission):
    role = Role.SUPER_ADMIN


__all__ = ["IsAdmin", "IsSuperAdmin", "IsViewer", "require_role"]
