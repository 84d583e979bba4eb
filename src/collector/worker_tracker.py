"""Worker liveness from worker-online / worker-heartbeat / worker-offline events.

The tracker keeps the latest state per worker in memory, remembers which changed since the last
sync to Redis (`workers_registry.write_workers`), and decides when a worker whose heartbeats
stopped is offline (`expired`). Transitions are returned to the collector, which publishes them,
runs the worker-online hooks and marks the tasks of a vanished worker LOST.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from src.collector.workers_registry import WorkerRecord, expires_at

ONLINE, OFFLINE, HEARTBEAT = "online", "offline", "heartbeat"


@dataclass
class WorkerState:
    hostname: str
    online: bool = False
    freq: float | None = None
    last_heartbeat: float | None = None
    heard_at: float = 0.0
    loadavg: list[float] | None = None
    sw_ident: str | None = None
    sw_ver: str | None = None
    sw_sys: str | None = None
    processed: int | None = None
    active: int | None = None
    offline_at: float | None = None

    def as_hash(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "online": "1" if self.online else "0",
            "freq": self.freq,
            "last_heartbeat": self.last_heartbeat,
            "heard_at": self.heard_at,
            "loadavg": json.dumps(self.loadavg) if self.loadavg is not None else None,
            "sw_ident": self.sw_ident,
            "sw_ver": self.sw_ver,
            "sw_sys": self.sw_sys,
            "processed": self.processed,
            "active": self.active,
            "offline_at": self.offline_at,
        }

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.as_hash().items() if k != "online"} | {"online": self.online}


@dataclass
class WorkerTracker:
    slack: float = 2.0
    max_workers: int = 10_000
    workers: dict[str, WorkerState] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    def load(self, records: dict[str, WorkerRecord], now: float | None = None) -> None:
        """Seed from the registry (a collector taking over): who was online. Their silence is
        timed from now: while no collector listened, heartbeats were not heard but may well have
        been sent, and a takeover must not declare every worker (and its tasks) lost."""
        now = time.time() if now is None else now
        for hostname, rec in records.items():
            if hostname in self.workers:
                continue
            online = rec.offline_at is None and rec.heard_at > 0
            self.workers[hostname] = WorkerState(
                hostname=hostname,
                online=online,
                freq=rec.freq,
                last_heartbeat=rec.last_heartbeat.timestamp() if rec.last_heartbeat else None,
                heard_at=max(rec.heard_at, now) if online else rec.heard_at,
                loadavg=rec.loadavg,
                sw_ident=rec.sw_ident,
                sw_ver=rec.sw_ver,
                sw_sys=rec.sw_sys,
                processed=rec.processed,
                active=rec.active,
                offline_at=rec.offline_at,
            )

    def apply(self, event: dict[str, Any], now: float | None = None) -> str | None:
        """Update from one worker event; return ONLINE/OFFLINE on a transition, else HEARTBEAT."""
        hostname = event.get("hostname")
        kind = event.get("type")
        if not hostname or kind not in ("worker-online", "worker-heartbeat", "worker-offline"):
            return None
        now = time.time() if now is None else now
        state = self.workers.get(hostname)
        if state is None:
            if len(self.workers) >= self.max_workers:
                oldest = min(self.workers.values(), key=lambda w: w.heard_at)
                del self.workers[oldest.hostname]
            state = self.workers[hostname] = WorkerState(hostname=hostname)
        self.dirty.add(hostname)
        was_online = state.online
        state.heard_at = now
        get = event.get
        state.freq = get("freq", state.freq)
        state.processed = get("processed", state.processed)
        state.active = get("active", state.active)
        if kind != "worker-heartbeat" or state.sw_ident is None:
            state.sw_ident = get("sw_ident", state.sw_ident)
            state.sw_ver = get("sw_ver", state.sw_ver)
            state.sw_sys = get("sw_sys", state.sw_sys)
        loadavg = get("loadavg")
        if isinstance(loadavg, list | tuple):
            state.loadavg = list(loadavg)
        ts = event.get("timestamp")
        if kind == "worker-offline":
            state.online = False
            state.offline_at = now
            return OFFLINE if was_online else None
        if isinstance(ts, int | float):
            state.last_heartbeat = ts
        state.online = True
        state.offline_at = None
        return ONLINE if not was_online else HEARTBEAT

    def expired(self, now: float | None = None) -> list[WorkerState]:
        """Online workers whose heartbeats stopped: marked offline and returned."""
        now = time.time() if now is None else now
        gone = []
        for state in self.workers.values():
            if state.online and now > expires_at(state.heard_at, state.freq, self.slack):
                state.online = False
                state.offline_at = now
                self.dirty.add(state.hostname)
                gone.append(state)
        return gone

    def take_dirty(self) -> list[dict[str, Any]]:
        states = [self.workers[h].as_hash() for h in self.dirty if h in self.workers]
        self.dirty = set()
        return states


__all__ = ["HEARTBEAT", "OFFLINE", "ONLINE", "WorkerState", "WorkerTracker"]
