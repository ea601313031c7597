"""Kestra's render context (``core/src/main/java/io/kestra/core/runners/RunVariables.java``):
every name a template may use, on real workers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from executor import Client, Flow, StateType
from executor.embedded import EmbeddedRedis, LocalWorker
from executor.models import Execution
from tests.conftest import WORKER_ENV

pytestmark = pytest.mark.integration
S = StateType


def out(done: Execution, task_id: str) -> str:
    value: str = done.task_run(task_id).outputs["value"]
    return value


def test_taskrun_execution_flow_and_task(run) -> None:
    # RunVariables.of(TaskRun), of(Flow), of(Task) and the execution map;
    # RunVariablesTest.java checks the same keys.
    done = run("""
id: context_names
namespace: tests.conformance
tasks:
  - id: names
    type: io.kestra.plugin.core.debug.Return
    format: |-
      {{ taskrun.id }}|{{ taskrun.attemptsCount }}|{{ execution.id }}|
      {{- execution.originalId }}|{{ flow.id }}|{{ flow.namespace }}|{{ flow.revision }}|
      {{- task.id }}|{{ task.type }}
  - id: dates
    type: io.kestra.plugin.core.debug.Return
    format: "{{ taskrun.startDate }}|{{ execution.startDate }}"
  - id: unset
    type: io.kestra.plugin.core.debug.Return
    format: "{{ taskrun.value is defined }}|{{ taskrun.parentId is defined }}"
""")
    assert done.state.current == S.SUCCESS
    tr = done.task_run("names")
    assert out(done, "names").split("|") == [
        tr.id,
        "0",
        done.id,
        done.id,
        "context_names",
        "tests.conformance",
        "1",
        "names",
        "io.kestra.plugin.core.debug.Return",
    ]
    task_start, execution_start = out(done, "dates").split("|")
    assert datetime.fromisoformat(task_start) == done.task_run("dates").state.start_date
    assert datetime.fromisoformat(execution_start) == done.state.start_date
    # Kestra leaves value and parentId out of a top-level task run's map
    assert out(done, "unset") == "false|false"


def test_tasks_state_and_labels(run) -> None:
    # RunVariables: "tasks" maps each task id to {state} (by value inside loops), labels
    # is a map whichever way the flow writes them.
    done = run("""
id: context_tasks
namespace: tests.conformance
labels:
  - key: team
    value: data
  - key: tier
    value: 2
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ tasks.first.state }}|{{ tasks.inner.b.state }}|{{ labels.team }}|{{ labels.tier }}"
""")
    assert done.state.current == S.SUCCESS
    assert out(done, "read") == "SUCCESS|SUCCESS|data|2"


def test_parents_are_the_ancestors_with_a_value(run) -> None:
    # Execution.parents(): an ancestor without a value nor outputs (the Sequential) is
    # left out, so parent is the loop's task run even two levels up.
    done = run("""
id: context_parents
namespace: tests.conformance
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value: ["x"]
    tasks:
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: deep
            type: io.kestra.plugin.core.debug.Return
            format: |-
              {{ parent.taskrun.value }}|{{ parents | length }}|
              {{- taskrun.parentId is defined }}
""")
    assert done.state.current == S.SUCCESS
    value, count, has_parent = out(done, "deep").split("|")
    assert value == "x" and has_parent == "true"
    assert int(count) >= 1


def test_an_unknown_name_fails_the_task_run(run) -> None:
    # A template is checked when it renders: an undefined name is an error (Pebble's
    # strictVariables, as Kestra configures it), and the flow fails.
    done = run("""
id: context_unknown
namespace: tests.conformance
tasks:
  - id: bad
    type: io.kestra.plugin.core.debug.Return
    format: "{{ taskrun.nope }}"
""")
    assert done.state.current == S.FAILED
    assert done.task_run("bad").state.current == S.FAILED


# ---------------------------------------------------------------- envs and globals


@pytest.fixture(scope="module")
def env_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A Redis and a worker of their own, started with ENV_* variables and globals."""
    root = tmp_path_factory.mktemp("envs")
    globals_file = root / "globals.yaml"
    globals_file.write_text("region: eu\nlimits: {cpu: 2}\n")
    server = EmbeddedRedis(root / "redis")
    server.start()
    env = {
        **WORKER_ENV,
        "ENV_GREETING": "bonjour",
        "MY_ENV_OTHER": "ignored",
        "OSTRA_GLOBALS_FILE": str(globals_file),
        "OSTRA_GLOBALS": json.dumps({"team": "platform", "region": "us"}),
    }
    worker = LocalWorker(server.url, concurrency=1, env=env, log_file=Path(root / "w.log"))
    worker.start()
    client = Client(server.url)
    try:
        yield client
    finally:
        client.orchestrator.dispatcher.app.close()
        client.store.r.close()
        worker.stop()
        server.close()


def test_envs_and_globals(env_client: Client) -> None:
    # RunContextCache.java: envs are the prefixed environment variables, named without
    # the prefix and lowercased; globals are kestra.variables.globals.
    flow = Flow.from_yaml("""
id: context_envs
namespace: tests.conformance
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: |-
      {{ envs.greeting }}|{{ envs.other is defined }}|{{ globals.team }}|
      {{- globals.region }}|{{ globals.limits.cpu }}
""")
    done = env_client.wait(env_client.submit(flow).id, timeout=60)
    assert done.state.current == S.SUCCESS
    assert out(done, "read") == "bonjour|false|platform|us|2"
