"""GraphiQL from our own files: Strawberry's page loads React and GraphiQL from a public CDN, which
is a blank page on an air-gapped network. We serve the same page with each CDN URL pointing at the
copy vendored from npm into `static/vendor/<package>@<version>/<file>` (the CDN's own layout), and
keep the page's integrity hashes, so the browser itself checks the copies are the same bytes.

Strawberry's router renders the page in `render_graphql_ide(request)`, an instance method; setting
it on the router instance is the whole adapter (tests/dashboard/test_graphiql.py is its contract
test against the pinned Strawberry).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import HTMLResponse

from src.dashboard.prefix import url_prefix
from src.dashboard.routes import DASHBOARD_PATH, VENDOR_DIR

CDN = re.compile(r"https://unpkg\.com/((?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/([\w./-]+)")


def cdn_assets(html: str) -> list[tuple[str, str]]:
    """(package@version, file) for every CDN URL in `html`."""
    return [(m.group(1), m.group(2)) for m in CDN.finditer(html)]


def missing_assets(html: str) -> list[str]:
    return [
        f"{pkg}/{file}" for pkg, file in cdn_assets(html) if not (VENDOR_DIR / pkg / file).is_file()
    ]


def localise(html: str, prefix: str) -> str:
    """`html` with each CDN URL replaced by our vendored copy under `prefix`."""
    base = f"{prefix}{DASHBOARD_PATH}/vendor"
    return CDN.sub(lambda m: f"{base}/{m.group(1)}/{m.group(2)}", html)


@lru_cache(maxsize=16)
def _page(source: str, prefix: str) -> str:
    return localise(source, prefix)


class _Router:  # the part of Strawberry's GraphQLRouter we touch
    graphql_ide_html: str
    render_graphql_ide: Callable[[Request], Awaitable[HTMLResponse]]


def use_local_graphiql(router: object, trusted_proxies: frozenset[str]) -> None:
    """Make `router` (a Strawberry GraphQLRouter) serve GraphiQL from the vendored files."""
    target: _Router = router  # type: ignore[assignment]

    async def render_graphql_ide(request: Request) -> HTMLResponse:
        return HTMLResponse(_page(target.graphql_ide_html, url_prefix(request, trusted_proxies)))

    target.render_graphql_ide = render_graphql_ide


__all__ = ["cdn_assets", "localise", "missing_assets", "use_local_graphiql"]
