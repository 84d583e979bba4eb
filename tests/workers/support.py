"""Counting the inspect broadcasts a request caused."""

from __future__ import annotations

from collections import Counter

from src.control.inspector import InspectKind, Inspector


def sent_since(inspector: Inspector, before: Counter[InspectKind]) -> Counter[str]:
    """Broadcasts by kind since `before` (a copy of `inspector.sent`), without the discovery
    loop's pings, which may fall into any request on a loaded machine."""
    sent = inspector.sent - before
    sent.pop(InspectKind.PING, None)
    return Counter({str(kind): n for kind, n in sent.items()})


__all__ = ["sent_since"]
