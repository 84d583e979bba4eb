"""`celery-admin demo`: the whole system on one machine, nothing installed first.

Starts an embedded Redis, the seed's two workers, a `celery beat` for the demo app's periodic
entries, a trickle of demo tasks and the API (with the demo app as CELERY_APP, so its queues,
routes and beat_schedule are known); prints the GraphiQL URL and an admin token once the API
answers; stops everything it started on SIGINT or SIGTERM, within 10 s.

A demo is self-contained, whatever the shell it runs in:
- it ignores the cluster settings a user exported for a real cluster (the README tells them to
  export CELERY_BROKER_URL, DATABASE_URL, ...): every variable celery-admin reads, and every
  CELERY_* variable Celery itself reads (CELERY_BROKER_URL overrides a configured broker), is
  replaced for the demo and its workers, except CELERY_LOG_LEVEL and LOG_FORMAT;
- everything it writes (Redis's directory, the SQLite database, the signing key, the workers'
  temporary files, beat's schedule file) lives in one temporary directory, removed when it
  stops: each run starts fresh, so no task left STARTED by an earlier run shows as still running;
- its child processes run in their own session (a Ctrl-C in the terminal reaches the demo only,
  which stops the API before Redis) and are killed if the stop has to be forced.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from src.config import Settings, get_settings
from src.embedded_redis import EmbeddedRedis
from src.process.listen import bind_listener

ROOT = Path(__file__).resolve().parents[1]

# The seed's two workers: AI analysis (concurrency 4) and maintenance/health (concurrency 2).
DEMO_WORKERS = (
    ("ai_worker@%h", "ai_analysis", 4),
    ("maintenance_worker@%h", "maintenance,health", 2),
)
KEPT = frozenset({"CELERY_LOG_LEVEL", "LOG_FORMAT"})
DEMO_APP = "src.tasks.celery_app:app"
WORKERS_STOP_SECONDS = 3.0  # after the API has stopped; then they (and beat) are killed


def demo_environment(base: Mapping[str, str], *, redis_port: int, home: Path) -> dict[str, str]:
    """`base` without any cluster setting, plus the demo's own (see the module docstring)."""
    ours = {name.upper() for name in Settings.model_fields}
    env = {
        key: value
        for key, value in base.items()
        if key in KEPT or (key.upper() not in ours and not key.upper().startswith("CELERY_"))
    }
    env.update(
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=str(redis_port),
        DATABASE_URL=f"sqlite+aiosqlite:///{home / 'celery_admin.db'}",
        JWT_SECRET=secrets.token_urlsafe(48),
        STATE_DIR=str(home / "state"),
        CELERY_APP=DEMO_APP,
        PYTHONPATH=str(ROOT),
        TMPDIR=str(home / "tmp"),  # the workers' (billiard's pymp-*) too: removed with `home`
    )
    (home / "tmp").mkdir(exist_ok=True)
    return env


def _child_options() -> dict[str, Any]:
    """Children in their own session: a terminal's Ctrl-C reaches the demo only."""
    return {"start_new_session": True}


def start_worker(
    hostname: str, queues: str, concurrency: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "src.tasks.celery_app.app", "worker",
            "--loglevel=warning", f"--queues={queues}", f"--concurrency={concurrency}",
            f"--hostname={hostname}", "-E",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **_child_options(),
    )  # fmt: skip


