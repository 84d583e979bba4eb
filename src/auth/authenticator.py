"""Which verifier a token goes to, and counting the ones that fail.

A token whose issuer is the identity provider's (`OIDC_ISSUER`; with only `OIDC_JWKS_URL`, one
naming a `kid`) is verified by src/auth/oidc.py, every other by the local token service
(src/auth/tokens.py). `authenticate()` is the async entry (keys fetched off the event loop first,
failures counted); `verify()` the sync one over keys already held.
"""

from __future__ import annotations

import jwt

from src.auth.failures import SignInActivity
from src.auth.oidc import AuthFailure, OidcVerifier, _unverified_subject
from src.auth.roles import Principal
from src.auth.tokens import TokenService
from src.errors import Unauthenticated


class Authenticator:
    def __init__(
        self,
        tokens: TokenService,
        oidc: OidcVerifier | None,
        activity: SignInActivity,
        *,
        local_issuer: str | None = None,
    ) -> None:
        self.tokens = tokens
        self.oidc = oidc
        self.activity = activity
        self._local_issuer = local_issuer

    def _is_oidc(self, token: str) -> bool:
        return self.oidc is not None and self.oidc.handles(token)

    def verify(self, token: str) -> Principal:
        if self.oidc is not None and self._is_oidc(token):
            return self.oidc.verify(token)
        self._refuse_foreign_issuer(token)
        return self.tokens.verify(token)

    def _refuse_foreign_issuer(self, token: str) -> None:
        """With single sign-on on, a token naming an issuer that is neither the provider nor
        celery-admin's own (JWT_ISSUER) is refused as such, not as a bad signature."""
        if self.oidc is None or self.oidc.issuer is None:
            return
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return
        if isinstance(issuer, str) and issuer and issuer != self._local_issuer:
            raise AuthFailure("unknown_issuer", f"token issuer {issuer[:200]!r} not accepted")

    async def authenticate(self, token: str, *, ip: str | None) -> Principal:
        """The caller the token names; a failure is counted (per IP and claimed subject) and
        raised."""
        try:
            if self.oidc is not None and self._is_oidc(token):
                await self.oidc.prepare(token)
            return self.verify(token)
        except Unauthenticated as exc:
            await self.activity.failed(exc, ip=ip, subject=_unverified_subject(token))
            raise


__all__ = ["Authenticator"]
