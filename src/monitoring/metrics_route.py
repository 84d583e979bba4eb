"""The `GET /metrics` route (Prometheus), optionally behind a bearer token (METRICS_TOKEN)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import HTTPConnection

from src.auth.tokens import bearer_token
from src.collector.collector import read_status
from src.collector.stream_metrics import durable_exposition
from src.errors import Unauthenticated
from src.monitoring.prometheus import exposition

metrics_router = APIRouter()


@metrics_router.get("/metrics", tags=["system"], response_class=PlainTextResponse)
async def metrics(connection: HTTPConnection) -> Response:
    """Prometheus metrics from the monitoring leader's latest sample and task totals."""
    runtime = connection.app.state.runtime
    required = runtime.settings.metrics_token
    if runtime.settings.production and not (required and required.get_secret_value()):
        return PlainTextResponse(
            "metrics are off: the production profile needs METRICS_TOKEN\n",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if required is not None and required.get_secret_value():
        try:
            sent = bearer_token(connection.headers.get("authorization")) or ""
        except Unauthenticated:
            sent = ""
        if not hmac.compare_digest(sent.encode(), required.get_secret_value().encode()):
            return PlainTextResponse(
                "metrics require 'Authorization: Bearer <METRICS_TOKEN>'\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    body = await exposition(runtime.monitoring)
    body += durable_exposition(await read_status(runtime.state_redis))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


__all__ = ["metrics_router"]
