"""Single sign-on against a local OpenID Connect issuer (discovery + JWKS over HTTP on
127.0.0.1), through the real API over HTTP and WebSocket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest

from src.auth.oidc import as_strings, claim_at
from src.auth.roles import Role
from src.config import Settings
from src.embedded_redis import EmbeddedRedis
from tests.support.graphql import gql, mint
from tests.support.oidc import LocalIssuer, local_issuer
from tests.support.servers import ApiServer, make_settings, running_api
from tests.support.ws import graphql_ws

ME = "{ me { subject role issuer groups scoped scopes { binding } } }"
SET_CONFIG = """mutation($v: JSON!) { updateSystemConfig(key: "monitoring.enabled", value: $v) {
  ok errors { code message } } }"""


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with local_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def oidc_settings(redis_server: EmbeddedRedis, database_url: str, issuer: LocalIssuer) -> Settings:
    return make_settings(
        redis_server,
        database_url,
        oidc_issuer=issuer.url,
        oidc_client_id="celery-admin-dashboard",
        oidc_scopes="openid profile email",
        oidc_audience="celery-admin",
        celery_admin_role_map="ops-admins=admin,platform=super_admin,readers=viewer",
        oidc_jwks_cooldown_seconds=0,
        oidc_super_admin_amr="mfa",
    )


@pytest.fixture(scope="module")
def sso_api(oidc_settings: Settings) -> Iterator[ApiServer]:
    with running_api(oidc_settings) as server:
        yield server


async def test_a_token_of_the_issuer_is_accepted(
    sso_api: ApiServer, http: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    token = issuer.token("alice", roles=["ops-admins", "unrelated"])
    me = (await gql(http, sso_api.graphql_url, ME, token=token)).ok()["me"]
    header, claims = (
        jwt.get_unverified_header(token),
        jwt.decode(token, options={"verify_signature": False}),
    )
    print("local issuer token accepted:", header, claims, "->", me)
    assert me == {
        "subject": "alice",
        "role": "admin",
        "issuer": issuer.url,
        "groups": ["ops-admins", "unrelated"],
        "scoped": False,
        "scopes": [],
    }


async def test_the_highest_mapped_role_wins_and_unmapped_groups_are_denied(
    sso_api: ApiServer, http: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    both = issuer.token("bob", roles=["readers", "platform"])
    assert (await gql(http, sso_api.graphql_url, ME, token=both)).ok()["me"]["role"] == (
        "super_admin"
    )
    nobody = await gql(http, sso_api.graphql_url, ME, token=issuer.token(roles=["guests"]))
    assert nobody.codes == ["UNAUTHENTICATED"]
    assert "CELERY_ADMIN_ROLE_MAP" in nobody.errors[0]["message"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"audience": "someone-else", "roles": ["ops-admins"]}, "audience"),
        ({"ttl": -120, "roles": ["ops-admins"]}, "expired"),
        ({}, "no 'roles' claim"),
        ({"kid": "made-up-kid", "roles": ["ops-admins"]}, "unknown key"),
        ({"iss": "https://elsewhere.example.com", "roles": ["ops-admins"]}, "issuer"),
    ],
)
async def test_bad_tokens_of_the_issuer_are_refused(
    sso_api: ApiServer,
    http: httpx.AsyncClient,
    issuer: LocalIssuer,
    claims: dict[str, object],
    reason: str,
) -> None:
    response = await gql(http, sso_api.graphql_url, ME, token=issuer.token(**claims))  # type: ignore[arg-type]
    assert response.codes == ["UNAUTHENTICATED"]
    assert reason in response.errors[0]["message"]


async def test_a_rotated_key_is_fetched_when_first_seen(
    sso_api: ApiServer, http: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    old = issuer.token("carol", roles=["ops-admins"])
    assert (await gql(http, sso_api.graphql_url, ME, token=old)).ok()
    fetched = issuer.jwks_requests
    for _ in range(3):  # known kid: no fetch per request
        assert (await gql(http, sso_api.graphql_url, ME, token=old)).ok()
    assert issuer.jwks_requests == fetched

    issuer.rotate()
    new = issuer.token("carol", roles=["ops-admins"])
    assert (await gql(http, sso_api.graphql_url, ME, token=new)).ok()["me"]["subject"] == "carol"
    assert issuer.jwks_requests == fetched + 1
    assert (await gql(http, sso_api.graphql_url, ME, token=old)).ok()  # the old key still valid


async def test_super_admin_actions_require_mfa_when_configured(
    sso_api: ApiServer, http: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    password_only = issuer.token("dave", roles=["platform"], amr=["pwd"])
    denied = await gql(http, sso_api.graphql_url, SET_CONFIG, {"v": True}, token=password_only)
    assert denied.codes == ["FORBIDDEN"]
    assert "amr mfa" in denied.errors[0]["message"]
    with_mfa = issuer.token("dave", roles=["platform"], amr=["pwd", "mfa"])
    done = await gql(http, sso_api.graphql_url, SET_CONFIG, {"v": True}, token=with_mfa)
    assert done.ok()["updateSystemConfig"]["ok"] is True


async def test_celery_admin_tokens_are_not_held_to_the_providers_sign_in_requirement(
    sso_api: ApiServer, http: httpx.AsyncClient, issuer: LocalIssuer, oidc_settings: Settings
) -> None:
    """OIDC_SUPER_ADMIN_AMR is about how one signed in at the provider: a super_admin token that
    celery-admin minted itself (as `celery-admin token` does) still works, while the provider's
    token without `mfa` stays refused."""
    own = mint(oidc_settings, Role.SUPER_ADMIN, subject="ops-cli")
    done = await gql(http, sso_api.graphql_url, SET_CONFIG, {"v": True}, token=own)
    assert done.ok()["updateSystemConfig"]["ok"] is True
    me = (await gql(http, sso_api.graphql_url, ME, token=own)).ok()["me"]
    assert (me["subject"], me["role"], me["issuer"]) == ("ops-cli", "super_admin", None)
    provider = issuer.token("ops-cli", roles=["platform"], amr=["pwd"])
    denied = await gql(http, sso_api.graphql_url, SET_CONFIG, {"v": True}, token=provider)
    assert denied.codes == ["FORBIDDEN"]


async def test_websocket_authenticates_with_the_issuer_token(
    sso_api: ApiServer, issuer: LocalIssuer
) -> None:
    issuer.rotate()  # a key the API has not fetched yet: fetched at connection_init
    async with graphql_ws(sso_api.url + "/celery-admin/graphql") as client:
        token = issuer.token("erin", roles=["readers"])
        ack = await client.init({"Authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack"
        await client.subscribe(ME)
        me = (await client.next())["me"]
        assert (me["subject"], me["role"]) == ("erin", "viewer")

    async with graphql_ws(sso_api.url + "/celery-admin/graphql") as client:
        expired = issuer.token("erin", roles=["readers"], ttl=-120)
        refused = await client.init({"Authorization": f"Bearer {expired}"})
        assert refused == {"type": "closed", "code": 4403}  # the protocol's "Forbidden"


async def test_failures_are_counted_on_metrics(
    sso_api: ApiServer, http: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    await gql(http, sso_api.graphql_url, ME, token=issuer.token(ttl=-120, roles=["readers"]))
    body = (await http.get(f"{sso_api.url}/metrics")).text
    lines = [ln for ln in body.splitlines() if ln.startswith("celery_admin_auth_failures_total")]
    counts = {ln.split('"')[1]: float(ln.split()[-1]) for ln in lines}
    assert counts.get("expired", 0) >= 1


SIGN_IN = "{ systemInfo { oidc { issuer clientId scopes audience } } }"


async def test_system_info_tells_anyone_how_to_sign_in_at_the_provider(
    sso_api: ApiServer, http: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    """Public (no token): the dashboard offers "Sign in with" the provider from this answer, and
    its page may fetch from the provider's origin (discovery, token exchange)."""
    answer = (await gql(http, sso_api.graphql_url, SIGN_IN)).ok()["systemInfo"]["oidc"]
    assert answer == {
        "issuer": issuer.url,
        "clientId": "celery-admin-dashboard",
        "scopes": ["openid", "profile", "email"],
        "audience": "celery-admin",
    }
    page = await http.get(f"{sso_api.url}/celery-admin/dashboard/")
    origin = issuer.url.removesuffix("/realms/test")
    assert f"connect-src 'self' {origin};" in page.headers["content-security-policy"]


async def test_system_info_names_no_provider_when_sso_is_off(
    api: ApiServer, http: httpx.AsyncClient
) -> None:
    assert (await gql(http, api.graphql_url, SIGN_IN)).ok() == {"systemInfo": {"oidc": None}}
    page = await http.get(f"{api.url}/celery-admin/dashboard/")
    assert "connect-src 'self';" in page.headers["content-security-policy"]


def test_a_client_id_without_an_issuer_offers_no_sign_in() -> None:
    """JWKS alone verifies tokens but names no endpoints: nothing to offer a browser."""
    settings = Settings(
        jwt_secret="x" * 32, oidc_jwks_url="https://sso.example.com/jwks", oidc_client_id="c"
    )
    assert settings.public_client() is None


def test_claim_paths() -> None:
    claims = {
        "realm_access": {"roles": ["ops-admins"]},
        "https://example.com/roles": ["platform"],
        "groups": "a b",
    }
    assert claim_at(claims, "realm_access.roles") == ["ops-admins"]
    assert claim_at(claims, "https://example.com/roles") == ["platform"]
    assert claim_at(claims, "realm_access.missing") is None
    assert as_strings(claim_at(claims, "groups")) == ("a", "b")
