"""``ostra server api``, ``ostra server standalone`` and ``ostra execution kill|restart|
replay|pause|resume``, run as subprocesses from the repository root."""

from __future__ import annotations

import contextlib
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
from executor.api.http_client import HttpClient
from executor.embedded import EmbeddedRedis, free_port
from tests.conftest import WORKER_ENV

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

FLOW = """
id: served
namespace: {ns}
tasks:
  - id: nap
    type: Sleep
    duration: {duration}
  - id: add
    type: Python
    function: tests.helpers.funcs:add
    kwargs: {{a: 1, b: 2}}
"""

FAILING = """
id: failing
namespace: {ns}
tasks:
  - id: boom
    type: Fail
    errorMessage: on purpose
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    # the test flows call functions of tests.helpers (the servers' local workers run them)
    env["OSTRA_PYTHON_MODULES"] = WORKER_ENV["OSTRA_PYTHON_MODULES"]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def ostra(*args: str, redis_url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "executor.cli", *args],
        cwd=ROOT,
        env=_env(OSTRA_REDIS_URL=redis_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes (its parent has not reaped it yet)
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    return True


def children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


class Served:
    """An ``ostra server ...`` subprocess, its log file, stopped by its PID."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.out = open(log, "w")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "executor.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_healthy(self, url: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"not healthy after {timeout}s:\n{self.text()}")

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.out.close()


def logged_pid(text: str, what: str) -> int:
    found = re.search(rf"{what} pid (\d+)", text)
    assert found, text
    return int(found.group(1))


@pytest.fixture
def ns() -> str:
    return f"tests.served.n{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- server standalone


def test_standalone_serves_runs_and_stops_cleanly(tmp_path: Path, ns: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    served = Served(
        ["server", "standalone", "--port", str(port), "--data-dir", str(data), "--no-access-log"],
        tmp_path / "standalone.log",
        _env(),
    )
    pids: list[int] = []
    try:
        served.wait_healthy(url)
        text = served.text()
        redis_pid, worker_pid = logged_pid(text, "redis"), logged_pid(text, "worker")
        pids = [redis_pid, worker_pid, *children(worker_pid)]
        assert len(pids) >= 3 and all(alive(p) for p in pids)
        assert f"listening on {url}" in text

        # a second one on the same data directory is refused at once
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "executor.cli",
                "server",
                "standalone",
                "--port",
                str(free_port()),
                "--data-dir",
                str(data),
            ],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 1 and "another `ostra server standalone`" in second.stderr

        with HttpClient(url, token="") as remote:
            remote.deploy(FLOW.format(ns=ns, duration="PT0.5S"))
            execution = remote.submit((ns, "served"))
            done = remote.wait(execution.id, timeout=60)
            assert done.state.current == StateType.SUCCESS
            assert done.task_run("add").outputs["sum"] == 3

        assert served.terminate() == 0
        text = served.text()
        assert "Traceback" not in text
        assert text.index("stopping worker pid") < text.index("stopping redis pid")
        assert "standalone: stopped" in text
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if alive(p)]
        assert (data / "redis").is_dir() and (data / "worker.log").is_file()

        # the data stays (append-only file): a new start still has the execution
        again = Served(
            [
                "server",
                "standalone",
                "--port",
                str(port),
                "--data-dir",
                str(data),
                "--no-access-log",
            ],
            tmp_path / "again.log",
            _env(),
        )
        try:
            again.wait_healthy(url)
            more = again.text()
            pids += [logged_pid(more, "redis"), logged_pid(more, "worker")]
            with HttpClient(url, token="") as remote:
                assert remote.get(execution.id).state.current == StateType.SUCCESS
            again.proc.send_signal(signal.SIGINT)  # Ctrl-C stops it the same way
            assert again.proc.wait(60) == 0
        finally:
            again.stop()
    finally:
        served.stop()
        for pid in pids:  # only if the test failed half-way
            with contextlib.suppress(ProcessLookupError):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- server api


