"""The REST API (``executor.api.app``) on a real Redis and a real Celery worker.

Most tests call the ASGI app in process (FastAPI's TestClient); the server-sent events
and ``?wait=true`` tests go through a real uvicorn server on 127.0.0.1. "Nothing is
stored" is checked with DBSIZE on a Redis database no worker uses.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from executor import Client, StateType
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis, free_port
from tests.helpers.api import ThreadServer, parse_sse

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

PROBLEM = "application/problem+json"
YAML = {"Content-Type": "application/x-yaml"}

SLEEPY = """
id: sleepy
namespace: {ns}
tasks:
  - id: nap
    type: Sleep
    duration: {duration}
  - id: after
    type: Return
    format: awake
"""

TYPED = """
id: typed
namespace: {ns}
inputs:
  - id: n
    type: INT
  - id: name
    type: STRING
    defaults: world
  - id: password
    type: SECRET
    required: false
tasks:
  - id: show
    type: Return
    format: "{{{{ inputs.n }}}} {{{{ inputs.name }}}}"
"""

COUNTING = """
id: counting
namespace: {ns}
tasks:
  - id: add
    type: Python
    function: tests.helpers.funcs:add
    kwargs: {{a: 2, b: 3}}
"""

FAILING = """
id: failing
namespace: {ns}
tasks:
  - id: boom
    type: Fail
    errorMessage: on purpose
"""

BAD_FLOW = """
id: bad
namespace: {ns}
tasks:
  - id: a
    type: Nope
  - id: a
    type: Log
    message: hi
