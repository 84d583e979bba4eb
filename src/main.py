"""The FastAPI app: GraphQL (with GraphiQL) at /celery-admin/graphql, REST health and info.

`uv run fastapi dev src/main.py` serves it; so does `celery-admin serve`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from schema.core.context import Context
from schema.core.transport import CeleryAdminRouter
from schema.root import schema
from src import __version__
from src.config import ConfigError, Settings, get_settings
from src.dashboard.graphiql import use_local_graphiql
from src.dashboard.routes import mount_dashboard
from src.db.schema_check import ensure_schema_current
from src.logs.middleware import RequestIdMiddleware
from src.monitoring.metrics_route import metrics_router
from src.runtime import Runtime
from src.security.body import BodyLimit
from src.security.logs import install_log_masking
from src.security.production import anonymous_health, websocket_origins
from src.security.shield import FloodShield, runtime_limiter
from src.system.degraded import degraded_reasons

log = logging.getLogger("celery_admin")

GRAPHQL_PATH = "/celery-admin/graphql"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the runtime starts in the lifespan so importing this module has no effects."""
    settings = settings or get_settings()
    install_log_masking()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings)
        try:
            await ensure_schema_current(runtime.db.engine, settings)
        except ConfigError as exc:
            log.error("%s", exc)
            await runtime.stop()
            raise SystemExit(1) from None
        app.state.runtime = runtime
        await runtime.start()
        # Everything built so far lives as long as the process: keep the cyclic GC from walking
        # it again and again (its pauses showed in the subscription fan-out's p99).
        gc.freeze()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="celery-admin",
        version=__version__,
        lifespan=lifespan,
        docs_url=None if settings.production else "/celery-admin/docs",
        openapi_url=None if settings.production else "/celery-admin/openapi.json",
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)

    async def context_getter(connection: HTTPConnection) -> Context:
        return Context(connection.app.state.runtime)

    graphql = CeleryAdminRouter(
        schema,
        context_getter=context_getter,
        graphql_ide=None if settings.production else "graphiql",
        multipart_uploads_enabled=False,
        allowed_origins=websocket_origins(settings),
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
    )
    graphql.max_json_depth = settings.max_json_depth
    if not settings.production:
        use_local_graphiql(graphql, settings.trusted_proxy_set())
    app.include_router(graphql, prefix=GRAPHQL_PATH)
    mount_dashboard(app, settings)
    app.include_router(metrics_router)
    app.add_middleware(RequestIdMiddleware)
    # Outermost (added last): a blocked address's token-less requests cost no routing, no body
    # read, no Redis round trip (src/security/shield.py).
    app.add_middleware(
        FloodShield,
        path=GRAPHQL_PATH,
        trusted_proxies=settings.trusted_proxy_set(),
        limiter=runtime_limiter,
        tarpit_seconds=settings.rate_limit_tarpit_seconds,
    )

    @app.get("/celery-admin/system/health", tags=["system"])
    async def health(connection: HTTPConnection) -> JSONResponse:
        """200 when every dependency answers, 503 naming those that do not (for probes); in
        production only the status, unless the caller sends a valid token. `degraded` says
        what works in a lesser way meanwhile (e.g. rate limits counted per process)."""
        runtime = connection.app.state.runtime
        components = await runtime.health.check()
        failing = [c.name for c in components if not c.ok]
        if settings.production and anonymous_health(runtime.tokens, connection.headers):
            short = {"status": "ok" if not failing else "unhealthy"}
            return JSONResponse(short, status_code=503 if failing else 200)
        body = {
            "status": "ok" if not failing else "unhealthy",
            "failing": failing,
            "components": {c.name: {"ok": c.ok, "detail": c.detail} for c in components},
            # serving, but not as configured (no probe should restart the process for it)
            "degraded": degraded_reasons(runtime.limiter),
        }
        return JSONResponse(body, status_code=503 if failing else 200)

    @app.get("/celery-admin/system/info", tags=["system"])
    async def info(connection: HTTPConnection) -> dict[str, object]:
        """Name, version and uptime; open to anyone."""
        return {
            "name": "celery-admin",
            "version": __version__,
            "uptime_seconds": connection.app.state.runtime.system.uptime_seconds(),
            "graphql": GRAPHQL_PATH,
        }

    return app


# `fastapi dev src/main.py` and `uvicorn src.main:app` serve this; building it reads settings only.
app = create_app()

__all__ = ["GRAPHQL_PATH", "app", "create_app"]
