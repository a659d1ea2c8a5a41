"""An audience compiled to a PostgreSQL condition on the `subscriptions` table (named, never
aliased, in the query): tags through the typed subscription_tags table, the other fields through
subscriptions' own columns, with the same answers as store/sqlite/audience_sql.py.

Two forms, as there. For a count, a tag leaf is an uncorrelated `key IN (SELECT ...)` that
reads a tag value index; the planner makes each a semi-join and picks the order by its
statistics, so the driver SQLite's compiler picks by hand (its alternative was a temporary
b-tree) is not needed here. For expansion, which reads the audience a batch at a time in key
order, a tag leaf is a correlated EXISTS kept from becoming a join (OFFSET 0): a primary-key
probe per subscriber, so a batch costs what it reads rather than the tag's whole match.

Tag values are typed by `kind`: strings in str_value, numbers and booleans (as 1 or 0) in
num_value, so a test names the kind it wants and the number 5 never equals the string "5". The
kind is written into the SQL as a literal so that the planner can prove the partial indexes'
predicates (`kind = 'string'`, `kind <> 'string'`) from it, in generic plans too.

Every condition is two-valued where it matters: a missing field (NULL) is false, and `not`
wraps its subtree in COALESCE(..., FALSE), so `not` of a leaf matches subscribers that lack the
field, as the rules of issue #9 say."""

from __future__ import annotations

from typing import Any

from pushgate.audience.countries import zone_countries, zones_of
from pushgate.audience.parse import rfc3339_seconds, within_seconds
from pushgate.audience.tree import And, Leaf, Node, Not, Or, SegmentRef
from pushgate.store.models import Audience

_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "ne": "<>"}
_COLUMNS = {
    "timezone": "subscriptions.timezone",
    "browser": "subscriptions.browser",
    "push_service": "subscriptions.push_service",
    "external_id": "subscriptions.external_id",
    "created_at": "subscriptions.created_at",
    "last_seen_at": "subscriptions.last_seen_at",
}
# The primary language subtag: "en" of "en-GB".
_PRIMARY = "lower(split_part(subscriptions.language, '-', 1))"
# Where each kind of tag value is kept, and the array type of a list of them.
_VALUE_COLUMN = {"string": "str_value", "number": "num_value", "boolean": "num_value"}
_ARRAY = {"string": "text[]", "number": "float8[]", "boolean": "float8[]"}


