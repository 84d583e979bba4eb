"""The doctor's findings as GraphQL types (src/doctor)."""

from __future__ import annotations

from enum import Enum

import strawberry

from src.doctor import Advisory as DoctorAdvisory


@strawberry.enum(
    description="CRITICAL: work is lost or runs twice; WARNING: work stalls or goes unseen; "
    "INFO: worth knowing (e.g. a check that could not run)."
)
class AdvisorySeverity(Enum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@strawberry.type(description="Configuration that loses or stalls work: what, why, and the fix.")
class Advisory:
    code: str = strawberry.field(description="Stable snake_case id of the finding.")
    severity: AdvisorySeverity
    title: str
    evidence: str = strawberry.field(description="What was read from the cluster.")
    fix: str

    @classmethod
    def of(cls, advisory: DoctorAdvisory) -> Advisory:
        return cls(
            code=advisory.code,
            severity=AdvisorySeverity(advisory.severity.value),
            title=advisory.title,
            evidence=advisory.evidence,
            fix=advisory.fix,
        )


__all__ = ["Advisory", "AdvisorySeverity"]
