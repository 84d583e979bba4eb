"""Who is calling: JWT verification (with key rotation) and the role ladder."""

from src.auth.roles import Principal, Role
from src.auth.tokens import TokenService

__all__ = ["Principal", "Role", "TokenService"]
