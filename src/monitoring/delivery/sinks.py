"""Where alerts are delivered: the `alerts.sinks` configuration key, a validated JSON list.

```json
[
  {"name": "ops", "kind": "webhook", "url": "https://ops.example.com/hooks/celery",
   "secret": "a-long-random-hmac-key"},
  {"name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/XXXX",
   "min_severity": "critical"},
  {"name": "am", "kind": "alertmanager", "url": "http://alertmanager:9093",
   "basic_auth": {"username": "celery", "password": "..."}, "labels": {"team": "data"}}
]
```

Every sink has a unique `name`, may be switched off (`enabled`), filtered (`min_severity`, `rules`:
rule ids, empty for all; `send_resolved`), and bounds its sending (`timeout_seconds`) and retrying
(`max_attempts`, `backoff_seconds` doubling up to `max_backoff_seconds`). Secrets (the URLs, which
carry the tokens of Slack-style hooks, HMAC keys, passwords and extra header values) are declared
secret with the key, so the API, the audit trail and the logs show them masked.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from src.monitoring.alert_rules import Severity
from src.system.config import ConfigStore, declare
from src.system.secrets import SecretKind

MAX_SINKS = 20
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_HEADERS = {"content-type", "content-length", "host"}
RESERVED_PREFIX = "x-celery-admin-"
ALERTS_PATH = "/api/v2/alerts"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host")
    return value


def _headers(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIX):
            raise ValueError(f"header {name!r} is set by celery-admin")
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", name):
            raise ValueError(f"header name {name!r} is not a plain token")
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not LABEL_NAME.match(name):
            raise ValueError(f"label name {name!r} must match {LABEL_NAME.pattern}")
    return value


HttpUrl = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]
Headers = Annotated[dict[str, Annotated[str, Field(max_length=1024)]], AfterValidator(_headers)]


class _Sink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    enabled: bool = True
    min_severity: Severity = Severity.INFO
    rules: list[str] = Field(default_factory=list, max_length=200)
    send_resolved: bool = True
    timeout_seconds: float = Field(5.0, gt=0, le=30)
    max_attempts: int = Field(12, ge=1, le=100)
    backoff_seconds: float = Field(2.0, ge=0.05, le=3600)
    max_backoff_seconds: float = Field(300.0, ge=0.05, le=86400)
    headers: Headers = Field(default_factory=dict, max_length=20)
    url: HttpUrl

    def wants(self, rule_id: str, severity: Severity, event: str) -> bool:
        """Whether this sink is notified of `event` ("firing", "resolved") of such an alert."""
        if not self.enabled or severity.rank < self.min_severity.rank:
            return False
        if self.rules and rule_id not in self.rules:
            return False
        return event != "resolved" or self.send_resolved

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed ones."""
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempts - 1)))


class WebhookSink(_Sink):
    """Generic JSON webhook; with `secret`, each body is signed (HMAC-SHA256)."""

    kind: Literal["webhook"] = "webhook"
    secret: str | None = Field(None, min_length=16, max_length=512)


class SlackSink(_Sink):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat)."""

    kind: Literal["slack"] = "slack"
    channel: str | None = Field(None, max_length=80)
    username: str | None = Field(None, max_length=80)
    icon_emoji: str | None = Field(None, max_length=80)


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=512)


class AlertmanagerSink(_Sink):
    """Alertmanager's API (`POST {url}/api/v2/alerts`); firing alerts are re-sent every
    `resend_seconds` while active (Alertmanager resolves an alert nobody re-sends)."""

    kind: Literal["alertmanager"] = "alertmanager"
    basic_auth: BasicAuth | None = None
    labels: Annotated[dict[str, Annotated[str, Field(max_length=256)]], AfterValidator(_labels)] = (
        Field(default_factory=dict, max_length=20)
    )
    resend_seconds: float = Field(60.0, ge=5, le=3600)
    generator_url: HttpUrl | None = None

    def alerts_url(self) -> str:
        """The API endpoint under `url` (given as Alertmanager's base URL, or the endpoint)."""
        base = self.url.rstrip("/")
        return base if base.endswith(ALERTS_PATH) else base + ALERTS_PATH


Sink = WebhookSink | SlackSink | AlertmanagerSink
AlertSink = Annotated[Sink, Field(discriminator="kind")]
_SINKS = TypeAdapter(list[AlertSink])
SINK_KINDS = ("webhook", "slack", "alertmanager")


def _normalise(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sinks = _SINKS.validate_python(value)
    if len(sinks) > MAX_SINKS:
        raise ValueError(f"at most {MAX_SINKS} sinks")
    names = [s.name for s in sinks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate sink names: {', '.join(duplicates)}")
    return [s.model_dump(mode="json", exclude_none=True) for s in sinks]


ALERT_SINKS = declare(
    "alerts.sinks",
    Annotated[list[dict[str, Any]], AfterValidator(_normalise)],
    [],
    "Where alerts are delivered: a list of {name, kind: webhook|slack|alertmanager, url, ...}.",
    secrets={
        "*.url": SecretKind.URL,
        "*.secret": SecretKind.VALUE,
        "*.basic_auth.password": SecretKind.VALUE,
        "*.headers.*": SecretKind.VALUE,
    },
)


def parse_sinks(value: Any) -> list[Sink]:
    return list(_SINKS.validate_python(value or []))


async def load_sinks(config: ConfigStore) -> list[Sink]:
    """Every configured sink, enabled or not."""
    return parse_sinks(await config.get(ALERT_SINKS.name))


def scrub(sink: Sink, text: str) -> str:
    """`text` (an error, a receiver's answer) without this sink's secrets in it."""
    assert ALERT_SINKS.secrets is not None
    return ALERT_SINKS.secrets.scrub([sink.model_dump(mode="json")], text)


__all__ = [
    "ALERT_SINKS",
    "SINK_KINDS",
    "AlertSink",
    "AlertmanagerSink",
    "BasicAuth",
    "Sink",
    "SlackSink",
    "WebhookSink",
    "load_sinks",
    "parse_sinks",
    "scrub",
]
