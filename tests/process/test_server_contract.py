"""The contract `src.process.server.AdminServer` relies on in uvicorn's Server (pinned to 0.54):
`serve()` enters `self.capture_signals()` and awaits `self.startup(sockets=...)`, and
`handle_exit(sig, frame)` is how a signal reaches it. A release that changes any of this fails
here, before the stop and exit-code tests fail in more puzzling ways."""

from __future__ import annotations

import inspect

import uvicorn

from src.process.server import AdminServer


def test_uvicorn_is_the_minor_version_tested() -> None:
    assert uvicorn.__version__.startswith("0.54."), uvicorn.__version__


def test_serve_uses_the_overridden_hooks() -> None:
    serve = inspect.getsource(uvicorn.Server.serve)
    assert "with self.capture_signals():" in serve
    assert "await self.startup(sockets=sockets)" in inspect.getsource(uvicorn.Server._serve)
    assert list(inspect.signature(uvicorn.Server.startup).parameters) == ["self", "sockets"]
    assert list(inspect.signature(uvicorn.Server.handle_exit).parameters) == [
        "self",
        "sig",
        "frame",
    ]
    for name in ("capture_signals", "handle_exit", "startup"):
        assert name in AdminServer.__dict__
