"""Kestra's functions (``{{ name(args) }}``), by Kestra's names.

``now()`` lives in :mod:`executor.pebble.dates`; ``secret()`` and ``kv()`` elsewhere.
Functions that need the execution (``errorLogs()``, ``tasksWithState()``) read it from
:func:`executor.pebble.runtime.current`; outside an execution they are an error that
says so. Ostra has no namespace files: ``fileURI()`` and ``read()`` say so too.
"""

from __future__ import annotations

import json
import secrets
import uuid as uuidlib
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from jinja2 import pass_context
from jinja2.runtime import Context, Undefined
from jinja2.utils import missing

from executor.errors import TemplateError
from executor.pebble import runtime
from executor.pebble.registry import pebble_function

__all__: list[str] = []

#: Renders nested inside ``render()`` at most (a template rendering itself stops here).
MAX_RENDER_DEPTH = 10


def _defined(name: str, *values: Any) -> None:
    for v in values:
        if isinstance(v, Undefined):
            v._fail_with_undefined_error()


def _max_output() -> int:
    from executor.templating import MAX_OUTPUT

    return MAX_OUTPUT


# --------------------------------------------------------------------------- parsing


@pebble_function("fromJson", "json")
def from_json(json_text: Any = missing) -> Any:
    """``{{ fromJson('{"a": 1}').a }}``: the value of a JSON string (null for null);
    ``json()`` is Kestra's deprecated name for it (FromJsonFunction)."""
    if json_text is missing:
        raise TemplateError("fromJson: expects an argument 'json'")
    _defined("fromJson", json_text)
    if json_text is None:
        return None
    if not isinstance(json_text, str):
        raise TemplateError(
            f"fromJson: expects an argument 'json' with type string, got {type(json_text).__name__}"
        )
    try:
        return json.loads(json_text)
    except ValueError as e:
        raise TemplateError(f"fromJson: invalid JSON: {e}") from None


@pebble_function("yaml")
def from_yaml(yaml_text: Any = missing) -> Any:
    """``{{ yaml('a: [1, 2]').a[0] }}``: the value of a YAML string (YamlFunction)."""
    if yaml_text is missing:
        raise TemplateError("yaml: expects an argument 'yaml'")
    _defined("yaml", yaml_text)
    if not isinstance(yaml_text, str):
        raise TemplateError(
            f"yaml: expects an argument 'yaml' with type string, got {type(yaml_text).__name__}"
        )
    try:
        return yaml.safe_load(yaml_text)
    except yaml.YAMLError as e:
        raise TemplateError(f"yaml: invalid YAML: {e}") from None


# --------------------------------------------------------------------------- rendering


