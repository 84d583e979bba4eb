"""The metric names a PromQL expression reads, for checking dashboards and rules against what
/metrics serves, and the names /metrics serves.

Deliberately small: strings, label matchers, ranges and `by (...)`-style label lists are removed,
then every identifier not called as a function and not a keyword is a metric name. Good enough for
the expressions we write (tests/deploy/test_promql_names.py keeps it honest).
"""

from __future__ import annotations

import re

KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = LABEL_LISTS.sub(" ", text)
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", " ", text)
    names = set()
    for match in IDENTIFIER.finditer(text):
        word = match.group(0)
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":
            continue  # part of a number (1e3)
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def served_names(exposition: str) -> set[str]:
    """Every series name a /metrics text can carry, from its TYPE lines (present even for a
    family without samples) and its samples."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind in ("histogram", "summary"):
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            names.add(name)
        elif line and not line.startswith("#"):
            names.add(IDENTIFIER.match(line).group(0))  # type: ignore[union-attr]
    return names


__all__ = ["metric_names", "served_names"]
