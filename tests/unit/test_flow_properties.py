"""Flow properties Kestra accepts, pluginDefaults merging, Switch keys, warnings."""

from __future__ import annotations

from typing import Any

import pytest

from executor.errors import FlowValidationError
from executor.flow import Flow, load_yaml

HEAD = "id: f\nnamespace: t\n"


def flow(body: str) -> Flow:
    return Flow.from_yaml(HEAD + body)


def problems(body: str) -> dict[str, str]:
    with pytest.raises(FlowValidationError) as info:
        flow(body)
    return {p.path: p.message for p in info.value.problems}


def test_kestra_top_level_properties_are_accepted() -> None:
    f = flow("""
tenantId: main
disabled: true
triggers:
  - {id: t1, type: io.kestra.plugin.core.trigger.Schedule, cron: "* * * * *"}
sla:
  - {id: s, type: MAX_DURATION, duration: PT1H, behavior: FAIL}
afterExecution:
  - {id: after, type: Log, message: bye}
tasks:
  - {id: a, type: Log, message: hi}
""")
    assert f.tenant_id == "main" and f.disabled
    assert f.triggers[0].id == "t1" and f.triggers[0].model_dump()["cron"] == "* * * * *"
    assert f.sla[0]["type"] == "MAX_DURATION"
    assert [t.id for t in f.after_execution] == ["after"]
    again = Flow.from_dict(f.to_dict())
    assert again.to_dict() == f.to_dict() and again.digest() == f.digest()


def test_after_execution_ids_share_the_flow_namespace_of_ids() -> None:
    found = problems("""
tasks: [{id: a, type: Log, message: hi}]
afterExecution: [{id: a, type: Log, message: again}]
""")
    assert "duplicate task id 'a'" in found["afterExecution[0].id"]


def test_labels_list_or_map_with_values_as_text() -> None:
    assert flow("labels: {a: 1, b: true}\ntasks: [{id: x, type: Log, message: m}]").labels == {
        "a": "1",
        "b": "true",
    }
    listed = flow("labels: [{key: a, value: 1}]\ntasks: [{id: x, type: Log, message: m}]")
    assert listed.labels == {"a": "1"}


def test_unknown_and_malformed_properties_are_refused() -> None:
    found = problems("""
colour: red
triggers: [{id: t}, {id: t, type: X}, 3]
pluginDefaults: [{values: {}}, {type: Log, forced: maybe}]
tasks: [{id: a, type: Log, message: m}]
""")
    assert "colour" in found
    assert "triggers[0].type" in found and "triggers[2]" in found
    assert "pluginDefaults[0].type" in found and "pluginDefaults[1].forced" in found


def _props(f: Flow, task_id: str) -> dict[str, Any]:
    return f.task(task_id).properties


def test_plugin_defaults_merge_as_kestra() -> None:
    f = flow("""
pluginDefaults:
  - type: io.kestra.plugin.scripts
    values: {env: {A: "1"}, beforeCommands: [one]}
  - type: io.kestra.plugin.scripts.shell.Commands
    values: {env: {B: "2"}, beforeCommands: [two]}
  - type: io.kestra.plugin.scripts.shell.Commands
    forced: true
    values: {interpreter: [/bin/bash, -c]}
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [echo hi]
    env: {C: "3"}
    beforeCommands: [mine]
    interpreter: [/bin/sh, -c]
""")
    props = _props(f, "sh")
    assert props["env"] == {"A": "1", "B": "2", "C": "3"}  # maps merged deeply
    # lists joined, the defaults' items first (MapUtils.merge)
    assert sorted(props["beforeCommands"][:2]) == ["one", "two"]
    assert props["beforeCommands"][-1] == "mine"
    assert props["interpreter"] == ["/bin/sh", "-c", "/bin/bash", "-c"]  # forced: joined after


def test_plugin_defaults_reach_nested_tasks_and_short_names() -> None:
    f = flow("""
pluginDefaults:
  - {type: io.kestra.plugin.core.debug.Return, values: {format: d}}
tasks:
  - id: seq
    type: Sequential
    tasks:
      - {id: short, type: Return}
      - {id: old, type: io.kestra.core.tasks.debugs.Return}
""")
    assert _props(f, "short") == {"format": "d"} and _props(f, "old") == {"format": "d"}


def test_defaults_are_not_applied_twice_through_the_store() -> None:
    f = flow("""
pluginDefaults:
  - {type: Commands, values: {beforeCommands: [one]}}
tasks:
  - {id: sh, type: Commands, commands: [echo]}
""")
    shown = f.to_dict()
    assert "beforeCommands" not in shown["tasks"][0]  # shown as written
    again = Flow.from_dict(shown)
    assert _props(again, "sh")["beforeCommands"] == ["one"]


def test_switch_keys_are_text_and_null_defaults_are_none() -> None:
    f = flow("""
tasks:
  - id: sw
    type: Switch
    value: "1"
    cases:
      1: [{id: one, type: Log, message: m}]
      true: [{id: yes, type: Log, message: m}]
      1.5: [{id: frac, type: Log, message: m}]
    defaults: null
""")
    assert set(_props(f, "sw")["cases"]) == {"1", "true", "1.5"}
    assert "defaults" not in _props(f, "sw")
    assert f.locate("yes").branch == "cases.true"


def test_yaml_keys_are_text_and_merge_keys_still_merge() -> None:
    assert load_yaml("a: {1: x, true: y}\n<<: {m: 1}\n") == {"a": {"1": "x", "true": "y"}, "m": 1}


def test_template_errors_are_warnings_not_problems() -> None:
    f = flow("""
variables: {v: "{{ broken | }}"}
tasks:
  - {id: a, type: Log, message: "{% if %}"}
  - {id: b, type: Log, message: ok, runIf: "{{ ) }}"}
outputs:
  - {id: o, type: STRING, value: "{{ ( }}"}
""")
    paths = sorted(w.split(":")[0] for w in f.warnings)
    assert paths == ["outputs[0].value", "tasks[0].message", "tasks[1].runIf", "variables.v"]
    assert all("template syntax error" in w for w in f.warnings)
    assert "warnings" not in f.to_dict()
