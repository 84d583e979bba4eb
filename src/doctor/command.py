"""`celery-admin doctor`: the same report as `systemStatus { advisories }`, from this machine,
without the API: the checks' sources built from the settings, then closed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict

from src.cluster import load_cluster_app
from src.config import Settings
from src.control.inspector import Inspector
from src.db.session import Database
from src.doctor.doctor import DoctorReport, run_checks
from src.doctor.model import Severity
from src.doctor.sources import Sources
from src.security.masking import mask_url

MARKS = {Severity.CRITICAL: "CRITICAL", Severity.WARNING: "WARNING ", Severity.INFO: "INFO    "}


async def _report(settings: Settings) -> DoctorReport:
    app = load_cluster_app(settings)
    inspector = Inspector(app, timeout=settings.inspect_timeout, cache_ttl=0)
    db = Database.from_url(settings.database_url)
    sources = Sources(
        app=app,
        inspector=inspector,
        db=db,
        state_redis=None,
        operators_app=settings.celery_app is not None,
    )
    # celery-admin's own state (worker registry, collector status): as the API finds it
    state_url = settings.pubsub_redis_url or str(app.conf.result_backend or "")
    sources.state_redis = sources.redis_for(state_url)  # closed with the sources
    with contextlib.suppress(Exception):  # the checks that need the workers say so themselves
        inspector.observe_workers((await inspector.discover()).replies)
    try:
        return await run_checks(sources)
    finally:
        inspector.close()
        await db.dispose()


def doctor_report(settings: Settings) -> DoctorReport:
    return asyncio.run(_report(settings))


def render_json(report: DoctorReport) -> str:
    return json.dumps(
        {
            "advisories": [asdict(a) for a in report.advisories],
            "checked": report.checked,
            "critical": report.critical,
        },
        indent=2,
    )


def render_text(report: DoctorReport, broker_url: str) -> str:
    lines = [f"celery-admin doctor: {mask_url(broker_url)}"]
    if not report.advisories:
        lines.append(f"no findings ({len(report.checked)} checks ran)")
    for advisory in report.advisories:
        lines += [
            "",
            f"{MARKS[advisory.severity]} {advisory.title}  [{advisory.code}]",
            f"  evidence: {advisory.evidence}",
            f"  fix:      {advisory.fix}",
        ]
    counts = {s: sum(a.severity is s for a in report.advisories) for s in Severity}
    lines += [
        "",
        f"{counts[Severity.CRITICAL]} critical, {counts[Severity.WARNING]} warning, "
        f"{counts[Severity.INFO]} info; checks run: {', '.join(report.checked) or 'none'}",
    ]
    return "\n".join(lines)


__all__ = ["doctor_report", "render_json", "render_text"]
