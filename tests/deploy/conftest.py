"""What the shipped Prometheus and Grafana artefacts may name: the series a running celery-admin
serves on /metrics (with live workers, so every family has had its sample), the recording rules,
and the collector's series that its own branch adds to /metrics."""

from __future__ import annotations

import shutil
import time
from typing import Any

import httpx
import pytest
import yaml

from tests.support.promql import served_names
from tests.support.servers import ROOT, ApiServer

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "celery-admin.json"

# Served from the leading collector's status by the collector work (`celery_admin_collector_*`),
# merged separately: named here so the artefacts can use them before that lands. Once /metrics
# serves them, this set only repeats what `served` already holds.
COLLECTOR_SERIES = {
    "celery_admin_collector_dropped_events_total",
    "celery_admin_collector_pending_tasks",
    "celery_admin_collector_degraded",
}


def promtool() -> str:
    """promtool must be there (CI installs Debian's prometheus package): never skipped."""
    found = shutil.which("promtool")
    assert found, "promtool not found: apt-get install -y prometheus (.ci/run does)"
    return found


def rules() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text())


def recording_names() -> set[str]:
    return {r["record"] for g in rules()["groups"] for r in g["rules"] if "record" in r}


@pytest.fixture(scope="module")
def served(api: ApiServer, workers: Any) -> set[str]:
    """Series names /metrics serves, once the monitoring leader has taken a sample."""
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=10) as client:
        while True:
            text = client.get(f"{api.url}/metrics").text
            names = served_names(text)
            if "celery_queue_length" in names and "celery_worker_up" in names:
                return names
            assert time.monotonic() < deadline, f"no sample on /metrics: {text[:500]}"
            time.sleep(0.2)


__all__ = [
    "COLLECTOR_SERIES",
    "DASHBOARD",
    "RULES",
    "RULE_TESTS",
    "promtool",
    "recording_names",
    "rules",
]
