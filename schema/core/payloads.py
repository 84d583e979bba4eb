"""What every mutation returns, Saleor style: `ok`, `errors { field message code }`, `auditId` and
the workers' `replies`; each mutation's payload adds what it produced.

A resolver builds its payload from the `CommandResult` of its service call (`Payload.of(result,
...)`); the guard (schema/core/guard.py) completes the audit record from that result and sets
`auditId`, or builds `Payload.failed(error)` when the call raised an expected error.
"""

from __future__ import annotations

from typing import Any, Self

import strawberry
from strawberry.scalars import JSON

from schema.core.errors import ErrorCodeEnum  # noqa: F401  (registers ErrorCode)
from src.audit.service import jsonable
from src.control.broadcast import WorkerReply as DomainReply
from src.control.result import CommandResult
from src.errors import AppError, ErrorCode
from src.security.masking import mask_text


@strawberry.type(description="Why (part of) a mutation failed.")
class MutationError:
    field: str | None = strawberry.field(description="The input field (or worker, task) at fault.")
    message: str
    code: ErrorCode

    @classmethod
    def from_app(cls, error: AppError) -> MutationError:
        return cls(field=error.field, message=mask_text(error.message), code=error.code)


@strawberry.type(description="One worker's answer to a control command.")
class WorkerReply:
    hostname: str
    ok: bool
    message: str | None

    @classmethod
    def from_domain(cls, reply: DomainReply) -> WorkerReply:
        return cls(hostname=reply.hostname, ok=reply.ok, message=reply.message)


@strawberry.interface(description="What every mutation returns.")
class MutationPayload:
    ok: bool = strawberry.field(description="True when the action ran and nothing failed.")
    errors: list[MutationError]
    audit_id: strawberry.ID | None = strawberry.field(
        default=None, description="The audit record of this attempt."
    )
    replies: list[WorkerReply] = strawberry.field(
        default_factory=list, description="Each worker's reply, if any."
    )
    # What ran, for the audit record (not in the schema).
    result: strawberry.Private[CommandResult | None] = None

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        """The payload of a call that ran: its errors (partial failures), replies and `produced`."""
        return cls(
            ok=not result.errors,
            errors=[MutationError.from_app(e) for e in result.errors],
            replies=[WorkerReply.from_domain(r) for r in result.replies],
            result=result,
            **produced,
        )

    @classmethod
    def failed(cls, error: AppError) -> Self:
        """The payload of a call refused with an expected error: nothing ran."""
        return cls(ok=False, errors=[MutationError.from_app(error)])

    def audit_response(self) -> dict[str, Any]:
        """What the audit record keeps as the response."""
        return {
            "ok": self.ok,
            "replies": [
                {"hostname": r.hostname, "ok": r.ok, "message": r.message} for r in self.replies
            ],
            "errors": [
                {"field": e.field, "message": e.message, "code": ErrorCode(e.code).value}
                for e in self.errors
            ],
            "data": jsonable(self.result.data if self.result is not None else {}),
        }


@strawberry.type(description="A control command on workers or tasks, with what was observed.")
class ControlPayload(MutationPayload):
    state_before: JSON | None = None
    state_after: JSON | None = None
    observed: JSON | None = None

    @classmethod
    def of(cls, result: CommandResult, **produced: Any) -> Self:
        return super().of(
            result,
            state_before=result.state_before,
            state_after=result.state_after,
            observed=result.observed,
            **produced,
        )


__all__ = ["ControlPayload", "MutationError", "MutationPayload", "WorkerReply"]
