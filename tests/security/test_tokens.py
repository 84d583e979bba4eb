"""Findings on tokens: HS256 tokens accepted with RS256 configured, 100-year tokens, exp in year
9999 or 1e20, no revocation, leeway not applied; weak or blank JWT_SECRET accepted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import SecretStr, ValidationError

from src.auth.roles import Role
from src.auth.tokens import TokenService
from src.config import ConfigError, Settings, load_settings
from src.errors import Unauthenticated
from tests.support.graphql import gql, mint
from tests.support.keys import rsa_pem_pair
from tests.support.servers import TEST_JWT_SECRET, ApiServer, running_api
from tests.support.ws import graphql_ws

STATUS = "{ systemStatus { health } }"
REVOKE = """mutation($jti: String!) {
  revokeToken(jti: $jti) { ok auditId jti revokedUntil errors { code message } }
}"""
KEY = "k" * 40


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(state_dir=tmp_path, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["short-secret", "   ", f"{KEY}, ", f"{KEY},tiny", " " + KEY])
def test_weak_or_blank_jwt_secret_is_refused_at_startup(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError):
        Settings(jwt_secret=SecretStr(secret))
    monkeypatch.setenv("JWT_SECRET", secret)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "JWT_SECRET" in str(refused.value)
    assert "short-secret" not in str(refused.value)  # the value itself is not printed


def test_rs256_alone_refuses_hs256_and_creates_no_secret_file(tmp_path: Path) -> None:
    private, public = rsa_pem_pair(tmp_path, "rs")
    state = tmp_path / "state"
    # Before RS256 was configured, the installation had its own HS256 key on disk.
    state.mkdir()
    local = "l" * 48
    (state / "jwt-secret").write_text(local)
    rs_only = TokenService(
        Settings(state_dir=state, jwt_public_keys=str(public), jwt_private_key=str(private))
    )
    forged = jwt.encode(
        {"sub": "x", "role": "super_admin", "iat": int(time.time()), "exp": int(time.time()) + 60},
        local,
        algorithm="HS256",
    )
    with pytest.raises(Unauthenticated, match="not accepted"):
        rs_only.verify(forged)
    assert rs_only.verify(rs_only.mint("svc", Role.VIEWER)).subject == "svc"

    fresh = tmp_path / "fresh"
    TokenService(Settings(state_dir=fresh, jwt_public_keys=str(public)))
    assert not (fresh / "jwt-secret").exists()


def test_hs_and_rs_together_only_when_both_configured(tmp_path: Path) -> None:
    private, public = rsa_pem_pair(tmp_path, "rs")
    both = TokenService(
        _settings(
            tmp_path,
            jwt_secret=SecretStr(KEY),
            jwt_public_keys=str(public),
            jwt_private_key=str(private),
        )
    )
    now = int(time.time())
    hs = jwt.encode({"sub": "h", "role": "viewer", "iat": now, "exp": now + 60}, KEY)
    assert both.verify(hs).subject == "h"
    assert both.verify(both.mint("r", Role.VIEWER)).subject == "r"


def test_lifetime_is_capped_and_out_of_range_times_are_refused(tmp_path: Path) -> None:
    service = TokenService(_settings(tmp_path, jwt_secret=SecretStr(KEY)))
    now = int(time.time())
    claims = {"sub": "a", "role": "super_admin", "iat": now}
    for exp, reason in [
        (now + 13 * 3600, "lifetime"),
        (253402300799, "exp"),  # 9999-12-31
        (1e20, "exp and iat"),
        (float("inf"), "exp"),
    ]:
        try:
            token = jwt.encode({**claims, "exp": exp}, KEY)
        except (OverflowError, ValueError):
            continue  # pyjwt will not even encode it
        with pytest.raises(Unauthenticated, match=reason):
            service.verify(token)
    no_iat = jwt.encode({"sub": "a", "role": "admin", "exp": now + 60}, KEY)
    with pytest.raises(Unauthenticated, match="iat"):
        service.verify(no_iat)
    with pytest.raises(Exception, match="at most 12 h"):
        service.mint("a", Role.ADMIN, ttl=timedelta(days=36500))
    minted = jwt.decode(service.mint("a", Role.ADMIN), KEY, algorithms=["HS256"])
    assert minted["exp"] - minted["iat"] == 12 * 3600
    assert len(minted["jti"]) >= 16


def test_token_command_refuses_a_lifetime_over_the_maximum(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    env["JWT_SECRET"] = KEY
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery_admin",
            "token",
            "--sub",
            "a",
            "--role",
            "super_admin",
            "--ttl-hours",
            "876000",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "ttl-hours" in done.stderr
    assert done.stdout == ""


async def test_exp_1e20_is_unauthenticated_over_http(
    api: ApiServer, http: httpx.AsyncClient
) -> None:
    body = '{"sub":"x","role":"admin","iat":1,"exp":1e20}'
    signing_input = (
        jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
        + b"."
        + jwt.utils.base64url_encode(body.encode())
    )
    import hashlib
    import hmac

    signature = hmac.new(TEST_JWT_SECRET.encode(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()
    response = await gql(http, api.graphql_url, STATUS, token=token)
    assert response.codes == ["UNAUTHENTICATED"], response.errors


async def test_leeway_is_applied(api: ApiServer, http: httpx.AsyncClient) -> None:
    """Expired 2 s ago, within the 10 s leeway: accepted by every check, not only pyjwt's."""
    token = mint(api.settings, Role.VIEWER, ttl=timedelta(seconds=-2))
    response = await gql(http, api.graphql_url, STATUS, token=token)
    assert not response.errors, response.errors


async def _refused(http: httpx.AsyncClient, url: str, token: str, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await gql(http, url, STATUS, token=token)
        if response.codes == ["UNAUTHENTICATED"]:
            return "revoked" in response.errors[0]["message"]
        await asyncio.sleep(0.1)
    return False


async def test_revoke_token_everywhere_and_close_its_websockets(
    api: ApiServer, http: httpx.AsyncClient, super_admin_token: str, admin_token: str
) -> None:
    victim = mint(api.settings, Role.VIEWER, subject="leaked")
    jti = jwt.decode(victim, options={"verify_signature": False})["jti"]
    # only a super_admin may revoke
    denied = await gql(http, api.graphql_url, REVOKE, {"jti": jti}, token=admin_token)
    assert denied.codes == ["FORBIDDEN"]
    with running_api(api.settings) as other:  # a second replica
        assert not (await gql(http, other.graphql_url, STATUS, token=victim)).errors
        async with graphql_ws(other.graphql_url) as client:
            ack = await client.init({"Authorization": f"Bearer {victim}"})
            assert ack["type"] == "connection_ack"
            answer = await gql(http, api.graphql_url, REVOKE, {"jti": jti}, token=super_admin_token)
            revoked = answer.ok()["revokeToken"]
            assert revoked["ok"] and revoked["jti"] == jti and revoked["auditId"]
            until = datetime.fromisoformat(revoked["revokedUntil"])
            assert until <= datetime.now(UTC) + timedelta(hours=12, seconds=30)
            assert await client.close_code(within=30) == 4403
        assert await _refused(http, api.graphql_url, victim, within=30)
        assert await _refused(http, other.graphql_url, victim)
    # another token of the same subject still works
    assert not (
        await gql(http, api.graphql_url, STATUS, token=mint(api.settings, Role.VIEWER))
    ).errors
