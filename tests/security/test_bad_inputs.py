"""Issue 10: every class of bad input answers a clear error with a stable code (each of these
answered INTERNAL, DATABASE_UNAVAILABLE or an error without a code)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from src.config import Settings
from tests.support.servers import ApiServer

TASKS = "query($f: TaskFilterInput) { tasks(filter: $f, first: 1) { edges { node { id } } } }"
AUDIT = (
    "query($f: AuditLogFilter, $after: String) "
    "{ auditLogs(filter: $f, after: $after) { edges { node { id } } } }"
)
HISTORY = "query($a: DateTime!, $b: DateTime!) { metricsHistory(from: $a, to: $b) { samples } }"


@dataclass(frozen=True)
class Case:
    name: str
    body: str  # the raw request body
    code: str
    token: str = "admin"  # admin, none, or a literal Authorization header value
    status: int | None = None


def _body(query: str, variables: dict[str, Any] | None = None) -> str:
    return json.dumps({"query": query, "variables": variables or {}})


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _huge_exp_token(settings: Settings) -> str:
    return "Bearer " + jwt.encode(
        {"sub": "x", "role": "admin", "exp": 1e20}, settings.hs256_keys()[0]
    )


CASES = [
    Case(
        "lone surrogate in filter.text (variables)",
        '{"query": "' + TASKS + '", "variables": {"f": {"text": "\\ud800"}}}',
        "BAD_INPUT",
    ),
    Case(
        "lone surrogate in filter.text (literal)",
        _body('{ tasks(filter: {text: "\\ud800"}, first: 1) { edges { node { id } } } }'),
        "BAD_INPUT",
    ),
    Case("audit cursor too big", _body(AUDIT, {"after": _cursor(str(10**30))}), "BAD_INPUT"),
    Case("audit cursor negative", _body(AUDIT, {"after": _cursor("-5")}), "BAD_INPUT"),
    Case(
        "naive and aware datetimes in one range",
        _body(
            TASKS,
            {
                "f": {
                    "received": {
                        "after": "2026-01-01T00:00:00",
                        "before": "2026-01-02T00:00:00+00:00",
                    }
                }
            },
        ),
        "OK",
    ),
    Case(
        "naive datetime in the audit filter",
        _body(AUDIT, {"f": {"after": "2026-01-01T00:00:00"}}),
        "OK",
    ),
    Case(
        "naive and aware metrics range",
        _body(HISTORY, {"a": "2026-01-01T00:00:00", "b": "2026-01-01T01:00:00+00:00"}),
        "BAD_INPUT",
    ),
    Case(
        "year 1 date",
        _body(TASKS, {"f": {"received": {"after": "0001-01-01T00:00:00+00:00"}}}),
        "OK",
    ),
    Case(
        "year 9999 date",
        _body(AUDIT, {"f": {"before": "9999-12-31T23:59:59+00:00"}}),
        "OK",
    ),
    Case(
        "year 1 date with an offset (before year 1 in UTC)",
        _body(TASKS, {"f": {"received": {"after": "0001-01-01T00:00:00+05:00"}}}),
        "BAD_INPUT",
    ),
    Case(
        "deeply nested JSON body",
        '{"query": "{ __typename }", "variables": {"a": ' + "[" * 3000 + "]" * 3000 + "}}",
        "BAD_INPUT",
        status=400,
    ),
    Case(
        "subscription sent as HTTP POST",
        _body("subscription { taskEvents { __typename } }"),
        "BAD_INPUT",
    ),
    Case("token with exp=1e20", _body("{ queues { name } }"), "UNAUTHENTICATED", token="huge-exp"),
    Case("parse error in a query", _body("{ queues { name }"), "BAD_INPUT"),
    Case("parse error in a mutation", _body('mutation { purgeQueue(name: "x" '), "BAD_INPUT"),
    Case("parse error, anonymous", _body("query {"), "BAD_INPUT", token="none"),
    Case("body that is not JSON", "{not json", "BAD_INPUT", status=400),
    Case("body that is not UTF-8", '{"query": "\udcff"}', "BAD_INPUT", status=400),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_input_answers_a_stable_code(
    api: ApiServer, http: httpx.AsyncClient, admin_token: str, settings: Settings, case: Case
) -> None:
    headers = {"content-type": "application/json"}
    if case.token == "admin":
        headers["authorization"] = f"Bearer {admin_token}"
    elif case.token == "huge-exp":
        headers["authorization"] = _huge_exp_token(settings)
    content = case.body.encode("utf-8", "surrogateescape")
    response = await http.post(api.graphql_url, content=content, headers=headers)
    assert response.status_code < 500, response.text
    if case.status is not None:
        assert response.status_code == case.status
    body = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    if case.code == "OK":
        assert codes == [], body
    else:
        assert codes and set(codes) == {case.code}, body
