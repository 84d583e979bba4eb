"""JWT minting and verification with pyjwt: the one module that decides whether a token is good.

Verification is one verifier function per key source, chosen by the token's `alg`:
- `HS256`: the secrets of JWT_SECRET (several, for rotation), or the per-installation key on disk
  when no key at all is configured;
- `RS256`: the PEM public keys of JWT_PUBLIC_KEYS.
A source that is not configured has no verifier, so an HS256 token is refused outright when only
RS256 keys are configured (and the reverse): keys never mix unless both are set explicitly. A
further source (OIDC through a JWKS, issue 12) is one more verifier beside these.

Every verifier returns the token's claims; `_claims_to_principal` then applies what holds for all
sources: `exp`, `iat` and `sub` required, `exp - iat` at most JWT_MAX_LIFETIME_SECONDS, leeway on
every time check, a known role, and the token not revoked (src/auth/revocation.py).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from src.auth.roles import Principal, Role
from src.config import ConfigError, Settings
from src.errors import BadInput, Unauthenticated

Claims = dict[str, Any]
Verifier = Callable[[str], Claims]


class TokenService:
    def __init__(self, settings: Settings, *, revoked: Callable[[str], bool] | None = None) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self.max_lifetime = timedelta(seconds=settings.jwt_max_lifetime_seconds)
        self._hs_keys = settings.hs256_keys()
        self._rs_public = [_read_pem(p) for p in _split(settings.jwt_public_keys)]
        self._rs_private = _read_pem(settings.jwt_private_key) if settings.jwt_private_key else None
        self._revoked = revoked or (lambda _jti: False)
        self._verifiers: dict[str, Verifier] = {}
        if self._hs_keys:
            self._verifiers["HS256"] = self._key_verifier("HS256", list(self._hs_keys))
        if self._rs_public:
            self._verifiers["RS256"] = self._key_verifier("RS256", list(self._rs_public))

    @property
    def leeway(self) -> timedelta:
        return timedelta(seconds=self._leeway)

    def use_revocations(self, revoked: Callable[[str], bool]) -> None:
        """Consult `revoked(jti)` on every verification (the runtime's revocation list)."""
        self._revoked = revoked

    def mint(self, subject: str, role: Role, *, ttl: timedelta = timedelta(hours=12)) -> str:
        """A signed token with a fresh `jti`, with the RS256 private key when configured, else
        the first secret. A lifetime over the maximum is refused (BAD_INPUT)."""
        if ttl > self.max_lifetime:
            raise BadInput(
                f"a token lives at most {self.max_lifetime.total_seconds() / 3600:g} h "
                "(JWT_MAX_LIFETIME_SECONDS)",
                field="ttl",
            )
        now = datetime.now(UTC).replace(microsecond=0)
        claims: Claims = {
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
        if not self._hs_keys:
            raise ConfigError("no signing key: set JWT_PRIVATE_KEY (RS256) or JWT_SECRET (HS256)")
        return jwt.encode(claims, self._hs_keys[0], algorithm="HS256")

    def verify(self, token: str) -> Principal:
        """The caller the token names; Unauthenticated with the reason when it is not valid."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        algorithm = header.get("alg")
        verifier = self._verifiers.get(algorithm) if isinstance(algorithm, str) else None
        if verifier is None:
            raise Unauthenticated(f"token algorithm {algorithm!r} is not accepted")
        return self._claims_to_principal(verifier(token))

    def is_revoked(self, principal: Principal) -> bool:
        return principal.token_id is not None and self._revoked(principal.token_id)

    # -- what holds for every key source ---------------------------------------------------

    def _claims_to_principal(self, claims: Claims) -> Principal:
        exp, iat = _time_claim(claims.get("exp")), _time_claim(claims.get("iat"))
        if exp is None or iat is None:
            raise Unauthenticated("token has no valid exp and iat")
        if exp - iat > self.max_lifetime.total_seconds():
            raise Unauthenticated(
                f"token lifetime (exp - iat) is over the accepted "
                f"{self.max_lifetime.total_seconds():g} s"
            )
        try:
            role = Role.parse(str(claims.get("role", "")))
        except ValueError as exc:
            raise Unauthenticated(f"token has no valid role: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject")
        jti = claims.get("jti")
        token_id = jti if isinstance(jti, str) and jti else None
        if token_id is not None and self._revoked(token_id):
            raise Unauthenticated("token revoked")
        try:  # valid until exp plus the leeway, as pyjwt judged it
            expires_at = datetime.fromtimestamp(exp, UTC) + self.leeway
        except (OverflowError, ValueError, OSError):
            raise Unauthenticated("token expiry out of range") from None
        return Principal(subject=subject, role=role, expires_at=expires_at, token_id=token_id)

    def _key_verifier(self, algorithm: str, keys: list[Any]) -> Verifier:
        """A verifier trying each of `keys` (rotation) for tokens signed with `algorithm`."""

        def verify(token: str) -> Claims:
            return self._decode_with_any(token, keys, algorithm)

        return verify

    def _decode_with_any(self, token: str, keys: list[Any], algorithm: str) -> Claims:
        options = {"require": ["exp", "iat", "sub"], "verify_aud": bool(self._audience)}
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
                raise Unauthenticated("token expired", details={"reason": "expired"}) from None
            except jwt.ImmatureSignatureError:
                raise Unauthenticated("token not yet valid") from None
            except jwt.InvalidAudienceError:
                raise Unauthenticated("token audience not accepted") from None
            except jwt.InvalidIssuerError:
                raise Unauthenticated("token issuer not accepted") from None
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"invalid token: {exc}") from None
            except (OverflowError, ValueError, TypeError):  # e.g. exp=1e20 in pyjwt's arithmetic
                raise Unauthenticated("invalid token: a time claim is out of range") from None
        raise Unauthenticated("token signature not valid" if last else "no key to verify token")


def _time_claim(value: Any) -> float | None:
    """A time claim as an epoch; None when absent, not a number, or beyond year 5000."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or abs(value) >= 1e11:
        return None
    return float(value)


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


__all__ = ["Claims", "TokenService", "Verifier", "bearer_token"]
