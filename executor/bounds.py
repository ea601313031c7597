"""Bounds on what users send: how deep JSON and YAML may nest.

Python's ``json`` and PyYAML's composer recurse once per level, so a request body of
100,000 ``[`` (or an input nested 5,000 deep, or a flow source of 20,000 ``[``) would end
in a ``RecursionError`` somewhere: in the parser, or later when the value is dumped,
validated or rendered. Every entry point that reads JSON or YAML from a user (API bodies,
input values, KV values, labels, flow sources and flows built in Python) checks nesting
here first and refuses a deeper document with a clear error, before anything is stored.

- ``MAX_JSON_DEPTH`` (100): the deepest nesting of arrays and objects in a JSON document
  or value (``[]`` is 1 level, ``{"a": [1]}`` is 2);
- ``MAX_YAML_DEPTH`` (100): the same for a flow's YAML (sequences and mappings).

The checks are iterative (no recursion) and bounded in work (``MAX_NODES`` containers
at most: a Python value sharing one list in many places is not walked forever).
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The deepest nesting of arrays/objects in a JSON document or value.
MAX_JSON_DEPTH = 100
#: The deepest nesting of sequences/mappings in a flow's YAML (or a flow given as data).
MAX_YAML_DEPTH = 100
#: The most containers a depth check walks (a JSON text within the body limit has fewer).
MAX_NODES = 1_000_000


class TooDeep(ValueError):
    """A value nests deeper than its limit; ``path`` is where the limit was passed."""

    def __init__(self, limit: int, path: str = "") -> None:
        self.limit, self.path = limit, path
        where = f" (at {path})" if path else ""
        super().__init__(f"nested more than {limit} levels deep{where}")


class NotUnicode(ValueError):
    """A JSON document holds a string that is not valid Unicode: a lone surrogate written
    as a ``\\uD800``-style escape (valid JSON syntax, but no character: it cannot be
    stored, encoded as UTF-8 or answered)."""

    def __init__(self) -> None:
        super().__init__(
            "a string holds a lone surrogate escape (\\uD800-\\uDFFF), not a character"
        )


#: A ``\\uD800``..``\\uDFFF`` escape: only these can decode to a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _child_path(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH, path: str = "") -> None:
    """Raise ``TooDeep`` if ``value`` (dicts, lists and tuples) nests deeper than
    ``limit`` levels, or has more than ``MAX_NODES`` containers (cycles included)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, path)]
    seen = 0
    while stack:
        item, depth, where = stack.pop()
        children: Any
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list | tuple):
            children = enumerate(item)
        else:
            continue
        if depth > limit:
            raise TooDeep(limit, where)
        seen += 1
        if seen > MAX_NODES:
            raise TooDeep(limit, where)
        for key, child in children:
            if isinstance(child, dict | list | tuple):
                stack.append((child, depth + 1, _child_path(where, key)))


def loads(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``limit`` (``TooDeep``,
    a ``ValueError``) or holding a lone surrogate (``NotUnicode``, a ``ValueError``); any
    other invalid JSON raises ``json.JSONDecodeError`` as usual."""
    try:
        data = json.loads(text)
    except RecursionError:
        # The C scanner gives up past the interpreter's recursion limit (~1000 levels).
        raise TooDeep(limit) from None
    check_depth(data, limit)
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _SURROGATE_ESCAPE.search(raw):
        check_unicode(data)
    return data


def check_unicode(value: Any) -> None:
    """Raise ``NotUnicode`` if a string in ``value`` (keys of dicts included, through dicts,
    lists and tuples) holds a lone surrogate. Iterative, as ``check_depth``."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise NotUnicode() from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