class _Variables(Mapping[str, Any]):
    """The variables of the render in progress (its ``{% set %}`` ones first), key by key."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def __getitem__(self, key: str) -> Any:
        value = self._ctx.resolve_or_missing(key)
        if value is missing:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        yield from self._ctx.vars
        yield from (k for k in self._ctx.parent if k not in self._ctx.vars)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_DEPTH = "pebble.render.depth"


def _render_text(text: str, variables: Mapping[str, Any]) -> str:
    """Render ``text``; an error inside a nested ``render()`` keeps one message, not one
    ``in template`` per level."""
    from executor.templating import _snippet, render

    try:
        return render(text, variables)
    except TemplateError as e:
        msg = str(e)
        if msg.startswith("render:"):
            suffix = f" in template {_snippet(e.template)!r}"
            raise TemplateError(msg.removesuffix(suffix)) from None
        raise TemplateError(f"render: {msg}") from None


def _render_again(value: Any, variables: Mapping[str, Any], recursive: bool) -> Any:
    from executor.templating import contains_template

    render = _render_text
    if isinstance(value, str):
        text = render(value, variables)
        seen = 1
        while recursive and text != value and contains_template(text):
            if seen >= MAX_RENDER_DEPTH:
                raise TemplateError(
                    f"render: still a template after {MAX_RENDER_DEPTH} renders"
                    " (a value that renders itself?)"
                )
            value, text = text, render(text, variables)
            seen += 1
        return text
    if isinstance(value, Mapping):
        return {k: _render_again(v, variables, recursive) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render_again(v, variables, recursive) for v in value]
    return value


def _render(ctx: Context, to_render: Any, recursive: Any, name: str) -> Any:
    if to_render is missing:
        raise TemplateError(f"{name}: expects an argument 'toRender'")
    _defined(name, to_render, recursive)
    if recursive is None:
        recursive = True
    if not isinstance(recursive, bool):
        raise TemplateError(f"{name}: the argument 'recursive' must be a boolean")
    rt = runtime.current()
    depth = int(rt.extra.get(_DEPTH, 0))
    if depth >= MAX_RENDER_DEPTH:
        raise TemplateError(f"{name}: nested too deeply (limit {MAX_RENDER_DEPTH})")
    rt.extra[_DEPTH] = depth + 1
    try:
        with runtime.using(rt):
            return _render_again(to_render, _Variables(ctx), recursive)
    finally:
        rt.extra[_DEPTH] = depth


@pebble_function("render")
@pass_context
def render(ctx: Context, toRender: Any = missing, recursive: Any = True) -> Any:
    """``{{ render(vars.template) }}``: render a string (or the strings of a map or list)
    again with the same variables, until it no longer changes (``recursive=false``: once)."""
    return _render(ctx, toRender, recursive, "render")


@pebble_function("renderOnce")
@pass_context
def render_once(ctx: Context, toRender: Any = missing) -> Any:
    """``{{ renderOnce(vars.template) }}``: render a string again, once."""
    return _render(ctx, toRender, False, "renderOnce")


@pebble_function("printContext", "fetchContext")
@pass_context
def print_context(ctx: Context) -> dict[str, Any]:
    """Every variable of the render (not the functions), as a map (FetchContextFunction)."""
    from executor.pebble.registry import FUNCTIONS

    out: dict[str, Any] = {}
    for key in _Variables(ctx):
        if key in FUNCTIONS or key in out:
            continue
        value = ctx.resolve_or_missing(key)
        if value is missing or callable(value):
            continue
        out[key] = value
    return out


# --------------------------------------------------------------------------- execution


@pebble_function("currentEachOutput")
@pass_context
def current_each_output(ctx: Context, outputs: Any = missing) -> Any:
    """``{{ currentEachOutput(outputs.sibling) }}``: a sibling's outputs for the current loop
    value(s), the outermost loop first (CurrentEachOutputFunction)."""
    if outputs is missing:
        raise TemplateError("currentEachOutput: expects an argument 'outputs'")
    _defined("currentEachOutput", outputs)
    if not isinstance(outputs, Mapping):
        raise TemplateError("currentEachOutput: expects an argument 'outputs' with type map")
    from executor.render_context import LoopOutputs

    parents = ctx.resolve_or_missing("parents")
    current: Any = outputs
    # Ostra keys a looped task's outputs by its own loop value only (LoopOutputs); Kestra
    # nests them by every enclosing loop's value, outermost first.
    if not isinstance(outputs, LoopOutputs) and parents is not missing and parents:
        for parent in reversed(list(parents)):
            taskrun = parent.get("taskrun") if isinstance(parent, Mapping) else None
            if isinstance(taskrun, Mapping) and taskrun.get("value") is not None:
                current = _step(current, taskrun["value"])
    taskrun = ctx.resolve_or_missing("taskrun")
    if not isinstance(taskrun, Mapping) or taskrun.get("value") is None:
        raise TemplateError("currentEachOutput: only available inside a loop (no taskrun.value)")
    return _step(current, taskrun["value"])


def _step(outputs: Any, value: Any) -> Any:
    if not isinstance(outputs, Mapping):
        raise TemplateError(f"currentEachOutput: no outputs for the loop value {value!r}")
    try:
        return outputs[value]
    except KeyError:
        raise TemplateError(f"currentEachOutput: no outputs for the loop value {value!r}") from None


def _execution(name: str) -> tuple[Any, str]:
    rt = runtime.current()
    if rt.store is None or rt.execution_id is None:
        raise TemplateError(f"{name}() is only available while an execution runs")
    return rt.store, rt.execution_id


@pebble_function("errorLogs")
def error_logs() -> list[dict[str, Any]]:
    """The ERROR log entries of the execution, oldest first (ErrorLogsFunction)."""
    store, eid = _execution("errorLogs")
    out = []
    for entry in store.logs(eid):
        if entry.level != "ERROR":
            continue
        out.append(
            {
                "executionId": entry.execution_id or eid,
                "taskId": entry.task_id,
                "taskRunId": entry.task_run_id,
                "attemptNumber": entry.attempt,
                "level": entry.level,
                "timestamp": entry.timestamp.isoformat().replace("+00:00", "Z"),
                "message": entry.message,
            }
        )
    return out


@pebble_function("tasksWithState")
def tasks_with_state(state: Any = missing) -> list[dict[str, Any]]:
    """The task runs of the execution in ``state`` (``FAILED``, ``SUCCESS``...), in order."""
    if state is missing:
        raise TemplateError("tasksWithState: expects an argument 'state'")
    _defined("tasksWithState", state)
    if not isinstance(state, str):
        raise TemplateError("tasksWithState: 'state' must be a string such as 'FAILED'")
    store, eid = _execution("tasksWithState")
    wanted = state.upper()
    return [
        {"taskId": row.task_id, "taskRunId": row.id, "value": row.value, "state": str(row.state)}
        for row in store.task_run_rows(eid)
        if str(row.state) == wanted
    ]


# --------------------------------------------------------------------------- numbers


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateError(f"{name}: expects numbers, got {type(value).__name__}")
    return value


@pebble_function("range")
def range_(start: Any = missing, end: Any = missing, increment: Any = 1) -> list[Any]:
    """``range(start, end, increment)``: ``start`` to ``end`` *included* (Pebble's
    RangeFunction; numbers or single characters). ``range(n)`` keeps Jinja's 0..n-1."""
    _defined("range", start, end, increment)
    if start is missing:
        raise TemplateError("range: expects arguments 'start' and 'end'")
    if end is missing:
        n = start
        if isinstance(n, bool) or not isinstance(n, int):
            raise TemplateError("range: expects integers")
        start, end, increment = 0, n - 1, 1
    if isinstance(increment, bool) or not isinstance(increment, int | float):
        raise TemplateError(f"range: the increment must be a number, got {increment!r}")
    step = int(increment)
    if step == 0:
        raise TemplateError("range: the increment must be different than 0")
    if isinstance(start, str) and isinstance(end, str):
        if len(start) != 1 or len(end) != 1:
            raise TemplateError("range: arguments must be numbers or strings of length 1")
        lo, hi = ord(start), ord(end)
        chars = True
    elif isinstance(start, int | float) and isinstance(end, int | float):
        if isinstance(start, bool) or isinstance(end, bool):
            raise TemplateError("range: arguments must be numbers or strings of length 1")
        lo, hi, chars = int(start), int(end), False
    else:
        raise TemplateError("range: arguments must be numbers or strings of length 1")
    values = range(lo, hi + 1 if step > 0 else hi - 1, step)
    if len(values) > _max_output():
        raise TemplateError(f"range: too many items ({len(values)}, limit {_max_output()})")
    return [chr(v) for v in values] if chars else list(values)


