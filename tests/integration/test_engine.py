"""End to end on a real Redis and a real Celery worker: task types, outputs, metrics,
logs, retries as attempts, timeouts, allowFailure, warningOnRetry, errors and finally."""

from __future__ import annotations

import pytest

from executor import Client, Flow, InputValidationError, StateType
from executor.models import Execution
from tests.conftest import stored

pytestmark = pytest.mark.integration
S = StateType


def states(execution: Execution, task_id: str) -> list[StateType]:
    return [h.state for h in execution.task_run(task_id).state.histories]


def attempt_states(execution: Execution, task_id: str) -> list[StateType]:
    return [a.state.current for a in execution.task_run(task_id).attempts]


def test_every_task_type_runs(run, client: Client) -> None:
    done = run("""
id: types
namespace: tests
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: ["first {{ flow.id }}", "second"]
  - id: ret
    type: Return
    format: "{{ task.id }}-{{ taskrun.attemptsCount }}"
  - id: values
    type: OutputValues
    values: {a: 1, b: [1, 2], c: "{{ outputs.ret.value }}"}
  - id: nap
    type: Sleep
    duration: PT0.2S
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    env: {WHO: "{{ outputs.values['values'].c }}"}
    commands:
      - echo "hi $WHO"
      - 'echo ''::{"outputs":{"count":2,"who":"''$WHO''"}}::'''
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import json
      print('::' + json.dumps({"outputs": {"sq": {{ outputs.sh.vars.count }} ** 2}}) + '::')
  - id: fn
    type: Python
    function: tests.helpers.funcs:add
    kwargs: {a: "{{ outputs.py.vars.sq }}", b: 1}
""")
    assert done.state.current == S.SUCCESS, [(e.task_id, e.message) for e in client.logs(done.id)]
    assert done.task_run("ret").outputs == {"value": "ret-0"}
    assert done.task_run("values").outputs == {"values": {"a": 1, "b": [1, 2], "c": "ret-0"}}
    assert done.task_run("sh").outputs == {"exitCode": 0, "vars": {"count": 2, "who": "ret-0"}}
    assert done.task_run("py").outputs["vars"] == {"sq": 4}
    assert done.task_run("fn").outputs == {"sum": 5, "attempt": 1}
    messages = [entry.message for entry in client.logs(done.id)]
    assert "first types" in messages and "second" in messages and "hi ret-0" in messages
    assert "adding 4 and 1" in messages
    for tr in done.task_run_list:
        assert states(done, tr.task_id) == [S.CREATED, S.RUNNING, S.SUCCESS]
        assert attempt_states(done, tr.task_id) == [S.SUCCESS]
        assert tr.attempts[0].worker_id
    assert [h.state for h in done.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]


def test_metrics_are_stored_with_tags(run, client: Client) -> None:
    done = run("""
id: metrics
namespace: tests
tasks:
  - id: sh
    type: Commands
    commands:
      - >-
        echo '::{"metrics":[{"name":"rows","type":"counter","value":42,"tags":{"t":"x"}},
        {"name":"load","type":"timer","value":1.5}]}::'
  - id: fn
    type: Python
    function: tests.helpers.funcs:add
    kwargs: {a: 1, b: 2}
""")
    assert done.state.current == S.SUCCESS
    metrics = {m.name: m for m in client.metrics(done.id)}
    assert metrics["rows"].type == "counter" and metrics["rows"].value == 42
    assert metrics["rows"].tags == {"t": "x"} and metrics["rows"].task_id == "sh"
    assert metrics["load"].type == "timer" and metrics["load"].value == 1500  # ms, as Kestra
    assert metrics["additions"].value == 1 and metrics["additions"].tags == {"kind": "int"}


def test_failing_twice_then_succeeding_makes_three_attempts(run, client: Client) -> None:
    done = run("""
id: flaky
namespace: tests
tasks:
  - id: flaky
    type: Python
    function: tests.helpers.funcs:flaky
    retry: {type: constant, interval: PT0.2S, maxAttempts: 3}
  - id: after
    type: Return
    format: "{{ outputs.flaky.attempt }}"
""")
    assert done.state.current == S.SUCCESS, done.model_dump_json(indent=1)
    tr = done.task_run("flaky")
    assert [a.number for a in tr.attempts] == [1, 2, 3]
    assert attempt_states(done, "flaky") == [S.FAILED, S.FAILED, S.SUCCESS]
    assert states(done, "flaky") == [
        S.CREATED,
        S.RUNNING,
        S.RETRYING,
        S.RUNNING,
        S.RETRYING,
        S.RUNNING,
        S.SUCCESS,
    ]
    assert done.task_run("after").outputs == {"value": "3"}
    errors = [e.message for e in client.logs(done.id) if e.level == "ERROR"]
    assert any("flaky failure on attempt 1" in m for m in errors)
    # each retry waited at least the interval
    hist = tr.state.histories
    assert (hist[3].date - hist[2].date).total_seconds() >= 0.19


