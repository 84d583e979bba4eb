"""Alert evaluation: the sampler calls `AlertEngine.evaluate(sample, rules)` after each sample.

Each rule yields observations per subject (src/monitoring/observations.py): FIRING, CLEAR, or
HOLD (inside the hysteresis band: keep the current state). A subject must be FIRING for the rule's
`for_seconds` to be raised and CLEAR for `clear_for_seconds` to be resolved. The state (active,
pending, clearing, workers seen) lives in the shared StateStore, so a new leader carries on where
the old one stopped; every raise and resolve is published on Channel.ALERTS and recorded in
celery_monitoring_alerts (a database failure is logged and does not stop alerting).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update

from src.auth.failures import SignInActivity
from src.bus import Channel, EventBus, envelope
from src.db.models import AlertRecord
from src.db.session import Database
from src.monitoring.alert_rules import (
    AnyRule,
    AuthFailuresRule,
    CollectorDroppingRule,
    FailureRateRule,
    PeriodicMissedRule,
    QueueBacklogRule,
    Severity,
    WorkerOfflineRule,
)
from src.monitoring.observations import (
    Observation,
    Verdict,
    backlog,
    collector_dropping,
    failure_rate,
    offline,
    stuck,
)
from src.monitoring.sample import MetricsSample
from src.monitoring.state import StateStore
from src.periodic.missed import missed

log = logging.getLogger(__name__)

ACTIVE_KEY = "alerts:active"
PENDING_KEY = "alerts:pending"
CLEARING_KEY = "alerts:clearing"
WORKERS_SEEN_KEY = "workers:seen"
MAX_STUCK_IDS = 20
FORGET_WORKERS = 7 * 86400.0

Rule = AnyRule


class Alert(BaseModel):
    key: str
    rule_id: str
    kind: str
    severity: Severity
    subject: str | None = None
    message: str
    value: float | None = None
    threshold: float | None = None
    raised_at: datetime
    resolved_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class AlertChange:
    kind: str  # "raised" or "resolved"
    alert: Alert


def alert_key(rule_id: str, subject: str | None) -> str:
    return f"{rule_id}|{subject or ''}"


class AlertEngine:
    def __init__(self, state: StateStore, db: Database, bus: EventBus) -> None:
        self.state = state
        self.db = db
        self.bus = bus
        self._dialect = db.dialect  # for the shared filter's SQL
        self.sign_ins: SignInActivity | None = None  # auth_failures rules (src/runtime.py)

    # -- reading ---------------------------------------------------------------------------

    async def active(self) -> list[Alert]:
        raw = await self.state.hgetall(ACTIVE_KEY)
        alerts = [Alert.model_validate_json(v) for v in raw.values()]
        return sorted(alerts, key=lambda a: (-a.severity.rank, a.raised_at), reverse=False)

    async def history(self, first: int) -> list[Alert]:
        async with self.db.session("alert history") as session:
            rows = (
                await session.scalars(
                    select(AlertRecord)
                    .order_by(AlertRecord.raised_at.desc(), AlertRecord.id.desc())
                    .limit(first)
                )
            ).all()
        return [
            Alert(
                key=r.alert_key,
                rule_id=r.rule_id,
                kind=r.kind,
                severity=Severity(r.severity),
                subject=r.subject,
                message=r.message,
                value=r.value,
                threshold=r.threshold,
                raised_at=r.raised_at,
                resolved_at=r.resolved_at,
                details=r.details or {},
            )
            for r in rows
        ]

    # -- evaluating ------------------------------------------------------------------------

    async def evaluate(
        self, sample: MetricsSample, rules: list[Rule], *, now: float | None = None
    ) -> list[AlertChange]:
        now = time.time() if now is None else now
        await self._remember_workers(sample, now)
        active = {
            k: Alert.model_validate_json(v)
            for k, v in (await self.state.hgetall(ACTIVE_KEY)).items()
        }
        pending = {k: float(v) for k, v in (await self.state.hgetall(PENDING_KEY)).items()}
        clearing = {k: float(v) for k, v in (await self.state.hgetall(CLEARING_KEY)).items()}
        changes: list[AlertChange] = []
        seen_keys: set[str] = set()
        for rule in rules:
            try:
                observations = await self._observe(rule, sample, now)
            except Exception as exc:  # one broken rule (e.g. DB away) must not stop the others
                log.warning("alert rule %s could not be evaluated: %s", rule.id, exc)
                mine = f"{rule.id}|"
                seen_keys.update(k for k in [*active, *pending] if k.startswith(mine))
                continue
            observed = {alert_key(rule.id, o.subject) for o in observations}
            # An active alert whose subject is no longer observed (queue gone) is clear.
            for key, alert in active.items():
                if alert.rule_id == rule.id and key not in observed:
                    observations.append(
                        Observation(alert.subject, Verdict.CLEAR, None, alert.threshold, "gone")
                    )
            for obs in observations:
                key = alert_key(rule.id, obs.subject)
                seen_keys.add(key)
                change = await self._step(rule, key, obs, now, active, pending, clearing)
                if change is not None:
                    changes.append(change)
        # Alerts of rules that were removed or disabled resolve at once.
        for key, alert in list(active.items()):
            if key not in seen_keys:
                changes.append(await self._resolve(key, alert, now, reason="rule removed"))
                active.pop(key, None)
        for key in [k for k in pending if k not in seen_keys]:
            await self.state.hdel(PENDING_KEY, key)
        return changes

    async def _step(
        self,
        rule: Rule,
        key: str,
        obs: Observation,
        now: float,
        active: dict[str, Alert],
        pending: dict[str, float],
        clearing: dict[str, float],
    ) -> AlertChange | None:
        current = active.get(key)
        if current is None:
            if obs.verdict is not Verdict.FIRING:
                if key in pending:
                    pending.pop(key)
                    await self.state.hdel(PENDING_KEY, key)
                return None
            since = pending.get(key)
            if since is None:
                since = now
                pending[key] = now
                await self.state.hset(PENDING_KEY, key, repr(now))
            if now - since < rule.for_seconds:
                return None
            pending.pop(key, None)
            await self.state.hdel(PENDING_KEY, key)
            alert = Alert(
                key=key,
                rule_id=rule.id,
                kind=rule.kind,
                severity=rule.severity,
                subject=obs.subject,
                message=obs.message,
                value=obs.value,
                threshold=obs.threshold,
                raised_at=datetime.fromtimestamp(now, UTC),
                details=obs.details,
            )
            active[key] = alert
            await self.state.hset(ACTIVE_KEY, key, alert.model_dump_json())
            await self._record_raise(alert)
            await self._publish("alert.raised", alert)
            return AlertChange("raised", alert)
        if obs.verdict is Verdict.CLEAR:
            since = clearing.get(key)
            if since is None:
                since = now
                clearing[key] = now
                await self.state.hset(CLEARING_KEY, key, repr(now))
            if now - since < rule.clear_for_seconds:
                return None
            active.pop(key, None)
            return await self._resolve(key, current, now)
        # FIRING or HOLD: stays raised; refresh what it reports.
        if key in clearing:
            clearing.pop(key)
            await self.state.hdel(CLEARING_KEY, key)
        if obs.verdict is Verdict.FIRING and obs.value != current.value:
            current.value, current.message, current.details = obs.value, obs.message, obs.details
            await self.state.hset(ACTIVE_KEY, key, current.model_dump_json())
        return None

    async def _resolve(
        self, key: str, alert: Alert, now: float, *, reason: str | None = None
    ) -> AlertChange:
        alert.resolved_at = datetime.fromtimestamp(now, UTC)
        if reason:
            alert.details = {**alert.details, "resolved_because": reason}
        await self.state.hdel(ACTIVE_KEY, key)
        await self.state.hdel(CLEARING_KEY, key)
        await self._record_resolve(alert)
        await self._publish("alert.resolved", alert)
        return AlertChange("resolved", alert)

    async def _publish(self, kind: str, alert: Alert) -> None:
        try:
            await self.bus.publish(Channel.ALERTS, envelope(kind, alert.model_dump(mode="json")))
        except Exception:  # publish must not raise, but a broken bus must not stop alerting
            log.exception("publishing %s failed", kind)

    async def _record_raise(self, alert: Alert) -> None:
        try:
            async with self.db.session("alert record") as session:
                session.add(
                    AlertRecord(
                        alert_key=alert.key,
                        rule_id=alert.rule_id,
                        kind=alert.kind,
                        severity=alert.severity.value,
                        subject=alert.subject,
                        message=alert.message,
                        value=alert.value,
                        threshold=alert.threshold,
                        raised_at=alert.raised_at,
                        details=alert.details,
                    )
                )
        except Exception as exc:
            log.warning("alert %s raised but not recorded: %s", alert.key, exc)

    async def _record_resolve(self, alert: Alert) -> None:
        try:
            async with self.db.session("alert record") as session:
                await session.execute(
                    update(AlertRecord)
                    .where(AlertRecord.alert_key == alert.key, AlertRecord.resolved_at.is_(None))
                    .values(resolved_at=alert.resolved_at, details=alert.details)
                )
        except Exception as exc:
            log.warning("alert %s resolved but not recorded: %s", alert.key, exc)

    # -- observing -------------------------------------------------------------------------

    async def _remember_workers(self, sample: MetricsSample, now: float) -> None:
        """Record who answered; forget workers silent for a week (autoscaled hostnames come and
        go, and this hash must not grow forever)."""
        await self.state.hset_many(
            WORKERS_SEEN_KEY, {w.hostname: repr(now) for w in sample.workers}
        )
        stale = [h for h, at in (await self.workers_seen()).items() if now - at > FORGET_WORKERS]
        await self.state.hdel(WORKERS_SEEN_KEY, *stale)

    async def workers_seen(self) -> dict[str, float]:
        return {h: float(v) for h, v in (await self.state.hgetall(WORKERS_SEEN_KEY)).items()}

    async def _observe(self, rule: Rule, sample: MetricsSample, now: float) -> list[Observation]:
        if isinstance(rule, QueueBacklogRule):
            return backlog(rule, sample)
        if isinstance(rule, WorkerOfflineRule):
            return offline(rule, sample, now, await self.workers_seen())
        if isinstance(rule, FailureRateRule):
            return await failure_rate(self.db, rule, now)
        if isinstance(rule, PeriodicMissedRule):
            return missed(rule, sample)
        if isinstance(rule, CollectorDroppingRule):
            return collector_dropping(rule, sample)
        if isinstance(rule, AuthFailuresRule):
            return await auth_bursts(rule, self.sign_ins)
        return await stuck(self.db, rule, now)


async def auth_bursts(rule: AuthFailuresRule, sign_ins: SignInActivity | None) -> list[Observation]:
    """One FIRING observation per source over the threshold; sources under it are not observed,
    so their alerts clear as "gone"."""
    if sign_ins is None:
        return []
    bursts = await sign_ins.store.bursts(rule.window_seconds, rule.threshold, tuple(rule.by))
    return [
        Observation(
            f"{b.kind}:{b.value}",
            Verdict.FIRING,
            float(b.count),
            float(rule.threshold),
            f"{b.count} failed sign-ins for {b.kind} {b.value} in {rule.window_seconds:g} s",
            {"source": b.kind, "value": b.value, "window_seconds": rule.window_seconds},
        )
        for b in bursts
    ]


def parse_alert(raw: str) -> Alert:
    return Alert.model_validate(json.loads(raw))


__all__ = [
    "ACTIVE_KEY",
    "Alert",
    "AlertChange",
    "AlertEngine",
    "Observation",
    "Verdict",
    "alert_key",
    "parse_alert",
]
