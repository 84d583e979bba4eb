"""`revokeToken(jti, expiresAt)`: no replica accepts the token any more; its WebSockets close."""

from __future__ import annotations

from datetime import UTC, datetime

from schema.auth.types import RevokeTokenPayload
from schema.core.context import Info
from schema.core.fields import mutation
from src.auth.roles import Role
from src.control.result import CommandResult
from src.errors import BadInput


@mutation(Role.SUPER_ADMIN)
async def revoke_token(
    info: Info, jti: str, expires_at: datetime | None = None
) -> RevokeTokenPayload:
    """Revoke the token whose `jti` claim is given, on every replica within a second, and close
    the WebSocket connections opened with it. `expiresAt` (the token's exp) bounds how long the
    revocation is kept; without it, the longest lifetime a token may have."""
    jti = jti.strip()
    if not jti or len(jti) > 255:
        raise BadInput("jti: 1 to 255 characters", field="jti")
    tokens = info.context.tokens
    now = datetime.now(UTC)
    latest = now + tokens.max_lifetime + tokens.leeway
    if expires_at is not None and expires_at.tzinfo is None:
        raise BadInput("expiresAt: give a time zone (e.g. ...Z)", field="expiresAt")
    until = min(expires_at + tokens.leeway, latest) if expires_at is not None else latest
    if until <= now:
        raise BadInput("expiresAt: that token has already expired", field="expiresAt")
    await info.context.revocations.revoke(jti, until.timestamp())
    return RevokeTokenPayload.of(
        CommandResult(state_after={"revoked_until": until}, data={"jti": jti, "until": until})
    )


__all__ = ["revoke_token"]
