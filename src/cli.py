"""The `celery-admin` command: serve, collect, demo, token, export-schema, db upgrade."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import click

from src.config import ConfigError, get_settings

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "graphql.schema"


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Configuration mistakes end the command with one line, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"celery-admin: {exc}", err=True)
            sys.exit(2)

    return wrapper


@click.group()
def main() -> None:
    """celery-admin: a GraphQL control plane for Celery clusters."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "replicas", default=1, show_default=True, help="uvicorn processes")
@_one_line_errors
def serve(host: str, port: int, replicas: int) -> None:
    """Serve the API (GraphQL at /celery-admin/graphql)."""
    import uvicorn

    settings = get_settings()
    _check_database(settings.database_url)
    _configure_logging(settings.celery_log_level)
    uvicorn.run(
        "src.main:app",
        host=host,
        port=port,
        workers=replicas,
        proxy_headers=False,  # X-Forwarded-For counts only via TRUSTED_PROXIES (audit IPs)
        log_level=settings.celery_log_level.lower(),
        ws_max_size=1 << 20,
    )


@main.command()
@_one_line_errors
def collect() -> None:
    """Run only the leader jobs (the event collector, ...) without HTTP; Ctrl-C stops."""
    from src.collector.run import run_collect

    settings = get_settings()
    _check_database(settings.database_url)
    _configure_logging(settings.celery_log_level)
    if not settings.collector_enabled:
        raise ConfigError("COLLECTOR_ENABLED is false: nothing to collect")
    asyncio.run(run_collect(settings))


@main.command()
@click.option("--sub", "subject", required=True, help="who the token names")
@click.option(
    "--role",
    type=click.Choice(["viewer", "admin", "super_admin"]),
    default="viewer",
    show_default=True,
)
@click.option("--ttl-hours", default=12.0, show_default=True, type=float)
@_one_line_errors
def token(subject: str, role: str, ttl_hours: float) -> None:
    """Mint a token with the configured key (for local use)."""
    from src.auth.roles import Role
    from src.auth.tokens import TokenService

    if ttl_hours <= 0:
        raise click.BadParameter("must be positive", param_hint="--ttl-hours")
    tokens = TokenService(get_settings())
    click.echo(tokens.mint(subject, Role.parse(role), ttl=timedelta(hours=ttl_hours)))


@main.command("export-schema")
@click.option("--check", is_flag=True, help="exit 1 when graphql.schema differs from the code")
@click.option("--output", type=click.Path(path_type=Path), default=SCHEMA_FILE, show_default=True)
def export_schema(check: bool, output: Path) -> None:
    """Write the schema's SDL to graphql.schema (or check it is current)."""
    from schema.export import schema_sdl

    sdl = schema_sdl()
    if check:
        current = output.read_text() if output.exists() else ""
        if current != sdl:
            click.echo(f"{output} is stale: run `celery-admin export-schema`", err=True)
            sys.exit(1)
        click.echo(f"{output} is current")
        return
    output.write_text(sdl)
    click.echo(f"wrote {output}")


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@_one_line_errors
def db_upgrade(revision: str) -> None:
    """Apply the migrations to DATABASE_URL."""
    from src.db.migrations import upgrade

    settings = get_settings()
    try:
        upgrade(settings.database_url, revision)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"migration failed: {type(exc).__name__}: {exc}") from None
    click.echo(f"database at {revision}")


@main.command()
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--tasks-per-second", default=2.0, show_default=True, type=float)
@_one_line_errors
def demo(port: int, tasks_per_second: float) -> None:
    """Run everything on this machine: embedded Redis, two workers, a task trickle, the API."""
    from src.demo import run_demo

    run_demo(port=port, tasks_per_second=tasks_per_second)


def _check_database(database_url: str) -> None:
    """Refuse to serve an out-of-date schema, before any server starts."""
    from src.db.engine import create_engine
    from src.db.schema_check import ensure_schema_current

    async def check() -> None:
        engine = create_engine(database_url)
        try:
            await ensure_schema_current(engine, get_settings())
        finally:
            await engine.dispose()

    asyncio.run(check())


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


__all__ = ["main"]


if __name__ == "__main__":
    main()
