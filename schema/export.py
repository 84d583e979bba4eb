"""The SDL written to graphql.schema (`celery-admin export-schema`)."""

from __future__ import annotations


def schema_sdl() -> str:
    from schema.root import schema

    return schema.as_str().rstrip("\n") + "\n"


__all__ = ["schema_sdl"]
