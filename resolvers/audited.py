"""The one mutation runner: audit first, then the role, then the action, then the audit's end.

Order matters: the pending audit row is written before anything else (if it cannot be, nothing
runs and the caller gets AUDIT_UNAVAILABLE); a caller without the role is refused *and* recorded
as denied; input is validated inside the action so bad input is recorded as a failure; the action's
AppErrors become the payload's `errors`, never a half-written record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from schema.context import Info
from schema.types.control import MutationError, MutationPayload, WorkerReply
from src.audit.service import AuditDraft, AuditResult, Outcome, jsonable
from src.auth.roles import Principal, Role
from src.control.commands import CommandResult
from src.errors import AppError, ErrorCode, Forbidden, Unauthenticated

P = TypeVar("P", bound=MutationPayload)


def _principal(info: Info) -> tuple[Principal | None, AppError | None]:
    try:
        return info.context.principal(), None
    except Unauthenticated as exc:
        return None, exc


def _denial(principal: Principal | None, error: AppError | None, role: Role) -> AppError | None:
    if error is not None:
        return error
    if principal is None:
        return Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
    if not principal.has(role):
        return Forbidden(f"requires role {role.claim}; you have {principal.role.claim}")
    return None


async def run_audited(
    info: Info,
    *,
    action: str,
    role: Role,
    target: str | None,
    variables: dict[str, Any],
    run: Callable[[Principal], Awaitable[CommandResult]],
    payload: type[P],
    extras: Callable[[CommandResult], dict[str, Any]] | None = None,
) -> P:
    context = info.context
    audit = context.services.control.audit
    principal, auth_error = _principal(info)
    draft = AuditDraft(
        action=action,
        subject=principal.subject if principal else None,
        role=principal.role.claim if principal else None,
        target=target,
        request=variables,
        ip=context.client_ip,
        user_agent=context.user_agent,
    )
    audit_id, started = await audit.begin(draft)  # AuditUnavailable: nothing runs

    denial = _denial(principal, auth_error, role)
    if denial is not None or principal is None:
        assert denial is not None
        await audit.finish(
            audit_id,
            started,
            AuditResult(Outcome.DENIED, error=denial.message, error_code=denial.code.value),
        )
        raise denial

    base: dict[str, Any] = {"audit_id": strawberry.ID(str(audit_id))}
    try:
        result = await run(principal)
    except AppError as exc:
        await audit.finish(
            audit_id,
            started,
            AuditResult(Outcome.FAILURE, error=exc.message, error_code=exc.code.value),
        )
        return payload(ok=False, errors=[MutationError.from_app(exc)], replies=[], **base)
    except asyncio.CancelledError:
        await asyncio.shield(
            audit.finish(
                audit_id,
                started,
                AuditResult(Outcome.FAILURE, error="request cancelled", error_code="CANCELLED"),
            )
        )
        raise
    except Exception as exc:
        await audit.finish(
            audit_id,
            started,
            AuditResult(
                Outcome.FAILURE, error=f"{type(exc).__name__}: {exc}", error_code=ErrorCode.INTERNAL
            ),
        )
        raise

    errors = [MutationError.from_app(e) for e in result.errors]
    response = {
        "ok": not errors,
        "replies": [
            {"hostname": r.hostname, "ok": r.ok, "message": r.message} for r in result.replies
        ],
        "errors": [{"field": e.field, "message": e.message, "code": e.code.value} for e in errors],
        "data": jsonable(result.data),
    }
    await audit.finish(
        audit_id,
        started,
        AuditResult(
            Outcome.SUCCESS if not errors else Outcome.FAILURE,
            response=response,
            error="; ".join(e.message for e in errors) or None,
            error_code=errors[0].code.value if errors else None,
            state_before=result.state_before,
            state_after=result.state_after,
            observed=result.observed,
        ),
    )
    return payload(
        ok=not errors,
        errors=errors,
        replies=[WorkerReply.from_domain(r) for r in result.replies],
        **base,
        **(extras(result) if extras else {}),
    )


__all__ = ["run_audited"]
