"""Benchmark: task queries at a million rows in PostgreSQL.

    .venv/bin/python bench/query.py            # 1,000,000 rows (about 3 minutes on 2 cores)
    .venv/bin/python bench/query.py --rows 200000 --runs 21

Creates a fresh database (migrated, so with the real indexes), loads realistic task rows with COPY
(secondary indexes dropped during the load and rebuilt after, as a bulk load does), first 10% of
them and then the rest, and at both sizes measures:
  - a filtered (state and name) page of 50 sorted newest first, first page and 20 pages deep;
  - a text search page (args/kwargs/result/exception) and other orders;
server-side (EXPLAIN ANALYZE execution time of the statement the store runs) and end to end
(`TaskStore.page()` with ORM rows, over asyncpg). Memory: the benchmark process's RSS after the
queries at each size (it must not grow with the table: pages are index range scans of 50 rows).
Target: median <= 10 ms server-side for the filtered page at 1M rows. Anchor: Flower 2.2.0 takes
about 273 ms for a 15-row page at 100k tasks and 4.4 s for its full /api/tasks answer.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.db.engine import create_engine
from src.db.migrations import upgrade
from src.db.session import Database
from src.task_filter import TaskFilter, TaskState
from src.task_store.ordering import TaskOrder, TaskOrderKey, decode_cursor
from src.task_store.query import TaskStore
from src.task_store.stats import task_stats

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLE = "celery_task_results_ext"
NAMES = [f"app.tasks.{n}" for n in (
    "send_email", "resize_image", "sync_account", "charge_card", "build_report", "index_doc",
    "analyze_audio", "transcode_video", "notify_user", "cleanup_tmp", "fetch_feed", "score_lead",
    "export_csv", "import_csv", "refresh_cache", "geocode", "ocr_page", "train_model",
    "backup_db", "health_check",
)]  # fmt: skip
QUEUES = ["ai_analysis", "maintenance", "health", "celery"]
WORKERS = [f"worker{i}@host{i % 4}" for i in range(8)]
STATES = [("SUCCESS", 80), ("FAILURE", 7), ("RETRY", 3), ("STARTED", 3), ("RECEIVED", 3),
          ("REVOKED", 2), ("PENDING", 2)]  # fmt: skip
EXCEPTIONS = ["ValueError('invalid input for account {n}')", "TimeoutError('upstream timed out')",
              "KeyError('user_{n}')", "ConnectionError('redis://cache:6379 refused')"]  # fmt: skip
COLUMNS = [
    "task_id", "name", "state", "queue", "exchange", "routing_key", "worker", "args", "kwargs",
    "result", "exception", "traceback", "retries", "eta", "expires", "sent_at", "received_at",
    "started_at", "succeeded_at", "failed_at", "retried_at", "revoked_at", "finished_at",
    "runtime", "parent_id", "root_id", "group_id", "last_event_at", "seen_at",
]  # fmt: skip


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def generate(
    start: int, count: int, now: datetime, rnd: random.Random
) -> Iterator[tuple[Any, ...]]:
    """Rows spread over the last 30 days; states, names and runtimes skewed as in real clusters."""
    states = [s for s, w in STATES for _ in range(w)]
    span = 30 * 86400
    for i in range(start, start + count):
        state = rnd.choice(states)
        name = NAMES[min(int(rnd.expovariate(0.25)), len(NAMES) - 1)]
        seen = now - timedelta(seconds=span * (1 - i / 1_000_000) + rnd.random())
        received = seen + timedelta(milliseconds=rnd.randint(1, 50))
        started = received + timedelta(milliseconds=rnd.randint(1, 200)) if state not in (
            "PENDING", "RECEIVED") else None  # fmt: skip
        runtime = round(rnd.lognormvariate(-1.0, 1.2), 6) if state in (
            "SUCCESS", "FAILURE", "REVOKED") and started else None  # fmt: skip
        finished = started + timedelta(seconds=runtime) if runtime is not None and started else None
        n = rnd.randint(1, 99999)
        exception = rnd.choice(EXCEPTIONS).format(n=n) if state in ("FAILURE", "RETRY") else None
        task_id = str(uuid.UUID(int=rnd.getrandbits(128)))
        parent = None if i % 7 else str(uuid.UUID(int=rnd.getrandbits(128)))
        queue = QUEUES[i % len(QUEUES)]
        yield (
            task_id, name, state, queue, queue, queue, WORKERS[i % len(WORKERS)],
            f"({n}, 'user-{n % 5000}')", f"{{'priority': {i % 10}, 'batch': 'b-{i // 1000}'}}",
            f"{{'status': 'ok', 'items': {n % 100}}}" if state == "SUCCESS" else None,
            exception, f"Traceback (most recent call last):\n  ...\n{exception}" if exception else None,
            1 if state == "RETRY" else 0, None, None, seen, received, started,
            finished if state == "SUCCESS" else None, finished if state == "FAILURE" else None,
            received if state == "RETRY" else None, finished if state == "REVOKED" else None,
            finished, runtime, parent, parent, None, finished or started or received, seen,
        )  # fmt: skip


async def load(dsn: str, start: int, count: int, now: datetime, rnd: random.Random) -> float:
    """COPY `count` rows with the secondary indexes dropped, then rebuild them; seconds taken."""
    began = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 AND indexname <> $2",
            TABLE, f"pk_{TABLE}",
        )  # fmt: skip
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        rows = generate(start, count, now, rnd)
        chunk = 50_000
        for _ in range(0, count, chunk):
            batch = [next(rows) for _ in range(min(chunk, count - _))]
            await conn.copy_records_to_table(TABLE, records=batch, columns=COLUMNS)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for row in indexes:
            await conn.execute(row["indexdef"])
        await conn.execute(f"VACUUM ANALYZE {TABLE}")
    finally:
        await conn.close()
    return time.perf_counter() - began


async def explain_ms(store: TaskStore, stmt: Any) -> float:
    sql = stmt.compile(store.db.engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with store.db.engine.connect() as conn:
        result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        plan = result.scalar_one()
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    return float(plan[0]["Execution Time"])


def summary(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values):7.2f} ms   p95 {p95:7.2f} ms"


Figures = dict[str, dict[str, list[float]]]  # case -> column -> milliseconds


class StatementTimer:
    """Sums the time the database takes for each statement (asyncpg round trips on localhost)."""

    def __init__(self, store: TaskStore) -> None:
        self.total = 0.0
        self._started: list[float] = []
        engine = store.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *_: Any) -> None:
        self.total += (time.perf_counter() - self._started.pop()) * 1000


async def measure(store: TaskStore, runs: int) -> Figures:
    """Each case over `runs` varied runs: EXPLAIN ANALYZE execution time of the page's statement
    (pages without text search: one statement), database time of the statements `page()` ran,
    and `page()` end to end."""
    rnd = random.Random(5)
    order = TaskOrder(TaskOrderKey.SEEN, descending=True)
    out: Figures = {}
    timer = StatementTimer(store)

    async def case(
        name: str, make: Callable[[int], Awaitable[tuple[TaskFilter, TaskOrder, str | None]]]
    ) -> None:
        figures: dict[str, list[float]] = {"server": [], "db": [], "end to end": []}
        for i in range(runs):
            f, o, after = await make(i)
            if not f.text:
                cursor = decode_cursor(after, o) if after else None
                scan = store.page_scans(f, o, cursor, 51)[0]
                figures["server"].append(await explain_ms(store, store.statement(scan)))
            timer.total = 0.0
            began = time.perf_counter()
            page = await store.page(f, order=o, first=50, after=after)
            figures["end to end"].append((time.perf_counter() - began) * 1000)
            figures["db"].append(timer.total)
            assert len(page.edges) <= 50
        out[name] = {k: v for k, v in figures.items() if v}

    async def filtered(i: int) -> tuple[TaskFilter, TaskOrder, str | None]:
        state = (TaskState.SUCCESS, TaskState.FAILURE, TaskState.RETRY)[i % 3]
        return TaskFilter(states=(state,), names=(NAMES[i % 8],)), order, None

    deep_cursors: dict[int, str | None] = {}

    async def filtered_deep(i: int) -> tuple[TaskFilter, TaskOrder, str | None]:
        f, o, _ = await filtered(i)
        key = i % 24
        if key not in deep_cursors:
            after = None
            for _ in range(20):
                page = await store.page(f, order=o, first=50, after=after)
                after = page.end_cursor
            deep_cursors[key] = after
        return f, o, deep_cursors[key]

    async def text_rare(i: int) -> tuple[TaskFilter, TaskOrder, str | None]:
        return TaskFilter(text=f"user-{rnd.randint(0, 4999)}'"), order, None

    async def text_exception(i: int) -> tuple[TaskFilter, TaskOrder, str | None]:
        return TaskFilter(text="upstream timed out"), order, None

    async def runtime_order(i: int) -> tuple[TaskFilter, TaskOrder, str | None]:
        return TaskFilter(states=(TaskState.SUCCESS,)), TaskOrder(TaskOrderKey.RUNTIME), None

    async def finished_order(i: int) -> tuple[TaskFilter, TaskOrder, str | None]:
        return TaskFilter(names=(NAMES[i % 8],)), TaskOrder(TaskOrderKey.FINISHED), None

    await case("filtered page (state+name, newest first)", filtered)
    await case("same, 20 pages deep (keyset)", filtered_deep)
    await case("text search page (args: rare value)", text_rare)
    await case("text search page (exception: common)", text_exception)
    await case("state, slowest first (runtime desc)", runtime_order)
    await case("name, finished desc", finished_order)
    counts: list[float] = []
    for i in range(max(5, runs // 5)):
        f, _, _ = await filtered(i)
        began = time.perf_counter()
        await store.count(f, seconds=30)
        counts.append((time.perf_counter() - began) * 1000)
    out["totalCount of the filtered page"] = {"end to end": counts}
    for label, window in (("1 h", timedelta(hours=1)), ("24 h", timedelta(hours=24)),
                          ("7 days", timedelta(days=7))):  # fmt: skip
        took: list[float] = []
        for i in range(5):
            began = time.perf_counter()
            await task_stats(
                store, TaskFilter(names=(NAMES[i % 3],)) if i % 2 else TaskFilter(), window
            )
            took.append((time.perf_counter() - began) * 1000)
        out[f"taskStats, {label} window"] = {"end to end": took}
    return out


def report(size: int, results: Figures, rss: float) -> None:
    print(
        f"\n== {size:,} rows ==  (server = EXPLAIN ANALYZE execution of the page's statement; "
        "db = the statements page() ran, round trips; end to end = TaskStore.page with ORM rows)"
    )
    for name, columns in results.items():
        cells = " | ".join(f"{column}: {summary(values)}" for column, values in columns.items())
        print(f"  {name:40s} {cells}")
    print(f"  benchmark process RSS after the queries: {rss:.0f} MB")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    name = f"celery_admin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(upgrade, dsn)
        rnd = random.Random(42)
        now = datetime.now(UTC)
        first_part = max(1, args.rows // 10)
        figures = {}
        loaded = 0
        for part in (first_part, args.rows - first_part):
            took = await load(dsn, loaded, part, now, rnd)
            loaded += part
            print(
                f"loaded {part:,} rows in {took:.1f} s ({part / took:,.0f} rows/s, "
                f"index rebuild included); table: {loaded:,}"
            )
            engine = create_engine(dsn)
            store = TaskStore(Database(engine))
            results = await measure(store, args.runs)
            await engine.dispose()
            figures[loaded] = (results, rss_mb())
            report(loaded, results, figures[loaded][1])
        small, big = figures[first_part], figures[loaded]

        def med(size_figures: Any, case: str, column: str) -> float:
            return float(statistics.median(size_figures[0][case][column]))

        filtered = "filtered page (state+name, newest first)"
        target = med(big, filtered, "server")
        print("\n== summary ==")
        print(
            f"  filtered page of 50 at {loaded:,} rows: median {target:.2f} ms server-side "
            f"(target <= 10 ms: {'MET' if target <= 10 else 'MISSED'}), "
            f"{med(big, filtered, 'end to end'):.2f} ms end to end; "
            f"at {first_part:,} rows {med(small, filtered, 'server'):.2f} ms server-side"
        )
        for case in ("text search page (args: rare value)", "text search page (exception: common)"):
            print(
                f"  {case} at {loaded:,} rows: median {med(big, case, 'db'):.2f} ms in the "
                f"database, {med(big, case, 'end to end'):.2f} ms end to end"
            )
        print("  anchor: Flower 2.2.0, 15-row page at 100k tasks ~273 ms; full /api/tasks ~4.4 s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  memory: RSS {small[1]:.0f} MB after the queries at {first_part:,} rows, "
            f"{big[1]:.0f} MB at {loaded:,} rows (peak {peak:.0f} MB, the load's batches included)"
        )
    finally:
        if not args.keep:
            admin = await asyncpg.connect(ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        else:
            print(f"kept database {name}")


if __name__ == "__main__":
    asyncio.run(main())
