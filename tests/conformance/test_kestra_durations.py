"""Durations as Kestra reads them (java.time.Duration.parse through Kestra's
``core/src/main/java/io/kestra/core/serializers/DurationDeserializer.java``), in every
place a flow gives one: Sleep, timeout, retry intervals, Pause."""

from __future__ import annotations

import pytest

from executor import Client, FlowValidationError, StateType

pytestmark = pytest.mark.integration
S = StateType


def test_lowercase_fractional_and_numeric_durations_run(run) -> None:
    # Duration.parse is case-insensitive and takes fractions of seconds; the
    # DurationDeserializer reads a number as seconds.
    done = run("""
id: durations_forms
namespace: tests.conformance
tasks:
  - id: lower
    type: io.kestra.plugin.core.flow.Sleep
    duration: pt0.1s
  - id: comma
    type: io.kestra.plugin.core.flow.Sleep
    duration: "PT0,1S"
  - id: number
    type: io.kestra.plugin.core.flow.Sleep
    duration: 0.1
    timeout: P0DT0H1M
""")
    assert done.state.current == S.SUCCESS
    nap = done.task_run("lower")
    assert (nap.state.end_date - nap.state.start_date).total_seconds() >= 0.1


def test_fractional_timeout_fails_the_attempt(run) -> None:
    # Task.timeout is a Duration: PT0.3S ends a 5-second Sleep with a failure.
    done = run("""
id: durations_timeout
namespace: tests.conformance
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
    timeout: pt0.3s
""")
    assert done.state.current == S.FAILED
    nap = done.task_run("nap")
    assert (nap.state.end_date - nap.state.start_date).total_seconds() < 4


def test_retry_interval_in_lower_case(run) -> None:
    # AbstractRetry's interval is a Duration (models/tasks/retrys/Constant.java).
    done = run("""
id: durations_retry
namespace: tests.conformance
tasks:
  - id: fails
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      interval: pt0.1s
      maxAttempts: 2
""")
    assert done.state.current == S.FAILED
    assert len(done.task_run("fails").attempts) == 2


@pytest.mark.parametrize("bad", ["1h", "P1Y", "PT", "P1DT", "ten minutes"])
def test_other_forms_are_refused(client: Client, bad: str) -> None:
    # Duration.parse throws DateTimeParseException for these; the flow is invalid.
    text = f"""
id: durations_bad
namespace: tests.conformance
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{bad}"
    timeout: "{bad}"
"""
    with pytest.raises(FlowValidationError) as info:
        client.deploy(text)
    found = {p.path: p.message for p in info.value.problems}
    assert "invalid duration" in found["tasks[0].duration"]
    assert "invalid duration" in found["tasks[0].timeout"]
