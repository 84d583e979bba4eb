"""The composition root: every long-lived part of one celery-admin process, built once here, each
from the narrow parts it needs, and started and stopped in order.

`Runtime.build(settings)` wires the parts; `start()` and `stop()` run in the FastAPI lifespan (and
in `celery-admin collect`). Nothing else constructs these parts for the process: resolvers reach
them through the GraphQL context's typed accessors (schema/core/context.py), routes through
`app.state.runtime`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from celery import Celery
from redis import asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.audit.maintenance import AuditMaintenance
from src.audit.service import AuditService
from src.auth.access import Access
from src.auth.authenticator import Authenticator
from src.auth.failures import SignInActivity, failure_store_for
from src.auth.oidc import OidcVerifier
from src.auth.policy import Policy
from src.auth.revocation import Revocations
from src.auth.tokens import TokenService
from src.background import STEP_STOP_SECONDS, Background
from src.brokers import queue_backend_for
from src.bus import Channel, EventBus, NullBus
from src.bus.redis_bus import RedisBus
from src.cluster import load_cluster_app
from src.collector.collector import Collector, read_status
from src.collector.settle import Settler
from src.collector.stream_reader import StreamReader
from src.config import Settings
from src.control.inspector import Inspector
from src.control.plane import ControlPlane
from src.db.session import Database
from src.doctor import Doctor
from src.doctor.sources import Sources
from src.identity_settings import split_list
from src.monitoring import switch as _switch  # noqa: F401  (declares monitoring.enabled)
from src.monitoring.service import (
    DELIVERY_JOB,
    SAMPLER_INSPECT_THREADS,
    SAMPLER_JOB,
    Monitoring,
)
from src.monitoring.state import DEFAULT_NAMESPACE, state_store_for
from src.periodic.sample import BeatProbe
from src.periodic.service import Periodic
from src.process.bounded import StopBudget, stop_within
from src.queues.catalog import QueueCatalog
from src.security.rate_limit import Budgets, RateLimiter
from src.security.task_data import TaskDataRedactor, parse_roles
from src.system.config import ConfigStore
from src.system.encryption import Encryptor
from src.system.facts import SystemFacts
from src.system.health import HealthChecks
from src.task_store.query import TaskStore
from src.task_store.retention import TaskRetention
from src.workers.directory import WorkerDirectory

STOP_SECONDS = 6.5  # `stop()` in all; the commands promise to stop within 10 s of a signal


def _redis(url: str | None, *, socket_timeout: float) -> aioredis.Redis | None:
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return aioredis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=2)


def build_bus(settings: Settings, *, serves_subscribers: bool = True) -> EventBus:
    """The process's one event bus: Redis pub/sub (PUBSUB_URL, else a Redis broker), else none.

    A process that serves no subscribers (`collect`) only publishes: it subscribes to no channel,
    so it never reads back what it sends."""
    url = settings.pubsub_redis_url
    if url is None:
        return NullBus()
    return RedisBus(
        url,
        queue_size=settings.bus_queue_size,
        canary_interval=settings.bus_canary_interval,
        channels=tuple(Channel) if serves_subscribers else (),
    )


def _durable_parts(
    settings: Settings,
    collector: Collector,
    app: Celery,
    engine: AsyncEngine,
    inspector: Inspector,
    background: Background,
) -> None:
    """The stream reader (EVENT_SOURCE=stream) and the settler, run inside the collector's job."""
    if settings.event_source == "stream" and settings.stream_redis_url:
        redis = aioredis.Redis.from_url(settings.stream_redis_url, socket_timeout=10)
        collector.durable = StreamReader(redis, collector, shards=settings.event_stream_shards)
        background.on_close(redis.aclose)
    if settings.settle_interval > 0:
        collector.settler = Settler(
            engine,
            inspector,
            app,
            interval=settings.settle_interval,
            after=settings.settle_after,
        )


