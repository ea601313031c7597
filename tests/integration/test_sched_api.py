"""Seeing and controlling triggers through the REST API (Kestra's ``TriggerController``
paths), the HTTP client and the ``ostra trigger`` commands, on a real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.api.http_client import HttpClient
from executor.embedded import EmbeddedRedis
from executor.store.base import TriggerRef
from executor.triggers.schedule import Scheduler
from tests.helpers.api import ThreadServer
from tests.integration.test_cli import _json, ostra


def flow_text(ns: str) -> str:
    return f"""
id: nightly
namespace: {ns}
tasks:
  - id: hello
    type: Log
    message: "{{{{ trigger.date }}}}"
triggers:
  - id: at_two
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
    stopAfter: [FAILED]
  - id: hourly
    type: Schedule
    cron: "@hourly"
    disabled: true
"""


@pytest.fixture
def ns() -> str:
    return f"sched.api{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(redis_server: EmbeddedRedis, ns: str) -> Iterator[Client]:
    c = Client(redis_server.url)
    c.deploy(Flow.from_yaml(flow_text(ns)))
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture
def http(client: Client) -> Iterator[TestClient]:
    with TestClient(create_app(client, token="")) as h:
        yield h


def ids(ns: str, trigger: str = "at_two") -> dict[str, str]:
    return {"namespace": ns, "flowId": "nightly", "triggerId": trigger}


def test_search_and_flow_triggers_in_kestras_shape(http: TestClient, ns: str) -> None:
    page = http.get("/api/v1/main/triggers/search", params={"namespace": ns}).json()
    assert page["total"] == 2
    by_id = {r["triggerContext"]["triggerId"]: r for r in page["results"]}
    ctx = by_id["at_two"]["triggerContext"]
    assert by_id["at_two"]["abstractTrigger"]["cron"] == "0 2 * * *"
    assert ctx["namespace"] == ns and ctx["flowId"] == "nightly"
    assert ctx["nextExecutionDate"].endswith("T02:00:00Z")
    assert ctx["disabled"] is False and ctx["stopAfter"] == ["FAILED"]
    assert ctx["date"] is None and ctx["executionId"] is None and ctx["backfill"] is None
    assert by_id["hourly"]["triggerContext"]["disabled"] is True
    assert by_id["hourly"]["triggerContext"]["nextExecutionDate"] is None
    flow_page = http.get(f"/api/v1/triggers/{ns}/nightly").json()
    assert {t["triggerId"] for t in flow_page["results"]} == {"at_two", "hourly"}


def test_disable_enable_and_unlock(http: TestClient, client: Client, ns: str) -> None:
    off = http.put("/api/v1/triggers", json={**ids(ns), "disabled": True})
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert off.json()["nextExecutionDate"] is None
    uid = TriggerRef(ns, "nightly", "at_two").uid
    assert client.store.due_position("sched", uid) is None
    on = http.put("/api/v1/triggers", json={**ids(ns), "disabled": False}).json()
    assert on["disabled"] is False and on["nextExecutionDate"] is not None
    not_locked = http.post(f"/api/v1/triggers/{ns}/nightly/at_two/unlock")
    assert not_locked.status_code == 409
    position = client.store.due_position("sched", uid)
    assert position is not None
    # A process claimed it and died: unlocking makes it due again at once.
    client.store.due_claim("sched", float(position.tick) + 1, 10_000, 3600.0)
    locked = http.get(f"/api/v1/triggers/{ns}/nightly").json()["results"]
    assert any(t["evaluateRunningDate"] for t in locked if t["triggerId"] == "at_two")
    assert http.post(f"/api/v1/triggers/{ns}/nightly/at_two/unlock").status_code == 200
    after = client.store.due_position("sched", uid)
    assert after is not None and after.claimed_until is None
    bulk = http.post(
        "/api/v1/triggers/set-disabled/by-triggers",
        json={"triggers": [ids(ns), ids(ns, "nope")], "disabled": True},
    )
    assert bulk.json() == {"count": 1}


def test_backfill_through_the_api(http: TestClient, client: Client, ns: str) -> None:
    body = {
        **ids(ns),
        "backfill": {
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-05T00:00:00Z",
            "labels": [{"key": "why", "value": "gap"}],
        },
    }
    started = http.put("/api/v1/triggers", json=body).json()["backfill"]
    assert started["total"] == 4 and started["status"] == "RUNNING"
    assert started["labels"] == [{"key": "why", "value": "gap"}]
    again = http.put("/api/v1/triggers", json=body)
    assert again.status_code == 409  # one runs already
    paused = http.put("/api/v1/triggers/backfill/pause", json=ids(ns)).json()["backfill"]
    assert paused["paused"] is True
    resumed = http.put("/api/v1/triggers/backfill/unpause", json=ids(ns)).json()["backfill"]
    assert resumed["paused"] is False
    gone = http.post("/api/v1/triggers/backfill/delete", json=ids(ns)).json()["backfill"]
    assert gone["status"] == "CANCELED"


def test_a_trigger_sent_back_as_shown_starts_no_backfill(
    http: TestClient, client: Client, ns: str
) -> None:
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-03T00:00:00Z", "rate": 100}
    http.put("/api/v1/triggers", json={**ids(ns), "backfill": window})
    scheduler = Scheduler(client.orchestrator)
    for i in range(5):
        scheduler.poll(time.time() + i)
    shown = http.get(f"/api/v1/triggers/{ns}/nightly").json()["results"]
    entry = next(t for t in shown if t["triggerId"] == "at_two")
    assert entry["backfill"]["status"] == "DONE" and entry["backfill"]["fired"] == 2
    back = http.put("/api/v1/triggers", json={**entry, "disabled": True}).json()
    assert back["disabled"] is True and back["backfill"]["status"] == "DONE"


def test_refused_requests_store_nothing(http: TestClient, client: Client, ns: str) -> None:
    unknown = http.put("/api/v1/triggers", json={**ids(ns, "nope"), "disabled": True})
    assert unknown.status_code == 404
    reversed_window = {
        **ids(ns),
        "backfill": {"start": "2026-01-05T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    }
    bad = http.put("/api/v1/triggers", json=reversed_window)
    assert bad.status_code == 422 and "end" in bad.text
    assert http.put("/api/v1/triggers", json={"namespace": ns}).status_code == 422
    assert client.store.backfill_get(TriggerRef(ns, "nightly", "at_two").uid) is None
    assert http.put("/api/v1/triggers/backfill/pause", json=ids(ns)).status_code == 409


def test_http_client_has_the_same_methods(client: Client, ns: str) -> None:
    server = ThreadServer(create_app(client, token="")).start()
    try:
        remote = HttpClient(server.url)
        listed = {t["triggerId"]: t for t in remote.triggers(ns)}
        assert set(listed) == {"at_two", "hourly"}
        assert remote.disable_trigger(ns, "nightly", "at_two")["disabled"] is True
        assert remote.enable_trigger(ns, "nightly", "at_two")["disabled"] is False
        status = remote.backfill(
            ns, "nightly", "at_two", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
        )
        assert status["total"] == 1
        assert remote.pause_backfill(ns, "nightly", "at_two")["paused"] is True
        assert remote.cancel_backfill(ns, "nightly", "at_two")["status"] == "CANCELED"
        assert (remote.backfill_status(ns, "nightly", "at_two") or {})["status"] == "CANCELED"
        remote.close()
    finally:
        server.stop()


def test_cli_lists_controls_and_follows_a_backfill(
    redis_server: EmbeddedRedis, client: Client, ns: str
) -> None:
    listed = _json(ostra("trigger", "list", "-n", ns, "--json", redis_url=redis_server.url))
    assert {t["triggerId"] for t in listed} == {"at_two", "hourly"}
    table = ostra("trigger", "list", "-n", ns, redis_url=redis_server.url)
    assert table.returncode == 0 and "at_two" in table.stdout
    off = ostra("trigger", "disable", ns, "nightly", "at_two", "--json", redis_url=redis_server.url)
    assert _json(off)["disabled"] is True
    ostra("trigger", "enable", ns, "nightly", "at_two", redis_url=redis_server.url)
    missing = ostra("trigger", "disable", ns, "nightly", "nope", redis_url=redis_server.url)
    assert missing.returncode == 1 and "nope" in missing.stderr
    # The trigger loop of "another process" runs the backfill the command follows.
    stop = threading.Event()
    scheduler = Scheduler(client.orchestrator)

    def loop() -> None:
        while not stop.is_set():
            scheduler.poll(time.time())
            stop.wait(0.1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        done = ostra(
            "trigger",
            "backfill",
            ns,
            "nightly",
            "at_two",
            "--start",
            "2026-01-01T00:00:00",
            "--end",
            "2026-01-04T00:00:00Z",
            "--rate",
            "50",
            redis_url=redis_server.url,
        )
    finally:
        stop.set()
        thread.join(5)
    assert done.returncode == 0, done.stderr
    assert "backfill DONE: 3/3 ticks, 3 executions started" in done.stdout
    assert "backfill" in done.stderr  # the progress bar
