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

from src.identity_settings import IdentitySettings
from src.security.masking import SETTING_SECRET

MIN_SECRET_BYTES = 32  # HS256 keys shorter than the hash are guessable offline

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Settings(IdentitySettings, BaseSettings):
    """All configuration. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)

    # The seed's names.
    redis_host: str = "localhost"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_db_broker: int = Field(0, ge=0, le=15)
    redis_db_backend: int = Field(1, ge=0, le=15)
    redis_password: SecretStr | None = None
    celery_log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text", description="json: one JSON object per line (ELK, Loki), see src/logs"
    )

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
    jwt_max_lifetime_seconds: int = Field(
        12 * 3600,
        ge=60,
        le=366 * 24 * 3600,
        description="tokens whose exp - iat is longer are refused; `token` mints at most this",
    )
    state_dir: Path = Path(".celery-admin")
    trusted_proxies: str = Field("", description="comma-separated IPs whose X-Forwarded-For counts")
    allowed_origins: str = Field("*", description="comma-separated WebSocket origins, * for any")
    metrics_token: SecretStr | None = Field(
        None, description="when set, GET /metrics requires 'Authorization: Bearer <token>'"
    )

    # Task data (args, kwargs, results, exceptions, tracebacks; the `text` filter): who may see
    # it, and which keys inside it stay masked even for them (src/security/task_data.py).
    task_data_roles: str = Field(
        "admin", description="the lowest role that may see task data (and every role above it)"
    )
    task_data_redact_keys: str = Field(
        "password,passwd,pwd,passphrase,secret,token,api_key,apikey,authorization,auth,"
        "credential,private_key,access_key,secret_key,signing_key,fernet_key,signature,cookie,"
        "session,dsn",
        description="comma-separated key words whose values are masked inside task data",
    )
    # Exposure (src/security): what one request may cost, and the production profile.
    celery_admin_env: Literal["development", "production"] = Field(
        "development",
        description="production: no GraphiQL, /docs, suggestions or non-admin introspection; "
        "/metrics needs METRICS_TOKEN; WebSockets same-origin unless ALLOWED_ORIGINS lists them",
    )
    max_request_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_json_depth: int = Field(32, ge=4, le=512)
    request_deadline_seconds: float = Field(
        30.0, gt=0, le=600, description="HTTP requests and WebSocket queries/mutations"
    )
    ws_init_timeout_seconds: float = Field(
        10.0, gt=0, le=600, description="a WebSocket without connection_init is closed 4408"
    )
    max_query_fields: int = Field(1000, ge=10, le=100_000, description="fragments expanded")
    max_query_selections: int = Field(100, ge=5, le=10_000, description="fields in one set")
    max_query_cost: int = Field(20_000, ge=10, le=10_000_000)
    max_query_recursion: int = Field(2, ge=1, le=10, description="e.g. task.children.children")
    rate_limit_subject_per_minute: int = Field(1200, ge=1)
    rate_limit_anonymous_per_minute: int = Field(120, ge=1, description="per IP")
    rate_limit_denied_per_minute: int = Field(20, ge=1, description="per IP")
    rate_limit_tarpit_seconds: float = Field(
        1.0,
        ge=0,
        le=30,
        description="a blocked address's refusals are answered after this (0: at once), so "
        "that each of its connections costs one request a period, not a busy loop",
    )

    # Control and inspect.
    inspect_timeout: float = Field(1.0, gt=0, le=30)
    inspect_cache_ttl: float = Field(1.0, ge=0, le=60)
    control_concurrency: int = Field(4, ge=1, le=32)
    revoke_remove_queued: bool = Field(
        True, description="on revoke, also delete the task's waiting message (Redis brokers)"
    )

    # RabbitMQ brokers: the management HTTP API (queue list, rates, prefetch, peek) and the
    # collector's own event queue, bounded so a collector that is gone cannot fill the broker.
    rabbitmq_management_url: str | None = Field(
        None, description="e.g. http://user:pass@rabbit:15672 (the broker URL's vhost is used)"
    )
    amqp_events_ttl_seconds: float = Field(
        3600.0, gt=0, le=7 * 86400, description="how long an uncollected event is kept (RabbitMQ)"
    )
    amqp_events_queue: str = Field(
        "celery-admin.events",
        min_length=1,
        max_length=200,
        description="the collector's queue; one per deployment watching the same vhost",
    )
    amqp_events_max_length: int = Field(
        1_000_000, ge=1000, le=100_000_000, description="events kept at most while uncollected"
    )

    # Periodic tasks (src/periodic): where RedBeat and django-celery-beat keep their entries.
    redbeat_redis_url: str | None = Field(
        None, description="RedBeat's Redis; default: CELERY_APP's redbeat_redis_url, if any"
    )
    redbeat_key_prefix: str | None = Field(None, description="default: CELERY_APP's, or redbeat:")
    django_beat_database_url: str | None = Field(
        None, description="the database holding django-celery-beat's tables (postgresql, sqlite)"
    )

    # Event collection (a leader job: one process of the deployment collects at a time).
    collector_enabled: bool = True
    leader_lease_seconds: float = Field(10.0, ge=1, le=300)
    # Durable mode (celery_admin_events on the workers): task events from capped Redis Streams.
    event_source: Literal["pubsub", "stream"] = Field(
        "pubsub", description="pubsub: Celery's events as they fly; stream: the durable streams"
    )
    event_stream_url: str | None = Field(None, description="the streams' Redis; default: broker")
    event_stream_shards: int = Field(4, ge=1, le=1024, description="as the workers' setting")
    settle_interval: float = Field(
        60.0, ge=0, le=86_400, description="seconds between settling rounds; 0: never"
    )
    settle_after: float = Field(
        120.0, ge=5, le=86_400, description="silence before a STARTED/RECEIVED task is checked"
    )

    @field_validator("rabbitmq_management_url")
    @classmethod
    def _http_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s):// URL (http://user:pass@rabbit:15672)")
        return value or None

    @field_validator("celery_broker_url", "celery_result_backend", "pubsub_url")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError(f"{value!r} is not a URL (expected e.g. redis://host:6379/0)")
        return value or None

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secrets(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        keys = text.split(",")
        if not text.strip() or any(not k.strip() for k in keys):
            raise ValueError("an empty or whitespace-only key (unset JWT_SECRET to use none)")
        for key in keys:
            if key != key.strip() or any(c.isspace() for c in key):
                raise ValueError("a key with whitespace in it (use openssl rand -hex 32)")
            if len(key.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"a key shorter than {MIN_SECRET_BYTES} bytes (use openssl rand -hex 32)"
                )
        return value

    @field_validator("task_data_roles")
    @classmethod
    def _roles(cls, value: str) -> str:
        from src.auth.roles import Role

        for part in value.split(","):
            if part.strip():
                Role.parse(part)
        return value

    @field_validator("redbeat_redis_url", "event_stream_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a Redis URL (redis://host:6379/0)")
        return value or None

    @field_validator("django_beat_database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql", "sqlite")):
            raise ValueError("not a postgresql:// or sqlite:// database URL")
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
    def stream_redis_url(self) -> str | None:
        """Where the durable streams are: EVENT_STREAM_URL, else the broker when it is Redis."""
        if self.event_stream_url:
            return self.event_stream_url
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    @property
    def pubsub_redis_url(self) -> str | None:
        """Where subscriptions travel: PUBSUB_URL, else the broker when it is Redis."""
        if self.pubsub_url:
            return self.pubsub_url
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    def hs256_keys(self) -> list[str]:
        """Verification keys for HS256: JWT_SECRET's; with no key configured at all (neither
        JWT_SECRET nor RS256 keys), a per-installation key on disk. With RS256 keys alone there
        are none (and no file is created): HS and RS never mix unless both are configured."""
        if self.jwt_secret is not None:
            return [k for k in self.jwt_secret.get_secret_value().split(",") if k]
        if self.jwt_public_keys or self.jwt_private_key:
            return []
        return [_local_secret(self.state_dir)]

    def trusted_proxy_set(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    def allowed_origin_list(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def production(self) -> bool:
        return self.celery_admin_env == "production"


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
    """Read the environment; raise ConfigError with one line per bad variable, naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            secret = SETTING_SECRET.search(name) and not name.endswith("_URL")
            shown = "<hidden>" if secret else repr(error.get("input"))
            lines.append(f"invalid setting {name}={shown}: {error['msg']}")
        raise ConfigError("\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


__all__ = [
    "MIN_SECRET_BYTES",
    "ConfigError",
    "LogLevel",
    "Settings",
    "get_settings",
    "load_settings",
]