"""


def assert_problem(
    response: httpx.Response, status: int, kind: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert body["type"].startswith("urn:ostra:problem:")
    if kind is not None:
        assert body["type"] == f"urn:ostra:problem:{kind}"
    return body


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def api_client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture(scope="module")
def app(api_client: Client):  # type: ignore[no-untyped-def]
    return create_app(api_client, token="")


@pytest.fixture
def http(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def live(app) -> Iterator[ThreadServer]:  # type: ignore[no-untyped-def]
    server = ThreadServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def ns() -> str:
    return f"tests.api.n{uuid.uuid4().hex[:10]}"


@pytest.fixture
def quiet_db(redis_server: EmbeddedRedis) -> Iterator[tuple[Client, redis.Redis]]:
    """A Client and a raw connection on database 9, which no worker uses."""
    url = redis_server.url.rsplit("/", 1)[0] + "/9"
    c = Client(url)
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    yield c, raw
    raw.flushdb()
    raw.close()
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


def deploy(http: TestClient | httpx.Client, text: str) -> dict[str, Any]:
    response = http.post("/api/v1/flows", content=text, headers=YAML)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_state(client: Client, eid: str, wanted: StateType, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.state(eid) != wanted:
        assert time.monotonic() < deadline, f"{eid} still {client.state(eid)}"
        time.sleep(0.05)


def wait_task_running(client: Client, eid: str, task_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        runs = client.get(eid).task_runs(task_id)
        if runs and runs[0].state.current == StateType.RUNNING:
            return
        assert time.monotonic() < deadline, f"{task_id} of {eid} never ran"
        time.sleep(0.05)


# ---------------------------------------------------------------- health, openapi


def test_health_answers_up(http: TestClient) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "UP", "redis": "UP"}


def test_openapi_declares_every_route_body_and_error(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    paths = doc["paths"]
    expected = {
        "/api/v1/flows": {"post"},
        "/api/v1/flows/search": {"get"},
        "/api/v1/flows/{namespace}": {"get"},
        "/api/v1/flows/{namespace}/{id}": {"get", "put", "delete"},
        "/api/v1/executions": {"get"},
        "/api/v1/executions/{namespace}/{flowId}": {"post"},
        "/api/v1/executions/{executionId}": {"get", "delete"},
        "/api/v1/executions/search": {"get"},
        "/api/v1/executions/{executionId}/kill": {"delete"},
        "/api/v1/executions/{executionId}/restart": {"post"},
        "/api/v1/executions/{executionId}/replay": {"post"},
        "/api/v1/executions/{executionId}/pause": {"post"},
        "/api/v1/executions/{executionId}/resume": {"post"},
        "/api/v1/executions/{executionId}/actions/kill": {"delete"},
        "/api/v1/executions/{executionId}/actions/restart": {"post"},
        "/api/v1/executions/{executionId}/actions/replay": {"post"},
        "/api/v1/executions/{executionId}/actions/replay-with-inputs": {"post"},
        "/api/v1/executions/{executionId}/actions/pause": {"post"},
        "/api/v1/executions/{executionId}/actions/resume": {"post"},
        "/api/v1/executions/{executionId}/follow": {"get"},
        "/api/v1/executions/{executionId}/events": {"get"},
        "/api/v1/logs/{executionId}": {"get"},
        "/api/v1/metrics/{executionId}": {"get"},
        "/api/v1/namespaces/{namespace}/kv": {"get"},
        "/api/v1/namespaces/{namespace}/kv/{key}": {"get", "put", "delete"},
        "/api/v1/workers/queues": {"get"},
        "/api/v1/executions/webhook/{namespace}/{flowId}/{key}": {"get", "post", "put"},
        "/api/v1/executions/webhook/{namespace}/{flowId}/{key}/{path}": {"get", "post", "put"},
        "/api/v1/triggers/search": {"get"},
        "/api/v1/triggers/{namespace}/{flowId}": {"get"},
        "/api/v1/triggers": {"put"},
        "/api/v1/triggers/backfill/pause": {"put"},
        "/api/v1/triggers/backfill/unpause": {"put"},
        "/api/v1/triggers/backfill/delete": {"post"},
        "/api/v1/triggers/{namespace}/{flowId}/{triggerId}/unlock": {"post"},
        "/api/v1/triggers/set-disabled/by-triggers": {"post"},
    }
    tenant = {p.replace("/api/v1/", "/api/v1/{tenant}/"): m for p, m in expected.items()}
    assert {p: set(m) for p, m in paths.items()} == {
        **expected,
        **tenant,
        "/health": {"get"},
        "/metrics": {"get"},
    }
    ids = [op["operationId"] for methods in paths.values() for op in methods.values()]
    assert len(ids) == len(set(ids))
    flows = paths["/api/v1/flows"]["post"]
    assert "application/x-yaml" in flows["requestBody"]["content"]
    submit = paths["/api/v1/executions/{namespace}/{flowId}"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(submit["requestBody"]["content"])
    assert {p["name"] for p in submit["parameters"]} >= {"labels", "wait"}
    assert "202" in paths["/api/v1/executions/{executionId}/kill"]["delete"]["responses"]
    follow = paths["/api/v1/executions/{executionId}/follow"]["get"]["responses"]["200"]
    assert "text/event-stream" in follow["content"]
    search = paths["/api/v1/executions/search"]["get"]
    assert {p["name"] for p in search["parameters"]} == {
        "namespace",
        "flowId",
        "state",
        "labels",
        "page",
        "size",
        "startDate",
        "endDate",
        "timeRange",
    }
    for path, methods in paths.items():
        for method, op in methods.items():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")) and path != "/health":
                    assert set(response["content"]) == {PROBLEM}, (path, method, status)
    assert "securitySchemes" not in doc.get("components", {})  # no token configured


# ---------------------------------------------------------------- flows


def test_deploy_get_and_update_a_flow(http: TestClient, ns: str) -> None:
    text = SLEEPY.format(ns=ns, duration="PT0.1S")
    first = deploy(http, text)
    assert (first["id"], first["namespace"], first["revision"]) == ("sleepy", ns, 1)
    assert first["tasks"][0] == {"id": "nap", "type": "Sleep", "duration": "PT0.1S"}
    assert "id: sleepy" in first["source"]
    assert deploy(http, text)["revision"] == 1  # unchanged: same revision
    response = http.post("/api/v1/flows", content=text, headers={"Content-Type": "text/plain"})
    assert response.json()["revision"] == 1

    got = http.get(f"/api/v1/flows/{ns}/sleepy")
    assert got.status_code == 200 and got.json() == first
    as_yaml = http.get(f"/api/v1/flows/{ns}/sleepy", headers={"Accept": "application/x-yaml"})
    assert as_yaml.headers["content-type"].startswith("application/x-yaml")
    assert "duration: PT0.1S" in as_yaml.text

    updated = http.put(
        f"/api/v1/flows/{ns}/sleepy", headers=YAML, content=SLEEPY.format(ns=ns, duration="PT0.2S")
    )
    assert updated.status_code == 200 and updated.json()["revision"] == 2
    assert http.get(f"/api/v1/flows/{ns}/sleepy").json()["revision"] == 2
    old = http.get(f"/api/v1/flows/{ns}/sleepy", params={"revision": 1}).json()
    assert old["revision"] == 1 and old["tasks"][0]["duration"] == "PT0.1S"


def test_flow_errors(http: TestClient, ns: str, quiet_db: tuple[Client, redis.Redis]) -> None:
    missing = assert_problem(http.get(f"/api/v1/flows/{ns}/nope"), 404, "flow-not-found")
    assert (missing["namespace"], missing["flowId"]) == (ns, "nope")
    assert_problem(
        http.put(
            f"/api/v1/flows/{ns}/sleepy",
            headers=YAML,
            content=SLEEPY.format(ns=ns, duration="PT1S"),
        ),
        404,
        "flow-not-found",
    )
    deploy(http, SLEEPY.format(ns=ns, duration="PT1S"))
    body = assert_problem(
        http.put(
            f"/api/v1/flows/{ns}/other", headers=YAML, content=SLEEPY.format(ns=ns, duration="PT1S")
        ),
        422,
        "invalid-flow",
    )
    assert [e["path"] for e in body["errors"]] == ["id"]
    assert_problem(http.post("/api/v1/flows", json={"id": "x"}), 415, "unsupported-media-type")
    assert_problem(http.patch(f"/api/v1/flows/{ns}/sleepy"), 405, "method-not-allowed")
    assert_problem(
        http.get(f"/api/v1/flows/{ns}/sleepy", params={"revision": 0}), 422, "invalid-request"
    )


def test_invalid_flow_lists_every_problem_and_stores_nothing(
    quiet_db: tuple[Client, redis.Redis], ns: str
) -> None:
    client, raw = quiet_db
    with TestClient(create_app(client, token="")) as http:
        before = raw.dbsize()
        body = assert_problem(
            http.post("/api/v1/flows", content=BAD_FLOW.format(ns=ns), headers=YAML),
            422,
            "invalid-flow",
        )
        assert body["detail"] == "invalid flow (2 problems)"
        assert {e["path"] for e in body["errors"]} == {"tasks[0].type", "tasks[1].id"}
        assert all(set(e) == {"path", "message"} for e in body["errors"])
        assert_problem(
            http.post("/api/v1/flows", content="id: [unclosed", headers=YAML), 422, "invalid-flow"
        )
        assert_problem(http.post("/api/v1/flows", content="", headers=YAML), 422, "invalid-flow")
        assert_problem(
            http.post("/api/v1/flows", content=b"\xff\xfe", headers=YAML), 422, "invalid-flow"
        )
        assert raw.dbsize() == before


def test_yaml_alias_bomb_is_refused_quickly(quiet_db: tuple[Client, redis.Redis]) -> None:
    client, raw = quiet_db
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    bomb = (
        "id: bomb\nnamespace: t\nvariables:\n"
        + "\n".join("  " + ln for ln in lines)
        + "\ntasks:\n  - id: a\n    type: Log\n    message: hi\n"
    )
    with TestClient(create_app(client, token="")) as http:
        started = time.monotonic()
        body = assert_problem(
            http.post("/api/v1/flows", content=bomb, headers=YAML), 422, "invalid-flow"
        )
        assert time.monotonic() - started < 5
        assert "aliases" in body["errors"][0]["message"]
        recursive = "id: r\nnamespace: t\nvariables: &v {self: *v}\ntasks: []\n"
        assert_problem(
            http.post("/api/v1/flows", content=recursive, headers=YAML), 422, "invalid-flow"
        )
    assert raw.dbsize() == 0


# ---------------------------------------------------------------- executions


def test_submit_with_json_inputs_labels_and_wait(http: TestClient, ns: str, worker: Any) -> None:
    deploy(http, TYPED.format(ns=ns))
    response = http.post(
        f"/api/v1/executions/{ns}/typed",
        params=[("labels", "team:data"), ("labels", "env:ci"), ("wait", "true")],
        json={"n": "41", "password": "hunter2"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"]["current"] == "SUCCESS"
    assert body["flowId"] == "typed" and body["namespace"] == ns
    assert body["inputs"] == {"n": 41, "name": "world", "password": "******"}
    assert "hunter2" not in response.text
    labels = {lb["key"]: lb["value"] for lb in body["labels"]}
    assert labels["team"] == "data" and labels["env"] == "ci"
    assert body["taskRunList"][0]["outputs"] == {"value": "41 world"}
    got = http.get(f"/api/v1/executions/{body['id']}")
    assert got.status_code == 200 and got.json()["state"]["current"] == "SUCCESS"
    assert got.json()["inputs"]["password"] == "******"


def test_submit_without_wait_answers_at_once(
    http: TestClient, ns: str, api_client: Client, worker: Any
) -> None:
    deploy(http, SLEEPY.format(ns=ns, duration="PT0.5S"))
    response = http.post(f"/api/v1/executions/{ns}/sleepy")
    assert response.status_code == 200
    body = response.json()
    assert body["state"]["current"] in ("CREATED", "RUNNING")
    assert api_client.wait(body["id"], timeout=30).state.current == StateType.SUCCESS


def test_submit_with_multipart_and_urlencoded_inputs(
    http: TestClient, ns: str, api_client: Client, worker: Any
) -> None:
    deploy(http, TYPED.format(ns=ns))
    multipart = http.post(
        f"/api/v1/executions/{ns}/typed", files=[("n", (None, "7")), ("name", (None, "Ada"))]
    )
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["inputs"] == {"n": 7, "name": "Ada", "password": None}
    form = http.post(f"/api/v1/executions/{ns}/typed", data={"n": "8"})
    assert form.status_code == 200, form.text
    assert form.json()["inputs"] == {"n": 8, "name": "world", "password": None}
    done = api_client.wait(multipart.json()["id"], timeout=30)
    assert done.task_run("show").outputs == {"value": "7 Ada"}
    body = assert_problem(
        http.post(f"/api/v1/executions/{ns}/typed", files={"n": ("n.txt", b"7", "text/plain")}),
        422,
        "invalid-inputs",
    )
    assert body["errors"] == [{"path": "inputs.n", "message": "file inputs are not supported"}]


def test_invalid_inputs_list_every_problem_and_store_nothing(
    quiet_db: tuple[Client, redis.Redis], ns: str
) -> None:
    client, raw = quiet_db
    with TestClient(create_app(client, token="")) as http:
        deploy(http, TYPED.format(ns=ns))
        before = raw.dbsize()
        url = f"/api/v1/executions/{ns}/typed"
        body = assert_problem(
            http.post(url, json={"n": "x", "zz": 1, "password": 12345}), 422, "invalid-inputs"
        )
        assert {e["path"] for e in body["errors"]} == {"inputs.n", "inputs.zz"}
        body = assert_problem(http.post(url, json={}), 422, "invalid-inputs")
        assert [e["path"] for e in body["errors"]] == ["inputs.n"]
        body = assert_problem(
            http.post(url, params={"labels": "nocolon"}, json={"n": 1}), 422, "invalid-inputs"
        )
        assert body["errors"][0]["path"] == "labels"
        body = assert_problem(
            http.post(url, params={"labels": "system.x:y"}, json={"n": 1}), 422, "invalid-inputs"
        )
        assert_problem(
            http.post(url, content=b"[1, 2]", headers={"Content-Type": "application/json"}),
            422,
            "invalid-request",
        )
        assert_problem(
            http.post(url, content=b"{not json", headers={"Content-Type": "application/json"}),
            422,
            "invalid-request",
        )
        assert_problem(
            http.post(url, content=b"n=1", headers={"Content-Type": "text/csv"}),
            415,
            "unsupported-media-type",
        )
        assert_problem(
            http.post(url, params={"wait": "maybe"}, json={"n": 1}), 422, "invalid-request"
        )
        missing = assert_problem(
            http.post(f"/api/v1/executions/{ns}/nope", json={}), 404, "flow-not-found"
        )
        assert missing["flowId"] == "nope"
        assert raw.dbsize() == before


def test_secret_input_is_never_echoed_in_errors(http: TestClient, ns: str) -> None:
    deploy(http, TYPED.format(ns=ns).replace("required: false", "validator: '^[a-z]+$'"))
    response = http.post(
        f"/api/v1/executions/{ns}/typed", json={"n": 1, "password": "S3CRET-VALUE"}
    )
    body = assert_problem(response, 422, "invalid-inputs")
    assert body["errors"][0]["path"] == "inputs.password"
    assert "S3CRET-VALUE" not in response.text


def test_unknown_execution_is_404_everywhere(http: TestClient) -> None:
    for method, path in [
        ("GET", "/api/v1/executions/nope"),
        ("GET", "/api/v1/executions/nope/follow"),
        ("GET", "/api/v1/logs/nope"),
        ("GET", "/api/v1/metrics/nope"),
        ("DELETE", "/api/v1/executions/nope/kill"),
        ("POST", "/api/v1/executions/nope/restart"),
        ("POST", "/api/v1/executions/nope/replay"),
        ("POST", "/api/v1/executions/nope/pause"),
        ("POST", "/api/v1/executions/nope/resume"),
    ]:
        body = assert_problem(http.request(method, path), 404)
        assert "nope" in body["detail"], (method, path)
    body = assert_problem(http.get("/api/v1/executions/nope"), 404, "execution-not-found")
    assert body["executionId"] == "nope"
    assert_problem(http.get("/api/v1/no/such/route"), 404, "not-found")


def test_logs_and_metrics(http: TestClient, ns: str, worker: Any) -> None:
    deploy(http, COUNTING.format(ns=ns))
    done = http.post(f"/api/v1/executions/{ns}/counting", params={"wait": "true"}).json()
    assert done["state"]["current"] == "SUCCESS"
    logs = http.get(f"/api/v1/logs/{done['id']}")
    assert logs.status_code == 200
    assert any(e["message"] == "adding 2 and 3" and e["taskId"] == "add" for e in logs.json())
    assert all({"level", "message", "timestamp", "executionId"} <= set(e) for e in logs.json())
    trid = done["taskRunList"][0]["id"]
    only = http.get(f"/api/v1/logs/{done['id']}", params={"taskRunId": trid}).json()
    assert only and all(e["taskRunId"] == trid for e in only)
    assert http.get(f"/api/v1/logs/{done['id']}", params={"minLevel": "ERROR"}).json() == []
    assert_problem(http.get(f"/api/v1/logs/{done['id']}", params={"minLevel": "LOUD"}), 422)
    metrics = http.get(f"/api/v1/metrics/{done['id']}")
    assert metrics.status_code == 200
    [additions] = [m for m in metrics.json()["results"] if m["name"] == "additions"]
    assert additions["type"] == "counter" and additions["value"] == 1
    assert additions["tags"] == {"kind": "int"} and additions["taskId"] == "add"


def test_search_filters_and_pages(
    http: TestClient, ns: str, api_client: Client, worker: Any
) -> None:
    deploy(http, TYPED.format(ns=ns))
    deploy(http, SLEEPY.format(ns=ns, duration="PT0.01S"))
    ids = []
    for i in range(5):
        response = http.post(f"/api/v1/executions/{ns}/typed", json={"n": i})
        ids.append(response.json()["id"])
        time.sleep(0.002)  # distinct creation times: newest first is well defined
    other = http.post(f"/api/v1/executions/{ns}/sleepy").json()["id"]
    for eid in [*ids, other]:
        api_client.wait(eid, timeout=30)

    def page(n: int, size: int = 2, **params: Any) -> dict[str, Any]:
        response = http.get(
            "/api/v1/executions/search",
            params={"namespace": ns, "flowId": "typed", "page": n, "size": size, **params},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    pages = [page(n) for n in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["results"]) for p in pages] == [2, 2, 1, 0]
    seen = [x["id"] for p in pages for x in p["results"]]
    assert seen == list(reversed(ids))
    assert page(1, 25, state="SUCCESS")["total"] == 5
    assert page(1, 25, state="FAILED")["total"] == 0
    everything = http.get("/api/v1/executions/search", params={"namespace": ns}).json()
    assert everything["total"] == 6 and everything["results"][0]["id"] == other
    for bad in ({"page": 0}, {"size": 0}, {"size": 10_001}, {"state": "NOPE"}):
        assert_problem(http.get("/api/v1/executions/search", params=bad), 422, "invalid-request")


def test_search_by_creation_time(http: TestClient, ns: str) -> None:
    # ExecutionController.find: startDate, endDate, timeRange (now minus it, not with
    # startDate); DateUtils.validateTimeline: the start may not follow the end.
    deploy(http, TYPED.format(ns=ns))
    ids, gaps = [], []
    for i in range(3):
        if i:
            gaps.append(datetime.now(UTC))  # between two creations
            time.sleep(0.02)
        ids.append(http.post(f"/api/v1/executions/{ns}/typed", json={"n": i}).json()["id"])
        time.sleep(0.02)

    def found(**params: Any) -> list[str]:
        response = http.get("/api/v1/executions/search", params={"namespace": ns, **params})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["results"])
        return [x["id"] for x in body["results"]]

    first, second = (g.isoformat() for g in gaps)
    newest_first = list(reversed(ids))
    assert found(startDate=first) == newest_first[:2]
    assert found(endDate=second) == newest_first[1:]
    assert found(startDate=first, endDate=second) == [ids[1]]
    assert found(timeRange="PT1H") == newest_first
    assert found(timeRange="PT1H", endDate=gaps[0].isoformat()) == [ids[0]]
    # a naive date is UTC
    assert found(startDate=gaps[1].replace(tzinfo=None).isoformat()) == [ids[2]]
    # Kestra's filters[...] form, as kestrapy sends it
    assert found(**{"filters[startDate][GREATER_THAN_OR_EQUAL_TO]": first}) == newest_first[:2]
    assert found(**{"filters[endDate][LESS_THAN_OR_EQUAL_TO]": first}) == [ids[0]]
    assert found(**{"filters[timeRange][EQUALS]": "P1D"}) == newest_first
    for bad, field in (
        ({"timeRange": "PT1H", "startDate": first}, "timeRange"),
        ({"startDate": second, "endDate": first}, "startDate"),
        ({"timeRange": "soon"}, "timeRange"),
        ({"filters[startDate][GREATER_THAN_OR_EQUAL_TO]": "yesterday"}, "filters[startDate]"),
        ({"filters[startDate][GREATER_THAN]": first}, "filters[startDate][GREATER_THAN]"),
    ):
        response = http.get("/api/v1/executions/search", params={"namespace": ns, **bad})
        assert_problem(response, 422)
        assert field in response.text, response.text


# ---------------------------------------------------------------- follow and wait (live)


def test_events_streams_every_state_change_then_end(
    live: ThreadServer, ns: str, api_client: Client, worker: Any
) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        deploy(http, SLEEPY.format(ns=ns, duration="PT0.5S"))
        eid = http.post(f"/api/v1/executions/{ns}/sleepy").json()["id"]
        lines = []
        with http.stream("GET", f"/api/v1/executions/{eid}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            first_at = None
            for line in response.iter_lines():
                lines.append(line)
                if first_at is None and line.startswith("data:"):
                    first_at = time.monotonic()
            ended_at = time.monotonic()
        assert first_at is not None and ended_at - first_at >= 0.3  # live, not at the end
    events = parse_sse(lines)
    assert events[-1].event == "end"
    final = events[-1].data
    assert final["id"] == eid and final["state"]["current"] == "SUCCESS"
    changes = [e for e in events if e.event == "message"]
    assert len(changes) == len({e.id for e in changes})  # each with its own id
    assert all(
        set(e.data) == {"executionId", "state", "date", "taskRunId", "taskId", "attempt"}
        for e in changes
    )
    execution_states = [e.data["state"] for e in changes if e.data["taskRunId"] is None]
    assert execution_states[0] == "CREATED" and execution_states[-1] == "SUCCESS"
    assert "RUNNING" in execution_states
    nap = [(e.data["state"], e.data["attempt"]) for e in changes if e.data["taskId"] == "nap"]
    assert ("RUNNING", 1) in nap and ("SUCCESS", 1) in nap and ("SUCCESS", None) in nap
    assert {e.data["taskId"] for e in changes} >= {"nap", "after"}
    assert len(changes) == len(list(api_client.follow(eid)))

    # Last-Event-ID resumes after that event
    middle = changes[len(changes) // 2]
    with httpx.Client(base_url=live.url, timeout=30) as http:
        again = http.get(
            f"/api/v1/executions/{eid}/events", headers={"Last-Event-ID": middle.id or ""}
        )
    rest = parse_sse(again.text.splitlines())
    assert [e.id for e in rest if e.event == "message"] == [
        e.id for e in changes[len(changes) // 2 + 1 :]
    ]
    assert rest[-1].event == "end"


def test_follow_of_unknown_execution_is_404(live: ThreadServer) -> None:
    for stream in ("follow", "events"):
        response = httpx.get(f"{live.url}/api/v1/executions/nope/{stream}", timeout=10)
        assert_problem(response, 404, "execution-not-found")


def test_wait_true_answers_when_it_ends(live: ThreadServer, ns: str, worker: Any) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as http:
        deploy(http, SLEEPY.format(ns=ns, duration="PT1S"))
        started = time.monotonic()
        response = http.post(f"/api/v1/executions/{ns}/sleepy", params={"wait": "true"})
        assert time.monotonic() - started >= 0.9
    assert response.status_code == 200
    body = response.json()
    assert body["state"]["current"] == "SUCCESS"
    assert [tr["state"]["current"] for tr in body["taskRunList"]] == ["SUCCESS", "SUCCESS"]


# ---------------------------------------------------------------- limits, auth, Redis down


def test_body_over_the_limit_is_413_and_stores_nothing(
    quiet_db: tuple[Client, redis.Redis], ns: str
) -> None:
    client, raw = quiet_db
    with TestClient(create_app(client, token="", max_body=1024)) as http:
        big = SLEEPY.format(ns=ns, duration="PT1S") + "#" * 2000 + "\n"
        body = assert_problem(
            http.post("/api/v1/flows", content=big, headers=YAML), 413, "body-too-large"
        )
        assert "1024" in body["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield SLEEPY.format(ns=ns, duration="PT1S").encode()
            for _ in range(10):
                yield b"#" * 200 + b"\n"

        assert_problem(
            http.post("/api/v1/flows", content=chunks(), headers=YAML), 413, "body-too-large"
        )
        deploy(http, TYPED.format(ns=ns))
        before = raw.dbsize()
        assert_problem(
            http.post(f"/api/v1/executions/{ns}/typed", json={"n": 1, "name": "x" * 2000}),
            413,
            "body-too-large",
        )
        assert_problem(
            http.post(
                f"/api/v1/executions/{ns}/typed",
                files=[("n", (None, "1")), ("name", (None, "x" * 2000))],
            ),
            413,
            "body-too-large",
        )
        assert raw.dbsize() == before


def test_max_body_from_the_environment(monkeypatch: pytest.MonkeyPatch, api_client: Client) -> None:
    monkeypatch.setenv("OSTRA_API_MAX_BODY", "10")
    with TestClient(create_app(api_client, token="")) as http:
        assert_problem(
            http.post("/api/v1/flows", content="id: x\nnamespace: y\n", headers=YAML), 413
        )


def test_bearer_tokens_when_configured(api_client: Client) -> None:
    with TestClient(create_app(api_client, token="tok-a, tok-b")) as http:
        assert http.get("/health").status_code == 200
        for headers in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": "tok-a"},
            {"Authorization": "Basic dG9rLWE6"},
        ):
            response = http.get("/api/v1/executions/search", headers=headers)
            body = assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "tok-a" not in response.text and "nope" not in response.text
            assert body["detail"] == "a valid bearer token is required"
        assert_problem(http.get("/api/v1/executions/x"), 401)
        assert_problem(http.post("/api/v1/flows", content="id: x", headers=YAML), 401)
        for token in ("tok-a", "tok-b"):
            response = http.get(
                "/api/v1/executions/search", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
        assert_problem(http.get("/openapi.json"), 401)  # every route but /health
        assert http.get("/docs").status_code == 404
        doc = http.get("/openapi.json", headers={"Authorization": "Bearer tok-a"}).json()
        assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert "401" in doc["paths"]["/api/v1/executions/{executionId}"]["get"]["responses"]


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch, api_client: Client) -> None:
    monkeypatch.setenv("OSTRA_API_TOKEN", "from-env")
    with TestClient(create_app(api_client)) as http:
        assert_problem(http.get("/api/v1/executions/search"), 401)
        ok = http.get("/api/v1/executions/search", headers={"Authorization": "Bearer from-env"})
        assert ok.status_code == 200
    monkeypatch.setenv("OSTRA_API_TOKEN", "")
    with TestClient(create_app(api_client)) as http:
        assert http.get("/api/v1/executions/search").status_code == 200


def test_redis_unreachable_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with TestClient(create_app(client, token="")) as http:
            assert http.get("/health").status_code == 503
            assert http.get("/health").json() == {"status": "DOWN", "redis": "DOWN"}
            body = assert_problem(http.get("/api/v1/executions/x"), 503, "store-unavailable")
            assert "127.0.0.1" not in body["detail"]
            assert_problem(
                http.post(
                    "/api/v1/flows", headers=YAML, content=SLEEPY.format(ns="t", duration="PT1S")
                ),
                503,
                "store-unavailable",
            )
    finally:
        client.orchestrator.dispatcher.app.close()
        client.store.r.close()


# ---------------------------------------------------------------- kill, restart, replay,
# pause, resume (the Client's control methods)


def test_kill_a_running_execution(
    http: TestClient, ns: str, api_client: Client, worker: Any
) -> None:
    deploy(http, SLEEPY.format(ns=ns, duration="PT20S"))
    eid = http.post(f"/api/v1/executions/{ns}/sleepy").json()["id"]
    wait_task_running(api_client, eid, "nap")
    response = http.delete(f"/api/v1/executions/{eid}/kill")
    assert response.status_code == 202, response.text
    assert response.json()["id"] == eid
    assert response.json()["state"]["current"] in ("KILLING", "KILLED")
    assert http.delete(f"/api/v1/executions/{eid}/kill").status_code == 202  # harmless
    done = api_client.wait(eid, timeout=30)
    assert done.state.current == StateType.KILLED
    assert http.delete(f"/api/v1/executions/{eid}/kill").status_code == 202  # still harmless


def test_state_conflicts_are_409(
    http: TestClient, ns: str, api_client: Client, worker: Any
) -> None:
    deploy(http, SLEEPY.format(ns=ns, duration="PT0.01S"))
    done = http.post(f"/api/v1/executions/{ns}/sleepy", params={"wait": "true"}).json()
    assert done["state"]["current"] == "SUCCESS"
    eid = done["id"]
    for method, action in [
        ("DELETE", "kill"),
        ("POST", "restart"),
        ("POST", "pause"),
        ("POST", "resume"),
    ]:
        body = assert_problem(
            http.request(method, f"/api/v1/executions/{eid}/{action}"), 409, "state-conflict"
        )
        assert eid in body["detail"], action
    assert api_client.state(eid) == StateType.SUCCESS


def test_pause_and_resume(http: TestClient, ns: str, api_client: Client, worker: Any) -> None:
    deploy(http, SLEEPY.format(ns=ns, duration="PT2S"))
    eid = http.post(f"/api/v1/executions/{ns}/sleepy").json()["id"]
    wait_task_running(api_client, eid, "nap")
    paused = http.post(f"/api/v1/executions/{eid}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"]["current"] == "PAUSED"
    assert_problem(http.post(f"/api/v1/executions/{eid}/pause"), 409)
    time.sleep(2.5)  # the running task run ends; nothing new starts while paused
    assert api_client.state(eid) == StateType.PAUSED
    held = {tr.task_id: tr.state.current for tr in api_client.get(eid).task_run_list}
    assert held["nap"] == StateType.SUCCESS
    assert held.get("after", StateType.CREATED) == StateType.CREATED  # created, not run
    resumed = http.post(f"/api/v1/executions/{eid}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"]["current"] in ("RUNNING", "SUCCESS")
    assert api_client.wait(eid, timeout=30).state.current == StateType.SUCCESS


def test_restart_a_failed_execution(
    http: TestClient, ns: str, api_client: Client, worker: Any
) -> None:
    deploy(http, FAILING.format(ns=ns))
    failed = http.post(f"/api/v1/executions/{ns}/failing", params={"wait": "true"}).json()
    assert failed["state"]["current"] == "FAILED"
    response = http.post(f"/api/v1/executions/{failed['id']}/restart")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == failed["id"]
    assert response.json()["state"]["current"] in ("RESTARTED", "RUNNING", "FAILED")
    again = api_client.wait(failed["id"], timeout=30)
    assert again.state.current == StateType.FAILED
    assert StateType.RESTARTED in [h.state for h in again.state.histories]
    assert again.task_run("boom").attempt_count == 2


def test_replay_is_a_new_execution(
    http: TestClient, ns: str, api_client: Client, worker: Any
) -> None:
    deploy(http, TYPED.format(ns=ns))
    done = http.post(
        f"/api/v1/executions/{ns}/typed", params={"wait": "true"}, json={"n": 1}
    ).json()
    replay = http.post(f"/api/v1/executions/{done['id']}/replay")
    assert replay.status_code == 200, replay.text
    new = replay.json()
    assert new["id"] != done["id"] and new["parentId"] == done["id"]
    assert api_client.wait(new["id"], timeout=30).task_run("show").outputs == {"value": "1 world"}
    trid = done["taskRunList"][0]["id"]
    with_inputs = http.post(
        f"/api/v1/executions/{done['id']}/replay",
        params={"taskRunId": trid},
        json={"n": 2, "name": "Bo"},
    )
    assert with_inputs.status_code == 200, with_inputs.text
    assert api_client.wait(with_inputs.json()["id"], timeout=30).task_run("show").outputs == {
        "value": "2 Bo"
    }
    assert_problem(
        http.post(f"/api/v1/executions/{done['id']}/replay", params={"taskRunId": "nope"}), 404
    )
    assert_problem(
        http.post(f"/api/v1/executions/{done['id']}/replay", json={"n": "x"}), 422, "invalid-inputs"
    )


# ---------------------------------------------------------------- fuzzing


def test_schemathesis_finds_no_server_error(quiet_db: tuple[Client, redis.Redis]) -> None:
    """Every operation, fuzzed from /openapi.json: no 5xx, responses match the document,
    and invalid requests are refused with a 4xx. (Database 9 has no flows, so nothing
    runs or blocks.)"""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    client, _ = quiet_db
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(client, token=""))
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    failures: list[str] = []
    started = time.monotonic()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if "{tenant}" in operation.path:
            continue  # the same routes as without a tenant (see test_kestra_api.py)
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=15,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: fast
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                case.call_and_validate(checks=checks)

            try:
                fuzz()
            except Unsatisfiable:  # nothing to make invalid (only string path parameters)
                assert mode == GenerationMode.NEGATIVE
            except UnicodeEncodeError:  # schemathesis made a text body it cannot send
                continue
            except Exception as exc:  # collect every operation's failures
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert (
        operations == 47
    )  # 27, 4 of the KV store, 2 of workers/queues, 6 of webhooks, 8 of triggers
    assert not failures, "\n\n".join(failures)
    # Bounded per operation (it hangs otherwise), not a speed target: 47 operations take
    # 20 s on a quiet 2-core box, over 60 s on a loaded one.
    assert time.monotonic() - started < 3 * operations
