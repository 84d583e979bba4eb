"""celery-admin as installed: the `celery-admin` command, and the only top-level name it takes.

The application keeps the repository's layout, which the design card fixes: the packages `src`,
`schema` and `resolvers` (imported by those names) and the migrations in `alembic/`. Installed as
top-level packages, those generic names would shadow other distributions and users' code (the
repository's `alembic/` folder shadowed the alembic library itself). So the wheel carries them in
`celery_admin/_app/`, a directory that is not on `sys.path`: `main()`, the `celery-admin` entry
point, puts it first on `sys.path` for its own process (the processes it starts inherit it: the
demo's workers through PYTHONPATH, uvicorn's worker processes through multiprocessing) and hands
over to `src.cli`. In a checkout the repository root plays that part (the editable install puts it
on `sys.path`), so `uv run celery-admin ...`, `uv run celery -A src.tasks.celery_app.app worker`
and `uv run fastapi dev src/main.py` work as before.

`celery_admin_events`, the worker-side extension, is an ordinary top-level package of the wheel:
users' Celery workers import it.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_app"


def app_root() -> Path:
    """The directory holding src/, schema/, resolvers/ and alembic/: the wheel's private copy,
    else the checkout this package sits in."""
    return _BUNDLED if (_BUNDLED / "src").is_dir() else _PACKAGE.parent


def activate() -> Path:
    """Put the application's directory first on `sys.path` (idempotent) and return it."""
    root = app_root()
    entry = str(root)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
    return root


def main() -> None:
    """The `celery-admin` command."""
    activate()
    from src.cli import main as cli

    cli()


__all__ = ["activate", "app_root", "main"]