@dataclass
class Runtime:
    settings: Settings
    app: Celery
    tokens: TokenService
    revocations: Revocations
    task_data: TaskDataRedactor
    policy: Policy
    db: Database
    config: ConfigStore
    inspector: Inspector
    queues: QueueCatalog
    result_redis: aioredis.Redis | None
    # celery-admin's own cross-replica state (leader lease, worker registry, collector status,
    # revoke records, selections): PUBSUB_URL, else the result backend, when it is Redis.
    state_redis: aioredis.Redis | None
    bus: EventBus
    limiter: RateLimiter
    audit: AuditService
    tasks: TaskStore
    control: ControlPlane
    health: HealthChecks
    monitoring: Monitoring
    system: SystemFacts
    workers: WorkerDirectory
    periodic: Periodic
    doctor: Doctor
    collector: Collector | None
    background: Background
    # Sign-on and sign-in activity (issue 12): which verifier a token goes to, failures counted.
    authenticator: Authenticator | None = None
    access: Access | None = None

    @classmethod
    def build(cls, settings: Settings, *, serves_subscribers: bool = True) -> Runtime:
        app = load_cluster_app(settings)
        db = Database.from_url(settings.database_url)
        result_redis = _redis(str(app.conf.result_backend or ""), socket_timeout=2)
        state_url = settings.pubsub_redis_url or (
            str(app.conf.result_backend) if result_redis is not None else None
        )
        state_redis = _redis(state_url, socket_timeout=3)
        bus = build_bus(settings, serves_subscribers=serves_subscribers)
        config = ConfigStore(db, Encryptor.from_settings(settings))
        inspector = Inspector(
            app,
            timeout=settings.inspect_timeout,
            cache_ttl=settings.inspect_cache_ttl,
            concurrency=settings.control_concurrency,
        )

        def queue_catalog() -> QueueCatalog:
            return QueueCatalog(
                app, queue_backend_for(app, management_url=settings.rabbitmq_management_url)
            )

        queues = queue_catalog()
        # Pools of their own, so that viewers' queries cannot take every broker connection from
        # the sampler or from purge and revoke (src/security/pools.py).
        sampler_queues = queue_catalog()
        control_queues = queue_catalog()
        tasks = TaskStore(db)
        health = HealthChecks(queues.backend, result_redis, db)
        background = Background()
        control = ControlPlane(
            app=app,
            inspector=inspector,
            queues=control_queues,
            tasks=tasks,
            # revoke records and bulk selections live in the pub/sub Redis only
            redis=state_redis if settings.pubsub_redis_url else None,
            redis_url=settings.pubsub_redis_url,
            timeout=settings.inspect_timeout,
            remove_queued=settings.revoke_remove_queued,
        )
        background.on_close(sampler_queues.backend.close)
        background.on_close(control_queues.backend.close)
        background.on_worker_online(control.on_worker_online)  # revoke re-sends
        background.on_close(control.close)  # the mingle responder and the re-sends
        periodic = Periodic.build(
            settings, app=app, db=db, config=config, executor=inspector.executor
        )
        revocations = Revocations(state_redis)
        runtime = cls(
            settings=settings,
            app=app,
            tokens=TokenService(settings, revoked=revocations.is_revoked),
            revocations=revocations,
            policy=Policy(parse_roles(settings.task_data_roles)),
            task_data=TaskDataRedactor.from_setting(settings.task_data_redact_keys),
            db=db,
            config=config,
            inspector=inspector,
            queues=queues,
            result_redis=result_redis,
            state_redis=state_redis,
            bus=bus,
            limiter=RateLimiter(
                state_redis,
                Budgets(
                    subject=settings.rate_limit_subject_per_minute,
                    anonymous=settings.rate_limit_anonymous_per_minute,
                    denied=settings.rate_limit_denied_per_minute,
                ),
            ),
            audit=AuditService(db),
            tasks=tasks,
            control=control,
            health=health,
            monitoring=_monitoring(
                settings,
                app,
                db,
                bus,
                config,
                sampler_queues,
                health,
                inspector,
                beat=periodic,
                collector_status=partial(read_status, state_redis),
            ),
            system=SystemFacts(app, state_redis, started_at=time.time()),
            workers=WorkerDirectory(inspector, state_redis),
            periodic=periodic,
            doctor=Doctor(
                lambda: Sources(
                    app=app,
                    inspector=inspector,
                    db=db,
                    state_redis=state_redis,
                    operators_app=settings.celery_app is not None,
                )
            ),
            collector=None,
            background=background,
        )
        runtime.authenticator = _authenticator(settings, runtime.tokens, state_redis)
        runtime.monitoring.alerts.sign_ins = runtime.authenticator.activity
        runtime.access = Access(
            config,
            tasks,
            amr=split_list(settings.oidc_super_admin_amr),
            acr=split_list(settings.oidc_super_admin_acr),
            periodic=periodic.target,
        )
        background.on_close(runtime.monitoring.close)
        background.on_close(periodic.close)
        background.run_as_leader(SAMPLER_JOB, runtime.monitoring.sampler.run)
        background.run_as_leader(DELIVERY_JOB, runtime.monitoring.delivery.run)
        background.run_as_leader("task-retention", TaskRetention(db, config).run)
        background.run_as_leader("audit-maintenance", AuditMaintenance(db, config).run)
        if settings.collector_enabled:
            runtime.collector = Collector(
                engine=db.engine,
                app=app,
                broker_url=str(app.conf.broker_url),
                redis=state_redis,
                result_redis=result_redis,
                inspector=inspector,
                bus=bus,
                on_worker_online=background.worker_online,
                reader_options={
                    "ttl_seconds": settings.amqp_events_ttl_seconds,
                    "max_length": settings.amqp_events_max_length,
                    "queue": settings.amqp_events_queue,
                },
            )
            _durable_parts(settings, runtime.collector, app, db.engine, inspector, background)
            background.run_as_leader("collector", runtime.collector.run)
        return runtime

    def new_monitoring(self, *, namespace: str) -> Monitoring:
        """A second monitoring over this runtime's parts with its own shared-state namespace
        (tools and tests that must not race the process's own sampler). Close it after use."""
        return _monitoring(
            self.settings,
            self.app,
            self.db,
            self.bus,
            self.config,
            self.queues,
            self.health,
            self.inspector,
            namespace=namespace,
            beat=self.periodic,
        )

    async def start(self, *, discover_workers: bool = True) -> None:
        await self.bus.start()
        self.control.start()  # answers starting workers' mingle hello with the durable revokes
        self.background.spawn("token-revocations", self.revocations.run())
        self.background.spawn("audit-completions", self.audit.run_retries())
        self.background.start(
            state_redis=self.state_redis,
            lease_seconds=self.settings.leader_lease_seconds,
            discovery=self.inspector if discover_workers else None,
        )

    async def stop(self) -> None:
        """Stop everything, in order, within `STOP_SECONDS` in all; a step that overruns is logged
        and left behind rather than holding the process."""
        budget = StopBudget(STOP_SECONDS)
        self.control.stop_listening()  # its thread winds down meanwhile; the closer joins it
        await self.background.stop(budget)
        await stop_within(self.bus.stop(), budget.left(STEP_STOP_SECONDS), "the event bus")
        self.inspector.close()
        await stop_within(
            self.queues.backend.close(), budget.left(STEP_STOP_SECONDS), "queue lengths"
        )
        for name, redis in (("results", self.result_redis), ("state", self.state_redis)):
            if redis is not None:
                await stop_within(redis.aclose(), budget.left(STEP_STOP_SECONDS), f"{name} Redis")
        await stop_within(self.db.dispose(), budget.left(STEP_STOP_SECONDS), "the database")


