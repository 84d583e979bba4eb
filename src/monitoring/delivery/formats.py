"""The HTTP request each kind of sink receives for a notification.

- webhook: our JSON document (below), `Content-Type: application/json`; with a `secret`, signed:
  `X-Celery-Admin-Timestamp: <unix seconds>` and
  `X-Celery-Admin-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`. A receiver
  recomputes the HMAC over the raw body it received, compares in constant time, and rejects a
  timestamp too far from its clock (replays). The body is the same on every attempt.
- slack: an incoming-webhook message (`text` plus one coloured attachment with the fields), which
  Slack, Mattermost and Rocket.Chat accept.
- alertmanager: `POST {url}/api/v2/alerts` with a list of one alert: labels (`alertname` = the
  rule id, `severity`, `kind`, `subject`, `source="celery-admin"`, plus the sink's own labels),
  annotations (`summary`, `value`, `threshold`), `startsAt`, and `endsAt`: the resolve time for a
  resolved alert, else four re-send intervals ahead (re-sent while active, see deliverer.py).

Every request carries `X-Celery-Admin-Notification` (the notification's id: drop repeats by it),
`X-Celery-Admin-Event` and `X-Celery-Admin-Attempt`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from src import __version__
from src.monitoring.alert_rules import Severity
from src.monitoring.alerts import Alert
from src.monitoring.delivery.notification import RESOLVED, TEST, Notification
from src.monitoring.delivery.sinks import AlertmanagerSink, SlackSink, WebhookSink
from src.monitoring.delivery.sinks import Sink as AnySink

SIGNATURE_HEADER = "X-Celery-Admin-Signature"
TIMESTAMP_HEADER = "X-Celery-Admin-Timestamp"
NOTIFICATION_HEADER = "X-Celery-Admin-Notification"
EVENT_HEADER = "X-Celery-Admin-Event"
ATTEMPT_HEADER = "X-Celery-Admin-Attempt"
SOURCE = "celery-admin"
ENDS_AFTER_RESENDS = 4
COLORS = {Severity.INFO: "#439fe0", Severity.WARNING: "#daa038", Severity.CRITICAL: "#d00000"}
RESOLVED_COLOR = "#2eb67d"


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    headers: dict[str, str]
    body: bytes


def _dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds, as text)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (in its own language): recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def alert_document(alert: Alert) -> dict[str, Any]:
    return {
        "key": alert.key,
        "rule_id": alert.rule_id,
        "kind": alert.kind,
        "severity": alert.severity.value,
        "subject": alert.subject,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "raised_at": _iso(alert.raised_at),
        "resolved_at": _iso(alert.resolved_at) if alert.resolved_at else None,
        "details": alert.details,
    }


def webhook_document(notification: Notification) -> dict[str, Any]:
    return {
        "version": 1,
        "source": SOURCE,
        "id": notification.id,
        "event": notification.event,
        "alert": alert_document(notification.alert),
    }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


def slack_document(sink: SlackSink, notification: Notification) -> dict[str, Any]:
    alert = notification.alert
    if notification.event == RESOLVED:
        emoji, word, color = ":white_check_mark:", "RESOLVED", RESOLVED_COLOR
    elif notification.event == TEST:
        emoji, word, color = ":wave:", "TEST", COLORS[Severity.INFO]
    else:
        emoji = ":rotating_light:" if alert.severity is Severity.CRITICAL else ":warning:"
        word, color = "FIRING", COLORS[alert.severity]
    subject = f" ({alert.subject})" if alert.subject else ""
    text = f"{emoji} [{word}] {alert.severity.value} {alert.rule_id}{subject}: {alert.message}"
    fields = [
        {"title": "Rule", "value": alert.rule_id, "short": True},
        {"title": "Severity", "value": alert.severity.value, "short": True},
    ]
    if alert.subject:
        fields.append({"title": "Subject", "value": alert.subject, "short": True})
    if alert.value is not None or alert.threshold is not None:
        fields.append(
            {
                "title": "Value / threshold",
                "value": f"{_number(alert.value)} / {_number(alert.threshold)}",
                "short": True,
            }
        )
    fields.append({"title": "Raised", "value": _iso(alert.raised_at), "short": True})
    if alert.resolved_at:
        fields.append({"title": "Resolved", "value": _iso(alert.resolved_at), "short": True})
    document: dict[str, Any] = {
        "text": text,
        "attachments": [
            {
                "fallback": text,
                "color": color,
                "title": f"[{word}] {alert.rule_id}{subject}",
                "text": alert.message,
                "fields": fields,
                "footer": SOURCE,
                "ts": int((alert.resolved_at or alert.raised_at).timestamp()),
            }
        ],
    }
    for option in ("channel", "username", "icon_emoji"):
        if getattr(sink, option):
            document[option] = getattr(sink, option)
    return document


def alertmanager_alert(
    sink: AlertmanagerSink, alert: Alert, event: str, now: datetime
) -> dict[str, Any]:
    labels = {
        **sink.labels,
        "alertname": alert.rule_id,
        "severity": alert.severity.value,
        "kind": alert.kind,
        "source": SOURCE,
    }
    if alert.subject:
        labels["subject"] = alert.subject
    annotations = {"summary": alert.message, "alert_key": alert.key}
    if alert.value is not None:
        annotations["value"] = _number(alert.value)
    if alert.threshold is not None:
        annotations["threshold"] = _number(alert.threshold)
    if event == RESOLVED and alert.resolved_at is not None:
        ends = alert.resolved_at
    else:
        ends = now + timedelta(seconds=sink.resend_seconds * ENDS_AFTER_RESENDS)
    document: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _iso(alert.raised_at),
        "endsAt": _iso(ends),
    }
    if sink.generator_url:
        document["generatorURL"] = sink.generator_url
    return document


def _auth(sink: AnySink) -> dict[str, str]:
    if isinstance(sink, AlertmanagerSink) and sink.basic_auth is not None:
        pair = f"{sink.basic_auth.username}:{sink.basic_auth.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def build_request(
    sink: AnySink, notification: Notification, *, attempt: int, now: datetime
) -> Request:
    headers = {
        **sink.headers,
        **_auth(sink),
        "Content-Type": "application/json",
        "User-Agent": f"{SOURCE}/{__version__}",
        NOTIFICATION_HEADER: notification.id,
        EVENT_HEADER: notification.event,
        ATTEMPT_HEADER: str(attempt),
    }
    if isinstance(sink, WebhookSink):
        body = _dumps(webhook_document(notification))
        if sink.secret:
            timestamp = str(int(now.timestamp()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(sink.secret, timestamp, body)
        return Request(sink.url, headers, body)
    if isinstance(sink, SlackSink):
        return Request(sink.url, headers, _dumps(slack_document(sink, notification)))
    document = alertmanager_alert(sink, notification.alert, notification.event, now)
    if notification.event == TEST:
        document["endsAt"] = _iso(now + timedelta(minutes=1))
    return Request(sink.alerts_url(), headers, _dumps([document]))


def alertmanager_refresh(sink: AlertmanagerSink, alerts: list[Alert], now: datetime) -> Request:
    """The periodic re-send of the active alerts this sink wants (Alertmanager forgets otherwise)."""
    documents = [alertmanager_alert(sink, a, "firing", now) for a in alerts]
    headers = {
        **sink.headers,
        **_auth(sink),
        "Content-Type": "application/json",
        "User-Agent": f"{SOURCE}/{__version__}",
    }
    return Request(sink.alerts_url(), headers, _dumps(documents))


__all__ = [
    "ATTEMPT_HEADER",
    "EVENT_HEADER",
    "NOTIFICATION_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Request",
    "alertmanager_refresh",
    "build_request",
    "sign",
    "verify",
    "webhook_document",
]
