"""Kestra's REST API as its clients see it: paths with the tenant, the JSON shapes of
executions, logs, metrics and flows, paged results, flow sources, deletions and the
follow stream.

Sources (Kestra, ``webserver/src/main/java/io/kestra/webserver/controllers/api/``):
``ExecutionController.java``, ``FlowController.java``, ``LogController.java``,
``MetricController.java``; models in ``core/src/main/java/io/kestra/core/models/``
(``executions/Execution.java``, ``executions/ExecutionMetadata.java``,
``executions/LogEntry.java``, ``executions/TaskRun.java``, ``flows/State.java``,
``flows/FlowWithSource.java``); the tenant paths and ``/actions/`` from Kestra's
generated SDK ``kestrapy`` 2.0.3 (``kestrapy/api/executions_api.py``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from executor import Client
from executor.api.app import create_app
from tests.helpers.api import ThreadServer, parse_sse

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

YAML = {"Content-Type": "application/x-yaml"}
ISO_DURATION = re.compile(r"^PT(\d+H)?(\d+M)?(\d+(\.\d+)?S)?$")

# Kestra's own flow YAML, comments and blank lines included (a user's source).
HELLO = """# says hello, then adds
id: hello
namespace: {ns}

labels:
  team: data   # a flow label

tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hello
  - id: add
    type: Python
    function: tests.helpers.funcs:add
    kwargs: {{a: 2, b: 3}}
"""

FLAKY = """id: flaky
namespace: {ns}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: on purpose
    retry:
      type: constant
      interval: PT0.01S
      maxAttempt: 2
