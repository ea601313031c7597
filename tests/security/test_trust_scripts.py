"""A script task cannot read the worker's Redis password: it runs as the task user
(``nobody`` when the worker is root, as it is here), so the worker's
``/proc/<pid>/environ`` and its OSTRA_REDIS_URL_FILE (0600) are closed to it, and its own
environment is built from an allowlist (no ``OSTRA_*``, no ``SECRET_*``)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from executor import Client, Flow
from executor.embedded import EmbeddedRedis, LocalWorker
from executor.state import StateType
from tests.conftest import WORKER_ENV

pytestmark = [
    pytest.mark.integration,
    # Switching to another user needs root; the suite runs as root (see `id`).
    pytest.mark.skipif(os.geteuid() != 0, reason="the task user switch needs root"),
]

PASSWORD = "script-redis-pass-7c21d4"
SECRET_B64 = "c2NyaXB0LXNlY3JldC02NmFm"  # base64 of "script-secret-66af"

FLOW = """
id: snoop
namespace: tests.trust
tasks:
  - id: snoop
    type: Commands
    env: {{MINE: mine}}
    commands:
      - echo "uid=$(id -u) home=$HOME mine=$MINE"
      - tr '\\0' '\\n' < /proc/$PPID/environ || echo "environ of $PPID refused"
      - cat {url_file} || echo "url file refused"
      - env
"""


def test_a_shell_task_cannot_read_the_worker_environment_or_url_file(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", password=PASSWORD)
    server.start()
    env = {**WORKER_ENV, "SECRET_SNOOPED": SECRET_B64, "WORKER_ONLY": "worker-only-value"}
    worker = LocalWorker(server.url, concurrency=1, env=env, log_file=tmp_path / "w.log")
    client = Client(server.url)
    try:
        worker.start()
        url_file = Path(worker.url_file or "")
        assert PASSWORD in url_file.read_text()  # the worker's URL is there, 0600
        assert url_file.stat().st_mode & 0o777 == 0o600
        flow = Flow.from_yaml(FLOW.format(url_file=url_file))
        done = client.wait(client.submit(flow).id, timeout=60)
        assert done.state.current == StateType.SUCCESS, done.task_run_list
        lines = [e.message for e in client.logs(done.id)]
        text = "\n".join(lines)
        nobody = pwd.getpwnam("nobody").pw_uid
        (who,) = [line for line in lines if line.startswith("uid=")]  # stderr interleaves
        assert who.startswith(f"uid={nobody} ") and who.endswith("mine=mine"), lines
        assert any(line.startswith("environ of ") and "refused" in line for line in lines)
        assert "url file refused" in lines
        for leak in (PASSWORD, SECRET_B64, "worker-only-value", "OSTRA_", "SECRET_"):
            assert leak not in text, (leak, lines)
    finally:
        client.close()
        worker.stop()
        server.close()
