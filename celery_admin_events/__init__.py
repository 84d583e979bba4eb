"""celery-admin's worker-side extension: durable task events and exact arguments.

One line in your Celery configuration, where the app is created::

    import celery_admin_events
    celery_admin_events.install(app)

Workers then mirror every task event into capped Redis Streams (one per shard of worker
hostnames, see `layout.py`), and record each task's exact args/kwargs (JSON, size-capped,
redacted) when it is received. The collector reads them with `EVENT_SOURCE=stream`. The mirror
never blocks or breaks the worker: if Redis is down, events wait in a bounded buffer, then are
dropped and counted (see `mirror.py`). Task events are switched on (`worker_send_task_events`).

Settings (keyword arguments, else the environment, else the default):
`url` / EVENT_STREAM_URL (the app's broker), `shards` / EVENT_STREAM_SHARDS (4; the collector
must use the same), `maxlen` / EVENT_STREAM_MAXLEN (200000 entries per stream, approximate),
`max_args_bytes` / EVENT_ARGS_MAX_BYTES (65536).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery, signals
from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher

from celery_admin_events.capture import capture
from celery_admin_events.layout import DEFAULT_ARGS_MAX_BYTES, DEFAULT_MAXLEN, DEFAULT_SHARDS
from celery_admin_events.mirror import Mirror

_MIRRORS: dict[int, Mirror] = {}  # id(app) -> its mirror (one per process: see `_mirror_of`)
_CONF = "celery_admin_events"
_SEND_OPTIONS = frozenset({"blind", "utcoffset", "retry", "retry_policy", "Event"})


def install(
    app: Celery,
    *,
    url: str | None = None,
    shards: int | None = None,
    maxlen: int | None = None,
    max_args_bytes: int | None = None,
) -> None:
    """Mirror `app`'s task events into Redis Streams from every worker of it (idempotent)."""
    options = {
        "url": url or os.environ.get("EVENT_STREAM_URL") or None,
        "shards": shards or int(os.environ.get("EVENT_STREAM_SHARDS") or DEFAULT_SHARDS),
        "maxlen": maxlen or int(os.environ.get("EVENT_STREAM_MAXLEN") or DEFAULT_MAXLEN),
        "max_args_bytes": max_args_bytes
        or int(os.environ.get("EVENT_ARGS_MAX_BYTES") or DEFAULT_ARGS_MAX_BYTES),
    }
    app.conf[_CONF] = options
    app.conf.worker_send_task_events = True
    if not issubclass(app.events_cls if isinstance(app.events_cls, type) else Events, _Events):
        app.events_cls = _Events
        app.__dict__.pop("events", None)  # a cached Events made before install
    signals.task_received.connect(_on_received, weak=False, dispatch_uid="celery_admin_events")
    signals.worker_shutdown.connect(_on_shutdown, weak=False, dispatch_uid="celery_admin_events")


def _mirror_of(app: Celery) -> Mirror | None:
    """This process's mirror of `app` (a forked child gets its own writer thread)."""
    options = app.conf.get(_CONF)
    if not options:
        return None
    mirror = _MIRRORS.get(id(app))
    if mirror is None or mirror.pid != os.getpid():
        url = options["url"] or str(app.conf.broker_url or "")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return None
        mirror = _MIRRORS[id(app)] = Mirror(url, shards=options["shards"], maxlen=options["maxlen"])
    return mirror


class _Dispatcher(EventDispatcher):
    """Celery's event dispatcher, also handing each task event to the mirror."""

    def send(self, type: str, *args: Any, **fields: Any) -> Any:
        if self.enabled and type.startswith("task-"):
            fields.setdefault("timestamp", time.time())  # the same instant in both copies
            mirror = _mirror_of(self.app)
            if mirror is not None:
                event = {k: v for k, v in fields.items() if k not in _SEND_OPTIONS}
                event.update(type=type, hostname=self.hostname)
                mirror.put(self.hostname, event)
        return super().send(type, *args, **fields)


class _Events(Events):
    dispatcher_cls = f"{__name__}:_Dispatcher"


def _on_received(sender: Any = None, request: Any = None, **_: Any) -> None:
    """The exact call, as the worker decoded it from the message (main process)."""
    try:
        if request is None:
            return
        app = request.task.app
        mirror = _mirror_of(app)
        if mirror is None:
            return
        hostname = getattr(sender, "hostname", None) or request.hostname
        event = capture(request.args, request.kwargs, app.conf[_CONF]["max_args_bytes"])
        event.update(type="task-args", uuid=request.id, name=request.name, timestamp=time.time())
        delivery = request.delivery_info or {}  # task-received carries no queue: this does
        event.update(queue=delivery.get("routing_key"), exchange=delivery.get("exchange"))
        mirror.put(hostname, event)
    except Exception:  # never the worker's problem
        pass


def _on_shutdown(**_: Any) -> None:
    for mirror in list(_MIRRORS.values()):
        if mirror.pid == os.getpid():
            mirror.stop(timeout=2.0)


__all__ = ["install"]
