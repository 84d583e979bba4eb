"""Findings: URL masking missed `;` failover lists, secrets containing `/`, query-string passwords
and keys Celery itself hides; `systemStatus.brokerUrl` showed `?password=` verbatim; start-up
errors printed DATABASE_URL with its password. One masking function now serves all of them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from celery import Celery
from celery.app.utils import sanitize_url

from src.security.logs import install_log_masking
from src.security.masking import (
    MASK,
    mask_setting,
    mask_text,
    mask_url,
    redact,
    redact_error,
)
from src.system.configuration import celery_conf
from src.system.facts import SystemFacts

URLS = [
    # (url, secrets that must not survive, parts that must)
    ("redis://:pa/ss@host:6379/0", ["pa/ss", "pa"], ["host:6379/0"]),
    ("redis://user:hunter2@h1:1;redis://user:hunter3@h2:2/0", ["hunter2", "hunter3"], ["h1", "h2"]),
    (
        "sentinel://:s3cret1@h1:26379;sentinel://:s3cret2@h2:26379/0",
        ["s3cret1", "s3cret2"],
        ["h1:26379", "h2:26379"],
    ),
    ("redis://host:6379/0?password=hunter2&db=1", ["hunter2"], ["db=1", "host:6379"]),
    ("redis://host/0?sentinel_password=pw1234;ssl_keyfile=/k", ["pw1234", "/k"], ["host/0"]),
    ("postgresql://u:pa?ss@db/x", ["pa?ss", "ss@"], ["db/x"]),
    ("postgresql+asyncpg://admin:s#cr/et@db:5432/app", ["s#cr/et"], ["admin", "db:5432/app"]),
    ("amqp://guest:gue%2Fst@rabbit//", ["gue%2Fst"], ["rabbit//"]),
    (
        "cache+memcached://user:secret99@s1:11211;s2:11211/",
        ["secret99"],
        ["s2:11211"],
    ),
    ("azureblockblob://DefaultEndpointsProtocol=https;AccountKey=KEY123;x=1", ["KEY123"], []),
]


@pytest.mark.parametrize(("url", "secrets", "kept"), URLS)
def test_mask_url_hides_every_password(url: str, secrets: list[str], kept: list[str]) -> None:
    masked = mask_url(url)
    for secret in secrets:
        assert secret not in masked, masked
    for part in kept:
        assert part in masked, masked
    assert MASK in masked


@pytest.mark.parametrize(("url", "secrets", "kept"), URLS)
def test_at_least_as_strong_as_celery(url: str, secrets: list[str], kept: list[str]) -> None:
    """Whatever Celery's sanitize_url hides, ours hides too."""
    celery_masked = sanitize_url(url)
    ours = mask_url(url)
    for secret in secrets:
        if secret not in celery_masked:
            assert secret not in ours


def test_settings_celery_hides_are_hidden() -> None:
    for key in ("fernet_key", "signing_key", "security_key", "password", "secret", "api_key",
                "auth_token", "authorization", "database_uri", "beat_dburi"):  # fmt: skip
        assert mask_setting(key, "value-123") == MASK, key
    assert mask_setting("broker_url", "redis://:pw@h/0") == f"redis://:{MASK}@h/0"
    options = mask_setting(
        "broker_transport_options", {"sentinel_kwargs": {"password": "x"}, "master_name": "m"}
    )
    assert options == {"sentinel_kwargs": {"password": MASK}, "master_name": "m"}


def test_celery_conf_and_broker_url_as_graphql_shows_them() -> None:
    app = Celery("masking", set_as_current=False)
    app.conf.update(
        broker_url="redis://:pa/ss@broker:6379/0?password=qs-secret",
        result_backend="redis://:bk/pw@backend:6379/1",
        security_key="sec-key-pem",
        fernet_key="fernet-123",
        signing_key="signing-123",
    )
    facts = SystemFacts(app, None)
    shown = facts.broker_url()  # systemStatus.brokerUrl
    assert "pa/ss" not in shown and "qs-secret" not in shown and "broker:6379" in shown
    text = repr(celery_conf(app))  # systemConfiguration
    for secret in ("pa/ss", "qs-secret", "bk/pw", "sec-key-pem", "fernet-123", "signing-123"):
        assert secret not in text, text


def test_free_text_and_structures() -> None:
    text = "connect to postgresql://a:b/c@db/x failed; token=abc api_key: 'xyz' u:pw@host"
    masked = mask_text(text)
    for secret in ("b/c", "abc", "xyz", ":pw@"):
        assert secret not in masked, masked
    assert "db/x" in masked
    data = redact({"api_key": "sk_live_1", "n": {"Password": "p", "url": "redis://:x@h"}})
    assert data == {"api_key": MASK, "n": {"Password": MASK, "url": f"redis://:{MASK}@h"}}


def test_error_text_is_masked_like_the_variables() -> None:
    request = {"value": {"webhookSecret": "wh-secret-1"}, "key": "alerts.rules"}
    error = "invalid value {'webhookSecret': 'wh-secret-1'}; see wh-secret-1"
    assert "wh-secret-1" not in (redact_error(error, request) or "")


def test_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_log_masking()
    with caplog.at_level(logging.INFO):
        logging.getLogger("celery_admin.test").info("broker %s down", "redis://:pa/ss@h:1/0")
        try:
            raise RuntimeError("token=leak-me")
        except RuntimeError:
            logging.getLogger("celery_admin.test").exception("failed with password=zz9")
    text = caplog.text
    assert "pa/ss" not in text and "leak-me" not in text and "zz9" not in text
    assert "h:1/0" in text


def test_startup_errors_never_print_database_password(tmp_path: os.PathLike[str]) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "REDIS_", "JWT_", "DATABASE_", "PUBSUB_"))
    }
    env.update(
        DATABASE_URL="postgresql://admin:pa/ss?w0rd@127.0.0.1:1/app?password=qs-pw",
        CELERY_BROKER_URL="redis://:br/pw@127.0.0.1:1/0",
        CELERY_APP="no_such_module_x:app",
        JWT_SECRET="a" * 40,
    )
    done = subprocess.run(
        [sys.executable, "-m", "celery_admin", "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "DATABASE_URL" in done.stderr or "CELERY_APP" in done.stderr
    for secret in ("pa/ss", "w0rd", "qs-pw", "br/pw"):
        assert secret not in done.stderr, done.stderr


def test_graphql_error_messages_are_masked() -> None:
    from graphql import GraphQLError

    from schema.core.errors import (
        ErrorCodes,  # noqa: F401  (the shaping below is its)
        shape,
    )
    from schema.core.payloads import MutationError
    from src.errors import AppError, ErrorCode

    failure = AppError(
        "broker at redis://:pa/ss@h:6379/0 refused", code=ErrorCode.BROKER_UNAVAILABLE
    )
    shaped = shape(GraphQLError(failure.message, original_error=failure))
    assert "pa/ss" not in shaped.message and "h:6379/0" in shaped.message
    assert "pa/ss" not in MutationError.from_app(failure).message
