"""Worker liveness rules: transitions, Celery's heartbeat timeout, and a takeover's grace."""

from __future__ import annotations

from src.collector.worker_tracker import HEARTBEAT, OFFLINE, ONLINE, WorkerTracker
from src.collector.workers_registry import WorkerRecord

T0 = 1_700_000_000.0


def beat(kind: str = "heartbeat", **fields: object) -> dict[str, object]:
    return {"type": f"worker-{kind}", "hostname": "w@h", "timestamp": T0, "freq": 2.0, **fields}


def test_online_heartbeat_offline_transitions() -> None:
    tracker = WorkerTracker(slack=2.0)
    assert tracker.apply(beat("online", sw_ident="py-celery"), now=T0) == ONLINE
    assert tracker.apply(beat(active=3, processed=10, loadavg=[1, 2, 3]), now=T0 + 2) == HEARTBEAT
    state = tracker.workers["w@h"]
    assert (state.active, state.processed, state.loadavg, state.sw_ident) == (
        3,
        10,
        [1, 2, 3],
        "py-celery",
    )
    assert tracker.apply(beat("offline"), now=T0 + 3) == OFFLINE
    assert tracker.apply(beat(), now=T0 + 4) == ONLINE  # back: hooks run again


def test_silent_worker_expires_after_twice_its_frequency_plus_slack() -> None:
    tracker = WorkerTracker(slack=2.0)
    tracker.apply(beat(), now=T0)
    assert tracker.expired(now=T0 + 6.0) == []
    (gone,) = tracker.expired(now=T0 + 6.1)
    assert gone.hostname == "w@h" and not gone.online and gone.offline_at == T0 + 6.1
    assert tracker.expired(now=T0 + 100) == []  # reported once


def test_takeover_times_silence_from_its_own_start() -> None:
    record = WorkerRecord(
        hostname="w@h",
        online=True,
        last_heartbeat=None,
        heard_at=T0,
        freq=2.0,
        loadavg=None,
        sw_ident=None,
        sw_ver=None,
        sw_sys=None,
        processed=None,
        active=None,
        offline_at=None,
    )
    tracker = WorkerTracker(slack=2.0)
    tracker.load({"w@h": record}, now=T0 + 30)  # the old leader died 30 s ago
    assert tracker.expired(now=T0 + 31) == []
    assert [w.hostname for w in tracker.expired(now=T0 + 37)] == ["w@h"]
