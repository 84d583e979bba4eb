"""Benchmark of task history as deployed (issue 9): `celery-admin serve` and `celery-admin collect`
as their own processes, fed Celery task events through a real redis-server, as workers send them.

    uv run python -m bench.deployed --help
    uv run python -m bench.deployed --seconds 10                       # short: both processes
    uv run python -m bench.deployed --process serve --seconds 180      # the 3-minute run
    uv run python -m bench.deployed --process collect --rate 40000 --overload 2 --seconds 60

Streams (`--stream`): `solo` publishes one event per pub/sub message (solo/threads pools, and
every client's task-sent); `prefork` batches a worker's task events, up to 10 per message (the
prefork hub's buffered dispatcher). Each task: sent, received, started, then succeeded (1 in 20
failed), interleaved across tasks and 8 workers. `serve` runs with its collector, bus and sampler
on, and `--subscribers` taskEvents WebSocket subscriptions from a second process, all with the
filter {names: [bench.watched], states: [SUCCESS]} (1 task in `--watched-every` is one); the
succeeded event's timestamp is its publish time (finishedAt), so delivery delay is measured end to
end. `collect` runs alone (its bus publishes, nobody subscribes).

Printed per run: events/s sustained (events / (publish time + lag)), lag from the end of the
publish until every event was handled, tasks lost (no row), wrong final states, the collector's
drop counters (by reason) against the events it never handled, whether it was degraded and the
collector_dropping alert active meanwhile, its peak RSS (VmHWM), and subscribers' delivery p50/p99
and missed notices. `--null-bus` adds an attribution line: the same stream into an in-process
collector with the null bus (as bench/ingest_redis.py measures). Against the targets of issue 9
(baseline: main measured 2,900-3,750 events/s as deployed; Flower 2.2.0 >= 7,900 events/s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
JWT_SECRET = "bench-secret-which-is-long-enough-for-hs256-keys"
BASELINE = (
    "baseline (issue 9, main as deployed): 2,900-3,750 events/s, 7-33 s behind; 1M at 20k/s lost "
    "51-61% of tasks with every drop counter at 0; Flower 2.2.0 >= 7,900 events/s"
)
TARGETS = (
    "targets: 20,000 events/s with 100 subscribers, 0 lost, 0 wrong, lag <= 2 s, p99 < 500 ms; "
    ">= 30,000 events/s intake; at 2x: drops counted exactly, degraded + alert, caught up in 10 s"
)
WORKERS = 8
WINDOW = 16  # steps between a task's events: tasks overlap as on a busy cluster
QUERY = """subscription ($filter: TaskFilterInput) { taskEvents(filter: $filter) { __typename
  ... on TaskEvent { taskId state finishedAt }
  ... on EventsMissed { count reason } } }"""
FILTER = {"names": ["bench.watched"], "states": ["SUCCESS"]}
STATUS_KEY = "celery_admin:collector:status"
WINDOW_SECONDS = 15.0  # subscribers' delivery p99 is also printed per window (growth over a run)
ALERTS_KEY = "celery_admin:monitoring:alerts:active"


# -- the publisher (a subprocess) ---------------------------------------------------------------


_TAG = [0]


def _payload(body: Any, routing_key: str, hostname: str) -> bytes:
    """kombu's JSON envelope around a base64 body (built from bytes: the publisher must be cheap
    enough to pace 40,000 events/s on a loaded machine)."""
    _TAG[0] += 1
    encoded = base64.b64encode(orjson.dumps(body))
    return b"".join((
        b'{"body": "', encoded, b'", "content-encoding": "utf-8", "content-type": '
        b'"application/json", "headers": {"hostname": "', hostname.encode(),
        b'"}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", '
        b'"routing_key": "', routing_key.encode(), b'"}, "priority": 0, "body_encoding": '
        b'"base64", "delivery_tag": "', b"%032x" % _TAG[0], b'"}}',
    ))  # fmt: skip


def _publish_command(routing_key: str, payload: bytes) -> bytes:
    channel = b"/0.celeryev/" + routing_key.encode()
    return b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(channel), channel, len(payload), payload,
    )  # fmt: skip


class Stream:
    """Task events in publishing order: step k sends task k, receives k-W, starts k-2W, ends k-3W."""

    def __init__(self, prefix: str, tasks: int, watched_every: int, batched: bool) -> None:
        self.prefix, self.tasks, self.watched_every = prefix, tasks, watched_every
        self.batched = batched
        self.buffers: dict[int, list[dict[str, Any]]] = {w: [] for w in range(WORKERS)}
        self.clock = 0

    def name(self, i: int) -> str:
        return "bench.watched" if i % self.watched_every == 0 else "bench.work"

    def event(self, kind: str, i: int, now: float) -> dict[str, Any]:
        self.clock += 1
        worker = f"w{i % WORKERS}@bench"
        event: dict[str, Any] = {"hostname": worker, "utcoffset": 0, "pid": 1,
                                 "clock": self.clock, "uuid": f"{self.prefix}{i}",
                                 "timestamp": now, "type": f"task-{kind}"}  # fmt: skip
        if kind == "sent":
            event.update(hostname="client@bench", name=self.name(i), args="(1, 2)", kwargs="{}",
                         retries=0, queue="celery", exchange="", routing_key="celery",
                         root_id=f"{self.prefix}{i}", parent_id=None, eta=None, expires=None)  # fmt: skip
        elif kind == "received":
            event.update(name=self.name(i), args="(1, 2)", kwargs="{}", retries=0)
        elif kind == "succeeded":
            event.update(result=repr(now), runtime=0.01)
        elif kind == "failed":
            event.update(exception="ValueError('bench')", traceback="Traceback ...")
        return event

    @staticmethod
    def final(i: int) -> str:
        return "FAILURE" if i % 20 == 7 else "SUCCESS"

    def step(self, k: int, now: float) -> tuple[list[bytes], int]:
        """PUBLISH commands for step k, and how many events they carry."""
        out: list[bytes] = []
        count = 0
        plan = [("sent", k), ("received", k - WINDOW), ("started", k - 2 * WINDOW)]
        last = k - 3 * WINDOW
        plan.append(("failed" if self.final(last) == "FAILURE" else "succeeded", last))
        for kind, i in plan:
            if not 0 <= i < self.tasks:
                continue
            event = self.event(kind, i, now)
            count += 1
            if kind == "sent" or not self.batched:
                out.append(_publish_command(f"task.{kind}", _payload(event, f"task.{kind}",
                                                                     event["hostname"])))  # fmt: skip
                continue
            buffer = self.buffers[i % WORKERS]
            buffer.append(event)
            if len(buffer) >= 10:
                out.append(self._flush(i % WORKERS))
        return out, count

    def _flush(self, worker: int) -> bytes:
        buffer, self.buffers[worker] = self.buffers[worker], []
        host = f"w{worker}@bench"
        return _publish_command("task.multi", _payload(buffer, "task.multi", host))

    def rest(self) -> list[bytes]:
        return [self._flush(w) for w in range(WORKERS) if self.buffers[w]]


def publish_main(args: argparse.Namespace) -> None:
    """Publish `seconds` of events at `rate` per second; print a JSON summary."""
    tasks = int(args.rate * args.seconds / 4)
    stream = Stream(args.prefix, tasks, args.watched_every, args.stream == "prefork")
    sock = socket.create_connection(("127.0.0.1", args.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    replies = [0]

    def drain() -> None:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return
            replies[0] += chunk.count(b"\r\n")

    threading.Thread(target=drain, daemon=True).start()
    started = time.perf_counter()
    events = messages = 0
    k = 0
    steps = tasks + 3 * WINDOW
    while k < steps:
        due = (time.perf_counter() - started) * args.rate / 4  # steps (4 events each) due now
        chunk: list[bytes] = []
        now = time.time()
        while k < steps and k < due + 1:
            commands, n = stream.step(k, now)
            chunk += commands
            events += n
            k += 1
        if k >= steps:
            chunk += stream.rest()
        if chunk:
            messages += len(chunk)
            sock.sendall(b"".join(chunk))
        else:
            time.sleep(0.002)
    elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 30
    while replies[0] < messages and time.monotonic() < deadline:
        time.sleep(0.01)
    failures = sum(1 for i in range(tasks) if stream.final(i) == "FAILURE")
    print(json.dumps({"tasks": tasks, "events": events, "messages": messages,
                      "seconds": elapsed, "failures": failures}), flush=True)  # fmt: skip


# -- the subscribers (a subprocess) -------------------------------------------------------------


async def _subscribers(url: str, token: str, count: int) -> None:
    from websockets.asyncio.client import connect

    delays: list[float] = []
    received: list[float] = []  # when each delay was measured (p99 over time)
    missed: list[int | None] = []
    closed = [0]
    ready = [0]
    all_ready = asyncio.Event()

    async def one() -> None:
        ws = await connect(url, subprotocols=["graphql-transport-ws"], compression=None,  # type: ignore[list-item]
                           open_timeout=120, ping_interval=None, max_size=None)  # fmt: skip
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": QUERY, "variables": {"filter": FILTER}}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
        ready[0] += 1
        if ready[0] == count:
            all_ready.set()
        try:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message.get("type") != "next":
                    continue
                event = message["payload"]["data"]["taskEvents"]
                if event["__typename"] == "EventsMissed":
                    missed.append(event["count"])
                elif event.get("finishedAt"):  # the succeeded event's time: when it was published
                    delays.append(now - datetime.fromisoformat(event["finishedAt"]).timestamp())
                    received.append(now)
                else:
                    delays.append(float("inf"))  # cannot be timed: counted as late
                    received.append(now)
        except Exception:
            closed[0] += 1

    jobs = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.wait_for(all_ready.wait(), 300)
    await asyncio.sleep(2.0)  # every subscription has taken its current state
    print("READY", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    windows: dict[int, list[float]] = {}
    start = min(received, default=0.0)
    for at, delay in zip(received, delays, strict=True):
        windows.setdefault(int((at - start) // WINDOW_SECONDS), []).append(delay)
    over_time = []
    for _, values in sorted(windows.items()):
        values.sort()
        over_time.append([len(values), _pct(values, 0.5), _pct(values, 0.99), values[-1]])
    delays.sort()
    print(json.dumps({"delays": delays, "missed": missed, "closed": closed[0],
                      "windows": over_time}), flush=True)  # fmt: skip


def subscribers_main(args: argparse.Namespace) -> None:
    asyncio.run(_subscribers(args.url, args.token, args.count))


# -- orchestration ------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Database:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.name = f"celery_admin_bench_{uuid.uuid4().hex[:8]}"
        self.url = f"{dsn.rsplit('/', 1)[0]}/{self.name}"

    def create(self) -> None:
        import asyncpg

        async def go() -> None:
            admin = await asyncpg.connect(self.dsn)
            await admin.execute(f'CREATE DATABASE "{self.name}"')
            await admin.close()

        asyncio.run(go())
        migrate = f"from src.db.migrations import upgrade; upgrade({self.url!r})"
        subprocess.run([sys.executable, "-c", migrate], check=True, cwd=ROOT)

    def drop(self) -> None:
        import asyncpg

        async def go() -> None:
            admin = await asyncpg.connect(self.dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            await admin.close()

        asyncio.run(go())

    def outcome(self, prefix: str, tasks: int, failures: int) -> dict[str, int]:
        import asyncpg

        async def go() -> dict[str, int]:
            conn = await asyncpg.connect(self.url)
            try:
                rows = await conn.fetch(
                    "SELECT task_id, state FROM celery_task_results_ext WHERE task_id LIKE $1",
                    prefix + "%",
                )
            finally:
                await conn.close()
            wrong = 0
            for row in rows:
                i = int(row["task_id"][len(prefix) :])
                if row["state"] != Stream.final(i):
                    wrong += 1
            return {"rows": len(rows), "lost": tasks - len(rows), "wrong": wrong}

        return asyncio.run(go())


def _env(redis_port: int, db: Database, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "DATABASE_URL": db.url.replace("postgresql://", "postgresql+asyncpg://"),
        "JWT_SECRET": JWT_SECRET,
        "STATE_DIR": str(workdir),
        "PYTHONPATH": str(ROOT),
    }


def _status(client: Any) -> dict[str, Any]:
    raw = client.get(STATUS_KEY)
    return json.loads(raw) if raw else {}


def run_deployed(args: argparse.Namespace, process: str, rate: float, seconds: float,
                 redis_port: int, label: str) -> dict[str, Any]:  # fmt: skip
    import redis

    client = redis.Redis(port=redis_port)
    client.flushall()
    workdir = Path(tempfile.mkdtemp(prefix="bench-deployed-"))
    db = Database(args.dsn)
    db.create()
    env = _env(redis_port, db, workdir)
    port = _free_port()
    command = [sys.executable, "-m", "src.cli"]
    profile = os.environ.get("BENCH_PYSPY")  # a file: the process runs under `py-spy record`
    if profile:
        command = ["py-spy", "record", "--format", "raw", "-r", "200", "-o",
                   f"{profile}.{process}", "--", *command]  # fmt: skip
    command += ["serve", "--port", str(port)] if process == "serve" else ["collect"]
    log = (workdir / "process.log").open("wb")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    subs: subprocess.Popen[str] | None = None
    leases_lost = [0]
    result: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 90
        while not _status(client).get("connected"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"{process} did not start: {(workdir / 'process.log').read_text()[-3000:]}"
                )
            time.sleep(0.2)
        time.sleep(1.5)  # past the start-up reconcile
        if process == "serve" and args.subscribers:
            from datetime import timedelta

            from src.auth.roles import Role
            from src.auth.tokens import TokenService
            from src.config import Settings

            settings = Settings(jwt_secret=JWT_SECRET, state_dir=workdir)
            token = TokenService(settings).mint("bench", Role.VIEWER, ttl=timedelta(hours=2))
            subs = subprocess.Popen(
                [sys.executable, "-m", "bench.deployed", "subscribers", "--url",
                 f"ws://127.0.0.1:{port}/celery-admin/graphql", "--token", token, "--count",
                 str(args.subscribers)],
                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert subs.stdout is not None
            line = subs.stdout.readline()
            if line.strip() != "READY":
                raise SystemExit(f"subscribers did not start: {line!r}")
        prefix = f"b{uuid.uuid4().hex[:6]}-"
        start_events = int(_status(client).get("events") or 0)
        publisher = subprocess.Popen(
            [sys.executable, "-m", "bench.deployed", "publish", "--port", str(redis_port),
             "--rate", str(rate), "--seconds", str(seconds), "--stream", args.stream,
             "--prefix", prefix, "--watched-every", str(args.watched_every)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        degraded_seen = dropping_seen = alert_seen = False
        loads: list[float] = []  # 1-min load average while publishing (the machine is shared)
        while publisher.poll() is None:
            loads.append(os.getloadavg()[0])
            status = _status(client)
            degraded_seen |= bool(status.get("degraded"))
            dropping_seen |= bool(status.get("dropping"))
            alert_seen |= bool(client.hexists(ALERTS_KEY, "collector-dropping|"))
            time.sleep(0.25)
        published_at = time.monotonic()
        out, _ = publisher.communicate()
        summary = json.loads(out)
        total = start_events + summary["events"]
        # Caught up: every event handled or counted as dropped (the status is written each second).
        deadline = time.monotonic() + max(60.0, seconds)
        handled_at = None
        while time.monotonic() < deadline:
            status = _status(client)
            degraded_seen |= bool(status.get("degraded"))
            dropping_seen |= bool(status.get("dropping"))
            alert_seen |= bool(client.hexists(ALERTS_KEY, "collector-dropping|"))
            lost_counted = int(status.get("dropped_intake") or 0) + int(
                status.get("dropped_frames") or 0
            )
            if int(status.get("events") or 0) + lost_counted >= total:
                handled_at = time.monotonic()
                break
            time.sleep(0.05)
        lag = (handled_at or time.monotonic()) - published_at - 1.0  # status written each 1 s
        lag = max(lag, 0.0)
        while time.monotonic() < deadline and int(_status(client).get("pending_tasks", 1) or 0):
            time.sleep(0.2)
        time.sleep(1.5)
        # The sampler evaluates alert rules every 5 s: while the collector still reports
        # dropping (15 s after its last drop), give the alert time to show.
        alert_deadline = time.monotonic() + 20
        while dropping_seen and not alert_seen and time.monotonic() < alert_deadline:
            alert_seen |= bool(client.hexists(ALERTS_KEY, "collector-dropping|"))
            time.sleep(0.25)
        status = _status(client)
        outcome = db.outcome(prefix, summary["tasks"], summary["failures"])
        rss = _hwm_mb(server.pid)
        delivery: dict[str, Any] = {}
        if subs is not None:
            out, _ = subs.communicate("stop\n", timeout=120)
            delivery = json.loads(out.strip().splitlines()[-1])
            subs = None
        result = {
            "label": label, "process": process, "rate": rate, "summary": summary,
            "lag": lag if handled_at else float("inf"), "status": status,
            "handled": int(status.get("events") or 0) - start_events,
            "outcome": outcome, "rss": rss, "delivery": delivery,
            "degraded_seen": degraded_seen, "dropping_seen": dropping_seen,
            "alert_seen": alert_seen, "leases_lost": leases_lost,
            "loads": [min(loads, default=0), max(loads, default=0)],
        }  # fmt: skip
        return result
    finally:
        if subs is not None:
            subs.kill()
            subs.wait()
        if profile:  # py-spy passes the signal on and writes its profile
            os.kill(server.pid, 2)
        else:
            server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if os.environ.get("BENCH_SHOW_LOG"):
            print((workdir / "process.log").read_text()[-4000:])
        if os.environ.get("BENCH_KEEP_LOG"):  # a file: the process's whole log is copied there
            shutil.copy(workdir / "process.log", os.environ["BENCH_KEEP_LOG"])
        # A starved event loop can miss its lease renewals: each loss restarts the collector
        # (a resubscribe gap). Counted here, so a figure taken meanwhile says so.
        with contextlib.suppress(OSError):
            text = (workdir / "process.log").read_text(errors="replace")
            leases_lost[0] = text.count("leadership lost")
        client.close()
        db.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def run_null_bus(args: argparse.Namespace, rate: float, seconds: float, redis_port: int) -> str:
    """The same stream into an in-process collector with the null bus (attribution only)."""
    from src.collector.collector import Collector
    from src.db.engine import create_engine

    db = Database(args.dsn)
    db.create()
    prefix = f"n{uuid.uuid4().hex[:6]}-"

    async def go() -> tuple[dict[str, Any], float, int]:
        engine = create_engine(db.url)
        collector = Collector(engine=engine, broker_url=f"redis://127.0.0.1:{redis_port}/0")
        job = asyncio.create_task(collector.run())
        while not (collector.reader and collector.reader.connected.is_set()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        start = collector.events
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.deployed", "publish", "--port", str(redis_port),
            "--rate", str(rate), "--seconds", str(seconds), "--stream", args.stream,
            "--prefix", prefix, "--watched-every", str(args.watched_every),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        done = time.monotonic()
        summary = json.loads(out)
        deadline = done + 60
        while collector.events - start < summary["events"] and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        lag = time.monotonic() - done
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
        await engine.dispose()
        return summary, lag, collector.events - start

    try:
        summary, lag, handled = asyncio.run(go())
        outcome = db.outcome(prefix, summary["tasks"], summary["failures"])
    finally:
        db.drop()
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sustained = summary["events"] / (summary["seconds"] + lag)
    return (
        f"  attribution, null bus (in-process collector, no serve): {sustained:,.0f} events/s, "
        f"lag {lag:.2f} s, handled {handled:,}/{summary['events']:,}, tasks lost "
        f"{outcome['lost']:,}, wrong {outcome['wrong']}, peak RSS {rss:.0f} MB"
    )


def report(r: dict[str, Any], load: str) -> None:
    s, st, o = r["summary"], r["status"], r["outcome"]
    sustained = s["events"] / (s["seconds"] + r["lag"])
    counted = {k: int(st.get(f"dropped_{k}") or 0) for k in ("intake", "frames", "overflow", "bus")}
    unhandled = s["events"] - r["handled"]
    exact = unhandled == counted["intake"] + counted["frames"]
    print(f"{r['label']}: {s['events']:,} events ({s['messages']:,} messages, {s['tasks']:,} tasks) "
          f"published in {s['seconds']:.1f} s [{load}; 1-min load while publishing "
          f"{r['loads'][0]:.1f}-{r['loads'][1]:.1f}]")  # fmt: skip
    print(
        f"  sustained {sustained:,.0f} events/s; lag after publish {r['lag']:.2f} s; "
        f"tasks lost {o['lost']:,}; wrong final states {o['wrong']:,}; peak RSS {r['rss']:.0f} MB"
    )
    print(
        f"  events not handled {unhandled:,}; drop counters {counted} "
        f"(intake+frames = {counted['intake'] + counted['frames']:,}, equal to not handled: "
        f"{exact}); bad frames "
        f"{st.get('bad_frames', 0)}; degraded seen {r['degraded_seen']}, dropping seen "
        f"{r['dropping_seen']}, collector_dropping alert seen {r['alert_seen']}"
    )
    if r.get("leases_lost") and r["leases_lost"][0]:
        print(f"  LEADERSHIP LOST {r['leases_lost'][0]} time(s) (event loop starved past the "
              f"lease's renewals; each loss restarts the collector)")  # fmt: skip
    d = r["delivery"]
    if d:
        delays = d["delays"]
        print(f"  subscribers: {len(delays):,} deliveries, p50 {_pct(delays, 0.5) * 1000:.0f} ms, "
              f"p99 {_pct(delays, 0.99) * 1000:.0f} ms, missed notices {len(d['missed'])} "
              f"(counts {sum(c or 0 for c in d['missed']):,}), closed {d['closed']}")  # fmt: skip
        windows = " ".join(f"{p99 * 1000:.0f}/{worst * 1000:.0f}"
                           for _, _, p99, worst in d.get("windows", []))  # fmt: skip
        print(f"  p99/max ms per {WINDOW_SECONDS:.0f} s: {windows}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.deployed", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("publish", help="(internal) the publisher process")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--stream", choices=["solo", "prefork"], default="solo")
    p.add_argument("--prefix", required=True)
    p.add_argument("--watched-every", type=int, default=200)
    s = sub.add_parser("subscribers", help="(internal) the subscribers' process")
    s.add_argument("--url", required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--count", type=int, required=True)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--process", choices=["serve", "collect", "both"], default="both")
    parser.add_argument("--stream", choices=["solo", "prefork", "both"], default="both")
    parser.add_argument("--rate", type=float, default=20_000, help="events/s (default 20,000)")
    parser.add_argument("--seconds", type=float, default=10, help="publish duration")
    parser.add_argument(
        "--subscribers", type=int, default=100, help="taskEvents subscribers (serve)"
    )
    parser.add_argument("--watched-every", type=int, default=200, help="1 task in N is watched")
    parser.add_argument("--overload", type=float, default=0,
                        help="also run at this multiple of --rate (e.g. 2)")  # fmt: skip
    parser.add_argument("--overload-seconds", type=float, default=None)
    parser.add_argument("--overload-only", action="store_true",
                        help="skip the run at --rate (only the overload)")  # fmt: skip
    parser.add_argument("--null-bus", action="store_true", help="add the null-bus attribution")
    args = parser.parse_args()
    if args.command == "publish":
        return publish_main(args)
    if args.command == "subscribers":
        return subscribers_main(args)
    from src.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(port=_free_port(), binary=shutil.which("redis-server") or None)
    server.start()
    processes = ["serve", "collect"] if args.process == "both" else [args.process]
    streams = ["solo", "prefork"] if args.stream == "both" else [args.stream]
    print(BASELINE)
    print(TARGETS)
    try:
        for stream in streams:
            args.stream = stream
            for process in processes:
                label = f"{process}, {stream} stream at {args.rate:,.0f} events/s"
                if not (args.overload and args.overload_only):
                    r = run_deployed(args, process, args.rate, args.seconds, server.port, label)
                    report(r, f"load {os.getloadavg()[0]:.1f}")
                if args.overload:
                    rate = args.rate * args.overload
                    secs = args.overload_seconds or args.seconds
                    label = f"{process}, {stream} stream OVERLOAD at {rate:,.0f} events/s"
                    r = run_deployed(args, process, rate, secs, server.port, label)
                    report(r, f"load {os.getloadavg()[0]:.1f}")
            if args.null_bus:
                print(run_null_bus(args, args.rate, args.seconds, server.port))
    finally:
        server.stop()
    return None


if __name__ == "__main__":
    main()
