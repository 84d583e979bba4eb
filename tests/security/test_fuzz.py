"""Property-based fuzzing of the whole schema (hypothesis-graphql) against the running app, as a
viewer and as an admin: no INTERNAL error, no 5xx, every error with a code, no hang.

The app runs on a Redis and a database of its own (admin mutations change settings, purge queues
and send control commands: nothing here may reach the suite's shared cluster).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import httpx
import pytest
from graphql import build_schema
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from src.auth.roles import Role
from src.embedded_redis import EmbeddedRedis
from tests.conftest import DB_KIND
from tests.support.graphql import mint
from tests.support.servers import (
    ROOT,
    ApiServer,
    make_settings,
    redis_binary,
    running_api,
    temporary_database,
)

SCHEMA = build_schema((ROOT / "graphql.schema").read_text())
SCALARS = {
    "DateTime": st.datetimes(timezones=st.none() | st.just(UTC)).map(
        lambda d: nodes.String(d.isoformat())
    ),
    "JSON": st.integers(-(2**40), 2**40).map(nodes.Int) | st.text(max_size=20).map(nodes.String),
}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, str, str]]:
    redis = EmbeddedRedis(binary=redis_binary())
    redis.start()
    try:
        with temporary_database(DB_KIND, Path(tmp_path_factory.mktemp("fuzz"))) as url:
            config = make_settings(redis, url, inspect_timeout=0.2, request_deadline_seconds=10)
            with running_api(config) as api:
                yield api, mint(config, Role.VIEWER), mint(config, Role.ADMIN)
    finally:
        redis.stop()


def _check(api: ApiServer, token: str, document: str) -> None:
    response = httpx.post(
        api.graphql_url,
        json={"query": document},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,  # a hang fails the test
    )
    assert response.status_code < 500, (document, response.text)
    body = response.json()
    event("data" if body.get("data") else "no data")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code is not None, (document, json.dumps(error))
        assert code != "INTERNAL", (document, json.dumps(error))
        event(f"error {code}")


@FUZZ
@given(document=queries(SCHEMA, custom_scalars=SCALARS))
def test_viewer_queries(fuzzed: tuple[ApiServer, str, str], document: str) -> None:
    api, viewer, _admin = fuzzed
    _check(api, viewer, document)


@FUZZ
@given(document=queries(SCHEMA, custom_scalars=SCALARS))
def test_admin_queries(fuzzed: tuple[ApiServer, str, str], document: str) -> None:
    api, _viewer, admin = fuzzed
    _check(api, admin, document)


@FUZZ
@given(document=mutations(SCHEMA, custom_scalars=SCALARS))
def test_admin_mutations(fuzzed: tuple[ApiServer, str, str], document: str) -> None:
    api, _viewer, admin = fuzzed
    _check(api, admin, document)


@settings(FUZZ, max_examples=30)
@given(document=queries(SCHEMA, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
def test_invalid_queries(fuzzed: tuple[ApiServer, str, str], document: str) -> None:
    api, viewer, _admin = fuzzed
    _check(api, viewer, document)
