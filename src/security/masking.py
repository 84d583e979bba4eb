"""The one masking function (see `celery_admin_events.masking`, where it lives so that the
worker-side extension, which must not import the application, applies exactly the same rules to
the task arguments it records)."""

from __future__ import annotations

from celery_admin_events.masking import (
    DATA_SECRET,
    DATA_SECRET_WORDS,
    MASK,
    SETTING_SECRET,
    changed_leaves,
    key_pattern,
    mask_setting,
    mask_text,
    mask_url,
    redact,
    redact_error,
    redact_text,
    scrub,
    secret_values,
)

__all__ = [
    "DATA_SECRET",
    "DATA_SECRET_WORDS",
    "MASK",
    "SETTING_SECRET",
    "changed_leaves",
    "key_pattern",
    "mask_setting",
    "mask_text",
    "mask_url",
    "redact",
    "redact_error",
    "redact_text",
    "scrub",
    "secret_values",
]