def start_beat(env: dict[str, str], home: Path) -> subprocess.Popen[bytes]:
    """A real `celery beat` for the demo app's beat_schedule, its schedule file in `home`."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "src.tasks.celery_app.app", "beat",
            "--loglevel=warning", f"--schedule={home / 'celerybeat-schedule'}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **_child_options(),
    )  # fmt: skip


def _trickle(stop: threading.Event, per_second: float) -> None:
    """Send a mix of quick, slow, failing and retrying tasks until told to stop."""
    from src.tasks import demo as tasks

    senders = [
        (
            lambda: tasks.analyze_audio.delay(random.randint(1, 10_000), random.uniform(0.1, 1.5)),
            10,
        ),
        (lambda: tasks.cleanup_storage.delay(random.randint(1, 90)), 4),
        (lambda: tasks.health_ping.delay(), 4),
        (lambda: tasks.analyze_flaky.delay(random.randint(0, 2)), 2),
        (lambda: tasks.analyze_broken.delay("model file missing"), 1),
        (lambda: tasks.analyze_slow.delay(random.uniform(5, 20)), 1),
    ]
    funcs, weights = zip(*senders, strict=True)
    while not stop.wait(1.0 / per_second):
        try:
            random.choices(funcs, weights)[0]()
        except Exception as exc:  # the broker went away: say so and keep trying
            if not stop.is_set():
                click.echo(f"demo: could not send a task: {exc}", err=True)


class Demo:
    """One run: its directory, Redis, workers, beat and task trickle; `close()` undoes all of it."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="celery-admin-demo-"))
        self.redis = EmbeddedRedis(popen_options=_child_options())
        self.workers: list[subprocess.Popen[bytes]] = []
        self.beat: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.trickle: threading.Thread | None = None

    def isolate(self) -> Settings:
        """Make this process's environment the demo's and return its settings."""
        env = demo_environment(os.environ, redis_port=self.redis.port, home=self.home)
        for key in [k for k in os.environ if k not in env]:
            del os.environ[key]
        os.environ.update(env)
        get_settings.cache_clear()
        return get_settings()

    def start_workers(self) -> None:
        env = dict(os.environ)
        self.workers = [start_worker(h, q, c, env) for h, q, c in DEMO_WORKERS]

    def start_beat(self) -> None:
        self.beat = start_beat(dict(os.environ), self.home)

    def children(self) -> list[subprocess.Popen[bytes]]:
        """The workers and beat: stopped together, and killed together if they overrun."""
        return [*self.workers, *([self.beat] if self.beat is not None else [])]

    def start_trickle(self, per_second: float) -> None:
        self.trickle = threading.Thread(
            target=_trickle, args=(self.stopping, per_second), name="demo-trickle", daemon=True
        )
        self.trickle.start()

    def stop_workers_soon(self) -> None:
        """Ask the workers and beat to stop (warm shutdown) while the API stops; never blocks."""
        self.stopping.set()
        for worker in self.children():
            if worker.poll() is None:
                with contextlib.suppress(OSError):
                    worker.send_signal(signal.SIGTERM)

    def close(self) -> None:
        """Stop what is left (children killed after WORKERS_STOP_SECONDS), remove the directory."""
        self.stop_workers_soon()
        deadline = time.monotonic() + WORKERS_STOP_SECONDS
        for worker in self.children():
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(max(0.0, deadline - time.monotonic()))
        self.kill()
        self.redis.stop(timeout=2.0)
        shutil.rmtree(self.home, ignore_errors=True)

    def kill(self) -> None:
        """Kill the workers (with their pool processes: each leads its own process group) and beat."""
        for worker in self.children():
            if worker.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(worker.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.wait(2)

    def force(self) -> None:
        """The watchdog's last words: nothing of this run may outlive it."""
        self.kill()
        self.redis.stop(timeout=0.5)
        shutil.rmtree(self.home, ignore_errors=True)


def run_demo(*, port: int, tasks_per_second: float) -> None:
    from src.auth.roles import Role
    from src.auth.tokens import TokenService
    from src.logs import configure_logging, uvicorn_log_config
    from src.process.checks import startup_report
    from src.process.report import fail, warn
    from src.process.server import AdminServer, server_config

    listener = bind_listener("127.0.0.1", port)  # a busy port: one line, nothing started
    demo = Demo()
    try:
        settings = demo.isolate()
        configure_logging(settings.celery_log_level, settings.log_format)
        demo.redis.start()
        report = startup_report(settings)
        for line in report.warnings:
            warn(line)
        if report.problems:
            fail(report.problems)
        demo.start_workers()
        demo.start_beat()
        tokens = TokenService(settings)
        token = tokens.mint("demo-admin", Role.SUPER_ADMIN, ttl=tokens.max_lifetime)

        def started() -> None:
            demo.start_trickle(tasks_per_second)
            names = ", ".join(h.replace("%h", socket.gethostname()) for h, _, _ in DEMO_WORKERS)
            click.echo(f"Redis (embedded)  {demo.redis.url}")
            click.echo(f"Workers           {names}")
            click.echo("Beat              celery beat, for the demo app's periodic entries")
            click.echo(f"GraphiQL          http://127.0.0.1:{port}/celery-admin/graphql")
            click.echo("Token (super_admin; in GraphiQL's headers as")
            click.echo(f'  {{"Authorization": "Bearer {token}"}}')
            click.echo("Ctrl-C stops everything.")

        server = AdminServer(
            server_config(
                "src.main:app",
                host="127.0.0.1",
                port=port,
                log_level="warning",
                log_config=uvicorn_log_config(settings.log_format, settings.celery_log_level),
            ),
            on_stop=demo.stop_workers_soon,
            on_started=started,
        )
        server.watchdog.on_force(demo.force)
        server.run(sockets=[listener])
    finally:
        listener.close()
        demo.close()
    click.echo("demo stopped")


__all__ = ["DEMO_WORKERS", "Demo", "demo_environment", "run_demo", "start_beat", "start_worker"]
