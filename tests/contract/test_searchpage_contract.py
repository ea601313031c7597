"""Contract: a search page (``Store.search_page``), every filter, its total, paging edges,
and the indexes kept through state moves, relabels and deletion. ``RedisStore`` answers
from sorted-set indexes, ``MemoryStore`` by checking every execution: the same answers."""

from __future__ import annotations

import time

import pytest

from executor.models import Label
from executor.state import StateType
from executor.store.base import Store
from tests.contract.support import make_flow, new_id, row

S = StateType


def _submit(store: Store, namespace: str, fid: str, **labels: str) -> str:
    eid = new_id("e")
    created = store.create_execution(
        eid,
        make_flow(fid, namespace=namespace),
        {},
        [Label(key=k, value=v) for k, v in labels.items()],
        [],
        pending_deadline=0.0,
    )
    assert created is not None
    time.sleep(0.002)  # creation time orders them
    return eid


def _world(store: Store) -> dict[str, str]:
    """Executions in namespaces a, a.b, a.b.c, a.bc and z, in creation order."""
    x = {
        "a_f": _submit(store, "a", "f", env="prod"),
        "ab_f": _submit(store, "a.b", "f", env="dev", team="x"),
        "ab_g": _submit(store, "a.b", "g", env="prod", team="x"),
        "abc_f": _submit(store, "a.b.c", "f"),
        "abc2_f": _submit(store, "a.bc", "f", env="prod"),
        "z_g": _submit(store, "z", "g", env="prod", team="x"),
    }
    store.transition_execution(x["ab_g"], S.RUNNING)
    store.transition_execution(x["abc_f"], S.RUNNING)
    store.transition_execution(x["z_g"], S.RUNNING)
    store.transition_execution(x["z_g"], S.SUCCESS)
    return x


def _page(store: Store, **filters: object) -> tuple[list[str], int]:
    return store.search_page(**filters)  # type: ignore[arg-type]


def test_searchpage_every_filter(store: Store) -> None:
    x = _world(store)

    def ids(*names: str) -> tuple[list[str], int]:
        return [x[n] for n in names], len(names)

    everything = ("z_g", "abc2_f", "abc_f", "ab_g", "ab_f", "a_f")  # newest first
    assert _page(store) == ids(*everything)
    # namespace: exactly that one
    assert _page(store, namespace="a.b") == ids("ab_g", "ab_f")
    assert _page(store, namespace="a") == ids("a_f")
    # namespace prefix: it and its sub-namespaces, not a.bc under a.b
    assert _page(store, namespace_prefix="a.b") == ids("abc_f", "ab_g", "ab_f")
    assert _page(store, namespace_prefix="a") == ids("abc2_f", "abc_f", "ab_g", "ab_f", "a_f")
    assert _page(store, namespace_prefix="a.b.c") == ids("abc_f")
    assert _page(store, namespace_prefix="a.") == ([], 0)
    assert _page(store, namespace_prefix="b") == ([], 0)
    # flow, flow id alone, state
    assert _page(store, namespace="a.b", flow_id="f") == ids("ab_f")
    assert _page(store, flow_id="f") == ids("abc2_f", "abc_f", "ab_f", "a_f")
    assert _page(store, state=S.RUNNING) == ids("abc_f", "ab_g")
    assert _page(store, state=S.SUCCESS) == ids("z_g")
    assert _page(store, state=S.FAILED) == ([], 0)
    # pairs and more
    assert _page(store, namespace="a.b", state=S.CREATED) == ids("ab_f")
    assert _page(store, namespace_prefix="a", state=S.RUNNING) == ids("abc_f", "ab_g")
    assert _page(store, namespace_prefix="a", state=S.CREATED) == ids("abc2_f", "ab_f", "a_f")
    assert _page(store, namespace="a.b", flow_id="g", state=S.RUNNING) == ids("ab_g")
    assert _page(store, namespace="a.b", flow_id="g", state=S.CREATED) == ([], 0)
    assert _page(store, flow_id="f", state=S.RUNNING) == ids("abc_f")
    assert _page(store, flow_id="f", namespace_prefix="a.b") == ids("abc_f", "ab_f")
    assert _page(store, namespace="a.b.c", namespace_prefix="a") == ids("abc_f")
    assert _page(store, namespace="a.bc", namespace_prefix="a.b") == ([], 0)
    # labels: every one given must match
    assert _page(store, labels={"env": "prod"}) == ids("z_g", "abc2_f", "ab_g", "a_f")
    assert _page(store, labels={"env": "prod", "team": "x"}) == ids("z_g", "ab_g")
    assert _page(store, labels={"env": "nope"}) == ([], 0)
    assert _page(store, labels={"env": "prod"}, state=S.RUNNING) == ids("ab_g")
    assert _page(store, labels={"team": "x"}, namespace_prefix="a") == ids("ab_g", "ab_f")
    assert _page(store, labels={"env": "prod"}, namespace="a", flow_id="f") == ids("a_f")
    # search() is the page without the total
    assert store.search(namespace_prefix="a.b", state=S.RUNNING) == [x["abc_f"], x["ab_g"]]


