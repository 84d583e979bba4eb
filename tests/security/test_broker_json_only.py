"""Finding: a pickled reply pushed onto the admin's reply queue ran inside celery-admin.

Given the operator's own app (CELERY_APP) accepting pickle, celery-admin still reads JSON alone
from every broker channel: control replies, results and events. A malicious "worker" answers a
broadcast with a pickle whose loading would create a file; the file must never appear.
"""

from __future__ import annotations

import base64
import json
import pickle
import sys
import textwrap
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from kombu import Connection
from kombu.exceptions import ContentDisallowed
from kombu.pidbox import Mailbox
from sqlalchemy import delete

from src.cluster import load_cluster_app
from src.collector.decode import Decoder
from src.control.pidbox import broadcast_collect
from src.db.engine import create_engine
from src.db.models.tasks import TaskRecord
from src.embedded_redis import EmbeddedRedis
from tests.support.graphql import gql
from tests.support.servers import ApiServer, make_settings
from tests.tasks.data import insert_rows, rows


class Exploit:
    """Unpickling it opens (creates) `path`: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


@pytest.fixture
def pickle_app(
    redis_server: EmbeddedRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Celery:
    """The operator's app, as CELERY_APP brings it: pickle everywhere, mailbox already built."""
    module = f"pickle_cluster_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from celery import Celery

            app = Celery("pickle-cluster")
            app.conf.update(
                task_serializer="pickle",
                result_serializer="pickle",
                accept_content=["pickle", "json", "yaml", "msgpack"],
                result_accept_content=["pickle", "json"],
                result_backend="redis://127.0.0.1:PORT/1",
            )
            app.control.mailbox  # touched at import: the mailbox exists before celery-admin
            """
        ).replace("PORT", str(redis_server.port))
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = make_settings(
        redis_server,
        "sqlite+aiosqlite:///unused.db",
        celery_app=f"{module}:app",
        celery_broker_url=f"redis://127.0.0.1:{redis_server.port}/0",
    )
    try:
        yield load_cluster_app(settings)
    finally:
        sys.modules.pop(module, None)


def _evil_worker(url: str, marker: Path, answered: threading.Event, stop: threading.Event) -> None:
    """A pidbox node that answers `ping` with a pickle (as a pickle-serializing worker would)."""
    mailbox = Mailbox("celery", type="fanout", accept=["json", "pickle"], serializer="pickle")

    def ping(state: Any) -> Exploit:
        answered.set()
        return Exploit(marker)

    with Connection(url) as conn:
        channel = conn.channel()
        node = mailbox.Node("evil@host", state=None, channel=channel, handlers={"ping": ping})
        node.listen(channel)
        while not stop.is_set():
            try:
                conn.drain_events(timeout=0.2)
            except TimeoutError:
                continue


def test_a_pickled_control_reply_is_dropped_not_executed(
    pickle_app: Celery, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    marker = tmp_path / "reply-ran"
    answered, stop = threading.Event(), threading.Event()
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    thread = threading.Thread(target=_evil_worker, args=(url, marker, answered, stop), daemon=True)
    thread.start()
    try:
        # The node subscribes when it first reads: ask until it has answered once.
        for _attempt in range(20):
            collected = broadcast_collect(
                pickle_app,
                "ping",
                {},
                destination=["evil@host"],
                wait_for={"evil@host"},
                timeout=2.0,
                settle=0.5,
            )
            if answered.is_set():
                break
        assert answered.is_set(), "the node never received the broadcast"
    finally:
        stop.set()
        thread.join(10)
    assert not marker.exists(), "a pickled reply was unpickled inside celery-admin"
    assert "evil@host" not in collected.replies
    assert not collected.complete


def test_the_mailbox_and_backend_accept_json_only(pickle_app: Celery) -> None:
    assert pickle_app.control.mailbox.accept == {"application/json"}
    assert list(pickle_app.conf.accept_content) == ["json"]
    assert list(pickle_app.conf.result_accept_content) == ["json"]
    assert pickle_app.backend.accept == {"application/json"}


def test_a_pickled_result_is_refused_not_executed(
    pickle_app: Celery, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    marker = tmp_path / "result-ran"
    task_id = uuid.uuid4().hex
    client = redis.Redis(port=redis_server.port, db=1)
    try:
        client.set(f"celery-task-meta-{task_id}", pickle.dumps(Exploit(marker)))
    finally:
        client.close()
    with pytest.raises(ContentDisallowed):
        pickle_app.backend.get_task_meta(task_id)
    assert not marker.exists()


def test_a_pickled_event_is_dropped_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "event-ran"
    envelope = {
        "body": base64.b64encode(pickle.dumps(Exploit(marker))).decode(),
        "content-type": "application/x-python-serialize",
        "content-encoding": "binary",
        "properties": {"body_encoding": "base64"},
    }
    decoder = Decoder()
    assert decoder.decode_payload(json.dumps(envelope)) == []
    assert decoder.refused == 1
    assert not marker.exists()


RETRY = """mutation($id: String!) { retryTask(id: $id) { ok errors { code message } } }"""


async def test_retry_of_a_pickled_call_answers_unsupported(
    api: ApiServer, http: httpx.AsyncClient, admin_token: str, tmp_path: Path
) -> None:
    """A cluster using pickle still works: its stored call is opaque, never unpickled."""
    marker = tmp_path / "retry-ran"
    row = rows(1, base=datetime.now(UTC) - timedelta(minutes=1), prefix=f"p{uuid.uuid4().hex[:8]}")[
        0
    ]
    row.update(state="SUCCESS", name="legacy.pickled", args_json=None, kwargs_json=None)
    task_id = str(row["task_id"])
    engine = create_engine(api.settings.database_url)
    await insert_rows(engine, [row])
    client = redis.Redis.from_url(str(api.runtime.app.conf.result_backend))
    try:
        meta = {"status": "SUCCESS", "task_id": task_id, "args": [Exploit(marker)], "kwargs": {}}
        client.set(f"celery-task-meta-{task_id}", pickle.dumps(meta))
        answer = (await gql(http, api.graphql_url, RETRY, {"id": task_id}, token=admin_token)).ok()
    finally:
        client.delete(f"celery-task-meta-{task_id}")
        client.close()
        async with engine.begin() as conn:
            await conn.execute(delete(TaskRecord).where(TaskRecord.task_id == task_id))
        await engine.dispose()
    errors = answer["retryTask"]["errors"]
    assert [e["code"] for e in errors] == ["UNSUPPORTED"], errors
    assert "opaque" in errors[0]["message"]
    assert not marker.exists()
