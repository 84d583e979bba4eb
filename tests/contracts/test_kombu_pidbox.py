"""Contract: what src/control/pidbox.py and src/control/mingle_responder.py rely on in kombu's
pidbox and Celery's mingle, and the node we run.

src/control/pidbox.py calls kombu's private `Mailbox._publish` and `reply_queue`; the mingle
responder answers Celery's `hello` as its workers do. A release that changes either fails here,
loudly, before it fails in production. Then, on the real session workers and API: the collecting
broadcast waits for exactly the named hostnames, and celery-admin's node answers `hello` (exactly
one replica, with the recorded revokes) and nothing else.
"""

from __future__ import annotations

import inspect
import uuid

import kombu
from celery import Celery
from celery.worker import control as worker_control
from celery.worker.consumer.mingle import Mingle
from kombu.pidbox import Mailbox, Node
from redis import asyncio as aioredis

from src.control.mingle_responder import NODE_PREFIX
from src.control.pidbox import broadcast_collect
from src.control.revokes import RevokeRegistry
from src.embedded_redis import EmbeddedRedis
from tests.support.servers import ApiServer, WorkerProcess, running_api


def _params(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_kombu_and_celery_internals_we_use_are_as_pinned() -> None:
    assert kombu.VERSION[:2] == (5, 7), "re-check src/control/pidbox.py, then move the pin"
    assert _params(Mailbox._publish)[:8] == [
        "self",
        "type",
        "arguments",
        "destination",
        "reply_ticket",
        "channel",
        "timeout",
        "serializer",
    ]
    with kombu.Connection("memory://") as conn:
        bound = Mailbox("contract", type="fanout")(conn)
        assert isinstance(bound.reply_queue, kombu.Queue)
        assert bound.reply_queue.routing_key == bound.oid  # where `_publish` asks replies to go
        assert callable(bound.clock.adjust) and bound.accept and hasattr(bound, "serializer")
    assert _params(Node.listen) == ["self", "channel", "callback"]
    assert _params(Node.reply)[:5] == ["self", "data", "exchange", "routing_key", "ticket"]
    # Celery's side of mingle: a `hello(from_node, revoked)` broadcast, and a reply whose
    # `revoked` ids are merged.
    assert _params(worker_control.hello)[:3] == ["state", "from_node", "revoked"]
    assert _params(Mingle.sync_with_node)[:4] == ["self", "c", "clock", "revoked"]
    assert _params(Mingle.on_revoked_received) == ["self", "c", "revoked"]


def test_a_collecting_broadcast_waits_for_the_named_hostnames(
    workers: list[WorkerProcess], celery_client: Celery
) -> None:
    names = [w.hostname for w in workers]
    found = broadcast_collect(
        celery_client, "ping", {}, destination=None, wait_for=names, timeout=5, settle=0
    )
    assert found.complete and set(names) <= set(found.replies)
    assert all(found.replies[h] == {"ok": "pong"} for h in names)
    ghost = f"ghost-{uuid.uuid4().hex[:6]}@tests"
    partial = broadcast_collect(
        celery_client, "ping", {}, destination=None, wait_for=[*names, ghost], timeout=1, settle=0
    )
    assert not partial.complete and set(names) <= set(partial.replies)


async def test_celery_admin_answers_hello_and_nothing_else(
    api: ApiServer,
    workers: list[WorkerProcess],
    redis_server: EmbeddedRedis,
    celery_client: Celery,
) -> None:
    revoked_id = str(uuid.uuid4())
    redis = aioredis.Redis.from_url(f"{redis_server.url}/0")  # the API's state Redis: the broker
    try:
        await RevokeRegistry(redis).record([revoked_id])
    finally:
        await redis.aclose()
    starting = f"starting-{uuid.uuid4().hex[:6]}@tests"
    with running_api(api.settings) as replica:  # a second replica listens too
        for server in (api, replica):
            assert (responder := server.runtime.control.responder) is not None
            assert responder.listening.wait(10)
        try:
            hello = celery_client.control.inspect(timeout=1).hello(starting, []) or {}
        finally:
            api.runtime.inspector.forget_worker(starting)  # nobody will start under that name
    ours = {h: v for h, v in hello.items() if h.startswith(NODE_PREFIX)}
    assert len(ours) == 1, hello  # one replica answers, however many listen
    (answer,) = ours.values()
    assert revoked_id in answer["revoked"]
    assert {w.hostname for w in workers} <= set(hello)  # the workers answer hello too
    for replies in (
        celery_client.control.ping(timeout=1),
        [celery_client.control.inspect(timeout=1).stats() or {}],
        [celery_client.control.inspect(timeout=1).revoked() or {}],
    ):
        hosts = {h for reply in replies or () for h in reply}
        assert hosts and not [h for h in hosts if h.startswith(NODE_PREFIX)], hosts
