"""Saved segments inlined into a filter, and `within` fixed to a time: what a count answers and
what a notification's delivery expands, resolved once when its delivery starts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from pushgate.audience.parse import MAX_DEPTH, MAX_LEAVES, FilterError, within_seconds
from pushgate.audience.tree import And, Leaf, Node, Not, Or, SegmentRef, depth, leaf_count

# What a saved segment's name loads: its filter, or None when the site has no such segment.
SegmentLoader = Callable[[str], Awaitable[Node | None]]

# A leaf no subscriber matches (every subscriber has a created_at): a segment that vanished.
NOTHING: Node = Not(Leaf("created_at", "exists"))


async def resolve(
    node: Node,
    load: SegmentLoader,
    *,
    path: str = "audience.filter",
    now: float | None = None,
    inside: frozenset[str] = frozenset(),
    lenient: bool = False,
) -> Node:
    """`node` with every segment reference replaced by that segment's resolved filter, and with
    `now`, `within` leaves made absolute (`gte` that time). A missing segment or a cycle (a
    segment in `inside` met again) raises FilterError, or when `lenient` matches nobody."""
    if isinstance(node, SegmentRef):
        return await _segment(node.name, load, path, now, inside, lenient)
    if isinstance(node, Not):
        return Not(
            await resolve(node.child, load, path=path, now=now, inside=inside, lenient=lenient)
        )
    if isinstance(node, And | Or):
        kids = [
            await resolve(c, load, path=path, now=now, inside=inside, lenient=lenient)
            for c in node.children
        ]
        return type(node)(tuple(kids))
    if now is not None and node.op == "within":
        since = datetime.fromtimestamp(now - within_seconds(node.value), UTC)
        return Leaf(node.field, "gte", since.isoformat().replace("+00:00", "Z"))
    return node


async def _segment(
    name: str,
    load: SegmentLoader,
    path: str,
    now: float | None,
    inside: frozenset[str],
    lenient: bool,
) -> Node:
    if name in inside:
        if lenient:
            return NOTHING
        raise FilterError(path, f"segment {name!r} refers back to itself (a cycle)")
    found = await load(name)
    if found is None:
        if lenient:
            return NOTHING
        raise FilterError(path, f"no segment named {name!r}")
    return await resolve(found, load, path=path, now=now, inside=inside | {name}, lenient=lenient)


def check_limits(node: Node, path: str = "audience.filter") -> None:
    """The limits hold for the tree with its segments inlined, as it is compiled."""
    if (levels := depth(node)) > MAX_DEPTH:
        raise FilterError(
            path, f"with its segments the filter nests {levels} levels; at most {MAX_DEPTH}"
        )
    if (count := leaf_count(node)) > MAX_LEAVES:
        raise FilterError(
            path, f"with its segments the filter holds {count} leaves; at most {MAX_LEAVES}"
        )
