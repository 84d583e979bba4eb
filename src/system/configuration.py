"""The cluster's configuration as operators may see it: Celery's conf with secrets masked, and
the declared `celery_system_config` entries with their versions."""

from __future__ import annotations

from typing import Any

from celery import Celery

from src.audit.service import jsonable
from src.security.masking import mask_setting

# Conf keys whose values are URLs or options that may embed credentials.
_URL_KEYS = {"broker_url", "result_backend", "broker_read_url", "broker_write_url"}


def celery_conf(app: Celery) -> dict[str, Any]:
    """Every changed Celery setting (plus the URLs), JSON-safe, secrets masked."""
    conf = app.conf
    table = dict(conf.table(with_defaults=False, censored=False))
    for key in _URL_KEYS:
        if conf.get(key):
            table[key] = conf.get(key)
    return {
        str(key): mask_setting(str(key), jsonable(value)) for key, value in sorted(table.items())
    }


__all__ = ["celery_conf"]