def _authenticator(
    settings: Settings, tokens: TokenService, state_redis: aioredis.Redis | None
) -> Authenticator:
    activity = SignInActivity(
        failure_store_for(state_redis), new_source_days=settings.auth_new_source_days
    )
    oidc = (
        OidcVerifier(settings, leeway=settings.jwt_leeway_seconds)
        if settings.oidc_enabled()
        else None
    )
    return Authenticator(tokens, oidc, activity, local_issuer=settings.jwt_issuer)


def _monitoring(
    settings: Settings,
    app: Celery,
    db: Database,
    bus: EventBus,
    config: ConfigStore,
    queues: QueueCatalog,
    health: HealthChecks,
    api_inspector: Inspector,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    beat: BeatProbe | None = None,
    collector_status: Callable[[], Awaitable[dict[str, Any] | None]] | None = None,
) -> Monitoring:
    return Monitoring(
        state=state_store_for(settings.pubsub_redis_url, namespace=namespace),
        db=db,
        bus=bus,
        config=config,
        queues=queues,
        health=health,
        inspector=Inspector(
            app,
            timeout=settings.inspect_timeout,
            cache_ttl=settings.inspect_cache_ttl,
            concurrency=SAMPLER_INSPECT_THREADS,
        ),
        api_inspector=api_inspector,
        beat=beat,
        collector_status=collector_status,
    )


__all__ = ["Runtime", "build_bus"]
