"""Roles, each including the one before: viewer < admin < super_admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum


class Role(IntEnum):
    VIEWER = 1
    ADMIN = 2
    SUPER_ADMIN = 3

    @property
    def claim(self) -> str:
        """How the role is spelt in a token's `role` claim."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.strip().upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(r.claim for r in cls)
            raise ValueError(f"unknown role {value!r} (expected one of {names})") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    subject: str
    role: Role
    expires_at: datetime | None = None
    token_id: str | None = None

    def has(self, required: Role) -> bool:
        return self.role >= required


__all__ = ["Principal", "Role"]
