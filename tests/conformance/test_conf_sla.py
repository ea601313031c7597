"""Kestra's flow ``sla`` (``core/models/flows/sla/``: ``SLA.java``,
``types/MaxDurationSLA.java``, ``types/ExecutionAssertionSLA.java``; applied by
``ExecutorService.processViolation`` and ``JdbcExecutor.executionSLAMonitor``), run on
the session worker. Cases follow ``core/src/test/java/io/kestra/core/runners/
SLATestCase.java`` and its flows ``core/src/test/resources/flows/valids/
sla-max-duration-fail.yaml``, ``sla-max-duration-ok.yaml``, ``sla-execution-condition.yaml``.
"""

from __future__ import annotations

import time

import pytest

from executor import Flow
from executor.errors import FlowValidationError
from executor.state import StateType

S = StateType

# sla-max-duration-fail.yaml, with a longer Sleep (our sweep runs every 1.5 s in tests)
# and labels (SLA.java's ``labels``, added on violation).
MAX_DURATION = """
id: sla-max-duration
namespace: io.kestra.tests
sla:
  - id: maxDuration
    type: MAX_DURATION
    behavior: BEHAVIOR
    duration: PT1S
    labels:
      sla: missed
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT8S
errors:
  - id: onError
    type: io.kestra.plugin.core.log.Log
    message: failed
"""

# sla-execution-condition.yaml as Kestra has it (two SLAs both named "condition").
CONDITION = """
id: sla-execution-condition
namespace: io.kestra.tests
inputs:
  - id: string
    type: SELECT
    values:
      - PASS
      - CANCEL
      - LABEL
      - FAIL
    defaults: PASS
sla:
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: CANCEL
    assert: "{{inputs.string != 'CANCEL'}}"
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: NONE
    assert: "{{inputs.string != 'LABEL'}}"
    labels:
      sla: violated
  - id: outputs
    type: EXECUTION_ASSERTION
    behavior: FAIL
    assert: "{{ inputs.string != 'FAIL' or (outputs.first.value ?? 'none') == 'none' }}"
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "true"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "true"
"""


def _labels(ex) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {lb.key: lb.value for lb in ex.labels}


def test_max_duration_fail_ends_the_execution_failed_at_the_deadline(run, client) -> None:  # type: ignore[no-untyped-def]
    # SLATestCase.maxDurationSLAShouldFail; processViolation FAIL: markAs(FAILED) + kill
    begun = time.monotonic()
    ex = run(MAX_DURATION.replace("BEHAVIOR", "FAIL"), timeout=30)
    took = time.monotonic() - begun
    assert ex.state.current == S.FAILED
    assert took < 6, f"ended {took:.1f}s after submit, the Sleep lasts 8s"
    assert ex.task_run("sleep").state.current == S.FAILED
    assert ex.task_runs("onError") == []  # the execution ended: nothing follows
    assert _labels(ex)["sla"] == "missed"
    messages = [(e.level, e.message) for e in client.logs(ex.id)]
    assert ("WARN", "SLA 'maxDuration' violated") in [(lv, m.split(":")[0]) for lv, m in messages]
    assert any(lv == "ERROR" and m.startswith("Execution failed due to SLA") for lv, m in messages)


def test_max_duration_cancel_ends_the_execution_cancelled(run) -> None:  # type: ignore[no-untyped-def]
    # processViolation CANCEL: markAs(CANCELLED)
    begun = time.monotonic()
    ex = run(MAX_DURATION.replace("BEHAVIOR", "CANCEL"), timeout=30)
    assert ex.state.current == S.CANCELLED
    assert time.monotonic() - begun < 6
    assert ex.task_run("sleep").state.current == S.CANCELLED
    assert _labels(ex)["sla"] == "missed"


def test_max_duration_none_only_adds_labels(run) -> None:  # type: ignore[no-untyped-def]
    # processViolation NONE: the execution is unchanged but for the labels
    flow = MAX_DURATION.replace("BEHAVIOR", "NONE").replace("PT8S", "PT3S")
    ex = run(flow, timeout=30)
    assert ex.state.current == S.SUCCESS
    assert _labels(ex)["sla"] == "missed"


