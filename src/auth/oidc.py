"""Access tokens of an OpenID Connect identity provider (Keycloak, Auth0, Okta, Azure AD, Google).

The provider's signing keys come from its JWKS (`OIDC_JWKS_URL`, or the `jwks_uri` of
`OIDC_ISSUER`'s discovery document), fetched and parsed by pyjwt's `PyJWKClient`. Fetching is
blocking HTTP, so it never runs on the event loop: `prepare()` (awaited once per request or
WebSocket connection, by the guard and the WebSocket handshake) fetches in a thread, one fetch at a time,
only when the key set is older than its lifespan or the token names a `kid` not in it; and a
refresh forced by an unknown `kid` happens at most once per cooldown, so a flood of tokens with
made-up kids cannot turn into a flood of requests to the provider. `verify()` is then pure
computation over the keys already held.

The caller's role is not in the token: the provider's groups (`OIDC_ROLE_CLAIM`, a dotted path
such as `realm_access.roles`) go through `CELERY_ADMIN_ROLE_MAP`; a token none of whose groups is
mapped is refused (default deny). The highest mapped role wins.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from src.auth.roles import Principal, Role
from src.errors import Unauthenticated
from src.identity_settings import IdentitySettings, split_list

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
FAILED_FETCH_BACKOFF = 5.0  # seconds without fetching after a failed fetch
MAX_KEYS = 32  # a key set larger than this is cut (a provider publishes a handful)
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class AuthFailure(Unauthenticated):
    """An Unauthenticated with a stable reason, counted by src/auth/failures.py."""

    def __init__(self, reason: str, message: str, *, subject: str | None = None) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason
        self.subject = subject


@dataclass(frozen=True, slots=True)
class OidcPrincipal(Principal):
    """A caller signed in at the identity provider: what it authenticated with, and its groups."""

    issuer: str | None = None
    groups: tuple[str, ...] = ()
    amr: tuple[str, ...] = ()
    acr: str | None = None


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dotted path (`realm_access.roles`); a key holding the whole path (Auth0's
    namespaced claims are URLs with dots) is taken first."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def as_strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v for v in value.replace(",", " ").split() if v)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


@dataclass(frozen=True, slots=True)
class RoleMap:
    """Provider groups to roles; nothing unmapped gets in."""

    roles: dict[str, Role] = field(default_factory=dict)

    @classmethod
    def parse(cls, mapping: dict[str, str]) -> RoleMap:
        return cls({group: Role.parse(role) for group, role in mapping.items()})

    def role_for(self, groups: tuple[str, ...]) -> Role | None:
        mapped = [self.roles[g] for g in groups if g in self.roles]
        return max(mapped) if mapped else None


class OidcVerifier:
    def __init__(self, settings: IdentitySettings, *, leeway: int = 10) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/") if settings.oidc_issuer else None
        self._jwks_url = settings.oidc_jwks_url
        self._audience = settings.oidc_audience
        self._role_claim = settings.oidc_role_claim
        self._subject_claim = settings.oidc_subject_claim
        self._algorithms = [a for a in split_list(settings.oidc_algorithms) if a in ASYMMETRIC]
        if not self._algorithms:
            raise ValueError("OIDC_ALGORITHMS names no asymmetric algorithm")
        self._lifespan = settings.oidc_jwks_lifespan_seconds
        self._cooldown = settings.oidc_jwks_cooldown_seconds
        self._timeout = settings.oidc_fetch_timeout_seconds
        self._leeway = leeway
        self.role_map = RoleMap.parse(settings.role_map())
        self._client: PyJWKClient | None = None
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None  # monotonic time of the last successful fetch
        self._last_failed: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # key set fetches so far (tests and logs)

    # -- which tokens are ours -------------------------------------------------------------

    def handles(self, token: str) -> bool:
        """Is this a token of the identity provider (rather than one celery-admin minted)?
        With an issuer configured: its `iss` is the issuer; with only a JWKS URL: it names a
        `kid` and an asymmetric algorithm (celery-admin's own tokens name no kid)."""
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        if self.issuer is not None:
            return str(claims.get("iss", "")).rstrip("/") == self.issuer
        return bool(header.get("kid")) and header.get("alg") in ASYMMETRIC

    # -- keys -------------------------------------------------------------------------------

    async def prepare(self, token: str) -> None:
        """Make sure the keys `token` needs are held (fetching in a thread when they are not and
        the bounds allow). Never raises for fetch problems: `verify()` then says why."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return
        if not self._needs_fetch(kid):
            return
        async with self._lock:  # one fetch at a time; the others find its result
            if self._needs_fetch(kid):
                try:
                    await asyncio.to_thread(self._fetch)
                except Exception as exc:  # the provider away: keep the old keys
                    log.warning("fetching the identity provider's keys failed: %s", exc)
                    self._last_failed = time.monotonic()

    def _needs_fetch(self, kid: Any) -> bool:
        now = time.monotonic()
        if self._last_failed is not None and now - self._last_failed < FAILED_FETCH_BACKOFF:
            return False  # the provider just failed: do not hammer it
        if self._fetched_at is None or now - self._fetched_at >= self._lifespan:
            return True
        if isinstance(kid, str) and kid not in self._keys:
            return now - self._fetched_at >= self._cooldown
        return False

    def _jwks_client(self) -> PyJWKClient:
        """Blocking (discovery over HTTP): only called in a thread."""
        if self._client is None:
            url = self._jwks_url or self._discover()
            self._client = PyJWKClient(
                url, cache_jwk_set=True, lifespan=self._lifespan, timeout=self._timeout
            )
        return self._client

    def _discover(self) -> str:
        assert self.issuer is not None
        with urllib.request.urlopen(
            self.issuer + DISCOVERY_PATH, timeout=self._timeout
        ) as response:
            document = json.load(response)
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise ValueError("the discovery document names another issuer")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str) or not uri:
            raise ValueError("the discovery document has no jwks_uri")
        return uri

    def _fetch(self) -> None:
        keys = self._jwks_client().get_signing_keys(refresh=True)
        self._keys = {k.key_id: k for k in keys[:MAX_KEYS] if k.key_id}
        self._fetched_at = time.monotonic()
        self._last_failed = None
        self.fetches += 1

    # -- verifying --------------------------------------------------------------------------

    def verify(self, token: str) -> OidcPrincipal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthFailure("malformed", "malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise AuthFailure("bad_algorithm", f"token algorithm {algorithm!r} is not accepted")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            if self._fetched_at is None:
                raise AuthFailure("keys_unavailable", "identity provider keys not available")
            raise AuthFailure("unknown_key", f"token signed with unknown key {kid!r}")
        claims = self._decode(token, key, algorithm)
        subject = claims.get(self._subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthFailure("invalid", "token has no subject")
        groups = as_strings(claim_at(claims, self._role_claim))
        if not groups:
            raise AuthFailure(
                "no_role", f"token has no {self._role_claim!r} claim", subject=subject
            )
        role = self.role_map.role_for(groups)
        if role is None:
            raise AuthFailure(
                "no_role",
                f"none of the token's {self._role_claim!r} is mapped to a role "
                "(CELERY_ADMIN_ROLE_MAP)",
                subject=subject,
            )
        exp = claims.get("exp")
        acr = claims.get("acr")
        return OidcPrincipal(
            subject=subject,
            role=role,
            expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None,
            token_id=claims.get("jti") if isinstance(claims.get("jti"), str) else None,
            issuer=claims.get("iss"),
            groups=groups,
            amr=as_strings(claims.get("amr")),
            acr=str(acr) if acr is not None else None,
        )

    def _decode(self, token: str, key: PyJWK, algorithm: str) -> dict[str, Any]:
        subject = _unverified_subject(token)
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp"], "verify_aud": bool(self._audience)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthFailure("expired", "token expired", subject=subject) from None
        except jwt.ImmatureSignatureError:
            raise AuthFailure("invalid", "token not yet valid", subject=subject) from None
        except jwt.InvalidAudienceError:
            raise AuthFailure(
                "bad_audience", "token audience not accepted", subject=subject
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthFailure(
                "unknown_issuer", "token issuer not accepted", subject=subject
            ) from None
        except jwt.InvalidSignatureError:
            raise AuthFailure(
                "bad_signature", "token signature not valid", subject=subject
            ) from None
        except jwt.PyJWTError as exc:
            raise AuthFailure("invalid", f"invalid token: {exc}", subject=subject) from None


def _unverified_subject(token: str) -> str | None:
    """The `sub` a token claims, for counting failures per subject (never for granting)."""
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return sub[:200] if isinstance(sub, str) else None


def mfa_satisfied(principal: Principal, *, amr: list[str], acr: list[str]) -> bool:
    """Does the caller meet the super_admin sign-in requirement (any of `amr`, any of `acr`)?
    The requirement is about how someone signed in at the identity provider, so it applies to
    its tokens only: celery-admin's own tokens (minted with the signing key, e.g. by
    `celery-admin token`) carry no amr/acr and are not held to it."""
    if not amr and not acr:
        return True
    if not isinstance(principal, OidcPrincipal):
        return True
    if amr and not set(amr) & set(principal.amr):
        return False
    return not (acr and principal.acr not in acr)


__all__ = [
    "AuthFailure",
    "OidcPrincipal",
    "OidcVerifier",
    "RoleMap",
    "as_strings",
    "claim_at",
    "mfa_satisfied",
]
