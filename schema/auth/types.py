"""What `revokeToken` answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

import strawberry

from schema.core.payloads import MutationPayload
from src.control.result import CommandResult


@strawberry.type(description="A token revoked by its jti, on every replica.")
class RevokeTokenPayload(MutationPayload):
    jti: str | None = None
    revoked_until: datetime | None = strawberry.field(
        default=None, description="When the revocation lapses (the token is expired by then)."
    )

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        return super().of(
            result, jti=result.data["jti"], revoked_until=result.data["until"], **produced
        )


__all__ = ["RevokeTokenPayload"]
