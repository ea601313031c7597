"""Kestra's filters, rendered through the public templating API.

Each expectation cites where it comes from: Kestra's filter tests under
``core/src/test/java/io/kestra/core/runners/pebble/filters/``, Kestra's filter sources, the
table of filters in Kestra's ``ui/src/assets/documentations/basic.md``, or Pebble's core
filters (``io.pebbletemplates.pebble.extension.core``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from executor.errors import TemplateError
from executor.templating import MAX_OUTPUT, render, render_value

# The variables of Kestra's JqFilterTest / YamlFilterTest / ToIonFilterTest ("vars.second")
SECOND = {
    "string": "string",
    "int": 1,
    "float": 1.123,
    "list": ["string", 1, 1.123],
    "bool": True,
    "map": {"string": "string", "int": 1, "float": 1.123},
}
CTX: dict[str, Any] = {"vars": {"second": SECOND}, "none": None, "s": "hello world"}


def r(template: str, **extra: Any) -> str:
    return render(template, {**CTX, **extra})


def v(template: str, **extra: Any) -> Any:
    return render_value(template, {**CTX, **extra})


def fails(template: str, **extra: Any) -> str:
    with pytest.raises(TemplateError) as info:
        render(template, {**CTX, **extra})
    message = str(info.value)
    assert "Traceback" not in message
    return message


# --------------------------------------------------------------------------- jq


def test_jq_gives_the_list_of_results() -> None:
    # JqFilterTest.simple / .list
    assert r('{{ [1, 2, 3] | jq(".[0]") | first }}') == "1"
    assert r('{{ my_vars | jq(".test[0]") }}', my_vars={"test": [1, 2, 3]}) == "[1]"
    assert r('{{ vars | jq(".second[]") }}', vars={"second": [1, 2, 3]}) == "[1,2,3]"
    # JqFilterTest.typed
    assert r('{{ vars | jq(".second.string") }}') == '["string"]'
    assert r('{{ vars | jq(".second.string") | first }}') == "string"
    assert r('{{ vars | jq(".second.float") | first }}') == "1.123"
    assert r('{{ vars | jq(".second.list") | first }}') == '["string",1,1.123]'
    assert r('{{ vars | jq(".second.bool") | first }}') == "true"
    assert v('{{ vars | jq(".second.map") | first }}') == SECOND["map"]
    # JqFilterTest.map: results index like lists and maps
    assert r('{% set object = vars | jq(".second.map") %}{{ object[0].string }}') == "string"


def test_jq_reads_a_json_string_and_passes_null() -> None:
    # JqFilter: a String input is parsed as JSON; null input gives null
    assert v("{{ '{\"a\": [1, 2]}' | jq('.a | length') }}") == [2]
    assert v("{{ none | jq('.a') }}") is None


def test_jq_errors() -> None:
    assert "jq: invalid expression '.['" in fails("{{ vars | jq('.[') }}")
    assert "jq: expects an argument 'expression'" in fails("{{ vars | jq }}")
    assert "jq: the input is not valid JSON" in fails("{{ 'not json' | jq('.') }}")
    assert "jq: cannot apply" in fails("{{ vars | jq('.second.string + 1') }}")


# --------------------------------------------------------------------------- serializers


def test_to_json() -> None:
    # ToJsonFilterTest: Jackson's compact JSON, "null" for null; json is the deprecated alias
    assert r("{{ vars.second.list | toJson }}") == '["string",1,1.123]'
    assert r("{{ 'a\"b' | toJson }}") == '"a\\"b"'
    assert r("{{ none | toJson }}") == "null"
    assert r("{{ {'a': true} | json }}") == '{"a":true}'


def test_yaml() -> None:
    # YamlFilterTest
    assert r("{{ vars.second.string | yaml }}") == "string\n"
    assert r("{{ vars.second.int | yaml }}") == "1\n"
    assert r("{{ vars.second.float | yaml }}") == "1.123\n"
    assert r("{{ vars.second.list | yaml }}") == " - string\n - 1\n - 1.123\n"
    assert r("{{ vars.second.bool | yaml }}") == "true\n"
    out = r("{{ vars.second.map | yaml }}")
    assert "int: 1\n" in out and "float: 1.123\n" in out and "string: string\n" in out
    # YamlFilter: null prints "null"; strings that would read as other types are quoted
    assert r("{{ none | yaml }}") == "null"
    assert r("{{ 'true' | yaml }}") == '"true"\n'


def test_to_ion() -> None:
    # ToIonFilterTest
    assert r("{{ vars.second.string | toIon }}") == '"string"'
    assert r("{{ vars.second.int | toIon }}") == "1"
    assert r("{{ vars.second.bool | toIon }}") == "true"
    assert r("{{ vars.second.float | toIon }}") == "1.123e0"  # a double in Ostra, not a float
    out = r("{{ vars.second.map | toIon }}")
    assert out.startswith("{") and out.endswith("}")
    assert "int:1" in out and "float:1.123e0" in out and 'string:"string"' in out
    assert r('{{ {"empty_object":{}} | toIon }}') == "{empty_object:{}}"
    assert r("{{ none | toIon }}") == "null"


# --------------------------------------------------------------------------- collections


def test_first_last_length() -> None:
    # Pebble FirstFilter / LastFilter (a string gives its character) and LengthFilter (null: 0)
    assert r("{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }}") == "1 3"
    assert r("{{ 'abc' | first }}{{ 'abc' | last }}") == "ac"
    assert v("{{ [] | first }}") is None
    assert v("{{ none | last }}") is None
    assert r("{{ 'Hello' | length }} {{ none | length }} {{ {'a': 1} | length }}") == "5 0 1"
    assert "first: expects a list or a string, got map" in fails("{{ {'a': 1} | first }}")


def test_flatten() -> None:
    # FlattenFilterTest: one level only; a non-list is an error
    assert v("{{ [[1, 2], [3, 4]] | flatten }}") == [1, 2, 3, 4]
    assert v("{{ [1, [2, [3]]] | flatten }}") == [1, 2, [3]]
    assert v("{{ none | flatten }}") is None
    assert "flatten: can only be applied to lists" in fails("{{ 'ab' | flatten }}")


def test_keys_and_values() -> None:
    # KeysFilterTest / ValuesFilterTest
    assert v("{{ {'a': 1, 'b': 2} | keys }}") == ["a", "b"]
    assert v("{{ ['x', 'y', 'z'] | keys }}") == [0, 1, 2]
    assert v("{{ {'a': 1, 'b': 2} | values }}") == [1, 2]
    assert v("{{ none | keys }}") is None
    assert "keys: can only be applied to a list or a map" in fails("{{ 'ab' | keys }}")
    assert "values: can only be applied to a map, got list" in fails("{{ [1] | values }}")


def test_chunk() -> None:
    # ChunkFilterTest: Lists.partition
    assert r("{{ [1, 2, 3, 4] | chunk(2) }}") == "[[1,2],[3,4]]"
    assert r("{{ [1, 2, 3] | chunk(2) }}") == "[[1,2],[3]]"
    assert v("{{ none | chunk(2) }}") is None
    assert "chunk: expects an argument 'size'" in fails("{{ [1] | chunk }}")
    assert "chunk: expects a list, got string" in fails("{{ 'abc' | chunk(2) }}")
    assert "'size' must be an integer" in fails("{{ [1] | chunk('2') }}")


def test_distinct_sort_rsort_reverse() -> None:
    # basic.md: unique [1, 2, 2, 3] -> [1, 2, 3]; sort / rsort / reverse [3, 1, 2]
    assert v("{{ [1, 2, 2, 3, 1] | distinct }}") == [1, 2, 3]
    assert v("{{ [{'a': 1}, {'a': 1}] | unique }}") == [{"a": 1}]
    assert v("{{ [3, 1, 2] | sort }}") == [1, 2, 3]
    assert v("{{ [3, 1, 2] | rsort }}") == [3, 2, 1]
    assert v("{{ [1, 2, 3] | reverse }}") == [3, 2, 1]
    assert v("{{ 'abc' | reverse }}") == "cba"
    assert "sort: cannot compare items of types number, string" in fails("{{ [1, 'a'] | sort }}")


def test_slice() -> None:
    # basic.md: "Hello, world!" | slice(0, 5) -> "Hello"; Pebble SliceFilter bounds
    assert r('{{ "Hello, world!" | slice(0, 5) }}') == "Hello"
    assert v("{{ [1, 2, 3, 4] | slice(1, 3) }}") == [2, 3]
    assert v("{{ [1, 2, 3] | slice(1) }}") == [2, 3]
    assert "toIndex must be at most the input size (3)" in fails("{{ [1, 2, 3] | slice(0, 9) }}")
    assert "toIndex must be greater than fromIndex" in fails("{{ [1, 2, 3] | slice(2, 1) }}")
    assert "fromIndex must be 0 or more" in fails("{{ [1, 2, 3] | slice(-1) }}")


def test_join_and_split() -> None:
    # Pebble JoinFilter (items printed, collections as JSON) and SplitFilter (Java's split)
    assert r("{{ ['a', 'b', 'c'] | join(',') }}") == "a,b,c"
    assert r("{{ [1, true, none] | join('-') }}") == "1-true-"
    assert r("{{ ['a', 'b'] | join }}") == "ab"
    assert v("{{ 'a,b,c' | split(',') }}") == ["a", "b", "c"]
    assert v("{{ 'a,b,c' | split(',', 2) }}") == ["a", "b,c"]
    assert v("{{ 'a,b,,' | split(',') }}") == ["a", "b"]  # Java drops trailing empty strings
    assert v("{{ 'a1b22c' | split('[0-9]+') }}") == ["a", "b", "c"]  # the delimiter is a regex
    assert v("{{ 'a.b' | split('.') }}") == []  # as in Java: "." matches every character
    assert "join: expects a list, got string" in fails("{{ 'abc' | join(',') }}")
    assert "split: expects an argument 'delimiter'" in fails("{{ 'abc' | split }}")


# --------------------------------------------------------------------------- strings


def test_replace() -> None:
    # ReplaceFilterTest: a map of pairs, optionally regexps, applied inside maps and lists
    assert r("{{ 'abcabc' | replace({'a': 'x', 'b': 'y'}) }}") == "xycxyc"
    assert r("{{ 'a1b22' | replace({'[0-9]+': '#'}, regexp=true) }}") == "a#b#"
    assert r("{{ 'john smith' | replace({'(\\\\w+) (\\\\w+)': '$2 $1'}, regexp=true) }}") == (
        "smith john"
    )
    assert v("{{ {'k': 'aa', 'l': ['a']} | replace({'a': 'b'}) }}") == {"k": "bb", "l": ["b"]}
    # basic.md: "Hello, world!" | replace("world", "Kestra")
    assert r('{{ "Hello, world!" | replace("world", "Kestra") }}') == "Hello, Kestra!"
    assert "replace: the argument 'replace_pairs' is required" in fails("{{ 'a' | replace }}")
    assert "replace: invalid regexp '['" in fails("{{ 'a' | replace({'[': ''}, regexp=true) }}")


def test_replace_stays_bounded() -> None:
    big = "a" * 2000
    assert "result too large" in fails("{{ s | replace({'a': x}) }}", s=big, x="b" * 1000)
    assert "result too large" in fails(
        "{{ s | replace({'a': x}, regexp=true) }}", s=big, x="b" * 1000
    )
    assert MAX_OUTPUT < 2000 * 1000


def test_abbreviate_capitalize_title() -> None:
    # Pebble AbbreviateFilter: ellipsis counts in the length; CapitalizeFilter / TitleFilter
    # keep the other letters as they are
    assert r("{{ 'this is a long sentence' | abbreviate(7) }}") == "this..."
    assert r("{{ 'short' | abbreviate(10) }}") == "short"
    assert r("{{ 'hello wORLD' | capitalize }}") == "Hello wORLD"
    assert r("{{ 'hello wORLD' | title }}") == "Hello WORLD"
    assert r("{{ 'Hello' | upper }} {{ 'HELLO' | lower }}") == "HELLO hello"
    assert r("{{ ' Hello ' | trim }}") == "Hello"
    assert "abbreviate: argument 'length' must be an integer" in fails("{{ 'a' | abbreviate }}")


def test_substrings() -> None:
    # SubstringFilterTest (Apache StringUtils.substringBefore/After(Last))
    assert r("{{ 'a.b.c' | substringBefore('.') }}") == "a"
    assert r("{{ 'a.b.c' | substringBeforeLast('.') }}") == "a.b"
    assert r("{{ 'a.b.c' | substringAfter('.') }}") == "b.c"
    assert r("{{ 'a.b.c' | substringAfterLast('.') }}") == "c"
    assert r("{{ 'abc' | substringBefore('x') }}|{{ 'abc' | substringAfter('x') }}") == "abc|"
    assert v("{{ none | substringAfter('.') }}") is None
    assert "substringBefore: expects an argument 'separator'" in fails(
        "{{ 'a' | substringBefore }}"
    )


def test_slugify() -> None:
    # SlugifyFilterTest: "Test\t\t\ntest*" -> "test-test"; accents are dropped (NFD)
    assert r('{{ "Test\t\t\ntest*" | slugify }}') == "test-test"
    assert r("{{ '  Crème Brûlée_2 ' | slugify }}") == "creme-brulee-2"


def test_starts_and_ends_with() -> None:
    # StartsWithFilterTest / EndsWithFilterTest, with Kestra's argument name "value"
    assert v("{{ 'kestra.io' | startsWith('kestra') }}") is True
    assert v("{{ 'kestra.io' | endsWith(value='.io') }}") is True
    assert v("{{ 'kestra.io' | endsWith('.com') }}") is False


def test_escape_char() -> None:
    # EscapeCharFilterTest
    assert r("{{ \"Can't\" | escapeChar('single') }}") == "Can\\'t"
    assert r("{{ 'say \"hi\"' | escapeChar('double') }}") == 'say \\"hi\\"'
    assert r("{{ \"Can't\" | escapeChar(type='shell') }}") == "Can'\\''t"
    assert "'type' must be either 'single', 'double', or 'shell'" in fails(
        "{{ 'a' | escapeChar('xml') }}"
    )


def test_default() -> None:
    # Pebble DefaultFilter with EmptyTest: null, blank strings, empty lists and maps
    assert r("{{ none | default('d') }}") == "d"
    assert r("{{ '  ' | default('d') }}") == "d"
    assert r("{{ [] | default('d') }} {{ {} | default('d') }}") == "d d"
    assert r("{{ missing | default('d') }}") == "d"
    assert r("{{ 0 | default('d') }} {{ 'x' | default('d') }}") == "0 x"


# --------------------------------------------------------------------------- numbers


def test_number() -> None:
    # NumberFilterTest (Float / Integer / Long / BigDecimal ... become ints and floats here)
    assert v("{{ '12.3' | number }}") == 12.3
    assert v("{{ '2147483647' | number }}") == 2147483647
    assert v("{{ '9223372036854775807' | number('BIGINTEGER') }}") == 9223372036854775807
    assert v("{{ '9223372036854775807' | number('DOUBLE') }}") == 9.223372036854776e18
    assert v("{{ '0x1A' | number }}") == 26
    assert v("{{ none | number }}") is None
    assert "number: 'abc' is not a number" in fails("{{ 'abc' | number }}")
    assert "does not fit in INT" in fails("{{ '9223372036854775807' | number('INT') }}")
    assert "number: expects a string, got number" in fails("{{ 12 | number }}")


def test_abs_and_number_format() -> None:
    # basic.md: -7 | abs -> 7; 12345.6789 | numberFormat("###,###.##") -> "12,345.68"
    # PebbleVariableRendererTest.numberFormat: numberFormat("#.##")
    assert r("{{ -7 | abs }}") == "7"
    assert r('{{ 12345.6789 | numberFormat("###,###.##") }}') == "12,345.68"
    assert r('{{ 3.14159 | numberFormat("#.##") }}') == "3.14"
    assert r('{{ 5 | numberFormat("000.00") }}') == "005.00"
    assert r('{{ 0.256 | numberFormat("#%") }}') == "26%"
    assert r("{{ 1234567.891 | numberFormat }}") == "1,234,567.891"
    assert r('{{ 2.5 | numberFormat("#") }} {{ 3.5 | numberFormat("#") }}') == "2 4"  # HALF_EVEN
    assert "numberFormat: expects a number, got string" in fails("{{ '1' | numberFormat }}")
    assert "abs: expects a number" in fails("{{ 'x' | abs }}")


# --------------------------------------------------------------------------- encodings


def test_hashes() -> None:
    # Md5FilterTest / Sha1FilterTest / Sha512FilterTest: hex of the UTF-8 bytes; not a string
    # is an error ("Need a string to hash")
    for name in ("md5", "sha1", "sha256", "sha512"):
        assert r("{{ 'hello' | " + name + " }}") == hashlib.new(name, b"hello").hexdigest()
    assert r("{{ 'hello' | md5 }}") == "5d41402abc4b2a76b9719d911017c592"
    assert "sha1: needs a string to hash, got number" in fails("{{ 5 | sha1 }}")


def test_base64_and_url() -> None:
    # basic.md: "hello" <-> "aGVsbG8="; Pebble UrlEncoderFilter is Java's URLEncoder
    assert r("{{ 'hello' | base64encode }}") == "aGVsbG8="
    assert r("{{ 'aGVsbG8=' | base64decode }}") == "hello"
    assert r("{{ 'a b&c=é' | urlencode }}") == "a+b%26c%3D%C3%A9"
    assert r("{{ '~a*b_c.d-e' | urlencode }}") == "%7Ea*b_c.d-e"
    assert r("{{ 'a+b%26c' | urldecode }}") == "a b&c"  # UrlDecodeFilter test
    assert "base64decode: the input is not valid Base64" in fails("{{ '%%%' | base64decode }}")


# --------------------------------------------------------------------------- common rules


@pytest.mark.parametrize(
    "filter_",
    ["upper", "trim", "sha256", "keys", "flatten", "jq('.')", "yaml", "number", "split(',')"],
)
def test_undefined_input_names_the_variable(filter_: str) -> None:
    assert "'nope' is not defined" in fails("{{ nope | " + filter_ + " }}")


def test_wrong_arguments_are_a_template_error() -> None:
    assert "chunk: wrong arguments" in fails("{{ [1] | chunk(1, 2, 3) }}")
    assert "trim: expects a string, got list" in fails("{{ [1] | trim }}")
