"""Task data (arguments, results, exceptions, tracebacks) is sensitive by default.

Two parts, both configured once (settings TASK_DATA_ROLES and TASK_DATA_REDACT_KEYS):
- who may see it at all: `Policy.may_see_task_data` (src/auth/policy.py) with the roles given
  here; a viewer may not unless the operator lists it;
- what those who may see it still do not: values under secret-looking keys (password, token,
  secret, api_key, authorization, ...), in JSON and in the reprs Celery's events carry.
The schema applies both through one field extension (schema/core/task_data.py) on every field
that carries task data, and the `text` filter (a search through task data) asks for the same
permission in the guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from src.auth.roles import Role
from src.security.masking import DATA_SECRET_WORDS, key_pattern, redact, redact_text

DEFAULT_ROLES = "admin,super_admin"
DEFAULT_KEYS = ",".join(DATA_SECRET_WORDS)
HIDDEN_NOTE = "task data is hidden from your role (TASK_DATA_ROLES)"


def parse_roles(text: str) -> frozenset[Role]:
    """`viewer,admin` -> the roles; a role listed brings the roles above it too."""
    listed = [Role.parse(part) for part in text.split(",") if part.strip()]
    if not listed:
        return frozenset()
    lowest = min(listed)
    return frozenset(r for r in Role if r >= lowest)


@dataclass(frozen=True, slots=True)
class TaskDataRedactor:
    """Masks the values of secret-looking keys in task data shown to those who may see it."""

    words: tuple[str, ...] = DATA_SECRET_WORDS
    _keys: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", key_pattern(self.words))

    @classmethod
    def from_setting(cls, text: str) -> TaskDataRedactor:
        return cls(tuple(w.strip() for w in text.split(",") if w.strip()))

    def json(self, value: Any) -> Any:
        return redact(value, keys=self._keys)

    def text(self, value: str | None) -> str | None:
        return None if value is None else redact_text(value, keys=self._keys)

    def any(self, value: Any) -> Any:
        return self.text(value) if isinstance(value, str) else self.json(value)


__all__ = [
    "DEFAULT_KEYS",
    "DEFAULT_ROLES",
    "HIDDEN_NOTE",
    "TaskDataRedactor",
    "parse_roles",
]
