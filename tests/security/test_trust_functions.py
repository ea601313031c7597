"""A flow author cannot call any Python function: only modules OSTRA_PYTHON_MODULES
lists. ``os:getenv`` (which would read the worker's Redis URL or keys) is refused at
deploy where the deploying process has the setting, and always on the worker, before
anything is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis, LocalWorker
from executor.errors import FlowValidationError
from executor.settings import get_settings
from executor.state import StateType
from tests.conftest import WORKER_ENV, stored

pytestmark = pytest.mark.integration

PASSWORD = "fn-redis-pass-51e0c9"
KEY_VAR = "OSTRA_ENCRYPTION_KEY"

GETENV = """
id: getenv
namespace: tests.trust
tasks:
  - id: read
    type: Python
    function: "{function}"
    kwargs: {{key: {key}}}
"""


def getenv_flow(function: str = "os:getenv", key: str = KEY_VAR) -> Flow:
    return Flow.from_yaml(GETENV.format(function=function, key=key))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own (overrides the session-wide one of tests/conftest.py)."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def locked(redis_server: EmbeddedRedis) -> Iterator[Client]:
    """A client of a process where OSTRA_PYTHON_MODULES is set (tests.helpers.* only)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OSTRA_PYTHON_MODULES", "tests.helpers.*")
        get_settings.cache_clear()
        client = Client(redis_server.url)
        try:
            yield client
        finally:
            client.close()
    get_settings.cache_clear()


def test_deploy_refuses_a_function_of_a_module_not_listed(locked: Client) -> None:
    before = stored(locked)
    with pytest.raises(FlowValidationError) as info:
        locked.deploy(getenv_flow())
    (problem,) = info.value.problems
    assert problem.path == "tasks[0].function"
    assert "'os:getenv'" in problem.message and "OSTRA_PYTHON_MODULES" in problem.message
    with pytest.raises(FlowValidationError, match="OSTRA_PYTHON_MODULES"):
        locked.submit(getenv_flow())
    # nested in a flowable too, and through the API (422, nothing stored)
    nested = """
id: nested
namespace: tests.trust
tasks:
  - id: p
    type: Parallel
    tasks:
      - {id: ok, type: Python, function: "tests.helpers.funcs:greet", kwargs: {name: x}}
      - {id: bad, type: Python, function: "subprocess:getoutput", kwargs: {cmd: id}}
"""
    with pytest.raises(FlowValidationError) as info:
        locked.deploy(nested)
    assert [p.path for p in info.value.problems] == ["tasks[0].tasks[1].function"]
    with TestClient(create_app(locked, token="")) as http:
        answer = http.post(
            "/api/v1/flows", content=nested, headers={"Content-Type": "application/x-yaml"}
        )
    assert answer.status_code == 422, answer.text
    assert "subprocess:getoutput" in answer.text and "OSTRA_PYTHON_MODULES" in answer.text
    assert stored(locked) == before


def test_worker_refuses_a_function_of_a_module_not_listed(tmp_path: Path) -> None:
    # The submitting process has no OSTRA_PYTHON_MODULES (it cannot check): the worker,
    # which lists tests.helpers.* only, refuses the function without importing it.
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("OSTRA_PYTHON_MODULES", raising=False)
        get_settings.cache_clear()
        server = EmbeddedRedis(tmp_path / "redis", password=PASSWORD)
        server.start()
        env = {**WORKER_ENV, "OSTRA_PYTHON_MODULES": "tests.helpers.*"}
        worker = LocalWorker(server.url, concurrency=1, env=env, log_file=tmp_path / "w.log")
        client = Client(server.url)
        try:
            worker.start()
            cases = {
                "os:getenv": "module 'os' is not listed in OSTRA_PYTHON_MODULES",
                # an allowed module that imported getenv does not make it callable
                "tests.helpers.trust_funcs:getenv": "defined in module 'os'",
                "tests.helpers.funcs:__builtins__.get": "private names",
            }
            for function, reason in cases.items():
                for key in (KEY_VAR, "OSTRA_REDIS_URL_FILE"):
                    done = client.wait(client.submit(getenv_flow(function, key)).id, timeout=60)
                    (run,) = done.task_run_list
                    assert done.state.current == StateType.FAILED, (function, run.outputs)
                    assert run.outputs == {}, (function, run.outputs)
                    errors = [e.message for e in client.logs(done.id) if e.level == "ERROR"]
                    assert any(reason in e for e in errors), (function, errors)
                    assert len(run.attempts) == 1  # not retryable
            # what it allows still runs
            ok = client.submit(
                Flow.from_yaml("""
id: ok
namespace: tests.trust
tasks:
  - {id: hi, type: Python, function: "tests.helpers.funcs:greet", kwargs: {name: ada}}
""")
            )
            done = client.wait(ok.id, timeout=60)
            assert done.state.current == StateType.SUCCESS
            assert done.task_run("hi").outputs == {"value": "hello ada"}
        finally:
            client.close()
            worker.stop()
            server.close()
    get_settings.cache_clear()


def test_ostra_run_allows_the_flow_directory_only(tmp_path: Path) -> None:
    # `ostra run` (embedded): the modules of the flow file's directory, reached from the
    # current directory, may be called; anything else is refused before anything starts.
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "__init__.py").write_text("")
    (flows / "mine.py").write_text("def hello(name):\n    return {'hi': name}\n")
    (flows / "ok.yaml").write_text(
        "id: ok\nnamespace: tests.trust\ntasks:\n"
        "  - {id: a, type: Python, function: 'flows.mine:hello', kwargs: {name: ada}}\n"
    )
    (flows / "bad.yaml").write_text(
        "id: bad\nnamespace: tests.trust\ntasks:\n"
        "  - {id: a, type: Python, function: 'os:getenv', kwargs: {key: HOME}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["OSTRA_ENCRYPTION_KEY"] = WORKER_ENV["OSTRA_ENCRYPTION_KEY"]

    def ostra_run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "executor.cli", "run", f"flows/{name}", "--json", "-q"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    bad = ostra_run("bad.yaml")
    assert bad.returncode == 2, (bad.stdout, bad.stderr)
    assert "'os:getenv' is not allowed" in bad.stderr and "OSTRA_PYTHON_MODULES" in bad.stderr
    assert "embedded redis" not in bad.stderr  # refused before anything started
    ok = ostra_run("ok.yaml")
    assert ok.returncode == 0, (ok.stdout, ok.stderr)
    assert json.loads(ok.stdout)["taskRunList"][0]["outputs"] == {"hi": "ada"}
