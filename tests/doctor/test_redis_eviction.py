"""A broker Redis whose maxmemory-policy evicts keys is critical (and says the specification's
allkeys-lru advice drops queued tasks); noeviction is not reported. Also through the CLI (human
and --json, exit 1 on critical) and `systemStatus { advisories }`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import redis

from src.doctor.checks import redis_eviction
from src.doctor.model import Severity
from src.embedded_redis import EmbeddedRedis
from tests.doctor.support import check
from tests.doctor.worker_app import client
from tests.process.support import command_env
from tests.support.graphql import gql
from tests.support.servers import ROOT, make_settings, redis_binary, running_api

pytestmark = pytest.mark.timeout(180)

ADVISORIES = "{ systemStatus { advisories { code severity title evidence fix } } }"


@pytest.fixture
def lru_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    conn = redis.Redis(port=server.port)
    conn.config_set("maxmemory", 100 << 20)
    conn.config_set("maxmemory-policy", "allkeys-lru")
    conn.close()
    try:
        yield server
    finally:
        server.stop()


async def test_allkeys_lru_on_the_broker_is_critical(lru_redis: EmbeddedRedis) -> None:
    advisories = await check(redis_eviction.CHECK, client(lru_redis.port), inspect=False)
    assert [a.code for a in advisories] == ["redis_evicts_keys"]
    (advisory,) = advisories
    assert advisory.severity is Severity.CRITICAL
    assert "maxmemory-policy=allkeys-lru" in advisory.evidence
    assert "specification" in advisory.evidence and "drop queued tasks" in advisory.evidence
    assert "noeviction" in advisory.fix


async def test_noeviction_is_not_reported(redis_server: EmbeddedRedis) -> None:
    assert redis.Redis(port=redis_server.port).config_get("maxmemory-policy") == {
        "maxmemory-policy": "noeviction"
    }
    assert await check(redis_eviction.CHECK, client(redis_server.port), inspect=False) == []


def _doctor(
    server: EmbeddedRedis, database_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = command_env(
        REDIS_HOST="127.0.0.1", REDIS_PORT=str(server.port), DATABASE_URL=database_url
    )
    return subprocess.run(
        [sys.executable, "-m", "src.cli", "doctor", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_reports_it_and_exits_1(lru_redis: EmbeddedRedis, database_url: str) -> None:
    human = _doctor(lru_redis, database_url)
    assert human.returncode == 1, human.stdout + human.stderr
    assert "CRITICAL The broker's Redis evicts keys" in human.stdout
    assert "[redis_evicts_keys]" in human.stdout and "fix:" in human.stdout
    print(human.stdout)  # the closing note quotes it (pytest -s)

    as_json = _doctor(lru_redis, database_url, "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["critical"] is True
    codes = {(a["code"], a["severity"]) for a in report["advisories"]}
    assert ("redis_evicts_keys", "critical") in codes


def test_the_command_exits_0_without_critical_findings(
    redis_server: EmbeddedRedis, database_url: str
) -> None:
    result = _doctor(redis_server, database_url, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not json.loads(result.stdout)["critical"]


async def test_system_status_lists_the_advisory(
    lru_redis: EmbeddedRedis, database_url: str, http: httpx.AsyncClient, viewer_token: str
) -> None:
    with running_api(make_settings(lru_redis, database_url)) as api:
        data = (await gql(http, api.graphql_url, ADVISORIES, token=viewer_token)).ok()
        advisories = data["systemStatus"]["advisories"]
        evicts = [a for a in advisories if a["code"] == "redis_evicts_keys"]
        assert evicts and evicts[0]["severity"] == "CRITICAL"
        assert evicts[0]["evidence"] and evicts[0]["fix"] and evicts[0]["title"]
        denied = await gql(http, api.graphql_url, ADVISORIES)
        assert denied.codes == ["UNAUTHENTICATED"]
