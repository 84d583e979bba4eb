"""The `GET /metrics` route (Prometheus), optionally behind a bearer token (METRICS_TOKEN)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import HTTPConnection

from src.auth.tokens import bearer_token
from src.errors import Unauthenticated
from src.monitoring.prometheus import exposition
from src.monitoring.runtime import monitoring_for

metrics_router = APIRouter()


@metrics_router.get("/metrics", tags=["system"], response_class=PlainTextResponse)
async def metrics(connection: HTTPConnection) -> Response:
    """Prometheus metrics from the monitoring leader's latest sample and task totals."""
    services = connection.app.state.services
    required = services.settings.metrics_token
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
    body = await exposition(monitoring_for(services))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


__all__ = ["metrics_router"]
