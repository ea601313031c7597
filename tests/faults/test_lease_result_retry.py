"""Issue 12 item 8: an attempt that ends while Redis is stopped keeps its result. The
worker writes the end again (with backoff, its lease renewed meanwhile) until Redis is
back, and the task run ends with that attempt: it is not run again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from executor import Client, Flow, StateType
from executor.embedded import EmbeddedRedis
from tests.helpers.faults import make_worker

pytestmark = pytest.mark.faults
S = StateType


def _wait_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_lease_an_attempt_ending_while_redis_is_down_is_recorded_once(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    base = tmp_path / "attempt"
    flow = Flow.from_yaml(f"""
id: keepresult
namespace: tests.faults
tasks:
  - id: victim
    type: Python
    function: tests.helpers.lease_funcs:end_on_go
    kwargs: {{path: "{base}"}}
  - id: after
    type: Return
    format: "after {{{{ outputs.victim.attempt }}}}"
""")
    # A lease of 10 s: Redis is down for a few seconds, well within it.
    worker = make_worker(
        redis_server.url, tmp_path, "keep", env={"OSTRA_LEASE_SECONDS": "10"}
    ).start()
    client = Client(redis_server.url)
    try:
        eid = client.submit(flow).id
        _wait_file(Path(f"{base}.started"), 60)
        redis_server.stop()  # SIGTERM to its PID
        Path(f"{base}.go").touch()
        _wait_file(Path(f"{base}.returned"), 10)  # the attempt ended: Redis is down
        time.sleep(1.5)  # its end cannot be written meanwhile
        redis_server.start()  # the same port and data directory (AOF)
        done = client.wait(eid, timeout=60)
        assert done.state.current == S.SUCCESS
        victim = done.task_run("victim")
        assert [a.state.current for a in victim.attempts] == [S.SUCCESS]
        assert victim.outputs == {"attempt": 1}
        assert done.task_run("after").outputs == {"value": "after 1"}
        assert Path(f"{base}.started").read_text().split() == ["1"]  # not run again
    finally:
        worker.stop()
        client.store.r.close()
