"""Logs are bounded on a real worker: one 50 MB stdout line and 100,000 ``ctx.log`` calls
store at most their task run's caps (Redis memory of the execution's log keys), with the
truncation marker, and pages of the log add up to it (Client and REST API)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from executor import Client, Flow, StateType
from executor.api.app import create_app
from executor.embedded import LocalWorker
from executor.loglimits import LogLimits
from executor.models import LogEntry

pytestmark = pytest.mark.integration
S = StateType
#: the defaults (the worker fixture sets none of them)
LIMITS = LogLimits()
#: what Redis may spend beyond the entries themselves (list and hash overhead)
MARGIN = 1.1


def _memory(client: Client, eid: str) -> int:
    """Bytes Redis uses for the execution's log keys (every element counted)."""
    r, k = client.store.r, client.store.k
    return sum(int(r.memory_usage(key, samples=0) or 0) for key in (k.logs(eid), k.log_budget(eid)))


def _run(client: Client, yaml_text: str, timeout: float = 120) -> Any:
    execution = client.submit(Flow.from_yaml(yaml_text))
    return client.wait(execution.id, timeout=timeout)


def test_logcap_one_50mb_stdout_line(client: Client, worker: LocalWorker) -> None:
    done = _run(
        client,
        """
id: logcap-line
namespace: tests.logcap
tasks:
  - id: line
    type: Commands
    commands:
      - head -c 50000000 /dev/zero | tr '\\0' 'a'; echo
      - echo after
""",
    )
    assert done.state.current == S.SUCCESS
    logs = client.logs(done.id)
    assert [e.message for e in logs][-1] == "after"
    (long,) = [e for e in logs if e.message.startswith("aaa")]
    assert len(long.message.encode()) <= LIMITS.line_max_bytes
    body, _, marker = long.message.partition(" … [")
    assert set(body) == {"a"} and len(body) + int(marker.split()[0]) == 50_000_000
    assert marker.endswith(" bytes cut]")
    assert _memory(client, done.id) < LIMITS.line_max_bytes * MARGIN + 64 * 1024


def test_logcap_100000_ctx_log_calls(client: Client, worker: LocalWorker) -> None:
    done = _run(
        client,
        """
id: logcap-calls
namespace: tests.logcap
tasks:
  - id: chatty
    type: Python
    function: tests.helpers.logcap_funcs:chatty
    kwargs: {lines: 100000, width: 1000}
  - id: next
    type: Log
    message: next task
""",
    )
    assert done.state.current == S.SUCCESS
    assert done.task_run("chatty").outputs == {"logged": 100_000}
    logs = client.logs(done.id)
    chatty = [e for e in logs if e.task_id == "chatty"]
    marker = chatty[-1]
    assert marker.level == "WARN" and marker.message == (
        f"log truncated: limit of {LIMITS.max_bytes} bytes per task run reached; "
        "further lines dropped"
    )
    assert sum(e.message.startswith("log truncated") for e in logs) == 1
    assert 1000 < len(chatty) < 100_000
    assert [e.message[:11] for e in chatty[:-1]] == [
        f"line {i:06d}" for i in range(len(chatty) - 1)
    ]
    assert logs[-1].message == "next task", "another task run has its own budget"
    assert _memory(client, done.id) < LIMITS.max_bytes * MARGIN

    # Pages add up to the log, by page number and by cursor, locally and over HTTP.
    by_page = [client.logs_page(done.id, page=p, size=1000) for p in range(1, 100)]
    assert [e for page in by_page for e in page.results] == logs
    assert {page.total for page in by_page} == {len(logs)}
    followed: list[LogEntry] = []
    cursor = 0
    while True:
        page = client.logs_page(done.id, size=777, cursor=cursor)
        followed += page.results
        cursor = page.next_cursor
        if len(page.results) < 777:
            break
    assert followed == logs and cursor == len(logs)
    warn = client.logs_page(done.id, size=10, min_level="WARN", task_id="chatty")
    assert warn.results == [marker] and warn.total == 1

    app = create_app(client, token="")
    with TestClient(app) as http:
        url = f"/api/v1/logs/{done.id}"
        seen: list[dict[str, Any]] = []
        cursor = 0
        while True:
            body = http.get(url, params={"size": 5000, "cursor": cursor}).json()
            assert body["total"] == len(logs) - cursor
            seen += body["results"]
            cursor = body["nextCursor"]
            if len(body["results"]) < 5000:
                break
        assert [x["message"] for x in seen] == [e.message for e in logs]
        second = http.get(url, params={"page": 2, "size": 3}).json()
        assert [x["message"] for x in second["results"]] == [e.message for e in logs[3:6]]
        assert second["nextCursor"] == 6
        assert http.get(url, params={"size": 10_001}).status_code == 422
        assert http.get(url, params={"cursor": -1}).status_code == 422


def test_logcap_cli_reads_the_log_in_pages(client: Client, redis_server: Any) -> None:
    from tests.contract.support import submit
    from tests.integration.test_cli import ostra

    eid = submit(client.store)
    for i in range(2500):  # three pages of the CLI's 1000
        level = "ERROR" if i % 500 == 0 else "INFO"
        client.store.append_log(
            LogEntry(level=level, message=f"m{i}", execution_id=eid, task_id="t", attempt=1)
        )
    text = ostra("execution", "logs", eid, redis_url=redis_server.url)
    assert text.returncode == 0, text.stderr
    assert [line.rsplit(": ", 1)[1] for line in text.stdout.splitlines()] == [
        f"m{i}" for i in range(2500)
    ]
    raw = ostra("execution", "logs", eid, "--json", redis_url=redis_server.url)
    assert [e["message"] for e in json.loads(raw.stdout)] == [f"m{i}" for i in range(2500)]
    errors = ostra("execution", "logs", eid, "--min-level", "error", redis_url=redis_server.url)
    assert errors.stdout.count("ERROR") == 5 and "INFO" not in errors.stdout
    bad = ostra("execution", "logs", eid, "--min-level", "LOUD", redis_url=redis_server.url)
    assert bad.returncode == 2 and "--min-level" in bad.stderr
