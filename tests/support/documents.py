"""Minimal GraphQL documents for any root field, generated from the schema's introspection.

`minimal_document(index, kind, field)` calls the field with its required arguments only, each
filled with a value of its type (strings "x", numbers 1, the first enum value, input objects with
their required fields), and selects `__typename` when the field returns an object, so the
document is valid for whatever the field is: used to prove every guard refuses callers below it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCALARS: dict[str, str] = {
    "String": '"x"',
    "ID": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "true",
    "JSON": "{}",
    "DateTime": json.dumps("2026-01-01T00:00:00Z"),
}
OPERATIONS = {"query": "query", "mutation": "mutation", "subscription": "subscription"}


@dataclass(frozen=True)
class SchemaIndex:
    types: dict[str, dict[str, Any]]
    roots: dict[str, str]  # kind -> root type name

    @classmethod
    def from_introspection(cls, data: dict[str, Any]) -> SchemaIndex:
        schema = data["__schema"]
        roots = {
            kind: (schema.get(f"{kind}Type") or {}).get("name")
            for kind in ("query", "mutation", "subscription")
        }
        return cls({t["name"]: t for t in schema["types"]}, {k: v for k, v in roots.items() if v})

    def root_fields(self, kind: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.types[self.roots[kind]]["fields"]}


def _named(ref: dict[str, Any]) -> dict[str, Any]:
    while ref.get("ofType"):
        ref = ref["ofType"]
    return ref


def _required(ref: dict[str, Any], default: Any) -> bool:
    return ref["kind"] == "NON_NULL" and default is None


def _value(index: SchemaIndex, ref: dict[str, Any]) -> str:
    kind = ref["kind"]
    if kind == "NON_NULL":
        return _value(index, ref["ofType"])
    if kind == "LIST":
        return f"[{_value(index, ref['ofType'])}]"
    named = index.types[ref["name"]]
    if named["kind"] == "SCALAR":
        return SCALARS.get(named["name"], '"x"')
    if named["kind"] == "ENUM":
        return str(named["enumValues"][0]["name"])
    fields = [
        f"{f['name']}: {_value(index, f['type'])}"
        for f in named["inputFields"]
        if _required(f["type"], f.get("defaultValue"))
    ]
    return "{" + ", ".join(fields) + "}"


def minimal_document(index: SchemaIndex, kind: str, name: str) -> str:
    field = index.root_fields(kind)[name]
    args = [
        f"{a['name']}: {_value(index, a['type'])}"
        for a in field["args"]
        if _required(a["type"], a.get("defaultValue"))
    ]
    call = f"{name}({', '.join(args)})" if args else name
    returned = index.types[_named(field["type"])["name"]]
    selection = " { __typename }" if returned["kind"] in ("OBJECT", "INTERFACE", "UNION") else ""
    return f"{OPERATIONS[kind]} {{ {call}{selection} }}"


INTROSPECTION = """
query {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name
      enumValues { name }
      fields { name description args { name defaultValue type { ...Ref } } type { ...Ref } }
      inputFields { name defaultValue type { ...Ref } }
    }
  }
}
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
"""

__all__ = ["INTROSPECTION", "SchemaIndex", "minimal_document"]
