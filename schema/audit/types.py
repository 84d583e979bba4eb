"""Audit trail types: one record per management attempt, paged by keyset cursor."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from schema.core.mapping import build
from src.audit.query import AuditFilter
from src.audit.service import Outcome
from src.db.models import AuditLog as AuditRow
from src.errors import BadInput

AuditOutcomeEnum = strawberry.enum(
    Outcome, name="AuditOutcome", description="How a management attempt ended."
)

MAX_LIST = 50


@strawberry.type(description="One management attempt: who, what, how it ended, what was seen.")
class AuditLog:
    id: strawberry.ID
    created_at: datetime
    finished_at: datetime | None
    subject: str | None
    role: str | None
    action: str
    target: str | None
    outcome: Outcome
    request: JSON | None = strawberry.field(description="The variables, secrets redacted.")
    response: JSON | None
    error: str | None
    error_code: str | None
    state_before: JSON | None
    state_after: JSON | None
    observed: JSON | None
    ip: str | None
    user_agent: str | None
    duration_ms: float | None
    flags: JSON | None = strawberry.field(
        description="Anomalies, e.g. new_subject / new_ip: a super_admin acting from a subject "
        "or address not seen for AUTH_NEW_SOURCE_DAYS."
    )

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditLog:
        return build(cls, row, id=strawberry.ID(str(row.id)))


@strawberry.type
class AuditLogEdge:
    cursor: str
    node: AuditLog


@strawberry.type
class AuditPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Audit records, newest first.")
class AuditLogConnection:
    edges: list[AuditLogEdge]
    page_info: AuditPageInfo


@strawberry.input(description="Which audit records: every given field must match.")
class AuditLogFilter:
    actors: list[str] | None = strawberry.field(default=None, description="Token subjects.")
    actions: list[str] | None = strawberry.field(default=None, description="e.g. revokeTask.")
    outcomes: list[Outcome] | None = None
    target: str | None = None
    after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    before: datetime | None = strawberry.field(default=None, description="Exclusive.")

    def to_domain(self) -> AuditFilter:
        for name in ("actors", "actions", "outcomes"):
            if len(getattr(self, name) or []) > MAX_LIST:
                raise BadInput(f"{name}: at most {MAX_LIST} values", field=name)
        if self.after and self.before and self.after >= self.before:
            raise BadInput("'after' must be earlier than 'before'", field="after")
        return AuditFilter(
            actors=tuple(self.actors or ()),
            actions=tuple(self.actions or ()),
            outcomes=tuple(o.value for o in self.outcomes or ()),
            target=self.target,
            after=self.after,
            before=self.before,
        )


__all__ = [
    "AuditLog",
    "AuditLogConnection",
    "AuditLogEdge",
    "AuditLogFilter",
    "AuditOutcomeEnum",
    "AuditPageInfo",
]
