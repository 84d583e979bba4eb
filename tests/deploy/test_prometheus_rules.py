"""deploy/prometheus/alerts.yml: valid for promtool, unit-tested by alerts_test.yml, over series
celery-admin serves, and every alert has a unit test that makes it fire."""

from __future__ import annotations

import subprocess

import yaml

from tests.deploy.conftest import (
    COLLECTOR_SERIES,
    RULE_TESTS,
    RULES,
    promtool,
    recording_names,
    rules,
)
from tests.support.promql import metric_names


def _run(*args: str) -> str:
    done = subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_promtool_checks_the_rules() -> None:
    output = _run("check", "rules", str(RULES))
    assert "SUCCESS" in output


def test_promtool_unit_tests_pass() -> None:
    output = _run("test", "rules", str(RULE_TESTS))
    print(output)
    assert "SUCCESS" in output and "FAILED" not in output


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    alerts = {r["alert"] for g in rules()["groups"] for r in g["rules"] if "alert" in r}
    cases = [
        case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]  # fmt: skip
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert alerts == firing, f"alerts without a firing test: {alerts - firing}"
    assert alerts == quiet, f"alerts without a test that they stay quiet: {alerts - quiet}"
    records = recording_names()
    tested = {
        name
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("promql_expr_test", [])
        for name in metric_names(case["expr"])
    }
    assert {"queue:celery_task_failure_ratio:rate5m", "name:celery_task_failure_ratio:rate5m",
            "queue:celery_task_duration_seconds:p95_5m"} <= tested & records  # fmt: skip


def test_the_rules_read_only_series_celery_admin_serves(served: set[str]) -> None:
    known = served | recording_names() | COLLECTOR_SERIES
    for group in rules()["groups"]:
        for rule in group["rules"]:
            missing = metric_names(rule["expr"]) - known
            assert not missing, (rule.get("alert") or rule.get("record"), missing)
