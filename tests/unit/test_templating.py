"""Templates render like Kestra's Pebble, once, inside a sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from executor.errors import TemplateError
from executor.templating import (
    MAX_OUTPUT,
    check_syntax,
    contains_template,
    render,
    render_value,
)


class LazyContext(Mapping[str, Any]):
    """A context that fails if it is iterated or sized, like a Redis-backed one would cost."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.reads.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the context must not be iterated")

    def __len__(self) -> int:
        raise AssertionError("the context must not be sized")


CTX: dict[str, Any] = {
    "inputs": {"name": "Ada", "count": 3, "flag": True},
    "outputs": {
        "fetch": {"values": [1, 2, 3], "rows": 3, "meta": {"ok": True, "note": None}},
        "echo": {"text": "{{ inputs.name }}"},
    },
    "vars": {"greeting": "héllo"},
}


# --------------------------------------------------------------------------- printing


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ outputs.fetch.meta }}", '{"ok":true,"note":null}'),
        ("{{ outputs.fetch['values'] }}", "[1,2,3]"),
        ("{{ inputs.flag }}", "true"),
        ("{{ not inputs.flag }}", "false"),
        ("[{{ outputs.fetch.meta.note }}]", "[]"),
        ("{{ inputs.count * 2 }}", "6"),
        ("{{ 'n=' ~ inputs.flag }}", "n=true"),
        ("{{ vars.greeting | upper }}", "HÉLLO"),
        ("{{ inputs | json }}", '{"name":"Ada","count":3,"flag":true}'),
        ("{{ [1, 'a'] | toJson }}", '[1,"a"]'),
        ("{{ ('{\"a\": [1]}' | fromJson).a[0] }}", "1"),
        ("{{ missing | default('fallback') }}", "fallback"),
        ("{% for v in outputs.fetch.values %}{{ v }},{% endfor %}", "1,2,3,"),
        ("{{ range(3) | list }}", "[0,1,2]"),
        ("Hello {{ inputs.name }}!\n", "Hello Ada!\n"),
    ],
)
def test_render_prints_like_pebble(template: str, expected: str) -> None:
    assert render(template, CTX) == expected


def test_non_template_string_is_returned_as_is() -> None:
    s = "plain text with a } and a {"
    assert render(s, CTX) is s
    assert render_value(s, CTX) is s


def test_attribute_prefers_mapping_key_over_dict_method() -> None:
    assert render("{{ outputs.fetch.values }}", CTX) == "[1,2,3]"
    assert render_value("{{ outputs.fetch.values }}", CTX) == [1, 2, 3]
    # methods are still reachable when no key has their name
    assert render("{{ inputs.keys() | list | length }}", CTX) == "3"


def test_lazy_context_is_only_read_key_by_key() -> None:
    ctx = LazyContext(CTX)
    assert render("{{ inputs.name }} {{ range(2) | list }}", ctx) == "Ada [0,1]"
    assert render_value({"a": "{{ outputs.fetch.rows }}"}, ctx) == {"a": 3}
    assert "inputs" in ctx.reads
    assert "outputs" in ctx.reads


# --------------------------------------------------------------------------- errors


def test_undefined_variable_is_named() -> None:
    with pytest.raises(TemplateError, match="undefined variable") as exc:
        render("{{ nope }}", CTX)
    assert "'nope'" in str(exc.value)
    assert not isinstance(exc.value.__cause__, Exception)


def test_missing_key_is_named_with_the_keys_available() -> None:
    with pytest.raises(TemplateError) as exc:
        render_value("{{ outputs.fetch.missing }}", CTX)
    message = str(exc.value)
    assert "undefined variable" in message
    assert "'missing'" in message
    assert "'rows'" in message  # what was there instead
    assert exc.value.template == "{{ outputs.fetch.missing }}"


def test_missing_key_deeper_in_a_path_fails() -> None:
    with pytest.raises(TemplateError, match="'nothere'"):
        render("{{ outputs.nothere.value }}", CTX)


@pytest.mark.parametrize(
    "template", ["{{ x ", "{% if %}{% endif %}", "{{ a b }}", "{% for %}", "{{ }}"]
)
def test_syntax_error_is_a_template_error(template: str) -> None:
    with pytest.raises(TemplateError, match="template syntax error at line 1"):
        render(template, CTX)
    with pytest.raises(TemplateError, match="template syntax error"):
        render_value(template, CTX)