"""

SLOW = """id: slow
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.6S
"""


@pytest.fixture
def http(client: Client, worker: Any) -> Iterator[TestClient]:
    with TestClient(create_app(client, token="")) as c:
        yield c


@pytest.fixture
def ns() -> str:
    return f"tests.kestra.api.n{uuid.uuid4().hex[:10]}"


def deploy(http: TestClient | httpx.Client, text: str, tenant: str = "main/") -> Any:
    response = http.post(f"/api/v1/{tenant}flows", content=text, headers=YAML)
    assert response.status_code == 200, response.text
    return response.json()


def run(http: TestClient, ns: str, flow_id: str) -> dict[str, Any]:
    response = http.post(f"/api/v1/main/executions/{ns}/{flow_id}", params={"wait": "true"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ExecutionController.java (the tenant: SDK's _tenant_path, /api/v1/{tenant}/...)
def test_tenant_paths_and_other_tenants(http: TestClient, ns: str) -> None:
    deploy(http, HELLO.format(ns=ns))
    done = run(http, ns, "hello")
    with_tenant = http.get(f"/api/v1/main/executions/{done['id']}").json()
    without = http.get(f"/api/v1/executions/{done['id']}").json()
    assert with_tenant == without and with_tenant["state"]["current"] == "SUCCESS"
    for path in (
        f"/api/v1/other/executions/{done['id']}",
        f"/api/v1/other/flows/{ns}/hello",
        f"/api/v1/other/logs/{done['id']}",
        f"/api/v1/other/metrics/{done['id']}",
        "/api/v1/other/executions/search",
    ):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "tenant 'other' not found" in response.json()["detail"]
    assert http.get("/health").json()["status"] == "UP"  # health stays where it is


# Execution.java, ExecutionMetadata.java, State.java (duration, startDate, endDate)
def test_execution_shape(http: TestClient, ns: str) -> None:
    deploy(http, HELLO.format(ns=ns))
    created = http.post(f"/api/v1/main/executions/{ns}/hello", params={"labels": "env:prod"})
    body = created.json()
    assert body["url"].endswith(f"/ui/main/executions/{ns}/hello/{body['id']}")
    assert body["state"]["current"] == "CREATED" and "endDate" not in body["state"]
    done = http.post(f"/api/v1/main/executions/{ns}/hello", params={"wait": "true"}).json()
    assert {"id", "namespace", "flowId", "flowRevision", "state", "taskRunList", "inputs"} <= set(
        done
    )
    assert (done["namespace"], done["flowId"], done["flowRevision"]) == (ns, "hello", 1)
    assert done["originalId"] == done["id"] and done["deleted"] is False
    state = done["state"]
    assert [h["state"] for h in state["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]
    assert state["startDate"] == state["histories"][0]["date"]
    assert state["endDate"] == state["histories"][-1]["date"]
    assert ISO_DURATION.match(state["duration"]), state["duration"]
    assert done["metadata"] == {"attemptNumber": 1, "originalCreatedDate": state["startDate"]}
    assert {"key": "team", "value": "data"} in done["labels"]
    log, add = done["taskRunList"]
    assert {"id", "executionId", "namespace", "flowId", "taskId", "state", "attempts"} <= set(log)
    assert add["attempts"][0]["state"]["current"] == "SUCCESS"
    assert ISO_DURATION.match(add["attempts"][0]["state"]["duration"])


# LogController.java (findByExecution), LogEntry.java, TaskRun.attemptNumber() (0 first)
def test_logs_shape_and_filters(http: TestClient, ns: str) -> None:
    deploy(http, FLAKY.format(ns=ns))
    done = run(http, ns, "flaky")
    assert done["state"]["current"] == "FAILED"
    entries = http.get(f"/api/v1/main/logs/{done['id']}").json()
    task = [e for e in entries if e["taskId"] == "boom"]
    assert {e["attemptNumber"] for e in task} == {0, 1}  # two attempts, counted from 0
    for e in task:
        assert {
            "namespace",
            "flowId",
            "taskId",
            "executionId",
            "taskRunId",
            "attemptNumber",
        } <= set(e)
        assert {"level", "message", "timestamp"} <= set(e)
        assert (e["namespace"], e["flowId"]) == (ns, "flaky")
    second = http.get(f"/api/v1/main/logs/{done['id']}", params={"attempt": 1}).json()
    assert second and {e["attemptNumber"] for e in second} == {1}
    by_task = http.get(f"/api/v1/main/logs/{done['id']}", params={"taskId": "boom"}).json()
    assert by_task == task
    errors = http.get(f"/api/v1/main/logs/{done['id']}", params={"minLevel": "ERROR"}).json()
    assert errors and all(e["level"] == "ERROR" for e in errors)


# MetricController.java (findByExecution: PagedResults, page, size, taskId)
def test_metrics_are_paged(http: TestClient, ns: str) -> None:
    deploy(http, HELLO.format(ns=ns))
    done = run(http, ns, "hello")
    page = http.get(f"/api/v1/main/metrics/{done['id']}").json()
    assert set(page) == {"results", "total"} and page["total"] >= 1
    [additions] = [m for m in page["results"] if m["name"] == "additions"]
    assert additions["type"] == "counter" and additions["value"] == 1
    assert (additions["namespace"], additions["flowId"], additions["taskId"]) == (
        ns,
        "hello",
        "add",
    )
    assert {"executionId", "taskRunId", "tags", "timestamp"} <= set(additions)
    empty = http.get(f"/api/v1/main/metrics/{done['id']}", params={"page": 99}).json()
    assert empty == {"results": [], "total": page["total"]}
    other = http.get(f"/api/v1/main/metrics/{done['id']}", params={"taskId": "log"}).json()
    assert other == {"results": [], "total": 0}


# FlowController.java (create, index, search, list by namespace, delete); FlowWithSource
def test_flow_source_search_list_and_delete(http: TestClient, ns: str) -> None:
    text = HELLO.format(ns=ns)
    deployed = deploy(http, text)
    assert deployed["source"] == text  # byte for byte, comments included
    assert (deployed["revision"], deployed["deleted"], deployed["disabled"]) == (1, False, False)
    assert http.get(f"/api/v1/main/flows/{ns}/hello").json()["source"] == text
    as_yaml = http.get(f"/api/v1/flows/{ns}/hello", headers={"Accept": "application/x-yaml"})
    assert as_yaml.text == text
    # a comment only: the same revision, its source the text last sent
    assert deploy(http, text + "# more\n")["revision"] == 1
    assert http.get(f"/api/v1/flows/{ns}/hello").json()["source"] == text + "# more\n"
    deploy(http, SLOW.format(ns=ns + ".sub"))
    found = http.get("/api/v1/main/flows/search", params={"namespace": ns}).json()
    assert found["total"] == 2  # a namespace takes those under it, as Kestra's prefix
    assert [f["id"] for f in found["results"]] == ["hello", "slow"]
    assert "source" not in found["results"][0]
    exact = http.get("/api/v1/main/flows/search", params={"filters[namespace][EQUALS]": ns}).json()
    assert [f["id"] for f in exact["results"]] == ["hello"]
    assert (
        http.get("/api/v1/flows/search", params={"q": "slo", "namespace": ns}).json()["total"] == 1
    )
    assert [f["id"] for f in http.get(f"/api/v1/main/flows/{ns}").json()] == ["hello"]

    assert http.delete(f"/api/v1/main/flows/{ns}/hello").status_code == 204
    assert http.get(f"/api/v1/flows/{ns}/hello").status_code == 404
    assert http.delete(f"/api/v1/flows/{ns}/hello").status_code == 404
    assert http.post(f"/api/v1/executions/{ns}/hello").status_code == 404
    # deployed again: after the revision the deletion took (FlowWithSource.toDeleted)
    assert deploy(http, text)["revision"] == 3


# ExecutionController.java (delete: 204, 404)
def test_delete_execution(http: TestClient, ns: str) -> None:
    deploy(http, SLOW.format(ns=ns))
    running = http.post(f"/api/v1/main/executions/{ns}/slow").json()
    refused = http.delete(f"/api/v1/main/executions/{running['id']}")
    assert refused.status_code == 409  # Ostra: only an ended one (Kestra deletes any)
    done = http.post(f"/api/v1/main/executions/{ns}/slow", params={"wait": "true"}).json()
    assert http.delete(f"/api/v1/main/executions/{done['id']}").status_code == 204
    assert http.get(f"/api/v1/executions/{done['id']}").status_code == 404
    assert http.get(f"/api/v1/logs/{done['id']}").status_code == 404
    assert http.delete(f"/api/v1/executions/{done['id']}").status_code == 404
    search = http.get("/api/v1/executions/search", params={"namespace": ns}).json()
    assert done["id"] not in [x["id"] for x in search["results"]]


# ExecutionController.java (find: PagedResults; filters as the SDK's QueryFilter encodes them)
def test_search_with_kestra_filters(http: TestClient, ns: str) -> None:
    deploy(http, HELLO.format(ns=ns))
    deploy(http, FLAKY.format(ns=ns))
    ok, failed = run(http, ns, "hello"), run(http, ns, "flaky")

    def search(**params: Any) -> dict[str, Any]:
        response = http.get("/api/v1/main/executions/search", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    both = search(**{"filters[namespace][EQUALS]": ns})
    assert both["total"] == 2 and [x["id"] for x in both["results"]] == [failed["id"], ok["id"]]
    only = search(**{"filters[namespace][EQUALS]": ns, "filters[state][IN]": "FAILED"})
    assert [x["id"] for x in only["results"]] == [failed["id"]]
    # IN: any of the states (the SDK joins a list with commas); Kestra's state=A&state=B
    either = {"filters[namespace][EQUALS]": ns, "filters[state][IN]": "FAILED,SUCCESS"}
    assert search(**either)["total"] == 2
    repeated = http.get(
        "/api/v1/main/executions/search",
        params=[("namespace", ns), ("state", "FAILED"), ("state", "SUCCESS")],
    ).json()
    assert [x["id"] for x in repeated["results"]] == [failed["id"], ok["id"]]
    two = {"filters[namespace][EQUALS]": ns, "filters[state][EQUALS]": "FAILED,SUCCESS"}
    refused_two = http.get("/api/v1/main/executions/search", params=two)
    assert refused_two.status_code == 422 and "IN takes several" in refused_two.text
    by_flow = search(**{"filters[namespace][EQUALS]": ns, "filters[flowId][EQUALS]": "hello"})
    assert [x["id"] for x in by_flow["results"]] == [ok["id"]]
    listed = http.get("/api/v1/main/executions", params={"namespace": ns, "flowId": "flaky"})
    assert [x["id"] for x in listed.json()["results"]] == [failed["id"]]
    refused = http.get("/api/v1/main/executions/search", params={"filters[labels][EQUALS]": "a:b"})
    assert refused.status_code == 422 and "labels" in refused.text


# ExecutionController.java (follow: Event.of(execution).id("progress"), then id("end"))
def test_follow_streams_whole_executions(client: Client, worker: Any, ns: str) -> None:
    server = ThreadServer(create_app(client, token="")).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            deploy(http, SLOW.format(ns=ns))
            eid = http.post(f"/api/v1/main/executions/{ns}/slow").json()["id"]
            lines: list[str] = []
            with http.stream("GET", f"/api/v1/main/executions/{eid}/follow") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                lines.extend(response.iter_lines())
            events = [e for e in parse_sse(lines) if e.data is not None]
            assert [e.event for e in events[:-1]] == ["progress"] * (len(events) - 1)
            assert {e.id for e in events[:-1]} == {"progress"} and events[-1].id == "end"
            assert events[-1].event == "end"
            assert all(e.data["id"] == eid and "taskRunList" in e.data for e in events)
            states = [e.data["state"]["current"] for e in events]
            assert states[-1] == "SUCCESS" and "RUNNING" in states
            assert events[-1].data == http.get(f"/api/v1/executions/{eid}").json()
            # an execution that ended already: end alone
            again = parse_sse(http.get(f"/api/v1/executions/{eid}/follow").text.splitlines())
            assert [e.event for e in again if e.data is not None] == ["end"]
    finally:
        server.stop()


# kestrapy executions_api.py: controls under /actions/ (kill, restart, replay)
def test_actions_paths(http: TestClient, ns: str) -> None:
    deploy(http, FLAKY.format(ns=ns))
    failed = run(http, ns, "flaky")
    other = http.post(
        f"/api/v1/main/executions/{failed['id']}/actions/restart", params={"revision": 7}
    )
    assert other.status_code == 422 and "revision 7 is not supported" in other.text
    restarted = http.post(
        f"/api/v1/main/executions/{failed['id']}/actions/restart", params={"revision": 1}
    )
    assert restarted.status_code == 200 and restarted.json()["id"] == failed["id"]
    deadline = time.monotonic() + 30
    while http.get(f"/api/v1/executions/{failed['id']}").json()["state"]["current"] != "FAILED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    again = http.get(f"/api/v1/executions/{failed['id']}").json()
    assert again["metadata"]["attemptNumber"] == 2  # ExecutionMetadata.nextAttempt
    replayed = http.post(f"/api/v1/main/executions/{failed['id']}/actions/replay").json()
    assert replayed["id"] != failed["id"]
    deploy(http, SLOW.format(ns=ns).replace("PT0.6S", "PT30S"))
    slow = http.post(f"/api/v1/main/executions/{ns}/slow").json()
    killed = http.delete(f"/api/v1/main/executions/{slow['id']}/actions/kill")
    assert killed.status_code == 202 and killed.json()["id"] == slow["id"]
    deadline = time.monotonic() + 30
    while http.get(f"/api/v1/executions/{slow['id']}").json()["state"]["current"] != "KILLED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
