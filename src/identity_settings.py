"""Settings of sign-on, scoped permissions, sign-in monitoring and secrets at rest (issue 12).

A mixin of `Settings` (src/config.py), kept in its own module so the token policy's settings and
these evolve apart. Field names are the environment variable names, lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr


@dataclass(frozen=True, slots=True)
class PublicClient:
    """What a browser needs to sign in at the identity provider (authorization code with PKCE,
    no client secret): public by nature, so `systemInfo` tells anyone."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...]
    audience: str | None

    def origin(self) -> str:
        """The issuer's origin: the dashboard's CSP lets the page fetch discovery and tokens
        there."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"


class IdentitySettings(BaseModel):
    # Single sign-on (src/auth/oidc.py): tokens of an OpenID Connect identity provider.
    oidc_issuer: str | None = Field(
        None, description="issuer URL; its /.well-known/openid-configuration names the JWKS"
    )
    oidc_jwks_url: str | None = Field(None, description="JWKS URL, when there is no discovery")
    oidc_audience: str | None = Field(None, description="the audience tokens must carry")
    oidc_role_claim: str = Field(
        "roles", description="claim holding the groups/roles; dotted paths: realm_access.roles"
    )
    oidc_subject_claim: str = Field("sub", description="claim naming the caller")
    oidc_algorithms: str = Field("RS256,ES256", description="accepted algorithms, comma-separated")
    oidc_jwks_lifespan_seconds: float = Field(
        300.0, gt=0, le=86400, description="how long a fetched key set is used without refresh"
    )
    oidc_jwks_cooldown_seconds: float = Field(
        30.0, ge=0, le=3600, description="least time between refreshes forced by an unknown kid"
    )
    oidc_fetch_timeout_seconds: float = Field(5.0, gt=0, le=60)
    oidc_client_id: str | None = Field(
        None,
        description="the dashboard's public client at the provider (authorization code with "
        "PKCE, no secret); with OIDC_ISSUER it offers 'Sign in with' the provider",
    )
    oidc_scopes: str = Field(
        "openid profile", description="scopes the dashboard asks for, space-separated"
    )
    celery_admin_role_map: str = Field(
        "", description="IdP group=role pairs, e.g. 'ops-admins=admin,platform=super_admin'"
    )
    oidc_super_admin_amr: str = Field(
        "",
        description="amr values (any of, e.g. 'mfa') a super_admin action by an identity "
        "provider's token requires",
    )
    oidc_super_admin_acr: str = Field(
        "",
        description="acr values a super_admin action by an identity provider's token accepts (any of)",
    )

    # Sign-in monitoring (src/auth/failures.py).
    auth_new_source_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="a super_admin action from a subject/IP unseen this long "
        "is flagged in its audit row",
    )

    # Secrets at rest (src/system/encryption.py).
    config_encryption_keys: SecretStr | None = Field(
        None, description="Fernet keys, comma-separated; the first encrypts, all decrypt"
    )

    def role_map(self) -> dict[str, str]:
        pairs = [p.strip() for p in self.celery_admin_role_map.split(",") if p.strip()]
        mapping: dict[str, str] = {}
        for pair in pairs:
            group, sep, role = pair.rpartition("=")
            if not sep or not group.strip() or not role.strip():
                raise ValueError(f"CELERY_ADMIN_ROLE_MAP: {pair!r} is not group=role")
            mapping[group.strip()] = role.strip()
        return mapping

    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer or self.oidc_jwks_url)

    def public_client(self) -> PublicClient | None:
        """The provider's sign-in for browsers; None unless both issuer and client id are set
        (the page needs the issuer's discovery document to find the endpoints)."""
        if not (self.oidc_issuer and self.oidc_client_id):
            return None
        scopes = tuple(s for s in self.oidc_scopes.replace(",", " ").split() if s)
        return PublicClient(
            issuer=self.oidc_issuer.rstrip("/"),
            client_id=self.oidc_client_id,
            scopes=scopes or ("openid",),
            audience=self.oidc_audience,
        )


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


__all__ = ["IdentitySettings", "PublicClient", "split_list"]
