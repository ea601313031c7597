"""Pebble's expression syntax, operator by operator.

Expectations come from Kestra's tests (core/src/test/java/io/kestra/core/runners/pebble/)
and from Pebble's sources and docs (PebbleTemplates/pebble: CoreExtension.java for the
precedences, ExpressionParser.java, the node/expression/*Expression.java classes, the
extension/core/*Test.java classes and docs/src/orchid/resources/wiki/).
"""

from __future__ import annotations

from typing import Any

import pytest

from executor.errors import TemplateError
from executor.templating import render, render_value

CTX: dict[str, Any] = {
    "block": {"test": {"child": "awesome"}},
    "inner": "test",
    "nothing": None,
    "empty_map": {},
    "items": [1, 2, 3],
    "m": {"a": 1, "b": 2},
    "n": 4,
}


def r(template: str) -> str:
    return render(template, CTX)


# --------------------------------------------------------------------------- ?? and ???


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Kestra NullCoalescingExpressionTest.firstDefined / firstDefinedEval
        ("{{ inner.bla ?? block.test.child }}", "awesome"),
        ("{{ block.test.child ?? inner.bla }}", "awesome"),
        ("{{ block[inner].child ?? null }}", "awesome"),
        ("{{ block[missing].child ?? block[inner].child }}", "awesome"),
        ("{{ block[missing].child ?? block[missing2].child ?? block[inner].child }}", "awesome"),
        ("{{ missing ?? block.test.child }}", "awesome"),
        # Kestra NullCoalescingExpressionTest.emptyObject: an empty map is not null
        ("{{ empty_map ?? 'UNDEFINED' }}", "{}"),
        # Kestra NullCoalescingExpressionTest.nullOrUndefined
        ("{{ nothing ?? 'IS NULL' }}", "IS NULL"),
        ("{{ undefined ?? 'IS UNDEFINED' }}", "IS UNDEFINED"),
        # Kestra UndefinedCoalescingExpressionTest.nullOrUndefined: ??? is undefined only
        ("{{ nothing ??? 'IS NULL' }}", ""),
        ("{{ undefined ??? 'IS UNDEFINED' }}", "IS UNDEFINED"),
        # precedence 120 (Kestra Extension.java): tighter than ~ and |
        ("{{ missing ?? 'a' ~ 'b' }}", "ab"),
        ("{{ missing ?? 'x' | upper }}", "X"),
        ("{{ 0 ?? 5 }}", "0"),
        ("{{ false ?? true }}", "false"),
    ],
)
def test_coalescing(template: str, expected: str) -> None:
    assert r(template) == expected


def test_coalescing_of_two_undefined_values_fails() -> None:
    # Kestra NullCoalescingExpressionTest: {{ missing ?? missing2 }} throws
    with pytest.raises(TemplateError, match="'missing2'"):
        r("{{ missing ?? missing2 }}")


def test_coalescing_is_lazy() -> None:
    # the right side is never evaluated when the left is defined
    assert r("{{ n ?? (1 / 0) }}") == "4"


def test_coalescing_keeps_native_values() -> None:
    assert render_value("{{ missing ?? items }}", CTX) == [1, 2, 3]
    assert render_value("{{ nothing ??? 'x' }}", CTX) is None


# --------------------------------------------------------------------------- ternary


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Pebble docs operator/others.md: {{ foo ? "yes" : "no" }}
        ("{{ true ? 'yes' : 'no' }}", "yes"),
        ("{{ false ? 'yes' : 'no' }}", "no"),
        ("{{ nothing ? 'yes' : 'no' }}", "no"),  # TernaryExpression: null is false
        ("{{ n > 3 ? 'big' : 'small' }}", "big"),
        ("{{ n == 4 and true ? 1 : 2 }}", "1"),
        ("{{ false ? 1 : true ? 2 : 3 }}", "2"),  # nested in the else branch
        ("{{ (true ? 'a' : 'b') ~ 'c' }}", "ac"),
    ],
)
def test_ternary(template: str, expected: str) -> None:
    assert r(template) == expected