def test_server_api_with_token(
    tmp_path: Path, redis_server: EmbeddedRedis, worker: Any, ns: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    served = Served(
        ["server", "api", "--port", str(port)],
        tmp_path / "api.log",
        _env(OSTRA_REDIS_URL=redis_server.url, OSTRA_API_TOKEN="t0ken-1,t0ken-2"),
    )
    try:
        served.wait_healthy(url)
        assert httpx.get(f"{url}/api/v1/executions/search", timeout=10).status_code == 401
        with HttpClient(url, token="t0ken-2") as remote:
            remote.deploy(FLOW.format(ns=ns, duration="PT0.1S"))
            done = remote.wait(remote.submit((ns, "served")).id, timeout=60)
            assert done.state.current == StateType.SUCCESS
        assert served.terminate() == 0
        text = served.text()
        assert f"listening on {url}" in text and "bearer tokens required (2 accepted)" in text
        assert "t0ken" not in text and "Traceback" not in text
        assert "GET /api/v1/executions/" in text  # the access log
    finally:
        served.stop()


def test_server_api_without_redis_fails_fast() -> None:
    proc = ostra(
        "server",
        "api",
        "--port",
        str(free_port()),
        redis_url=f"redis://:hunter2@127.0.0.1:{free_port()}/0",
    )
    assert proc.returncode == 2
    assert "error: cannot reach redis" in proc.stderr and "hunter2" not in proc.stderr


def test_server_api_port_taken() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = ostra("server", "api", "--port", str(port), redis_url="redis://127.0.0.1:1/0")
    assert proc.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in proc.stderr


# ---------------------------------------------------------------- execution control


@pytest.fixture
def client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


def test_execution_control_commands(
    client: Client, redis_server: EmbeddedRedis, worker: Any, ns: str
) -> None:
    url = redis_server.url
    execution = client.submit(Flow.from_yaml(FLOW.format(ns=ns, duration="PT20S")))
    eid = execution.id
    deadline = time.monotonic() + 30
    while client.state(eid) != StateType.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    paused = ostra("execution", "pause", eid, redis_url=url)
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.split() == ["execution", eid, "PAUSED"]
    again = ostra("execution", "pause", eid, redis_url=url)
    assert again.returncode == 1 and again.stderr.startswith("error: ")
    resumed = ostra("execution", "resume", eid, "--json", redis_url=url)
    assert resumed.returncode == 0, resumed.stderr
    assert '"current": "RUNNING"' in resumed.stdout

    killed = ostra("execution", "kill", eid, redis_url=url)
    assert killed.returncode == 0, killed.stderr
    assert killed.stdout.split()[:2] == ["execution", eid]
    assert killed.stdout.split()[2] in ("KILLING", "KILLED")
    assert client.wait(eid, timeout=30).state.current == StateType.KILLED

    restarted = ostra("execution", "restart", eid, redis_url=url)
    assert restarted.returncode == 0, restarted.stderr
    assert ostra("execution", "kill", eid, redis_url=url).returncode == 0
    client.wait(eid, timeout=30)

    nap = client.get(eid).task_run("nap")
    replayed = ostra("execution", "replay", eid, "--task-run", nap.id, redis_url=url)
    assert replayed.returncode == 0, replayed.stderr
    words = replayed.stdout.split()
    assert words[0] == "execution" and words[1] != eid and f"(replay of {eid})" in replayed.stdout
    new = client.get(words[1])
    assert new.parent_id == eid
    assert ostra("execution", "kill", new.id, redis_url=url).returncode == 0
    client.wait(new.id, timeout=30)

    missing = ostra("execution", "kill", "nope", redis_url=url)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: execution nope not found"
    bad = ostra("execution", "replay", eid, "-i", "oops", redis_url=url)
    assert bad.returncode == 2 and "expected KEY=VALUE" in bad.stderr


def test_kill_an_ended_execution_exits_1(
    client: Client, redis_server: EmbeddedRedis, worker: Any, ns: str
) -> None:
    done = client.wait(client.submit(Flow.from_yaml(FAILING.format(ns=ns))).id, timeout=60)
    assert done.state.current == StateType.FAILED
    killed = ostra("execution", "kill", done.id, redis_url=redis_server.url)
    assert killed.returncode == 1
    assert killed.stderr.startswith("error: ") and "already ended" in killed.stderr
    resumed = ostra("execution", "resume", done.id, redis_url=redis_server.url)
    assert resumed.returncode == 1 and "PAUSED" in resumed.stderr
    restarted = ostra("execution", "restart", done.id, "--json", redis_url=redis_server.url)
    assert restarted.returncode == 0, restarted.stderr
    assert client.wait(done.id, timeout=60).task_run("boom").attempt_count == 2
