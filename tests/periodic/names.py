"""Names the periodic tests share with their beat apps (importable before the apps: those read
the tests' Redis URL from the environment when first imported)."""

from __future__ import annotations

ENTRY = "add-every-2s"
ENTRY_ARGS = [2, 3]
REDBEAT_PREFIX = "redbeat-test:"

__all__ = ["ENTRY", "ENTRY_ARGS", "REDBEAT_PREFIX"]
