"""Every root field carries the one guard, or is knowingly public.

The served schema is read by introspection over HTTP; each of its root fields must be a field of
the built schema whose Guard states its requirement (and says so in its description), unless it
is on PUBLIC.
"""

from __future__ import annotations

import httpx
import pytest

from schema.core.context import Context
from schema.core.discovery import RootField
from schema.core.guard import Guard
from schema.root import schema
from src.errors import ErrorCode
from tests.schema.conftest import INDEX, ROOT_FIELDS, roles_below
from tests.support.documents import INTROSPECTION, SchemaIndex, minimal_document
from tests.support.graphql import gql
from tests.support.servers import ApiServer

PUBLIC = {("query", "systemInfo")}


async def test_every_served_root_field_is_guarded_or_public(
    api: ApiServer, http: httpx.AsyncClient
) -> None:
    served = SchemaIndex.from_introspection((await gql(http, api.graphql_url, INTROSPECTION)).ok())
    built = {(f.kind.value, f.name): f for f in ROOT_FIELDS}
    seen = set()
    for kind in served.roots:
        for name, field in served.root_fields(kind).items():
            key = (kind, name)
            seen.add(key)
            assert key in built, f"{kind} {name} is served but not declared with a decorator"
            guard = built[key].guard
            if key in PUBLIC:
                assert guard is None, f"{name} is on PUBLIC but has a guard"
                continue
            assert guard is not None, f"{kind} {name} has no guard and is not on PUBLIC"
            assert guard.describe() in (field["description"] or ""), name
            assert guard.audited == (kind == "mutation"), f"{name}: mutations, and only they, audit"
    assert seen == set(built)
    assert len(seen) > 30  # the walk saw the real schema


@pytest.mark.parametrize(
    "field",
    [f for f in ROOT_FIELDS if f.kind.value == "subscription"],
    ids=lambda f: f.name,
)
async def test_a_subscription_without_a_caller_is_refused_by_its_guard(
    api: ApiServer, field: RootField
) -> None:
    """The WebSocket router already refuses a connection without a token; this proves the
    field's own guard too, by subscribing in-process with the server's runtime and no caller."""
    name = field.name
    assert roles_below(field) == [None]  # every subscription is open to viewers
    document = minimal_document(INDEX, "subscription", name)
    stream = await schema.subscribe(document, context_value=Context(api.runtime))
    first = await anext(stream) if hasattr(stream, "__anext__") else stream
    errors = first.errors or []
    codes = [(e.extensions or {}).get("code") for e in errors]
    assert codes == [ErrorCode.UNAUTHENTICATED.value], (name, errors)


def _guard(name: str) -> Guard:
    found = next(f.guard for f in ROOT_FIELDS if f.kind.value == "mutation" and f.name == name)
    assert found is not None
    return found


def test_the_audit_target_and_resource_come_from_the_declared_arguments() -> None:
    rate = _guard("setRateLimit")
    assert rate.audit_target({"task_name": "demo.add", "rate": "1/s", "workers": None}) == (
        "demo.add@*"
    )
    assert rate.audit_target({"task_name": "t", "workers": ["a@h", "b@h"]}) == "t@a@h,b@h"
    resource = rate.resource({"task_name": "t", "workers": None})
    assert (resource.task_names, resource.workers) == (("t",), None)
    assert _guard("purgeQueue").audit_target({"name": "q", "confirm": True}) == "q"
    assert _guard("shutdownSystem").audit_target({"drain": True}) == "*"
    assert _guard("startMonitoring").audit_target({}) == "monitoring.enabled"
    assert _guard("revokeTasks").audit_target({"filter": None}) is None
