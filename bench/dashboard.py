"""Benchmark: the dashboard's tasks page in a real browser, with 20,000 tasks in history and a
demo-like trickle running.

    .venv/bin/python bench/dashboard.py                     # 20,000 rows, 10 cold loads, 60 s live
    .venv/bin/python bench/dashboard.py --rows 20000 --loads 10 --live-seconds 60 --per-second 2

Starts its own redis-server, a fresh PostgreSQL database loaded with `--rows` realistic task rows
(bench/query.py's generator, COPY), the demo's two workers, `celery-admin serve` as its own process
and headless Chromium (Playwright). Measures, in the browser (Performance API):

  - first render: a cold load (new browser context: empty cache) of `#/tasks`, from navigation
    start to the first task row in the DOM (a MutationObserver installed before the page's own
    scripts), with DOMContentLoaded and the JavaScript the page loaded (bytes, and gzip -9 size);
  - live update: with the page open on the first page, every task event of the trickle: the time
    the row appeared or changed state in the DOM (`Date.now()` in the page) minus the event's own
    `at` (when the server published it), matched through a second, independent `taskEvents`
    subscription held by this script. Same machine, same clock.

Targets (issue 11): first render < 1 s, live update < 500 ms. CPU-seconds of the API process and of
Chromium are printed beside the wall-clock figures, with the load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.query import load
from src.auth.roles import Role
from src.embedded_redis import EmbeddedRedis, free_port
from tests.dashboard.browser import launched
from tests.support.graphql import mint
from tests.support.servers import (
    TEST_JWT_SECRET,
    WorkerProcess,
    client_app,
    make_settings,
    redis_binary,
    temporary_database,
)
from tests.support.ws import subscribed

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "dashboard" / "static" / "app"
FIRST_RENDER_TARGET_MS = 1000
LIVE_TARGET_MS = 500

OBSERVER = """
(() => {
  window.__firstRow = null;
  window.__seen = {};  // task id -> {state: Date.now()}
  const note = (row) => {
    const id = row.dataset.taskId, state = row.dataset.state;
    if (!id || !state) return;
    const states = (window.__seen[id] = window.__seen[id] || {});
    if (!(state in states)) states[state] = Date.now();
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes" && r.target.dataset && r.target.dataset.taskId) note(r.target);
      for (const n of r.addedNodes || []) {
        if (n.nodeType !== 1) continue;
        const rows = n.matches("tr[data-task-id]") ? [n] : n.querySelectorAll("tr[data-task-id]");
        for (const row of rows) {
          if (window.__firstRow === null) window.__firstRow = performance.now();
          note(row);
        }
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
  // When each task event reached the page (before the app's own handler runs).
  window.__received = {};  // "id state" -> Date.now()
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const text = String(event.data);
        const id = /"taskId":"([^"]+)"/.exec(text), state = /"state":"([A-Z]+)"/.exec(text);
        if (id && state) {
          const key = id[1] + " " + state[1];
          if (!(key in window.__received)) window.__received[key] = Date.now();
        }
      });
    }
  };
})();
"""

EVENTS = """
subscription { taskEvents { __typename ... on TaskEvent { kind at taskId state } } }
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, values: list[float], target: float | None = None) -> str:
    if not values:
        return f"{label:<34} no data"
    verdict = ""
    if target is not None:
        met = "met" if pct(values, 0.95) < target else "MISSED"
        verdict = f"  (target < {target:.0f} ms at p95: {met})"
    return (
        f"{label:<34} median {statistics.median(values):7.1f} ms  p95 {pct(values, 0.95):7.1f} ms"
        f"  max {max(values):7.1f} ms  n={len(values)}{verdict}"
    )


