"""The one masking function for everything that leaves the process: URLs, settings, free text.

At least as strong as Celery's own censoring (`celery.app.utils.sanitize_url` and
`filter_hidden_settings`), and stronger where Celery leaks:

- a password containing `/`, `?` or `#` (`redis://:pa/ss@host`: Celery cuts the authority at the
  first `/` and prints the password); here the credentials end at the last `@` of the URL;
- query-string secrets (`redis://host/0?password=...`, `...&sentinel_password=...`, `sig=`);
- `;` failover lists (`sentinel://:pw@h1;sentinel://:pw@h2`) and `,`/`;` server lists;
- keys Celery hides (anything with KEY, TOKEN, SECRET, PASS, SIGNATURE, API, DATABASE, ...), so
  `fernet_key`, `signing_key`, `security_key` and the like never show.

`mask_url(url)` for one URL, `mask_text(text)` for free text (log lines, error messages, start-up
problems), `redact(value)` for structured data (audit requests and responses, GraphQL JSON),
`mask_setting(key, value)` for configuration tables. A failure to parse masks more, never less.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "********"

# Setting names whose values are hidden: Celery's HIDDEN_SETTINGS and then some.
SETTING_SECRET = re.compile(
    r"API|TOKEN|KEY|SECRET|PASS|PROFANITIES_LIST|SIGNATURE|DATABASE|BEAT_DBURI|AUTH|CREDENTIAL"
    r"|PRIVATE|FERNET|COOKIE|SESSION|DSN",
    re.IGNORECASE,
)
# Keys inside data (arguments, audit requests, JSON values) whose values are hidden. Narrower
# than SETTING_SECRET: an argument called `key` (a config key, a routing key) is not a secret.
DATA_SECRET_WORDS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "auth",
    "credential",
    "private_key",
    "access_key",
    "secret_key",
    "signing_key",
    "fernet_key",
    "signature",
    "cookie",
    "session",
    "dsn",
)
_QUERY_SECRET = re.compile(r"pass|pwd|secret|token|key|auth|sig|credential|session", re.I)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]+=*")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
# user:password@host without a scheme (e.g. a value that failed the "is a URL" check)
_BARE_CREDENTIALS = re.compile(r"(?<![\w/:])([\w.%+-]+):(?!//)[^\s'\"@]+@(?=[\w.\[\]-])")


def key_pattern(words: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """A case-insensitive pattern matching a key that contains any of `words` (`_`, `-` and
    nothing are the same separator: `api_key`, `api-key`, `apiKey`)."""
    parts = []
    for word in words:
        w = word.strip().lower()
        if w:
            parts.append("[_-]?".join(re.escape(p) for p in re.split(r"[_-]", w)))
    return re.compile("|".join(parts) or r"(?!)", re.IGNORECASE)


DATA_SECRET = key_pattern(DATA_SECRET_WORDS)
# `key=value` / `key: value` / `'key': 'value'` pairs in free text (reprs, log lines, errors).
_PAIR = (
    r"""(?P<k>['"]?[\w-]*(?:{words})[\w-]*['"]?\s*(?:=|:)\s*)"""
    r"""(?P<v>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,;&)}}\]'"]+)"""
)


def pair_pattern(key: re.Pattern[str]) -> re.Pattern[str]:
    """A pattern finding `secret-key = value` pairs in text, for `key`'s words."""
    return re.compile(_PAIR.format(words=key.pattern), re.IGNORECASE)


_DATA_PAIR = pair_pattern(DATA_SECRET)


def _mask_userinfo(userinfo: str) -> str:
    if ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        return f"{user}:{MASK}"
    return userinfo


def _mask_query(query: str) -> str:
    out = []
    for piece in re.split(r"([&;])", query):
        if piece in ("&", ";"):
            out.append(piece)
            continue
        name, eq, _value = piece.partition("=")
        out.append(f"{name}={MASK}" if eq and _QUERY_SECRET.search(name) else piece)
    return "".join(out)


def mask_url(url: str) -> str:
    """`url` with every password in it masked: in the user-info (whatever it contains), in each
    URL of a `;` failover list, and in the query string. Not a URL: returned as it is."""
    if not isinstance(url, str) or "://" not in url:
        return url
    try:
        parts = url.split(";")
        if len(parts) > 1 and any("://" in p for p in parts[1:]):
            return ";".join(mask_url(p.strip()) for p in parts)
        scheme, _, rest = url.partition("://")
        if scheme.lower() == "azureblockblob":
            return f"{scheme}://" + re.sub(
                r"(?i)((?:AccountKey|SharedAccessSignature|sig)=)[^;&]*", rf"\g<1>{MASK}", rest
            )
        # The credentials end at the last `@` before the query: a password may hold `/`.
        head, qmark, query = rest.partition("?")
        if "@" not in head and "@" in query:
            # a password holding `?`: the `@` comes after it; everything before it is hidden
            userinfo, _, after = rest.rpartition("@")
            return f"{scheme}://{_mask_userinfo(userinfo) if ':' in userinfo else MASK}@{after}"
        if "@" in head:
            userinfo, _, hostpart = head.rpartition("@")
            if userinfo.count("@") or any(sep in userinfo for sep in ";,"):
                # several servers each with credentials, or a mangled URL: keep the first user
                first = userinfo.split("@", 1)[0]
                userinfo = _mask_userinfo(first) if ":" in first else MASK
            else:
                userinfo = _mask_userinfo(userinfo)
            head = f"{userinfo}@{hostpart}"
        fragment_split = query.partition("#")
        query = _mask_query(fragment_split[0]) + "".join(fragment_split[1:])
        return f"{scheme}://{head}{qmark}{query}"
    except Exception:  # fail closed
        return f"<url masked: {MASK}>"


def mask_text(text: str) -> str:
    """Free text with every URL's password, bare `user:password@host`, `password=...` pair and
    bearer token masked."""
    if not isinstance(text, str) or not text:
        return text
    masked = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text) if "://" in text else text
    if "@" in masked:
        masked = _BARE_CREDENTIALS.sub(lambda m: f"{m.group(1)}:{MASK}@", masked)
    if "earer" in masked or "EARER" in masked:  # before the pairs: `authorization: Bearer x`
        masked = _BEARER.sub(lambda m: m.group(1) + MASK, masked)
    if "=" in masked or ":" in masked:
        masked = _DATA_PAIR.sub(_mask_pair, masked)
    return masked


