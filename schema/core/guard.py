"""The one guard on every root field: who may call it, on what, and (mutations) the audit record.

A `Guard` is a Strawberry field extension that the root-field decorators (schema/core/fields.py)
put on each field; it carries the field's `Requirement` (today a minimum role) and whether the
field is audited, and it is the only place a role is stated. It asks the policy
(src/auth/policy.py) with the caller and the `Resource` built from the arguments the field
declares with `On(...)`, so scoped permissions can later decide there too.

An audited field (every mutation) runs in this order, and nowhere else:
1. the audit row is written as pending: action = the field's name, request = its arguments
   (camelCase, redacted by the audit service), target = the declared arguments (or a constant);
   if it cannot be written the caller gets AUDIT_UNAVAILABLE and nothing runs;
2. the policy decides; a refusal completes the row as DENIED and raises UNAUTHENTICATED/FORBIDDEN;
3. the resolver runs: its expected errors (`AppError`, bad input included) become the payload's
   `errors` and a FAILURE row, never a half-written record;
4. the row is completed once, from the payload's `CommandResult`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.types.base import has_object_definition
from strawberry.types.field import StrawberryField

from schema.core.context import Info
from schema.core.inputs import TaskFilterInput
from schema.core.payloads import MutationPayload
from src.audit.service import AuditDraft, AuditResult, Outcome, jsonable
from src.auth.policy import Decision, Requirement, Resource
from src.auth.roles import Principal
from src.control.result import CommandResult
from src.errors import AppError, ErrorCode, Unauthenticated
from src.logs import bind as bind_log_context
from src.security.masking import changed_leaves


@dataclass(frozen=True, slots=True)
class On:
    """What a field acts on: for each kind of resource, the argument (Python name) naming it.
    Unless a field states its audit target, the target is these arguments' values joined by
    '@' in this order (a list joined by ',', null as '*')."""

    tasks: str | None = None
    task_names: str | None = None
    queues: str | None = None
    workers: str | None = None
    settings: str | None = None
    periodic_tasks: str | None = None

    def arguments(self) -> list[tuple[str, str]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)]


NOTHING = On()


def _values(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(str(v) for v in value)
    return (str(value),)


def _searches_task_data(value: Any) -> bool:
    """A task filter with `text` searches arguments, results and exceptions: task data."""
    return isinstance(value, TaskFilterInput) and bool((value.text or "").strip())


def _target_part(value: Any) -> str:
    values = _values(value)
    return ",".join(values) if values else "*"


def _plain(value: Any) -> Any:
    """An argument as the audit record keeps it: inputs as dicts, enums as their values."""
    if has_object_definition(value):
        return strawberry.asdict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Guard(FieldExtension):
    def __init__(
        self,
        requirement: Requirement,
        *,
        audited: bool = False,
        on: On = NOTHING,
        target: str | None = None,
        redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        cluster_wide: bool = False,
    ) -> None:
        self.requirement = requirement
        self.audited = audited
        self.on = on
        # answers figures over the whole cluster: refused to scoped callers (src/auth/access.py)
        self.cluster_wide = cluster_wide
        self.target = target
        self.redact = redact
        self.field: StrawberryField | None = None
        self._payload: type[MutationPayload] | None = None
        self._names: dict[str, str] | None = None
        self._filtered = False  # its tasks come through a task filter (issue 12's scopes)

    def describe(self) -> str:
        """The guard as the field's description states it, e.g. 'Requires: admin. Audited.'"""
        return (
            f"Requires: {self.requirement.describe()}."
            + (" Audited." if self.audited else "")
            + (" Refused to scoped callers (cluster-wide)." if self.cluster_wide else "")
        )

    def apply(self, field: StrawberryField) -> None:
        self.field = field
        names = {a.python_name for a in field.arguments}
        self._filtered = "filter" in names
        missing = [arg for _kind, arg in self.on.arguments() if arg not in names]
        if missing:
            raise TypeError(f"{field.python_name}: On(...) names unknown arguments {missing}")
        if self.audited:
            if not field.is_async:
                raise TypeError(f"{field.python_name}: an audited field has an async resolver")
            payload = field.type
            if not (isinstance(payload, type) and issubclass(payload, MutationPayload)):
                raise TypeError(f"{field.python_name}: an audited field returns a MutationPayload")
            self._payload = payload

    # -- what the call is about -----------------------------------------------------------

    def resource(self, kwargs: Mapping[str, Any]) -> Resource:
        return Resource(
            **{kind: _values(kwargs.get(arg)) for kind, arg in self.on.arguments()},
            task_data=any(_searches_task_data(v) for v in kwargs.values()),
            cluster_wide=self.cluster_wide,
        )

    def audit_target(self, kwargs: Mapping[str, Any]) -> str | None:
        if self.target is not None:
            return self.target
        parts = [_target_part(kwargs.get(arg)) for _kind, arg in self.on.arguments()]
        return "@".join(parts) if parts else None

    def request(self, info: Info, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments under their GraphQL names (through the field's own `redact`, if any,
        before the audit service's generic redaction)."""
        if self._names is None:
            assert self.field is not None
            convert = info.schema.config.name_converter.get_graphql_name
            self._names = {a.python_name: convert(a) for a in self.field.arguments}
        request = {self._names.get(k, k): _plain(v) for k, v in kwargs.items()}
        return self.redact(request) if self.redact is not None else request

    # -- deciding ---------------------------------------------------------------------------

    def _caller(self, info: Info) -> tuple[Principal | None, Unauthenticated | None]:
        try:
            return info.context.principal(), None
        except Unauthenticated as exc:  # a bad or expired token
            return None, exc

    def decide(
        self,
        info: Info,
        kwargs: Mapping[str, Any],
        caller: tuple[Principal | None, Unauthenticated | None],
    ) -> Decision:
        principal, bad_token = caller
        if bad_token is not None:
            return Decision(False, bad_token)
        return info.context.policy.decide(principal, self.requirement, self.resource(kwargs))

    def _authorize(self, info: Info, kwargs: Mapping[str, Any]) -> None:
        decision = self.decide(info, kwargs, self._caller(info))
        if decision.error is not None:
            raise decision.error

    async def decide_access(
        self,
        info: Info,
        kwargs: Mapping[str, Any],
        caller: tuple[Principal | None, Unauthenticated | None],
    ) -> Decision:
        """The role decision, then scopes and the super_admin sign-in requirement
        (src/auth/access.py); the caller's scope is left on the context for the task filter."""
        decision = self.decide(info, kwargs, caller)
        principal = caller[0]
        if decision.error is not None or principal is None:
            return decision
        context = info.context
        scope = await context.access.scope_for(principal)
        context.task_scope = scope
        return await context.access.decide(
            principal,
            self.requirement,
            self.resource(kwargs),
            scope=scope,
            mutation=self.audited,
            filtered=self._filtered,
        )

    # -- resolving --------------------------------------------------------------------------

    # `source` and `info` are positional-only (Strawberry passes them so): a field argument
    # named `source` must not collide with them.
    def resolve(  # type: ignore[override]
        self, next_: SyncExtensionResolver, source: Any, info: Info, /, **kwargs: Any
    ) -> Any:
        self._authorize(info, kwargs)
        return next_(source, info, **kwargs)

    async def resolve_async(  # type: ignore[override]
        self, next_: AsyncExtensionResolver, source: Any, info: Info, /, **kwargs: Any
    ) -> Any:
        await info.context.authenticate()  # once per request: keys fetched off the event loop
        if self.audited:
            return await self._audited(next_, source, info, kwargs)
        decision = await self.decide_access(info, kwargs, self._caller(info))
        if decision.error is not None:
            raise decision.error
        result = next_(source, info, **kwargs)
        if inspect.isasyncgen(result):  # a subscription: checked once, at its start
            return result
        return await result if inspect.isawaitable(result) else result

    async def _audited(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, kwargs: dict[str, Any]
    ) -> MutationPayload:
        context = info.context
        context.audited_attempts += 1
        audit = context.audit
        caller = self._caller(info)
        principal = caller[0]
        draft = AuditDraft(
            action=info.field_name,
            subject=principal.subject if principal else None,
            role=principal.role.claim if principal else None,
            target=self.audit_target(kwargs),
            request=self.request(info, kwargs),
            ip=context.client_ip,
            user_agent=context.user_agent,
            flags=await context.sign_in_flags(principal),
        )
        audit_id, started = await audit.begin(draft)  # AuditUnavailable: nothing runs
        bind_log_context(audit_id=audit_id)  # this request's later log lines name the record
        # What the error text of this attempt must not show: the raw arguments' secrets, and
        # whatever the field's own masking changed.
        raw = {k: _plain(v) for k, v in kwargs.items()}
        secrets = changed_leaves(jsonable(raw), jsonable(draft.request))

        decision = await self.decide_access(info, kwargs, caller)
        if decision.error is not None:
            error = decision.error
            await audit.finish(
                audit_id,
                started,
                AuditResult(Outcome.DENIED, error=error.message, error_code=error.code.value),
                request=raw,
                secrets=secrets,
            )
            raise error

        assert self._payload is not None
        try:
            payload = await next_(source, info, **kwargs)
        except AppError as exc:
            await audit.finish(
                audit_id,
                started,
                AuditResult(Outcome.FAILURE, error=exc.message, error_code=exc.code.value),
                request=raw,
                secrets=secrets,
            )
            payload = self._payload.failed(exc)
        except asyncio.CancelledError:
            await asyncio.shield(
                audit.finish(
                    audit_id,
                    started,
                    AuditResult(Outcome.FAILURE, error="request cancelled", error_code="CANCELLED"),
                    request=raw,
                    secrets=secrets,
                )
            )
            raise
        except Exception as exc:
            await audit.finish(
                audit_id,
                started,
                AuditResult(
                    Outcome.FAILURE,
                    error=f"{type(exc).__name__}: {exc}",
                    error_code=ErrorCode.INTERNAL,
                ),
                request=raw,
                secrets=secrets,
            )
            raise
        else:
            result = payload.result or CommandResult()
            errors = payload.errors
            await audit.finish(
                audit_id,
                started,
                AuditResult(
                    Outcome.SUCCESS if payload.ok else Outcome.FAILURE,
                    response=payload.audit_response(),
                    error="; ".join(e.message for e in errors) or None,
                    error_code=ErrorCode(errors[0].code).value if errors else None,
                    state_before=result.state_before,
                    state_after=result.state_after,
                    observed=result.observed,
                ),
                request=raw,
                secrets=secrets,
            )
        payload.audit_id = strawberry.ID(str(audit_id))
        return payload


def guard_of(field: StrawberryField) -> Guard | None:
    """The field's guard, if it has one (for the schema tests and tools)."""
    return next((e for e in field.extensions if isinstance(e, Guard)), None)


__all__ = ["NOTHING", "Guard", "On", "guard_of"]
