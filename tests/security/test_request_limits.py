"""Issue 10, request level: what one request may cost, reproduced against the real app.

Two replicas of the API share one Redis (budgets are counted there); the tests speak from made-up
client addresses (X-Forwarded-For from a trusted proxy) so that each has budgets of its own.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from redis import asyncio as aioredis

from src.auth.roles import Role
from src.bus.base import Channel, envelope
from src.config import Settings
from src.embedded_redis import EmbeddedRedis
from src.monitoring.sample import MetricsSample, SamplerIdentity, Throughput
from tests.support.audit import audit_rows
from tests.support.graphql import GraphQLResponse, mint
from tests.support.servers import ApiServer, make_settings, running_api
from tests.support.waiting import fresh_window
from tests.support.ws import LEGACY_WS, SubscriptionError, graphql_ws

ANONYMOUS_PER_MINUTE = 6
DENIED_PER_MINUTE = 3
SUBJECT_PER_MINUTE = 8
TARPIT_SECONDS = 0.3


@pytest.fixture(scope="module")
def strict_settings(redis_server: EmbeddedRedis, database_url: str) -> Settings:
    return make_settings(
        redis_server,
        database_url,
        trusted_proxies="127.0.0.1",
        redis_db_broker=5,  # a cluster of its own: the session's workers do not answer here
        rate_limit_anonymous_per_minute=ANONYMOUS_PER_MINUTE,
        rate_limit_denied_per_minute=DENIED_PER_MINUTE,
        rate_limit_subject_per_minute=SUBJECT_PER_MINUTE,
        max_request_bytes=64 * 1024,
        max_query_cost=20_000,
        request_deadline_seconds=0.5,
        ws_init_timeout_seconds=0.5,
        rate_limit_tarpit_seconds=TARPIT_SECONDS,
    )


@pytest.fixture(scope="module")
def replicas(strict_settings: Settings) -> Iterator[tuple[ApiServer, ApiServer]]:
    with running_api(strict_settings) as one, running_api(strict_settings) as two:
        yield one, two


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


def token_for(settings: Settings, role: Role) -> str:
    """A token of a subject of its own: each test has its own subject budget."""
    return mint(settings, role, subject=f"{role.claim}-{uuid.uuid4().hex[:8]}")


def new_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"


async def post(
    http: httpx.AsyncClient,
    api: ApiServer,
    query: str,
    variables: dict | None = None,
    *,
    ip: str,
    token: str | None = None,
    agent: str = "request-limits-test",
) -> GraphQLResponse:
    headers = {"X-Forwarded-For": ip, "User-Agent": agent}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await http.post(
        api.graphql_url, json={"query": query, "variables": variables or {}}, headers=headers
    )
    body = response.json()
    return GraphQLResponse(response.status_code, body.get("data"), body.get("errors") or [])


SYSTEM_INFO_FLOOD = "{" + " systemInfo { name }" * 1240 + " }"


async def test_an_anonymous_document_is_refused_before_it_is_validated(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient
) -> None:
    api = replicas[0]
    # given a document that is invalid as well as guarded: the token is what is checked first
    refused = await post(client, api, "{ tasks { edges { node { noSuchField } } } }", ip=new_ip())
    assert refused.codes == ["UNAUTHENTICATED"], refused.errors
    bad = await post(client, api, "{ queues { name } }", ip=new_ip(), token="not.a.token")
    assert bad.codes == ["UNAUTHENTICATED"] and "malformed" in bad.errors[0]["message"]
    # the public field is still open to anyone
    open_ = await post(client, api, "{ systemInfo { name } }", ip=new_ip())
    assert open_.ok() == {"systemInfo": {"name": "celery-admin"}}


async def test_the_quadratic_document_is_refused_by_a_cap_counted_before_validation(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    api = replicas[0]
    # 1,240 `systemInfo { name }` cost 1.1 s of CPU in the overlapping-fields rule
    anonymous = await post(client, api, SYSTEM_INFO_FLOOD, ip=new_ip())
    assert anonymous.codes == ["QUERY_TOO_COMPLEX"], anonymous.errors
    viewer = token_for(strict_settings, Role.VIEWER)
    # an unknown field among them: a validation rule never ran, the cap answered first
    flood = SYSTEM_INFO_FLOOD.replace("}", "} noSuchField", 1)
    signed = await post(client, api, flood, ip=new_ip(), token=viewer)
    assert signed.codes == ["QUERY_TOO_COMPLEX"], signed.errors
    assert signed.errors[0]["extensions"]["details"]["cap"] == "max_selections"
    fragments = "query { ...A } fragment A on Query { " + "a%d: systemInfo { name } " * 60 + "}"
    aliased = await post(client, api, fragments % tuple(range(60)), ip=new_ip(), token=viewer)
    assert aliased.codes == ["QUERY_TOO_COMPLEX"]
    assert aliased.errors[0]["extensions"]["details"]["cap"] == "max_aliases"


async def test_a_body_over_the_limit_is_refused_without_being_read_whole(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient
) -> None:
    api = replicas[0]
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:  # 60 MB announced, none sent: refused on the header alone
        writer.write(
            b"POST /celery-admin/graphql HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            b"content-type: application/json\r\ncontent-length: 62914560\r\n\r\n"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
    assert status_line.split()[1] == b"413", status_line
    too_big = await client.post(
        api.graphql_url,
        content=b"x" * (65 * 1024),
        headers={"content-type": "application/json"},
    )
    assert too_big.status_code == 413
    assert too_big.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"

    # no Content-Length and a body that never ends: answered once the limit is passed
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        writer.write(
            b"POST /celery-admin/graphql HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        chunk = b" " * 8192
        for _ in range(10):  # 80 KB, and no last chunk
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
    assert status_line.split()[1] == b"413", status_line


async def test_deeply_nested_json_is_bad_input(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient
) -> None:
    body = (
        '{"query": "{ systemInfo { name } }", "variables": {"a": '
        + "[" * 5_000
        + "]" * 5_000
        + "}}"
    )
    response = await client.post(
        replicas[0].graphql_url, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


async def test_costs_multiply_along_lists_and_recursion_is_capped(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    api = replicas[0]
    viewer = token_for(strict_settings, Role.VIEWER)
    costly = "{ tasks(first: 200) { edges { node { children(first: 200) { id } } } } }"
    refused = await post(client, api, costly, ip=new_ip(), token=viewer)
    assert refused.codes == ["QUERY_TOO_COSTLY"], refused.errors
    assert "max_query_cost" in refused.errors[0]["message"]
    assert refused.errors[0]["extensions"]["details"]["limit"] == 20_000
    # the same through a variable
    by_variable = (
        "query($n: Int!) { tasks(first: $n) { edges { node { children(first: $n) { id } } } } }"
    )
    refused = await post(client, api, by_variable, {"n": 200}, ip=new_ip(), token=viewer)
    assert refused.codes == ["QUERY_TOO_COSTLY"]
    # the 139-byte query that took 4.2 s
    loop = '{ task(id: "x") { children { parent { children { parent { children { id } } } } } } }'
    looped = await post(client, api, loop, ip=new_ip(), token=viewer)
    assert looped.codes == ["QUERY_TOO_COMPLEX"], looped.errors
    assert looped.errors[0]["extensions"]["details"]["cap"] == "max_query_recursion"
    # what the dashboard asks stays within
    fine = '{ task(id: "x") { id parent { id } children { id } } }'
    assert (await post(client, api, fine, ip=new_ip(), token=viewer)).ok() == {"task": None}


async def test_a_request_past_its_deadline_answers_timeout(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    # no worker answers this cluster (broker database 5): the inspect broadcast waits its
    # whole 1 s timeout, past the 0.5 s deadline
    admin = token_for(strict_settings, Role.ADMIN)
    slow = await post(client, replicas[0], "{ workers { hostname } }", ip=new_ip(), token=admin)
    assert slow.codes == ["TIMEOUT"], slow.errors
    assert "REQUEST_DEADLINE_SECONDS" in slow.errors[0]["message"]


async def test_anonymous_budgets_are_per_ip_and_shared_by_replicas(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    ip = new_ip()
    answers = []
    for n in range(ANONYMOUS_PER_MINUTE + 1):  # alternate between the two replicas
        response = await client.post(
            replicas[n % 2].graphql_url,
            json={"query": "{ systemInfo { name } }"},
            headers={"X-Forwarded-For": ip},
        )
        answers.append(response)
    assert [r.status_code for r in answers[:-1]] == [200] * ANONYMOUS_PER_MINUTE
    last = answers[-1]
    assert last.status_code == 429 and int(last.headers["retry-after"]) > 0
    assert last.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # another address is not held up
    other = await post(client, replicas[0], "{ systemInfo { name } }", ip=new_ip())
    assert other.ok()
    assert strict_settings.pubsub_redis_url
    redis = aioredis.Redis.from_url(strict_settings.pubsub_redis_url)
    try:
        assert await redis.keys(f"celery-admin:rate:anonymous:{ip}:*")
    finally:
        await redis.aclose()


async def test_a_subject_has_a_budget_wherever_it_calls_from(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    token = mint(strict_settings, Role.VIEWER, subject=f"busy-{uuid.uuid4().hex[:6]}")
    codes = [
        (
            await post(client, replicas[n % 2], "{ systemInfo { name } }", ip=new_ip(), token=token)
        ).codes
        for n in range(SUBJECT_PER_MINUTE + 1)
    ]
    assert codes == [[]] * SUBJECT_PER_MINUTE + [["RATE_LIMITED"]]


async def test_denied_attempts_are_rate_limited_and_their_audit_rows_bounded(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    ip = new_ip()
    agent = f"flood-{uuid.uuid4().hex}"
    purge = 'mutation { purgeQueue(name: "celery", confirm: true) { ok } }'
    codes = [
        (await post(client, replicas[n % 2], purge, ip=ip, agent=agent)).codes for n in range(10)
    ]
    assert codes == [["UNAUTHENTICATED"]] * DENIED_PER_MINUTE + [["RATE_LIMITED"]] * (
        10 - DENIED_PER_MINUTE
    )
    # a user holding a token behind the same address is not locked out
    viewer = token_for(strict_settings, Role.VIEWER)
    assert (await post(client, replicas[0], "{ systemInfo { name } }", ip=ip, token=viewer)).ok()
    admin = mint(strict_settings, Role.ADMIN, subject=f"auditor-{uuid.uuid4().hex[:6]}")
    rows = [
        r
        for r in await audit_rows(client, replicas[0].graphql_url, admin, first=100)
        if r["userAgent"] == agent
    ]
    actions = sorted(r["action"] for r in rows)
    assert actions == ["purgeQueue"] * DENIED_PER_MINUTE + ["rateLimited"], actions
    assert all(r["outcome"] == "DENIED" and r["ip"] == ip for r in rows)


async def test_request_errors_answer_json_with_a_code(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    api = replicas[0]
    viewer = token_for(strict_settings, Role.VIEWER)
    for token in (None, viewer):
        parse = await post(client, api, "{ systemInfo { name }", ip=new_ip(), token=token)
        assert parse.codes == ["BAD_INPUT"], parse.errors
        mutation_parse = await post(client, api, "mutation { purgeQueue(", ip=new_ip(), token=token)
        assert mutation_parse.codes == ["BAD_INPUT"], mutation_parse.errors
    subscription = await post(
        client, api, "subscription { taskEvents { __typename } }", ip=new_ip(), token=viewer
    )
    assert subscription.codes == ["BAD_INPUT"], subscription.errors
    assert "WebSocket" in subscription.errors[0]["message"]
    broken = await client.post(
        api.graphql_url, content="{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


async def test_the_graphql_response_media_type_is_answered_when_accepted(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient
) -> None:
    api = replicas[0]
    accept = {"accept": "application/graphql-response+json", "X-Forwarded-For": new_ip()}
    ok = await client.post(api.graphql_url, json={"query": "{ __typename }"}, headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    invalid = await client.post(api.graphql_url, json={"query": "{"}, headers=accept)
    assert invalid.status_code == 400
    assert invalid.headers["content-type"].startswith("application/graphql-response+json")
    plain = await client.post(
        api.graphql_url, json={"query": "{"}, headers={"X-Forwarded-For": new_ip()}
    )
    assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"


async def test_refused_websocket_inits_count_as_denied_attempts(
    replicas: tuple[ApiServer, ApiServer],
) -> None:
    # every WebSocket of the test comes from 127.0.0.1 (no proxy header): its own budget
    answers = []
    for n in range(DENIED_PER_MINUTE + 1):
        async with graphql_ws(replicas[n % 2].graphql_url, protocol=LEGACY_WS) as ws:
            answers.append(await ws.init({"Authorization": "Bearer not.a.token"}))
    codes = [a["payload"]["extensions"]["code"] for a in answers]
    assert codes == ["UNAUTHENTICATED"] * DENIED_PER_MINUTE + ["RATE_LIMITED"]


async def test_an_anonymous_refusal_reads_as_the_guards_refusal_did(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient
) -> None:
    # the dashboard (urql) accepts graphql-response+json and expects `data: null` with a 200
    headers = {"accept": "application/graphql-response+json", "X-Forwarded-For": new_ip()}
    response = await client.post(
        replicas[0].graphql_url, json={"query": "{ queues { name } }"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def counted(redis: aioredis.Redis, ip: str) -> int:
    """Everything Redis counted for this address, in every bucket and window."""
    keys = await redis.keys(f"celery-admin:rate:*:{ip}:*")
    return sum(int(v or 0) for v in await redis.mget(keys)) if keys else 0


def header_only_post(port: int, ip: str, extra: bytes = b"") -> bytes:
    """A POST that announces a 60,000-byte body and sends none of it."""
    return (
        b"POST /celery-admin/graphql HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"x-forwarded-for: " + ip.encode() + b"\r\n" + extra + b"content-type: application/json\r\n"
        b"content-length: 60000\r\n\r\n"
    )


async def test_a_blocked_address_is_refused_at_the_door(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient, strict_settings: Settings
) -> None:
    """Issue 10 (floods): once Redis has put an address over its budget, its token-less
    requests are answered 429 before the body is read and without a Redis round trip."""
    one, two = replicas
    await fresh_window()
    ip = new_ip()
    purge = 'mutation { purgeQueue(name: "celery", confirm: true) { ok } }'
    for _ in range(DENIED_PER_MINUTE):
        assert (await post(client, one, purge, ip=ip)).codes == ["UNAUTHENTICATED"]
    assert (await post(client, one, purge, ip=ip)).codes == ["RATE_LIMITED"]  # Redis said so
    bad = await post(client, one, "{ queues { name } }", ip=ip, token="not.a.token")
    assert bad.codes == ["RATE_LIMITED"]  # the gate refused it (and remembers the token)
    assert strict_settings.pubsub_redis_url
    redis = aioredis.Redis.from_url(strict_settings.pubsub_redis_url)
    try:
        before = await counted(redis, ip)
        # a body announced and never sent: answered on the headers alone
        for extra in (b"", b"authorization: Bearer not.a.token\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", one.port)
            try:
                sent = time.monotonic()
                writer.write(header_only_post(one.port, ip, extra))
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                held = time.monotonic() - sent
            finally:
                writer.close()
            assert head.split()[1] == b"429", head
            assert held >= TARPIT_SECONDS  # the connection waited, as it was told to
            assert 0 < int(head.lower().split(b"retry-after: ")[1].split(b"\r\n")[0]) <= 60
        accept = {"accept": "application/graphql-response+json", "X-Forwarded-For": ip}
        refused = await client.post(one.graphql_url, json={"query": purge}, headers=accept)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/graphql-response+json"
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["details"]["bucket"] == "denied"
        assert await counted(redis, ip) == before  # nothing reached Redis
        # a user holding a valid token behind that address is served
        viewer = token_for(strict_settings, Role.VIEWER)
        assert (await post(client, one, "{ systemInfo { name } }", ip=ip, token=viewer)).ok()
        # the other replica learns of the block from Redis, once, then refuses at the door
        assert (await post(client, two, purge, ip=ip)).codes == ["RATE_LIMITED"]
        after_two = await counted(redis, ip)
        assert after_two == before + 1
        assert (await post(client, two, purge, ip=ip)).codes == ["RATE_LIMITED"]
        assert await counted(redis, ip) == after_two
    finally:
        await redis.aclose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_websocket_query_past_its_deadline_answers_timeout(
    replicas: tuple[ApiServer, ApiServer], strict_settings: Settings
) -> None:
    """A query over graphql-transport-ws runs within REQUEST_DEADLINE_SECONDS as over HTTP;
    a subscription on the same connection outlives it."""
    api = replicas[0]
    admin = token_for(strict_settings, Role.ADMIN)
    metrics = "subscription { metrics { __typename ... on MetricsSample { sampler { host } } } }"
    host = f"deadline-{uuid.uuid4().hex[:6]}"
    async with graphql_ws(api.graphql_url) as ws:
        assert (await ws.init(bearer(admin)))["type"] == "connection_ack"
        subscribers = api.runtime.bus.health().subscribers
        await ws.subscribe(metrics, op_id="metrics")
        deadline = time.monotonic() + 30
        while api.runtime.bus.health().subscribers <= subscribers:
            assert time.monotonic() < deadline, "the subscription never reached the bus"
            await asyncio.sleep(0.02)
        # no worker answers this cluster: the inspect broadcast waits 1 s, past the 0.5 s
        await ws.subscribe("{ workers { hostname } }", op_id="slow")
        with pytest.raises(SubscriptionError) as timed_out:
            await ws.next("slow", within=30)
        assert timed_out.value.codes == ["TIMEOUT"], timed_out.value
        assert "REQUEST_DEADLINE_SECONDS" in timed_out.value.errors[0]["message"]
        # the subscription, older than the deadline, still delivers
        await publish_sample(strict_settings, host)
        while True:
            item = (await ws.next("metrics", within=30))["metrics"]
            if item.get("sampler", {}).get("host") == host:
                break


async def publish_sample(settings: Settings, host: str) -> None:
    sample = MetricsSample(
        taken_at=datetime.now(UTC),
        interval_seconds=5,
        sampler=SamplerIdentity(host=host, pid=1),
        workers_online=0,
        throughput=Throughput(window_seconds=300),
    )
    assert settings.pubsub_redis_url
    redis = aioredis.Redis.from_url(settings.pubsub_redis_url)
    try:
        message = envelope("metrics", sample.model_dump(mode="json"))
        await redis.publish(str(Channel.METRICS), json.dumps(message))
    finally:
        await redis.aclose()


async def test_a_websocket_without_connection_init_closes_4408(
    replicas: tuple[ApiServer, ApiServer],
) -> None:
    # WS_INIT_TIMEOUT_SECONDS is 0.5 here (10 by default)
    async with graphql_ws(replicas[0].graphql_url) as ws:
        assert await ws.close_code(within=30) == 4408


async def test_anonymous_documents_past_the_caps_count_as_denied_attempts(
    replicas: tuple[ApiServer, ApiServer], client: httpx.AsyncClient
) -> None:
    await fresh_window()
    ip = new_ip()
    codes = [
        (await post(client, replicas[n % 2], SYSTEM_INFO_FLOOD, ip=ip)).codes
        for n in range(DENIED_PER_MINUTE + 1)
    ]
    assert codes == [["QUERY_TOO_COMPLEX"]] * DENIED_PER_MINUTE + [["RATE_LIMITED"]]
    # a mere syntax error is a mistake, not an attempt: it does not count
    other = new_ip()
    for _ in range(DENIED_PER_MINUTE + 1):
        assert (await post(client, replicas[0], "{ systemInfo {", ip=other)).codes == ["BAD_INPUT"]
