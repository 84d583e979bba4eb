"""The wheel as users get it: built from this checkout, installed into a fresh virtualenv (offline:
the dependencies come from the project's own environment), used from outside the repository.

It must take no top-level name but its own (`celery_admin`, and `celery_admin_events` for
workers): `import alembic` is the library, `src`/`schema`/`resolvers` do not exist, and still the
`celery-admin` command runs, finds its schema file and applies its migrations.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.support.servers import ROOT

OWN_TOP_LEVEL = {"celery_admin", "celery_admin_events"}


def _uv() -> list[str]:
    """uv sets $UV for what it runs; CI has `python3 -m uv`."""
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    if shutil.which("uv"):
        return ["uv"]
    python3 = shutil.which("python3")
    assert python3 is not None, "neither uv nor python3 on PATH"
    return [python3, "-m", "uv"]


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run(
        args, cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(dist)], ROOT)
    assert built.returncode == 0, built.stderr
    (found,) = dist.glob("celery_admin-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; dependencies from the project's environment
    through a path entry (its .pth files, the editable checkout's among them, are not read)."""
    home = tmp_path_factory.mktemp("venv") / "env"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(home)], ROOT)
    assert made.returncode == 0, made.stderr
    python = home / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   home).stdout.strip()  # fmt: skip
    Path(purelib, "_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run(
        [*_uv(), "pip", "install", "--offline", "--no-deps", "--python", str(python), str(wheel)],
        home,
    )
    assert installed.returncode == 0, installed.stderr
    return home


def test_wheel_takes_no_top_level_name_but_its_own(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    tops = {t for t in tops if not t.endswith(".dist-info")}
    assert tops <= OWN_TOP_LEVEL, tops
    assert "celery_admin" in tops
    if (ROOT / "celery_admin_events").is_dir():
        assert "celery_admin_events" in tops


def test_installed_wheel_shadows_nothing(venv: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, json, alembic, alembic.command;"
        "print(json.dumps({'alembic': alembic.__file__,"
        " 'ours': {n: importlib.util.find_spec(n) is not None"
        " for n in ('src', 'schema', 'resolvers')}}))"
    )
    result = _run([str(venv / "bin" / "python"), "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    library = Path(sysconfig.get_paths()["purelib"]) / "alembic" / "__init__.py"
    assert Path(found["alembic"]).resolve() == library.resolve()
    assert found["ours"] == {"src": False, "schema": False, "resolvers": False}
    if (ROOT / "celery_admin_events").is_dir():
        events = _run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import celery_admin_events as m; print(m.__file__)",
            ],
            tmp_path,
        )
        assert events.returncode == 0, events.stderr
        assert str(venv) in events.stdout


def test_installed_command_runs_with_its_schema_and_migrations(venv: Path, tmp_path: Path) -> None:
    command = str(venv / "bin" / "celery-admin")
    helped = _run([command, "--help"], tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "demo" in helped.stdout

    checked = _run([command, "export-schema", "--check"], tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert str(venv) in checked.stdout  # the wheel's own copy of graphql.schema

    database = tmp_path / "installed.db"
    upgraded = _run([command, "db", "upgrade"], tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert upgraded.returncode == 0, upgraded.stderr
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "celery_task_results_ext" in tables
