"""Reading audit records through the API, for tests of audited mutations."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.graphql import gql

AUDIT_LOGS = """
query($f: AuditLogFilter, $first: Int!, $after: String) {
  auditLogs(filter: $f, first: $first, after: $after) {
    edges { cursor node {
      id createdAt finishedAt subject role action target outcome request response error errorCode
      stateBefore stateAfter observed ip userAgent durationMs
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def audit_rows(
    http: httpx.AsyncClient,
    url: str,
    token: str,
    first: int = 20,
    cursor: str | None = None,
    **audit_filter: Any,
) -> list[dict[str, Any]]:
    """Newest first."""
    variables = {"f": audit_filter or None, "first": first, "after": cursor}
    data = (await gql(http, url, AUDIT_LOGS, variables, token=token)).ok()
    return [edge["node"] for edge in data["auditLogs"]["edges"]]


async def audit_row(http: httpx.AsyncClient, url: str, token: str, audit_id: str) -> dict[str, Any]:
    rows = await audit_rows(http, url, token, first=200)
    return next(r for r in rows if r["id"] == audit_id)


__all__ = ["AUDIT_LOGS", "audit_row", "audit_rows"]
