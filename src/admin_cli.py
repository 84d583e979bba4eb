"""`celery-admin config rotate-key` and `celery-admin audit export` (issue 12)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import click

from src.config import get_settings


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group("config")
def config_group() -> None:
    """Operator settings kept in the database."""


@config_group.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored secret with the first of CONFIG_ENCRYPTION_KEYS."""
    import src.runtime  # noqa: F401  (its imports declare every configuration key)
    from src.db.session import Database
    from src.system.config import ConfigStore
    from src.system.encryption import Encryptor

    settings = get_settings()
    encryptor = Encryptor.from_settings(settings)
    if not encryptor.enabled:
        raise click.ClickException("CONFIG_ENCRYPTION_KEYS is not set: nothing to encrypt with")

    async def run() -> list[str]:
        db = Database.from_url(settings.database_url)
        try:
            return await ConfigStore(db, encryptor).rotate_secrets()
        finally:
            await db.dispose()

    keys = asyncio.run(run())
    click.echo(f"re-encrypted {len(keys)} setting(s){': ' + ', '.join(keys) if keys else ''}")


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("export")
@click.option("--since", required=True, help="ISO 8601, inclusive (UTC when no offset)")
@click.option("--until", required=True, help="ISO 8601, exclusive")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--page-size", default=1000, show_default=True, type=click.IntRange(1, 10_000))
def audit_export(since: str, until: str, fmt: str, page_size: int) -> None:
    """Stream the audit rows created in [since, until) to stdout, oldest first."""
    from src.audit.export import export
    from src.db.session import Database

    settings = get_settings()

    async def run() -> int:
        db = Database.from_url(settings.database_url)
        try:
            return await export(
                db, _instant(since), _instant(until), fmt, sys.stdout, page=page_size
            )
        finally:
            await db.dispose()

    count = asyncio.run(run())
    click.echo(f"{count} audit row(s) exported", err=True)


__all__ = ["audit_group", "config_group"]
