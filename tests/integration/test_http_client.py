"""``HttpClient`` against a real uvicorn server (in a thread) on a real Redis and worker:
the same methods, return types and errors as ``Client``."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from executor import (
    Client,
    Execution,
    ExecutionNotFound,
    Flow,
    FlowNotFound,
    FlowValidationError,
    InputValidationError,
    StateConflict,
    StateEvent,
    StateType,
    WaitTimeout,
)
from executor.api.app import create_app
from executor.api.http_client import ApiUnavailable, HttpClient, PayloadTooLarge, Unauthorized
from executor.embedded import EmbeddedRedis, free_port
from executor.errors import NotFoundError, StoreError
from executor.models import LogEntry, MetricEntry
from tests.helpers.api import ThreadServer

pytestmark = pytest.mark.integration

FLOW = """
id: remote
namespace: {ns}
inputs:
  - id: a
    type: INT
  - id: password
    type: SECRET
    required: false
tasks:
  - id: add
    type: Python
    function: tests.helpers.funcs:add
    kwargs: {{a: "{{{{ inputs.a }}}}", b: 1}}
  - id: nap
    type: Sleep
    duration: {duration}
"""


@pytest.fixture(scope="module")
def local(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture(scope="module")
def server(local: Client) -> Iterator[ThreadServer]:
    s = ThreadServer(create_app(local, token="", max_body=64 * 1024)).start()
    yield s
    s.stop()


@pytest.fixture
def remote(server: ThreadServer) -> Iterator[HttpClient]:
    with HttpClient(server.url, token="") as c:
        yield c


@pytest.fixture
def ns() -> str:
    return f"tests.http.n{uuid.uuid4().hex[:10]}"


def test_same_methods_as_client() -> None:
    wanted = [
        "deploy",
        "flow",
        "submit",
        "get",
        "state",
        "wait",
        "follow",
        "search",
        "logs",
        "metrics",
        "kill",
        "restart",
        "replay",
        "pause",
        "resume",
    ]
    for name in wanted:
        ours = inspect.signature(getattr(HttpClient, name))
        theirs = inspect.signature(getattr(Client, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        assert ours.return_annotation == theirs.return_annotation, name


def test_round_trip(remote: HttpClient, local: Client, ns: str, worker: Any) -> None:
    flow = remote.deploy(FLOW.format(ns=ns, duration="PT0.1S"))
    assert isinstance(flow, Flow) and (flow.namespace, flow.id, flow.revision) == (ns, "remote", 1)
    assert remote.deploy(Flow.from_yaml(FLOW.format(ns=ns, duration="PT0.1S"))).revision == 1
    assert remote.flow(ns, "remote") == local.flow(ns, "remote")

    execution = remote.submit(
        (ns, "remote"), inputs={"a": 41, "password": "pw"}, labels={"team": "data"}
    )
    assert isinstance(execution, Execution)
    assert execution.inputs == {"a": 41, "password": "******"}
    assert {lb.key: lb.value for lb in execution.labels}["team"] == "data"

    done = remote.wait(execution.id, timeout=60)
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("add").outputs == {"sum": 42, "attempt": 1}
    assert remote.state(execution.id) == StateType.SUCCESS

    mine, theirs = remote.get(execution.id), local.get(execution.id)
    assert mine.model_dump(exclude={"inputs": True, "state": {"duration"}}) == theirs.model_dump(
        exclude={"inputs": True, "state": {"duration"}}
    )
    logs = remote.logs(execution.id)
    assert logs == local.logs(execution.id) and all(isinstance(e, LogEntry) for e in logs)
    assert any(e.message == "adding 41 and 1" for e in logs)
    metrics = remote.metrics(execution.id)
    assert metrics == local.metrics(execution.id)
    assert all(isinstance(m, MetricEntry) for m in metrics)
    assert [m.name for m in metrics] == ["additions"]


def test_submit_a_flow_object_deploys_it(
    remote: HttpClient, local: Client, ns: str, worker: Any
) -> None:
    flow = Flow.from_yaml(FLOW.format(ns=ns, duration="PT0.1S"))
    execution = remote.submit(flow, inputs={"a": 1})
    assert local.flow(ns, "remote").revision == 1
    assert remote.wait(execution.id, timeout=60).state.current == StateType.SUCCESS
    text = FLOW.format(ns=ns, duration="PT0.2S")
    again = remote.submit(text, inputs={"a": 2})
    assert again.flow_revision == 2
    assert remote.wait(again.id, timeout=60).task_run("add").outputs["sum"] == 3


def test_follow_yields_state_events_to_the_end(
    remote: HttpClient, local: Client, ns: str, worker: Any
) -> None:
    remote.deploy(FLOW.format(ns=ns, duration="PT0.5S"))
    execution = remote.submit((ns, "remote"), inputs={"a": 1})
    events = list(remote.follow(execution.id, timeout=60))
    assert all(isinstance(e, StateEvent) for e in events)
    assert events == list(local.follow(execution.id))
    last = events[-1]
    assert last.task_run_id is None and last.state == StateType.SUCCESS


def test_wait_times_out(remote: HttpClient, local: Client, ns: str, worker: Any) -> None:
    remote.deploy(FLOW.format(ns=ns, duration="PT3S"))
    execution = remote.submit((ns, "remote"), inputs={"a": 1})
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        remote.wait(execution.id, timeout=0.5)
    assert time.monotonic() - started < 3
    assert caught.value.execution_id == execution.id
    with pytest.raises(WaitTimeout):
        list(remote.follow(execution.id, timeout=0.5))
    local.wait(execution.id, timeout=60)


def test_search(remote: HttpClient, local: Client, ns: str, worker: Any) -> None:
    remote.deploy(FLOW.format(ns=ns, duration="PT0.01S"))
    ids = [remote.submit((ns, "remote"), inputs={"a": i}).id for i in range(5)]
    for eid in ids:
        remote.wait(eid, timeout=60)
    newest_first = list(reversed(ids))
    assert [x.id for x in remote.search(namespace=ns)] == newest_first
    assert [x.id for x in remote.search(namespace=ns, flow_id="remote", limit=2)] == newest_first[
        :2
    ]
    assert [x.id for x in remote.search(namespace=ns, limit=2, offset=2)] == newest_first[2:4]
    assert [x.id for x in remote.search(namespace=ns, limit=3, offset=1)] == newest_first[1:4]
    assert [x.id for x in remote.search(namespace=ns, state="SUCCESS")] == newest_first
    assert remote.search(namespace=ns, state=StateType.FAILED) == []
    assert [x.id for x in remote.search(namespace=ns, limit=2, offset=2)] == [
        x.id for x in local.search(namespace=ns, limit=2, offset=2)
    ]


def test_errors_are_the_clients_errors(remote: HttpClient, local: Client, ns: str) -> None:
    with pytest.raises(FlowValidationError) as bad_flow:
        remote.deploy("id: x\nnamespace: y\ntasks:\n  - id: a\n    type: Nope\n")
    assert [p.path for p in bad_flow.value.problems] == ["tasks[0].type"]

    remote.deploy(FLOW.format(ns=ns, duration="PT0.1S"))
    with pytest.raises(InputValidationError) as bad_inputs:
        remote.submit((ns, "remote"), inputs={"a": "x", "nope": 1})
    assert {p.path for p in bad_inputs.value.problems} == {"inputs.a", "inputs.nope"}
    with pytest.raises(InputValidationError):
        remote.submit((ns, "remote"), inputs={"a": 1}, labels={"k:v": "x"})

    with pytest.raises(ExecutionNotFound) as missing:
        remote.get("nope")
    assert missing.value.execution_id == "nope"
    for call in (
        remote.logs,
        remote.metrics,
        remote.kill,
        remote.restart,
        remote.pause,
        remote.resume,
        remote.replay,
        remote.wait,
    ):
        with pytest.raises(NotFoundError):
            call("nope")
    with pytest.raises(ExecutionNotFound):
        list(remote.follow("nope"))
    with pytest.raises(FlowNotFound) as no_flow:
        remote.submit((ns, "nope"))
    assert (no_flow.value.namespace, no_flow.value.flow_id) == (ns, "nope")
    with pytest.raises(FlowNotFound):
        remote.flow(ns, "nope")
    with pytest.raises(PayloadTooLarge):
        remote.submit((ns, "remote"), inputs={"a": 1, "password": "x" * 100_000})


def test_a_flow_with_bad_inputs_is_not_deployed(remote: HttpClient, local: Client, ns: str) -> None:
    with pytest.raises(InputValidationError):
        remote.submit(Flow.from_yaml(FLOW.format(ns=ns, duration="PT1S")), inputs={"a": "x"})
    with pytest.raises(FlowNotFound):
        local.flow(ns, "remote")


def test_state_conflict(remote: HttpClient, ns: str, worker: Any) -> None:
    remote.deploy(FLOW.format(ns=ns, duration="PT0.01S"))
    done = remote.wait(remote.submit((ns, "remote"), inputs={"a": 1}).id, timeout=60)
    for call in (remote.kill, remote.restart, remote.pause, remote.resume):
        with pytest.raises(StateConflict):
            call(done.id)


def test_control_methods(remote: HttpClient, local: Client, ns: str, worker: Any) -> None:
    remote.deploy(FLOW.format(ns=ns, duration="PT20S"))
    execution = remote.submit((ns, "remote"), inputs={"a": 1})
    deadline = time.monotonic() + 30
    while not any(
        tr.task_id == "nap" and tr.state.current == StateType.RUNNING
        for tr in local.get(execution.id).task_run_list
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert remote.pause(execution.id).state.current == StateType.PAUSED
    assert remote.resume(execution.id).state.current == StateType.RUNNING
    assert remote.kill(execution.id).state.current in (StateType.KILLING, StateType.KILLED)
    killed = remote.wait(execution.id, timeout=30)
    assert killed.state.current == StateType.KILLED
    restarted = remote.restart(execution.id)
    assert restarted.id == execution.id
    assert remote.kill(execution.id).id == execution.id
    assert remote.wait(execution.id, timeout=30).state.current == StateType.KILLED
    replay = remote.replay(execution.id, inputs={"a": 5})
    assert replay.id != execution.id and replay.parent_id == execution.id
    assert replay.inputs["a"] == 5
    remote.kill(replay.id)
    add = killed.task_run("add")
    from_add = remote.replay(execution.id, task_run_id=add.id)
    assert from_add.parent_id == execution.id
    remote.kill(from_add.id)
    remote.wait(from_add.id, timeout=30)
    remote.wait(replay.id, timeout=30)


def test_token_and_unauthorized(local: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadServer(create_app(local, token="right")).start()
    try:
        with HttpClient(server.url, token="wrong") as wrong, pytest.raises(Unauthorized):
            wrong.search()
        with HttpClient(server.url, token="") as none, pytest.raises(Unauthorized):
            none.get("x")
        with HttpClient(server.url + "/api/v1/", token="right") as right:
            assert right.search(namespace="none.such") == []
            assert "right" not in repr(right)
            assert right.health()["status"] == "UP"
        monkeypatch.setenv("OSTRA_API_TOKEN", "right,other")
        with HttpClient(server.url) as from_env:
            assert from_env.search(namespace="none.such") == []
    finally:
        server.stop()


def test_unreachable_server_and_redis(local: Client) -> None:
    with HttpClient(f"http://127.0.0.1:{free_port()}", token="") as nowhere:
        with pytest.raises(ApiUnavailable) as caught:
            nowhere.get("x")
        assert isinstance(caught.value, StoreError)
        with pytest.raises(ApiUnavailable):
            nowhere.health()
    no_redis = Client(f"redis://127.0.0.1:{free_port()}/0")
    server = ThreadServer(create_app(no_redis, token="")).start()
    try:
        with HttpClient(server.url, token="") as remote:
            with pytest.raises(ApiUnavailable):
                remote.get("x")
            with pytest.raises(ApiUnavailable):
                remote.health()
    finally:
        server.stop()
        no_redis.store.r.close()
        no_redis.orchestrator.dispatcher.app.close()


def test_nothing_stored_for_refused_requests(redis_server: EmbeddedRedis, ns: str) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + "/10"
    client, raw = Client(url), redis.Redis.from_url(url)
    raw.flushdb()
    server = ThreadServer(create_app(client, token="")).start()
    try:
        with HttpClient(server.url, token="") as remote:
            remote.deploy(FLOW.format(ns=ns, duration="PT1S"))
            before = raw.dbsize()
            with pytest.raises(InputValidationError):
                remote.submit((ns, "remote"), inputs={"a": "x"})
            with pytest.raises(FlowValidationError):
                remote.deploy("id: x\nnamespace: y\ntasks: []\n")
            assert raw.dbsize() == before
    finally:
        server.stop()
        raw.flushdb()
        raw.close()
        client.store.r.close()
        client.orchestrator.dispatcher.app.close()


def test_facade_methods_of_both_transports(
    remote: HttpClient, local: Client, ns: str, worker: Any
) -> None:
    for name in ("ping", "close", "search_page"):
        ours = inspect.signature(getattr(HttpClient, name))
        theirs = inspect.signature(getattr(Client, name))
        assert list(ours.parameters) == list(theirs.parameters), name
    local.ping()
    remote.ping()
    with Client(local.settings.url) as fresh:  # closed on leaving
        fresh.ping()
    remote.deploy(FLOW.format(ns=ns, duration="PT0.01S"))
    ids, gaps = [], []
    for i in range(3):
        ids.append(remote.submit((ns, "remote"), inputs={"a": i}).id)
        time.sleep(0.02)
        gaps.append(datetime.now(UTC))
        time.sleep(0.02)
    for eid in ids:
        remote.wait(eid, timeout=60)
    newest_first = list(reversed(ids))
    for client in (local, remote):
        page = client.search_page(namespace=ns, page=2, size=2)
        assert page.total == 3
        assert [x.id for x in page.results] == newest_first[2:]
        assert client.search_page(namespace=ns, state="FAILED").total == 0
        assert client.search_page(namespace=ns, state=["FAILED", StateType.SUCCESS]).total == 3
        # by creation time: a naive datetime is UTC on both transports
        middle = client.search_page(
            namespace=ns, created_from=gaps[0], created_to=gaps[1].replace(tzinfo=None)
        )
        assert [x.id for x in middle.results] == [ids[1]] and middle.total == 1
        assert [x.id for x in client.search(namespace=ns, created_to=gaps[0])] == [ids[0]]
    events = local.events(ids[0])
    assert events and events[-1][1].state == StateType.SUCCESS
    after = local.events(ids[0], events[0][0])
    assert [e for _, e in after] == [e for _, e in events[1:]]
    assert local.events("no-such-execution") == []
    with (
        HttpClient(f"http://127.0.0.1:{free_port()}", token="") as nowhere,
        pytest.raises(ApiUnavailable),
    ):
        nowhere.ping()
