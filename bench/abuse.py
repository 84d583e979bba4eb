"""Abuse: 20 anonymous clients sending worst-case documents as fast as they can, against one API
process that also runs the collector, while an authenticated client asks `systemStatus` and the
broker carries 5,000 Celery events/s.

    .venv/bin/python bench/abuse.py [--seconds 10] [--rate 5000] [--budgets-off]

Starts its own redis-server and a fresh PostgreSQL database (migrated), and `celery-admin serve`
as users run it, as a process of its own; the flood and the event publisher are processes too.
Two runs on the same server: without the flood (the baseline) and with it. Each prints the
authenticated `systemStatus` latency (p50, p99, max; target p99 < 100 ms) and the collector's
intake as the API reports it (`systemStatus { collector { events reportedAt } }`: events
handled, and when the report that first counted all of them was written; the collector reports
every second, so the catch-up time is an upper bound; target: keeps up with 5,000 events/s,
nothing lost), and for the flood how it was answered. `--budgets-off` lifts the
per-IP budgets so the flood meets only the document caps (every flood client shares one IP);
`--tarpit 0` answers a blocked address's refusals at once (RATE_LIMIT_TARPIT_SECONDS). Each run
also prints the CPU time the serve process used (from /proc), which the machine's other load
does not change the way it changes latencies.

Worst-case documents (issue 10): 1,240 `systemInfo { name }` (1.1 s of validation CPU each before
the gate), a guarded query with a bad token, `task { children { parent { children ... } } }`,
an anonymous mutation (an audit row each, before), and a JSON body nested 10,000 deep.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from rawhttp import RawConnection  # noqa: E402

PATH = "/celery-admin/graphql"
CLIENTS = 20
STATUS = "{ systemStatus { health collector { connected } } }"
REPORT_PERIOD = 1.0  # the collector writes its report every second (src/collector/collector.py)
PROGRESS = "{ systemStatus { collector { connected events reportedAt } } }"
LOOP = '{ task(id: "x") { children { parent { children { parent { children { id } } } } } } }'


def worst_documents() -> list[tuple[dict[str, str], bytes]]:
    """(headers, body) of the flood's documents."""
    plain = {"Content-Type": "application/json"}
    bad_token = {**plain, "Authorization": "Bearer not.a.token"}
    nested = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 10_000
    nested += b"]" * 10_000 + b"}}"

    def body(query: str) -> bytes:
        return json.dumps({"query": query}).encode()

    return [
        (plain, body("{" + " systemInfo { name }" * 1240 + " }")),
        (bad_token, body("{ queues { name depth } workers { hostname } }")),
        (plain, body(LOOP)),
        (plain, body('mutation { purgeQueue(name: "celery", confirm: true) { ok } }')),
        (plain, nested),
    ]


