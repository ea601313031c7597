"""Flow outputs parsed as their type (Kestra's ``FlowInputOutput.parseType``)."""

from __future__ import annotations

from typing import Any

import pytest

from executor.engine.outputs import typed_output


@pytest.mark.parametrize(
    ("kind", "current", "value"),
    [
        ("STRING", '{"a":1}', '{"a":1}'),
        ("STRING", None, None),
        ("INT", "42", 42),
        ("INT", "-7", -7),
        ("INT", 5, 5),
        ("FLOAT", "1.5", 1.5),
        ("FLOAT", "2", 2.0),
        ("BOOLEAN", "true", True),
        ("BOOLEAN", "TRUE", True),
        ("BOOLEAN", "no", False),
        ("BOOLEAN", True, True),
        ("JSON", '{"a": [1]}', {"a": [1]}),
        ("JSON", "3", 3),
        ("YAML", "a: 1", {"a": 1}),
        ("ARRAY", '["x", 2]', ["x", 2]),
        ("ARRAY", ["x"], ["x"]),
        ("DATETIME", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("DATE", "2024-01-02", "2024-01-02"),
        ("TIME", "03:04:05", "03:04:05"),
        ("DURATION", "PT1H", "PT1H"),
        ("URI", "https://kestra.io", "https://kestra.io"),
        ("int", "1", 1),
    ],
)
def test_parsed(kind: str, current: Any, value: Any) -> None:
    assert typed_output("o", kind, current) == value


@pytest.mark.parametrize(
    ("kind", "current"),
    [
        ("INT", "4.2"),
        ("INT", "abc"),
        ("INT", "3000000000"),
        ("INT", True),
        ("FLOAT", "x"),
        ("JSON", "{nope"),
        ("ARRAY", '{"a": 1}'),
        ("DATETIME", "2024-01-02T03:04:05"),
        ("DATE", "tomorrow"),
        ("DURATION", "an hour"),
        ("URI", "no uri"),
    ],
)
def test_not_parsed_names_output_type_and_value(kind: str, current: Any) -> None:
    with pytest.raises(ValueError, match=f"output o: expected `{kind}` but received"):
        typed_output("o", kind, current)


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unsupported type 'FILE'"):
        typed_output("o", "FILE", "x")
