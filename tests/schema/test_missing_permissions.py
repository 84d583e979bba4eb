"""Generated from the schema: every guarded root field refuses every caller below its minimum.

For each root field with a guard, and for an anonymous caller and each role under the field's
minimum, a minimal document (required arguments filled from their types) goes over real HTTP (or
WebSocket, for subscriptions) and must be answered UNAUTHENTICATED or FORBIDDEN; an audited field
must also leave a DENIED audit record naming the caller. A new field is covered the moment it is
declared: there is no list here to extend.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from schema.core.discovery import RootField
from src.auth.roles import Role
from src.config import Settings
from tests.schema.conftest import INDEX, ROOT_FIELDS, roles_below
from tests.support.audit import audit_rows
from tests.support.documents import minimal_document
from tests.support.graphql import gql, mint
from tests.support.servers import ApiServer
from tests.support.ws import LEGACY_WS, SubscriptionError, graphql_ws

CASES = [
    (field, role) for field in ROOT_FIELDS if field.guard is not None for role in roles_below(field)
]


def _id(case: tuple[RootField, Role | None]) -> str:
    field, role = case
    return f"{field.kind.value}-{field.name}-{role.claim if role else 'anonymous'}"


def _expected(role: Role | None) -> str:
    return "FORBIDDEN" if role else "UNAUTHENTICATED"


async def _over_http(
    api: ApiServer,
    http: httpx.AsyncClient,
    settings: Settings,
    admin_token: str,
    field: RootField,
    role: Role | None,
) -> None:
    subject = f"denied-{uuid.uuid4().hex[:8]}"
    agent = f"missing-permission-test/{uuid.uuid4().hex}"
    token = mint(settings, role, subject=subject) if role else None
    document = minimal_document(INDEX, field.kind.value, field.name)
    response = await gql(
        http, api.graphql_url, document, token=token, headers={"User-Agent": agent}
    )
    assert response.codes == [_expected(role)], (document, response.errors)
    assert response.data is None or response.data.get(field.name) is None

    assert field.guard is not None
    if not field.guard.audited:
        return
    rows = await audit_rows(
        http, api.graphql_url, admin_token, first=100, actions=[field.name], outcomes=["DENIED"]
    )
    mine = [r for r in rows if r["userAgent"] == agent]
    assert len(mine) == 1, f"no DENIED audit record of {field.name} for this attempt"
    row = mine[0]
    assert row["subject"] == (subject if role else None)
    assert row["role"] == (role.claim if role else None)
    assert row["errorCode"] == _expected(role)
    assert row["finishedAt"] is not None and row["response"] is None


async def _over_websocket(
    api: ApiServer, settings: Settings, field: RootField, role: Role | None
) -> None:
    document = minimal_document(INDEX, "subscription", field.name)
    if role is None:  # refused at connection_init, before any subscription: say how
        async with graphql_ws(api.graphql_url) as client:
            assert await client.init({}) == {"type": "closed", "code": 4403}
        async with graphql_ws(api.graphql_url, protocol=LEGACY_WS) as client:
            answer = await client.init({})
        assert answer["type"] == "connection_error"
        assert answer["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
        return
    async with graphql_ws(api.graphql_url) as client:
        ack = await client.init({"Authorization": f"Bearer {mint(settings, role)}"})
        assert ack["type"] == "connection_ack"
        await client.subscribe(document)
        with pytest.raises(SubscriptionError) as refused:
            await client.next()
    assert refused.value.codes == [_expected(role)]


@pytest.mark.parametrize(("field", "role"), CASES, ids=[_id(c) for c in CASES])
async def test_a_caller_below_the_guard_is_refused(
    api: ApiServer,
    http: httpx.AsyncClient,
    settings: Settings,
    admin_token: str,
    field: RootField,
    role: Role | None,
) -> None:
    if field.kind.value == "subscription":
        await _over_websocket(api, settings, field, role)
    else:
        await _over_http(api, http, settings, admin_token, field, role)


def test_the_cases_cover_every_guarded_field_and_role() -> None:
    covered = {(f.kind, f.name) for f, _ in CASES}
    assert covered == {(f.kind, f.name) for f in ROOT_FIELDS if f.guard is not None}
    assert any(f.guard and f.guard.audited for f, _ in CASES)
    assert Role.ADMIN in [r for f, r in CASES if f.name == "shutdownSystem"]  # super_admin only