def test_searchpage_paging_edges(store: Store) -> None:
    x = _world(store)
    order = [x[n] for n in ("z_g", "abc2_f", "abc_f", "ab_g", "ab_f", "a_f")]
    assert _page(store, limit=2) == (order[:2], 6)
    assert _page(store, limit=2, offset=2) == (order[2:4], 6)
    assert _page(store, limit=4, offset=4) == (order[4:], 6)  # the last, short page
    assert _page(store, limit=2, offset=6) == ([], 6)  # past the end: the total still
    assert _page(store, limit=2, offset=100) == ([], 6)
    assert _page(store, limit=0) == ([], 6)
    assert _page(store, limit=2**31) == (order, 6)
    assert _page(store, namespace_prefix="a", limit=2, offset=3) == (order[4:], 5)
    assert _page(store, labels={"env": "prod"}, limit=1, offset=1) == ([x["abc2_f"]], 4)
    with pytest.raises(ValueError, match="offset"):
        store.search_page(offset=-1)


def test_searchpage_by_creation_range(store: Store) -> None:
    x = _world(store)
    order = [x[n] for n in ("z_g", "abc2_f", "abc_f", "ab_g", "ab_f", "a_f")]

    def created(name: str) -> float:
        origin = store.execution_origin(x[name])
        assert origin is not None
        return origin[2]

    # Bounds are inclusive: from ab_g's creation to abc2_f's.
    low, high = created("ab_g"), created("abc2_f")
    assert _page(store, created_from=low) == (order[:4], 4)
    assert _page(store, created_to=high) == (order[1:], 5)
    assert _page(store, created_from=low, created_to=high) == (order[1:4], 3)
    assert _page(store, created_from=low, created_to=high, limit=2, offset=1) == (order[2:4], 3)
    assert _page(store, created_from=low, created_to=high, limit=0) == ([], 3)
    assert _page(store, created_from=high + 3600) == ([], 0)
    # with the other filters: one set, and an intersection
    assert _page(store, created_from=low, state=S.RUNNING) == ([x["abc_f"], x["ab_g"]], 2)
    assert _page(store, created_to=high, labels={"env": "prod"}) == (
        [x["abc2_f"], x["ab_g"], x["a_f"]],
        3,
    )
    assert _page(store, created_from=low, labels={"team": "x"}, namespace_prefix="a") == (
        [x["ab_g"]],
        1,
    )


