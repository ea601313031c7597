"""Flow outputs typed by their ``type``, as Kestra's ``FlowInputOutput.typedOutputs``.

When an execution ends, Kestra renders each output's ``value`` as text (a map or a list
prints as its JSON) and then parses that text as the output's type: a STRING output
keeps the text, an INT output is ``Integer.valueOf`` of it, a JSON output is the value
the text holds, and so on. A value that does not parse fails the execution, with null
outputs (``ExecutorService.onEnd``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from datetime import time as time_of_day
from typing import Any

import yaml
from pydantic import TypeAdapter

_INT = re.compile(r"[+-]?\d+")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:.+")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

#: The types an output may have (Kestra's ``Type``, without FILE and SECRET).
TYPES = frozenset(
    {
        "STRING",
        "SELECT",
        "ENUM",
        "EMAIL",
        "INT",
        "FLOAT",
        "BOOLEAN",
        "DATETIME",
        "DATE",
        "TIME",
        "DURATION",
        "JSON",
        "YAML",
        "URI",
        "ARRAY",
        "MULTISELECT",
    }
)


def typed_output(output_id: str, type_name: str, current: Any) -> Any:
    """The value of output ``output_id`` of type ``type_name`` from its rendered value
    ``current``; ``ValueError`` naming the output, the type and the value if it does not
    parse."""
    kind = type_name.upper()
    if kind not in TYPES:
        raise ValueError(f"output {output_id}: unsupported type {type_name!r}")
    try:
        return _parse(kind, current)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"output {output_id}: expected `{kind}` but received `{_text(current)}`: {exc}"
        ) from None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def _parse(kind: str, current: Any) -> Any:
    if current is None or kind in ("STRING", "SELECT", "ENUM", "EMAIL"):
        return current
    if kind == "INT":
        if isinstance(current, bool) or not isinstance(current, int | str):
            raise ValueError("not an integer")
        if isinstance(current, str) and not _INT.fullmatch(current):
            raise ValueError("not an integer")
        n = int(current)
        if not INT_MIN <= n <= INT_MAX:
            raise ValueError("out of the range of an INT")
        return n
    if kind == "FLOAT":
        if isinstance(current, bool):
            raise ValueError("not a number")
        return float(current if isinstance(current, int | float) else str(current).strip())
    if kind == "BOOLEAN":
        # Boolean.valueOf: "true" in any case is true, any other text false.
        return current if isinstance(current, bool) else str(current).lower() == "true"
    if kind == "DATETIME":
        text = str(current)
        if not re.search(r"(Z|[+-]\d\d:?\d\d)$", text):
            raise ValueError("an instant needs a time zone (e.g. 2024-01-01T00:00:00Z)")
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return text
    if kind == "DATE":
        return dt.date.fromisoformat(str(current)).isoformat()
    if kind == "TIME":
        time_of_day.fromisoformat(str(current))
        return str(current)
    if kind == "DURATION":
        TypeAdapter(dt.timedelta).validate_python(str(current))
        return str(current)
    if kind == "JSON":
        return json.loads(current) if isinstance(current, str) else current
    if kind == "YAML":
        return yaml.safe_load(current) if isinstance(current, str) else current
    if kind == "URI":
        if not _URI.match(str(current)):
            raise ValueError("not a URI")
        return current
    # ARRAY, MULTISELECT
    value = json.loads(current) if isinstance(current, str) else current
    if not isinstance(value, list):
        raise ValueError("not a list")
    return value
