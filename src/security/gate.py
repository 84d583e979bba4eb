"""The request gate: what every GraphQL request over HTTP passes before it is validated or run.

In this order, so that a stranger's request costs almost nothing:
1. the token is checked (a signature check, no I/O); a valid one counts against its subject's
   budget, and that is all the gate does for it;
2. without one, an IP over its budget of denied attempts is refused (RATE_LIMITED) at once (a
   stranger on the same address cannot lock out users who hold tokens), then the anonymous
   budget of the IP is counted;
3. without a valid token the document is parsed with a small token cap and may select only the
   public root fields (`systemInfo`, `__typename`): anything else is UNAUTHENTICATED before any
   validation rule runs, and counts against the IP's denied budget (so does a document past the
   anonymous parse budget or caps: no client needs one). A refused mutation still
   leaves its DENIED audit row, but at most `denied` rows a minute per IP: past that budget one
   `rateLimited` row a window records that more were refused. (In development, anonymous
   introspection is allowed, for GraphiQL, with a larger parse budget.)
Authenticated documents are held to the caps in src/security/document.py by a schema extension
(schema/core/limits.py), which runs before the validation rules, WebSocket operations included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationType, parse

from src.audit.service import AuditDraft, AuditResult, AuditService, Outcome
from src.auth.policy import NO_TOKEN
from src.auth.roles import Principal
from src.errors import AppError, BadInput, Unauthenticated
from src.security.document import (
    DocumentCaps,
    QueryTooComplex,
    QueryTooCostly,
    check_document,
    operation_of,
    root_field_names,
)
from src.security.rate_limit import Bucket, RateLimited, RateLimiter

log = logging.getLogger("celery_admin.security")

ANONYMOUS_TOKENS = 400  # parse budget of a document sent without a valid token
INTROSPECTION_TOKENS = 5000  # the same, where anonymous introspection is allowed (development)
ANONYMOUS_CAPS = DocumentCaps(
    max_fields=40, max_selections=20, max_aliases=10, max_depth=5, max_cost=200, max_recursion=1
)
INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass(slots=True)
class Admission:
    """Who the gate let through; `checked` when it already measured the document."""

    principal: Principal | None
    checked: bool = False
    notes: list[str] = field(default_factory=list)


def parse_error(error: GraphQLError) -> AppError:
    """A syntax error, or a document past the parse budget, as an error with a code."""
    if "Document contains more than" in error.message:
        return QueryTooComplex(error.message, details={"cap": "max_tokens"})
    return BadInput(error.message)


class RequestGate:
    def __init__(
        self,
        *,
        schema: GraphQLSchema,
        public_fields: frozenset[str],
        limiter: RateLimiter,
        audit: AuditService,
        allow_anonymous_introspection: bool,
        caps: DocumentCaps,
    ) -> None:
        self.schema = schema
        self.public = public_fields | {"__typename"}
        self.caps = caps
        self.tokens = ANONYMOUS_TOKENS
        if allow_anonymous_introspection:  # development: GraphiQL introspects before a token
            self.public |= INTROSPECTION
            self.tokens = INTROSPECTION_TOKENS
        self.limiter = limiter
        self.audit = audit

    async def admit(
        self,
        *,
        authenticate: Callable[[], Principal | None],
        ip: str | None,
        user_agent: str | None,
        query: str | None,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> Admission:
        who = ip or "unknown"
        bad_token: Unauthenticated | None = None
        try:
            principal = authenticate()
        except Unauthenticated as exc:
            principal, bad_token = None, exc
        if principal is not None:
            await self.limiter.hit(Bucket.SUBJECT, principal.subject)
            return Admission(principal)
        block = self.limiter.blocked(who)
        if block is not None:  # Redis said so this window (a new bad token, past the shield)
            raise block.refusal()
        await self._within_denied_budget(who, ip, user_agent)
        await self.limiter.hit(Bucket.ANONYMOUS, who)
        if query is None:
            return Admission(None)  # strawberry answers "no query" itself
        try:
            document = self._parse(query)
            operation = operation_of(document, operation_name)
            roots = root_field_names(document, operation) if operation is not None else None
            if operation is not None and roots is not None and roots <= self.public:
                caps = self.caps if roots & INTROSPECTION else ANONYMOUS_CAPS
                check_document(document, self.schema, caps, variables)
                return Admission(None, checked=True)
        except GraphQLError as exc:
            error = parse_error(exc)
            if isinstance(error, QueryTooComplex):
                await self.limiter.count(Bucket.DENIED, who)
            raise error from None
        except (QueryTooComplex, QueryTooCostly):
            # no client needs a document past the anonymous caps: an attempt like a denied one
            await self.limiter.count(Bucket.DENIED, who)
            raise
        error = bad_token or Unauthenticated(NO_TOKEN)
        await self._denied(error, operation, roots, who, ip, user_agent)
        raise error

    def _parse(self, query: str) -> DocumentNode:
        """Parsed within the anonymous budget; only an introspection document (development:
        GraphiQL's) gets the larger one."""
        try:
            return parse(query, max_tokens=ANONYMOUS_TOKENS)
        except GraphQLError:
            if self.tokens == ANONYMOUS_TOKENS or not any(n in query for n in INTROSPECTION):
                raise
        return parse(query, max_tokens=self.tokens)

    async def _within_denied_budget(self, who: str, ip: str | None, agent: str | None) -> None:
        """Refuse an IP past its denied budget; the first refusal of a window is audited."""
        try:
            await self.limiter.check(Bucket.DENIED, who)
        except RateLimited as exc:
            if await self.limiter.count(Bucket.DENIED, who) == exc.limit + 1:
                request = {"bucket": Bucket.DENIED.value, "limit": exc.limit}
                await self._row("rateLimited", ip, agent, exc, request=request)
            raise

    async def _denied(
        self,
        error: Unauthenticated,
        operation: Any,
        roots: set[str] | None,
        who: str,
        ip: str | None,
        user_agent: str | None,
    ) -> None:
        """Count a refused attempt; audit a refused mutation (within the denied budget)."""
        await self.limiter.count(Bucket.DENIED, who)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return
        for action in sorted((roots or {"(unknown)"}) - self.public):
            await self._row(action, ip, user_agent, error, request=None)

    async def _row(
        self, action: str, ip: str | None, agent: str | None, error: AppError, request: Any
    ) -> None:
        try:
            row, started = await self.audit.begin(
                AuditDraft(action=action, request=request, ip=ip, user_agent=agent)
            )
            await self.audit.finish(
                row,
                started,
                AuditResult(Outcome.DENIED, error=error.message, error_code=error.code.value),
            )
        except AppError as exc:  # the refusal stands; the record is best effort here
            log.warning("could not audit a refused %s from %s: %s", action, ip, exc)


__all__ = ["ANONYMOUS_CAPS", "Admission", "RequestGate", "parse_error"]