def test_searchpage_by_any_of_several_states(store: Store) -> None:
    x = _world(store)
    # z_g SUCCESS; ab_g, abc_f RUNNING; the rest CREATED
    assert _page(store, state=[S.SUCCESS, S.RUNNING]) == ([x["z_g"], x["abc_f"], x["ab_g"]], 3)
    assert _page(store, state=[S.RUNNING]) == ([x["abc_f"], x["ab_g"]], 2)
    assert _page(store, state=[S.SUCCESS, S.SUCCESS]) == ([x["z_g"]], 1)
    assert _page(store, state=[S.FAILED, S.KILLED]) == ([], 0)
    assert _page(store, state=[]) == _page(store)  # no state named: any state
    # with a scope, labels, paging and a creation range
    assert _page(store, state=[S.CREATED, S.RUNNING], namespace_prefix="a.b") == (
        [x["abc_f"], x["ab_g"], x["ab_f"]],
        3,
    )
    assert _page(store, state=[S.SUCCESS, S.CREATED], labels={"env": "prod"}) == (
        [x["z_g"], x["abc2_f"], x["a_f"]],
        3,
    )
    assert _page(store, state=[S.SUCCESS, S.CREATED], limit=2, offset=1) == (
        [x["abc2_f"], x["ab_f"]],
        4,
    )
    origin = store.execution_origin(x["ab_g"])
    assert origin is not None
    assert _page(store, state=[S.SUCCESS, S.RUNNING], created_from=origin[2]) == (
        [x["z_g"], x["abc_f"], x["ab_g"]],
        3,
    )
    assert _page(store, state=[S.CREATED, S.RUNNING], created_to=origin[2]) == (
        [x["ab_g"], x["ab_f"], x["a_f"]],
        3,
    )


def test_searchpage_follows_state_moves(store: Store) -> None:
    """Every step that moves an execution keeps each filter's index: start, finish,
    kill, restart, the end."""
    flow = make_flow("f", namespace="m.n", tasks=("a",))
    first = row("a")
    eid = new_id("e")
    assert store.create_execution(eid, flow, {}, [], [first], pending_deadline=0.0)

    def where() -> list[str]:
        found = []
        for st in S:
            for filters in (
                {"namespace": "m.n"},
                {"namespace_prefix": "m"},
                {"namespace": "m.n", "flow_id": "f"},
                {"flow_id": "f"},
            ):
                ids, total = store.search_page(state=st, **filters)  # type: ignore[arg-type]
                if ids:
                    assert ids == [eid] and total == 1
                    found.append(st.value)
        return sorted(set(found))

    assert where() == ["CREATED"]
    assert store.start_attempt(eid, first.id, "w", 30.0).status == "START"
    assert where() == ["RUNNING"]
    assert store.kill_execution(eid).status == "KILLING"
    assert where() == ["KILLING"]
    assert store.transition_execution(eid, S.KILLED).status == "OK"
    assert where() == ["KILLED"]
    assert store.restart_execution(eid, [], 0.0).status == "OK"
    assert where() == ["RESTARTED"]
    assert store.transition_execution(eid, S.RUNNING).status == "OK"
    assert store.transition_execution(eid, S.FAILED).status == "OK"
    assert where() == ["FAILED"]
    assert store.search_page(state=S.KILLED, namespace_prefix="m") == ([], 0)


def test_searchpage_follows_relabels_and_deletion(store: Store) -> None:
    eid = _submit(store, "r", "f", env="dev", keep="1")
    other = _submit(store, "r", "f", env="prod")
    assert store.update_labels(eid, {"env": "prod", "new": "yes"}) == "OK"
    assert store.search_page(labels={"env": "dev"}) == ([], 0)
    assert store.search_page(labels={"env": "prod"}) == ([other, eid], 2)
    assert store.search_page(labels={"new": "yes", "keep": "1"}) == ([eid], 1)
    # a label key or value with the characters of the index's own names
    assert store.update_labels(eid, {"a:b=c": "=d:"}) == "OK"
    assert store.search_page(labels={"a:b=c": "=d:"}) == ([eid], 1)
    assert store.search_page(labels={"a:b": "c=:d:"}) == ([], 0)
    store.transition_execution(eid, S.RUNNING)
    store.transition_execution(eid, S.SUCCESS)
    assert store.delete_execution(eid)
    for filters in (
        {},
        {"namespace": "r"},
        {"namespace_prefix": "r"},
        {"flow_id": "f"},
        {"namespace": "r", "flow_id": "f"},
        {"labels": {"env": "prod"}},
    ):
        assert store.search_page(**filters) == ([other], 1)  # type: ignore[arg-type]
        assert store.search_page(state=S.SUCCESS, **filters) == ([], 0)  # type: ignore[arg-type]
    assert store.search_page(labels={"new": "yes"}) == ([], 0)
