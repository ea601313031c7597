"""Ctrl-C in the terminal of ``ostra server standalone`` while a task runs: the terminal
sends SIGINT to the whole foreground process group. The running attempt finishes and is
recorded before the embedded Redis stops; its data (append-only file) shows it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from executor import Client, StateType
from executor.api.http_client import HttpClient
from executor.embedded import EmbeddedRedis, free_port

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]

FLOW = """
id: interrupted
namespace: {ns}
tasks:
  - id: nap
    type: Sleep
    duration: {duration}
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["OSTRA_LEASE_SECONDS"] = "3"
    return env


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"not healthy:\n{log.read_text()}")


def _pids(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"(?:redis|worker) pid (\d+)", text)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return True


def _standalone(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        # A session of its own, as a shell gives a foreground job its own process group.
        return subprocess.Popen(
            [sys.executable, "-m", "executor.cli", "server", "standalone", "--port", str(port)]
            + ["--data-dir", str(data), "--no-access-log", "-c", "1"],
            cwd=ROOT,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _submit_and_wait_running(url: str, ns: str, duration: str) -> str:
    with HttpClient(url, token="") as remote:
        remote.deploy(FLOW.format(ns=ns, duration=duration))
        eid = remote.submit((ns, "interrupted")).id
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = remote.get(eid).task_runs("nap")
            if runs and runs[0].state.current == StateType.RUNNING:
                return eid
            time.sleep(0.1)
    raise AssertionError("nap never started")


@pytest.mark.timeout(150)
def test_standalone_ctrl_c_records_the_running_attempt_before_redis_stops(tmp_path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    log = tmp_path / "standalone.log"
    ns = f"tests.faults.n{uuid.uuid4().hex[:10]}"
    proc = _standalone(data, port, log)
    pids: list[int] = []
    stopped = False
    try:
        _wait_healthy(proc, url, log)
        pids = _pids(log.read_text())
        eid = _submit_and_wait_running(url, ns, "PT4S")

        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        assert proc.wait(60) == 0, log.read_text()
        stopped = True
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in [] if stopped else pids:  # only if it failed half-way
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    # What Redis had written: the attempt's end is there, nothing was lost.
    with EmbeddedRedis(data / "redis") as server:
        client = Client(server.url)
        try:
            nap = client.get(eid).task_run("nap")
            assert nap.state.current == StateType.SUCCESS, nap.state
            assert [a.state.current for a in nap.attempts] == [StateType.SUCCESS]
            assert client.state(eid) == StateType.SUCCESS
        finally:
            client.orchestrator.dispatcher.app.close()
            client.store.r.close()
    # stopped in order: the worker, the reconciler, Redis last
    text = log.read_text()
    assert "Traceback" not in text, text
    assert text.index("stopping worker pid") < text.index("stopping the reconciler")
    assert text.index("stopping the reconciler") < text.index("stopping redis pid")


@pytest.mark.timeout(150)
def test_a_second_ctrl_c_forces_the_stop(tmp_path) -> None:
    port = free_port()
    log = tmp_path / "standalone.log"
    proc = _standalone(tmp_path / "data", port, log)
    pids: list[int] = []
    try:
        _wait_healthy(proc, f"http://127.0.0.1:{port}", log)
        pids = _pids(log.read_text())
        _submit_and_wait_running(
            f"http://127.0.0.1:{port}", f"tests.faults.n{uuid.uuid4().hex[:10]}", "PT120S"
        )
        os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while "stopping worker pid" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the worker is in its warm shutdown, waiting for the nap
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # a second Ctrl-C
        assert proc.wait(60) == 0, log.read_text()
        # forced: well before the worker's 30 s grace, and nothing is left running
        assert time.monotonic() - started < 15, log.read_text()
        assert "forced" in log.read_text()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if _alive(p)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(150)
def test_standalone_starts_its_worker_again_when_it_dies(tmp_path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "standalone.log"
    proc = _standalone(tmp_path / "data", port, log)
    pids: list[int] = []
    try:
        _wait_healthy(proc, url, log)
        pids = _pids(log.read_text())
        first = int(re.findall(r"worker pid (\d+)", log.read_text())[0])
        os.killpg(first, signal.SIGKILL)  # the worker and its pool: a crash
        deadline = time.monotonic() + 30
        while "(restarted)" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        pids = _pids(log.read_text())
        assert pids[-1] != first, log.read_text()
        with HttpClient(url, token="") as remote:
            ns = f"tests.faults.n{uuid.uuid4().hex[:10]}"
            remote.deploy(FLOW.format(ns=ns, duration="PT0.1S"))
            done = remote.wait(remote.submit((ns, "interrupted")).id, timeout=60)
            assert done.state.current == StateType.SUCCESS
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
        assert not _alive(pids[-1])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
