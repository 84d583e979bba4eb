"""Secret configuration fields are stored encrypted (Fernet, key list), never answered by the API,
masked in the audit trail, and re-encrypted by `celery-admin config rotate-key`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from src.auth.roles import Role
from src.db.engine import create_engine
from src.db.models import AuditLog, SystemConfigEntry
from src.db.session import Database
from src.embedded_redis import EmbeddedRedis
from src.monitoring.delivery.sinks import ALERT_SINKS
from src.system.config import ConfigStore
from src.system.encryption import PREFIX, Encryptor, SecretUnreadable
from tests.support.graphql import gql, mint
from tests.support.servers import ROOT, make_settings, running_api, temporary_database

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
TOKEN = "T0KEN-in-the-path-4f9a"
SINKS = [
    {
        "name": "ops",
        "kind": "webhook",
        "url": f"https://hooks.example.com/services/{TOKEN}",
        "secret": "hmac-shared-secret-value",
    }
]
SET = """mutation($v: JSON!) { updateSystemConfig(key: "alerts.sinks", value: $v) {
  ok auditId entry { value version updatedBy } errors { code message } } }"""


@pytest.fixture(scope="module")
def own_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database("postgresql", Path(tmp_path_factory.mktemp("secrets"))) as url:
        yield url


async def _stored(url: str) -> object:
    db = Database(create_engine(url))
    try:
        async with db.session("test") as session:
            row = await session.get(SystemConfigEntry, ALERT_SINKS.name)
            assert row is not None
            return row.value
    finally:
        await db.dispose()


async def test_secrets_are_encrypted_at_rest_and_rotated(
    redis_server: EmbeddedRedis, own_db: str
) -> None:
    settings = make_settings(redis_server, own_db, config_encryption_keys=OLD)
    with running_api(settings) as api:
        async with httpx.AsyncClient(timeout=30) as http:
            done = await gql(
                http, api.graphql_url, SET, {"v": SINKS}, token=mint(settings, Role.SUPER_ADMIN)
            )
            answer = done.ok()["updateSystemConfig"]
            audit_id = int(answer["auditId"])
    assert answer["ok"] and TOKEN not in json.dumps(answer)
    assert "hmac-shared-secret-value" not in json.dumps(answer)

    stored = await _stored(own_db)
    print("encrypted config row as stored:", json.dumps(stored))
    text = json.dumps(stored)
    assert TOKEN not in text and "hmac-shared-secret-value" not in text
    assert isinstance(stored, list)
    assert stored[0]["url"].startswith(PREFIX) and stored[0]["secret"].startswith(PREFIX)
    assert stored[0]["name"] == "ops"  # only the declared secret fields are encrypted

    db = Database(create_engine(own_db))
    try:
        assert await ConfigStore(db, Encryptor([OLD])).get(ALERT_SINKS.name) == [
            {**SINKS[0], **{k: v for k, v in stored[0].items() if k not in SINKS[0]}}
        ]
        with pytest.raises(SecretUnreadable):
            await ConfigStore(db, Encryptor([NEW])).get(ALERT_SINKS.name)
        async with db.session("test") as session:
            row = (await session.scalars(select(AuditLog).where(AuditLog.id == audit_id))).one()
        assert TOKEN not in json.dumps(row.request) and TOKEN not in json.dumps(row.state_after)
    finally:
        await db.dispose()

    rotated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "src.cli", "config", "rotate-key"],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": own_db,
            "CONFIG_ENCRYPTION_KEYS": f"{NEW},{OLD}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 1 setting(s): alerts.sinks" in rotated.stdout
    db = Database(create_engine(own_db))
    try:
        opened = await ConfigStore(db, Encryptor([NEW])).get(ALERT_SINKS.name)  # new key alone
        assert opened[0]["url"] == SINKS[0]["url"]
        with pytest.raises(SecretUnreadable):
            await ConfigStore(db, Encryptor([OLD])).get(ALERT_SINKS.name)
    finally:
        await db.dispose()
