"""GraphQL over HTTP: graphql-http's server audit suite (node, tests/conformance/package.json)
against the running app reports no MUST failure and no SHOULD warning."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import ApiServer

HERE = Path(__file__).resolve().parent


def _audit(url: str) -> list[dict[str, str | None]]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "graphql-http").is_dir():
        pytest.fail("needs node and `npm --prefix tests/conformance ci` (.ci/run does it)")
    done = subprocess.run(
        [node, str(HERE / "audit.mjs"), url],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_graphql_over_http_audit_passes(api: ApiServer) -> None:
    results = _audit(api.graphql_url)
    assert len(results) > 30  # the suite ran
    failing = [r for r in results if r["status"] != "ok" and not str(r["name"]).startswith("MAY")]
    assert failing == [], "\n".join(f"{r['id']} {r['name']}: {r['reason']}" for r in failing)
