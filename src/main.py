"""The FastAPI app: GraphQL (with GraphiQL) at /celery-admin/graphql, REST health and info.

`uv run fastapi dev src/main.py` serves it; so does `celery-admin serve`.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from schema.context import Context
from schema.root import schema
from schema.transport import CeleryAdminRouter
from src import __version__
from src.config import ConfigError, Settings, get_settings
from src.db.schema_check import ensure_schema_current
from src.health import check_components
from src.monitoring.metrics_route import metrics_router
from src.monitoring.runtime import install as install_monitoring
from src.services import Services

log = logging.getLogger("celery_admin")

GRAPHQL_PATH = "/celery-admin/graphql"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; services start in the lifespan so importing this module has no effects."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings)
        try:
            await ensure_schema_current(services.engine, settings)
        except ConfigError as exc:
            log.error("%s", exc)
            await services.stop()
            raise SystemExit(1) from None
        app.state.services = services
        install_monitoring(services)  # the sampler, a leader job
        await services.start()
        # Everything built so far lives as long as the process: keep the cyclic GC from walking
        # it again and again (its pauses showed in the subscription fan-out's p99).
        gc.freeze()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="celery-admin",
        version=__version__,
        lifespan=lifespan,
        docs_url="/celery-admin/docs",
        openapi_url="/celery-admin/openapi.json",
    )

    async def context_getter(connection: HTTPConnection) -> Context:
        return Context(connection.app.state.services)

    graphql = CeleryAdminRouter(
        schema,
        context_getter=context_getter,
        graphql_ide="graphiql",
        multipart_uploads_enabled=False,
        allowed_origins=settings.allowed_origin_list(),
    )
    app.include_router(graphql, prefix=GRAPHQL_PATH)
    app.include_router(metrics_router)

    @app.get("/celery-admin/system/health", tags=["system"])
    async def health(connection: HTTPConnection) -> JSONResponse:
        """200 when every dependency answers, 503 naming those that do not (for probes)."""
        components = await check_components(connection.app.state.services)
        failing = [c.name for c in components if not c.ok]
        body = {
            "status": "ok" if not failing else "unhealthy",
            "failing": failing,
            "components": {c.name: {"ok": c.ok, "detail": c.detail} for c in components},
        }
        return JSONResponse(body, status_code=503 if failing else 200)

    @app.get("/celery-admin/system/info", tags=["system"])
    async def info(connection: HTTPConnection) -> dict[str, object]:
        """Name, version and uptime; open to anyone."""
        started = connection.app.state.services.started_at
        return {
            "name": "celery-admin",
            "version": __version__,
            "uptime_seconds": round(time.time() - started, 3),
            "graphql": GRAPHQL_PATH,
        }

    return app


# `fastapi dev src/main.py` and `uvicorn src.main:app` serve this; building it reads settings only.
app = create_app()

__all__ = ["GRAPHQL_PATH", "app", "create_app"]
