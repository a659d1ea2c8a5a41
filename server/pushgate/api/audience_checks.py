"""An audience checked against the site's saved segments before it is stored or counted."""

from __future__ import annotations

from pushgate.api.validation import invalid
from pushgate.audience.parse import FilterError
from pushgate.audience.resolve import check_limits, resolve
from pushgate.audience.tree import Node
from pushgate.store import Store
from pushgate.store.models import Audience


async def checked_audience(store: Store, site_id: str, audience: Audience) -> None:
    """400 unless every segment `audience` names exists, none refers back to itself, and the
    tree with its segments inlined keeps the limits."""
    path = "audience.segment" if audience.segment is not None else "audience.filter"
    tree = audience.as_tree
    if tree is not None:
        await checked_tree(store, site_id, tree, path, frozenset())


async def checked_tree(
    store: Store, site_id: str, tree: Node, path: str, inside: frozenset[str]
) -> None:
    async def load(name: str) -> Node | None:
        found = await store.get_segment(site_id, name)
        return found.filter if found else None

    try:
        check_limits(await resolve(tree, load, path=path, inside=inside), path)
    except FilterError as exc:
        raise invalid(str(exc)) from exc
