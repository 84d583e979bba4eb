"""Secret fields inside configuration values: declared once, beside the key (`declare(...,
secrets=...)`), and used wherever a value leaves the process.

A declaration is a set of paths into the JSON value, each segment a dict key or `*` (every item of
a list, every value of a dict), and for each path how its value is secret:

- `VALUE`: the whole value is a secret (an HMAC key, a password, a header's value);
- `URL`: the URL's origin (scheme, host, port) may be shown, the rest (credentials, path and query,
  where webhook tokens live) may not.

`mask()` is what the API, the audit trail and the logs see. `restore()` lets an operator send back a
value read from the API: a field still equal to its masked form keeps the stored secret (list items
are paired by their `name`, else by position); any other masked text is refused, so the mask
itself is never stored as a secret. `transform()` is the one walk over the secret leaves, which the
encryption of secret values at rest (issue 12) can reuse for the same declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from src.security.masking import MASK

ANY = "*"
MIN_SCRUB_CHARS = 4  # shorter secrets are not scrubbed out of free text (they would match noise)


class SecretKind(StrEnum):
    VALUE = "value"
    URL = "url"


def mask_secret_url(url: str) -> str:
    """The origin of `url`, then the mask in place of everything that could carry a secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    origin = f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    rest = (parts.path not in ("", "/")) or parts.query or parts.fragment or parts.username
    return f"{origin}/{MASK}" if rest else origin


def _mask_leaf(kind: SecretKind, value: Any) -> Any:
    if value is None or value == "":
        return value
    if kind is SecretKind.URL and isinstance(value, str):
        return mask_secret_url(value)
    return MASK


class MaskedSecretError(ValueError):
    """A masked value came back where its secret cannot be restored."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where}: give the secret in full ({MASK} is how stored secrets are shown, and "
            "no stored secret matches here)"
        )
        self.where = where


def _items(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, list):
        yield from enumerate(node)
    elif isinstance(node, dict):
        yield from node.items()


def _identity(item: Any) -> Any:
    return item.get("name") if isinstance(item, dict) else None


@dataclass(frozen=True, slots=True)
class SecretFields:
    paths: tuple[tuple[tuple[str, ...], SecretKind], ...]

    @classmethod
    def of(cls, declared: Mapping[str, SecretKind]) -> SecretFields:
        """From `{"*.url": SecretKind.URL, "*.secret": SecretKind.VALUE, ...}`."""
        return cls(tuple((tuple(path.split(".")), kind) for path, kind in declared.items()))

    def transform(self, value: Any, leaf: Callable[[SecretKind, Any], Any]) -> Any:
        """A copy of `value` with every secret leaf replaced by `leaf(kind, old)`."""
        result = _copy(value)
        for path, kind in self.paths:
            result = _apply(result, path, lambda old, k=kind: leaf(k, old))  # type: ignore[misc]
        return result

    def mask(self, value: Any) -> Any:
        return self.transform(value, _mask_leaf)

    def leaves(self, value: Any) -> list[tuple[SecretKind, Any]]:
        """Every secret value inside `value`, with its kind."""
        found: list[tuple[SecretKind, Any]] = []

        def keep(kind: SecretKind, old: Any) -> Any:
            found.append((kind, old))
            return old

        self.transform(value, keep)
        return found

    def scrub(self, value: Any, text: str) -> str:
        """`text` (an error message, a receiver's answer) with every secret of `value`, and the
        secret part of each URL secret on its own, replaced by the mask."""
        secrets: set[str] = set()
        for kind, leaf in self.leaves(value):
            if not isinstance(leaf, str):
                continue
            secrets.add(leaf)
            if kind is SecretKind.URL:
                parts = urlsplit(leaf)
                secrets.add(parts.path + (f"?{parts.query}" if parts.query else ""))
                secrets.add(parts.query)
                if parts.password:
                    secrets.add(parts.password)
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= MIN_SCRUB_CHARS:
                text = text.replace(secret, MASK)
        return text

    def restore(self, new: Any, old: Any, *, name: str) -> Any:
        """`new` with each secret still in its masked form replaced by the stored one in `old`.
        Raises MaskedSecretError where a masked form has no stored secret behind it."""
        result = _copy(new)
        for path, kind in self.paths:
            result = _restore(result, old, path, kind, where=name)
        return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _apply(node: Any, path: tuple[str, ...], leaf: Callable[[Any], Any]) -> Any:
    if not path:
        return leaf(node)
    head, rest = path[0], path[1:]
    if head == ANY:
        if isinstance(node, list):
            return [_apply(item, rest, leaf) for item in node]
        if isinstance(node, dict):
            return {k: _apply(v, rest, leaf) for k, v in node.items()}
        return node
    if isinstance(node, dict) and head in node:
        return {**node, head: _apply(node[head], rest, leaf)}
    return node


def _counterpart(old: Any, key: Any, item: Any) -> Any:
    """The stored node that `item` (at `key` of the new value) replaces."""
    if isinstance(old, dict):
        return old.get(key)
    if isinstance(old, list):
        ident = _identity(item)
        if ident is not None:
            return next((o for o in old if _identity(o) == ident), None)
        return old[key] if isinstance(key, int) and key < len(old) else None
    return None


def _restore(new: Any, old: Any, path: tuple[str, ...], kind: SecretKind, *, where: str) -> Any:
    if not path:
        if isinstance(new, str) and MASK in new:
            if old is not None and _mask_leaf(kind, old) == new:
                return old
            raise MaskedSecretError(where)
        return new
    head, rest = path[0], path[1:]
    if head == ANY:
        if isinstance(new, list):
            return [
                _restore(v, _counterpart(old, i, v), rest, kind, where=f"{where}[{i}]")
                for i, v in _items(new)
            ]
        if isinstance(new, dict):
            return {
                k: _restore(v, _counterpart(old, k, v), rest, kind, where=f"{where}.{k}")
                for k, v in _items(new)
            }
        return new
    if isinstance(new, dict) and head in new:
        below = old.get(head) if isinstance(old, dict) else None
        return {**new, head: _restore(new[head], below, rest, kind, where=f"{where}.{head}")}
    return new


__all__ = ["MaskedSecretError", "SecretFields", "SecretKind", "mask_secret_url"]
