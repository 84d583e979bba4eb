"""`celery-admin audit export`: every row of the window exactly once, oldest first, in keyset pages
(rows sharing a created_at straddle page boundaries), as JSON lines and as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from src.db.engine import create_engine
from src.db.models import AuditLog
from tests.support.servers import ROOT

ROWS = 2345


def _export(database_url: str, since: datetime, until: datetime, fmt: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "src.cli", "audit", "export", "--since", since.isoformat(),
         "--until", until.isoformat(), "--format", fmt, "--page-size", "100"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{ROWS} audit row(s) exported" in result.stderr
    return result.stdout


async def test_export_streams_the_window_once_in_order(database_url: str) -> None:
    base = datetime(1999, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(300))
    rows = [
        {
            "created_at": base + timedelta(seconds=i // 7),  # seven rows share each instant
            "action": "purgeQueue",
            "outcome": "success",
            "subject": f"s{i}",
            "request": {"n": i},
        }
        for i in range(ROWS)
    ]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(AuditLog), rows)
            # just outside the window on both sides
            await conn.execute(
                insert(AuditLog),
                [
                    {"created_at": base - timedelta(microseconds=1), "action": "x", "outcome": "success"},
                    {"created_at": base + timedelta(seconds=ROWS), "action": "x", "outcome": "success"},
                ],
            )  # fmt: skip
    finally:
        await engine.dispose()
    until = base + timedelta(seconds=ROWS)

    jsonl = await asyncio.to_thread(_export, database_url, base, until, "jsonl")
    lines = [json.loads(x) for x in jsonl.splitlines()]
    assert [r["request"]["n"] for r in lines] == list(range(ROWS))
    assert len({r["id"] for r in lines}) == ROWS
    assert lines[0]["created_at"] == base.isoformat()

    table = list(
        csv.DictReader(
            io.StringIO(await asyncio.to_thread(_export, database_url, base, until, "csv"))
        )
    )
    assert [json.loads(r["request"])["n"] for r in table] == list(range(ROWS))
    assert table[0]["subject"] == "s0" and "flags" in table[0]
