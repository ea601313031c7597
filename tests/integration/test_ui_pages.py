"""The UI's pages over HTTP (no browser): what a session, the CSRF token and the masking
refuse or hide, on a real Redis. The browser tests (``test_ui_browser.py``) check what a
person sees."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from executor import Client
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis
from executor.observability import tracing
from executor.state import StateType
from executor.ui import views
from executor.ui.reading import read_view

pytestmark = pytest.mark.integration

TOKEN = "pages-t0ken"


def flow(ns: str) -> str:
    return f"""
id: guarded
namespace: {ns}
inputs:
  - {{id: n, type: INT, defaults: 1}}
  - {{id: pin, type: SECRET, required: false}}
tasks:
  - {{id: nap, type: Sleep, duration: PT60S}}
"""


@pytest.fixture(scope="module")
def ui_client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture
def ns() -> str:
    return f"tests.ui.n{uuid.uuid4().hex[:10]}"


def csrf_of(html: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_without_tokens_pages_open_and_actions_still_need_the_csrf_token(
    ui_client: Client, ns: str
) -> None:
    ui_client.deploy(flow(ns))
    execution = ui_client.submit((ns, "guarded"), labels={"who": "<script>x</script>"})
    with TestClient(create_app(ui_client, token="")) as http:
        assert http.get("/", follow_redirects=False).headers["location"] == "/ui"
        page = http.get(f"/ui/main/executions?namespace={ns}")
        assert page.status_code == 200 and execution.id in page.text
        assert "<script>x</script>" not in page.text  # flow content is escaped
        assert "&lt;script&gt;x&lt;/script&gt;" in page.text
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        url = f"/ui/main/executions/{ns}/guarded/{execution.id}"
        refused = http.post(f"{url}/kill")
        assert refused.status_code == 403 and "CSRF" in refused.text
        refused = http.post(f"{url}/kill", headers={"X-CSRF-Token": "forged"})
        assert refused.status_code == 403
        bulk = http.post("/ui/main/executions/bulk", data={"action": "kill", "ids": [execution.id]})
        assert bulk.status_code == 403
        assert ui_client.get(execution.id).state.current != StateType.KILLING
        assert ui_client.get(execution.id).state.current != StateType.KILLED
        token = csrf_of(http.get(url).text)
        # a refused control answers the API's own reason, with its status
        early = http.post(f"{url}/restart", headers={"X-CSRF-Token": token})
        assert early.status_code == 409 and "restart refused" in early.text
        done = http.post(f"{url}/kill", headers={"X-CSRF-Token": token})
        assert done.status_code == 200, done.text
        assert ui_client.get(execution.id).state.current in (StateType.KILLING, StateType.KILLED)
        # an execution of another flow is not found under this path
        assert http.get(f"/ui/main/executions/{ns}/other/{execution.id}").status_code == 404


def test_the_executions_list_filters_by_creation_time(ui_client: Client, ns: str) -> None:
    ui_client.deploy(
        f"id: quick\nnamespace: {ns}\ntasks:\n  - {{id: r, type: Return, format: x}}\n"
    )
    old = ui_client.submit((ns, "quick"))
    time.sleep(1.2)
    new = ui_client.submit((ns, "quick"))
    with TestClient(create_app(ui_client, token="")) as http:
        everything = http.get(f"/ui/main/executions?namespace={ns}")
        assert old.id in everything.text and new.id in everything.text
        recent = http.get(f"/ui/main/executions?namespace={ns}&timeRange=PT1S")
        assert recent.status_code == 200
        assert new.id in recent.text and old.id not in recent.text
        assert ">1 execution<" in recent.text
        # the choice is kept: selected in the form, and in the rows' refresh
        assert '<option value="PT1S" selected>within PT1S</option>' in recent.text
        assert "timeRange=PT1S" in recent.text
        day = http.get(f"/ui/main/executions?namespace={ns}&timeRange=P1D")
        assert '<option value="P1D" selected>last 24 hours</option>' in day.text
        rows = http.get(f"/ui/main/executions/rows?namespace={ns}&timeRange=PT1S")
        assert new.id in rows.text and old.id not in rows.text
        bad = http.get(f"/ui/main/executions?namespace={ns}&timeRange=soon")
        assert bad.status_code == 422 and "ISO-8601 duration" in bad.text


def test_with_tracing_on_an_execution_shows_where_its_trace_is(
    ui_client: Client, ns: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "file")
    monkeypatch.setenv("OSTRA_OTEL_FILE", str(tmp_path / "spans.jsonl"))
    monkeypatch.setattr(tracing, "ENABLED", True)
    ui_client.deploy(f"id: traced\nnamespace: {ns}\ntasks:\n  - {{id: r, type: Return, format: x}}")
    execution = ui_client.submit((ns, "traced"))
    try:
        with TestClient(create_app(ui_client, token="")) as http:
            page = http.get(f"/ui/main/executions/{ns}/traced/{execution.id}")
            api = http.get(f"/api/v1/executions/{execution.id}").json()
    finally:
        tracing.shutdown()
    trace = f"{tracing.trace_id(execution.id):032x}"
    assert f'<code id="trace-id">{trace}</code>' in page.text
    assert api["traceParent"].split("-")[1] == trace


def test_with_a_token_every_page_asks_for_it(ui_client: Client, ns: str) -> None:
    ui_client.deploy(flow(ns))
    with TestClient(create_app(ui_client, token=TOKEN)) as http:
        for path in ("/ui/main/executions", f"/ui/main/flows/{ns}/guarded", "/ui/main/workers"):
            page = http.get(path, follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
        htmx = http.get("/ui/main/executions/rows", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/ui/login")
        assert http.post("/ui/login", data={"token": "nope"}).status_code == 401
        # a login posted by another site's form is refused, even with the right token
        foreign = http.post(
            "/ui/login", data={"token": TOKEN}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403 and "ostra_session" not in http.cookies
        assert "ostra_session" not in http.cookies
        # a login never sends anyone elsewhere than the UI
        login = http.post(
            "/ui/login",
            data={"token": TOKEN, "next": "https://elsewhere.example/"},
            follow_redirects=False,
        )
        assert login.status_code == 303 and login.headers["location"] == "/ui/main/executions"
        assert TOKEN not in login.headers["set-cookie"]
        assert http.get("/ui/main/executions").status_code == 200
        # the session is the UI's: the API still wants its bearer token
        assert http.get("/api/v1/executions/search").status_code == 401


def test_behind_tls_the_cookie_is_secure(ui_client: Client) -> None:
    with TestClient(create_app(ui_client, token=TOKEN), base_url="https://testserver") as http:
        login = http.post("/ui/login", data={"token": TOKEN}, follow_redirects=False)
        assert "secure" in login.headers["set-cookie"].lower()


def test_a_secret_input_never_reaches_the_page(ui_client: Client, ns: str) -> None:
    ui_client.deploy(flow(ns))
    with TestClient(create_app(ui_client, token="")) as http:
        form = http.get(f"/ui/main/flows/{ns}/guarded")
        token = csrf_of(form.text)
        # a bad input beside a secret one: the form comes back without the secret
        bad = http.post(
            f"/ui/main/flows/{ns}/guarded/execute",
            data={"n": "many", "pin": "hunter2-pin"},
            headers={"X-CSRF-Token": token},
        )
        assert bad.status_code == 422
        assert "invalid INT value" in bad.text and 'id="err-n"' in bad.text
        assert "hunter2-pin" not in bad.text
        good = http.post(
            f"/ui/main/flows/{ns}/guarded/execute",
            data={"n": "2", "pin": "hunter2-pin"},
            headers={"X-CSRF-Token": token},
        )
        assert good.status_code == 200, good.text
        target = good.headers["hx-redirect"]
        page = http.get(target)
        assert page.status_code == 200
        assert "hunter2-pin" not in page.text and "******" in page.text
        execution_id = target.rsplit("/", 1)[1]
        assert ui_client.get(execution_id).inputs["n"] == 2
        ui_client.kill(execution_id)


def test_docs_and_assets_are_served_from_the_package(ui_client: Client) -> None:
    with TestClient(create_app(ui_client, token="")) as http:
        docs = http.get("/docs")
        assert docs.status_code == 200
        assert "/ui/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
        assert "cdn" not in docs.text.lower()
        for asset, kind in (
            ("/ui/static/vendor/htmx/htmx.min.js", "javascript"),
            ("/ui/static/vendor/htmx-ext-sse/sse.js", "javascript"),
            ("/ui/static/vendor/swagger-ui/swagger-ui.css", "css"),
            ("/ui/static/ui.css", "css"),
        ):
            response = http.get(asset)
            assert response.status_code == 200 and kind in response.headers["content-type"]


def test_a_big_execution_is_read_in_parts_and_shows_what_a_whole_read_shows(
    run: Any, client: Client, ns: str
) -> None:
    values = [f"v{i}" for i in range(views.GANTT_MAX_ROWS + 60)]
    done = run(
        f"""
