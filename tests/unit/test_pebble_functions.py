"""Kestra's functions, rendered through the public templating API.

Expectations come from Kestra's function tests under
``core/src/test/java/io/kestra/core/runners/pebble/functions/``, the function sources next
to them, or Pebble's core functions (``RangeFunction``, ``MaxFunction``, ``MinFunction``),
as each comment says.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from executor.errors import TemplateError
from executor.flow import Flow
from executor.messages import Outgoing
from executor.models import LogEntry
from executor.pebble.runtime import RenderRuntime, using
from executor.state import StateType
from executor.store.base import NewRow
from executor.store.memory import MemoryStore
from executor.templating import render, render_value


def fails(template: str, ctx: dict[str, Any] | None = None) -> str:
    with pytest.raises(TemplateError) as info:
        render(template, ctx or {})
    assert "Traceback" not in str(info.value)
    return str(info.value)


# --------------------------------------------------------------------------- parsing


def test_from_json() -> None:
    # FromJsonFunctionTest; basic.md: fromJson('{"foo": [666, 1, 2]}').foo[0]
    assert render("{{ fromJson('{\"foo\": [666, 1, 2]}').foo[0] }}", {}) == "666"
    assert render_value("{{ json('[1, 2]') }}", {}) == [1, 2]  # the deprecated name
    assert render_value("{{ fromJson(none) }}", {"none": None}) is None
    assert "fromJson: invalid JSON" in fails("{{ fromJson('{not json') }}")
    assert "fromJson: expects an argument 'json' with type string" in fails("{{ fromJson(1) }}")
    assert "fromJson: expects an argument 'json'" in fails("{{ fromJson() }}")


def test_yaml_function() -> None:
    # YamlFunctionTest; basic.md: yaml('foo: [666, 1, 2]').foo[0]
    assert render("{{ yaml('foo: [666, 1, 2]').foo[0] }}", {}) == "666"
    assert render_value("{{ yaml('a: {b: true}') }}", {}) == {"a": {"b": True}}
    assert "yaml: invalid YAML" in fails("{{ yaml('a: [1') }}")
    assert "yaml: expects an argument 'yaml' with type string" in fails("{{ yaml(1) }}")


# --------------------------------------------------------------------------- render


RENDER_VARS = {
    # JqFilterTest.renderFunction / RenderFunctionTest: a value holding a template
    "first": {"second": {"third": "{{third}}"}},
    "end": "awesome",
    "third": "{{end}}",
}


def test_render_renders_again_until_stable() -> None:
    assert render("{{ render(first) | jq('.second.third') }}", RENDER_VARS) == '["awesome"]'
    assert render("{{ render(third) }}", RENDER_VARS) == "awesome"
    # without render(), a value is never rendered again (Kestra since 0.14)
    assert render("{{ third }}", RENDER_VARS) == "{{end}}"


def test_render_once_and_not_recursive() -> None:
    # RenderOnceFunction = render(recursive=false): one more render only
    ctx = {"a": "{{ b }}", "b": "{{ c }}", "c": "done"}
    assert render("{{ renderOnce(a) }}", ctx) == "{{ c }}"
    assert render("{{ render(a, recursive=false) }}", ctx) == "{{ c }}"
    assert render("{{ render(a) }}", ctx) == "done"


def test_render_sees_set_variables_and_stays_sandboxed() -> None:
    assert render("{% set x = 'v' %}{{ render('{{ x }}') }}", {}) == "v"
    # a template that renders to itself stops (its text no longer changes)
    assert render("{% set x = '{{ x }}' %}{{ render(x) }}", {}) == "{{ x }}"
    assert "not allowed" in fails("{{ render(t) }}", {"t": "{{ ''.__class__.__mro__ }}"})
    assert "'nope' is not defined" in fails("{{ render(t) }}", {"t": "{{ nope }}"})
    assert "render: the argument 'recursive' must be a boolean" in fails(
        "{{ render('x', recursive='yes') }}"
    )


def test_render_calling_itself_stops_with_one_message() -> None:
    message = fails("{{ render(t) }}", {"t": "{{ render(t) }}"})
    assert message == "render: nested too deeply (limit 10) in template '{{ render(t) }}'"
    inner = fails("{{ render(a) }}", {"a": "{{ render(b) }}", "b": "{{ [1] | chunk(0) }}"})
    assert inner.startswith("render: chunk: 'size' must be greater than 0")


def test_render_of_a_growing_template_stops() -> None:
    ctx = {"t": "{{ t ~ t }}"}
    message = fails("{{ render(t) }}", ctx)
    assert "render" in message or "too large" in message


def test_print_context() -> None:
    # FetchContextFunctionTest: the variables of the render, as a map
    ctx = {"inputs": {"a": 1}, "flow": {"id": "f"}}
    out = render_value("{{ printContext() }}", ctx)
    assert out["inputs"] == {"a": 1} and out["flow"] == {"id": "f"}
    assert "now" not in out and "range" not in out  # functions are not variables


# --------------------------------------------------------------------------- loops


def test_current_each_output() -> None:
    # CurrentEachOutputFunction: the outermost parent's value first, then taskrun.value
    outputs = {"s": {"out": {"in": {"x": {"v": 3}}}, "other": {"in": {"x": {"v": 4}}}}}
    ctx = {
        "outputs": outputs,
        "parents": [{"taskrun": {"value": "in"}}, {"taskrun": {"value": "out"}}],  # nearest first
        "taskrun": {"value": "x"},
    }
    assert render("{{ currentEachOutput(outputs.s).v }}", ctx) == "3"
    flat = {"outputs": {"s": {"one": {"n": 1}}}, "taskrun": {"value": "one"}, "parents": []}
    assert render("{{ currentEachOutput(outputs.s).n }}", flat) == "1"
    assert "currentEachOutput: expects an argument 'outputs' with type map" in fails(
        "{{ currentEachOutput('x') }}", flat
    )
    assert "no outputs for the loop value 'two'" in fails(
        "{{ currentEachOutput(outputs.s) }}", {**flat, "taskrun": {"value": "two"}}
    )


# --------------------------------------------------------------------------- execution

FLOW = Flow.from_dict(
    {"id": "f", "namespace": "ns", "tasks": [{"id": "a", "type": "Log", "message": "a"}]}
)


def _execution() -> MemoryStore:
    store = MemoryStore()
    store.create_execution(
        "e", FLOW, {}, [], [NewRow("t", "a", message=Outgoing("q", "p", "i"))], 0
    )
    for level, message in (("INFO", "started"), ("ERROR", "boom"), ("WARN", "careful")):
        store.append_log(
            LogEntry(level=level, message=message, execution_id="e", task_id="a", task_run_id="t")
        )
    return store


def test_error_logs() -> None:
    # ErrorLogsFunction: the ERROR logs of the execution (LogService.errorLogs)
    with using(RenderRuntime(store=_execution(), execution_id="e")):
        logs = render_value("{{ errorLogs() }}", {})
        text = render("{{ errorLogs()[0].taskId }}: {{ errorLogs()[0].message }}", {})
    assert [log["message"] for log in logs] == ["boom"]
    assert logs[0]["level"] == "ERROR" and logs[0]["taskRunId"] == "t"
    assert text == "a: boom"


def test_tasks_with_state() -> None:
    store = _execution()
    with using(RenderRuntime(store=store, execution_id="e")):
        assert render_value("{{ tasksWithState('created') }}", {}) == [
            {"taskId": "a", "taskRunId": "t", "value": None, "state": "CREATED"}
        ]
        store.start_attempt("e", "t", "w", 10)
        store.finish_attempt("e", "t", 1, StateType.FAILED, StateType.FAILED, active_deadline=0)
        assert render("{{ tasksWithState('FAILED') | length }}", {}) == "1"
        assert render_value("{{ tasksWithState('SUCCESS') }}", {}) == []


def test_execution_functions_need_an_execution() -> None:
    assert "errorLogs() is only available while an execution runs" in fails("{{ errorLogs() }}")
    assert "tasksWithState() is only available" in fails("{{ tasksWithState('FAILED') }}")


# --------------------------------------------------------------------------- numbers


def test_range() -> None:
    # Pebble RangeFunction: both ends included, a step, single characters;
    # basic.md: range(0, 3) "generates a list from 0 to 3"
    assert render_value("{{ range(0, 3) }}", {}) == [0, 1, 2, 3]
    assert render_value("{{ range(0, 10, 5) }}", {}) == [0, 5, 10]
    assert render_value("{{ range(5, 1, -2) }}", {}) == [5, 3, 1]
    assert render_value("{{ range('a', 'c') }}", {}) == ["a", "b", "c"]
    assert render_value("{{ range(3) }}", {}) == [0, 1, 2]  # Jinja's one-argument form
    assert "range: the increment must be different than 0" in fails("{{ range(1, 2, 0) }}")
    assert "strings of length 1" in fails("{{ range('ab', 'c') }}")
    assert "too many items" in fails("{{ range(0, 100000000) }}")


def test_max_min() -> None:
    # basic.md: max(user.age, 80); Pebble MaxFunction / MinFunction
    assert render("{{ max(20, 80, 3) }} {{ min(4, 2.5, 9) }}", {}) == "80 2.5"
    assert "max: expects numbers" in fails("{{ max(1, 'a') }}")


def test_random_int() -> None:
    # RandomIntFunctionTest: lower included, upper excluded; upper < lower is an error
    seen = {render_value("{{ randomInt(1, 4) }}", {}) for _ in range(200)}
    assert seen == {1, 2, 3}
    assert render_value("{{ randomInt(7, 7) }}", {}) == 7
    assert "randomInt: upper is less than lower" in fails("{{ randomInt(5, 1) }}")
    assert "randomInt: expects an argument 'upper'" in fails("{{ randomInt(5) }}")
    assert "randomInt: the argument 'lower' must be an integer" in fails("{{ randomInt('1', 5) }}")


# --------------------------------------------------------------------------- ids


def test_ids() -> None:
    # UUIDFunctionTest: a random UUID; IDFunctionTest: a short unique id (IdUtils, base 62)
    a, b = render("{{ uuid() }}", {}), render("{{ uuid() }}", {})
    assert a != b and uuid.UUID(a).version == 4
    ids = {render("{{ id() }}", {}) for _ in range(50)}
    assert len(ids) == 50 and all(re.fullmatch(r"[0-9A-Za-z]{18,22}", i) for i in ids)
    nano = render("{{ nanoId() }}", {})
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", nano)
    assert len(render("{{ nanoId(8) }}", {})) == 8
    assert "nanoId: length must be an integer from 1 to 1024" in fails("{{ nanoId(0) }}")


# --------------------------------------------------------------------------- files


def test_namespace_files_are_not_supported() -> None:
    for template in ("{{ read('data.csv') }}", "{{ fileURI('data.csv') }}"):
        assert "namespace files and internal storage are not supported" in fails(template)
    assert "read: expects an argument 'path'" in fails("{{ read() }}")
