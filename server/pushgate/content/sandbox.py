"""Templates in Jinja2's immutable sandbox, locked down further for untrusted authors.

The sandbox stops access to Python internals (`''.__class__`, `cycler.__init__.__globals__`);
it does not stop a template from using all memory or CPU (`'a' * 10**9`, `'x'|center(10**9)`,
three nested loops over `range(100000)`). So, on top of it:
- only simple statements (output, if, for, set, with): no macros, recursive loops, includes;
  a loop may not sit inside another loop, and `range` gives at most MAX_RANGE items;
- every whole-number argument of a call or filter is at most MAX_INT_ARGUMENT, and
  `*`, `+` and `%` are checked before they run, so no step makes a value over MAX_VALUE;
- the filters are a list of harmless ones (no `format`, `center`, `indent`, `wordwrap` ...);
- the output is generated piece by piece and stops at the caller's limit.
Undefined variables render as empty, chained ones too (`payload.post.missing.id`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE = 4096  # characters of one template
MAX_RANGE = 1000
MAX_INT_ARGUMENT = 10_000
MAX_VALUE = 65_536  # characters (or items) of any value a step makes
TEMPLATE_MARKS = ("{{", "{%", "{#")
SAFE_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "int",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "items",
    "map",
    "min",
    "max",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
    "tojson",
)
ALLOWED_STATEMENTS = (
    nodes.Template, nodes.Output, nodes.If, nodes.For, nodes.Assign, nodes.With,
)  # fmt: skip
BLOCKED_METHODS = frozenset({"format", "format_map"})  # a width in the text: "{:>999999999}"


class TemplateInvalid(Exception):
    """A template that must not be stored: `line` (1-based) and a one-line reason."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


class RenderFailed(Exception):
    """A template did not render: the reason is one line, safe to show and log."""


def _sized(value: Any) -> Any:
    if isinstance(value, str | bytes | list | tuple | dict) and len(value) > MAX_VALUE:
        raise SecurityError(f"a value of {len(value)} characters or items is over {MAX_VALUE}")
    return value


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARGUMENT:
            raise SecurityError(f"the number {value} is over {MAX_INT_ARGUMENT}")


def _guarded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args[1:], kwargs)
        return _sized(function(*args, **kwargs))

    return guarded


def _limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range of {len(result)} items; at most {MAX_RANGE}")
    return result


class LockedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "+", "%", "**", "//"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=ChainableUndefined, cache_size=0)
        self.filters = {name: _guarded_filter(self.filters[name]) for name in SAFE_FILTERS}
        self.globals = {"range": _limited_range, "dict": dict}
        self.tests = dict(self.tests)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: `event.props.items` is the prop named items, not dict.items.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The sandbox would answer an undefined value, which renders as empty here: fail instead.
        raise SecurityError(f"access to attribute {attribute!r} is not allowed")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("% formatting of text is not allowed; use ~ to join")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sequence = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if sequence and len(seq) * count > MAX_VALUE:
                    raise SecurityError(f"repeating makes more than {MAX_VALUE} items")
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponents over 64 are not allowed")
        return _sized(super().call_binop(context, operator, left, right))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__name__", None) in BLOCKED_METHODS:
            raise SecurityError("format() is not allowed; use ~ to join text")
        _check_arguments(args, kwargs)
        return _sized(super().call(__context, __obj, *args, **kwargs))


SANDBOX = LockedSandbox()


def is_template(text: str) -> bool:
    return any(mark in text for mark in TEMPLATE_MARKS)


@functools.lru_cache(maxsize=1024)
def _parsed(source: str) -> nodes.Template:
    if len(source) > MAX_SOURCE:
        raise TemplateInvalid(f"a template may be at most {MAX_SOURCE} characters")
    try:
        tree = SANDBOX.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(exc.message or "syntax error", exc.lineno) from None
    _check_statements(tree)
    return tree


def _check_statements(tree: nodes.Node, in_loop: bool = False) -> None:
    for node in tree.iter_child_nodes():
        if isinstance(node, nodes.Stmt) and not isinstance(node, ALLOWED_STATEMENTS):
            name = type(node).__name__.lower()
            raise TemplateInvalid(f"{{% {name} %}} is not allowed in a notification", node.lineno)
        if isinstance(node, nodes.For):
            if in_loop or node.recursive:
                raise TemplateInvalid("a loop inside a loop is not allowed", node.lineno)
            _check_statements(node, in_loop=True)
        else:
            _check_statements(node, in_loop)


def check(source: str) -> frozenset[str]:
    """Raise TemplateInvalid unless `source` may be stored; the variables it uses."""
    _compiled(source)
    return frozenset(meta.find_undeclared_variables(_parsed(source)))


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    tree = _parsed(source)  # the checks, once
    try:  # compiling finds what parsing does not: an unknown filter or test
        return SANDBOX.from_string(tree)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(exc.message or "syntax error", exc.lineno) from None


def render(source: str, variables: Mapping[str, Any], max_chars: int) -> str:
    """`source` rendered; RenderFailed("template_error: ...") when it fails or its output
    passes `max_chars`."""
    try:
        template = _compiled(source)
        parts, size = [], 0
        for piece in template.generate(variables):
            size += len(piece)
            if size > max_chars:
                raise RenderFailed(f"template_error: renders to more than {max_chars} characters")
            parts.append(piece)
    except RenderFailed:
        raise
    except TemplateInvalid as exc:
        raise RenderFailed(f"template_error: {exc.reason}") from None
    except (TemplateError, RecursionError, ArithmeticError, TypeError, ValueError) as exc:
        raise RenderFailed(f"template_error: {type(exc).__name__}: {_one_line(exc)}") from None
    except Exception as exc:  # a sandboxed template must never take the caller down
        raise RenderFailed(f"template_error: {type(exc).__name__}") from None
    return "".join(parts)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
