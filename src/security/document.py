"""What a GraphQL document may ask for, measured on the raw document before validation.

The standard validation rules are not all linear: the overlapping-fields rule compares the fields
of a selection set pairwise (1,240 `systemInfo { name }` cost 1.1 s of CPU), so the counts here run
first and refuse a document whose fields, fields in one selection set, aliases or depth pass the
caps. Fragments are expanded in the counts (memoised, so a fragment reused many times is counted
many times but walked once).

Cost: every field costs 1 times the product of the list sizes along its path. A field's list size
is its `first`/`limit`/`last` argument (literal, variable or the schema's default), else, for a
list-typed field, `DEFAULT_LIST_SIZE` (a connection's `edges` count once, under the connection's
`first`). Fields returning the type they sit on (`Task.children`, `Task.parent`) may nest only
`max_recursion` levels on one path: `task { children { parent { children ... } } }` stops there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
)

from src.errors import AppError, ErrorCode

DEFAULT_LIST_SIZE = 20
SIZE_ARGUMENTS = ("first", "limit", "last")


class QueryTooComplex(AppError):
    code = ErrorCode.QUERY_TOO_COMPLEX


class QueryTooCostly(AppError):
    code = ErrorCode.QUERY_TOO_COSTLY


@dataclass(frozen=True, slots=True)
class DocumentCaps:
    """The caps one caller's documents are held to (anonymous callers get smaller ones)."""

    max_fields: int
    max_selections: int
    max_aliases: int
    max_depth: int
    max_cost: int
    max_recursion: int


def _too_complex(what: str, limit: int, setting: str) -> QueryTooComplex:
    return QueryTooComplex(
        f"the document has more than {limit} {what} (cap {setting})",
        details={"cap": setting, "limit": limit},
    )


