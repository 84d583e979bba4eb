"""The command line: one clear line for a bad setting, tokens, and the schema file kept current."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt

from tests.support.servers import ROOT, TEST_JWT_SECRET


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "src.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_setting_fails_with_one_line() -> None:
    result = _run("token", "--sub", "ops", REDIS_PORT="not-a-port")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "REDIS_PORT" in result.stderr and "Traceback" not in result.stderr


def test_bad_celery_app_fails_with_one_line() -> None:
    result = _run("token", "--sub", "ops", CELERY_APP="not a path")
    assert result.returncode == 2
    assert "CELERY_APP" in result.stderr and "Traceback" not in result.stderr


def test_bad_database_url_fails_with_one_line() -> None:
    result = _run("db", "upgrade", DATABASE_URL="mysql://nope/db")
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_token_is_signed_with_the_configured_key() -> None:
    result = _run("token", "--sub", "ops", "--role", "admin", JWT_SECRET=TEST_JWT_SECRET)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), TEST_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ops" and claims["role"] == "admin"


def test_graphql_schema_file_is_current() -> None:
    result = _run("export-schema", "--check")
    assert result.returncode == 0, (
        f"graphql.schema is stale; run `celery-admin export-schema`\n{result.stderr}"
    )
