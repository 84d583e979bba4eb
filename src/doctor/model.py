"""What a check reports, and what a check is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from src.doctor.sources import Sources


class Severity(StrEnum):
    """CRITICAL: work is (or will be) lost or run twice; WARNING: work stalls or goes unseen;
    INFO: worth knowing (e.g. a check that could not run)."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True, slots=True)
class Advisory:
    code: str  # stable, snake_case: what scripts and alerts key on
    severity: Severity
    title: str
    evidence: str  # what was read from the cluster, with the numbers
    fix: str


CheckRun = Callable[["Sources"], Awaitable[list[Advisory]]]


@dataclass(frozen=True, slots=True)
class Check:
    """A named check: `run` reads what it needs from the shared sources of one doctor run."""

    code: str
    run: CheckRun
    timeout: float = 5.0


__all__ = ["SEVERITY_ORDER", "Advisory", "Check", "CheckRun", "Severity"]
