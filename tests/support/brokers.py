"""Which broker the suite's cluster runs on: `CELERY_ADMIN_TEST_BROKER=redis` (default) or `amqp`.

With `amqp` the session cluster (workers, the client app, the API's settings) uses the local
RabbitMQ (`TEST_RABBITMQ_URL`, default amqp://guest:guest@127.0.0.1:5672) in a fresh vhost made
for this test session through the management API (`TEST_RABBITMQ_MANAGEMENT_URL`) and deleted
after it, so two suites (or two helpers) never share queues. Results and the pub/sub bus stay on
the session Redis. Tests that start a Redis of their own (to stop it, say) keep their workers on
that Redis: only the session Redis is swapped for RabbitMQ as the broker (`broker_url_for`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import httpx

from src.embedded_redis import EmbeddedRedis

BrokerKind = Literal["redis", "amqp"]
RABBIT_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
RABBIT_MANAGEMENT_URL = os.environ.get(
    "TEST_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672"
)
# session Redis port -> the amqp URL standing in for it as the broker
_amqp_for_redis: dict[int, str] = {}


def broker_kind() -> BrokerKind:
    value = os.environ.get("CELERY_ADMIN_TEST_BROKER", "redis").strip().lower()
    if value not in ("redis", "amqp"):
        raise RuntimeError(f"CELERY_ADMIN_TEST_BROKER={value!r}: expected redis or amqp")
    return "amqp" if value == "amqp" else "redis"


def is_amqp() -> bool:
    return broker_kind() == "amqp"


def broker_url_for(redis: EmbeddedRedis) -> str:
    """The broker of a cluster whose Redis is `redis`: RabbitMQ's session vhost for the session
    Redis in an amqp run, else the Redis itself (db 0)."""
    return _amqp_for_redis.get(redis.port, f"{redis.url}/0")


def management_url_for(redis: EmbeddedRedis) -> str | None:
    """RABBITMQ_MANAGEMENT_URL for the cluster of `redis` (None on a Redis broker)."""
    return RABBIT_MANAGEMENT_URL if redis.port in _amqp_for_redis else None


def management_client() -> httpx.Client:
    """An HTTP client on RabbitMQ's management API, with its credentials."""
    parts = urlsplit(RABBIT_MANAGEMENT_URL)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
    return httpx.Client(
        base_url=base, auth=(parts.username or "guest", parts.password or "guest"), timeout=30
    )


def _wait_for_management(client: httpx.Client, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.get("/api/overview").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"RabbitMQ's management API does not answer at {RABBIT_MANAGEMENT_URL} "
                "(rabbitmq-plugins enable rabbitmq_management)"
            )
        time.sleep(0.5)


def create_vhost(name: str) -> None:
    """The vhost, with full permissions for RabbitMQ's user (also to bring one back)."""
    user = urlsplit(RABBIT_URL).username or "guest"
    path = quote(name, safe="")
    with management_client() as client:
        _wait_for_management(client)
        client.put(f"/api/vhosts/{path}").raise_for_status()
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        client.put(f"/api/permissions/{path}/{user}", json=permissions).raise_for_status()


def delete_vhost(name: str) -> None:
    """Delete the vhost, queues and all: its connections are closed (a broker outage for them)."""
    with management_client() as client:
        client.delete(f"/api/vhosts/{quote(name, safe='')}")


def vhost_of(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


@contextmanager
def rabbitmq_vhost(prefix: str = "celery-admin-test") -> Iterator[str]:
    """A fresh vhost with full permissions for RabbitMQ's user; deleted (queues and all) after."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    create_vhost(name)
    try:
        yield name
    finally:
        delete_vhost(name)


def amqp_url(vhost: str) -> str:
    return f"{RABBIT_URL}/{quote(vhost, safe='')}"


@contextmanager
def session_broker(redis: EmbeddedRedis) -> Iterator[str]:
    """The session cluster's broker URL: the session Redis, or (amqp run) a fresh vhost."""
    if not is_amqp():
        yield f"{redis.url}/0"
        return
    with rabbitmq_vhost() as vhost:
        _amqp_for_redis[redis.port] = amqp_url(vhost)
        try:
            yield _amqp_for_redis[redis.port]
        finally:
            _amqp_for_redis.pop(redis.port, None)


__all__ = [
    "RABBIT_MANAGEMENT_URL",
    "RABBIT_URL",
    "BrokerKind",
    "amqp_url",
    "broker_kind",
    "broker_url_for",
    "create_vhost",
    "delete_vhost",
    "is_amqp",
    "management_client",
    "management_url_for",
    "rabbitmq_vhost",
    "session_broker",
    "vhost_of",
]
