"""LOG_FORMAT=json: `celery-admin serve` as a real process writes one JSON object per line, each
line of a request carrying its request id (the caller's when sane, else a new one), which the
response's X-Request-ID header and the GraphQL errors' `requestId` repeat; secrets never appear."""

from __future__ import annotations

import json
import logging
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from src.auth.roles import Role
from src.config import Settings
from src.embedded_redis import EmbeddedRedis, free_port
from src.logs import bind
from src.logs.formatter import JsonFormatter
from tests.process.support import Command, command_env, info_url, serve
from tests.support.graphql import mint

pytestmark = pytest.mark.timeout(240)

PURGE = 'mutation PurgeForLogs { purgeQueue(name: "health", confirm: true) { ok } }'
DB_PASSWORD = "db-pass-not-for-logs"


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


def _until_line(command: Command, match: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in _json_lines(command.output):
            if all(entry.get(k) == v for k, v in match.items()):
                return entry
        time.sleep(0.1)
    raise AssertionError(f"no line with {match}:\n{command.output[-3000:]}")


@pytest.fixture
def json_serve(
    redis_server: EmbeddedRedis, database_url: str, tmp_path: Path
) -> Iterator[tuple[Command, int]]:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":  # trust auth: the password is sent, never checked
        database_url = url.set(password=DB_PASSWORD).render_as_string(hide_password=False)
    env = command_env(
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=str(redis_server.port),
        DATABASE_URL=database_url,
        LOG_FORMAT="json",
        CELERY_LOG_LEVEL="INFO",
    )
    command, port = serve(env, tmp_path)
    try:
        command.wait_http(info_url(port), timeout=90)
        yield command, port
    finally:
        if command.process.poll() is None:
            command.stop(signal.SIGTERM)


def test_a_request_is_logged_as_json_with_its_id_subject_operation_and_audit_id(
    json_serve: tuple[Command, int], settings: Settings
) -> None:
    command, port = json_serve
    token = mint(settings, Role.VIEWER, subject="log-viewer")
    graphql = f"http://127.0.0.1:{port}/celery-admin/graphql"

    response = httpx.post(
        graphql,
        json={"query": PURGE, "operationName": "PurgeForLogs"},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-logs-1"},
        timeout=30,
    )
    assert response.headers["X-Request-ID"] == "req-logs-1"
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert errors[0]["extensions"]["requestId"] == "req-logs-1"

    line = _until_line(command, {"request_id": "req-logs-1", "operation": "PurgeForLogs"})
    print(json.dumps(line))  # the closing note quotes it (pytest -s)
    assert line["subject"] == "log-viewer"
    assert line["level"] == "INFO" and line["logger"].startswith("celery_admin")
    assert isinstance(line["audit_id"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert "purgeQueue" not in line["message"] or "FORBIDDEN" in line["message"]
    # uvicorn's access line for the same request is JSON too, with the same id
    access = _until_line(command, {"request_id": "req-logs-1", "logger": "uvicorn.access"})
    assert "POST" in access["message"]

    # an id that is not sane is replaced by a new one, in the header and the lines alike
    response = httpx.get(info_url(port), headers={"X-Request-ID": "x" * 300}, timeout=30)
    new_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", new_id)
    _until_line(command, {"request_id": new_id, "logger": "uvicorn.access"})

    assert command.stop(signal.SIGTERM) == 0
    output = command.output
    _json_lines(output)  # every line, start-up to stop, is one JSON object
    assert DB_PASSWORD not in output and token not in output


def test_the_formatter_masks_secrets_in_messages_and_extras() -> None:
    record = logging.LogRecord(
        "celery_admin.test",
        logging.WARNING,
        __file__,
        1,
        "cannot reach %s (Authorization: Bearer %s)",
        ("redis://:hunter2@broker:6379/0", "eyJhbGciOi.payload.sig"),
        None,
    )
    record.password = "hunter2"
    record.target = {"url": "amqp://user:hunter2@rabbit//", "api_key": "k-123"}
    bind(request_id="req-mask")
    entry = json.loads(JsonFormatter().format(record))
    assert "hunter2" not in json.dumps(entry) and "k-123" not in json.dumps(entry)
    assert "eyJhbGciOi" not in entry["message"]
    assert entry["message"].startswith("cannot reach redis://:********@broker:6379/0")
    assert entry["request_id"] == "req-mask"
    assert entry["target"]["url"] == "amqp://user:********@rabbit//"


def test_uvicorn_worker_processes_log_json_too(
    redis_server: EmbeddedRedis, database_url: str, tmp_path: Path
) -> None:
    env = command_env(
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=str(redis_server.port),
        DATABASE_URL=database_url,
        LOG_FORMAT="json",
        COLLECTOR_ENABLED="false",
    )
    port = free_port()
    command = Command("serve", "--port", str(port), "--workers", "2", env=env, log_dir=tmp_path)
    try:
        command.wait_http(info_url(port), timeout=120)
        response = httpx.get(info_url(port), headers={"X-Request-ID": "req-multi"}, timeout=30)
        assert response.headers["X-Request-ID"] == "req-multi"
        _until_line(command, {"request_id": "req-multi", "logger": "uvicorn.access"})
    finally:
        command.stop(signal.SIGTERM)
    _json_lines(command.output)