def test_ternary_never_evaluates_the_branch_not_taken() -> None:
    assert r("{{ true ? 'ok' : missing.deeper }}") == "ok"
    assert r("{{ false ? (1 / 0) : 'ok' }}") == "ok"


def test_ternary_without_else_is_a_syntax_error() -> None:
    with pytest.raises(TemplateError, match="syntax error"):
        r("{{ true ? 'a' }}")


# --------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Pebble docs operator/comparisons.md: == and equals are the same operator
        ("{{ n equals 4 }}", "true"),
        ("{{ n == 4.0 }}", "true"),  # OperatorUtils.equals: numbers by value
        ("{{ 'a' equals 'a' }}", "true"),
        ("{{ n != 4 }}", "false"),
        ("{{ true == 1 }}", "false"),  # a Boolean never equals a Long
        ("{{ nothing == null }}", "true"),
    ],
)
def test_equals(template: str, expected: str) -> None:
    assert r(template) == expected


def test_equals_on_undefined_fails() -> None:
    with pytest.raises(TemplateError, match="'nope'"):
        r("{{ nope equals 1 }}")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Pebble docs operator/contains.md and ContainsExpression.java
        ("{{ items contains 2 }}", "true"),
        ("{{ items contains 5 }}", "false"),
        ("{{ items contains [1, 3] }}", "true"),  # containsAll
        ("{{ items contains [1, 5] }}", "false"),
        ("{{ m contains 'a' }}", "true"),  # a map: its keys
        ("{{ m contains 1 }}", "false"),
        ("{{ 'kestra' contains 'str' }}", "true"),
        ("{{ nothing contains 1 }}", "false"),  # null contains nothing
        ("{% if items contains 3 %}yes{% endif %}", "yes"),
    ],
)
def test_contains(template: str, expected: str) -> None:
    assert r(template) == expected


def test_contains_on_a_number_is_an_error() -> None:
    with pytest.raises(TemplateError, match="contains can only be used on lists, maps"):
        r("{{ n contains 1 }}")


# --------------------------------------------------------------------------- not, and, or


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ not true }}", "false"),
        # unary not has precedence 500 in Pebble: (not false) == true
        ("{{ not false == true }}", "true"),
        ("{{ not (1 == 2) }}", "true"),
        # and/or give booleans (AndExpression/OrExpression)
        ("{{ true and 'x' }}", "true"),
        ("{{ 0 or '' }}", "false"),
        ("{{ false or n > 3 }}", "true"),
        ("{{ true or missing }}", "true"),  # lazy
    ],
)
def test_logic(template: str, expected: str) -> None:
    assert r(template) == expected


