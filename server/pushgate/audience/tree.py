"""The typed filter tree: and, or, not, a saved segment's name, and leaves.

Leaf values stay as the JSON gave them (checked and normalised by `parse`), so a tree turns back
into the same JSON; times are RFC 3339 text, `within` its "7d" text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Leaf:
    field: str  # "tags.NAME", "language", ... (see audience.fields)
    op: str
    value: Any = None  # None for exists / not_exists; a tuple for in / not_in

    @property
    def tag(self) -> str | None:
        """The tag's name for a `tags.NAME` field, else None."""
        return self.field[5:] if self.field.startswith("tags.") else None


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class SegmentRef:
    name: str


Node = Leaf | And | Or | Not | SegmentRef


def to_json(node: Node) -> dict[str, Any]:
    """The tree as the API takes it."""
    if isinstance(node, And):
        return {"and": [to_json(c) for c in node.children]}
    if isinstance(node, Or):
        return {"or": [to_json(c) for c in node.children]}
    if isinstance(node, Not):
        return {"not": to_json(node.child)}
    if isinstance(node, SegmentRef):
        return {"segment": node.name}
    leaf: dict[str, Any] = {"field": node.field, "op": node.op}
    if node.value is not None:
        leaf["value"] = list(node.value) if isinstance(node.value, tuple) else node.value
    return leaf


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And | Or):
        return node.children
    if isinstance(node, Not):
        return (node.child,)
    return ()


def depth(node: Node) -> int:
    """Levels from the root to the deepest leaf: a lone leaf is 1."""
    return 1 + max((depth(c) for c in children(node)), default=0)


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in children(node):
        yield from walk(child)


def leaf_count(node: Node) -> int:
    return sum(1 for n in walk(node) if isinstance(n, Leaf))


def segment_names(node: Node) -> set[str]:
    """The saved segments this tree names itself (not those they name)."""
    return {n.name for n in walk(node) if isinstance(n, SegmentRef)}
