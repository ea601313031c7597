"""The ``ostra`` command line, run as a subprocess from the repository root.

Without ``OSTRA_REDIS_URL`` ``ostra run`` starts its own redis-server and worker (a few
seconds each time, so only a handful of tests do that); the other tests point the CLI at
the session's ``redis_server`` and ``worker`` fixtures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from executor import Client, StateType
from executor.embedded import EmbeddedRedis, LocalWorker, free_port
from tests.conftest import stored

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

BAD_FLOW = """
id: bad
namespace: tests.cli
tasks:
  - id: first
    type: Nope
  - id: first
    type: Log
    message: hi
"""

FAILING_FLOW = """
id: failing
namespace: tests.cli
tasks:
  - id: boom
    type: Fail
    errorMessage: "it broke on purpose"
  - id: never
    type: Log
    message: not reached
"""

COUNT_FLOW = """
id: counted
namespace: tests.cli
inputs:
  - id: count
    type: INT
tasks:
  - id: show
    type: Return
    format: "{{ inputs.count }}"
"""

GROUP_FLOW = """
id: grouped
namespace: tests.cli
tasks:
  - id: where
    type: Return
    format: "on a special worker"
    workerGroup: {group}
"""


def _env(redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    if redis_url:
        env["OSTRA_REDIS_URL"] = redis_url
    return env


def ostra(
    *args: str, redis_url: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m executor.cli ARGS`` in the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "executor.cli", *args],
        cwd=ROOT,
        env=_env(redis_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.stdout.lstrip().startswith(("{", "[")), proc.stdout
    return json.loads(proc.stdout)


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


# ---------------------------------------------------------------- embedded mode


def test_run_hello_embedded_prints_progress_and_table() -> None:
    proc = ostra("run", "examples/hello.yaml", "-i", "name=Ada")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["task", "state", "attempts", "duration"]
    assert lines[1].split()[:3] == ["greet", "SUCCESS", "1"]
    assert lines[2].split()[:3] == ["say", "SUCCESS", "1"]
    assert lines[-1].startswith("execution ") and "(examples.hello) SUCCESS" in lines[-1]
    # progress on stderr, one line per change, no spinner when stderr is not a terminal
    assert "embedded redis (pid " in proc.stderr
    assert "greet      RUNNING (attempt 1)" in proc.stderr
    assert "say        SUCCESS (attempt 1)" in proc.stderr
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stderr


def test_run_embedded_takes_secret_inputs_without_a_configured_key(tmp_path: Path) -> None:
    # SECRET inputs are refused without OSTRA_ENCRYPTION_KEY; `ostra run` owns its Redis
    # (gone with the run), so it makes a key for the run instead of refusing.
    flow = tmp_path / "secret.yaml"
    flow.write_text(
        "id: secret\nnamespace: demo\ninputs:\n  - {id: pw, type: SECRET}\ntasks:\n"
        '  - {id: size, type: Return, format: "{{ inputs.pw | length }}"}\n'
    )
    proc = ostra("run", str(flow), "-i", "pw=hunter22", "--json")
    assert proc.returncode == 0, proc.stderr
    done = _json(proc)
    assert done["inputs"] == {"pw": "******"}
    assert done["taskRunList"][0]["outputs"] == {"value": "8"}  # the worker read the plaintext
    assert "hunter22" not in proc.stdout + proc.stderr


def test_run_flaky_json_shows_three_attempts() -> None:
    proc = ostra("run", "examples/flaky.yaml", "--json")
    assert proc.returncode == 0, proc.stderr
    execution = _json(proc)  # stdout holds the JSON and nothing else
    assert execution["state"]["current"] == "SUCCESS"
    (flaky,) = execution["taskRunList"]
    assert flaky["taskId"] == "flaky"
    assert [a["state"]["current"] for a in flaky["attempts"]] == ["FAILED", "FAILED", "SUCCESS"]
    assert flaky["outputs"]["exitCode"] == 0
    assert "RETRYING" in proc.stderr


def test_run_etl_embedded_imports_examples_from_cwd() -> None:
    proc = ostra("run", "examples/etl.yaml", "-i", "unit=C", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    execution = _json(proc)
    outputs = {tr["taskId"]: tr["outputs"] for tr in execution["taskRunList"]}
    assert outputs["extract"]["count"] == 3
    assert outputs["transform"]["rows"][0] == {"city": "Lisbon", "temp": 21.5, "unit": "C"}
    assert outputs["load"] == {"table": "weather", "loaded": 3}


def test_run_failing_flow_exits_1(tmp_path: Path) -> None:
    flow = tmp_path / "failing.yaml"
    flow.write_text(FAILING_FLOW)
    proc = ostra("run", str(flow))
    assert proc.returncode == 1, proc.stderr
    assert "boom" in proc.stdout and "FAILED" in proc.stdout
    assert "it broke on purpose" in proc.stdout
    assert "never" not in proc.stdout
    assert "(tests.cli.failing) FAILED" in proc.stdout
    _no_traceback(proc)


def test_run_bad_flow_exits_2_with_every_problem(tmp_path: Path) -> None:
    flow = tmp_path / "bad.yaml"
    flow.write_text(BAD_FLOW)
    started = time.monotonic()
    proc = ostra("run", str(flow))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: invalid flow (2 problems):\n")
    assert "  - tasks[0].type: unknown task type 'Nope'" in proc.stderr
    assert "  - tasks[1].id: duplicate task id 'first'" in proc.stderr
    assert "embedded redis" not in proc.stderr  # nothing was started
    assert time.monotonic() - started < 15
    _no_traceback(proc)


def test_run_bad_input_exits_2(tmp_path: Path) -> None:
    flow = tmp_path / "count.yaml"
    flow.write_text(COUNT_FLOW)
    proc = ostra("run", str(flow), "-i", "count=abc", "-i", "nope")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: invalid inputs (2 problems):")
    assert "  - inputs.count: invalid INT value" in proc.stderr
    assert "expected KEY=VALUE, got 'nope'" in proc.stderr
    assert "embedded redis" not in proc.stderr
    _no_traceback(proc)


def test_run_missing_file_exits_2() -> None:
    proc = ostra("run", "examples/does-not-exist.yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: cannot read examples/does-not-exist.yaml: no such file"


# ---------------------------------------------------------------- with OSTRA_REDIS_URL


def test_run_with_redis_url_uses_real_workers(
    redis_server: EmbeddedRedis, worker: LocalWorker, client: Client
) -> None:
    url = redis_server.url
    proc = ostra("run", "examples/hello.yaml", "-i", "name=Ada", "--json", redis_url=url)
    assert proc.returncode == 0, proc.stderr
    assert "embedded redis" not in proc.stderr
    eid = _json(proc)["id"]

    recorded = client.get(eid)  # in the fixture's redis, run by the fixture's worker
    assert recorded.state.current == StateType.SUCCESS
    assert recorded.task_run("greet").outputs == {"value": "Hello, Ada!"}
    pid = int(recorded.task_run("greet").attempts[0].worker_id.rpartition(":")[2])
    assert pid in worker.children()

    got = ostra("execution", "get", eid, "--json", redis_url=url)
    assert got.returncode == 0, got.stderr
    assert _json(got) == recorded.model_dump(mode="json", by_alias=True)

    table = ostra("execution", "get", eid, redis_url=url)
    assert table.returncode == 0, table.stderr
    assert f"id:        {eid}" in table.stdout
    assert "examples.hello" in table.stdout
    assert any(line.split()[:2] == ["say", "SUCCESS"] for line in table.stdout.splitlines())

    listed = ostra(
        "execution", "list", "--namespace", "examples", "--flow", "hello", "--json", redis_url=url
    )
    assert listed.returncode == 0, listed.stderr
    assert eid in [x["id"] for x in _json(listed)]
    listed = ostra("execution", "list", "--state", "success", redis_url=url)
    assert listed.returncode == 0, listed.stderr
    assert eid in listed.stdout
    either = ostra(
        "execution", "list", "-s", "failed", "-s", "success", "--since", "PT1H", redis_url=url
    )
    assert either.returncode == 0 and eid in either.stdout, either.stderr
    time.sleep(1.1)
    recent = ostra("execution", "list", "--since", "PT1S", "--json", redis_url=url)
    assert recent.returncode == 0 and eid not in [x["id"] for x in _json(recent)]
    bad = ostra("execution", "list", "--since", "lately", redis_url=url)
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr

    logs = ostra("execution", "logs", eid, redis_url=url)
    assert logs.returncode == 0, logs.stderr
    assert "say#1: say says: Hello, Ada!" in logs.stdout


def test_execution_not_found_exits_1(redis_server: EmbeddedRedis) -> None:
    for args in (["get", "nonexistent"], ["logs", "nonexistent"], ["follow", "nonexistent"]):
        proc = ostra("execution", *args, redis_url=redis_server.url)
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.strip() == "error: execution nonexistent not found"
        assert proc.stdout == ""


def test_unreachable_redis_is_one_line_without_password_exit_2() -> None:
    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    for args in (["execution", "list"], ["run", "examples/hello.yaml"]):
        proc = ostra(*args, redis_url=url)
        assert proc.returncode == 2, proc.stderr  # nothing to talk to: as a usage error
        assert proc.stderr.startswith("error: cannot reach redis at redis://:***@127.0.0.1:")
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "hunter2secret" not in proc.stderr + proc.stdout


def test_bad_flow_and_bad_input_store_nothing(
    redis_server: EmbeddedRedis, client: Client, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FLOW)
    counted = tmp_path / "count.yaml"
    counted.write_text(COUNT_FLOW.replace("id: counted", "id: counted_cli_nothing"))
    before = stored(client)
    assert ostra("run", str(bad), redis_url=redis_server.url).returncode == 2
    assert ostra("run", str(counted), "-i", "count=x", redis_url=redis_server.url).returncode == 2
    assert (
        ostra(
            "flow", "deploy", str(bad), "examples/hello.yaml", redis_url=redis_server.url
        ).returncode
        == 2
    )
    assert stored(client) == before
    assert ("tests.cli", "counted_cli_nothing") not in client.store.list_flows()


def test_etl_metric_is_stored(
    redis_server: EmbeddedRedis, worker: LocalWorker, client: Client
) -> None:
    url = redis_server.url
    proc = ostra("run", "examples/etl.yaml", "-i", "limit=2", "--json", redis_url=url)
    assert proc.returncode == 0, proc.stderr
    execution = _json(proc)
    load = next(tr for tr in execution["taskRunList"] if tr["taskId"] == "load")
    assert load["outputs"] == {"table": "weather", "loaded": 2}
    metrics = client.metrics(execution["id"])
    assert [(m.type, m.name, m.value, m.tags, m.task_id) for m in metrics] == [
        ("counter", "rows.loaded", 2.0, {"table": "weather"}, "load")
    ]

    shown = ostra("execution", "metrics", execution["id"], "--json", redis_url=url)
    assert shown.returncode == 0, shown.stderr
    assert [(m["name"], m["value"]) for m in _json(shown)] == [("rows.loaded", 2.0)]


def test_shell_metrics_outputs_and_metrics(
    redis_server: EmbeddedRedis, worker: LocalWorker, client: Client
) -> None:
    url = redis_server.url
    proc = ostra("run", "examples/shell_metrics.yaml", redis_url=url)
    assert proc.returncode == 0, proc.stderr
    eid = proc.stdout.splitlines()[-1].split()[1]
    execution = client.get(eid)
    assert execution.task_run("count").outputs["vars"] == {"files": 42, "dir": "/data"}
    metrics = {m.name: m for m in client.metrics(eid)}
    assert metrics["files.seen"].type == "counter" and metrics["files.seen"].value == 42
    assert metrics["files.seen"].tags == {"dir": "/data"}
    assert metrics["scan"].type == "timer" and metrics["scan"].value == pytest.approx(250)

    logs = ostra("execution", "logs", eid, redis_url=url)
    assert "report#1: 42 files in /data" in logs.stdout
    assert "count#1: counting files..." in logs.stdout

    table = ostra("execution", "metrics", eid, redis_url=url)
    assert table.returncode == 0, table.stderr
    assert "files.seen" in table.stdout and "dir=/data" in table.stdout


def test_deploy_submit_wait_and_get_flow(redis_server: EmbeddedRedis, worker: LocalWorker) -> None:
    url = redis_server.url
    deployed = ostra("flow", "deploy", "examples/hello.yaml", "examples/flaky.yaml", redis_url=url)
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.startswith("examples.hello revision ")
    assert "examples.flaky revision " in deployed.stdout

    got = ostra("flow", "get", "examples", "hello", redis_url=url)
    assert got.returncode == 0, got.stderr
    assert "id: hello\nnamespace: examples\n" in got.stdout

    submitted = ostra(
        "execution",
        "submit",
        "examples",
        "hello",
        "-i",
        "name=Bo",
        "--wait",
        "--json",
        redis_url=url,
    )
    assert submitted.returncode == 0, submitted.stderr
    execution = _json(submitted)
    assert execution["state"]["current"] == "SUCCESS"
    assert execution["inputs"] == {"name": "Bo"}

    eid = ostra("execution", "submit", "examples", "hello", redis_url=url).stdout.strip()
    followed = ostra("execution", "follow", eid, redis_url=url)
    assert followed.returncode == 0, followed.stderr
    assert "say        SUCCESS (attempt 1)" in followed.stdout
    assert followed.stdout.splitlines()[-1].startswith(f"execution {eid} SUCCESS")

    missing = ostra("execution", "submit", "examples", "nope", redis_url=url)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: flow examples.nope not found"
    bad_input = ostra("execution", "submit", "examples", "hello", "-i", "age=3", redis_url=url)
    assert bad_input.returncode == 2
    assert "inputs.age: unknown input" in bad_input.stderr


def test_worker_command_serves_its_group(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    group = f"cli-group-{os.getpid()}"
    flow = tmp_path / "grouped.yaml"
    flow.write_text(GROUP_FLOW.format(group=group))
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "executor.cli",
            "worker",
            "--group",
            group,
            "-c",
            "1",
            "--loglevel",
            "WARNING",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=_env(redis_server.url),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        done = ostra("run", str(flow), "--json", "--timeout", "60", redis_url=redis_server.url)
        assert done.returncode == 0, done.stderr
        (where,) = _json(done)["taskRunList"]
        assert where["outputs"] == {"value": "on a special worker"}
        pid = int(where["attempts"][0]["workerId"].rpartition(":")[2])
        assert pid in _children(proc.pid)  # exec'd: the celery worker kept the CLI's pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
    text = (tmp_path / "worker.log").read_text()
    assert f"ostra worker: queue '{group}', redis redis://127.0.0.1:" in text


EXECUTOR = [sys.executable, "-m", "executor.cli", "executor", "--interval", "0.2"]


@contextlib.contextmanager
def _executor(redis_url: str, log_path: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``ostra executor`` running (it said so in its log) until the block ends, then
    stopped with SIGTERM, which it must answer with exit code 0."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*EXECUTOR, *extra],
            cwd=ROOT,
            env=_env(redis_url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while "reconciling every" not in log_path.read_text():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            yield proc
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def test_executor_serves_its_metrics_and_the_queue_depth(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    import httpx

    port = free_port()
    with _executor(redis_server.url, tmp_path / "executor.log", "--metrics-port", str(port)):
        time.sleep(0.5)  # a few sweeps
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        # A second executor on the same port: one line, exit 2, nothing else started.
        taken = subprocess.run(
            [*EXECUTOR, "--metrics-port", str(port)],
            cwd=ROOT,
            env=_env(redis_server.url),
            capture_output=True,
            text=True,
            timeout=30,
        )
    sweeps = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("ostra_reconciler_sweeps_total ")
    ]
    assert sweeps and sweeps[0] >= 2
    assert 'ostra_queue_depth{queue="ostra"' in text
    assert taken.returncode == 2, taken.stderr
    assert f"cannot serve metrics on 127.0.0.1:{port}" in taken.stderr
    assert "Traceback" not in taken.stderr


def test_executor_command_runs_until_sigterm(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    log_path = tmp_path / "executor.log"
    with _executor(redis_server.url, log_path):
        time.sleep(0.5)  # a few sweeps
    text = log_path.read_text()
    assert "executor: reconciling every 0.2s, redis redis://127.0.0.1:" in text
    assert "executor: stopped" in text
    assert "Traceback" not in text