def _mask_pair(match: re.Match[str]) -> str:
    value = match.group("v")
    if value == MASK or value.strip("'\"") == MASK:
        return match.group(0)
    if value[:1] in "'\"":
        return f"{match.group('k')}{value[0]}{MASK}{value[0]}"
    if "://" in value:  # `url=redis://...`: the URL's own masking keeps its host visible
        return f"{match.group('k')}{mask_url(value)}"
    return f"{match.group('k')}{MASK}"


def redact(value: Any, *, keys: re.Pattern[str] = DATA_SECRET, depth: int = 0) -> Any:
    """A copy of `value` with the values of secret-looking keys masked and every string's URLs
    and `password=...` pairs masked."""
    if depth > 20:
        return MASK
    if isinstance(value, Mapping):
        return {
            k: (
                MASK
                if isinstance(k, str) and keys.search(k) and value[k] not in (None, "")
                else redact(v, keys=keys, depth=depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, keys=keys, depth=depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value, keys=keys)
    return value


def redact_text(text: str, *, keys: re.Pattern[str] = DATA_SECRET) -> str:
    """Free text (a repr of arguments, a result, an error) with secrets masked; `keys` decides
    which `key=value` / `'key': value` pairs are secret."""
    if keys is DATA_SECRET:
        return mask_text(text)
    masked = mask_text(text)
    if "=" in masked or ":" in masked:
        masked = pair_pattern(keys).sub(_mask_pair, masked)
    return masked


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with each of `secrets` (values known to be secret, 4 characters or more) masked."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def secret_values(value: Any, *, keys: re.Pattern[str] = DATA_SECRET, depth: int = 0) -> list[str]:
    """The string values under secret keys inside `value` (to scrub them from error text)."""
    found: list[str] = []
    if depth > 20:
        return found
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and keys.search(k):
                found += [str(v)] if isinstance(v, str | int) and v != "" else []
                found += (
                    secret_values(v, keys=keys, depth=depth + 1) if not isinstance(v, str) else []
                )
            else:
                found += secret_values(v, keys=keys, depth=depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            found += secret_values(v, keys=keys, depth=depth + 1)
    return found


def changed_leaves(raw: Any, masked: Any, *, depth: int = 0) -> list[str]:
    """The string leaves of `raw` that a masking changed in `masked` (the same shape): the
    secrets a field-specific masking knew about."""
    if depth > 20:
        return []
    if isinstance(raw, Mapping) and isinstance(masked, Mapping):
        return [
            leaf
            for k, v in raw.items()
            for leaf in changed_leaves(v, masked.get(k), depth=depth + 1)
        ]
    if isinstance(raw, list | tuple) and isinstance(masked, list | tuple):
        return [
            leaf
            for a, b in zip(raw, masked, strict=False)
            for leaf in changed_leaves(a, b, depth=depth + 1)
        ]
    if isinstance(raw, str) and raw != masked:
        return [raw]
    return []


def redact_error(
    text: str | None, request: Any = None, secrets: list[str] | None = None
) -> str | None:
    """An error message as an audit row keeps it: masked like the request's variables (a secret
    argument echoed back by a failure is masked too, as are the `secrets` given)."""
    if not text:
        return text
    return mask_text(scrub(text, secret_values(request) + list(secrets or ())))


def mask_setting(key: str, value: Any, *, depth: int = 0) -> Any:
    """A configuration value as it may be shown (Celery's `filter_hidden_settings`, stronger)."""
    if depth > 10:
        return MASK
    if isinstance(value, Mapping):
        return {k: mask_setting(str(k), v, depth=depth + 1) for k, v in value.items()}
    lower = key.lower()
    if lower.endswith("_url") or "backend" in lower or lower in ("broker_url", "result_backend"):
        if isinstance(value, str):
            return mask_url(value)
        if isinstance(value, list | tuple):
            return [mask_url(v) if isinstance(v, str) else v for v in value]
    if SETTING_SECRET.search(key) and value not in (None, "", [], {}):
        return MASK
    return redact(value)


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
