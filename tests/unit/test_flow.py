"""Flow parsing and validation: every problem reported with its path, in one error."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executor import Flow, FlowValidationError
from executor.flow import ConstantRetry, ExponentialRetry, RandomRetry


def problems(text: str) -> dict[str, str]:
    with pytest.raises(FlowValidationError) as info:
        Flow.from_yaml(text)
    return {p.path: p.message for p in info.value.problems}


def test_valid_flow_round_trips_through_yaml() -> None:
    flow = Flow.from_yaml("""
id: etl
namespace: demo.team
labels: {team: data}
inputs:
  - id: n
    type: INT
    defaults: 3
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n }}"
    retry: {type: exponential, interval: PT1S, maxInterval: PT10S, maxAttempts: 4}
    timeout: PT30S
  - id: b
    type: Log
    message: done
errors:
  - id: e
    type: Log
    message: failed
finally:
  - id: f
    type: Log
    message: bye
""")
    again = Flow.from_yaml(flow.to_yaml())
    assert again.to_dict() == flow.to_dict()
    assert flow.task("a").retry is not None
    assert flow.task("a").timeout == timedelta(seconds=30)
    assert flow.locate("e").branch == "errors" and flow.locate("f").branch == "finally"
    assert flow.task("a").properties == {"format": "{{ inputs.n }}"}


def test_every_problem_is_reported_with_its_path() -> None:
    found = problems("""
id: bad flow
namespace: Demo
surprise: 1
tasks:
  - id: a
    type: Nope
  - id: a
    type: Log
  - id: c
    type: Return
    format: "{{ unclosed "
    timeout: ten seconds
  - id: d
    type: Log
    message: hi
    retry: {type: constant, interval: soon, maxAttempts: 0}
""")
    assert "unknown task type 'Nope'" in found["tasks[0].type"]
    assert "duplicate task id 'a'" in found["tasks[1].id"]
    assert "message" in found["tasks[1].message"] or "Field required" in found["tasks[1].message"]
    assert "tasks[2].format" not in found  # a template error is found when it renders
    assert "tasks[2].timeout" in found
    assert "tasks[3].retry.interval" in found
    assert "tasks[3].retry.maxAttempts" in found
    assert "id" in found and "namespace" in found and "surprise" in found


def test_unknown_property_and_missing_tasks() -> None:
    found = problems("id: x\nnamespace: y\ntasks: []\n")
    assert "tasks" in found
    found = problems(
        "id: x\nnamespace: y\ntasks:\n  - {id: a, type: Log, message: m, colour: red}\n"
    )
    assert any("colour" in path or "colour" in msg for path, msg in found.items())


def test_templated_property_is_checked_after_rendering() -> None:
    flow = Flow.from_yaml("""
id: x
namespace: y
tasks:
  - id: s
    type: Sleep
    duration: "{{ inputs.d }}"
""")
    assert flow.task("s").properties["duration"] == "{{ inputs.d }}"


def test_flow_built_in_python_is_validated_too() -> None:
    flow = Flow(id="p", namespace="demo", tasks=[{"id": "a", "type": "Log", "message": "m"}])
    assert flow.tasks[0].type == "Log"
    with pytest.raises(FlowValidationError):
        Flow(id="p", namespace="demo", tasks=[{"id": "a", "type": "Log"}])


def test_retry_delays() -> None:
    c = ConstantRetry(type="constant", interval="PT2S", maxAttempts=3)
    assert c.next_delay(1, timedelta(0)) == timedelta(seconds=2)
    assert c.next_delay(2, timedelta(0)) == timedelta(seconds=2)
    assert c.next_delay(3, timedelta(0)) is None  # maxAttempts counts the first run
    e = ExponentialRetry(type="exponential", interval="PT1S", maxInterval="PT5S", maxAttempts=10)
    assert [e.next_delay(n, timedelta(0)).total_seconds() for n in range(1, 6)] == [1, 2, 4, 5, 5]
    e3 = ExponentialRetry(
        type="exponential", interval="PT1S", maxInterval="PT1M", delayFactor=3, maxAttempts=10
    )
    assert e3.next_delay(3, timedelta(0)) == timedelta(seconds=9)
    r = RandomRetry(type="random", minInterval="PT1S", maxInterval="PT2S", maxAttempts=5)
    for _ in range(20):
        assert timedelta(seconds=1) <= r.next_delay(1, timedelta(0)) <= timedelta(seconds=2)
    d = ConstantRetry(type="constant", interval="PT10S", maxDuration="PT15S")
    assert d.next_delay(1, timedelta(seconds=4)) == timedelta(seconds=10)
    assert d.next_delay(2, timedelta(seconds=6)) is None  # would start after maxDuration


def test_retry_needs_a_bound_and_accepts_old_name() -> None:
    found = problems("""
id: x
namespace: y
tasks:
  - {id: a, type: Log, message: m, retry: {type: constant, interval: PT1S}}
""")
    assert any("maxAttempts or maxDuration" in m for m in found.values())
    flow = Flow.from_yaml("""
id: x
namespace: y
tasks:
  - {id: a, type: Log, message: m, retry: {type: constant, interval: PT1S, maxAttempt: 2}}
""")
    assert flow.tasks[0].retry is not None and flow.tasks[0].retry.max_attempts == 2
