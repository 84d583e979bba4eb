"""JWT minting and verification with pyjwt.

Several keys verify at once so keys can rotate: every HS256 secret in JWT_SECRET, every RS256 public
key in JWT_PUBLIC_KEYS. exp and nbf are always checked; iss and aud when configured.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from src.auth.roles import Principal, Role
from src.config import ConfigError, Settings
from src.errors import Unauthenticated


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._hs_keys = settings.hs256_keys()
        self._rs_public = [_read_pem(p) for p in _split(settings.jwt_public_keys)]
        self._rs_private = _read_pem(settings.jwt_private_key) if settings.jwt_private_key else None

    def mint(self, subject: str, role: Role, *, ttl: timedelta = timedelta(hours=12)) -> str:
        """A signed token, with the RS256 private key when configured, else the first secret."""
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": subject,
            "role": role.claim,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if self._issuer:
            claims["iss"] = self._issuer
        if self._audience:
            claims["aud"] = self._audience
        if self._rs_private is not None:
            return jwt.encode(claims, self._rs_private, algorithm="RS256")
        return jwt.encode(claims, self._hs_keys[0], algorithm="HS256")

    def verify(self, token: str) -> Principal:
        """The caller the token names; Unauthenticated with the reason when it is not valid."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        algorithm = header.get("alg")
        keys: list[Any]
        if algorithm == "HS256":
            keys = list(self._hs_keys)
        elif algorithm == "RS256":
            keys = list(self._rs_public)
        else:
            raise Unauthenticated(f"token algorithm {algorithm!r} is not accepted")
        claims = self._decode_with_any(token, keys, algorithm)
        try:
            role = Role.parse(str(claims.get("role", "")))
        except ValueError as exc:
            raise Unauthenticated(f"token has no valid role: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject")
        exp = claims.get("exp")
        expires_at = datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
        return Principal(
            subject=subject, role=role, expires_at=expires_at, token_id=claims.get("jti")
        )

    def _decode_with_any(self, token: str, keys: list[Any], algorithm: str) -> dict[str, Any]:
        options = {"require": ["exp", "sub"], "verify_aud": bool(self._audience)}
        last: jwt.PyJWTError | None = None
        for key in keys:
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=self._leeway,
                    options=options,  # type: ignore[arg-type]
                )
            except jwt.InvalidSignatureError as exc:
                last = exc
                continue
            except jwt.ExpiredSignatureError:
                raise Unauthenticated("token expired") from None
            except jwt.ImmatureSignatureError:
                raise Unauthenticated("token not yet valid") from None
            except jwt.InvalidAudienceError:
                raise Unauthenticated("token audience not accepted") from None
            except jwt.InvalidIssuerError:
                raise Unauthenticated("token issuer not accepted") from None
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"invalid token: {exc}") from None
        raise Unauthenticated("token signature not valid" if last else "no key to verify token")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _read_pem(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read JWT key file {path!r}: {exc.strerror}") from None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return token.strip()


__all__ = ["TokenService", "bearer_token"]
