"""Kestra's filters (and the Pebble core filters Kestra keeps), by Kestra's names.

Each filter follows its Kestra or Pebble source: ``null`` in gives ``null`` out (except
``length``, ``toJson``, ``yaml`` and ``toIon``, which print ``0`` or ``"null"``, and
``default``), wrong input types are a :class:`~executor.errors.TemplateError` naming the
filter, and anything that can grow its input is bounded by the renderer's ``MAX_OUTPUT``.

Where Jinja2 has a filter of the same name with other arguments (``replace``, ``slice``,
``sort``...), Kestra's meaning wins; Jinja's ``replace(old, new)`` form still works.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, TypeVar

import yaml
from jinja2.runtime import Undefined
from regex import error as regex_error

from executor.errors import TemplateError
from executor.pebble.isolated import jq_results, regex_compile, regex_match, regex_split, regex_sub
from executor.pebble.registry import pebble_filter

__all__: list[str] = []

F = TypeVar("F", bound=Callable[..., Any])


def _max_output() -> int:
    from executor.templating import MAX_OUTPUT

    return MAX_OUTPUT


def _bounded(name: str, value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > _max_output():
        raise TemplateError(f"{name}: result too large (limit {_max_output()} characters)")
    return value


def _defined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _filter(*names: str) -> Callable[[F], F]:
    """Register a filter: an undefined input raises its undefined error, the result is
    size-checked, and any unexpected Python error becomes a TemplateError naming it."""

    def deco(fn: F) -> F:
        name = names[0]

        @functools.wraps(fn)
        def wrapper(subject: Any, /, *args: Any, **kwargs: Any) -> Any:
            if name != "default":
                _defined(subject)
            for a in (*args, *kwargs.values()):
                _defined(a)
            try:
                return _bounded(name, fn(subject, *args, **kwargs))
            except TemplateError:
                raise
            except TypeError as e:
                raise TemplateError(f"{name}: wrong arguments: {e}") from None
            except (ValueError, KeyError, IndexError, AttributeError) as e:
                raise TemplateError(f"{name}: {e}") from None

        pebble_filter(*names)(wrapper)
        return fn

    return deco


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def _plain(value: Any) -> Any:
    from executor.templating import _plain as plain

    return plain(value)


def _text(value: Any) -> str:
    """``value`` as Pebble prints it inside a string (``toString``)."""
    from executor.templating import to_text

    return to_text(value)


def _str_input(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"{name}: expects a string, got {_type(value)}")
    return value


def _int_arg(name: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateError(f"{name}: argument {arg!r} must be an integer, got {_type(value)}")
    return value


def _str_arg(name: str, arg: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"{name}: argument {arg!r} must be a string, got {_type(value)}")
    return value


def _seq(name: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise TemplateError(f"{name}: expects a list, got {_type(value)}")


# --------------------------------------------------------------------------- serializing


def to_json(value: Any) -> str:
    """Compact JSON, as Jackson writes it (``null`` for null): the renderer's own printer."""
    from executor.templating import _to_json as renderer_json

    return renderer_json(value)


@_filter("toJson", "json")
def _to_json(value: Any) -> str:
    """``{{ x | toJson }}`` (``json`` is Kestra's deprecated name for it)."""
    return to_json(value)


_ION_SYMBOL = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ION_RESERVED = frozenset({"null", "true", "false", "nan"})


def _ion_float(f: float) -> str:
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "+inf" if f > 0 else "-inf"
    r = repr(f)
    mantissa, _, exp = r.partition("e")
    return f"{mantissa}e{int(exp) if exp else 0}"