class Trickle(threading.Thread):
    """The demo's mix (quick, slow, failing, retrying tasks) at `per_second`."""

    def __init__(self, app: Any, per_second: float) -> None:
        super().__init__(daemon=True)
        self.app, self.per_second, self.stop = app, per_second, threading.Event()
        self.sent = 0

    def run(self) -> None:
        mix = [
            (
                "src.tasks.demo.analyze_audio",
                lambda: [random.randint(1, 9999), random.uniform(0.1, 1.5)],
                "ai_analysis",
                10,
            ),
            ("src.tasks.demo.cleanup_storage", lambda: [random.randint(1, 90)], "maintenance", 4),
            ("src.tasks.demo.health_ping", lambda: [], "health", 4),
            ("src.tasks.demo.analyze_flaky", lambda: [random.randint(0, 2)], "ai_analysis", 2),
            ("src.tasks.demo.analyze_broken", lambda: ["model file missing"], "ai_analysis", 1),
            ("src.tasks.demo.analyze_slow", lambda: [random.uniform(5, 20)], "ai_analysis", 1),
        ]  # fmt: skip
        weights = [m[3] for m in mix]
        while not self.stop.wait(1.0 / self.per_second):
            name, args, queue, _ = random.choices(mix, weights)[0]
            self.app.send_task(name, args=args(), queue=queue, task_id=str(uuid.uuid4()))
            self.sent += 1


