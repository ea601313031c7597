"""The render context's parts: labels, envs, globals, parents, tasks, absent keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from executor.flow import Flow
from executor.render_context import build_context, envs, globals_, labels_map
from executor.state import StateType
from executor.store.base import TaskRunRow
from executor.templating import render_value

FLOW = Flow.from_yaml("""
id: f
namespace: t
tenantId: main
variables: {v: 1}
tasks:
  - id: each
    type: EachSequential
    value: [a]
    tasks:
      - id: seq
        type: Sequential
        tasks:
          - {id: leaf, type: Return, format: x}
""")


class FakeStore:
    """The reads build_context makes, over fixed rows."""

    def __init__(self) -> None:
        self.rows = {
            "t-each": TaskRunRow("t-each", "each", StateType.RUNNING, None, None),
            "t-seq": TaskRunRow("t-seq", "seq", StateType.RUNNING, "t-each", "a"),
            "t-inner": TaskRunRow("t-inner", "seq", StateType.RUNNING, "t-seq", None),
            "t-leaf": TaskRunRow("t-leaf", "leaf", StateType.RUNNING, "t-inner", "a"),
        }
        self.fields = {
            "t-each": {"outputs": json.dumps({"n": 3})},
            "t-leaf": {"h": '{"state":"CREATED","date":"2026-01-01T00:00:01Z"}'},
        }
        self.reads = 0

    def task_run_row(self, eid: str, trid: str) -> TaskRunRow | None:
        self.reads += 1
        return self.rows.get(trid)

    def task_run_field(self, eid: str, trid: str, name: str) -> str | None:
        return self.fields.get(trid, {}).get(name)

    def task_run_rows(self, eid: str) -> list[TaskRunRow]:
        return list(self.rows.values())

    def execution_meta(self, eid: str) -> dict[str, str]:
        return {"h": '{"state":"CREATED","date":"2026-01-01T00:00:00Z"}', "originalId": "first"}

    def execution_field(self, eid: str, name: str) -> Any:
        return {"labels": [{"key": "team", "value": "data"}], "inputs": {}}[name]


def context(store: FakeStore, **kw: Any) -> dict[str, Any]:
    return build_context(
        store,  # type: ignore[arg-type]
        "e1",
        FLOW,
        FLOW.task("leaf"),
        task_run_id="t-leaf",
        value="a",
        parent_task_run_id="t-inner",
        iteration=0,
        **kw,
    )


def test_kestra_names_and_values() -> None:
    ctx = context(FakeStore())
    out = render_value(
        "{{ taskrun.id }} {{ taskrun.startDate }} {{ taskrun.iteration }} {{ taskrun.value }} "
        "{{ execution.startDate }} {{ execution.originalId }} {{ flow.tenantId }} {{ vars.v }} "
        "{{ labels.team }}",
        ctx,
    )
    assert out == ("t-leaf 2026-01-01T00:00:01Z 0 a 2026-01-01T00:00:00Z first main 1 data")


def test_parents_keep_only_ancestors_with_a_value_or_outputs() -> None:
    ctx = context(FakeStore())
    parents = list(ctx["parents"])
    # t-inner (no value, no outputs) is left out; t-seq has a value; t-each has outputs
    assert parents == [{"taskrun": {"value": "a"}}, {"outputs": {"n": 3}}]
    assert render_value("{{ parent.taskrun.value }} {{ parents[1].outputs.n }}", ctx) == "a 3"


def test_nothing_is_read_until_used() -> None:
    store = FakeStore()
    context(store)
    assert store.reads == 0


def test_tasks_state_by_value_in_loops() -> None:
    tasks = context(FakeStore())["tasks"]
    assert tasks["each"] == {"state": "RUNNING"}
    assert tasks["leaf"] == {"a": {"state": "RUNNING"}}


def test_execution_context_has_no_taskrun_nor_task() -> None:
    ctx = build_context(FakeStore(), "e1", FLOW, None, task_run_id="")  # type: ignore[arg-type]
    assert "taskrun" not in ctx and "task" not in ctx and "trigger" not in ctx


def test_labels_map_nests_system_labels_and_keeps_the_first() -> None:
    raw = [
        {"key": "team", "value": "a"},
        {"key": "team", "value": "b"},
        {"key": "system.correlationId", "value": "root"},
        {"key": "system.username", "value": "ada"},
        {"key": "nothing", "value": None},
    ]
    assert labels_map(raw) == {
        "team": "a",
        "system": {"correlationId": "root", "username": "ada"},
    }


def test_envs_with_the_prefix_lowercased() -> None:
    environ = {"ENV_MY_VAR": "1", "OTHER": "2", "ENVX": "3"}
    assert envs(environ) == {"my_var": "1"}
    assert envs({**environ, "OSTRA_ENV_PREFIX": "KESTRA_", "KESTRA_A": "x"}) == {"a": "x"}


def test_globals_from_a_file_and_json(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("a: 1\nb: {c: 2}\n")
    got = globals_({"OSTRA_GLOBALS_FILE": str(path), "OSTRA_GLOBALS": '{"a": 5}'})
    assert got == {"a": 5, "b": {"c": 2}}
    with pytest.raises(ValueError, match="OSTRA_GLOBALS"):
        globals_({"OSTRA_GLOBALS": "[1]"})
    with pytest.raises(ValueError, match="OSTRA_GLOBALS_FILE"):
        globals_({"OSTRA_GLOBALS_FILE": str(tmp_path / "missing.yaml")})
