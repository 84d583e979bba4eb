"""The GraphQL router: HTTP plus both WebSocket protocols (graphql-transport-ws, legacy graphql-ws).

A WebSocket is authenticated once, at `connection_init`, from its payload
(`{"Authorization": "Bearer <jwt>"}` or `{"token": "<jwt>"}`): no token or a bad one refuses the
connection (graphql-transport-ws closes with 4403, graphql-ws answers `connection_error`). Each
subscription is then checked by its field's guard when it starts, and ends when the token
expires. A `connection_init` whose payload is null counts as one without a token (see
schema/adapters/ws_handlers.py). Cross-origin handshakes are allowed only from ALLOWED_ORIGINS.

Over HTTP every request first passes the request gate (src/security/gate.py: budgets, token,
anonymous documents) and then runs within REQUEST_DEADLINE_SECONDS. Refusals and Strawberry's
own request errors (bad JSON, wrong method, a subscription over POST) answer a GraphQL error
body with `extensions.code`. The media type follows the Accept header: application/json, or
application/graphql-response+json (GraphQL over HTTP), where a request that produced no data
answers a 4xx status.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import strawberry
from cross_web import HTTPException
from fastapi import Request, Response
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http import process_result as strawberry_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from schema.adapters.ws_handlers import LegacyWSHandler, TransportWSHandler
from schema.core.context import Context
from schema.core.discovery import guarded_fields
from schema.core.errors import shape, with_request_id
from src.errors import AppError, BadInput, ErrorCode, Unauthenticated
from src.logs import current_request_id
from src.security.body import BadBody, load_json
from src.security.gate import RequestGate
from src.security.rate_limit import Bucket, RateLimited
from src.security.shield import GRAPHQL_RESPONSE, wants_graphql_response

_STATUS = {
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.REQUEST_TOO_LARGE: 413,
    ErrorCode.TIMEOUT: 504,
}
# Refusals whose status holds whatever the client accepts (they are about HTTP, not GraphQL).
_HTTP_LEVEL = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.REQUEST_TOO_LARGE})


def _error(message: str, code: ErrorCode, details: Mapping[str, Any] | None = None) -> dict:
    extensions: dict[str, Any] = {"code": code.value}
    if details:
        extensions["details"] = dict(details)
    request_id = current_request_id()
    if request_id is not None:  # as the schema's errors carry it (schema/core/errors.py)
        extensions["requestId"] = request_id
    return {"errors": [{"message": message, "extensions": extensions}]}


def _rejection(error: AppError) -> ConnectionRejectionError:
    return ConnectionRejectionError(
        {"message": error.message, "extensions": {"code": error.code.value}}
    )


async def _refused(context: Context, error: AppError) -> ConnectionRejectionError:
    """A refused connection_init counts against the IP's denied budget (as over HTTP); past it
    the refusal says RATE_LIMITED."""
    who = context.client_ip or "unknown"
    block = context.limiter.blocked(who)
    if block is not None:  # over a budget this window, as Redis said: no round trip
        return _rejection(block.refusal())
    try:
        await context.limiter.check(Bucket.DENIED, who)
    except RateLimited as exc:
        return _rejection(exc)
    await context.limiter.count(Bucket.DENIED, who)
    return _rejection(error)


_STREAMED = ("next", "data")  # result messages of graphql-transport-ws and graphql-ws
_encoded: OrderedDict[int, tuple[object, str]] = OrderedDict()
_ENCODED_SIZE = 256


def _encode_data(data: object) -> str:
    """JSON of a result's `data`, once per result object: subscribers that share an execution
    (schema/adapters/shared_results.py) share the encoding too."""
    hit = _encoded.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    text = json.dumps(data, separators=(",", ":"))
    _encoded[id(data)] = (data, text)  # holding `data` keeps its id unique
    while len(_encoded) > _ENCODED_SIZE:
        _encoded.popitem(last=False)
    return text


class CeleryAdminRouter(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    max_json_depth = 32

    # -- HTTP: the gate, the deadline, errors with codes, the media type ------------------

    def decode_json(self, data: str | bytes) -> object:
        return load_json(data, max_depth=self.max_json_depth)

    def _public_fields(self) -> frozenset[str]:
        cached: frozenset[str] | None = getattr(self, "_public", None)
        if cached is None:
            schema = self.schema
            assert isinstance(schema, strawberry.Schema)
            cached = frozenset(f.name for f in guarded_fields(schema) if f.guard is None)
            self._public = cached
        return cached

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        single = request_data if isinstance(request_data, GraphQLRequestData) else None
        gate = RequestGate(
            schema=self.schema._schema,  # type: ignore[attr-defined]
            public_fields=self._public_fields(),
            limiter=context.limiter,
            audit=context.audit,
            allow_anonymous_introspection=not context.production,
            caps=context.document_caps,
        )
        await (
            context.authenticate()
        )  # identity provider keys fetched off the loop, failures counted
        try:
            await gate.admit(
                authenticate=context.principal,
                ip=context.client_ip,
                user_agent=context.user_agent,
                query=single.query if single else None,
                variables=single.variables if single else None,
                operation_name=single.operation_name if single else None,
            )
        except (Unauthenticated, RateLimited):
            refused = context.refused_token()
            if refused is not None:  # sent again from a blocked address: refused at the door
                context.limiter.remember_bad_token(refused)
            raise
        deadline = context.deadline_seconds
        try:
            async with asyncio.timeout(deadline):
                return await super().execute_operation(
                    request, request_adapter, request_data, context, root_value, sub_response
                )
        except TimeoutError:
            raise AppError(
                f"the request ran past its deadline of {deadline:g} s (REQUEST_DEADLINE_SECONDS)",
                code=ErrorCode.TIMEOUT,
            ) from None

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """As Strawberry's, but a subscription is refused over plain HTTP (it used to run and
        fail as INTERNAL): subscriptions are served over WebSocket."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise BadInput(
                    "subscriptions are served over WebSocket (graphql-transport-ws), not "
                    f"over HTTP {request_adapter.method}"
                ) from None
            raise HTTPException(400, exc.as_http_error_reason(request_adapter.method)) from exc
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    def _refusal(
        self, request: Request, error: AppError | HTTPException, *, http_level: bool
    ) -> Response:
        """A refusal as a GraphQL error body. Under application/json a refusal of the document
        (not of the HTTP request itself) answers 200, as GraphQL over HTTP says."""
        if isinstance(error, AppError):
            message, code, details = error.message, error.code, error.details
            status = _STATUS.get(code, 400)
            http_level = http_level or code in _HTTP_LEVEL
        else:
            message, code, details, status = (
                error.reason,
                ErrorCode.BAD_INPUT,
                {},
                error.status_code,
            )
        graphql_response = wants_graphql_response(request.headers)
        body = _error(message, code, details)
        if code is ErrorCode.UNAUTHENTICATED and not http_level:
            # As when the guards refused each field (what clients such as the dashboard know):
            # `data: null` and 200, under either media type.
            body, status = {"data": None, **body}, 200
        if not graphql_response and not http_level:
            status = 200
        response = Response(
            json.dumps(body, separators=(",", ":")),
            status_code=status,
            media_type=GRAPHQL_RESPONSE if graphql_response else "application/json",
        )
        if isinstance(error, RateLimited):
            response.headers["retry-after"] = str(error.retry_after)
        if code is ErrorCode.UNAUTHENTICATED:
            response.headers["www-authenticate"] = "Bearer"
        return response

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if self.is_websocket_request(request):
            return await super().run(request, context, root_value)
        try:
            response = await super().run(request, context, root_value)
        except BadBody as exc:
            return self._refusal(request, exc, http_level=True)
        except AppError as exc:
            return self._refusal(request, exc, http_level=False)
        except HTTPException as exc:  # Strawberry's request errors: bad JSON, method, operation
            return self._refusal(request, exc, http_level=True)
        if (
            isinstance(response, Response)
            and wants_graphql_response(request.headers)
            and response.headers.get("content-type", "").startswith("application/json")
        ):
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if getattr(request.state, "graphql_no_data", False):
                response.status_code = 400
        return response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # No data entry (GraphQL over HTTP: a request error, 4xx under graphql-response+json):
        # nothing executed. An execution error that nulled the root has a path, and data: null.
        request.state.graphql_no_data = result.data is None and not any(
            error.path for error in result.errors or ()
        )
        if result.errors:  # a parse error skips the extensions' shaping
            result.errors = with_request_id(
                [e if (e.extensions or {}).get("code") else shape(e) for e in result.errors]
            )
        return strawberry_result(result)

    def encode_json(self, data: object) -> str | bytes:
        if isinstance(data, dict) and data.get("type") in _STREAMED:
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.keys() == {"data"}:
                return '{"id":%s,"type":"%s","payload":{"data":%s}}' % (  # noqa: UP031
                    json.dumps(data.get("id")),
                    data["type"],
                    _encode_data(payload["data"]),
                )
        return super().encode_json(data)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        await context.authenticate()  # keys fetched off the loop, a failure counted
        try:
            principal = context.principal()
        except Unauthenticated as exc:
            raise await _refused(context, exc) from None
        if principal is None:  # authentication only: each subscription's guard decides the rest
            raise await _refused(
                context,
                Unauthenticated(
                    'send the token in connection_init: {"Authorization": "Bearer <token>"}'
                ),
            )
        # A revoked token closes the connections opened with it (src/auth/revocation.py).
        context.revocations.track(principal.token_id, context.request)
        return {"subject": principal.subject, "role": principal.role.claim}


__all__ = ["CeleryAdminRouter"]
