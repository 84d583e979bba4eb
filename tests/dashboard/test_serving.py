"""The dashboard and GraphiQL as `celery-admin serve` serves them: the page with its security
headers, assets revalidated by ETag, the redirect honouring a trusted proxy's prefix only, and
GraphiQL loading nothing from a CDN (every file it names is ours, with its integrity hash intact).
"""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest
from starlette.requests import Request
from strawberry.http.ides import get_graphql_ide_html

from src.dashboard.graphiql import cdn_assets, localise, missing_assets
from src.dashboard.prefix import url_prefix
from tests.support.servers import ApiServer

PAGE = "/celery-admin/dashboard/"


def test_the_page_is_served_with_a_strict_content_security_policy(api: ApiServer) -> None:
    response = httpx.get(f"{api.url}{PAGE}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-cache"
    assert './assets/index.js"' in response.text


def test_assets_are_revalidated_by_etag(api: ApiServer) -> None:
    url = f"{api.url}{PAGE}assets/index.js"
    first = httpx.get(url)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"
    assert "javascript" in first.headers["content-type"]
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert httpx.get(f"{api.url}{PAGE}assets/../../../main.py").status_code == 404


def test_assets_are_sent_precompressed_to_clients_that_accept_gzip(api: ApiServer) -> None:
    url = f"{api.url}{PAGE}assets/index.js"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = httpx.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "javascript" in zipped.headers["content-type"]
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.content == plain.content  # httpx decodes it: the same file


def test_the_slashless_path_redirects_and_ignores_an_untrusted_prefix(api: ApiServer) -> None:
    response = httpx.get(
        f"{api.url}/celery-admin/dashboard", headers={"X-Forwarded-Prefix": "//evil.example"}
    )
    assert response.status_code == 308
    assert response.headers["location"] == "/celery-admin/dashboard/"


def _request(peer: str, headers: dict[str, str], root_path: str = "") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/celery-admin/dashboard",
        "root_path": root_path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (peer, 50000),
        "query_string": b"",
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "header", "root_path", "expected"),
    [
        ("10.0.0.5", "/ops/celery", "", "/ops/celery"),  # a trusted proxy says so
        ("10.0.0.5", "/ops/", "", "/ops"),
        ("10.0.0.9", "/ops", "", ""),  # anyone else: ignored
        ("10.0.0.5", "//evil.example", "", ""),  # not a path: ignored
        ("10.0.0.5", '/x"><script>', "", ""),
        ("10.0.0.5", "/a/../b", "", "/a/../b"),  # a path the browser resolves itself; harmless
        ("10.0.0.9", "", "/root", "/root"),  # uvicorn --root-path
    ],
)
def test_url_prefix(peer: str, header: str, root_path: str, expected: str) -> None:
    headers = {"X-Forwarded-Prefix": header} if header else {}
    assert url_prefix(_request(peer, headers, root_path), frozenset({"10.0.0.5"})) == expected


def test_every_file_strawberrys_graphiql_page_names_is_vendored() -> None:
    """Contract test of the GraphiQL adapter against the pinned Strawberry: if an upgrade names
    other files or versions, rebuild the dashboard with them (dashboard/scripts/vendor-graphiql.mjs)."""
    html = get_graphql_ide_html("graphiql")
    assert len(cdn_assets(html)) >= 5
    assert missing_assets(html) == []
    assert "https://" not in localise(html, "").replace("https://ecma", "")


def test_graphiql_loads_nothing_from_a_cdn(api: ApiServer) -> None:
    page = httpx.get(f"{api.url}/celery-admin/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page.text)
    assert urls and all(u.startswith("/celery-admin/dashboard/vendor/") for u in urls), urls
    for url in urls:
        asset = httpx.get(f"{api.url}{url}")
        assert asset.status_code == 200, url
    # The browser checks these hashes: the vendored bytes are the CDN's bytes.
    html = page.text
    for match in re.finditer(r"<(?:script|link)\b[^>]*>", html):
        tag = match.group(0)
        integrity = re.search(r'integrity="sha384-([^"]+)"', tag)
        url = re.search(r'(?:src|href)="([^"]+)"', tag)
        if integrity and url:
            body = httpx.get(f"{api.url}{url.group(1)}").content
            assert base64.b64encode(hashlib.sha384(body).digest()).decode() == integrity.group(1)
