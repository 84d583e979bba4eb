"""Everything `serve` and `collect` need is checked before anything starts: one line per problem
naming the variable, secrets masked, exit 2, no traceback; a database that does not answer is a
warning only (the service runs without it, as before)."""

from __future__ import annotations

import asyncio
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from src.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import DB_KIND
from tests.process.support import (
    STARTUP_DEADLINE,
    Command,
    command_env,
    info_url,
    no_traceback,
)
from tests.support.servers import PG_ADMIN_DSN

pytestmark = pytest.mark.timeout(240)
needs_postgresql = pytest.mark.skipif(DB_KIND != "postgresql", reason="PostgreSQL's refusals")


def _lines(command: Command) -> list[str]:
    return [line for line in command.output.splitlines() if line.strip()]


def _fails(args: tuple[str, ...], env: dict[str, str], tmp_path: Path) -> list[str]:
    command = Command(*args, env=env, log_dir=tmp_path)
    assert command.exit_code(STARTUP_DEADLINE) == 2, command.output
    assert no_traceback(command.output), command.output
    lines = _lines(command)
    assert all(line.startswith("celery-admin: ") for line in lines), lines
    return lines


@pytest.fixture
def env(redis_server: EmbeddedRedis, database_url: str) -> dict[str, str]:
    return command_env(
        REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_server.port), DATABASE_URL=database_url
    )


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A PostgreSQL database without the migrations."""
    name = f"celery_admin_empty_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.parametrize("args", [("serve", "--port", "0"), ("collect",)])
def test_a_celery_app_that_cannot_be_imported_is_one_line(
    args: tuple[str, ...], env: dict[str, str], tmp_path: Path
) -> None:
    lines = _fails(args, {**env, "CELERY_APP": "no_such_project.celery:app"}, tmp_path)
    assert len(lines) == 1
    assert lines[0].startswith(
        "celery-admin: invalid setting CELERY_APP='no_such_project.celery:app'"
    )
    assert "No module named 'no_such_project'" in lines[0]


def test_a_celery_app_that_raises_while_importing_is_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "exploding_app.py").write_text("raise RuntimeError('no config for prod')\n")
    env = {
        **env,
        "CELERY_APP": "exploding_app:app",
        "PYTHONPATH": f"{env['PYTHONPATH']}:{tmp_path}",
    }
    (line,) = _fails(("serve", "--port", "0"), env, tmp_path)
    assert "CELERY_APP='exploding_app:app'" in line
    assert "importing it failed: RuntimeError: no config for prod" in line


def test_every_problem_is_reported_at_once(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        bad = {
            **env,
            "CELERY_BROKER_URL": "nosuch://user:s3cret@broker:1//",
            "CELERY_RESULT_BACKEND": "nosuch://user:s3cret@backend:1/0",
        }
        lines = _fails(("serve", "--port", str(port)), bad, tmp_path)
    text = "\n".join(lines)
    assert len(lines) == 3, text
    assert "CELERY_BROKER_URL='nosuch://user:********@broker:1//'" in text
    assert "CELERY_RESULT_BACKEND='nosuch://user:********@backend:1/0'" in text
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in text
    assert "s3cret" not in text


def test_several_bad_settings_are_one_line_each(env: dict[str, str], tmp_path: Path) -> None:
    bad = {**env, "REDIS_PORT": "not-a-port", "INSPECT_TIMEOUT": "-1"}
    lines = _fails(("collect",), bad, tmp_path)
    assert len(lines) == 2
    assert "REDIS_PORT='not-a-port'" in lines[0] and "INSPECT_TIMEOUT='-1'" in lines[1]


@needs_postgresql
def test_a_database_that_refuses_us_is_one_masked_line(env: dict[str, str], tmp_path: Path) -> None:
    base = PG_ADMIN_DSN.rsplit("@", 1)[1].rsplit("/", 1)[0]  # host:port
    url = f"postgresql://postgres:s3cret@{base}/no_such_database_{uuid.uuid4().hex[:6]}"
    (line,) = _fails(("serve", "--port", "0"), {**env, "DATABASE_URL": url}, tmp_path)
    assert "DATABASE_URL='postgresql://postgres:********@" in line
    assert "refused us" in line and "does not exist" in line and "s3cret" not in line


@needs_postgresql
def test_a_database_behind_the_migrations_is_one_line(
    env: dict[str, str], empty_postgres: str, tmp_path: Path
) -> None:
    (line,) = _fails(("collect",), {**env, "DATABASE_URL": empty_postgres}, tmp_path)
    assert "database schema is at revision none" in line
    assert "run `celery-admin db upgrade`" in line


def test_a_database_that_does_not_answer_is_a_warning(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    down = {**env, "DATABASE_URL": "postgresql://postgres:s3cret@127.0.0.1:1/nowhere"}
    command = Command("serve", "--port", str(port), env=down, log_dir=tmp_path)
    try:
        command.wait_http(info_url(port))
        warning = command.wait_output(r"celery-admin: warning: [^\n]*").group(0)
        assert "does not answer" in warning and "starting without it" in warning
        assert "s3cret" not in command.output
        assert command.stop(signal.SIGTERM) == 0
    finally:
        command.kill()