def test_max_duration_not_reached_passes(run, client) -> None:  # type: ignore[no-untyped-def]
    # SLATestCase.maxDurationSLAShouldPass (sla-max-duration-ok.yaml); the end purges
    # the monitor (JdbcExecutor: slaMonitorStorage.purge)
    flow = MAX_DURATION.replace("BEHAVIOR", "FAIL").replace("PT1S", "PT10S")
    ex = run(flow.replace("PT8S", "PT0.5S"), timeout=30)
    assert ex.state.current == S.SUCCESS
    assert "sla" not in _labels(ex)
    # (the worker purges it just after the end it recorded, which wait() may see first)
    for _ in range(50):
        if client.store.due_position("sla", f"{ex.id}|0") is None:
            break
        time.sleep(0.1)
    assert client.store.due_position("sla", f"{ex.id}|0") is None


def test_assertion_passes(run) -> None:  # type: ignore[no-untyped-def]
    # SLATestCase.executionConditionSLAShouldPass
    ex = run(CONDITION)
    assert ex.state.current == S.SUCCESS
    assert "sla" not in _labels(ex)


def test_assertion_cancel(run) -> None:  # type: ignore[no-untyped-def]
    # SLATestCase.executionConditionSLAShouldCancel: evaluated when the execution starts
    ex = run(CONDITION, {"string": "CANCEL"})
    assert ex.state.current == S.CANCELLED


def test_assertion_none_labels(run) -> None:  # type: ignore[no-untyped-def]
    # SLATestCase.executionConditionSLAShouldLabel
    ex = run(CONDITION, {"string": "LABEL"})
    assert ex.state.current == S.SUCCESS
    assert _labels(ex)["sla"] == "violated"


def test_assertion_fail_is_evaluated_on_each_change(run) -> None:  # type: ignore[no-untyped-def]
    # ExecutionChangedSLA: evaluated on each execution change; true at the start, false
    # once "first" ended: the execution fails and "second" never succeeds
    ex = run(CONDITION, {"string": "FAIL"})
    assert ex.state.current == S.FAILED
    assert ex.task_run("first").state.current == S.SUCCESS
    assert all(tr.state.current != S.SUCCESS for tr in ex.task_runs("second"))


@pytest.mark.parametrize(
    ("entry", "path", "message"),
    [
        ("{id: a, type: MAX_DURATION, duration: PT1S}", "sla[0].behavior", "behavior"),
        ("{id: a, type: MAX_DURATION, behavior: FAIL}", "sla[0].duration", "duration"),
        ("{id: a, type: MAX_DURATION, behavior: FAIL, duration: soon}", "sla[0].duration", "soon"),
        ("{id: a, type: EXECUTION_ASSERTION, behavior: FAIL}", "sla[0].assert", "assert"),
        ("{id: a, type: LATE, behavior: FAIL}", "sla[0].type", "LATE"),
        ("{id: a, type: MAX_DURATION, behavior: STOP, duration: PT1S}", "sla[0].behavior", "STOP"),
        ("{type: MAX_DURATION, behavior: FAIL, duration: PT1S}", "sla[0].id", "id"),
        (
            "{id: a, type: MAX_DURATION, behavior: FAIL, duration: PT1S, labels: {system.x: y}}",
            "sla[0].labels",
            "system",
        ),
    ],
)
def test_deploy_refuses_bad_sla(client, entry: str, path: str, message: str) -> None:  # type: ignore[no-untyped-def]
    # SLA.java's @NotNull id/type/behavior, MaxDurationSLA's @NotNull duration,
    # ExecutionAssertionSLA's @NotNull @NotEmpty assert, @NoSystemLabelValidation labels
    text = (
        f"id: bad\nnamespace: io.kestra.tests\nsla:\n  - {entry}\n"
        "tasks:\n  - id: l\n    type: Log\n    message: x\n"
    )
    with pytest.raises(FlowValidationError) as info:
        client.deploy(Flow.from_yaml(text))
    found = {p.path: p.message for p in info.value.problems}
    assert path in found and message in found[path], found


PARALLEL = """
id: sla-parallel
namespace: io.kestra.tests
sla:
  - id: maxDuration
    type: MAX_DURATION
    behavior: FAIL
    duration: PT1S
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT8S
      - id: b
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT8S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never
"""


def test_max_duration_fail_inside_a_flowable_ends_everything(run, client) -> None:  # type: ignore[no-untyped-def]
    # markAs(FAILED) + kill: running task runs are stopped, nothing after them runs
    ex = run(PARALLEL, timeout=30)
    assert ex.state.current == S.FAILED
    time.sleep(2)  # the stopped attempts and their messages change nothing afterwards
    ex = client.get(ex.id)
    assert ex.state.current == S.FAILED
    assert {tr.task_id: tr.state.current for tr in ex.task_run_list} == {
        "parallel": S.FAILED,
        "a": S.FAILED,
        "b": S.FAILED,
    }