class _Counter:
    """Counts fields, aliases and depth with fragments expanded; stops at the first cap passed."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], caps: DocumentCaps) -> None:
        self.fragments = fragments
        self.caps = caps
        self._memo: dict[str, tuple[int, int, int]] = {}
        self._active: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None, depth: int) -> tuple[int, int, int]:
        """(fields, aliases, depth below) of a selection set."""
        if node is None:
            return 0, 0, 0
        if depth > self.caps.max_depth:
            raise _too_complex("levels of nesting", self.caps.max_depth, "max_depth")
        fields = aliases = deepest = 0
        direct = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                direct += 1
                sub = self.selection_set(selection.selection_set, depth + 1)
                fields += 1 + sub[0]
                aliases += (selection.alias is not None) + sub[1]
                deepest = max(deepest, 1 + sub[2])
            elif isinstance(selection, InlineFragmentNode):
                sub = self.selection_set(selection.selection_set, depth)
                direct += sub[0]
                fields, aliases, deepest = fields + sub[0], aliases + sub[1], max(deepest, sub[2])
            elif isinstance(selection, FragmentSpreadNode):
                sub = self.fragment(selection.name.value, depth)
                direct += sub[0]
                fields, aliases, deepest = fields + sub[0], aliases + sub[1], max(deepest, sub[2])
            if direct > self.caps.max_selections:
                raise _too_complex(
                    "fields in one selection set", self.caps.max_selections, "max_selections"
                )
            if fields > self.caps.max_fields:
                raise _too_complex("fields", self.caps.max_fields, "max_fields")
            if aliases > self.caps.max_aliases:
                raise _too_complex("aliases", self.caps.max_aliases, "max_aliases")
        if depth + deepest > self.caps.max_depth:
            raise _too_complex("levels of nesting", self.caps.max_depth, "max_depth")
        return fields, aliases, deepest

    def fragment(self, name: str, depth: int) -> tuple[int, int, int]:
        definition = self.fragments.get(name)
        if definition is None or name in self._active:  # unknown or cyclic: validation says so
            return 0, 0, 0
        if name not in self._memo:
            self._active.add(name)
            try:
                self._memo[name] = self.selection_set(definition.selection_set, 0)
            finally:
                self._active.discard(name)
        counts = self._memo[name]
        if depth + counts[2] > self.caps.max_depth:
            raise _too_complex("levels of nesting", self.caps.max_depth, "max_depth")
        return counts


def _size(field: FieldNode, definition: Any, variables: dict[str, Any]) -> int | None:
    """The list size a field asks for through its size argument, if it has one."""
    for name in SIZE_ARGUMENTS:
        argument = definition.args.get(name)
        if argument is None:
            continue
        node = next((a.value for a in field.arguments or () if a.name.value == name), None)
        value: Any = argument.default_value
        if isinstance(node, IntValueNode):
            value = int(node.value)
        elif isinstance(node, VariableNode):
            value = variables.get(node.name.value, value)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 1)
        return DEFAULT_LIST_SIZE  # null or not an int: coercion or the resolver decides
    return None


class _Coster:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        caps: DocumentCaps,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.caps = caps
        self.total = 0

    def walk(
        self,
        node: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        factor: int,
        path: tuple[tuple[str, str], ...],
        active: frozenset[str] = frozenset(),
    ) -> None:
        if node is None:
            return
        for selection in node.selections:
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                self.walk(selection.selection_set, kind, factor, path, active)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in active:
                    continue
                kind = self.schema.get_type(fragment.type_condition.name.value)
                self.walk(fragment.selection_set, kind, factor, path, active | {name})
            elif isinstance(selection, FieldNode):
                self.field(selection, parent, factor, path, active)

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        factor: int,
        path: tuple[tuple[str, str], ...],
        active: frozenset[str],
    ) -> None:
        self.total += factor
        if self.total > self.caps.max_cost:
            raise QueryTooCostly(
                f"the document may cost more than {self.caps.max_cost} (cap max_query_cost: "
                "each field counts once per item of every list above it; ask for smaller "
                "pages with `first`)",
                details={"cap": "max_query_cost", "limit": self.caps.max_cost},
            )
        if not isinstance(parent, GraphQLObjectType) or node.selection_set is None:
            return
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return  # validation will name it
        kind = get_named_type(definition.type)
        size = _size(node, definition, self.variables)
        if size is None:
            inner = (
                definition.type.of_type if is_non_null_type(definition.type) else definition.type
            )
            listed = is_list_type(inner)
            size = 1 if not listed or parent.name.endswith("Connection") else DEFAULT_LIST_SIZE
        if kind is not None and kind.name == parent.name:  # a field returning its own type
            path = (*path, (parent.name, node.name.value))
            if len(path) > self.caps.max_recursion:
                chain = ".".join(name for _type, name in path)
                raise QueryTooComplex(
                    f"{parent.name} fields nest more than {self.caps.max_recursion} levels "
                    f"({chain}; cap max_query_recursion)",
                    details={"cap": "max_query_recursion", "limit": self.caps.max_recursion},
                )
        self.walk(node.selection_set, kind, factor * size, path, active)


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs (None when the name does not pick exactly one)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in operations if o.name and o.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def check_document(
    document: DocumentNode,
    schema: GraphQLSchema,
    caps: DocumentCaps,
    variables: dict[str, Any] | None = None,
) -> None:
    """Raise QueryTooComplex / QueryTooCostly when any operation of the document passes a cap."""
    fragments = fragments_of(document)
    counter = _Counter(fragments, caps)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            counter.selection_set(definition.selection_set, 1)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            _Coster(schema, fragments, variables or {}, caps).walk(
                definition.selection_set, root, 1, ()
            )


def root_field_names(document: DocumentNode, operation: OperationDefinitionNode) -> set[str] | None:
    """Names of the root fields an operation selects (fragments followed); None if unsure."""
    fragments = fragments_of(document)
    names: set[str] = set()
    pending: list[SelectionSetNode] = [operation.selection_set]
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen:
                    continue
                seen.add(name)
                if name not in fragments:
                    return None
                pending.append(fragments[name].selection_set)
    return names


__all__ = [
    "DEFAULT_LIST_SIZE",
    "DocumentCaps",
    "QueryTooComplex",
    "QueryTooCostly",
    "check_document",
    "fragments_of",
    "operation_of",
    "root_field_names",
]
