"""Kestra's own Python SDK (``kestrapy``) drives ``ostra server standalone``: deploy, update,
search and delete flows; create executions (inputs, ``wait``), get, search, kill, restart,
replay, follow and delete them, read their logs and metrics; with a bearer token and with
basic auth.

Each answer is also validated strictly with the SDK's pydantic models: the SDK falls back
to building a model without validation when one does not fit, which would hide a missing
field Kestra fills.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from kestrapy import KestraClient
from kestrapy.exceptions import NotFoundException, UnauthorizedException
from kestrapy.models import (
    Execution,
    FlowWithSource,
    LogEntry,
    QueryFilter,
    QueryFilterField,
    QueryFilterOp,
    StateType,
)

from executor.embedded import free_port
from tests.integration.test_cli_service import Served, _env

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

TOKEN = "kestrapy-" + uuid.uuid4().hex
TENANT = "main"

# The source as a user writes it: comments and blank lines, kept byte for byte.
GREET = """# A flow deployed by Kestra's SDK
id: greet
namespace: {ns}

inputs:
  - id: name
    type: STRING
  - id: times
    type: INT   # how many additions

tasks:
  - id: hello
    type: Log
    message: "hello {{{{ inputs.name }}}}"
  - id: add
    type: Python
    function: tests.helpers.funcs:add
    kwargs: {{a: 2, b: 3}}
"""

SLOW = """id: slow
namespace: {ns}
tasks:
  - id: nap
    type: Sleep
    duration: PT30S
"""

FAILING = """id: failing
namespace: {ns}
tasks:
  - id: boom
    type: Fail
    errorMessage: on purpose
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ostra server standalone`` on a free port with a token; its URL. Stopped by PID."""
    tmp: Path = tmp_path_factory.mktemp("kestrapy")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    served = Served(
        ["server", "standalone", "--port", str(port), "--data-dir", str(tmp / "data")],
        tmp / "standalone.log",
        _env(OSTRA_API_TOKEN=TOKEN),
    )
    try:
        served.wait_healthy(url)
        yield url
    finally:
        if served.proc.poll() is None:
            served.terminate()
        served.stop()


@pytest.fixture
def kestra(server: str) -> KestraClient:
    return KestraClient(host=server, token=TOKEN, timeout=60)


@pytest.fixture
def ns() -> str:
    return f"tests.kestrapy.n{uuid.uuid4().hex[:10]}"


def raw(server: str, path: str) -> Any:
    """The JSON of a GET, as the server sent it."""
    response = requests.get(server + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def _getters(state: dict[str, Any]) -> None:
    # The SDK's State requires getDuration, getStartDate and getEndDate: an artefact of its
    # generated schema (Kestra's State.java has getters, serialised as duration, startDate,
    # endDate; Kestra sends no get* field either). Filled from what Ostra sends.
    state["getDuration"] = state["duration"]
    state["getStartDate"] = state["startDate"]
    state["getEndDate"] = state.get("endDate", state["startDate"])


def strict_execution(server: str, execution_id: str) -> Execution:
    """The execution validated strictly by the SDK's model (no fallback)."""
    data = raw(server, f"/api/v1/{TENANT}/executions/{execution_id}")
    _getters(data["state"])
    for run in data["taskRunList"]:
        _getters(run["state"])
        for attempt in run["attempts"]:
            _getters(attempt["state"])
    return Execution.from_dict(data)


STATE = QueryFilterField.STATE


def in_ns(ns: str) -> QueryFilter:
    return QueryFilter(field=QueryFilterField.NAMESPACE, operation=QueryFilterOp.EQUALS, value=ns)


