"""What a new user sees from the ``ostra`` command: a flow's log lines and failures, a run
kept and read again, a remote Ostra driven through its API, one-line errors, whole ids
when piped, the task-run tree, ``logs --follow``, ``flow validate`` and the standalone
banner. Subprocesses from the repository root, on the session's Redis and worker."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from executor import Client, Flow, StateType
from executor.embedded import EmbeddedRedis, LocalWorker, free_port
from tests.conftest import WORKER_ENV

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

SHELL_FAILS = """
id: shell_fails
namespace: {ns}
tasks:
  - id: each
    type: ForEach
    values: ["eu", "us"]
    tasks:
      - id: fetch
        type: Log
        message: "fetching {{{{ taskrun.value }}}}"
  - id: boom
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "working on it"
      - echo "disk full, cannot write /data" >&2
      - exit 3
"""

NOBODY = """
id: nobody
namespace: {ns}
tasks:
  - id: lonely
    type: Return
    format: never runs
    workerGroup: {queue}
"""

SLOW_LOG = """
id: slow_log
namespace: {ns}
tasks:
  - id: nap
    type: Sleep
    duration: PT1.5S
  - id: late
    type: Log
    message: "written late"
  - id: other
    type: Log
    message: "from another task"
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def ostra(*args: str, timeout: float = 90, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m executor.cli ARGS`` in the repository root with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "executor.cli", *args],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr


@pytest.fixture
def ns() -> str:
    return f"tests.term.n{uuid.uuid4().hex[:10]}"


def _flow_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"flow-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- ostra run


def test_run_shows_the_flows_log_lines_and_keeps_its_data_to_read_again(tmp_path: Path) -> None:
    data = tmp_path / "kept"
    proc = ostra("run", "examples/hello.yaml", "-i", "name=Ada", "--data-dir", str(data))
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.splitlines()
    # the Log task's line, under its task, between its attempt's start and end
    said = next(i for i, line in enumerate(err) if "say says: Hello, Ada!" in line)
    assert err[said].split()[:2] == ["say", "INFO"]
    assert "say" in err[said - 1] and "RUNNING (attempt 1)" in err[said - 1]
    assert "SUCCESS (attempt 1)" in err[said + 1]
    # submitted once the worker was ready: the first task's time is its own (not the
    # worker's start-up, seconds)
    greet = next(line.split() for line in proc.stdout.splitlines() if line.startswith("greet "))
    assert greet[3].endswith("s") and float(greet[3][:-1]) < 2.0, greet
    eid = re.search(r"execution (\w+) kept in", proc.stderr)
    assert eid, proc.stderr
    assert f"ostra server standalone --data-dir {data.resolve()}" in proc.stderr
    assert f"ostra execution get {eid[1]}" in proc.stderr

    # the AOF it kept holds the execution and its logs: open it again and read them
    again = EmbeddedRedis(data / "redis", appendonly=True)
    again.start()
    try:
        got = ostra("execution", "get", eid[1], "--json", OSTRA_REDIS_URL=again.url)
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["state"]["current"] == "SUCCESS"
        logs = ostra("execution", "logs", eid[1], OSTRA_REDIS_URL=again.url)
        assert "say#1: say says: Hello, Ada!" in logs.stdout
    finally:
        again.close()


def test_a_failed_attempt_shows_its_reason_and_stderr_loop_values_and_a_nested_table(
    redis_server: EmbeddedRedis, worker: LocalWorker, tmp_path: Path, ns: str
) -> None:
    flow = _flow_file(tmp_path, SHELL_FAILS.format(ns=ns))
    proc = ostra("run", str(flow), OSTRA_REDIS_URL=redis_server.url)
    assert proc.returncode == 1, proc.stderr
    _no_traceback(proc)
    err = proc.stderr
    assert re.search(r"fetch\[eu\]\s+INFO\s+fetching eu", err), err  # with its loop value
    assert re.search(r"boom\s+WARN\s+disk full, cannot write /data", err), err
    assert "reason: command exited with code 3" in err
    # the summary nests the loop's task runs under it
    table = proc.stdout.splitlines()
    assert table[1].startswith("each ") and table[2].startswith("  fetch[eu] ")

    # shown even when its lines are filtered out live: the tail of its stderr
    filtered = ostra("run", str(flow), "--log-level", "ERROR", OSTRA_REDIS_URL=redis_server.url)
    assert "fetching eu" not in filtered.stderr
    assert "last lines of its stderr:" in filtered.stderr
    assert "disk full, cannot write /data" in filtered.stderr

    quiet = ostra("run", str(flow), "--quiet", OSTRA_REDIS_URL=redis_server.url)
    assert quiet.returncode == 1 and quiet.stderr == ""
    assert "boom attempt 1 FAILED: command exited with code 3" in quiet.stdout

    bad = ostra("run", str(flow), "--log-level", "LOUD", OSTRA_REDIS_URL=redis_server.url)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "LOUD" in bad.stderr