class EventLog(threading.Thread):
    """An independent subscriber: the published time (`at`) of every task event."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.at: dict[tuple[str, str], float] = {}
        self.stop = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        async with subscribed(self.url, self.token, EVENTS) as client:
            self.ready.set()
            while not self.stop.is_set():
                try:
                    event = (await client.next(within=1.0))["taskEvents"]
                except TimeoutError:
                    continue
                if event.get("__typename") != "TaskEvent" or not event.get("at"):
                    continue
                at = datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
                if at.tzinfo is None:
                    at = at.replace(tzinfo=UTC)
                self.at.setdefault((event["taskId"], event["state"]), at.timestamp() * 1000)


def serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-dashboard-api-{port}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "src.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def chromium_cpu() -> dict[int, float]:
    """CPU-seconds of each live Chromium process under this one, by pid."""
    found: dict[int, float] = {}
    for p in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "chrom" in p.name():
                t = p.cpu_times()
                found[p.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return found


def chromium_delta(before: dict[int, float]) -> float:
    after = chromium_cpu()
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--live-seconds", type=float, default=60)
    parser.add_argument("--per-second", type=float, default=2.0)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()}")
    redis = EmbeddedRedis(port=free_port(), binary=redis_binary())
    redis.start()
    workers: list[WorkerProcess] = []
    api: subprocess.Popen[bytes] | None = None
    trickle: Trickle | None = None
    try:
        with temporary_database("postgresql", Path("/tmp")) as database_url:
            dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
            seconds = asyncio.run(
                load(dsn, 1_000_000 - args.rows, args.rows, datetime.now(UTC), random.Random(7))
            )
            print(f"history: {args.rows:,} task rows loaded in {seconds:.1f} s")
            settings = make_settings(redis, database_url)
            app = client_app(redis)
            workers = [
                WorkerProcess(redis, "ai_worker@bench", queues="ai_analysis", concurrency=4),
                WorkerProcess(
                    redis, "maintenance_worker@bench", queues="maintenance,health", concurrency=2
                ),
            ]
            for worker in workers:
                worker.wait_ready(app)
            port = free_port()
            env = {
                **os.environ,
                "REDIS_HOST": "127.0.0.1",
                "REDIS_PORT": str(redis.port),
                "DATABASE_URL": database_url,
                "JWT_SECRET": TEST_JWT_SECRET,
                "CELERY_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
            api = serve(port, env)
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/celery-admin/system/info")
            token = mint(settings, Role.VIEWER)
            trickle = Trickle(app, args.per_second)
            trickle.start()
            time.sleep(3)  # the trickle under way before measuring
            api_process = psutil.Process(api.pid)
            run(base, token, args, api_process, trickle)
    finally:
        if trickle is not None:
            trickle.stop.set()
        if api is not None:
            api.terminate()
            api.wait(15)
        for worker in workers:
            worker.stop()
        redis.stop()


def run(
    base: str, token: str, args: argparse.Namespace, api_process: psutil.Process, trickle: Trickle
) -> None:
    page_url = f"{base}/celery-admin/dashboard/#/tasks"
    set_token = f"sessionStorage.setItem('celery-admin.token', {token!r});"
    first_rows: list[float] = []
    dcl: list[float] = []
    main_thread: list[float] = []  # renderer main-thread busy time until the first row (CDP)
    script: list[float] = []
    scripts: dict[str, int] = {}
    with launched() as (_, browser):
        for i in range(args.loads + 1):  # the first load warms the server, not counted
            context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
            context.add_init_script(set_token + OBSERVER)
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(page_url)
            page.wait_for_function("window.__firstRow !== null", timeout=60_000)
            if i:
                first_rows.append(page.evaluate("window.__firstRow"))
                metrics = {
                    m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                }
                main_thread.append(metrics["TaskDuration"] * 1000)
                script.append(metrics["ScriptDuration"] * 1000)
                dcl.append(
                    page.evaluate(
                        "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
                    )
                )
            for entry in page.evaluate("performance.getEntriesByType('resource').map(e => e.name)"):
                if entry.endswith(".js"):
                    scripts[entry.rsplit("/", 1)[-1]] = 1
            context.close()

        events = EventLog(f"{base}/celery-admin/graphql", token)
        events.start()
        events.ready.wait(30)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        context.add_init_script(set_token + OBSERVER)
        page = context.new_page()
        page.goto(page_url)
        page.wait_for_function("window.__firstRow !== null", timeout=60_000)
        api_cpu0 = cpu_seconds(api_process)
        chrome0 = chromium_cpu()
        sent0, started = trickle.sent, time.monotonic()
        page.wait_for_timeout(args.live_seconds * 1000)
        seen: dict[str, dict[str, float]] = page.evaluate("window.__seen")
        received: dict[str, float] = page.evaluate("window.__received")
        api_cpu = cpu_seconds(api_process) - api_cpu0
        chrome_cpu = chromium_delta(chrome0)
        sent = trickle.sent - sent0
        wall = time.monotonic() - started
        context.close()
        events.stop.set()

        # Baseline: the same page and trickle, filtered to match nothing (no row ever changes).
        context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        context.add_init_script(set_token + OBSERVER)
        page = context.new_page()
        page.goto(f"{base}/celery-admin/dashboard/#/tasks?q=id:none")
        page.wait_for_selector("[data-testid=live-state]", timeout=60_000)
        idle0 = chromium_cpu()
        page.wait_for_timeout(args.live_seconds * 1000)
        idle_cpu = chromium_delta(idle0)
        context.close()

    latencies = [
        shown - events.at[(task_id, state)]
        for task_id, states in seen.items()
        for state, shown in states.items()
        if (task_id, state) in events.at
    ]
    to_page = [
        at - events.at[(key.split(" ")[0], key.split(" ")[1])]
        for key, at in received.items()
        if (key.split(" ")[0], key.split(" ")[1]) in events.at
    ]
    in_page = [
        shown - received[f"{task_id} {state}"]
        for task_id, states in seen.items()
        for state, shown in states.items()
        if f"{task_id} {state}" in received
    ]
    js = {
        name: (STATIC / "assets" / name) for name in scripts if (STATIC / "assets" / name).exists()
    }
    raw = sum(p.stat().st_size for p in js.values())
    gz = sum(len(gzip.compress(p.read_bytes(), 9)) for p in js.values())
    print()
    print(
        f"tasks page, {args.rows:,} tasks in history, trickle {args.per_second}/s, {args.loads} cold loads"
    )
    print(line("first render (nav -> first row)", first_rows, FIRST_RENDER_TARGET_MS))
    print(line("DOMContentLoaded", dcl))
    print(line("  renderer main thread busy", main_thread))
    print(line("  of which JavaScript", script))
    print(
        f"{'JavaScript loaded':<34} {len(js)} files, {raw / 1024:.1f} KiB "
        f"({gz / 1024:.1f} KiB gzip -9): {', '.join(sorted(js))}"
    )
    print()
    print(
        f"live updates over {wall:.0f} s: {sent} tasks sent, "
        f"{len(latencies)} row changes matched to their events"
    )
    print(line("event published -> row in the DOM", latencies, LIVE_TARGET_MS))
    print(line("  of which: published -> page", to_page))
    print(line("  of which: page -> DOM", in_page))
    per_task = api_cpu / max(sent, 1) * 1000
    print(
        f"{'CPU-seconds while live':<34} API process {api_cpu:.2f} s ({per_task:.0f} ms per task), "
        f"Chromium {chrome_cpu:.2f} s (same page, same time, no matching task: {idle_cpu:.2f} s)"
    )
    print(f"load average after: {os.getloadavg()}  ({psutil.cpu_count()} cores)")


if __name__ == "__main__":
    main()
