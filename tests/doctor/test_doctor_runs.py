"""How the doctor runs its checks: a check that overruns or fails is an INFO finding and the
others still report; findings are ordered by severity; a report is cached and shared."""

from __future__ import annotations

import asyncio

from celery import Celery

from src.doctor.doctor import FAILED, Doctor, run_checks
from src.doctor.model import Advisory, Check, Severity
from src.doctor.sources import Sources


def _sources() -> Sources:
    return Sources(app=Celery(set_as_current=False), inspector=None, db=None, state_redis=None)


def _finding(code: str, severity: Severity) -> Check:
    async def run(sources: Sources) -> list[Advisory]:
        return [Advisory(code, severity, code, "seen", "fix it")]

    return Check(code, run)


async def _hang(sources: Sources) -> list[Advisory]:
    await asyncio.Event().wait()
    return []


async def _fail(sources: Sources) -> list[Advisory]:
    raise ConnectionError("redis went away")


async def test_overrunning_and_failing_checks_are_info_findings() -> None:
    checks = (
        Check("hangs", _hang, timeout=0.2),
        _finding("warns", Severity.WARNING),
        Check("fails", _fail),
        _finding("loses", Severity.CRITICAL),
    )
    report = await run_checks(_sources(), checks)
    assert [(a.code, a.severity) for a in report.advisories] == [
        ("loses", Severity.CRITICAL),
        ("warns", Severity.WARNING),
        (FAILED, Severity.INFO),
        (FAILED, Severity.INFO),
    ]
    assert report.checked == ["warns", "loses"] and report.critical
    evidence = " ".join(a.evidence for a in report.advisories if a.code == FAILED)
    assert "hangs did not finish within 0.2 s" in evidence
    assert "fails failed: ConnectionError: redis went away" in evidence


async def test_reports_are_cached_and_shared() -> None:
    runs = 0
    release = asyncio.Event()

    async def counted(sources: Sources) -> list[Advisory]:
        nonlocal runs
        runs += 1
        await release.wait()
        return []

    doctor = Doctor(_sources, checks=(Check("counted", counted),), cache_seconds=60)
    both = asyncio.gather(doctor.report(), doctor.report())
    await asyncio.sleep(0)  # both callers are waiting on the one run
    release.set()
    first, second = await both
    assert first is second and runs == 1
    assert await doctor.report() is first and runs == 1
    expired = Doctor(_sources, checks=(Check("counted", counted),), cache_seconds=0)
    await expired.report()
    await expired.report()
    assert runs == 3