id: big
namespace: {ns}
tasks:
  - id: each
    type: ForEach
    concurrencyLimit: 0
    values: {values}
    tasks:
      - {{id: fetch, type: Return, format: "{{{{ taskrun.value }}}}"}}
  - {{id: after, type: Log, message: done}}
"""
    )
    assert done.state.current == StateType.SUCCESS
    whole = client.get(done.id)
    now = datetime.now(UTC)
    for page in (1, 2):
        view = read_view(client, done.id, page, now)
        assert view.task_runs == len(values) + 2 and view.task_ids == ["after", "each", "fetch"]
        expected = views.tree_rows(whole, now, page)
        assert [r.run.id for r in view.tree.rows] == [r.run.id for r in expected.rows]
        assert [r.depth for r in view.tree.rows] == [r.depth for r in expected.rows]
        # only the page's task runs were read, whole
        assert {r.id for r in view.execution.task_run_list} == {r.run.id for r in expected.rows}
        assert view.tree.rows[1].run.outputs == expected.rows[1].run.outputs
        assert (view.tree.page, view.tree.pages, view.tree.total) == (page, 2, len(values) + 2)
    gantt = read_view(client, done.id, 1, now).gantt
    assert gantt.aggregated
    assert [(r.label, r.depth) for r in gantt.rows] == [("each", 0), ("fetch", 1), ("after", 0)]
    fetch = gantt.rows[1]
    assert fetch.detail == f"{len(values)} task runs: {len(values)} SUCCESS"
    assert fetch.bars[0].state == "SUCCESS" and 0 <= fetch.bars[0].left < 100
    assert views.gantt(whole, now).aggregated  # the whole read agrees it is big
    # the list shows it from the execution's own fields
    with TestClient(create_app(client, token="")) as http:
        page = http.get(f"/ui/main/executions?namespace={ns}")
        assert done.id in page.text and 'data-state="SUCCESS"' in page.text
