"""The committed build matches the dashboard's sources, without npm.

`npm --prefix dashboard run build` records in src/dashboard/static/build-info.json a hash of the
sources it built from (and of graphql.schema, which types them) and a hash of each file it wrote.
Recomputing both here catches a source edit committed without a rebuild, a schema change the
dashboard was not rebuilt against, and a hand-edited or missing built file. (`.ci/run` goes further:
it rebuilds from scratch and compares byte for byte, since the build is deterministic.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from src.dashboard.routes import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
SOURCES = [
    "index.html",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
    "scripts",
    "src",
]
REBUILD = "npm --prefix dashboard ci && npm --prefix dashboard run build"


def _files(entry: Path) -> list[Path]:
    if entry.is_dir():
        return [p for p in entry.rglob("*") if p.is_file()]
    return [entry]


def _digest(files: list[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for rel in sorted(p.relative_to(base).as_posix() for p in files):
        digest.update(rel.encode())
        digest.update(b"\0")
        digest.update((base / rel).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _info() -> dict[str, object]:
    return dict(json.loads((STATIC_DIR / "build-info.json").read_text()))


def test_the_build_was_made_from_the_current_sources() -> None:
    files = [f for entry in SOURCES for f in _files(DASHBOARD / entry)]
    assert _digest(files, DASHBOARD) == _info()["sources"], (
        f"dashboard/ changed since the committed build: run `{REBUILD}` and commit"
    )


def test_the_build_was_typed_against_the_current_schema() -> None:
    schema = hashlib.sha256((ROOT / "graphql.schema").read_bytes()).hexdigest()
    assert schema == _info()["schema"], (
        f"graphql.schema changed since the dashboard was built against it: run `{REBUILD}`"
    )


def test_every_built_file_is_committed_unchanged() -> None:
    recorded = _info()["files"]
    assert isinstance(recorded, dict) and recorded
    present = {
        p.relative_to(STATIC_DIR).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in STATIC_DIR.rglob("*")
        if p.is_file() and p.name != "build-info.json"
    }
    assert present == recorded, f"src/dashboard/static differs from its build: run `{REBUILD}`"


def test_the_page_uses_relative_urls_only() -> None:
    """So it works under any URL prefix (a reverse proxy path)."""
    html = (STATIC_DIR / "app" / "index.html").read_text()
    assert 'src="./assets/index.js"' in html
    assert 'href="/' not in html and 'src="/' not in html
