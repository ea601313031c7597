"""Flow inputs: definitions checked with useful paths, values coerced from CLI strings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from executor.errors import InputValidationError
from executor.inputs import InputDef, InputType, coerce_value, input_def_problems, resolve_inputs


def defn(type_: str, **kw: Any) -> InputDef:
    return InputDef.model_validate({"id": "x", "type": type_, **kw})


def resolve_one(type_: str, value: Any, **kw: Any) -> Any:
    return resolve_inputs([defn(type_, **kw)], {"x": value}, seal=False)["x"]  # coercion only


def problems_of(type_: str, value: Any, **kw: Any) -> list[str]:
    with pytest.raises(InputValidationError) as exc:
        resolve_inputs([defn(type_, **kw)], {"x": value})
    assert all(p.path == "inputs.x" for p in exc.value.problems)
    return [p.message for p in exc.value.problems]


# --------------------------------------------------------------------------- coercion OK


@pytest.mark.parametrize(
    ("type_", "given", "expected", "extra"),
    [
        ("STRING", "hello", "hello", {}),
        ("STRING", 42, "42", {}),
        ("STRING", "AB-12", "AB-12", {"validator": r"[A-Z]+-\d+"}),
        ("INT", "42", 42, {}),
        ("INT", " -7 ", -7, {}),
        ("INT", 5, 5, {"min": 1, "max": 10}),
        ("FLOAT", "4.5", 4.5, {}),
        ("FLOAT", 3, 3.0, {}),
        ("FLOAT", "1e3", 1000.0, {"max": 1000}),
        ("BOOLEAN", "true", True, {}),
        ("BOOLEAN", "FALSE", False, {}),
        ("BOOLEAN", "Yes", True, {}),
        ("BOOLEAN", "no", False, {}),
        ("BOOLEAN", "1", True, {}),
        ("BOOLEAN", "0", False, {}),
        ("BOOLEAN", True, True, {}),
        ("DATETIME", "2024-01-31T12:00:00Z", "2024-01-31T12:00:00Z", {}),
        ("DATETIME", "2024-01-31T12:00:00", "2024-01-31T12:00:00Z", {}),
        ("DATETIME", "2024-01-31T12:00:00+02:00", "2024-01-31T12:00:00+02:00", {}),
        ("DATETIME", datetime(2024, 1, 31, tzinfo=UTC), "2024-01-31T00:00:00Z", {}),
        (
            "DATETIME",
            "2024-06-01T00:00:00Z",
            "2024-06-01T00:00:00Z",
            {"after": "2024-01-01T00:00:00Z", "before": "2025-01-01T00:00:00Z"},
        ),
        ("DATE", "2024-02-29", "2024-02-29", {}),
        ("DATE", date(2024, 3, 1), "2024-03-01", {}),
        ("TIME", "13:45", "13:45:00", {}),
        ("TIME", time(8, 5, 30), "08:05:30", {}),
        ("DURATION", "PT5M", "PT5M", {}),
        ("DURATION", "pt1h30m", "PT1H30M", {}),
        ("DURATION", "P1D", "PT24H", {}),
        ("DURATION", "PT1.5S", "PT1.5S", {}),
        ("DURATION", "PT90S", "PT1M30S", {}),
        ("DURATION", timedelta(minutes=2), "PT2M", {}),
        ("JSON", '{"a": [1, 2]}', {"a": [1, 2]}, {}),
        ("JSON", {"already": "parsed"}, {"already": "parsed"}, {}),
        ("JSON", "[1, null]", [1, None], {}),
        ("ARRAY", '["a", "b"]', ["a", "b"], {}),
        ("ARRAY", ["1", "2"], [1, 2], {"itemType": "INT"}),
        ("ARRAY", "[1, 2]", [1, 2], {"itemType": "INT"}),
        ("ARRAY", ["PT1M"], ["PT1M"], {"itemType": "DURATION"}),
        ("SELECT", "dev", "dev", {"values": ["dev", "prod"]}),
        ("MULTISELECT", ["a", "c"], ["a", "c"], {"values": ["a", "b", "c"]}),
        ("MULTISELECT", "a,c", ["a", "c"], {"values": ["a", "b", "c"]}),
        ("MULTISELECT", '["b"]', ["b"], {"values": ["a", "b", "c"]}),
        ("URI", "https://example.com/a?b=c", "https://example.com/a?b=c", {}),
        ("URI", "s3://bucket/key", "s3://bucket/key", {}),
        ("EMAIL", "ada@example.com", "ada@example.com", {}),
        ("SECRET", "s3cr3t", "s3cr3t", {}),
    ],
)
def test_coercion_ok(type_: str, given: Any, expected: Any, extra: dict[str, Any]) -> None:
    value = resolve_one(type_, given, **extra)
    assert value == expected
    assert type(value) is type(expected)
    json.dumps(value)  # every resolved value is JSON-serializable


# --------------------------------------------------------------------------- coercion refused


@pytest.mark.parametrize(
    ("type_", "given", "expected_words", "extra"),
    [
        ("STRING", ["a"], ["expected a string", "['a']"], {}),
        ("STRING", "ab-12", ["does not match", "'ab-12'"], {"validator": r"[A-Z]+-\d+"}),
        ("INT", "4.2", ["expected an integer", "'4.2'"], {}),
        ("INT", "abc", ["expected an integer", "'abc'"], {}),
        ("INT", True, ["expected an integer", "True"], {}),
        ("INT", 1.5, ["expected an integer", "1.5"], {}),
        ("INT", "0", ["at least 1", "0"], {"min": 1}),
        ("INT", "11", ["at most 10", "11"], {"max": 10}),
        ("FLOAT", "x1", ["expected a number", "'x1'"], {}),
        ("FLOAT", "nan", ["expected a number"], {}),
        ("FLOAT", False, ["expected a number"], {}),
        ("BOOLEAN", "maybe", ["expected a boolean", "'maybe'"], {}),
        ("BOOLEAN", 2, ["expected a boolean", "2"], {}),
        ("DATETIME", "yesterday", ["ISO-8601 date-time", "'yesterday'"], {}),
        ("DATETIME", "2023-06-01T00:00:00Z", ["after 2024-01-01"], {"after": "2024-01-01T00:00Z"}),
        ("DATETIME", "2026-06-01T00:00:00Z", ["before 2025-01-01"], {"before": "2025-01-01"}),
        ("DATE", "2024-02-30", ["ISO-8601 date", "'2024-02-30'"], {}),
        ("DATE", "31/01/2024", ["ISO-8601 date"], {}),
        ("TIME", "25:00", ["ISO-8601 time", "'25:00'"], {}),
        ("DURATION", "5 minutes", ["ISO-8601 duration", "'5 minutes'"], {}),
        ("DURATION", "P", ["ISO-8601 duration"], {}),
        ("DURATION", "PT", ["ISO-8601 duration"], {}),
        ("DURATION", "P1M", ["ISO-8601 duration"], {}),
        ("DURATION", 300, ["ISO-8601 duration", "300"], {}),
        ("JSON", "{not json", ["expected JSON", "'{not json'"], {}),
        ("JSON", {1, 2}, ["expected a JSON value"], {}),
        ("ARRAY", "a,b", ["expected a list", "'a,b'"], {}),
        ("ARRAY", '{"a": 1}', ["expected a list"], {}),
        ("ARRAY", ["1", "x"], ["item 1", "expected an integer", "'x'"], {"itemType": "INT"}),
        ("SELECT", "staging", ["one of 'dev', 'prod'", "'staging'"], {"values": ["dev", "prod"]}),
        ("MULTISELECT", ["a", "z"], ["among 'a', 'b'", "'z'"], {"values": ["a", "b"]}),
        ("MULTISELECT", 5, ["expected a list of choices", "5"], {"values": ["a", "b"]}),
        ("URI", "example.com", ["URI with a scheme", "'example.com'"], {}),
        ("URI", "https://exa mple.com", ["URI with a scheme"], {}),
        ("EMAIL", "ada.example.com", ["email address", "'ada.example.com'"], {}),
        ("EMAIL", "ada@localhost", ["email address"], {}),
        ("SECRET", {"pw": 12.5}, ["expected a string", "hidden dict"], {}),
    ],
)
def test_coercion_refused(
    type_: str, given: Any, expected_words: list[str], extra: dict[str, Any]
) -> None:
    [message] = problems_of(type_, given, **extra)
    assert message.startswith(f"invalid {type_} value: ")
    for word in expected_words:
        assert word in message


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("given", "extra"),
    [
        ("hunter2-wrong", {"validator": "^[0-9]+$"}),
        (["hunter2-wrong"], {}),
        ({"pw": 98765.4321}, {}),
    ],
)
def test_secret_value_is_never_echoed(given: Any, extra: dict[str, Any]) -> None:
    with pytest.raises(InputValidationError) as exc:
        resolve_inputs([defn("SECRET", **extra)], {"x": given})
    text = str(exc.value) + " ".join(p.message for p in exc.value.problems)
    assert "hunter2" not in text
    assert "98765" not in text
    assert "inputs.x" in text


def test_secret_items_of_an_array_are_not_echoed() -> None:
    with pytest.raises(InputValidationError) as exc:
        resolve_inputs([defn("ARRAY", itemType="SECRET")], {"x": ["ok", {"pw": "hunter2"}]})
    assert "hunter2" not in str(exc.value)
    assert "item 1" in str(exc.value)


def test_secret_json_input_error_does_not_echo() -> None:
    d = defn("SECRET")
    with pytest.raises(ValueError, match="hidden") as exc:
        coerce_value(d, ["hunter2"])
    assert "hunter2" not in str(exc.value)


# --------------------------------------------------------------------------- defaults, missing


def test_defaults_required_and_optional() -> None:
    defs = [
        defn("INT", defaults=5),
        InputDef(id="when", type=InputType.DURATION, defaults="P1D"),
        InputDef(id="opt", type=InputType.STRING, required=False),
        InputDef(id="given", type=InputType.BOOLEAN),
    ]
    assert resolve_inputs(defs, {"given": "yes"}) == {
        "x": 5,
        "when": "PT24H",
        "opt": None,
        "given": True,
    }
    assert resolve_inputs(defs, {"x": "7", "given": False, "opt": None})["x"] == 7


def test_required_missing() -> None:
    with pytest.raises(InputValidationError) as exc:
        resolve_inputs([defn("INT")], None)
    [problem] = exc.value.problems
    assert problem.path == "inputs.x"
    assert "required input missing" in problem.message


def test_given_none_counts_as_missing() -> None:
    with pytest.raises(InputValidationError, match="required input missing"):
        resolve_inputs([defn("STRING")], {"x": None})


def test_unknown_input() -> None:
    with pytest.raises(InputValidationError) as exc:
        resolve_inputs([defn("STRING", required=False)], {"typo": "v"})
    [problem] = exc.value.problems
    assert problem.path == "inputs.typo"
    assert "unknown input" in problem.message
    assert "x" in problem.message  # says what is declared


def test_every_problem_is_reported_together() -> None:
    defs = [
        InputDef(id="n", type=InputType.INT),
        InputDef(id="when", type=InputType.DATETIME),
        InputDef(id="needed", type=InputType.STRING),
        InputDef(id="env", type=InputType.SELECT, values=["dev", "prod"]),
        InputDef(id="fine", type=InputType.FLOAT),
    ]
    given = {"n": "four", "when": "soon", "env": "qa", "fine": "1.5", "extra": 1}
    with pytest.raises(InputValidationError) as exc:
        resolve_inputs(defs, given)
    paths = [p.path for p in exc.value.problems]
    assert paths == ["inputs.n", "inputs.when", "inputs.needed", "inputs.env", "inputs.extra"]
    assert "5 problems" in str(exc.value)


# --------------------------------------------------------------------------- definitions


def test_input_type_accepts_lower_case() -> None:
    assert defn("int").type is InputType.INT
    assert InputDef.model_validate({"id": "a", "type": "ARRAY"}).item_type is None


def test_camel_case_aliases() -> None:
    d = InputDef.model_validate(
        {"id": "a.b-c_1", "type": "ARRAY", "itemType": "INT", "displayName": "A"}
    )
    assert d.item_type is InputType.INT
    assert d.display_name == "A"
    assert d.model_dump(by_alias=True, exclude_none=True)["itemType"] == "INT"


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ({"id": "e", "type": "SELECT"}, "inputs[0].values", "values is required"),
        ({"id": "e", "type": "MULTISELECT", "values": []}, "inputs[0].values", "required"),
        ({"id": "e", "type": "SELECT", "values": ["a", "a"]}, "inputs[0].values", "duplicate"),
        ({"id": "e", "type": "STRING", "values": ["a"]}, "inputs[0].values", "only applies"),
        ({"id": "e", "type": "STRING", "validator": "[a-"}, "inputs[0].validator", "regular"),
        ({"id": "e", "type": "INT", "validator": "a"}, "inputs[0].validator", "only applies"),
        (
            {"id": "e", "type": "INT", "defaults": "abc"},
            "inputs[0].defaults",
            "expected an integer",
        ),
        (
            {"id": "e", "type": "SELECT", "values": ["a"], "defaults": "b"},
            "inputs[0].defaults",
            "one of 'a'",
        ),
        ({"id": "e", "type": "INT", "min": 5, "max": 1}, "inputs[0].min", "greater than max"),
        ({"id": "e", "type": "STRING", "min": 5}, "inputs[0].min", "only applies"),
        ({"id": "e", "type": "STRING", "itemType": "INT"}, "inputs[0].itemType", "ARRAY"),
        ({"id": "e", "type": "ARRAY", "itemType": "SELECT"}, "inputs[0].itemType", "not supp"),
        ({"id": "e", "type": "NUMBER"}, "inputs[0].type", "STRING"),
        ({"id": "-bad", "type": "STRING"}, "inputs[0].id", "pattern"),
        ({"type": "STRING"}, "inputs[0].id", "required"),
        ({"id": "e", "type": "STRING", "colour": "red"}, "inputs[0].colour", "unknown property"),
        ({"id": "e", "type": "STRING", "after": "2024-01-01"}, "inputs[0].after", "DATETIME"),
    ],
)
def test_input_def_problems_paths(raw: dict[str, Any], path: str, words: str) -> None:
    problems = input_def_problems([raw], "inputs")
    assert [p.path for p in problems] == [path], problems
    assert words in problems[0].message


def test_input_def_problems_all_items_and_duplicates() -> None:
    raw = [
        {"id": "a", "type": "STRING"},
        {"id": "b", "type": "SELECT"},
        "not a mapping",
        {"id": "a", "type": "INT", "defaults": "x"},
        {"id": "c", "type": "ARRAY", "itemType": "INT", "defaults": ["1", "2"]},
    ]
    problems = input_def_problems(raw, "inputs")
    assert [p.path for p in problems] == [
        "inputs[1].values",
        "inputs[2]",
        "inputs[3].id",
        "inputs[3].defaults",
    ]
    assert "duplicate input id 'a'" in problems[2].message
    assert "inputs[0]" in problems[2].message


def test_input_def_problems_not_a_list() -> None:
    assert input_def_problems(None, "inputs") == []
    [problem] = input_def_problems({"id": "a"}, "inputs")
    assert problem.path == "inputs"
    assert "list" in problem.message


def test_invalid_definition_raises_on_model_validate() -> None:
    with pytest.raises(ValueError, match="values is required"):
        InputDef(id="e", type=InputType.SELECT)