class Args:
    """The arguments of a statement being built: appending a value gives its placeholder."""

    def __init__(self, *values: Any) -> None:
        self.values: list[Any] = list(values)

    def __call__(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"


def audience_condition(
    audience: Audience,
    site_id: str,
    now: float,
    args: Args,
    *,
    streaming: bool,
    tree: Node | None = None,
) -> str:
    """The condition a subscription of `site_id` meets to be in `audience`, its values appended
    to `args`; `tree` stands for the audience's own tree when given (a notification's tree as
    resolved at its start)."""
    if audience.external_ids is not None:
        return f"subscriptions.external_id = ANY({args(list(audience.external_ids), '::text[]')})"
    if audience.subscription_ids is not None:
        return f"subscriptions.id = ANY({args(list(audience.subscription_ids), '::text[]')})"
    node = tree if tree is not None else audience.as_tree
    if node is None:
        return "TRUE"
    return Compiler(site_id, now, streaming, args).node(node)


class Compiler:
    def __init__(self, site_id: str, now: float, streaming: bool, args: Args) -> None:
        self._site_id = site_id
        self._site: str | None = None  # the site's placeholder, once a tag set needs it
        self._now = now
        self._streaming = streaming
        self._args = args

    def node(self, node: Node) -> str:
        if isinstance(node, And | Or):
            if not node.children:
                return "TRUE" if isinstance(node, And) else "FALSE"
            parts = [self.node(child) for child in node.children]
            return "(" + (" AND " if isinstance(node, And) else " OR ").join(parts) + ")"
        if isinstance(node, Not):
            return f"NOT COALESCE({self.node(node.child)}, FALSE)"
        if isinstance(node, SegmentRef):
            raise ValueError(f"segment {node.name!r} must be resolved before compiling")
        return self.leaf(node)

    def leaf(self, leaf: Leaf) -> str:
        if leaf.tag is not None:
            sql = self._tag(leaf.tag, self._tag_condition(leaf))
            return f"NOT {sql}" if leaf.op == "not_exists" else sql
        if leaf.field == "language":
            return self._language(leaf)
        if leaf.field == "country":
            return self._country(leaf)
        column = _COLUMNS[leaf.field]
        if leaf.op in ("exists", "not_exists"):
            return f"{column} IS {'NOT ' if leaf.op == 'exists' else ''}NULL"
        if leaf.op in ("in", "not_in"):
            found = f"{column} = ANY({self._args(list(leaf.value), '::text[]')})"
            return f"NOT {found}" if leaf.op == "not_in" else found
        if leaf.op == "within":
            return f"{column} >= {self._args(self._now - within_seconds(leaf.value))}"
        if leaf.field in ("created_at", "last_seen_at"):
            return f"{column} {_COMPARE[leaf.op]} {self._args(rfc3339_seconds(leaf.value))}"
        return f"{column} {_COMPARE[leaf.op]} {self._args(leaf.value, '::text')}"

    def _tag(self, name: str, condition: str) -> str:
        if self._streaming:
            # OFFSET 0 keeps the planner from turning the probe into a join, which would read
            # and sort the tag's whole match for every batch.
            return (
                "EXISTS (SELECT 1 FROM subscription_tags t "
                "WHERE t.subscription_key = subscriptions.key "
                f"AND t.name = {self._args(name, '::text')}{condition} OFFSET 0)"
            )
        if self._site is None:
            self._site = self._args(self._site_id, "::text")
        return (
            "subscriptions.key IN (SELECT subscription_key FROM subscription_tags "
            f"WHERE site_id = {self._site} AND name = {self._args(name, '::text')}{condition})"
        )

    def _tag_condition(self, leaf: Leaf) -> str:
        """What the tag's row must hold, appended to its lookup by name (none: it exists)."""
        op, value = leaf.op, leaf.value
        if op in ("exists", "not_exists"):
            return ""
        if op in ("eq", "ne"):
            kind = _kind(value)
            held = f"kind = '{kind}' AND {_VALUE_COLUMN[kind]} = {self._value(kind, value)}"
            return f" AND NOT ({held})" if op == "ne" else f" AND {held}"
        if op in ("in", "not_in"):
            by_kind: dict[str, list[Any]] = {}
            for item in value:
                by_kind.setdefault(_kind(item), []).append(_stored(item))
            parts = [
                f"(kind = '{kind}' AND {_VALUE_COLUMN[kind]} = "
                f"ANY({self._args(items, '::' + _ARRAY[kind])}))"
                for kind, items in by_kind.items()
            ]
            negation = "NOT " if op == "not_in" else ""
            return f" AND {negation}(" + " OR ".join(parts) + ")"
        return f" AND kind = 'number' AND num_value {_COMPARE[op]} {self._value('number', value)}"

    def _value(self, kind: str, value: Any) -> str:
        return self._args(_stored(value), "::text" if kind == "string" else "::float8")

    def _language(self, leaf: Leaf) -> str:
        """`en` matches en, en-GB, en-US; `en-GB` only en-GB (any case)."""
        if leaf.op in ("exists", "not_exists"):
            return f"subscriptions.language IS {'NOT ' if leaf.op == 'exists' else ''}NULL"
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        exact = self._args([v.lower() for v in values if "-" in v], "::text[]")
        bare = self._args([v.lower() for v in values if "-" not in v], "::text[]")
        matches = f"(lower(subscriptions.language) = ANY({exact}) OR {_PRIMARY} = ANY({bare}))"
        if leaf.op in ("eq", "in"):
            return matches
        return f"(subscriptions.language IS NOT NULL AND NOT COALESCE({matches}, FALSE))"

    def _country(self, leaf: Leaf) -> str:
        """The GeoIP country when one was found at subscribe time, else the time zone's (by
        tzdata's zone.tab, as on SQLite)."""
        if leaf.op in ("exists", "not_exists"):
            present = self._country_present()
            return f"NOT COALESCE({present}, FALSE)" if leaf.op == "not_exists" else present
        values = list(leaf.value) if isinstance(leaf.value, tuple) else [leaf.value]
        matches = (
            "(CASE WHEN subscriptions.country IS NOT NULL "
            f"THEN subscriptions.country = ANY({self._args(values, '::text[]')}) "
            f"ELSE subscriptions.timezone = ANY({self._args(zones_of(values), '::text[]')}) END)"
        )
        if leaf.op in ("eq", "in"):
            return matches
        return f"({self._country_present()} AND NOT COALESCE({matches}, FALSE))"

    def _country_present(self) -> str:
        zoned = self._args(sorted(zone_countries()), "::text[]")
        return f"(subscriptions.country IS NOT NULL OR subscriptions.timezone = ANY({zoned}))"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "string"


def _stored(value: Any) -> Any:
    """A value as its column holds it: numbers and booleans (1 or 0) as floats."""
    return value if isinstance(value, str) else float(value)
