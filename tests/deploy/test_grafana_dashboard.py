"""deploy/grafana/celery-admin.json: a well-formed dashboard model whose every query is valid
PromQL (promtool parses it) and names only series celery-admin serves."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import COLLECTOR_SERIES, DASHBOARD, promtool
from tests.support.promql import metric_names

BUILT_IN = {"__rate_interval", "__interval", "__range", "__all"}
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<metric>[^,()]+),\s*)?(?P<label>\w+)\)$")


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in model["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows hold theirs
    return found


def _queries(model: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target."""
    return [
        (f"panel {p['id']} {p['title']!r} {t['refId']}", t["expr"])
        for p in _panels(model)
        for t in p.get("targets", [])
    ]


def _variables(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in model["templating"]["list"]}


def test_the_model_is_a_dashboard(model: dict[str, Any]) -> None:
    assert isinstance(model["schemaVersion"], int) and model["schemaVersion"] >= 36
    assert model["uid"] == "celery-admin" and model["title"] and model["id"] is None
    panels = _panels(model)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps panel {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)) and all(t["expr"].strip() for t in panel["targets"])
    variables = _variables(model)
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for where, expr in _queries(model):
        for name in re.findall(r"\$\{?(\w+)", expr):
            assert name in variables or name in BUILT_IN, (where, name)


def test_every_query_names_only_series_celery_admin_serves(
    model: dict[str, Any], served: set[str]
) -> None:
    known = served | COLLECTOR_SERIES
    named: set[str] = set()
    for where, expr in _queries(model):
        names = metric_names(expr)
        assert names, (where, expr)
        assert not names - known, (where, names - known)
        named |= names
    for variable in _variables(model).values():
        if variable["type"] != "query":
            continue
        found = LABEL_VALUES.match(variable["query"]["query"])
        assert found and found["metric"], variable
        assert found["metric"] in served, variable
    # The dashboard covers the seed's names and the per-task-name series.
    assert {"celery_tasks_total", "celery_task_duration_seconds_bucket", "celery_active_workers",
            "celery_task_runtime_seconds_bucket", "celery_task_failed_total"} <= named  # fmt: skip


def test_promtool_parses_every_query(model: dict[str, Any], tmp_path: Path) -> None:
    """Each query (variables replaced as Grafana would) as a recording rule for promtool."""
    replaced = []
    for _, expr in _queries(model):
        expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        replaced.append(re.sub(r"\$\{?\w+\}?", ".*", expr))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(replaced)
    ]}]}  # fmt: skip
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(replaced)} rules found" in done.stdout