def _ion(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _ion_float(value)
    if isinstance(value, Decimal):
        return f"{value}d0" if "." not in str(value) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        parts = []
        for k, v in value.items():
            key = str(k)
            if not _ION_SYMBOL.fullmatch(key) or key in _ION_RESERVED:
                key = "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"
            parts.append(f"{key}:{_ion(v)}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_ion(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


@_filter("toIon")
def _to_ion(value: Any) -> str:
    """``{{ x | toIon }}``: Amazon Ion text (structs with symbol keys, floats as ``1.5e0``)."""
    return _ion(_plain(value))


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    s = str(value)
    if "\n" in s:
        return json.dumps(s, ensure_ascii=False)
    dumped = yaml.safe_dump(s, allow_unicode=True, width=math.inf).rstrip("\n")
    dumped = dumped.removesuffix("\n...").rstrip("\n")
    if dumped.startswith(("'", '"')):
        return json.dumps(s, ensure_ascii=False)  # minimal quotes, the way Jackson quotes: "..."
    return dumped


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        lines = []
        for k, v in value.items():
            key = _yaml_scalar(str(k))
            if isinstance(v, Mapping) and v:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml_lines(v, indent + 2))
            elif isinstance(v, list | tuple) and v:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml_lines(v, indent))
            else:
                lines.append(f"{pad}{key}: {_yaml_lines(v, 0)[0]}")
        return lines
    if isinstance(value, list | tuple):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            # INDENT_ARRAYS: " - item", the item's own lines aligned after the dash
            sub = _yaml_lines(item, indent + 3)
            lines.append(f"{pad} - {sub[0].lstrip()}")
            lines.extend(sub[1:])
        return lines
    return [pad + _yaml_scalar(value)]


@_filter("yaml")
def _to_yaml(value: Any) -> str:
    """``{{ x | yaml }}``: YAML as Kestra's Jackson writer prints it (no ``---``, arrays
    indented by one space, minimal quotes), ending with a newline; ``null`` for null."""
    if value is None:
        return "null"
    return "\n".join(_yaml_lines(_plain(value), 0)) + "\n"


# --------------------------------------------------------------------------- jq


@_filter("jq")
def _jq(value: Any, expression: Any = None) -> list[Any] | None:
    """``{{ x | jq('.a[]') }}``: every result of the jq program, as a list (Kestra's JqFilter);
    a string input is read as JSON first."""
    if value is None:
        return None
    if expression is None:
        raise TemplateError("jq: expects an argument 'expression'")
    program = _str_arg("jq", "expression", expression)
    import jq as jqlib

    try:
        compiled = jqlib.compile(program)
    except ValueError as e:
        raise TemplateError(f"jq: invalid expression {program!r}: {e}") from None
    try:
        data = json.loads(value) if isinstance(value, str) else json.loads(to_json(value))
    except ValueError as e:
        raise TemplateError(f"jq: the input is not valid JSON: {e}") from None
    try:
        # In a child process: a jq program cannot be interrupted (executor.pebble.isolated).
        return jq_results(compiled, data)
    except ValueError as e:
        raise TemplateError(f"jq: cannot apply {program!r}: {e}") from None


# --------------------------------------------------------------------------- collections