def test_run_says_when_no_worker_consumes_the_queue(
    redis_server: EmbeddedRedis, worker: LocalWorker, tmp_path: Path, ns: str
) -> None:
    queue = f"nobody{uuid.uuid4().hex[:6]}"
    flow = _flow_file(tmp_path, NOBODY.format(ns=ns, queue=queue))
    proc = ostra("run", str(flow), "--timeout", "7", "--quiet", OSTRA_REDIS_URL=redis_server.url)
    assert proc.returncode == 1
    assert (
        f"warning: no worker consumes the queue '{queue}': its task runs wait "
        f"(ostra worker --group {queue})" in proc.stderr
    )
    with Client(redis_server.url) as client:  # leave nothing running behind
        for x in client.search(namespace=ns):
            client.kill(x.id)


# ---------------------------------------------------------------- the CLI everywhere


@contextlib.contextmanager
def api_server(redis_url: str, tmp_path: Path, token: str) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path / "api.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "executor.cli", "server", "api", "--port", str(port)],
        cwd=ROOT,
        env=_env(OSTRA_REDIS_URL=redis_url, OSTRA_API_TOKEN=token),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "api.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_every_command_drives_a_remote_ostra_through_its_api(
    redis_server: EmbeddedRedis, worker: LocalWorker, tmp_path: Path, ns: str
) -> None:
    token = uuid.uuid4().hex
    flow = _flow_file(tmp_path, SHELL_FAILS.format(ns=ns).replace("exit 3", "exit 0"))
    with api_server(redis_server.url, tmp_path, token) as url:
        # `ostra run` through the API, with its log lines
        ran = ostra("run", str(flow), OSTRA_URL=url, OSTRA_API_TOKEN=token)
        assert ran.returncode == 0, ran.stderr
        assert re.search(r"boom\s+WARN\s+disk full", ran.stderr), ran.stderr
        eid = ran.stdout.splitlines()[-1].split()[1]
        # --url after the command's name, as well as before it
        listed = ostra("execution", "list", "-n", ns, "--json", "--url", url, OSTRA_API_TOKEN=token)
        assert listed.returncode == 0, listed.stderr
        assert [x["id"] for x in json.loads(listed.stdout)] == [eid]
        got = ostra("--url", url, "execution", "get", eid, OSTRA_API_TOKEN=token)
        assert got.returncode == 0 and eid in got.stdout
        logs = ostra(
            "execution", "logs", eid, "--task", "boom", OSTRA_URL=url, OSTRA_API_TOKEN=token
        )
        assert "boom#1: working on it" in logs.stdout and "fetching" not in logs.stdout
        # a wrong token: one line, no traceback
        denied = ostra("execution", "get", eid, OSTRA_URL=url, OSTRA_API_TOKEN="wrong")
        assert denied.returncode == 1 and denied.stderr.count("\n") == 1
        _no_traceback(denied)
        # what only Redis can do says so
        reindex = ostra("execution", "reindex", OSTRA_URL=url, OSTRA_API_TOKEN=token)
        assert reindex.returncode == 2 and "needs a Redis URL" in reindex.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (
            ["execution", "list"],
            {"OSTRA_URL": "http://127.0.0.1:{port}"},
            "cannot reach the Ostra API",
        ),
        (["execution", "list"], {"OSTRA_REDIS_URL": "http://127.0.0.1:{port}"}, "cannot reach"),
        (["execution", "list"], {"OSTRA_URL": "ftp://somewhere"}, "give a Redis URL"),
        (["execution", "list", "--limit", "x"], {}, "Invalid value for '--limit'"),
        (["execution", "nope"], {}, "No such command 'nope'"),
        (["run"], {}, "Missing argument 'FLOW.yaml'"),
    ],
)
def test_usage_and_connection_errors_are_one_line_exit_2(
    args: list[str], env: dict[str, str], says: str
) -> None:
    port = free_port()
    proc = ostra(*args, **{k: v.format(port=port) for k, v in env.items()})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert says in proc.stderr
    _no_traceback(proc)


