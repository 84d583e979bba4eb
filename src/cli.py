"""The `celery-admin` command: serve, collect, demo, doctor, token, export-schema, db upgrade.

`serve`, `collect` and `demo` check everything they need before starting anything
(`src.process.checks`: one line per problem, exit 2) and stop within 10 s of SIGINT or SIGTERM
(exit 0; 70 when the stop had to be forced, see `src.process.watchdog`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import click

from src.admin_cli import audit_group, config_group
from src.config import ConfigError, Settings, get_settings
from src.logs import configure_logging, uvicorn_log_config
from src.process.report import fail, warn
from src.security.logs import install_log_masking

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "graphql.schema"


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Configuration mistakes end the command with one line each (secrets masked), exit 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail([str(exc)])

    return wrapper


@click.group()
def main() -> None:
    """celery-admin: a GraphQL control plane for Celery clusters."""


main.add_command(config_group)
main.add_command(audit_group)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "replicas", default=1, show_default=True, help="uvicorn processes")
@_one_line_errors
def serve(host: str, port: int, replicas: int) -> None:
    """Serve the API (GraphQL at /celery-admin/graphql)."""
    from src.process.listen import bind_listener
    from src.process.server import (
        GRACEFUL_SECONDS,
        REPLICA_HEALTHCHECK_SECONDS,
        AdminServer,
        server_config,
    )

    settings = get_settings()
    problems = []
    try:  # first: on a busy port, the checks below change nothing (an SQLite upgrade)
        listener = bind_listener(host, port)
    except ConfigError as exc:
        problems.append(str(exc))
    problems += _preflight(settings)
    if problems:
        fail(problems)
    _configure_logging(settings)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.celery_log_level.lower(),
        "log_config": uvicorn_log_config(settings.log_format, settings.celery_log_level),
        "ws_max_size": 1 << 20,
    }
    if replicas > 1:  # uvicorn's own supervisor binds again (the port was free a moment ago)
        import uvicorn

        listener.close()
        uvicorn.run(
            "src.main:app",
            workers=replicas,
            proxy_headers=False,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            timeout_worker_healthcheck=REPLICA_HEALTHCHECK_SECONDS,
            **options,
        )
        return
    AdminServer(server_config("src.main:app", **options)).run(sockets=[listener])


@main.command()
@_one_line_errors
def collect() -> None:
    """Run only the leader jobs (the event collector, ...) without HTTP; Ctrl-C stops."""
    from src.collector.run import run_collect
    from src.process.watchdog import run_until_signal

    settings = get_settings()
    if not settings.collector_enabled:
        raise ConfigError("COLLECTOR_ENABLED is false: nothing to collect")
    problems = _preflight(settings)
    if problems:
        fail(problems)
    _configure_logging(settings)
    asyncio.run(run_until_signal(lambda stop: run_collect(settings, stop)))


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
    if timedelta(hours=ttl_hours) > tokens.max_lifetime:
        raise click.BadParameter(
            f"at most {tokens.max_lifetime.total_seconds() / 3600:g} (JWT_MAX_LIFETIME_SECONDS)",
            param_hint="--ttl-hours",
        )
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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="the report as JSON")
@_one_line_errors
def doctor(as_json: bool) -> None:
    """Report configuration that loses or stalls work; exit 1 when a finding is critical."""
    from src.doctor.command import doctor_report, render_json, render_text

    settings = get_settings()
    report = doctor_report(settings)
    click.echo(render_json(report) if as_json else render_text(report, settings.broker_url))
    if report.critical:
        sys.exit(1)


def _preflight(settings: Settings) -> list[str]:
    """Every start-up check (`src.process.checks`); warnings are printed, problems returned."""
    from src.process.checks import startup_report

    report = startup_report(settings)
    for line in report.warnings:
        warn(line)
    return report.problems


def _configure_logging(settings: Settings) -> None:
    install_log_masking()
    configure_logging(settings.celery_log_level, settings.log_format)


__all__ = ["main"]


if __name__ == "__main__":
    main()
