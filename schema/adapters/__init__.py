"""Adapters over library internals we lean on, one small module each, each pinned in
pyproject.toml and checked by a contract test in tests/contracts/."""