def test_version() -> None:
    from executor import __version__

    proc = ostra("--version")
    assert proc.returncode == 0 and proc.stdout == f"ostra {__version__}\n"


def test_piped_list_never_cuts_ids_and_get_shows_the_tree_with_reasons(
    redis_server: EmbeddedRedis, worker: LocalWorker, client: Client, ns: str
) -> None:
    flow = Flow.from_yaml(SHELL_FAILS.format(ns=ns))
    done = client.wait(client.submit(flow).id, timeout=60)
    assert done.state.current == StateType.FAILED
    listed = ostra("execution", "list", "-n", ns, OSTRA_REDIS_URL=redis_server.url, COLUMNS="30")
    assert listed.returncode == 0, listed.stderr
    assert done.id in listed.stdout and "…" not in listed.stdout

    got = ostra("execution", "get", done.id, OSTRA_REDIS_URL=redis_server.url, COLUMNS="30")
    lines = got.stdout.splitlines()
    each = next(i for i, line in enumerate(lines) if line.startswith("each "))
    assert lines[each + 1].startswith("  fetch[eu] ") and lines[each + 2].startswith("  fetch[us] ")
    assert "  boom attempt 1 FAILED: command exited with code 3" in lines


def test_logs_follow_a_task_until_the_execution_ends(
    redis_server: EmbeddedRedis, worker: LocalWorker, client: Client, ns: str
) -> None:
    execution = client.submit(Flow.from_yaml(SLOW_LOG.format(ns=ns)))
    proc = ostra(
        "execution",
        "logs",
        execution.id,
        "--follow",
        "--task",
        "late",
        "--level",
        "INFO",
        OSTRA_REDIS_URL=redis_server.url,
    )
    assert proc.returncode == 0, proc.stderr
    assert client.state(execution.id).is_terminated()  # it waited for the end
    assert proc.stdout.strip().endswith("late#1: written late")
    assert "another task" not in proc.stdout


def test_flow_validate_lists_problems_and_warnings(tmp_path: Path) -> None:
    bad = _flow_file(tmp_path, "id: bad\nnamespace: t\ntasks:\n  - id: a\n    type: Nope\n")
    warn = _flow_file(
        tmp_path,
        'id: warn\nnamespace: t\ntasks:\n  - id: a\n    type: Log\n    message: "{{ x( }}"\n',
    )
    ok = ostra("flow", "validate", "examples/hello.yaml", str(warn))
    assert ok.returncode == 0, ok.stderr
    assert "ok: examples/hello.yaml (examples.hello)" in ok.stdout
    assert f"warning: {warn}: tasks[0].message: template syntax error" in ok.stderr
    both = ostra("flow", "validate", "--json", str(bad), str(warn))
    assert both.returncode == 2
    report: list[dict[str, Any]] = json.loads(both.stdout)
    assert report[0]["valid"] is False
    assert report[0]["problems"] == [
        {"path": "tasks[0].type", "message": "unknown task type 'Nope'"}
    ]
    assert report[1]["valid"] is True and report[1]["warnings"]


# ---------------------------------------------------------------- server standalone


