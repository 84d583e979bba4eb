"""`serve`, `collect` and `demo` stop within 10 s of SIGINT or SIGTERM in any state, each case with a
real process and a real signal (the tests allow 15 s for a loaded machine), and exit 0 after a
clean stop; a busy port is one line and exit 2 with nothing started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url

from src.collector.collector import STATUS_KEY
from src.embedded_redis import EmbeddedRedis, free_port
from src.leadership import LEASE_KEY
from tests.collector.events import kombu_payload, lifecycle
from tests.conftest import DB_KIND
from tests.process.support import (
    STARTUP_DEADLINE,
    Command,
    command_env,
    info_url,
    no_traceback,
    serve,
)
from tests.support.servers import redis_binary
from tests.support.stall import StallingServer

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(binary=redis_binary())
    server.start()
    try:
        yield server
    finally:
        if server.pid is not None:  # it may have been paused by the test
            with __import__("contextlib").suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def _redis_env(server: EmbeddedRedis, database_url: str, **more: str) -> dict[str, str]:
    return command_env(
        REDIS_HOST="127.0.0.1", REDIS_PORT=str(server.port), DATABASE_URL=database_url, **more
    )


def _leader_pid(server: EmbeddedRedis) -> int | None:
    client = redis.Redis(port=server.port)
    try:
        value = client.get(LEASE_KEY)
    finally:
        client.close()
    return int(value.decode().split(":")[1]) if value else None


def _wait_leader(server: EmbeddedRedis, command: Command, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _leader_pid(server) != command.process.pid:
        assert time.monotonic() < deadline, f"never led:\n{command.output[-3000:]}"
        assert command.process.poll() is None, f"exited:\n{command.output[-3000:]}"
        time.sleep(0.05)


# -- a busy port ---------------------------------------------------------------------------------


def test_serve_on_a_busy_port_is_one_line_and_exit_2(
    own_redis: EmbeddedRedis, database_url: str, busy_port: int, tmp_path: Path
) -> None:
    command, _ = serve(_redis_env(own_redis, database_url), tmp_path, port=busy_port)
    assert command.exit_code(STARTUP_DEADLINE) == 2
    out = command.output
    assert f"celery-admin: cannot listen on 127.0.0.1:{busy_port}: address already in use" in out
    assert no_traceback(out) and "Application startup" not in out
    assert _leader_pid(own_redis) is None  # nothing started: no leader jobs ran


def test_demo_on_a_busy_port_is_one_line_and_exit_2(busy_port: int, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = Command(
        "demo", "--port", str(busy_port), env=command_env(TMPDIR=str(temp)), log_dir=tmp_path
    )
    assert command.exit_code(STARTUP_DEADLINE) == 2
    out = command.output
    assert out.strip() == (
        f"celery-admin: cannot listen on 127.0.0.1:{busy_port}: address already in use"
    )
    assert "Bearer" not in out and list(temp.iterdir()) == []


# -- the leader's first lease attempt ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "sig"), [(("serve",), signal.SIGINT), (("collect",), signal.SIGTERM)]
)
def test_a_signal_during_the_first_lease_attempt(
    args: tuple[str, ...],
    sig: signal.Signals,
    own_redis: EmbeddedRedis,
    database_url: str,
    tmp_path: Path,
) -> None:
    """The lease's Redis answers everything but the lease command, which stays in flight."""
    proxy = StallingServer(upstream=own_redis.port, stall_on=LEASE_KEY.encode())
    env = _redis_env(own_redis, database_url, PUBSUB_URL=f"{proxy.url}/0")
    if args[0] == "serve":
        args = (*args, "--port", str(free_port()))
    command = Command(*args, env=env, log_dir=tmp_path)
    try:
        assert proxy.wait_for(LEASE_KEY.encode()), command.output[-3000:]
        assert proxy.stalled == 1
        assert command.stop(sig) == 0, command.output[-3000:]
    finally:
        command.kill()
        proxy.close()


# -- a busy collector ----------------------------------------------------------------------------


