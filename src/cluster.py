"""The Celery app object celery-admin talks to the managed cluster through.

With CELERY_APP it is the operator's own app (so its queues, routes and serializers are known);
otherwise a bare app built from the broker URL, which is enough for control, inspect, events and
queue lengths on any cluster.

Whatever the app says, celery-admin reads only JSON from the broker (control replies, results,
events): a pickled or YAML message is code, and anyone who can write to the broker could run it
inside celery-admin. A cluster whose tasks use pickle still works; their pickled arguments and
results are shown as opaque (src/security/opaque.py), never decoded.
"""

from __future__ import annotations

import importlib

from celery import Celery
from kombu.serialization import prepare_accept_content

from src.config import ConfigError, Settings


def load_cluster_app(settings: Settings, *, pool_limit: int | None = None) -> Celery:
    app = _import_app(settings.celery_app) if settings.celery_app else _bare_app(settings)
    if settings.celery_app and settings.celery_broker_url:
        app.conf.broker_url = settings.celery_broker_url
    # Control replies are read by polling with the Redis transport; poll fast so a short inspect
    # timeout does not lose replies. A pool twice the control concurrency never starves.
    options = dict(app.conf.broker_transport_options or {})
    options.setdefault("polling_interval", 0.05)
    app.conf.broker_transport_options = options
    app.conf.broker_pool_limit = max(pool_limit or 0, 2 * settings.control_concurrency + 2)
    app.conf.broker_connection_timeout = 2.0
    app.conf.broker_connection_retry = False
    app.conf.broker_connection_max_retries = 0
    json_only(app)
    return app


READ_CONTENT = ["json"]


def json_only(app: Celery) -> None:
    """Make every channel this process reads from the broker accept JSON alone: the control
    mailbox (replies to inspect and control, and the commands our mingle node answers), the
    result backend, and events. Sending keeps the app's serializers (workers decode those)."""
    app.conf.accept_content = list(READ_CONTENT)
    app.conf.result_accept_content = list(READ_CONTENT)
    app.conf.event_serializer = "json"
    # The mailbox may already exist (the app's module touched `app.control`): set it there too.
    accept = prepare_accept_content(READ_CONTENT)
    app.control.mailbox.accept = accept
    backend = getattr(getattr(app, "_local", None), "backend", None)  # built at import, if at all
    if backend is not None:
        backend.accept = accept


def _bare_app(settings: Settings) -> Celery:
    app = Celery("celery-admin", set_as_current=False)
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        result_extended=True,
        accept_content=["json"],
        task_serializer="json",
    )
    return app


def _import_app(path: str) -> Celery:
    module_name, _, attr = path.partition(":")
    if not attr:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        app = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"invalid setting CELERY_APP={path!r}: cannot import it ({exc})"
        ) from None
    if not isinstance(app, Celery):
        raise ConfigError(f"invalid setting CELERY_APP={path!r}: not a Celery app")
    return app


__all__ = ["READ_CONTENT", "json_only", "load_cluster_app"]