def test_retries_exhausted_fail_the_execution(run) -> None:
    done = run("""
id: exhausted
namespace: tests
tasks:
  - id: flaky
    type: Python
    function: tests.helpers.funcs:flaky
    kwargs: {fail_times: 5}
    retry: {type: exponential, interval: PT0.1S, maxInterval: PT0.2S, maxAttempts: 3}
  - id: never
    type: Log
    message: not reached
""")
    assert done.state.current == S.FAILED
    assert attempt_states(done, "flaky") == [S.FAILED] * 3
    assert done.task_runs("never") == []


def test_timeout_fails_the_attempt_and_is_retried(run) -> None:
    done = run(
        """
id: timeout
namespace: tests
tasks:
  - id: slow
    type: Sleep
    duration: PT30S
    timeout: PT0.5S
    retry: {type: constant, interval: PT0.1S, maxAttempts: 2}
  - id: sh
    type: Commands
    timeout: PT0.5S
    commands: ["sleep 30"]
""",
        timeout=30,
    )
    assert done.state.current == S.FAILED
    slow = done.task_run("slow")
    assert attempt_states(done, "slow") == [S.FAILED, S.FAILED]
    assert "timed out" in (slow.attempts[0].reason or "")
    assert done.task_runs("sh") == []  # not reached: the flow failed at slow


def test_shell_timeout_kills_the_command(run) -> None:
    done = run(
        """
id: shtimeout
namespace: tests
tasks:
  - id: sh
    type: Commands
    timeout: PT0.5S
    commands: ["sleep 30"]
""",
        timeout=20,
    )
    assert done.state.current == S.FAILED
    tr = done.task_run("sh")
    assert "timed out" in (tr.attempts[0].reason or "")
    assert tr.state.duration is not None and tr.state.duration < 10


def test_allow_failure_continues_with_warning(run) -> None:
    done = run("""
id: allowfailure
namespace: tests
tasks:
  - id: bad
    type: Fail
    errorMessage: expected failure
    allowFailure: true
  - id: good
    type: Return
    format: ok
""")
    assert done.state.current == S.WARNING
    assert done.task_run("bad").state.current == S.WARNING
    assert attempt_states(done, "bad") == [S.FAILED]
    assert done.task_run("bad").attempts[0].reason == "expected failure"
    assert done.task_run("good").state.current == S.SUCCESS


def test_warning_on_retry(run) -> None:
    done = run("""
id: warnretry
namespace: tests
tasks:
  - id: flaky
    type: Python
    function: tests.helpers.funcs:flaky
    kwargs: {fail_times: 1}
    retry: {type: constant, interval: PT0.1S, maxAttempts: 2, warningOnRetry: true}
""")
    assert done.state.current == S.WARNING
    assert attempt_states(done, "flaky") == [S.FAILED, S.SUCCESS]
    assert done.task_run("flaky").state.current == S.WARNING


def test_errors_branch_runs_and_execution_still_fails(run) -> None:
    done = run("""
id: errors
namespace: tests
tasks:
  - id: a
    type: Return
    format: a
  - id: boom
    type: Fail
  - id: skipped
    type: Log
    message: never
errors:
  - id: handler
    type: Return
    format: "handled {{ outputs.a.value }}"
finally:
  - id: cleanup
    type: Log
    message: cleanup
""")
    assert done.state.current == S.FAILED
    assert [tr.task_id for tr in done.task_run_list] == ["a", "boom", "handler", "cleanup"]
    assert done.task_run("handler").outputs == {"value": "handled a"}
    assert done.task_run("cleanup").state.current == S.SUCCESS


def test_finally_runs_after_success_and_disabled_tasks_are_skipped(run) -> None:
    done = run("""
id: finally
namespace: tests
tasks:
  - id: a
    type: Log
    message: a
  - id: off
    type: Fail
    disabled: true
errors:
  - id: handler
    type: Log
    message: not run
finally:
  - id: cleanup
    type: Log
    message: cleanup
""")
    assert done.state.current == S.SUCCESS
    assert [tr.task_id for tr in done.task_run_list] == ["a", "cleanup"]


def test_render_error_fails_with_a_clear_reason(run) -> None:
    done = run("""
id: badtemplate
namespace: tests
tasks:
  - id: a
    type: Return
    format: "{{ outputs.missing.value }}"
""")
    assert done.state.current == S.FAILED
    reason = done.task_run("a").attempts[0].reason or ""
    assert "missing" in reason and "template" in reason


