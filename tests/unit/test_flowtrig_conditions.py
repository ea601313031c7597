"""``executor.engine.flow_conditions``: a Flow trigger's properties parsed and checked,
its conditions on one end, and the windows of multiple conditions (Kestra's
``Flow.java``, ``MultipleConditionStorageInterface.getOrCreate``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from executor.engine.flow_conditions import (
    DEFAULT_STATES,
    OTHER_STATES,
    FlowEnd,
    FlowTrigger,
    TimeWindow,
    listened_states,
    parse,
)
from executor.flow import Flow
from executor.triggers.types import KINDS

TYPE = "io.kestra.plugin.core.trigger.Flow"


def trigger(**props: Any) -> FlowTrigger:
    parsed, problems = parse({"id": "t", "type": TYPE, **props}, "triggers[0]")
    assert problems == [] and parsed is not None
    return parsed


def end(
    state: str = "SUCCESS", ns: str = "company.team", fid: str = "extract", **labels: str
) -> FlowEnd:
    return FlowEnd("e1", ns, fid, 1, state, labels)


def no_render(template: str) -> Any:
    raise AssertionError("not rendered")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_default_states_are_the_end_states() -> None:
    t = trigger()
    assert t.plain_match(end("FAILED"), no_render) and t.plain_match(end("KILLED"), no_render)
    assert not trigger(states=["SUCCESS"]).plain_match(end("FAILED"), no_render)


def test_states_other_than_ends_are_accepted_and_matched() -> None:
    """Kestra's Flow.states takes any State.Type (the executor offers every state
    change); only CREATED, an execution's first state, is no change to react to."""
    t = trigger(states=["PAUSED", "RUNNING", "SUCCESS"])
    assert t.plain_match(end("PAUSED"), no_render) and t.plain_match(end("RUNNING"), no_render)
    assert not t.plain_match(end("FAILED"), no_render)
    assert not trigger().plain_match(end("PAUSED"), no_render)  # default: ends only
    assert "CREATED" not in OTHER_STATES and "PAUSED" in OTHER_STATES
    assert not set(OTHER_STATES) & set(DEFAULT_STATES)
    _, problems = parse({"id": "t", "type": TYPE, "states": ["PAUSED", "CREATED"]}, "tr")
    assert [(p.path, p.message.split(":")[0]) for p in problems] == [
        ("tr.states[1]", "a Flow trigger cannot react to CREATED")
    ]


def test_listened_states_are_those_enabled_triggers_list_beyond_ends() -> None:
    def flow(*triggers: dict[str, Any], disabled: bool = False) -> Flow:
        return Flow.from_dict(
            {
                "id": "l",
                "namespace": "n",
                "disabled": disabled,
                "tasks": [{"id": "t", "type": "Log", "message": "m"}],
                "triggers": [{"type": TYPE, **t} for t in triggers],
            }
        )

    names = KINDS["flow"]
    on = {"id": "a", "states": ["PAUSED", "SUCCESS"]}
    off = {"id": "b", "states": ["RUNNING"], "disabled": True}
    assert listened_states(flow(on, off), names) == {"PAUSED"}
    assert listened_states(flow({"id": "c"}), names) == frozenset()
    assert listened_states(flow(on, disabled=True), names) == frozenset()


