"""Each task-store test runs on PostgreSQL and on SQLite, in the same run, on one database each
(created for this package), holding the rows of `tests.tasks.data.rows()`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from src.db.engine import create_engine
from src.db.session import Database
from src.task_store.query import TaskStore
from tests.support.servers import temporary_database
from tests.tasks.data import insert_rows, rows


@dataclass
class Loaded:
    kind: str
    store: TaskStore
    rows: list[dict[str, Any]]


@pytest.fixture(scope="package", params=["postgresql", "sqlite"])
def task_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    kind = request.param
    with temporary_database(kind, Path(tmp_path_factory.mktemp(f"tasks-{kind}"))) as url:
        yield kind, url


@pytest.fixture(scope="package")
async def loaded(task_db_url: tuple[str, str]) -> AsyncIterator[Loaded]:
    kind, url = task_db_url
    engine = create_engine(url)
    data = rows()
    await insert_rows(engine, data)
    yield Loaded(kind, TaskStore(Database(engine)), data)
    await engine.dispose()