def wait_for(kestra: KestraClient, execution_id: str, states: set[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        execution = kestra.executions.execution(execution_id, TENANT)
        if execution.state.current.value in states:
            return execution
        assert time.monotonic() < deadline, f"{execution_id}: {execution.state.current}"
        time.sleep(0.1)


def test_deploy_run_with_inputs_and_wait_then_read_everything(
    kestra: KestraClient, server: str, ns: str
) -> None:
    text = GREET.format(ns=ns)
    flow = kestra.flows.create_flow(TENANT, text)
    assert isinstance(flow, FlowWithSource)
    assert (flow.namespace, flow.id, flow.revision) == (ns, "greet", 1)
    assert flow.source == text  # byte for byte, comments included
    assert kestra.flows.flow(ns, "greet", TENANT).source == text
    FlowWithSource.from_dict(raw(server, f"/api/v1/{TENANT}/flows/{ns}/greet"))

    done = kestra.executions.create_execution(
        TENANT, ns, "greet", wait=True, labels=["team:data"], inputs={"name": "Ada", "times": 2}
    )
    assert done.state.current == StateType.SUCCESS
    assert done.inputs == {"name": "Ada", "times": 2}
    assert {(lb.key, lb.value) for lb in done.labels} >= {("team", "data")}
    assert done.url and done.url.endswith(f"/executions/{ns}/greet/{done.id}")
    assert [tr.task_id for tr in done.task_run_list] == ["hello", "add"]
    assert all(
        tr.attempts and tr.attempts[0].state.current == "SUCCESS" for tr in done.task_run_list
    )

    got = strict_execution(server, done.id)
    assert (got.namespace, got.flow_id, got.flow_revision) == (ns, "greet", 1)
    assert got.original_id == done.id and got.deleted is False
    assert [h.state for h in got.state.histories][0] == StateType.CREATED
    assert got.state.duration and got.state.duration.startswith("PT")
    assert got.metadata.attempt_number == 1

    logs = kestra.logs.list_logs_from_execution(done.id, TENANT)
    assert all(isinstance(e, LogEntry) for e in logs)
    hello = [e for e in logs if e.message == "hello Ada"]
    assert hello and hello[0].task_id == "hello" and hello[0].attempt_number == 0
    assert hello[0].namespace == ns and hello[0].flow_id == "greet"
    [strict] = [
        LogEntry.from_dict(e)
        for e in raw(server, f"/api/v1/{TENANT}/logs/{done.id}")
        if e["message"] == "hello Ada"
    ]
    assert strict.level is not None and strict.level.value == "INFO"
    assert kestra.logs.list_logs_from_execution(done.id, TENANT, min_level="ERROR") == []

    metrics = kestra.metrics.execution_metrics(done.id, TENANT)
    assert metrics["total"] >= 1
    [additions] = [m for m in metrics["results"] if m["name"] == "additions"]
    assert additions["type"] == "counter" and additions["taskId"] == "add"

    found = kestra.executions.search_executions(
        TENANT,
        page=1,
        size=10,
        filters=[
            QueryFilter(field=QueryFilterField.NAMESPACE, operation=QueryFilterOp.EQUALS, value=ns),
            QueryFilter(
                field=QueryFilterField.STATE, operation=QueryFilterOp.IN, value=["SUCCESS"]
            ),
        ],
    )
    assert found["total"] == 1 and found["results"][0]["id"] == done.id
    assert (
        kestra.executions.search_executions(
            TENANT,
            filters=[
                QueryFilter(
                    field=QueryFilterField.NAMESPACE, operation=QueryFilterOp.EQUALS, value=ns
                ),
                QueryFilter(
                    field=QueryFilterField.STATE, operation=QueryFilterOp.EQUALS, value="FAILED"
                ),
            ],
        )["total"]
        == 0
    )

    def within(*extra: QueryFilter) -> int:
        by_ns = QueryFilter(
            field=QueryFilterField.NAMESPACE, operation=QueryFilterOp.EQUALS, value=ns
        )
        total: int = kestra.executions.search_executions(TENANT, filters=[by_ns, *extra])["total"]
        return total

    hour = QueryFilter(
        field=QueryFilterField.TIME_RANGE, operation=QueryFilterOp.EQUALS, value="PT1H"
    )
    assert within(hour) == 1
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    after = QueryFilter(
        field=QueryFilterField.START_DATE,
        operation=QueryFilterOp.GREATER_THAN_OR_EQUAL_TO,
        value=later,
    )
    assert within(after) == 0

    flows = kestra.flows.search_flows(
        TENANT,
        filters=[
            QueryFilter(field=QueryFilterField.NAMESPACE, operation=QueryFilterOp.EQUALS, value=ns)
        ],
    )
    assert flows.total == 1 and flows.results[0].id == "greet"
    assert [f.id for f in kestra.flows.list_flows_by_namespace(ns, TENANT)] == ["greet"]

    by_flow = kestra.executions.search_executions_by_flow_id(TENANT, ns, "greet")
    assert [x["id"] for x in by_flow["results"]] == [done.id]
    changed = text.replace("hello {{ inputs.name }}", "hi {{ inputs.name }}")
    assert kestra.flows.update_flow(ns, "greet", TENANT, changed).revision == 2
    kestra.executions.delete_execution(done.id, TENANT)
    with pytest.raises(NotFoundException):
        kestra.executions.execution(done.id, TENANT)
    kestra.flows.delete_flow(ns, "greet", TENANT)
    with pytest.raises(NotFoundException):
        kestra.flows.flow(ns, "greet", TENANT)


def test_follow_kill_restart_replay(kestra: KestraClient, server: str, ns: str) -> None:
    kestra.flows.create_flow(TENANT, SLOW.format(ns=ns))
    slow = kestra.executions.create_execution(TENANT, ns, "slow")
    assert slow.state.current == StateType.CREATED
    followed = kestra.executions.follow_execution(slow.id, TENANT)
    first = next(followed)
    assert isinstance(first, Execution) and first.id == slow.id
    wait_for(kestra, slow.id, {"RUNNING"})
    killed = kestra.executions.kill_execution(slow.id, TENANT)
    assert killed.id == slow.id
    seen = [first, *followed]  # the stream ends once the execution ended
    assert seen[-1].state.current == StateType.KILLED
    assert all(e.id == slow.id for e in seen)

    kestra.flows.create_flow(TENANT, FAILING.format(ns=ns))
    failed = kestra.executions.create_execution(TENANT, ns, "failing", wait=True)
    assert failed.state.current == StateType.FAILED
    restarted = kestra.executions.restart_execution(failed.id, TENANT)
    assert restarted.id == failed.id
    again = wait_for(kestra, failed.id, {"FAILED"}, timeout=60)
    assert StateType.RESTARTED in [h.state for h in again.state.histories]
    assert strict_execution(server, failed.id).metadata.attempt_number == 2

    replayed = kestra.executions.replay_execution(failed.id, TENANT)
    assert replayed.id != failed.id and replayed.flow_id == "failing"
    assert wait_for(kestra, replayed.id, {"FAILED"}).namespace == ns


def test_basic_auth_wrong_token_and_other_tenant(server: str, ns: str) -> None:
    basic = KestraClient(host=server, username="admin@kestra.io", password=TOKEN, timeout=30)
    basic.flows.create_flow(TENANT, FAILING.format(ns=ns))
    assert basic.flows.flow(ns, "failing", TENANT).revision == 1
    with pytest.raises(UnauthorizedException):
        KestraClient(host=server, token="wrong", timeout=30).flows.flow(ns, "failing", TENANT)
    with pytest.raises(UnauthorizedException):
        KestraClient(host=server, username="a", password="wrong").flows.flow(ns, "failing", TENANT)
    with pytest.raises(NotFoundException, match="tenant"):
        basic.flows.flow(ns, "failing", "other")