@_filter("first")
def _first(value: Any) -> Any:
    """The first item of a list, the first character of a string (null when empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:1] or None
    if isinstance(value, Mapping):
        raise TemplateError("first: expects a list or a string, got map")
    if isinstance(value, Iterable):
        return next(iter(value), None)
    raise TemplateError(f"first: expects a list or a string, got {_type(value)}")


@_filter("last")
def _last(value: Any) -> Any:
    """The last item of a list, the last character of a string (null when empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[-1:] or None
    if isinstance(value, Mapping):
        raise TemplateError("last: expects a list or a string, got map")
    if isinstance(value, Iterable):
        items = list(value)
        return items[-1] if items else None
    raise TemplateError(f"last: expects a list or a string, got {_type(value)}")


@_filter("length")
def _length(value: Any) -> int:
    """Characters of a string, items of a list or map; 0 for null (Pebble's LengthFilter)."""
    if value is None:
        return 0
    if isinstance(value, str | Mapping | list | tuple):
        return len(value)
    if isinstance(value, Iterable):
        return sum(1 for _ in value)
    return 0


@_filter("flatten")
def _flatten(value: Any) -> list[Any] | None:
    """One level of nested lists spread into the list (Kestra's FlattenFilter)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise TemplateError("flatten: can only be applied to lists")
    out: list[Any] = []
    for item in value:
        if isinstance(item, list | tuple):
            out.extend(item)
        else:
            out.append(item)
    return out


@_filter("keys")
def _keys(value: Any) -> list[Any] | None:
    """The keys of a map, or the indexes of a list (Kestra's KeysFilter)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, list | tuple):
        return list(range(len(value)))
    raise TemplateError(f"keys: can only be applied to a list or a map, got {_type(value)}")


@_filter("values")
def _values(value: Any) -> list[Any] | None:
    """The values of a map (Kestra's ValuesFilter)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.values())
    raise TemplateError(f"values: can only be applied to a map, got {_type(value)}")


@_filter("chunk")
def _chunk(value: Any, size: Any = None) -> list[list[Any]] | None:
    """The list cut in lists of ``size`` items (the last may be shorter)."""
    if value is None:
        return None
    if size is None:
        raise TemplateError("chunk: expects an argument 'size'")
    n = _int_arg("chunk", "size", size)
    if n <= 0:
        raise TemplateError("chunk: 'size' must be greater than 0")
    items = _seq("chunk", value)
    return [items[i : i + n] for i in range(0, len(items), n)]


def _key(x: Any) -> Any:
    return json.dumps(_plain(x), sort_keys=True, default=str)


@_filter("distinct", "unique")
def _distinct(value: Any) -> list[Any] | None:
    """The list without repeated items, in first-seen order."""
    if value is None:
        return None
    seen: set[str] = set()
    out = []
    for item in _seq("distinct", value):
        k = _key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _sorted(name: str, value: Any, reverse: bool) -> list[Any] | None:
    if value is None:
        return None
    items = _seq(name, value)
    try:
        return sorted(items, reverse=reverse)
    except TypeError:
        kinds = sorted({_type(i) for i in items})
        raise TemplateError(f"{name}: cannot compare items of types {', '.join(kinds)}") from None


@_filter("sort")
def _sort(value: Any) -> list[Any] | None:
    """The list in ascending order (Pebble's SortFilter)."""
    return _sorted("sort", value, False)


@_filter("rsort")
def _rsort(value: Any) -> list[Any] | None:
    """The list in descending order (Pebble's RsortFilter)."""
    return _sorted("rsort", value, True)


@_filter("reverse")
def _reverse(value: Any) -> Any:
    """The list (or string) in reverse order."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(_seq("reverse", value)))


@_filter("slice")
def _slice(value: Any, fromIndex: Any = None, toIndex: Any = None) -> Any:
    """``slice(from, to)``: a sub-list or substring, ``to`` excluded (Pebble's SliceFilter)."""
    if value is None:
        return None
    start = 0 if fromIndex is None else _int_arg("slice", "fromIndex", fromIndex)
    if start < 0:
        raise TemplateError("slice: fromIndex must be 0 or more")
    if not isinstance(value, str | list | tuple):
        raise TemplateError(f"slice: can only be applied to a string or a list, got {_type(value)}")
    end = len(value)
    if toIndex is not None:
        end = _int_arg("slice", "toIndex", toIndex)
        if end > len(value):
            raise TemplateError(f"slice: toIndex must be at most the input size ({len(value)})")
        if start >= end:
            raise TemplateError("slice: toIndex must be greater than fromIndex")
    result = value[start:end]
    return list(result) if isinstance(result, tuple) else result


@_filter("join")
def _join(value: Any, separator: Any = None, attribute: Any = None) -> str | None:
    """The items printed and glued with ``separator`` (Pebble's JoinFilter)."""
    if value is None:
        return None
    if isinstance(value, str | Mapping) or not isinstance(value, Iterable):
        raise TemplateError(f"join: expects a list, got {_type(value)}")
    glue = "" if separator is None else _str_arg("join", "separator", separator)
    items = list(value)
    if attribute is not None:
        items = [i[attribute] if isinstance(i, Mapping) else getattr(i, attribute) for i in items]
    parts = [_text(i) for i in items]
    total = sum(len(p) for p in parts) + len(glue) * max(len(parts) - 1, 0)
    if total > _max_output():
        raise TemplateError(f"join: result too large (limit {_max_output()} characters)")
    return glue.join(parts)


# --------------------------------------------------------------------------- strings


def _java_split(text: str, regex: str, limit: int) -> list[str]:
    """``String.split(regex, limit)`` of Java (trailing empty strings dropped if limit is 0)."""
    if len(regex) == 1 and regex not in ".$|()[{^?*+\\":
        parts = text.split(regex) if limit <= 0 else text.split(regex, limit - 1)
    else:
        try:
            pattern = regex_compile(regex)
        except regex_error as e:
            raise TemplateError(f"split: invalid delimiter regex {regex!r}: {e}") from None
        parts = regex_split(pattern, text, 0 if limit <= 0 else limit - 1)
        # Java keeps no leading empty string for a zero-width match at the start
        if parts and parts[0] == "" and text and (m := regex_match(pattern, text)) and m.end() == 0:
            parts = parts[1:]
    if limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
        if not parts and text == "":
            parts = [""]
    return parts


@_filter("split")
def _split(value: Any, delimiter: Any = None, limit: Any = None) -> list[str] | None:
    """``split(delimiter, limit)``: Java's ``String.split`` (the delimiter is a regex)."""
    if value is None:
        return None
    if delimiter is None:
        raise TemplateError("split: expects an argument 'delimiter'")
    text = _str_input("split", value)
    sep = _str_arg("split", "delimiter", delimiter)
    n = 0 if limit is None else _int_arg("split", "limit", limit)
    return _java_split(text, sep, n)


def _java_replacement(repl: str) -> str:
    """A Java ``replaceAll`` replacement (``$1``, ``\\$``) as a Python ``re`` one."""
    out, i = [], 0
    while i < len(repl):
        c = repl[i]
        if c == "\\" and i + 1 < len(repl):
            out.append(repl[i + 1].replace("\\", "\\\\"))
            i += 2
        elif c == "$" and i + 1 < len(repl) and repl[i + 1] == "{":
            end = repl.index("}", i)
            out.append(f"\\g<{repl[i + 2 : end]}>")
            i = end + 1
        elif c == "$" and i + 1 < len(repl) and repl[i + 1].isdigit():
            j = i + 1
            while j < len(repl) and repl[j].isdigit():
                j += 1
            out.append(f"\\g<{repl[i + 1 : j]}>")
            i = j
        else:
            out.append(c.replace("\\", "\\\\"))
            i += 1
    return "".join(out)


def _replace_str(text: str, pairs: Mapping[Any, Any], regexp: bool) -> str:
    limit = _max_output()
    for old, new in pairs.items():
        o, n = _text(old), _text(new)
        if regexp:
            try:
                pattern = regex_compile(o)
                text = regex_sub(pattern, _java_replacement(n), text)
            except (regex_error, IndexError) as e:
                raise TemplateError(f"replace: invalid regexp {o!r}: {e}") from None
        else:
            hits = text.count(o) if o else len(text) + 1
            if len(text) + hits * len(n) > limit:
                raise TemplateError(f"replace: result too large (limit {limit} characters)")
            text = text.replace(o, n)
        if len(text) > limit:
            raise TemplateError(f"replace: result too large (limit {limit} characters)")
    return text


def _replace_any(value: Any, pairs: Mapping[Any, Any], regexp: bool) -> Any:
    if isinstance(value, Mapping):
        return {k: _replace_any(v, pairs, regexp) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_any(v, pairs, regexp) for v in value]
    return _replace_str(_text(value), pairs, regexp)


@_filter("replace")
def _replace(value: Any, replace_pairs: Any = None, regexp: Any = False, count: Any = None) -> Any:
    """``replace({'old': 'new'}, regexp=false)`` (Kestra's ReplaceFilter: strings inside maps
    and lists too); Jinja's ``replace('old', 'new')`` is accepted as well."""
    if value is None:
        return None
    if isinstance(replace_pairs, str):  # Jinja's replace(old, new[, count])
        if not isinstance(regexp, str):
            raise TemplateError("replace: expects a map of replacements, or (old, new)")
        if count is not None:
            n = _int_arg("replace", "count", count)
            text = _text(value)
            o = replace_pairs
            hits = min(text.count(o) if o else len(text) + 1, max(n, 0))
            if len(text) + hits * len(regexp) > _max_output():
                raise TemplateError(f"replace: result too large (limit {_max_output()} characters)")
            return text.replace(o, regexp, n)
        return _replace_any(value, {replace_pairs: regexp}, False)
    if replace_pairs is None:
        raise TemplateError("replace: the argument 'replace_pairs' is required")
    if not isinstance(replace_pairs, Mapping):
        raise TemplateError(f"replace: 'replace_pairs' must be a map, got {_type(replace_pairs)}")
    if not isinstance(regexp, bool):
        raise TemplateError(f"replace: 'regexp' must be a boolean, got {_type(regexp)}")
    return _replace_any(value, replace_pairs, regexp)


@_filter("abbreviate")
def _abbreviate(value: Any, length: Any = None) -> str | None:
    """The string cut to ``length`` characters, ending with ``...`` (Pebble's AbbreviateFilter)."""
    if value is None:
        return None
    text = _str_input("abbreviate", value)
    width = _int_arg("abbreviate", "length", length)
    if width < 0:
        raise TemplateError("abbreviate: length must be 0 or more")
    if len(text) < width or len(text) <= 3:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


@_filter("capitalize")
def _capitalize(value: Any) -> str | None:
    """The first letter in upper case, the rest unchanged (Pebble's CapitalizeFilter)."""
    if value is None:
        return None
    text = _str_input("capitalize", value)
    return text[:1].upper() + text[1:]


@_filter("title")
def _title(value: Any) -> str | None:
    """The first letter of each word in upper case, the rest unchanged (Pebble's TitleFilter)."""
    if value is None:
        return None
    text = _str_input("title", value)
    out, up = [], True
    for c in text:
        if c.isspace():
            up = True
        elif up:
            c, up = c.upper(), False
        out.append(c)
    return "".join(out)


@_filter("upper")
def _upper(value: Any) -> str | None:
    """The string in upper case."""
    return None if value is None else _text(value).upper()


@_filter("lower")
def _lower(value: Any) -> str | None:
    """The string in lower case."""
    return None if value is None else _text(value).lower()


@_filter("trim")
def _trim(value: Any) -> str | None:
    """The string without leading and trailing whitespace."""
    return None if value is None else _str_input("trim", value).strip()


def _substring(name: str, value: Any, separator: Any, last: bool, after: bool) -> str | None:
    if value is None:
        return None
    if separator is None:
        raise TemplateError(f"{name}: expects an argument 'separator'")
    text = _text(value)
    sep = _str_arg(name, "separator", separator)
    # Apache StringUtils: a missing separator gives the whole string before, "" after
    if after:
        if not sep:
            return "" if last else text
        i = text.rfind(sep) if last else text.find(sep)
        return "" if i < 0 or (last and i == len(text) - len(sep)) else text[i + len(sep) :]
    if not sep:
        return text if last else ""
    i = text.rfind(sep) if last else text.find(sep)
    return text if i < 0 else text[:i]


@_filter("substringBefore")
def _substring_before(value: Any, separator: Any = None) -> str | None:
    """The part before the first ``separator`` (all of it if absent)."""
    return _substring("substringBefore", value, separator, last=False, after=False)


@_filter("substringBeforeLast")
def _substring_before_last(value: Any, separator: Any = None) -> str | None:
    """The part before the last ``separator`` (all of it if absent)."""
    return _substring("substringBeforeLast", value, separator, last=True, after=False)


@_filter("substringAfter")
def _substring_after(value: Any, separator: Any = None) -> str | None:
    """The part after the first ``separator`` (empty if absent)."""
    return _substring("substringAfter", value, separator, last=False, after=True)


@_filter("substringAfterLast")
def _substring_after_last(value: Any, separator: Any = None) -> str | None:
    """The part after the last ``separator`` (empty if absent)."""
    return _substring("substringAfterLast", value, separator, last=True, after=True)


@_filter("startsWith")
def _starts_with(subject: Any, /, value: Any = None) -> bool:
    """True if the printed value starts with ``value`` (Kestra's StartsWithFilter)."""
    if value is None:
        raise TemplateError("startsWith: expects an argument 'value'")
    return _text(subject).startswith(_text(value))


@_filter("endsWith")
def _ends_with(subject: Any, /, value: Any = None) -> bool:
    """True if the printed value ends with ``value`` (Kestra's EndsWithFilter)."""
    if value is None:
        raise TemplateError("endsWith: expects an argument 'value'")
    return _text(subject).endswith(_text(value))


_ESCAPES = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}


def _escape_any(value: Any, old: str, new: str) -> Any:
    if isinstance(value, Mapping):
        return {k: _escape_any(v, old, new) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape_any(v, old, new) for v in value]
    text = _text(value)
    if len(text) + text.count(old) * len(new) > _max_output():
        raise TemplateError(f"escapeChar: result too large (limit {_max_output()} characters)")
    return text.replace(old, new)


@_filter("escapeChar")
def _escape_char(value: Any, type: Any = None) -> Any:
    """Escape quotes for ``type`` ``single``, ``double`` or ``shell`` (EscapeCharFilter)."""
    if value is None:
        return None
    if type is None:
        raise TemplateError("escapeChar: expects an argument 'type'")
    kind = _ESCAPES.get(str(type).lower())
    if kind is None:
        raise TemplateError("escapeChar: 'type' must be either 'single', 'double', or 'shell'")
    return _escape_any(value, *kind)


@_filter("default")
def _default(value: Any, default: Any = None, boolean: Any = False) -> Any:
    """``default`` when the value is undefined, null, blank, or an empty list or map
    (Pebble's DefaultFilter and EmptyTest)."""
    if isinstance(value, Undefined) or value is None:
        return default
    if isinstance(value, str) and not value.strip():
        return default
    if isinstance(value, Mapping | list | tuple) and not value:
        return default
    return value


# --------------------------------------------------------------------------- numbers

_INT = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|#[0-9a-fA-F]+|\d+)[lL]?")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?")
_RANGES = {"INT": 2**31, "LONG": 2**63}


def _parse_int(text: str) -> int:
    t = text.rstrip("lL")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    if t[:2].lower() == "0x":
        return sign * int(t[2:], 16)
    if t.startswith("#"):
        return sign * int(t[1:], 16)
    if len(t) > 1 and t.startswith("0"):
        return sign * int(t, 8)
    return sign * int(t)


@_filter("number")
def _number(value: Any, type: Any = None) -> int | float | None:
    """The string read as a number (Kestra's NumberFilter, Apache ``NumberUtils``): an integer
    when it is one, else a float; ``type`` forces INT, LONG, FLOAT, DOUBLE, BIGDECIMAL or
    BIGINTEGER."""
    if value is None:
        return None
    text = _str_input("number", value).strip()
    kind = "" if type is None else str(type)
    if kind and kind not in ("INT", "LONG", "FLOAT", "DOUBLE", "BIGDECIMAL", "BIGINTEGER"):
        raise TemplateError(
            "number: type must be INT, LONG, FLOAT, DOUBLE, BIGDECIMAL or BIGINTEGER"
        )
    if _INT.fullmatch(text) and kind not in ("FLOAT", "DOUBLE"):
        n = _parse_int(text)
        if kind in _RANGES and not -_RANGES[kind] <= n < _RANGES[kind]:
            raise TemplateError(f"number: {text!r} does not fit in {kind}")
        return n
    if _FLOAT.fullmatch(text) and kind not in ("INT", "LONG", "BIGINTEGER"):
        return float(text.rstrip("fFdD"))
    raise TemplateError(f"number: {text!r} is not a number")


@_filter("abs")
def _abs(value: Any) -> Any:
    """The absolute value of a number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TemplateError(f"abs: expects a number, got {_type(value)}")
    return abs(value)


def _decimal_format(number: Decimal, pattern: str) -> str:
    """Java ``DecimalFormat`` for the common patterns: ``#,##0.00``, ``0.###``, ``#%``..."""
    positive = pattern.split(";", 1)[0]
    m = re.fullmatch(r"([^#0,.]*)([#0,]*)(?:\.([#0]*))?([^#0,.]*)", positive)
    if not m or not (m.group(2) or m.group(3)):
        raise TemplateError(f"numberFormat: unsupported format {pattern!r}")
    prefix, int_part, frac_part, suffix = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    for affix in (prefix, suffix):
        if "E" in affix or "'" in affix:
            raise TemplateError(f"numberFormat: unsupported format {pattern!r}")
    if "%" in prefix + suffix:
        number *= 100
    elif "\u2030" in prefix + suffix:
        number *= 1000
    digits = int_part.replace(",", "")
    min_int = digits.count("0")
    min_frac, max_frac = frac_part.count("0"), len(frac_part)
    grouping = len(int_part) - int_part.rfind(",") - 1 if "," in int_part else 0
    q = number.quantize(Decimal(1).scaleb(-max_frac), rounding=ROUND_HALF_EVEN)
    sign = "-" if q < 0 else ""
    whole, _, frac = f"{abs(q):f}".partition(".")
    frac = frac.ljust(max_frac, "0")[:max_frac]
    while len(frac) > min_frac and frac.endswith("0"):
        frac = frac[:-1]
    whole = whole.lstrip("0").rjust(min_int, "0")
    if not whole and not frac:
        whole = "0"
    if grouping:
        groups: list[str] = []
        while len(whole) > grouping:
            groups.insert(0, whole[-grouping:])
            whole = whole[:-grouping]
        whole = ",".join([whole, *groups]) if whole else ",".join(groups)
    if sign and not (whole.strip("0,") or frac.strip("0")):
        sign = "-"  # DecimalFormat prints -0 for negative numbers rounding to zero
    return f"{sign}{prefix}{whole}{'.' + frac if frac else ''}{suffix}"


@_filter("numberFormat")
def _number_format(value: Any, format: Any = None) -> str | None:
    """``{{ 12345.6789 | numberFormat('#,###.##') }}`` -> ``12,345.68`` (Java DecimalFormat,
    US symbols, half-even rounding)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TemplateError(f"numberFormat: expects a number, got {_type(value)}")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "NaN" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    pattern = "#,##0.###" if format is None else _str_arg("numberFormat", "format", format)
    if len(pattern) > 100:
        raise TemplateError("numberFormat: format too long")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise TemplateError(f"numberFormat: {value!r} is not a number") from None
    return _decimal_format(number, pattern)


# --------------------------------------------------------------------------- encodings


def _hash(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TemplateError(f"{name}: needs a string to hash, got {_type(value)}")
    return hashlib.new(name, value.encode()).hexdigest()


@_filter("sha1")
def _sha1(value: Any) -> str | None:
    """Hex SHA-1 of the string's UTF-8 bytes."""
    return _hash("sha1", value)


@_filter("sha256")
def _sha256(value: Any) -> str | None:
    """Hex SHA-256 of the string's UTF-8 bytes."""
    return _hash("sha256", value)


@_filter("sha512")
def _sha512(value: Any) -> str | None:
    """Hex SHA-512 of the string's UTF-8 bytes."""
    return _hash("sha512", value)


@_filter("md5")
def _md5(value: Any) -> str | None:
    """Hex MD5 of the string's UTF-8 bytes."""
    return _hash("md5", value)


@_filter("base64encode")
def _b64encode(value: Any) -> str | None:
    """Base64 of the string's UTF-8 bytes (Pebble's Base64EncoderFilter)."""
    if value is None:
        return None
    text = _str_input("base64encode", value)
    if len(text) * 4 // 3 + 4 > _max_output():
        raise TemplateError(f"base64encode: result too large (limit {_max_output()} characters)")
    return base64.b64encode(text.encode()).decode("ascii")


@_filter("base64decode")
def _b64decode(value: Any) -> str | None:
    """The UTF-8 text of a Base64 string (Pebble's Base64DecoderFilter)."""
    if value is None:
        return None
    text = _str_input("base64decode", value)
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise TemplateError("base64decode: the input is not valid Base64 of UTF-8 text") from None


@_filter("urlencode")
def _urlencode(value: Any) -> str | None:
    """``application/x-www-form-urlencoded`` (Java's URLEncoder: a space is ``+``)."""
    if value is None:
        return None
    text = _str_input("urlencode", value)
    if len(text) * 9 > _max_output():
        raise TemplateError(f"urlencode: input too large (limit {_max_output() // 9} characters)")
    return urllib.parse.quote_plus(text, safe="*").replace("~", "%7E")  # URLEncoder encodes ~


@_filter("urldecode")
def _urldecode(value: Any) -> str | None:
    """The inverse of ``urlencode`` (Java's URLDecoder: ``+`` is a space)."""
    if value is None:
        return None
    return urllib.parse.unquote_plus(_str_input("urldecode", value), errors="strict")


@_filter("slugify")
def _slugify(value: Any) -> str | None:
    """``"Hello World!" | slugify`` -> ``hello-world`` (Kestra's Slugify: whitespace to
    dashes, accents and other non-word characters dropped, lower case)."""
    if value is None:
        return None
    text = re.sub(r"\s", "-", _text(value))
    text = re.sub(r"[^\w-]", "", unicodedata.normalize("NFD", text), flags=re.ASCII)
    text = re.sub("-{2,}", "-", text.replace("_", "-"))
    return text.removeprefix("-").removesuffix("-").lower()
