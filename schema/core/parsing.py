"""Parsed documents shared across requests, for queries and mutations only.

Dashboards send the same few documents again and again, so parsing them once pays. Subscriptions
are left out: with one document object shared by every subscriber, per-event result sharing
(schema/adapters/shared_results.py) stopped helping and the p99 delay at 1,000 subscribers went from about
85 to 290 ms (bench/subscribers.py). The check is deliberately coarse: any document that mentions
`subscription` is parsed afresh.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import ParserCache


class QueryParserCache(ParserCache):
    def on_parse(self) -> Iterator[None]:
        if "subscription" in (self.execution_context.query or ""):
            yield
            return
        yield from super().on_parse()


__all__ = ["QueryParserCache"]
