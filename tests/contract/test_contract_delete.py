"""Contract: deleting executions and flows, and keeping a flow's source text."""

from __future__ import annotations

import pytest

from executor.errors import ExecutionNotFound, FlowNotFound, StateConflict
from executor.models import LogEntry
from executor.state import StateType
from executor.store.base import Store
from tests.contract.support import make_flow, row, submit

S = StateType


def test_delete_an_ended_execution(store: Store) -> None:
    eid, other = submit(store, first=[row("a")]), submit(store)
    store.transition_execution(eid, S.RUNNING)
    store.transition_execution(eid, S.SUCCESS)  # never marked for retention
    store.append_log(LogEntry(message="x", execution_id=eid))
    assert store.delete_execution(eid) is True
    assert store.execution_state(eid) is None
    with pytest.raises(ExecutionNotFound):
        store.get_execution(eid)
    with pytest.raises(ExecutionNotFound):
        store.logs(eid)
    assert store.task_run_rows(eid) == []
    assert store.search() == [other]
    assert store.search(namespace="ns", flow_id="f") == [other]
    assert store.search(state=S.SUCCESS) == []
    assert store.delete_execution(eid) is False  # gone already


def test_delete_refuses_an_execution_not_ended(store: Store) -> None:
    eid = submit(store)
    store.transition_execution(eid, S.RUNNING)
    with pytest.raises(StateConflict, match="RUNNING"):
        store.delete_execution(eid)
    assert store.execution_state(eid) == S.RUNNING
    assert store.delete_execution("nope") is False


def test_flow_source_kept_byte_for_byte(store: Store) -> None:
    flow = make_flow()
    text = "# a comment\nid: f\nnamespace: ns\ntasks: []  # the text, not the definition\n"
    assert store.deploy_flow_source(flow, text).revision == 1
    assert store.flow_source("ns", "f", 1) == text
    # the same definition sent as another text: same revision, that text kept
    assert store.deploy_flow_source(flow, text + "\n# more\n").revision == 1
    assert store.flow_source("ns", "f", 1) == text + "\n# more\n"
    changed = make_flow(tasks=("a",))
    assert store.deploy_flow_source(changed, "two").revision == 2
    assert store.flow_source("ns", "f", 2) == "two"
    assert store.flow_source("ns", "f", 3) is None
    assert store.deploy_flow(make_flow(fid="g")).revision == 1
    assert store.flow_source("ns", "g", 1) is None  # deployed without a text


def test_delete_flow(store: Store) -> None:
    store.deploy_flow_source(make_flow(), "one")
    store.deploy_flow_source(make_flow(tasks=("a",)), "two")
    store.deploy_flow(make_flow(fid="g"))
    assert store.delete_flow("ns", "f") is True
    with pytest.raises(FlowNotFound):
        store.get_flow("ns", "f")
    assert store.list_flows() == [("ns", "g")]
    # revisions stay readable by number: executions of them go on
    assert [t.id for t in store.get_flow("ns", "f", 1).tasks] == ["a", "b"]
    assert store.delete_flow("ns", "f") is False
    # deployed again: the revisions continue after the one the deletion took (Kestra's
    # FlowWithSource.toDeleted), none is overwritten
    again = store.deploy_flow_source(make_flow(tasks=("c",)), "three")
    assert again.revision == 4
    assert store.get_flow("ns", "f").revision == 4
    assert store.flow_source("ns", "f", 1) == "one"
    assert sorted(store.list_flows()) == [("ns", "f"), ("ns", "g")]
