"""Serve the dashboard at /celery-admin/dashboard/ from the committed build in `static/`.

The page uses relative URLs for its assets and the API (`../graphql`), so it works under any URL
prefix; only the redirect from the slash-less path needs the prefix (see prefix.py). The page gets a
strict Content-Security-Policy (scripts from here only; connections to this origin only, and to
the identity provider's origin when the page signs in there: discovery and the token exchange) since
it holds a token. Asset names are fixed (not content-hashed, so the committed build diffs cleanly):
they are served with `Cache-Control: no-cache`, revalidated by ETag.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from src.config import Settings
from src.dashboard.prefix import url_prefix

DASHBOARD_PATH = "/celery-admin/dashboard"
STATIC_DIR = Path(__file__).resolve().parent / "static"
APP_DIR = STATIC_DIR / "app"
VENDOR_DIR = STATIC_DIR / "vendor"


def content_security_policy(*connect: str) -> str:
    """The page's policy; `connect`: origins besides this one the page may fetch from."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            " ".join(["connect-src 'self'", *connect]),
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


CSP = content_security_policy()


def page_headers(settings: Settings) -> dict[str, str]:
    client = settings.public_client()
    return {
        "Content-Security-Policy": content_security_policy(*([client.origin()] if client else [])),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        # the address carries the authorization code on the way back from the provider
        "Referrer-Policy": "no-referrer",
    }


class RevalidatedFiles(StaticFiles):
    """StaticFiles whose answers are revalidated on every use (fixed names change content), sent
    precompressed (`<file>.gz`, written by the build) to clients that accept gzip."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        accepts = Headers(scope=scope).get("accept-encoding", "")
        if "gzip" in accepts and path.endswith((".js", ".css")):
            full, found = self.lookup_path(f"{path}.gz")
            if found is not None:
                response = self.file_response(full, found, scope)
                if response.status_code == 200:
                    response.headers["Content-Encoding"] = "gzip"
                response.headers["Vary"] = "Accept-Encoding"
                return response
        response = await super().get_response(path, scope)
        response.headers["Vary"] = "Accept-Encoding"
        return response

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount_dashboard(app: FastAPI, settings: Settings) -> None:
    """Add the dashboard's page, its assets and the vendored GraphiQL files to `app`."""
    trusted = settings.trusted_proxy_set()
    index = APP_DIR / "index.html"
    headers = page_headers(settings)

    @app.get(DASHBOARD_PATH, include_in_schema=False)
    async def dashboard_redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{url_prefix(request, trusted)}{DASHBOARD_PATH}/", status_code=308)

    @app.get(f"{DASHBOARD_PATH}/", include_in_schema=False)
    async def dashboard_page() -> Response:
        if not index.is_file():
            return Response(
                "the dashboard is not built: npm --prefix dashboard ci && "
                "npm --prefix dashboard run build",
                status_code=503,
                media_type="text/plain",
            )
        return FileResponse(index, headers=headers, media_type="text/html")

    app.mount(
        f"{DASHBOARD_PATH}/assets",
        RevalidatedFiles(directory=APP_DIR / "assets", check_dir=False),
        name="dashboard-assets",
    )
    app.mount(
        f"{DASHBOARD_PATH}/vendor",
        RevalidatedFiles(directory=VENDOR_DIR, check_dir=False),
        name="dashboard-vendor",
    )


__all__ = [
    "APP_DIR",
    "CSP",
    "DASHBOARD_PATH",
    "STATIC_DIR",
    "VENDOR_DIR",
    "content_security_policy",
    "mount_dashboard",
    "page_headers",
]
