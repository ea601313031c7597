"""The web UI in a real browser (Debian's chromium, driven by Playwright), against a real
``ostra server standalone``: what a person would check on each page.

One standalone server and one browser serve the whole module (plus an ``ostra server
api`` with a token, on the same Redis, for the login and CSRF checks). Screenshots of
the main pages go to ``OSTRA_TEST_ARTIFACTS`` (or the module's tmp dir).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from executor.api.http_client import HttpClient
from executor.embedded import free_port
from executor.state import StateType
from tests.helpers.browser import AXE, CHROMIUM, Server, artifacts_dir, server_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no browser: {CHROMIUM} is missing (apt-get install chromium)",
    ),
]

playwright_api = pytest.importorskip("playwright.sync_api")

TOKEN = "ui-t0ken-s3cret"
NS = f"ui.t{uuid.uuid4().hex[:8]}"

FLAKY = f"""
id: flaky
namespace: {NS}
description: fails twice, then succeeds
labels: {{team: data}}
tasks:
  - id: hello
    type: Log
    message: hello from the ui test
  - id: flaky
    type: Python
    function: tests.helpers.funcs:flaky
    retry: {{type: constant, interval: PT0.2S, maxAttempts: 3}}
  - id: each
    type: ForEach
    values: ["eu", "us"]
    tasks:
      - id: fetch
        type: Return
        format: "rows of {{{{ taskrun.value }}}}"
"""

SLOW = f"""
id: slow
namespace: {NS}
inputs:
  - id: seconds
    type: INT
    defaults: 30
    min: 0
    max: 600
  - id: pin
    type: SECRET
    required: false
tasks:
  - id: nap
    type: Sleep
    duration: "PT{{{{ inputs.seconds }}}}S"
  - id: after
    type: Log
    message: done napping
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ui")
    port = free_port()
    served = Server(
        ["server", "standalone", "--port", str(port), "--data-dir", str(tmp / "data")],
        tmp / "standalone.log",
        server_env(),
        f"http://127.0.0.1:{port}",
    )
    try:
        served.wait_healthy()
        with HttpClient(served.url, token="") as remote:
            remote.deploy(FLAKY)
            remote.deploy(SLOW)
        yield served
    finally:
        served.stop()
    assert "Traceback" not in served.text(), served.text()


@pytest.fixture(scope="module")
def remote(server: Server) -> Iterator[HttpClient]:
    with HttpClient(server.url, token="") as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    # Every confirmation is accepted, as a person clicking OK would.
    pg.on("dialog", lambda dialog: dialog.accept())
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts_dir(tmp_path_factory.mktemp("screenshots"))


def execution_url(server: Server, flow_id: str, execution_id: str) -> str:
    return f"{server.url}/ui/main/executions/{NS}/{flow_id}/{execution_id}"


def state_of(page: Any) -> str:
    return str(page.get_attribute("#execution-state", "data-state"))


def wait_state(page: Any, state: str, timeout: float = 30) -> None:
    page.wait_for_selector(f"#execution-state[data-state={state}]", timeout=timeout * 1000)


# ---------------------------------------------------------------- executions list


def test_list_shows_the_execution_and_its_state_changes_live(
    server: Server, remote: HttpClient, page: Any, shots: Path
) -> None:
    page.goto(f"{server.url}/")  # / redirects to the UI's list
    assert page.url.endswith("/ui/main/executions")
    page.goto(f"{server.url}/ui/main/executions?namespace={NS}&flowId=slow")
    execution = remote.submit((NS, "slow"), inputs={"seconds": 2})
    row = f"tr[data-execution='{execution.id}']"
    # no reload: the rows are polled
    page.wait_for_selector(f"{row} [data-state=RUNNING]", timeout=20_000)
    page.wait_for_selector(f"{row} [data-state=SUCCESS]", timeout=30_000)
    assert remote.get(execution.id).state.current == StateType.SUCCESS
    # the state filter keeps it out of the FAILED ones
    page.goto(f"{server.url}/ui/main/executions?namespace={NS}&state=FAILED")
    assert page.locator(row).count() == 0
    # a person picks a creation time range and filters: it is kept in the URL and form
    page.goto(f"{server.url}/ui/main/executions?namespace={NS}&flowId=slow")
    page.select_option("select[name=timeRange]", label="last hour")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**timeRange=PT1H**")
    assert page.locator(row).count() == 1
    assert page.input_value("select[name=timeRange]") == "PT1H"


