"""The production profile (CELERY_ADMIN_ENV=production): what a deployment on a network turns off.

GraphiQL, /docs and the OpenAPI document are not served; validation messages carry no field
suggestions ("Did you mean ...?" names fields to a stranger); introspection needs an admin;
/metrics needs METRICS_TOKEN (without one it answers 401); WebSocket handshakes from another
origin are refused unless ALLOWED_ORIGINS lists it (a "*" counts for nothing); the health route
answers 200/503 with the status alone to callers without a valid token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from src.auth.tokens import TokenService, bearer_token
from src.config import Settings
from src.errors import Unauthenticated

_SUGGESTION = re.compile(r"\s*Did you mean .*\?\s*$", re.DOTALL)


def websocket_origins(settings: Settings) -> list[str]:
    origins = settings.allowed_origin_list()
    return [o for o in origins if o != "*"] if settings.production else origins


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


def anonymous_health(tokens: TokenService, headers: Mapping[str, str]) -> bool:
    """True unless the caller sends a token that verifies."""
    try:
        token = bearer_token(headers.get("authorization"))
        return token is None or tokens.verify(token) is None
    except Unauthenticated:
        return True


__all__ = ["anonymous_health", "websocket_origins", "without_suggestions"]
