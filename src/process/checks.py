"""Start-up checks: what a command needs is checked before any server or job starts.

Each problem becomes one line naming the variable (secrets masked, see `src.process.report`) and
the command exits 2 with nothing started, instead of a traceback from the application's lifespan
half-way through start-up. The checks are independent, so one run reports every problem:

- the settings parse (`src.config`);
- the cluster app builds: CELERY_APP imports and is a Celery app, the broker's transport and the
  result backend are known (no network: a broker that is down is not a start-up problem, a control
  plane must come up to say what is down);
- the JWT keys load;
- PUBSUB_URL, when set, is a Redis URL;
- the database accepts us (credentials, the database exists) and its schema is at the migrations'
  head (an embedded SQLite is upgraded). A database that does not answer (refused, timed out) is a
  warning only: the service runs without it and its health says so, as before.

The listening socket is checked by binding it (`src.process.listen`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from src.config import ConfigError, Settings

DATABASE_CHECK_SECONDS = 15.0
# PostgreSQL refusing us for good: invalid authorization (class 28), no such database (3D000).
_REFUSALS = ("28", "3D000")


@dataclass
class StartupReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: StartupReport) -> None:
        self.problems += other.problems
        self.warnings += other.warnings


def check_cluster(settings: Settings) -> list[str]:
    """The Celery app celery-admin will use: importable, with a known transport and backend."""
    from src.cluster import load_cluster_app

    try:
        app = load_cluster_app(settings)
    except ConfigError as exc:
        return [str(exc)]
    except Exception as exc:  # the operator's module raised while importing
        return [
            f"invalid setting CELERY_APP={settings.celery_app!r}: importing it failed: {_brief(exc)}"
        ]
    problems: list[str] = []
    try:
        app.connection_for_write().transport  # noqa: B018 (resolves the transport; no network)
    except Exception as exc:
        name = "CELERY_BROKER_URL" if settings.celery_broker_url else "the broker URL"
        problems.append(f"invalid setting {name}={str(app.conf.broker_url)!r}: {_brief(exc)}")
    try:
        app.backend  # noqa: B018 (builds the result backend; no network)
    except Exception as exc:
        problems.append(
            f"invalid setting CELERY_RESULT_BACKEND={str(app.conf.result_backend)!r}: {_brief(exc)}"
        )
    return problems


def check_tokens(settings: Settings) -> list[str]:
    from src.auth.tokens import TokenService

    try:
        TokenService(settings)
    except ConfigError as exc:
        return [str(exc)]
    except Exception as exc:
        return [f"JWT keys unusable: {_brief(exc)}"]
    return []


def check_pubsub(settings: Settings) -> list[str]:
    url = settings.pubsub_url
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        return [f"invalid setting PUBSUB_URL={url!r}: subscriptions need a Redis URL"]
    return []


def check_event_source(settings: Settings) -> list[str]:
    """Durable mode reads Redis Streams: there must be a Redis to read them from."""
    if settings.event_source == "stream" and settings.stream_redis_url is None:
        return [
            "invalid setting EVENT_SOURCE='stream': the broker is not Redis; "
            "set EVENT_STREAM_URL to the Redis the workers' celery_admin_events writes to"
        ]
    return []


async def check_database(settings: Settings) -> StartupReport:
    """Reachable, accepting us, and at the migrations' head (an embedded SQLite is upgraded)."""
    from src.db.engine import create_engine
    from src.db.migrations import current_revision
    from src.db.schema_check import ensure_schema_current

    report = StartupReport()
    where = f"DATABASE_URL={settings.database_url!r}"
    try:
        engine = create_engine(settings.database_url)
    except ConfigError as exc:
        report.problems.append(str(exc))
        return report
    try:
        try:
            await asyncio.wait_for(current_revision(engine), DATABASE_CHECK_SECONDS)
        except Exception as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                report.problems.append(f"the database at {where} refused us: {_brief(refusal)}")
            else:
                report.warnings.append(
                    f"the database at {where} does not answer ({_brief(exc)}); starting without "
                    "it (health reports it)"
                )
            return report
        try:
            await asyncio.wait_for(ensure_schema_current(engine, settings), DATABASE_CHECK_SECONDS)
        except ConfigError as exc:
            report.problems.append(str(exc))
        except Exception as exc:
            report.problems.append(f"the database at {where}: {_brief(exc)}")
    finally:
        await engine.dispose()
    return report


def startup_report(settings: Settings, *, database: bool = True) -> StartupReport:
    """Run every check (blocking; before any event loop of the command starts)."""
    report = StartupReport()
    for check in (check_cluster, check_tokens, check_pubsub, check_event_source):
        report.problems += check(settings)
    if database:
        report.extend(asyncio.run(check_database(settings)))
    return report


def _refusal(exc: BaseException) -> BaseException | None:
    """The driver's own error (the innermost in `exc`'s chain) when the server refused us for
    good, else None."""
    found = None
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_REFUSALS):
            found = seen
        seen = seen.__cause__ or seen.__context__
    return found


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if text.startswith("(") and ") " in text:  # SQLAlchemy's "(driver.Error) message"
        text = text.split(") ", 1)[1]
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


__all__ = ["StartupReport", "check_database", "startup_report"]
