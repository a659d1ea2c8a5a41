"""The template sandbox: what authors may write, and what must fail safely (issue #11)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushgate.content.sandbox import MAX_SOURCE, RenderFailed, TemplateInvalid, check, render

VARIABLES = {"payload": {"post": {"title": "Hello", "tags": ["a", "b"]}}, "subscriber": {}}

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ payload.__class__.__base__.__subclasses__() }}",
    "{{ range.__globals__ }}",
    "{{ range.__code__.co_consts }}",
    "{{ payload.post.title.__class__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ payload.post.tags.append(1) }}",  # the immutable sandbox: no mutation
]
EXHAUSTION = [
    "{{ 'a' * 1000000000 }}",
    "{{ [0] * 1000000000 }}",
    "{{ 'x'.center(1000000000) }}",
    "{{ 'x'.ljust(100000000) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999s' % 1 }}",
    "{{ 9 ** 99999999 }}",
    "{% for i in range(1000000) %}x{% endfor %}",
    "{{ ('a' * 60000) ~ ('a' * 60000) }}",
]


@pytest.mark.parametrize("source", ESCAPES + EXHAUSTION)
def test_escapes_and_resource_exhaustion_fail_with_template_error(source: str) -> None:
    with pytest.raises(RenderFailed, match=r"^template_error: "):
        render(source, VARIABLES, 100_000)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("{{ payload.title", 1),
        ("ok\n{% if %}", 2),
        ("{% macro m() %}{% endmacro %}", 1),
        ("{% include 'x.html' %}", 1),
        ("{% for a in x %}{% for b in a %}{% endfor %}{% endfor %}", 1),
        ("{{ x | format(1) }}", 1),  # a filter not on the list
        ("{% for a in x recursive %}{{ loop(a) }}{% endfor %}", 1),
    ],
)
def test_templates_refused_at_creation_name_their_line(source: str, line: int) -> None:
    with pytest.raises(TemplateInvalid) as caught:
        check(source)
    assert caught.value.line == line


def test_undefined_variables_render_empty_even_chained() -> None:
    assert render("[{{ payload.nothing.deeper.id }}]", VARIABLES, 100) == "[]"
    assert render("{{ missing }}", {}, 100) == ""


def test_output_over_the_limit_fails_rather_than_truncating() -> None:
    assert render("{{ payload.post.title }}", VARIABLES, 5) == "Hello"
    with pytest.raises(RenderFailed, match="more than 4"):
        render("{{ payload.post.title }}", VARIABLES, 4)


def test_over_long_source_is_refused() -> None:
    with pytest.raises(TemplateInvalid, match=str(MAX_SOURCE)):
        check("{{ x }}" + " " * MAX_SOURCE)


def test_check_names_the_variables_a_template_reads() -> None:
    assert check("{{ subscriber.tags.name }} {{ payload.x }}") == {"subscriber", "payload"}
    assert check("{% set a = 1 %}{{ a }}") == frozenset()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_either_is_refused_or_renders_or_fails_cleanly(source: str) -> None:
    try:
        check(source)
    except TemplateInvalid:
        return
    try:
        render(source, VARIABLES, 10_000)
    except RenderFailed as exc:
        assert str(exc).startswith("template_error: ")


def test_a_key_named_like_a_dict_method_reads_the_data() -> None:
    props = {"event": {"props": {"items": 3, "keys": "k", "values": [1]}}}
    assert render("{{ event.props.items }} {{ event.props.keys }}", props, 100) == "3 k"
