"""`celery-admin demo`: the whole system on one machine, nothing installed first.

Starts an embedded Redis, the seed's two workers, a trickle of demo tasks and the API; prints the
GraphiQL URL and an admin token; stops everything it started on Ctrl-C.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import click

from src.config import get_settings
from src.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]

# The seed's two workers: AI analysis (concurrency 4) and maintenance/health (concurrency 2).
DEMO_WORKERS = (
    ("ai_worker@%h", "ai_analysis", 4),
    ("maintenance_worker@%h", "maintenance,health", 2),
)


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
            click.echo(f"demo: could not send a task: {exc}", err=True)


def run_demo(*, port: int, tasks_per_second: float) -> None:
    import uvicorn

    from src.auth.roles import Role
    from src.auth.tokens import TokenService

    redis = EmbeddedRedis()
    redis.start()
    os.environ["REDIS_HOST"] = "127.0.0.1"
    os.environ["REDIS_PORT"] = str(redis.port)
    get_settings.cache_clear()
    settings = get_settings()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [start_worker(h, q, c, env) for h, q, c in DEMO_WORKERS]
    stop = threading.Event()
    trickle = threading.Thread(target=_trickle, args=(stop, tasks_per_second), daemon=True)
    token = TokenService(settings).mint("demo-admin", Role.SUPER_ADMIN, ttl=timedelta(days=1))
    server = uvicorn.Server(
        uvicorn.Config(
            "src.main:app",
            host="127.0.0.1",
            port=port,
            log_level="warning",
            proxy_headers=False,
        )
    )
    try:
        trickle.start()
        click.echo(f"Redis (embedded)  {redis.url}")
        names = ", ".join(h.replace("%h", socket.gethostname()) for h, _, _ in DEMO_WORKERS)
        click.echo(f"Workers           {names}")
        click.echo(f"GraphiQL          http://127.0.0.1:{port}/celery-admin/graphql")
        click.echo("Token (super_admin; in GraphiQL's headers as")
        click.echo(f'  {{"Authorization": "Bearer {token}"}}')
        click.echo("Ctrl-C stops everything.")
        server.run()
    finally:
        stop.set()
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
        redis.stop()
        click.echo("demo stopped")


__all__ = ["DEMO_WORKERS", "run_demo", "start_worker"]