def test_labels_and_inputs_are_recorded(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: labelled
namespace: tests
labels: {team: data}
inputs:
  - {id: n, type: INT}
  - {id: when, type: DATETIME, required: false}
tasks:
  - {id: a, type: Return, format: "{{ inputs.n + 1 }} {{ labels.team }}"}
""")
    execution = client.submit(flow, inputs={"n": "41"}, labels={"env": "test"})
    done = client.wait(execution.id, timeout=30)
    assert done.inputs == {"n": 41, "when": None}
    labels = {lb.key: lb.value for lb in done.labels}
    assert labels["team"] == "data" and labels["env"] == "test"
    assert labels["system.correlationId"] == done.id
    assert done.task_run("a").outputs == {"value": "42 data"}
    assert done.original_id == done.id and done.parent_id is None


def test_bad_inputs_store_nothing(client: Client) -> None:
    flow = Flow.from_yaml("""
id: inputs
namespace: tests.nothing
inputs:
  - {id: n, type: INT}
  - {id: choice, type: SELECT, values: [a, b]}
tasks:
  - {id: a, type: Log, message: m}
""")
    before = stored(client)
    with pytest.raises(InputValidationError) as info:
        client.submit(flow, inputs={"n": "abc", "choice": "z", "extra": 1})
    paths = {p.path for p in info.value.problems}
    assert paths == {"inputs.n", "inputs.choice", "inputs.extra"}
    assert stored(client) == before
    with pytest.raises(InputValidationError):
        client.submit(flow, inputs={})  # n and choice are required
    assert stored(client) == before


def test_submit_by_reference_and_search(client: Client, worker) -> None:
    flow = client.deploy("""
id: byref
namespace: tests.search
tasks:
  - {id: a, type: Return, format: x}
""")
    assert flow.revision == 1
    assert client.deploy(flow).revision == 1  # unchanged: same revision
    first = client.wait(client.submit(("tests.search", "byref")).id, timeout=30)
    second = client.wait(client.submit(("tests.search", "byref")).id, timeout=30)
    found = client.search(namespace="tests.search", flow_id="byref")
    assert [e.id for e in found] == [second.id, first.id]
    assert all(e.state.current == S.SUCCESS for e in found)
    assert second.id in [e.id for e in client.search(state="SUCCESS", limit=500)]
    events = list(client.follow(first.id))
    assert events[0].state == S.CREATED and events[-1].state == S.SUCCESS
    assert events[-1].task_run_id is None


def test_finished_executions_are_deleted_after_the_retention(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With ``OSTRA_RETENTION=1`` a finished execution is gone within a few sweeps:
    every key of it (task runs, histories, events, logs) and its index entries."""
    import time

    from executor.embedded import EmbeddedRedis, LocalWorker
    from executor.errors import ExecutionNotFound
    from tests.conftest import WORKER_ENV

    flow = Flow.from_yaml("""
id: retention
namespace: tests
tasks:
  - {id: a, type: Log, message: hello}
  - id: each
    type: ForEach
    values: [1, 2]
    tasks:
      - {id: b, type: Return, format: "{{ taskrun.value }}"}
""")
    with EmbeddedRedis(tmp_path / "redis") as server:
        worker = LocalWorker(
            server.url,
            concurrency=1,
            env={**WORKER_ENV, "OSTRA_RETENTION": "1"},
            log_file=tmp_path / "w.log",
        ).start()
        client = Client(server.url)
        try:
            done = client.wait(client.submit(flow).id, timeout=30)
            assert done.state.current == S.SUCCESS and len(done.task_run_list) == 4
            k, r = client.store.k, client.store.r
            pattern = f"*{{{done.id}}}*"
            assert r.keys(pattern)  # its keys exist until the retention is over
            deadline = time.monotonic() + 20
            while r.keys(pattern) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert r.keys(pattern) == []
            with pytest.raises(ExecutionNotFound):
                client.get(done.id)
            for index in (
                k.index_all,
                k.index_ended,
                k.index_state("SUCCESS"),
                k.index_flow("tests", "retention"),
            ):
                assert r.zscore(index, done.id) is None, index
            assert client.flow("tests", "retention").id == "retention"  # the flow stays
        finally:
            worker.stop()
            client.orchestrator.dispatcher.app.close()
            client.store.r.close()


def test_a_retention_of_zero_keeps_executions_forever(run, client: Client) -> None:
    import time

    from executor.orchestrator import Orchestrator
    from executor.reconciler import Reconciler

    done = run("""
id: forever
namespace: tests
tasks:
  - {id: a, type: Return, format: x}
""")
    forever = client.settings.model_copy(update={"retention": 0})
    Reconciler(Orchestrator(client.store, settings=forever)).purge(time.time() + 10**9)
    assert client.get(done.id).state.current == S.SUCCESS
