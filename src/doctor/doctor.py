"""Runs the checks: all at once over one `Sources`, each within its timeout (a check that fails
or overruns becomes an INFO advisory saying so, never an error of the whole report), and the
report cached for `cache_seconds` with one run in flight however many callers ask."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from src.doctor.model import SEVERITY_ORDER, Advisory, Check, Severity
from src.doctor.registry import CHECKS
from src.doctor.sources import Sources

log = logging.getLogger(__name__)

CACHE_SECONDS = 15.0
FAILED = "doctor_check_failed"


@dataclass(frozen=True, slots=True)
class DoctorReport:
    advisories: list[Advisory]
    checked: list[str]  # codes of the checks that ran to the end
    at: float  # wall clock

    @property
    def critical(self) -> bool:
        return any(a.severity is Severity.CRITICAL for a in self.advisories)


async def _run_one(check: Check, sources: Sources) -> tuple[list[Advisory], bool]:
    try:
        return await asyncio.wait_for(check.run(sources), check.timeout), True
    except TimeoutError:
        reason = f"did not finish within {check.timeout:g} s"
    except Exception as exc:  # a check must not take the report down with it
        log.info("doctor check %s failed: %s", check.code, exc)
        reason = f"failed: {type(exc).__name__}: {exc}"
    return [
        Advisory(
            code=FAILED,
            severity=Severity.INFO,
            title=f"Check {check.code} could not run",
            evidence=f"{check.code} {reason}",
            fix="make sure the broker, the result backend and the database answer; "
            "run `celery-admin doctor` again.",
        )
    ], False


async def run_checks(sources: Sources, checks: tuple[Check, ...] = CHECKS) -> DoctorReport:
    try:
        outcomes = await asyncio.gather(*(_run_one(c, sources) for c in checks))
    finally:
        await sources.close()
    advisories = [a for found, _ in outcomes for a in found]
    advisories.sort(key=lambda a: SEVERITY_ORDER[a.severity])  # stable: registry order within
    checked = [c.code for c, (_, ok) in zip(checks, outcomes, strict=True) if ok]
    return DoctorReport(advisories, checked, time.time())


class Doctor:
    """The process's doctor: `report()` is cached briefly and shared by concurrent callers."""

    def __init__(
        self,
        sources: Callable[[], Sources],
        *,
        checks: tuple[Check, ...] = CHECKS,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._sources = sources
        self._checks = checks
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, DoctorReport] | None = None
        self._inflight: asyncio.Future[DoctorReport] | None = None

    async def report(self) -> DoctorReport:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] <= self._cache_seconds:
            return self._cached[1]
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._inflight)

    async def _refresh(self) -> DoctorReport:
        try:
            report = await run_checks(self._sources(), self._checks)
            self._cached = (time.monotonic(), report)
            return report
        finally:
            self._inflight = None


__all__ = ["CACHE_SECONDS", "FAILED", "Doctor", "DoctorReport", "run_checks"]