async def _send(conn: RawConnection, headers: dict[str, str], body: bytes) -> int:
    head = [f"POST {PATH} HTTP/1.1", "Host: bench"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    conn.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await conn.writer.drain()
    raw = await conn.reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    length = next(
        int(v)
        for k, _, v in (line.partition(":") for line in lines[1:])
        if k.lower() == "content-length"
    )
    await conn.reader.readexactly(length)
    return int(lines[0].split()[1])


async def _flood_client(port: int, until: float, answers: Counter[str]) -> None:
    documents = worst_documents()
    n = 0
    conn: RawConnection | None = None
    while time.monotonic() < until:
        try:
            if conn is None:
                conn = await RawConnection.open("127.0.0.1", port)
            headers, body = documents[n % len(documents)]
            n += 1
            answers[str(await _send(conn, headers, body))] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
            answers["connection dropped"] += 1
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def flood(port: int, seconds: float) -> None:
    """The flood process: CLIENTS connections; prints the answers' statuses as JSON."""
    answers: Counter[str] = Counter()
    until = time.monotonic() + seconds

    async def run() -> None:
        await asyncio.gather(*(_flood_client(port, until, answers) for _ in range(CLIENTS)))

    asyncio.run(run())
    print(json.dumps(dict(answers)))


class Serve:
    """`celery-admin serve` (the console script of this checkout's environment), as users run it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        from src.embedded_redis import free_port

        self.port = free_port()
        script = Path(sys.executable).with_name("celery-admin")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "src.cli"]
        self.log = log
        self.process = subprocess.Popen(
            [*command, "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, token: str) -> None:
        """Until the collector reports itself connected (past the start-up reconcile)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                collector = await _progress(self.port, token)
                if collector and collector["connected"]:
                    await asyncio.sleep(1.0)
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the collector did not start:\n{self.log.read_text()[-3000:]}")

    def cpu_seconds(self) -> float:
        """CPU time the serve process has used (user + system, from /proc): what the flood
        costs the server, whatever else the machine runs."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _progress(port: int, token: str) -> dict[str, Any] | None:
    """The collector's latest report, through the API."""
    conn = await RawConnection.open("127.0.0.1", port)
    try:
        status, body = await conn.post_json(
            PATH, {"query": PROGRESS}, {"Authorization": f"Bearer {token}"}
        )
    finally:
        conn.close()
    if status != 200 or body.get("errors"):
        raise RuntimeError(f"systemStatus failed: {status} {body}")
    collector: dict[str, Any] | None = body["data"]["systemStatus"]["collector"]
    return collector


async def _probe(port: int, token: str, until: float) -> list[float]:
    conn = await RawConnection.open("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            status, body = await conn.post_json(PATH, {"query": STATUS}, headers)
            latencies.append(time.perf_counter() - started)
            if status != 200 or body.get("errors"):
                raise RuntimeError(f"systemStatus failed: {status} {body}")
            await asyncio.sleep(0.02)
    finally:
        conn.close()
    return latencies


async def run_once(
    api: Serve,
    stream: Path,
    redis_port: int,
    args: argparse.Namespace,
    token: str,
    *,
    with_flood: bool,
) -> dict[str, Any]:
    cpu_before = api.cpu_seconds()
    before = await _progress(api.port, token)
    events_before = int(before["events"]) if before else 0
    until = time.monotonic() + args.seconds
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    publish_start = time.time()
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "publisher.py"), str(stream), str(redis_port),
        str(args.rate), str(int(args.rate * args.seconds)),
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    flooder = None
    if with_flood:
        flooder = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--flood", str(api.port), str(args.seconds),
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
    latencies = await _probe(api.port, token, until)
    out, _ = await publisher.communicate()
    published_at = time.time()
    _messages, events, task_events, publish_seconds, _reached = out.decode().split()
    publish_start = published_at - float(publish_seconds)
    deadline = time.monotonic() + 60
    handled, reported_at = 0, published_at
    while time.monotonic() < deadline:
        collector = await _progress(api.port, token)
        if collector:
            handled = int(collector["events"]) - events_before
            reported_at = datetime.fromisoformat(collector["reportedAt"]).timestamp()
            if handled >= int(events):
                break
        await asyncio.sleep(0.1)
    answers: dict[str, int] = {}
    if flooder is not None:
        flood_out, _ = await flooder.communicate()
        answers = json.loads(flood_out.decode() or "{}")
    cpu = api.cpu_seconds() - cpu_before
    return {
        "latencies": latencies,
        "events": int(events),
        "task_events": int(task_events),
        "handled": handled,
        "publish_seconds": float(publish_seconds),
        "lag": max(0.0, reported_at - published_at),
        "intake_seconds": max(reported_at, published_at) - publish_start,
        "answers": answers,
        "cpu": cpu,
        "wall": time.monotonic() - (until - args.seconds),
    }


def report(label: str, r: dict[str, Any], load: float) -> None:
    lat = sorted(r["latencies"])
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    lost = r["events"] - r["handled"]
    rate = r["handled"] / r["intake_seconds"]
    print(f"{label} (1-min load average at the end: {load:.2f})")
    print(
        f"  systemStatus: {len(lat)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {lat[-1] * 1000:.1f} ms  (target p99 < 100 ms)"
    )
    print(
        f"  collector: {r['events']:,} events published in {r['publish_seconds']:.1f} s, "
        f"({r['task_events']:,} task events); {r['handled']:,} handled ({lost:,} missing), all "
        f"counted by the report of {r['lag']:.2f} s after the last publish: {rate:,.0f} events/s"
    )
    verdict = (
        "kept up (within one report period)"
        if r["lag"] <= REPORT_PERIOD and lost == 0
        else f"fell behind by up to {r['lag']:.1f} s"
    )
    print(f"  collector at {r['events'] / r['publish_seconds']:,.0f} events/s offered: {verdict}")
    print(
        f"  serve process CPU: {r['cpu']:.1f} s over the run's {r['wall']:.1f} s "
        f"({r['cpu'] / r['wall']:.0%} of one core)"
    )
    if r["answers"]:
        total = sum(r["answers"].values())
        shares = ", ".join(f"{k}: {v:,}" for k, v in sorted(r["answers"].items()))
        print(
            f"  flood: {total:,} answers in the run ({total / max(r['publish_seconds'], 1):,.0f}/s): {shares}"
        )


async def _database(dsn: str) -> tuple[str, str]:
    name = f"celery_admin_abuse_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, f"{dsn.rsplit('/', 1)[0]}/{name}"


async def _drop(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--flood":
        flood(int(sys.argv[2]), float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--budgets-off", action="store_true")
    parser.add_argument(
        "--tarpit",
        type=float,
        default=None,
        help="RATE_LIMIT_TARPIT_SECONDS for the server (default: the setting's default; 0: "
        "a blocked address's refusals answered at once)",
    )
    args = parser.parse_args()

    from src.auth.roles import Role
    from src.auth.tokens import TokenService
    from src.config import Settings
    from src.db.migrations import upgrade
    from src.embedded_redis import EmbeddedRedis

    redis = EmbeddedRedis(binary=shutil.which("redis-server") or None)
    redis.start()
    name, url = asyncio.run(_database(args.dsn))
    api: Serve | None = None
    try:
        upgrade(url)
        budgets: dict[str, Any] = {}
        if args.budgets_off:
            budgets = {f"rate_limit_{k}_per_minute": 10**9 for k in ("anonymous", "denied")}
        if args.tarpit is not None:
            budgets["rate_limit_tarpit_seconds"] = args.tarpit
        settings = Settings(
            redis_host="127.0.0.1",
            redis_port=redis.port,
            database_url=url,
            jwt_secret="abuse-bench-secret-which-is-long-enough-for-hs256",
            **budgets,
        )
        ours = {field.upper() for field in Settings.model_fields}
        env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
        env.update(
            PYTHONPATH=str(ROOT),
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(redis.port),
            DATABASE_URL=url,
            JWT_SECRET=settings.jwt_secret.get_secret_value() if settings.jwt_secret else "",
            CELERY_LOG_LEVEL="WARNING",
            **{k.upper(): str(v) for k, v in budgets.items()},
        )
        with tempfile.TemporaryDirectory() as tmp:
            stream = Path(tmp) / "stream.bin"
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "stream.py"), str(stream)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            api = Serve(env, Path(tmp) / "serve.log")
            tokens = TokenService(settings)
            asyncio.run(api.wait_ready(tokens.mint("bench-ready", Role.VIEWER)))
            results = []
            for with_flood in (False, True):
                token = tokens.mint(f"prober-{uuid.uuid4().hex[:6]}", Role.VIEWER)
                result = asyncio.run(
                    run_once(api, stream, redis.port, args, token, with_flood=with_flood)
                )
                results.append((with_flood, result, os.getloadavg()[0]))
            api.stop()
            api = None
        budgets_note = " (per-IP budgets off: the caps alone)" if args.budgets_off else ""
        tarpit = settings.rate_limit_tarpit_seconds
        budgets_note += f" (refusals of a blocked address held {tarpit:g} s)"
        for with_flood, result, load in results:
            label = (
                f"with {CLIENTS} anonymous flood clients{budgets_note}"
                if with_flood
                else "baseline: no flood"
            )
            report(label, result, load)
    finally:
        if api is not None:
            api.stop()
        with contextlib.suppress(Exception):
            asyncio.run(_drop(args.dsn, name))
        redis.stop()


if __name__ == "__main__":
    main()
