"""The `periodic_missed` alert rule's observations: per periodic entry, FIRING while a due run is
outstanding past the grace (the rule's, per entry or global, else the configured one the sample
carries), CLEAR otherwise. Read from beat's part of the sample, like the queue rules read theirs.

When a source could not be read the rule cannot tell about its entries: it raises, and the alert
engine keeps this rule's alerts as they are until the next sample (it never resolves them for
want of data).
"""

from __future__ import annotations

from src.monitoring.alert_rules import PeriodicMissedRule
from src.monitoring.observations import Observation, Verdict
from src.monitoring.sample import MetricsSample


class BeatUnreadable(RuntimeError):
    """This sample has no (complete) beat part."""


def missed(rule: PeriodicMissedRule, sample: MetricsSample) -> list[Observation]:
    beat = sample.beat
    if beat is None:
        raise BeatUnreadable("this sample has no beat part")
    if beat.errors:
        raise BeatUnreadable("; ".join(beat.errors))
    observations = []
    for entry in beat.entries:
        if rule.entries and entry.name not in rule.entries:
            continue
        grace = rule.grace_by_entry.get(
            entry.name,
            rule.grace_seconds if rule.grace_seconds is not None else entry.grace_seconds,
        )
        overdue = entry.overdue_seconds if entry.enabled else None
        firing = overdue is not None and overdue > grace
        due = entry.due_at.isoformat() if entry.due_at else None
        message = (
            f"periodic task {entry.name}: the run due at {due} was not sent "
            f"({overdue:.0f}s overdue, grace {grace:g}s)"
            if firing
            else f"periodic task {entry.name} is {entry.health}"
        )
        observations.append(
            Observation(
                entry.name,
                Verdict.FIRING if firing else Verdict.CLEAR,
                overdue,
                grace,
                message,
                {"task": entry.task, "queue": entry.queue, "source": entry.source, "due_at": due},
            )
        )
    return observations


__all__ = ["BeatUnreadable", "missed"]
