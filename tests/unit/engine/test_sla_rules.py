"""The SLA rules (``executor/engine/sla.py``), as Kestra's ``MaxDurationSLATest``,
``ExecutionAssertionSLA`` and ``ExecutorService.processViolation`` have them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executor.engine import sla as rules
from executor.state import StateType

S = StateType


def _max(seconds: float, behavior: str = "FAIL") -> rules.Sla:
    return rules.Sla(
        "m", rules.MAX_DURATION, behavior, {"sla": "missed"}, timedelta(seconds=seconds)
    )


def test_max_duration_violated_once_past() -> None:
    # MaxDurationSLATest.shouldEvaluateToAViolation: PT0.05S, 100 ms later
    v = rules.max_duration_violation(_max(0.05), 1000.0, 1000.1)
    assert v is not None
    assert v.reason.startswith("execution duration of PT0.1S")
    assert v.reason.endswith("exceed the maximum duration of PT0.05S.")
    assert v.labels == {"sla": "missed"} and v.behavior == "FAIL"


def test_max_duration_not_violated_before() -> None:
    # MaxDurationSLATest.shouldEvaluateToNoViolation
    assert rules.max_duration_violation(_max(10), 1000.0, 1005.0) is None


def test_deadlines_only_for_max_duration_entries() -> None:
    slas = rules.parse(
        [
            {"id": "a", "type": "EXECUTION_ASSERTION", "behavior": "NONE", "assert": "x"},
            {"id": "b", "type": "MAX_DURATION", "behavior": "FAIL", "duration": "PT1M"},
        ]
    )
    assert rules.deadlines(slas, 100.0) == [(1, 160.0)]
    assert rules.of_monitor_uid(rules.monitor_uid("e-1", 1)) == ("e-1", 1)
    assert rules.of_monitor_uid("junk") is None


@pytest.mark.parametrize(
    ("rendered", "violated"),
    [("true", False), ("false", True), ("0", True), ("-0", True), ("", True), ("yes", False)],
)
def test_assertion_truth_is_kestras(rendered: str, violated: bool) -> None:
    s = rules.Sla("c", rules.EXECUTION_ASSERTION, "CANCEL", {}, assertion="{{ x }}")
    v = rules.assertion_violation(s, rendered)
    assert (v is not None) == violated
    if v is not None:
        assert v.reason == "assertion is false: {{ x }}."


@pytest.mark.parametrize(
    ("behavior", "end"), [("FAIL", S.FAILED), ("CANCEL", S.CANCELLED), ("NONE", None)]
)
def test_behavior_decides_the_end(behavior: str, end: StateType | None) -> None:
    v = rules.Violation("m", behavior, {"sla": "missed"}, "late")
    e = rules.effect(v, {"team": "a"}, S.RUNNING)
    assert e.end == end
    assert e.labels == {"sla": "missed"}


def test_labels_already_there_are_not_added_again() -> None:
    v = rules.Violation("m", "NONE", {"sla": "missed"}, "late")
    assert rules.effect(v, {"sla": "missed"}, S.RUNNING).labels == {}


@pytest.mark.parametrize("state", [S.SUCCESS, S.FAILED, S.KILLING, S.KILLED])
def test_ended_or_killing_execution_is_left_alone(state: StateType) -> None:
    v = rules.Violation("m", "FAIL", {"sla": "missed"}, "late")
    assert rules.effect(v, {}, state) == rules.Effect({}, None)


def test_deploy_problems_name_the_property() -> None:
    found = dict(
        rules.sla_problems({"id": "a", "type": "MAX_DURATION", "behavior": "FAIL"}, "sla[0]")
    )
    assert found == {"sla[0].duration": "missing required property 'duration'"}
    found = dict(
        rules.sla_problems(
            {"id": "a", "type": "MAX_DURATION", "behavior": "FAIL", "duration": "PT0S"}, "sla[0]"
        )
    )
    assert found == {"sla[0].duration": "must be a positive duration"}