def test_plain_conditions() -> None:
    t = trigger(
        conditions=[
            {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS"]},
            {"type": "ExecutionNamespace", "namespace": "company", "comparison": "PREFIX"},
            {"type": "ExecutionLabels", "labels": {"team": "data"}},
        ]
    )
    assert t.plain_match(end(team="data"), no_render)
    assert not t.plain_match(end(team="ops"), no_render)
    assert not t.plain_match(end("FAILED", team="data"), no_render)
    assert not t.plain_match(end(ns="other", team="data"), no_render)


def test_preconditions_name_one_condition_per_flow_and_per_where() -> None:
    t = trigger(
        preconditions={
            "id": "p",
            "flows": [
                {"namespace": "company.team", "flowId": "a", "states": ["SUCCESS"]},
                {"namespace": "company.team", "flowId": "b"},
            ],
            "where": [
                {
                    "id": "w",
                    "operand": "OR",
                    "filters": [
                        {"field": "FLOW_ID", "type": "IN", "values": ["a", "c"]},
                        {"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ x }}"},
                    ],
                }
            ],
        }
    )
    (m,) = t.multiple
    assert list(m.conditions) == ["condition_1", "condition_2", "condition_3_w"]
    assert m.met(end(fid="a"), no_render) == ["condition_1", "condition_3_w"]  # OR stops early
    assert m.met(end("FAILED", fid="a"), no_render) == ["condition_3_w"]
    assert m.met(end(fid="b"), lambda s: "false") == ["condition_2"]
    assert m.met(end(fid="z"), lambda s: "true") == ["condition_3_w"]


@pytest.mark.parametrize(
    ("filt", "fid", "expected"),
    [
        ({"type": "EQUAL_TO", "value": "abc"}, "abc", True),
        ({"type": "NOT_EQUAL_TO", "value": "abc"}, "abc", False),
        ({"type": "NOT_IN", "values": ["x"]}, "abc", True),
        ({"type": "STARTS_WITH", "value": "ab"}, "abc", True),
        ({"type": "ENDS_WITH", "value": "bc"}, "abc", True),
        ({"type": "REGEX", "value": "a.c"}, "abc", True),
        ({"type": "REGEX", "value": "b"}, "abc", False),  # Java's matches(): the whole string
        ({"type": "CONTAINS", "value": "b"}, "abc", True),
        ({"type": "IS_NOT_NULL"}, "abc", True),
        ({"type": "IS_NULL"}, "abc", False),
    ],
)
def test_where_filter_types(filt: dict[str, Any], fid: str, expected: bool) -> None:
    t = trigger(
        preconditions={"id": "p", "where": [{"id": "w", "filters": [{"field": "FLOW_ID", **filt}]}]}
    )
    assert bool(t.multiple[0].met(end(fid=fid), no_render)) is expected


def test_duration_window_of_a_day_starts_at_midnight() -> None:
    start, stop = TimeWindow().bounds(ts("2026-12-02T04:05:06"))
    assert start == ts("2026-12-02T00:00:00") and stop == ts("2026-12-03T00:00:00") - 0.001


def test_duration_window_of_minutes_is_aligned() -> None:
    w = (
        trigger(
            preconditions={
                "id": "p",
                "flows": [{"namespace": "a"}],
                "timeWindow": {"window": "PT15M"},
            }
        )
        .multiple[0]
        .window
    )
    assert w.bounds(ts("2026-12-02T04:20:06"))[0] == ts("2026-12-02T04:15:00")


def test_daily_windows() -> None:
    deadline = TimeWindow("DAILY_TIME_DEADLINE", deadline=datetime.min.time().replace(hour=9))
    assert deadline.bounds(ts("2026-12-02T04:00:00")) == (
        ts("2026-12-02T00:00:00"),
        ts("2026-12-02T09:00:00"),
    )
    t = trigger(
        preconditions={
            "id": "p",
            "flows": [{"namespace": "a"}],
            "timeWindow": {
                "type": "DAILY_TIME_WINDOW",
                "startTime": "06:00:00",
                "endTime": "09:00:00",
            },
        }
    )
    assert t.multiple[0].window.bounds(ts("2026-12-02T07:00:00")) == (
        ts("2026-12-02T06:00:00"),
        ts("2026-12-02T09:00:00"),
    )


@pytest.mark.parametrize(
    ("props", "path"),
    [
        ({"states": ["CREATED"]}, "triggers[0].states[0]"),
        ({"inputs": "x"}, "triggers[0].inputs"),
        (
            {"preconditions": {"id": "-bad", "flows": [{"namespace": "a"}]}},
            "triggers[0].preconditions.id",
        ),
        ({"preconditions": {"id": "p"}}, "triggers[0].preconditions"),
        (
            {
                "preconditions": {
                    "id": "p",
                    "where": [{"id": "w", "filters": [{"field": "FLOW_ID", "type": "IN"}]}],
                }
            },
            "triggers[0].preconditions.where[0].filters[0].values",
        ),
        (
            {
                "preconditions": {
                    "id": "p",
                    "flows": [{"namespace": "a"}],
                    "timeWindow": {"window": "soon"},
                }
            },
            "triggers[0].preconditions.timeWindow.window",
        ),
        (
            {"conditions": [{"type": "ExecutionFlow", "namespace": "a"}]},
            "triggers[0].conditions[0].flowId",
        ),
        ({"nope": 1}, "triggers[0].nope"),
    ],
)
def test_problems_name_their_path(props: dict[str, Any], path: str) -> None:
    parsed, problems = parse({"id": "t", "type": TYPE, **props}, "triggers[0]")
    assert parsed is None
    assert path in [p.path for p in problems], problems
