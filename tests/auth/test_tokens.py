"""Token verification: key rotation, RS256, issuer and audience."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from src.auth.roles import Role
from src.auth.tokens import TokenService
from src.config import Settings
from src.errors import Unauthenticated
from tests.support.keys import rsa_pem_pair

OLD = "old-key-still-listed-during-rotation-0123456789"
NEW = "new-key-that-signs-from-now-on-0123456789abcdef"


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(state_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_rotation_accepts_every_listed_key_and_signs_with_the_first(tmp_path: Path) -> None:
    service = TokenService(_settings(tmp_path, jwt_secret=SecretStr(f"{NEW},{OLD}")))
    now = int(time.time())
    old_token = jwt.encode({"sub": "ops", "role": "admin", "iat": now, "exp": now + 600}, OLD)
    assert service.verify(old_token).subject == "ops"
    new_token = service.mint("ops", Role.ADMIN)
    assert jwt.decode(new_token, NEW, algorithms=["HS256"])["role"] == "admin"
    retired = TokenService(_settings(tmp_path, jwt_secret=SecretStr(NEW)))
    with pytest.raises(Unauthenticated, match="signature"):
        retired.verify(old_token)


def test_rs256_with_two_public_keys(tmp_path: Path) -> None:
    private_a, public_a = rsa_pem_pair(tmp_path, "a")
    private_b, public_b = rsa_pem_pair(tmp_path, "b")
    verifier = TokenService(_settings(tmp_path, jwt_public_keys=f"{public_a},{public_b}"))
    for private in (private_a, private_b):
        signer = TokenService(_settings(tmp_path, jwt_private_key=str(private)))
        assert verifier.verify(signer.mint("svc", Role.VIEWER)).role is Role.VIEWER
    stranger, _ = rsa_pem_pair(tmp_path, "c")
    token = TokenService(_settings(tmp_path, jwt_private_key=str(stranger))).mint("x", Role.ADMIN)
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_issuer_and_audience_are_checked_when_configured(tmp_path: Path) -> None:
    strict = _settings(
        tmp_path, jwt_secret=SecretStr(NEW), jwt_issuer="ops-sso", jwt_audience="celery-admin"
    )
    service = TokenService(strict)
    assert service.verify(service.mint("a", Role.ADMIN)).subject == "a"
    wrong_aud = jwt.encode(
        {
            "sub": "a",
            "role": "admin",
            "iat": 1,
            "exp": 9999999999,
            "iss": "ops-sso",
            "aud": "other",
        },
        NEW,
    )
    with pytest.raises(Unauthenticated, match="audience"):
        service.verify(wrong_aud)
    wrong_iss = jwt.encode(
        {
            "sub": "a",
            "role": "admin",
            "iat": 1,
            "exp": 9999999999,
            "iss": "evil",
            "aud": "celery-admin",
        },
        NEW,
    )
    with pytest.raises(Unauthenticated, match="issuer"):
        service.verify(wrong_iss)


def test_not_yet_valid_and_unsigned_tokens_are_refused(tmp_path: Path) -> None:
    service = TokenService(_settings(tmp_path, jwt_secret=SecretStr(NEW)))
    future = jwt.encode(
        {"sub": "a", "role": "admin", "iat": 9999990000, "exp": 9999999999, "nbf": 9999999000}, NEW
    )
    with pytest.raises(Unauthenticated, match="not yet valid"):
        service.verify(future)
    unsigned = jwt.encode({"sub": "a", "role": "admin", "exp": 9999999999}, None, algorithm="none")
    with pytest.raises(Unauthenticated, match="not accepted"):
        service.verify(unsigned)
