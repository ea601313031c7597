"""OSTRA_REDIS_URL_FILE: a worker reads its Redis URL (with the password) from a 0600
file, so no process of the worker has it in its environment, and it works end to end
against a password-protected redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from executor import Client, Flow
from executor.embedded import EmbeddedRedis
from executor.errors import SettingsError
from executor.settings import Settings, get_settings
from executor.state import StateType
from tests.conftest import WORKER_ENV

pytestmark = pytest.mark.integration

PASSWORD = "url-file-pass-3b9e07"

FLOW = """
id: via-file
namespace: tests.trust
tasks:
  - {id: hi, type: Return, format: "hello"}
  - {id: sh, type: Commands, commands: ["echo shell ok"]}
"""


def _environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def test_ostra_worker_reads_its_url_from_a_file(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", password=PASSWORD)
    server.start()
    url_file = tmp_path / "redis-url"
    url_file.write_text(server.url + "\n")
    url_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_REDIS_URL")}
    env.update(WORKER_ENV, OSTRA_REDIS_URL_FILE=str(url_file))
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "executor.cli", "worker", "-c", "1", "-l", "WARNING"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = Client(server.url)
    try:
        done = client.wait(client.submit(Flow.from_yaml(FLOW)).id, timeout=90)
        assert done.state.current == StateType.SUCCESS, (tmp_path / "worker.log").read_text()
        assert "shell ok" in [e.message for e in client.logs(done.id)]
        pids = [proc.pid, *_descendants(proc.pid)]
        assert len(pids) >= 2  # the worker and its pool process
        for pid in pids:
            environ = _environ(pid)
            assert PASSWORD.encode() not in environ, pid
            assert b"OSTRA_REDIS_URL_FILE=" in environ
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()
        server.close()


def test_url_file_errors_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv("OSTRA_REDIS_URL_FILE", str(missing))
    monkeypatch.delenv("OSTRA_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=f"OSTRA_REDIS_URL_FILE: cannot read {missing}"):
            get_settings()
        missing.write_text("\n")
        with pytest.raises(SettingsError, match="is empty"):
            get_settings()
        missing.write_text("redis://:pw@127.0.0.1:1/0\n")
        assert get_settings().url == "redis://:pw@127.0.0.1:1/0"
        monkeypatch.setenv("OSTRA_REDIS_URL", "redis://127.0.0.1:2/0")
        get_settings.cache_clear()
        with pytest.raises(SettingsError, match="not both"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert Settings(redis_url="redis://x:1/0").url == "redis://x:1/0"