def test_bulk_kill_of_the_selected_executions(
    server: Server, remote: HttpClient, page: Any, shots: Path
) -> None:
    first = remote.submit((NS, "slow"), inputs={"seconds": 60}, labels={"bulk": "yes"})
    second = remote.submit((NS, "slow"), inputs={"seconds": 60}, labels={"bulk": "yes"})
    page.goto(f"{server.url}/ui/main/executions?namespace={NS}&labels=bulk:yes")
    for e in (first, second):
        page.check(f"tr[data-execution='{e.id}'] input[name=ids]")
    page.click("button[value=kill]")
    page.wait_for_selector("#flash .alert", timeout=10_000)
    assert "kill: 2 of 2 accepted" in page.inner_text("#flash")
    for e in (first, second):
        page.wait_for_selector(f"tr[data-execution='{e.id}'] [data-state=KILLED]", timeout=30_000)
    page.goto(f"{server.url}/ui/main/executions?namespace={NS}")
    page.screenshot(path=str(shots / "executions.png"))


# ---------------------------------------------------------------- one execution


def test_timeline_shows_three_attempts_of_a_task_retried_twice_and_the_logs(
    server: Server, remote: HttpClient, page: Any, shots: Path
) -> None:
    done = remote.wait(remote.submit((NS, "flaky")).id, timeout=60)
    assert done.state.current == StateType.SUCCESS
    page.goto(execution_url(server, "flaky", done.id))
    assert state_of(page) == "SUCCESS"
    bars = page.locator(".gantt-row[data-task=flaky] .bar")
    assert bars.count() == 3
    states = [bars.nth(i).get_attribute("data-state") for i in range(3)]
    assert states == ["FAILED", "FAILED", "SUCCESS"]
    # the reason of a failed attempt on hover (and to a screen reader)
    first = bars.nth(0)
    assert "flaky failure on attempt 1" in str(first.get_attribute("title"))
    first.hover()
    # the tree: the loop's children under it, with their values
    tree = page.locator("table.tree tbody tr")
    tasks = [tree.nth(i).get_attribute("data-task") for i in range(tree.count())]
    assert tasks == ["hello", "flaky", "each", "fetch", "fetch"]
    assert "eu" in tree.nth(3).inner_text() and "us" in tree.nth(4).inner_text()
    # logs: the task's line, then filtered by task and by a search
    page.wait_for_selector("#logs .log-lines")
    assert "hello from the ui test" in page.inner_text("#logs")
    page.select_option("#log-filters select[name=task]", "flaky")
    page.wait_for_function("!document.querySelector('#logs').innerText.includes('hello from')")
    page.select_option("#log-filters select[name=task]", "")
    page.fill("#log-q", "hello from")
    page.wait_for_function("document.querySelectorAll('#logs tbody tr').length === 1")
    assert "hello from the ui test" in page.inner_text("#logs tbody")
    page.screenshot(path=str(shots / "execution.png"), full_page=True)


def test_kill_from_the_button_reaches_killed_live_and_restart_is_refused_while_running(
    server: Server, remote: HttpClient, page: Any
) -> None:
    execution = remote.submit((NS, "slow"), inputs={"seconds": 60})
    page.goto(execution_url(server, "slow", execution.id))
    wait_state(page, "RUNNING")
    # a refused action shows the API's reason
    page.click("section.actions button:text-is('Restart')")
    page.wait_for_selector("#flash .alert.error")
    assert "restart refused" in page.inner_text("#flash")
    page.click("section.actions button:text-is('Kill')")
    wait_state(page, "KILLED")  # through the live stream: no reload
    assert remote.get(execution.id).state.current == StateType.KILLED
    bars = page.locator(".gantt-row[data-task=nap] .bar")
    assert bars.first.get_attribute("data-state") == "KILLED"


def test_replay_from_a_chosen_task_run_opens_the_new_execution(
    server: Server, remote: HttpClient, page: Any
) -> None:
    done = remote.wait(remote.submit((NS, "flaky")).id, timeout=60)
    page.goto(execution_url(server, "flaky", done.id))
    each = page.get_attribute("table.tree tr[data-task=each]", "data-task-run")
    page.select_option("section.actions select[name=taskRunId]", str(each))
    page.click("section.actions button:text-is('Replay')")
    page.wait_for_url(re.compile(r".*/executions/.*/flaky/(?!" + done.id + r")\w+$"))
    new_id = page.url.rsplit("/", 1)[1]
    assert f"replay of {done.id}" in page.inner_text(".crumbs")
    replayed = remote.wait(new_id, timeout=60)
    assert replayed.parent_id == done.id
    # the task runs before "each" were copied: flaky keeps its three attempts
    assert len(replayed.task_run("flaky").attempts) == 3
    wait_state(page, "SUCCESS")


# ---------------------------------------------------------------- flows