# --------------------------------------------------------------------------- tests (is ...)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Pebble docs test/null.md, NullTest.java
        ("{{ nothing is null }}", "true"),
        ("{{ n is null }}", "false"),
        ("{{ n is not null }}", "true"),
        # DefinedTest.java + PositiveTestExpression: never fails, null is not defined
        ("{{ n is defined }}", "true"),
        ("{{ nope is defined }}", "false"),
        ("{{ block.nope.deeper is defined }}", "false"),
        ("{{ nothing is defined }}", "false"),
        ("{{ nope is not defined }}", "true"),
        # EmptyTest.java: null, blank string, empty collection or map
        ("{{ nothing is empty }}", "true"),
        ("{{ '  ' is empty }}", "true"),
        ("{{ [] is empty }}", "true"),
        ("{{ empty_map is empty }}", "true"),
        ("{{ items is empty }}", "false"),
        ("{{ 0 is empty }}", "false"),
        # Kestra JsonTest.java
        ("{{ '{\"a\": 1}' is json }}", "true"),
        ("{{ 'not json' is json }}", "false"),
        # EvenTest / OddTest
        ("{{ n is even }}", "true"),
        ("{{ n is odd }}", "false"),
        ("{{ 1 + 2 is odd }}", "true"),  # `is` (20) is looser than + (40)
        # MapTest, IterableTest
        ("{{ m is map }}", "true"),
        ("{{ items is iterable }}", "true"),
        ("{{ 'abc' is iterable }}", "false"),
    ],
)
def test_tests(template: str, expected: str) -> None:
    assert r(template) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ nope is null }}", "'nope'"),  # strict variables: only `defined` tolerates it
        ("{{ nope is empty }}", "'nope'"),
        ("{{ nothing is even }}", 'null value to "even"'),
        ("{{ 'a' is odd }}", "needs an integer"),
        ("{{ n is json }}", "json test needs a string"),
    ],
)
def test_tests_fail_clearly(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        r(template)


# --------------------------------------------------------------------------- .. and ~


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Pebble docs operator/others.md and RangeFunction.java: inclusive
        ("{{ 1..3 }}", "[1,2,3]"),
        ("{{ 3..1 }}", "[]"),
        ("{% for i in 0..n %}{{ i }}{% endfor %}", "01234"),
        ("{{ 'a'..'c' }}", '["a","b","c"]'),
        ("{{ (1..5) | length }}", "5"),
        # ConcatenateExpression: null adds nothing
        ("{{ 'a' ~ nothing ~ 'b' }}", "ab"),
        ("{{ 'n=' ~ (n + 1) }}", "n=5"),
    ],
)
def test_range_and_concat(template: str, expected: str) -> None:
    assert r(template) == expected


def test_range_is_native_in_a_single_expression() -> None:
    assert render_value("{{ 1..3 }}", CTX) == [1, 2, 3]


def test_range_of_strings_needs_single_characters() -> None:
    with pytest.raises(TemplateError, match="single characters"):
        r("{{ 'ab'..'c' }}")


# --------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # CoreExtension.java precedences: * 60 > + 40 > == 30 > and 15 > or 10
        ("{{ 1 + 2 * 3 }}", "7"),
        ("{{ 1 + 2 == 3 and 2 * 2 == 4 }}", "true"),
        ("{{ false and false or true }}", "true"),
        # ~ (110) binds tighter than | (100): the filter applies to the whole concatenation
        ("{{ 'a' ~ 'b' | upper }}", "AB"),
        # | (100) binds tighter than + (40)
        ("{{ items | length + 1 }}", "4"),
        ("{{ -1 | abs }}", "1"),
    ],
)
def test_precedence(template: str, expected: str) -> None:
    assert r(template) == expected


# --------------------------------------------------------------------------- loop


def test_loop_variables_are_pebbles() -> None:
    # Pebble ForNode.java: index from 0, revindex = length - index - 1
    template = (
        "{% for x in items %}{{ loop.index }}/{{ loop.revindex }}/{{ loop.length }}"
        "{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %} {% endfor %}"
    )
    assert r(template) == "0/2/3F 1/1/3 2/0/3L "


def test_for_over_a_map_gives_entries_and_over_null_nothing() -> None:
    # ForNode.toIterable: a Map iterates its entries; a null iterable renders nothing
    assert r("{% for e in m %}{{ e.key }}={{ e.value }};{% endfor %}") == "a=1;b=2;"
    assert r("{% for x in nothing %}x{% else %}none{% endfor %}") == "none"


# --------------------------------------------------------------------------- kept as today


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'a' if false else 'b' }}", "b"),  # Jinja2's inline if still parses
        ("{{ 2 in items }}", "true"),
        ("{{ {'k': [1, true, null]} }}", '{"k":[1,true,null]}'),
        ("{{ TRUE }}{{ NULL }}", "true"),
    ],
)
def test_jinja_syntax_pebble_has_no_meaning_for_still_works(template: str, expected: str) -> None:
    assert r(template) == expected
