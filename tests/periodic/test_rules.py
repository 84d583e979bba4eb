"""The rules behind the listing, without processes: schedules in words, an entry's health from its
last run and the clock, beat's liveness, which history rows are runs of an entry, and the
`periodic_missed` rule's observations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.schedules import crontab, schedule

from src.errors import BadInput
from src.monitoring.alert_rules import ALERT_RULES, PeriodicMissedRule, parse_rules
from src.monitoring.observations import Verdict
from src.monitoring.sample import MetricsSample, SamplerIdentity, Throughput
from src.periodic.health import BeatState, SourceHeartbeat, assess, liveness
from src.periodic.history import match, runs_of
from src.periodic.missed import BeatUnreadable, missed
from src.periodic.model import Entry, Health, Run, Source
from src.periodic.sample import BeatSample, EntrySample
from src.periodic.schedules import cron_words, crontab_fields, describe, every_words
from src.periodic.sources.base import Heartbeat

APP = Celery("rules", set_as_current=False)
NOW = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)


def _entry(value: Any = 10.0, **fields: Any) -> Entry:
    return Entry(
        name=fields.pop("name", "e"),
        task="t",
        source=fields.pop("source", Source.STATIC),
        schedule=describe(value),
        **fields,
    )


def _run(at: datetime) -> Run:
    return Run("id", "SUCCESS", at, at, None, None, None, None, True)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "every second"),
        (10, "every 10 seconds"),
        (1.5, "every 1.5 seconds"),
        (60, "every minute"),
        (300, "every 5 minutes"),
        (3600, "every hour"),
        (7200, "every 2 hours"),
        (86400, "every day"),
        (90, "every 90 seconds"),
    ],
)
def test_intervals_in_words(seconds: float, words: str) -> None:
    assert every_words(seconds) == words
    assert describe(timedelta(seconds=seconds)).words == words


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        (crontab(), "every minute (cron * * * * *)"),
        (crontab(minute="*/5"), "every 5 minutes (cron */5 * * * *)"),
        (crontab(minute=15), "every hour at minute 15 (cron 15 * * * *)"),
        (crontab(minute=0, hour=3), "every day at 03:00 (cron 0 3 * * *)"),
        (
            crontab(minute=30, hour=7, day_of_week="1-5"),
            "every day at 07:30 on day-of-week 1-5 (cron 30 7 * * 1-5)",
        ),
        (
            crontab(minute=0, hour=0, day_of_month=1),
            "every day at 00:00 on day 1 of the month (cron 0 0 1 * *)",
        ),
        (crontab(minute="0,30", hour="8-18"), "cron 0,30 8-18 * * *"),
    ],
)
def test_crontabs_in_words_keep_the_expression(cron: crontab, words: str) -> None:
    assert cron_words(crontab_fields(cron)) == words


def test_an_interval_entry_is_due_one_interval_after_its_last_run() -> None:
    state = assess(_entry(10.0), [_run(NOW - timedelta(seconds=4))], NOW, 60, APP)
    assert state.health is Health.ON_TIME
    assert state.next_run_at == NOW + timedelta(seconds=6)
    assert (state.due_at, state.overdue_seconds) == (None, None)


@pytest.mark.parametrize(
    ("ago", "health"),
    [(12, Health.ON_TIME), (20, Health.LATE), (40, Health.LATE), (71, Health.MISSED)],
)
def test_an_outstanding_run_is_late_then_missed_past_the_grace(ago: int, health: Health) -> None:
    state = assess(_entry(10.0), [_run(NOW - timedelta(seconds=ago))], NOW, 60, APP)
    assert state.health is health
    assert state.overdue_seconds == ago - 10
    assert state.next_run_at == NOW - timedelta(seconds=ago - 10)


def test_the_store_record_and_the_history_the_later_wins() -> None:
    recorded = NOW - timedelta(seconds=100)
    entry = _entry(10.0, last_run_at=recorded)
    assert assess(entry, [], NOW, 60, APP).health is Health.MISSED
    state = assess(entry, [_run(NOW - timedelta(seconds=3))], NOW, 60, APP)
    assert (state.health, state.last_run_at) == (Health.ON_TIME, NOW - timedelta(seconds=3))


def test_never_ran_unless_the_store_holds_a_due_time() -> None:
    never = assess(_entry(10.0), [], NOW, 60, APP)
    assert (never.health, never.next_run_at) == (Health.NEVER_RAN, None)
    cron = assess(_entry(crontab(minute="*/15")), [], NOW, 60, APP)
    assert (cron.health, cron.next_run_at) == (Health.NEVER_RAN, NOW.replace(minute=15, second=0))
    # RedBeat scores a never-run entry as due when it was saved: held to it.
    saved = assess(_entry(10.0, due_at=NOW - timedelta(minutes=5)), [], NOW, 60, APP)
    assert saved.health is Health.MISSED


def test_a_disabled_entry_is_disabled_whatever_its_runs() -> None:
    state = assess(_entry(10.0, enabled=False), [_run(NOW - timedelta(hours=1))], NOW, 60, APP)
    assert (state.health, state.next_run_at) == (Health.DISABLED, None)


def test_crontab_next_run_follows_the_last_run() -> None:
    state = assess(_entry(crontab(minute=0, hour=9)), [_run(NOW)], NOW, 60, APP)
    assert state.next_run_at == datetime(2026, 1, 6, 9, 0, tzinfo=UTC)


def _states(*healths: Health, last: datetime | None = NOW) -> list[Any]:
    return [
        SimpleNamespace(
            entry=_entry(name=f"e{i}", source=Source.REDBEAT, enabled=h is not Health.DISABLED),
            health=h,
            overdue_seconds=None,
            last_run_at=last,
        )
        for i, h in enumerate(healths)
    ]


def test_beat_liveness() -> None:
    held = SourceHeartbeat(Source.REDBEAT, Heartbeat("redbeat_lock", "k", True, 3.0, 1.0))
    gone = SourceHeartbeat(Source.REDBEAT, Heartbeat("redbeat_lock", "k", False, None))
    stale = SourceHeartbeat(Source.REDBEAT, Heartbeat("redbeat_lock", "k", True, 3.0, 900, True))
    assert liveness(_states(Health.ON_TIME), []).state is BeatState.ALIVE
    assert liveness(_states(Health.ON_TIME, Health.LATE), []).state is BeatState.LATE
    assert liveness(_states(Health.ON_TIME, Health.MISSED), [held]).state is BeatState.DOWN
    assert liveness(_states(Health.ON_TIME), [gone]).state is BeatState.DOWN
    assert liveness(_states(Health.ON_TIME), [stale]).state is BeatState.DOWN
    assert liveness(_states(Health.NEVER_RAN, last=None), [held]).state is BeatState.ALIVE
    assert liveness(_states(Health.NEVER_RAN, last=None), []).state is BeatState.UNKNOWN
    assert liveness(_states(Health.DISABLED), []).state is BeatState.NO_ENTRIES
    assert liveness(_states(Health.DISABLED), [gone]).state is BeatState.NO_ENTRIES


def _row(args: Any, kwargs: Any, args_json: Any = None, kwargs_json: Any = None) -> Any:
    return SimpleNamespace(
        task_id="x", state="SUCCESS", args=args, kwargs=kwargs, args_json=args_json,
        kwargs_json=kwargs_json, seen_at=NOW, sent_at=NOW, started_at=None, finished_at=None,
        runtime=None, worker=None,
    )  # fmt: skip


def test_runs_are_tasks_with_the_entry_arguments() -> None:
    entry = _entry(args=[2, 3], kwargs={"mode": "fast"})
    assert match(entry, _row("[2, 3]", "{'mode': 'fast'}")) is True  # beat sends a list
    assert match(entry, _row("(2, 3)", "{'mode': 'fast'}")) is True  # a tuple reads the same
    assert match(entry, _row(None, None, [2, 3], {"mode": "fast"})) is True  # exact values
    assert match(entry, _row("[2, 4]", "{'mode': 'fast'}")) is False
    assert match(entry, _row("[2, 3]", "{}")) is False
    assert match(entry, _row("[2, 3]", "{'mode': 'fast', ...}")) is None  # unreadable repr
    assert match(entry, _row("__import__('os')", "{}")) is None  # never evaluated
    runs = runs_of(entry, [_row("[2, 3]", "{'mode': 'fast'}"), _row("[9]", "{}"), _row("?", "")])
    assert [r.args_matched for r in runs] == [True, False]


def _sample(*entries: EntrySample, errors: list[str] | None = None) -> MetricsSample:
    beat = BeatSample(taken_at=NOW, state="down", entries=list(entries), errors=errors or [])
    return MetricsSample(
        taken_at=NOW,
        interval_seconds=1,
        sampler=SamplerIdentity(host="h", pid=1),
        throughput=Throughput(window_seconds=60),
        beat=beat,
    )


def _sampled(name: str, overdue: float | None, *, enabled: bool = True) -> EntrySample:
    return EntrySample(
        name=name, source="static", task="t", enabled=enabled, health="late",
        overdue_seconds=overdue, grace_seconds=60, due_at=NOW,
    )  # fmt: skip


def test_the_missed_rule_fires_past_the_grace_per_entry_or_global() -> None:
    sample = _sample(_sampled("a", 30), _sampled("b", 90), _sampled("c", 5), _sampled("d", 500,
                     enabled=False))  # fmt: skip
    configured = PeriodicMissedRule(id="r")
    verdicts = {o.subject: o.verdict for o in missed(configured, sample)}
    assert verdicts == {
        "a": Verdict.CLEAR,
        "b": Verdict.FIRING,
        "c": Verdict.CLEAR,
        "d": Verdict.CLEAR,
    }
    strict = PeriodicMissedRule(
        id="r", grace_seconds=20, grace_by_entry={"c": 1}, entries=["a", "c"]
    )
    observed = {o.subject: (o.verdict, o.threshold) for o in missed(strict, sample)}
    assert observed == {"a": (Verdict.FIRING, 20), "c": (Verdict.FIRING, 1)}


def test_the_missed_rule_keeps_its_alerts_when_beat_could_not_be_read() -> None:
    with pytest.raises(BeatUnreadable):
        missed(PeriodicMissedRule(id="r"), _sample(errors=["redbeat: unavailable"]))


def test_the_rule_is_a_valid_alerts_rules_entry() -> None:
    value = [{"kind": "periodic_missed", "id": "beat", "grace_by_entry": {"nightly": 900}}]
    [rule] = parse_rules(ALERT_RULES.validate(value))
    assert isinstance(rule, PeriodicMissedRule) and rule.grace_by_entry == {"nightly": 900.0}
    with pytest.raises(BadInput):
        ALERT_RULES.validate([{"kind": "periodic_missed", "id": "x", "grace_seconds": -1}])


def test_a_number_schedule_is_an_interval() -> None:
    assert describe(schedule(timedelta(minutes=5))).form == {
        "type": "interval",
        "every_seconds": 300.0,
        "relative": False,
    }
