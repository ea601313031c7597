"""Contract: ``update_labels``, the step of the Labels task, in both stores."""

from __future__ import annotations

from executor.models import Label
from executor.state import StateType
from executor.store.base import Status, Store
from tests.contract.support import make_flow, row, submit

S = StateType


def _labels(store: Store, eid: str) -> list[tuple[str, str]]:
    return [(lb.key, lb.value) for lb in store.get_execution(eid).labels]


def test_update_labels_overwrites_in_place_and_appends(store: Store) -> None:
    eid = "e-labels"
    store.create_execution(
        eid,
        make_flow(),
        {},
        [Label(key="team", value="a"), Label(key="env", value="dev")],
        [row("a")],
        pending_deadline=0.0,
    )
    assert store.update_labels(eid, {"env": "prod", "owner": "me"}) == Status.OK
    assert _labels(store, eid) == [("team", "a"), ("env", "prod"), ("owner", "me")]
    assert store.execution_field(eid, "labels") == [
        {"key": "team", "value": "a"},
        {"key": "env", "value": "prod"},
        {"key": "owner", "value": "me"},
    ]


def test_update_labels_on_an_execution_without_labels(store: Store) -> None:
    eid = submit(store, first=[row("a")])
    assert store.update_labels(eid, {}) == Status.OK
    assert _labels(store, eid) == []
    assert store.update_labels(eid, {"k": "v"}) == Status.OK
    assert _labels(store, eid) == [("k", "v")]


def test_update_labels_refused_once_ended_or_missing(store: Store) -> None:
    eid = submit(store, first=[row("a")])
    store.transition_execution(eid, S.RUNNING)
    store.transition_execution(eid, S.KILLING)
    assert store.update_labels(eid, {"k": "v"}) == Status.REFUSED
    assert _labels(store, eid) == []
    assert store.update_labels("e-none", {"k": "v"}) == Status.MISSING