def test_check_syntax_reports_the_line() -> None:
    message = check_syntax("first line\nsecond {{ oops }\n")
    assert message is not None
    assert message.startswith("line 2:")
    assert check_syntax("{{ outputs.fetch.rows + 1 }} and {% if true %}x{% endif %}") is None
    assert check_syntax("no template here }}") is None


def test_contains_template() -> None:
    assert contains_template("a {{ b }}")
    assert contains_template("{% if x %}")
    assert contains_template("{# comment #}")
    assert not contains_template("a { b } %} #}")


# --------------------------------------------------------------------------- render once, native


def test_rendered_value_is_never_rendered_again() -> None:
    # the output value itself contains a template: it comes out verbatim
    assert render("{{ outputs.echo.text }}", CTX) == "{{ inputs.name }}"
    assert render_value("{{ outputs.echo.text }}", CTX) == "{{ inputs.name }}"
    assert render_value(["x {{ outputs.echo.text }}"], CTX) == ["x {{ inputs.name }}"]


def test_single_expression_gives_native_value() -> None:
    assert render_value("{{ outputs.fetch.values }}", CTX) == [1, 2, 3]
    assert render_value("  {{ outputs.fetch.rows }}\n", CTX) == 3
    assert render_value("{{ inputs.flag }}", CTX) is True
    assert render_value("{{ outputs.fetch.meta.note }}", CTX) is None
    assert render_value("{{ outputs.fetch.meta }}", CTX) == {"ok": True, "note": None}
    assert render_value("{{ inputs.count / 2 }}", CTX) == 1.5
    assert render_value("{{ range(2) }}", CTX) == [0, 1]


def test_mixed_strings_render_to_text() -> None:
    assert render_value("rows: {{ outputs.fetch.rows }}", CTX) == "rows: 3"
    assert render_value("{{ inputs.count }}{{ inputs.count }}", CTX) == "33"
    assert render_value("{{ inputs.flag }} and {{ inputs.flag }}", CTX) == "true and true"


def test_render_value_walks_containers() -> None:
    value = {
        "{{ inputs.name }}": ["{{ inputs.count }}", ("{{ inputs.name }}!", 7)],
        "plain": 1.5,
        "none": None,
        "nested": {"deep": "x-{{ inputs.name }}"},
    }
    assert render_value(value, CTX) == {
        "Ada": [3, ("Ada!", 7)],
        "plain": 1.5,
        "none": None,
        "nested": {"deep": "x-Ada"},
    }


# --------------------------------------------------------------------------- sandbox


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ inputs.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_sandbox_refuses_private_attributes(template: str) -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render(template, CTX)
    with pytest.raises(TemplateError, match="unsafe"):
        render_value(template, CTX)


def test_sandbox_refuses_mutating_the_context() -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ outputs.fetch['values'].append(4) }}", CTX)
    assert CTX["outputs"]["fetch"]["values"] == [1, 2, 3]


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 50000000 }}",
        "{{ 50000000 * 'a' }}",
        "{{ [0] * 50000000 }}",
        "{{ 'x'.center(500000000) }}",
        "{{ 'x' | center(500000000) }}",
        "{{ '%500000000d' | format(1) }}",
        "{{ '{:>500000000}'.format(1) }}",
        "{{ 2 ** 900000000 }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}",
        "{% for i in range(100000) %}{{ 'abcdefghijklmnopqrstuvwxyz' }}{% endfor %}",
    ],
)
def test_sandbox_refuses_huge_values_fast(template: str) -> None:
    start = time.monotonic()
    with pytest.raises(TemplateError, match="too large"):
        render_value(template, CTX)
    assert time.monotonic() - start < 2.0


def test_output_just_under_the_limit_renders() -> None:
    assert len(render("{{ 'a' * n }}", {"n": MAX_OUTPUT})) == MAX_OUTPUT


def test_errors_from_python_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}", CTX)
    with pytest.raises(TemplateError, match="fromJson"):
        render("{{ 'not json' | fromJson }}", CTX)