def test_standalone_prints_where_everything_is_and_serves_flower_behind_the_token(
    tmp_path: Path,
) -> None:
    import socket

    token = uuid.uuid4().hex
    flower_port = free_port()
    with socket.socket() as busy:  # the asked port is taken: the next free one is used
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port = free_port()
        log = open(tmp_path / "standalone.log", "w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "executor.cli",
                "server",
                "standalone",
                "--port",
                str(port),
                "--redis-port",
                str(taken),
                "--data-dir",
                str(tmp_path / "data"),
                "--flower",
                "--flower-port",
                str(flower_port),
            ],
            cwd=ROOT,
            env=_env(
                OSTRA_PYTHON_MODULES=WORKER_ENV["OSTRA_PYTHON_MODULES"], OSTRA_API_TOKEN=token
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            text = ""
            while "export OSTRA_REDIS_URL=" not in text:
                assert proc.poll() is None and time.monotonic() < deadline, text
                time.sleep(0.2)
                text = (tmp_path / "standalone.log").read_text()
            flower = f"http://127.0.0.1:{flower_port}"
            while True:  # Flower starts on its own
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{flower}/healthcheck", timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, (tmp_path / "data" / "flower.log").read_text()
                time.sleep(0.3)
            assert httpx.get(f"{flower}/workers", timeout=5).status_code == 401
            assert (
                httpx.get(f"{flower}/workers", auth=("ostra", token), timeout=5).status_code == 200
            )
            flower_pid = int(re.findall(r"flower pid (\d+)", text)[0])
            argv = Path(f"/proc/{flower_pid}/cmdline").read_bytes().decode()
            assert "--tasks-columns=name,args,state" in argv and token not in argv
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            log.close()
    found = re.search(r"export OSTRA_REDIS_URL=redis://127\.0\.0\.1:(\d+)/0", text)
    assert found and int(found[1]) > taken, text
    assert f"api    http://127.0.0.1:{port}/api/v1" in text
    assert f"redis  redis://127.0.0.1:{found[1]}/0" in text
    assert f"flower http://127.0.0.1:{flower_port} (user ostra" in text
    assert (
        not Path(f"/proc/{flower_pid}").exists()
        or "Z" in Path(f"/proc/{flower_pid}/stat").read_text().split(") ", 1)[1][:1]
    )


# ---------------------------------------------------------------- on a terminal

LIVE = """
id: live
namespace: {ns}
tasks:
  - id: nap
    type: Sleep
    duration: PT2S
  - id: each
    type: ForEach
    values: ["a", "b"]
    tasks:
      - id: say
        type: Log
        message: "value {{{{ taskrun.value }}}}"
"""


def test_on_a_terminal_a_status_line_shows_the_clock_and_the_planned_total(
    redis_server: EmbeddedRedis, worker: LocalWorker, tmp_path: Path, ns: str
) -> None:
    import pexpect

    flow = _flow_file(tmp_path, LIVE.format(ns=ns))
    child = pexpect.spawn(
        sys.executable,
        ["-m", "executor.cli", "run", str(flow)],
        cwd=str(ROOT),
        env=_env(OSTRA_REDIS_URL=redis_server.url, COLUMNS="120", LINES="40", TERM="xterm"),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    seen = io.StringIO()
    child.logfile_read = seen
    try:
        # while nap sleeps: the state, an elapsed clock, and 0 ended of 2 known + more
        child.expect(r"live: RUNNING\s+\d+\.\ds, 0/2\+ task runs ended")
        child.expect(r"say\[a\]")  # the loop value on the live lines
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "\x1b[32mSUCCESS" in seen.getvalue()  # states in colour on a terminal
    with Client(redis_server.url) as client:
        assert client.search(namespace=ns)[0].state.current == StateType.SUCCESS


# ---------------------------------------------------------------- the README


def test_the_readme_python_client_example_runs_as_written(
    redis_server: EmbeddedRedis, worker: LocalWorker
) -> None:
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Python client") :].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'Client("redis://127.0.0.1:6379/0")' in block
    script = block.replace("redis://127.0.0.1:6379/0", redis_server.url)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_env(OSTRA_PYTHON_MODULES=WORKER_ENV["OSTRA_PYTHON_MODULES"]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SUCCESS {'value': 'Hello, Ada!'}" in proc.stdout


def test_shell_completion_completes_commands() -> None:
    proc = ostra(_OSTRA_COMPLETE="complete_bash", COMP_WORDS="ostra execution l", COMP_CWORD="2")
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == {"list", "logs"}
    script = ostra("--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert "_ostra_completion" in script.stdout