def test_execute_form_refuses_a_bad_input_beside_its_field_then_starts_one(
    server: Server, remote: HttpClient, page: Any, shots: Path
) -> None:
    page.goto(f"{server.url}/ui/main/flows")
    page.click(f"tr[data-flow='{NS}.slow'] a")
    assert "Sleep" in page.inner_text("pre.source")
    assert page.locator("pre.source code.hljs").count() == 1  # highlighted
    before = remote.search_page(namespace=NS, flow_id="slow").total
    page.fill("#in-seconds", "abc")
    page.click("#execute button[type=submit]")
    error = page.wait_for_selector("#err-seconds")
    assert "invalid INT value" in error.inner_text()
    assert page.get_attribute("#in-seconds", "aria-invalid") == "true"
    page.screenshot(path=str(shots / "flow.png"), full_page=True)
    assert remote.search_page(namespace=NS, flow_id="slow").total == before  # nothing stored
    page.fill("#in-seconds", "0")
    page.fill("#in-pin", "1234-secret-pin")
    page.click("#execute button[type=submit]")
    page.wait_for_url(re.compile(rf".*/executions/{re.escape(NS)}/slow/\w+$"))
    wait_state(page, "SUCCESS")
    # a SECRET input never reaches the page
    assert "1234-secret-pin" not in page.content()
    assert "******" in page.inner_text("body")


def test_workers_page_counts_the_worker_and_the_queue(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/ui/main/workers")
    assert page.locator("tr[data-worker]").count() == 1
    assert page.locator("tr[data-queue=ostra]").count() == 1


# ---------------------------------------------------------------- offline, a11y


def test_ui_and_docs_load_nothing_from_outside(server: Server, page: Any) -> None:
    outside: list[str] = []

    def watch(request: Any) -> None:
        if not request.url.startswith(server.url) and not request.url.startswith("data:"):
            outside.append(request.url)

    page.on("request", watch)
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Ostra" in page.inner_text(".swagger-ui .info .title")
    page.goto(f"{server.url}/ui/main/flows/{NS}/flaky")
    page.wait_for_selector("pre.source code.hljs")
    assert outside == []


@pytest.mark.parametrize("which", ["executions", "execution", "flow", "workers"])
def test_pages_pass_axe_and_every_control_is_reachable_by_keyboard(
    server: Server, remote: HttpClient, page: Any, which: str
) -> None:
    if which == "execution":
        found = remote.search_page(namespace=NS, flow_id="flaky", size=1).results
        e = found[0] if found else remote.wait(remote.submit((NS, "flaky")).id, timeout=60)
        url = execution_url(server, "flaky", e.id)
    elif which == "flow":
        url = f"{server.url}/ui/main/flows/{NS}/slow"
    else:
        url = f"{server.url}/ui/main/{which}?namespace={NS}"
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})"
    )
    problems = [
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})"
        for v in result["violations"]
    ]
    assert problems == []
    # every control can take the focus from the keyboard (Tab order, no tabindex=-1)
    unreachable = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input, select, textarea, summary')]
            .filter(el => !el.disabled && el.offsetParent !== null && el.tabIndex < 0)
            .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert unreachable == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"


# ---------------------------------------------------------------- auth


@pytest.fixture(scope="module")
def guarded(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An ``ostra server api`` with a token, on the standalone's Redis."""
    tmp = tmp_path_factory.mktemp("guarded")
    port = free_port()
    env = server_env(OSTRA_REDIS_URL=server.redis_url(), OSTRA_API_TOKEN=TOKEN)
    served = Server(
        ["server", "api", "--port", str(port), "--no-access-log"],
        tmp / "api.log",
        env,
        f"http://127.0.0.1:{port}",
    )
    try:
        served.wait_healthy()
        yield served
    finally:
        served.stop()


def test_with_a_token_the_pages_ask_for_it_and_an_action_without_csrf_is_refused(
    guarded: Server, remote: HttpClient, page: Any, shots: Path
) -> None:
    execution = remote.submit((NS, "slow"), inputs={"seconds": 60})
    target = f"{guarded.url}/ui/main/executions/{NS}/slow/{execution.id}"
    page.goto(target)
    assert "/ui/login" in page.url
    page.screenshot(path=str(shots / "login.png"))
    page.fill("#token", "not-the-token")
    page.click("form.login button")
    assert "That token is not accepted" in page.inner_text("main")
    page.fill("#token", TOKEN)
    page.click("form.login button")
    page.wait_for_url(target)
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain http here; Secure behind TLS
    assert TOKEN not in cookie["value"]
    # the same kill without the page's CSRF token: refused, nothing killed
    status = page.evaluate(
        "url => fetch(url, {method: 'POST'}).then(r => r.status)", f"{target}/kill"
    )
    assert status == 403
    assert remote.get(execution.id).state.current == StateType.RUNNING
    # the API itself still wants its bearer token: the session is the UI's only
    assert httpx.get(f"{guarded.url}/api/v1/executions/{execution.id}").status_code == 401
    page.click("section.actions button:text-is('Kill')")
    wait_state(page, "KILLED")
    deadline = time.monotonic() + 10
    while remote.get(execution.id).state.current != StateType.KILLED:
        assert time.monotonic() < deadline
        time.sleep(0.1)
