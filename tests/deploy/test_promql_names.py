"""The PromQL name extractor the artefact tests rely on."""

from __future__ import annotations

import pytest

from tests.support.promql import metric_names, served_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("max(celery_active_workers)", {"celery_active_workers"}),
        (
            'sum by (queue) (rate(celery_tasks_total{queue=~"$queue", status="FAILURE"}[5m]))'
            " / queue:celery_tasks_finished:rate5m",
            {"celery_tasks_total", "queue:celery_tasks_finished:rate5m"},
        ),
        (
            "histogram_quantile(0.95, max by (queue, le) "
            "(rate(celery_task_duration_seconds_bucket[$__rate_interval])))",
            {"celery_task_duration_seconds_bucket"},
        ),
        ("topk(10, a_total) > 1e3 and on (x) b or absent(c)", {"a_total", "b", "c"}),
        ("label_values(celery_queue_length, queue)", {"celery_queue_length", "queue"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_served_names() -> None:
    text = (
        "# HELP x_total x\n# TYPE x_total counter\n"
        '# TYPE h histogram\nh_bucket{le="1"} 1\n# TYPE g gauge\ng{a="b"} 2\n'
    )
    assert served_names(text) == {"x_total", "h", "h_bucket", "h_sum", "h_count", "g"}