def _extreme(name: str, args: tuple[Any, ...], pick: Any) -> Any:
    _defined(name, *args)
    values = [a for a in args if a is not None]
    if not values:
        return None
    for v in values:
        _number(name, v)
    return pick(values)


@pebble_function("max")
def max_(*args: Any) -> Any:
    """The largest of its (number) arguments."""
    return _extreme("max", args, max)


@pebble_function("min")
def min_(*args: Any) -> Any:
    """The smallest of its (number) arguments."""
    return _extreme("min", args, min)


@pebble_function("randomInt")
def random_int(lower: Any = missing, upper: Any = missing) -> int:
    """``randomInt(lower, upper)``: a random integer, ``lower`` included, ``upper`` excluded."""
    for arg, v in (("lower", lower), ("upper", upper)):
        if v is missing:
            raise TemplateError(f"randomInt: expects an argument {arg!r}")
        _defined("randomInt", v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise TemplateError(f"randomInt: the argument {arg!r} must be an integer")
    if upper < lower:
        raise TemplateError("randomInt: upper is less than lower")
    if upper == lower:
        return int(lower)
    return int(lower + secrets.randbelow(upper - lower))


# --------------------------------------------------------------------------- ids

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NANOID = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pebble_function("uuid")
def uuid() -> str:
    """A random UUID (``xxxxxxxx-xxxx-4xxx-...``)."""
    return str(uuidlib.uuid4())


@pebble_function("id")
def id_() -> str:
    """A short unique id as Kestra's ``IdUtils.create()`` makes: a random UUID in base 62."""
    n = uuidlib.uuid4().int
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_BASE62[r])
    return "".join(reversed(out)) or "0"


@pebble_function("nanoId")
def nano_id(length: Any = 21, alphabet: Any = _NANOID) -> str:
    """A NanoID: ``length`` (21) random characters of URL-safe ``alphabet``."""
    _defined("nanoId", length, alphabet)
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 1024:
        raise TemplateError("nanoId: length must be an integer from 1 to 1024")
    if not isinstance(alphabet, str) or not alphabet:
        raise TemplateError("nanoId: alphabet must be a non-empty string")
    return "".join(secrets.choice(alphabet) for _ in range(length))


# --------------------------------------------------------------------------- files


def _no_namespace_files(name: str, path: Any) -> Any:
    if path is missing:
        raise TemplateError(f"{name}: expects an argument 'path' (a namespace file)")
    raise TemplateError(f"{name}(): namespace files and internal storage are not supported")


@pebble_function("fileURI")
def file_uri(path: Any = missing) -> Any:
    """Kestra's namespace file URI: not supported (Ostra has no namespace files)."""
    return _no_namespace_files("fileURI", path)


@pebble_function("read")
def read(path: Any = missing) -> Any:
    """Kestra's read of a namespace file or storage URI: not supported by Ostra."""
    return _no_namespace_files("read", path)
