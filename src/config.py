"""Settings from the environment, with the seed's names (REDIS_HOST, REDIS_PORT, ...).

Everything has an embedded default so `celery-admin demo` runs with no configuration; a bad value
fails at start-up with one clear line (see `load_settings`).
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Settings(BaseSettings):
    """All configuration. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)

    # The seed's names.
    redis_host: str = "localhost"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_db_broker: int = Field(0, ge=0, le=15)
    redis_db_backend: int = Field(1, ge=0, le=15)
    redis_password: SecretStr | None = None
    celery_log_level: LogLevel = "INFO"

    # The cluster to manage: a full broker URL overrides the REDIS_* parts; the import path of the
    # operator's own Celery app is optional (with only a broker URL everything still works).
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    celery_app: str | None = Field(None, description="e.g. 'proj.celery:app'")

    # Our own services.
    database_url: str = "sqlite+aiosqlite:///./.celery-admin/celery_admin.db"
    pubsub_url: str | None = Field(None, description="Redis URL for subscriptions; default: broker")
    bus_queue_size: int = Field(256, ge=1, le=100_000, description="messages held per subscriber")
    bus_canary_interval: float = Field(2.0, gt=0, le=60, description="seconds between canaries")

    # Authentication.
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 keys, comma-separated; the first signs, all verify"
    )
    jwt_public_keys: str | None = Field(None, description="RS256 PEM files, comma-separated")
    jwt_private_key: str | None = Field(None, description="RS256 PEM file used by `token`")
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(10, ge=0, le=300)
    state_dir: Path = Path(".celery-admin")
    trusted_proxies: str = Field("", description="comma-separated IPs whose X-Forwarded-For counts")
    allowed_origins: str = Field("*", description="comma-separated WebSocket origins, * for any")
    metrics_token: SecretStr | None = Field(
        None, description="when set, GET /metrics requires 'Authorization: Bearer <token>'"
    )

    # Control and inspect.
    inspect_timeout: float = Field(1.0, gt=0, le=30)
    inspect_cache_ttl: float = Field(1.0, ge=0, le=60)
    control_concurrency: int = Field(4, ge=1, le=32)

    # Event collection (a leader job: one process of the deployment collects at a time).
    collector_enabled: bool = True
    leader_lease_seconds: float = Field(10.0, ge=1, le=300)

    @field_validator("celery_broker_url", "celery_result_backend", "pubsub_url")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError(f"{value!r} is not a URL (expected e.g. redis://host:6379/0)")
        return value or None

    @field_validator("celery_app")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value and not all(part.isidentifier() for part in value.replace(":", ".").split(".")):
            raise ValueError(f"{value!r} is not an import path like 'proj.celery:app'")
        return value or None

    def _redis_url(self, db: int) -> str:
        auth = ""
        if self.redis_password is not None and self.redis_password.get_secret_value():
            auth = f":{quote(self.redis_password.get_secret_value(), safe='')}@"
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{db}"

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self._redis_url(self.redis_db_broker)

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self._redis_url(self.redis_db_backend)

    @property
    def pubsub_redis_url(self) -> str | None:
        """Where subscriptions travel: PUBSUB_URL, else the broker when it is Redis."""
        if self.pubsub_url:
            return self.pubsub_url
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    def hs256_keys(self) -> list[str]:
        """Verification keys for HS256; with none configured, a per-installation key on disk."""
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value().strip():
            keys = [k.strip() for k in self.jwt_secret.get_secret_value().split(",")]
            return [k for k in keys if k]
        return [_local_secret(self.state_dir)]

    def trusted_proxy_set(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    def allowed_origin_list(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]


def _local_secret(state_dir: Path) -> str:
    """A random signing key kept in the state directory, so `token` and `serve` agree."""
    path = state_dir / "jwt-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        state_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret)
        return secret


def load_settings() -> Settings:
    """Read the environment; raise ConfigError with one line naming the bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        value = first.get("input")
        raise ConfigError(f"invalid setting {name}={value!r}: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


__all__ = ["ConfigError", "LogLevel", "Settings", "get_settings", "load_settings"]