def _flood(port: int, stop: threading.Event) -> None:
    """Task events as fast as one connection publishes them, 50 to a message (prefork's hub)."""
    client = redis.Redis(port=port)
    t0 = time.time()
    try:
        while not stop.is_set():
            pipe = client.pipeline(transaction=False)
            for _ in range(20):
                events = [e for _ in range(12) for e in lifecycle(str(uuid.uuid4()), t0)][:50]
                pipe.publish("/0.celeryev/task.multi", kombu_payload(events))
            pipe.execute()
    except redis.RedisError:
        pass
    finally:
        client.close()


def test_collect_stops_while_busy(
    own_redis: EmbeddedRedis, database_url: str, tmp_path: Path
) -> None:
    command = Command("collect", env=_redis_env(own_redis, database_url), log_dir=tmp_path)
    stop = threading.Event()
    flood = threading.Thread(target=_flood, args=(own_redis.port, stop), daemon=True)
    status = redis.Redis(port=own_redis.port)
    try:
        _wait_leader(own_redis, command)
        flood.start()
        deadline = time.monotonic() + 60
        while True:  # busy: it has taken in events and the stream keeps coming
            raw = status.get(STATUS_KEY)
            if raw and json.loads(raw)["events"] > 20_000:
                break
            assert time.monotonic() < deadline, command.output[-3000:]
            time.sleep(0.1)
        assert command.stop(signal.SIGTERM) == 0, command.output[-3000:]
        assert flood.is_alive()  # it was still being fed when it stopped
    finally:
        stop.set()
        command.kill()
        status.close()


# -- Redis down or hanging -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["down", "paused"])
def test_serve_stops_while_redis_is_unavailable(
    how: str, own_redis: EmbeddedRedis, database_url: str, tmp_path: Path
) -> None:
    """Down: the server is gone. Paused (SIGSTOP): connections are accepted, nothing answers."""
    env = _redis_env(own_redis, database_url, LEADER_LEASE_SECONDS="3")
    command, port = serve(env, tmp_path)
    try:
        command.wait_http(info_url(port))
        _wait_leader(own_redis, command)
        if how == "down":
            own_redis.stop()
            command.wait_output(r"event stream lost")
        else:
            assert own_redis.pid is not None
            os.kill(own_redis.pid, signal.SIGSTOP)
            # Everything that talks to Redis now hangs; the lease's renewal is first to say so.
            command.wait_output(r"lease renewal failed|leadership lost")
        assert command.stop(signal.SIGTERM) == 0, command.output[-3000:]
    finally:
        command.kill()


# -- the database down or hanging ----------------------------------------------------------------


@pytest.mark.skipif(DB_KIND != "postgresql", reason="a database server to take away")
@pytest.mark.parametrize(("args", "how"), [(("serve",), "down"), (("collect",), "hanging")])
def test_stops_while_the_database_is_unavailable(
    args: tuple[str, ...],
    how: str,
    own_redis: EmbeddedRedis,
    database_url: str,
    tmp_path: Path,
) -> None:
    """PostgreSQL through a proxy that is then cut (down) or frozen (hanging), with task rows
    waiting to be written."""
    url = make_url(database_url)
    proxy = StallingServer(upstream=url.port or 5432)
    through = url.set(port=proxy.port).render_as_string(hide_password=False)
    port = free_port()
    if args[0] == "serve":
        args = (*args, "--port", str(port))
    command = Command(*args, env=_redis_env(own_redis, through), log_dir=tmp_path)
    client = redis.Redis(port=own_redis.port)
    try:
        _wait_leader(own_redis, command)
        command.wait_output(r"reconciled \d+ task")
        proxy.cut() if how == "down" else proxy.freeze()
        for _ in range(3):  # rows the collector cannot write
            t0 = time.time()
            events = lifecycle(str(uuid.uuid4()), t0)
            client.publish("/0.celeryev/task.multi", kombu_payload(events))
        command.wait_output(r"task store unavailable")
        assert command.stop(signal.SIGTERM) == 0, command.output[-3000:]
    finally:
        command.kill()
        client.close()
        proxy.close()
