"""Kill, restart, replay, pause and resume, with Kestra's semantics, on real workers."""

from __future__ import annotations

import os
import re
import time

import pytest

from executor import Client, Flow, StateConflict, StateType
from executor.models import Execution

pytestmark = pytest.mark.integration
S = StateType
#: The kill bound with a live worker: cooperative check, grace, then interruption.
KILL_BOUND = 10.0


def wait_for(predicate, timeout: float = 20, every: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def running(client: Client, eid: str, task_id: str) -> bool:
    runs = client.get(eid).task_runs(task_id)
    return bool(runs) and runs[0].state.current == S.RUNNING


def history(ex: Execution) -> list[StateType]:
    return [h.state for h in ex.state.histories]


def test_kill_during_a_long_shell_command_kills_its_processes(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: killshell
namespace: tests.control
tasks:
  - id: long
    type: Commands
    commands: ["echo pid=$$", "sleep 60"]
  - id: never
    type: Log
    message: not reached
""")
    eid = client.submit(flow).id
    line = wait_for(lambda: [e.message for e in client.logs(eid) if e.message.startswith("pid=")])
    pid = int(re.sub(r"\D", "", line[0]))
    started = time.monotonic()
    killing = client.kill(eid)
    assert killing.state.current in (S.KILLING, S.KILLED)
    done = client.wait(eid, timeout=KILL_BOUND)
    assert time.monotonic() - started < KILL_BOUND
    assert done.state.current == S.KILLED
    assert history(done) == [S.CREATED, S.RUNNING, S.KILLING, S.KILLED]
    long = done.task_run("long")
    assert long.state.current == S.KILLED
    assert [a.state.current for a in long.attempts] == [S.KILLED]
    assert done.task_runs("never") == []

    def group_gone() -> bool:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        return False

    # the whole process group is gone (allowing init a moment to reap orphans)
    wait_for(group_gone, timeout=5)


def test_kill_stops_a_python_function_that_never_checks(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: killbusy
namespace: tests.control
tasks:
  - {id: spin, type: Python, function: "tests.helpers.funcs:busy"}
""")
    eid = client.submit(flow).id
    wait_for(lambda: running(client, eid, "spin"))
    started = time.monotonic()
    client.kill(eid)
    done = client.wait(eid, timeout=KILL_BOUND)
    assert time.monotonic() - started < KILL_BOUND
    assert done.state.current == S.KILLED
    assert done.task_run("spin").attempts[0].state.current == S.KILLED
    # the worker process survived the interruption and keeps working
    after = client.submit(
        Flow.from_yaml(
            "id: alive\nnamespace: tests.control\ntasks:\n  - {id: a, type: Return, format: x}\n"
        )
    )
    assert client.wait(after.id, timeout=20).state.current == S.SUCCESS


def test_kill_while_waiting_for_a_retry(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: killretry
namespace: tests.control
tasks:
  - id: flaky
    type: Python
    function: tests.helpers.funcs:flaky
    kwargs: {fail_times: 5}
    retry: {type: constant, interval: PT2S, maxAttempts: 5}
""")
    eid = client.submit(flow).id
    wait_for(
        lambda: (
            client.get(eid).task_run("flaky").state.current == S.RETRYING
            if client.get(eid).task_runs("flaky")
            else False
        )
    )
    killed = client.kill(eid)
    assert killed.state.current == S.KILLED  # nothing was running: killed at once
    flaky = killed.task_run("flaky")
    assert [h.state for h in flaky.state.histories][-2:] == [S.RETRYING, S.KILLED]
    time.sleep(3)  # past the retry time: the retry never fires
    after = client.get(eid)
    assert len(after.task_run("flaky").attempts) == 1
    assert after.state.current == S.KILLED


def test_kill_racing_completion_always_ends_consistently(client: Client, worker) -> None:
    flow = client.deploy("""
id: killrace
namespace: tests.control
tasks:
  - {id: a, type: Return, format: a}
  - {id: b, type: Return, format: b}
""")
    outcomes = set()
    for i in range(20):
        eid = client.submit(flow).id
        time.sleep(0.002 * i)
        try:
            client.kill(eid)
        except StateConflict:
            pass  # it ended first
        done = client.wait(eid, timeout=KILL_BOUND)
        assert done.state.current in (S.SUCCESS, S.KILLED)
        outcomes.add(done.state.current)
        for tr in done.task_run_list:
            assert tr.state.current.is_terminated(), tr
            assert all(a.state.current.is_terminated() for a in tr.attempts)
        if done.state.current == S.SUCCESS:
            assert [tr.state.current for tr in done.task_run_list] == [S.SUCCESS, S.SUCCESS]
        time.sleep(0.2)
        assert client.get(eid).state.current == done.state.current  # nothing revives it
    assert S.KILLED in outcomes


def test_kill_of_ended_execution_is_refused_and_double_kill_is_harmless(run, client) -> None:
    done = run(
        "id: ended\nnamespace: tests.control\ntasks:\n  - {id: a, type: Return, format: a}\n"
    )
    with pytest.raises(StateConflict, match="already ended"):
        client.kill(done.id)
    flow = Flow.from_yaml("""
id: twice
namespace: tests.control
tasks:
  - {id: nap, type: Sleep, duration: PT30S}
""")
    eid = client.submit(flow).id
    wait_for(lambda: running(client, eid, "nap"))
    client.kill(eid)
    client.kill(eid)
    done = client.wait(eid, timeout=KILL_BOUND)
    assert done.state.current == S.KILLED
    assert client.kill(eid).state.current == S.KILLED  # again, after the end: harmless
    assert history(done).count(S.KILLING) == 1


def test_restart_reruns_only_what_failed(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: restart4
namespace: tests.control
tasks:
  - {id: one, type: Return, format: "1"}
  - {id: two, type: Return, format: "2"}
  - {id: three, type: Python, function: "tests.helpers.funcs:flaky", kwargs: {fail_times: 1}}
  - {id: four, type: Return, format: "{{ outputs.one.value }}{{ outputs.three.attempt }}"}
errors:
  - {id: handler, type: Log, message: failed}
""")
    failed = client.wait(client.submit(flow).id, timeout=30)
    assert failed.state.current == S.FAILED
    assert [tr.task_id for tr in failed.task_run_list] == ["one", "two", "three", "handler"]
    restarted = client.restart(failed.id)
    assert restarted.id == failed.id
    done = client.wait(failed.id, timeout=30)
    assert done.state.current == S.SUCCESS
    assert history(done) == [S.CREATED, S.RUNNING, S.FAILED, S.RESTARTED, S.RUNNING, S.SUCCESS]
    assert len(done.task_run("one").attempts) == 1 and len(done.task_run("two").attempts) == 1
    three = done.task_run("three")
    assert [(a.number, a.state.current) for a in three.attempts] == [(1, S.FAILED), (2, S.SUCCESS)]
    assert [h.state for h in three.state.histories] == [
        S.CREATED,
        S.RUNNING,
        S.FAILED,
        S.RESTARTED,
        S.RUNNING,
        S.SUCCESS,
    ]
    assert len(done.task_run("four").attempts) == 1
    assert done.task_run("four").outputs == {"value": "12"}
    assert done.task_runs("handler") == []  # the errors branch was dropped
    # restart of a running execution is refused, and changes nothing
    slow = client.submit(
        Flow.from_yaml(
            "id: slow\nnamespace: tests.control\ntasks:\n  - {id: nap, type: Sleep, "
            "duration: PT1S}\n"
        )
    )
    with pytest.raises(StateConflict, match="only FAILED or KILLED"):
        client.restart(slow.id)
    assert S.RESTARTED not in history(client.wait(slow.id, timeout=20))


def test_restart_of_a_killed_execution(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: restartkilled
namespace: tests.control
tasks:
  - {id: a, type: Return, format: a}
  - {id: nap, type: Python, function: "tests.helpers.funcs:slow_first", kwargs: {seconds: 30}}
  - {id: c, type: Return, format: "{{ outputs.nap.attempt }}"}
""")
    eid = client.submit(flow).id
    wait_for(lambda: running(client, eid, "nap"))
    client.kill(eid)
    assert client.wait(eid, timeout=KILL_BOUND).state.current == S.KILLED
    client.restart(eid)
    done = client.wait(eid, timeout=30)
    assert done.state.current == S.SUCCESS
    assert [a.state.current for a in done.task_run("nap").attempts] == [S.KILLED, S.SUCCESS]
    assert done.task_run("c").outputs == {"value": "2"}


def test_replay_from_a_task_run_reuses_earlier_outputs(run, client: Client) -> None:
    first = run("""
id: replay
namespace: tests.control
inputs:
  - {id: n, type: INT, defaults: 1}
tasks:
  - {id: one, type: Python, function: "tests.helpers.funcs:add", kwargs: {a: 1, b: 2}}
  - {id: two, type: Return, format: "{{ outputs.one.sum + inputs.n }}"}
""")
    assert first.task_run("two").outputs == {"value": "4"}
    replay = client.replay(first.id, first.task_run("two").id, inputs={"n": 10})
    done = client.wait(replay.id, timeout=30)
    assert done.id != first.id
    assert done.parent_id == first.id and done.original_id == first.id
    assert done.state.current == S.SUCCESS
    one = done.task_run("one")
    assert one.id != first.task_run("one").id
    assert one.outputs == {"sum": 3, "attempt": 1}
    assert one.attempts[0].state.histories == first.task_run("one").attempts[0].state.histories
    assert done.task_run("two").outputs == {"value": "13"}
    assert done.task_run("two").id != first.task_run("two").id
    whole = client.wait(client.replay(first.id).id, timeout=30)  # from the start
    assert whole.parent_id == first.id and whole.inputs == {"n": 1}
    assert (
        whole.task_run("one").attempts[0].state.histories
        != first.task_run("one").attempts[0].state.histories
    )


def test_pause_and_resume_by_hand(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: manualpause
namespace: tests.control
tasks:
  - {id: nap, type: Sleep, duration: PT1S}
  - {id: after, type: Return, format: after}
""")
    eid = client.submit(flow).id
    wait_for(lambda: running(client, eid, "nap"))
    assert client.pause(eid).state.current == S.PAUSED
    with pytest.raises(StateConflict):
        client.pause(eid)
    time.sleep(2)  # nap ends; nothing new starts while paused
    paused = client.get(eid)
    assert paused.state.current == S.PAUSED
    assert paused.task_run("nap").state.current == S.SUCCESS
    assert all(tr.state.current == S.CREATED for tr in paused.task_runs("after"))
    client.resume(eid)
    done = client.wait(eid, timeout=20)
    assert done.state.current == S.SUCCESS
    assert history(done) == [S.CREATED, S.RUNNING, S.PAUSED, S.RUNNING, S.SUCCESS]
    with pytest.raises(StateConflict):
        client.resume(eid)


def test_pause_task_waits_for_resume_and_can_be_killed(client: Client, worker) -> None:
    flow = client.deploy("""
id: pausetask
namespace: tests.control
tasks:
  - {id: before, type: Return, format: x}
  - {id: approve, type: Pause}
  - {id: after, type: Return, format: "{{ outputs.before.value }}"}
""")
    eid = client.submit(flow).id
    wait_for(lambda: client.state(eid) == S.PAUSED)
    time.sleep(0.5)
    assert client.get(eid).task_run("approve").state.current == S.PAUSED
    client.resume(eid)
    done = client.wait(eid, timeout=20)
    assert done.state.current == S.SUCCESS
    assert [h.state for h in done.task_run("approve").state.histories] == [
        S.CREATED,
        S.PAUSED,
        S.SUCCESS,
    ]
    assert done.task_run("after").outputs == {"value": "x"}
    # a paused execution can be killed; its Pause task run ends KILLED
    eid = client.submit(flow).id
    wait_for(lambda: client.state(eid) == S.PAUSED)
    assert client.kill(eid).state.current == S.KILLED
    assert client.get(eid).task_run("approve").state.current == S.KILLED


@pytest.mark.parametrize(
    ("behavior", "task_state", "final"),
    [
        ("RESUME", S.SUCCESS, S.SUCCESS),
        ("WARN", S.WARNING, S.WARNING),
        ("FAIL", S.FAILED, S.FAILED),
    ],
)
def test_pause_duration_resumes_by_itself(
    client: Client, worker, behavior: str, task_state: StateType, final: StateType
) -> None:
    flow = Flow.from_yaml(f"""
id: pause{behavior.lower()}
namespace: tests.control
tasks:
  - {{id: wait, type: Pause, pauseDuration: PT0.5S, behavior: {behavior}}}
  - {{id: after, type: Return, format: done}}
""")
    done = client.wait(client.submit(flow).id, timeout=30)
    assert done.state.current == final
    assert done.task_run("wait").state.current == task_state
    assert S.PAUSED in history(done)
    assert bool(done.task_runs("after")) == (task_state != S.FAILED)


def test_restart_of_a_failed_flowable_runs_it_again(client: Client, worker) -> None:
    flow = Flow.from_yaml("""
id: restartflowable
namespace: tests.control
tasks:
  - {id: before, type: Return, format: b}
  - id: par
    type: Parallel
    tasks:
      - {id: steady, type: Return, format: s}
      - {id: shaky, type: Python, function: "tests.helpers.funcs:flaky", kwargs: {fail_times: 1}}
  - {id: after, type: Return, format: "{{ outputs.shaky.attempt }}"}
""")
    failed = client.wait(client.submit(flow).id, timeout=30)
    assert failed.state.current == S.FAILED
    assert failed.task_run("par").state.current == S.FAILED
    client.restart(failed.id)
    done = client.wait(failed.id, timeout=30)
    assert done.state.current == S.SUCCESS
    assert len(done.task_run("before").attempts) == 1
    assert [h.state for h in done.task_run("par").state.histories][-3:] == [
        S.RESTARTED,
        S.RUNNING,
        S.SUCCESS,
    ]
    assert len(done.task_runs("shaky")) == 1 and len(done.task_runs("steady")) == 1
    assert done.task_run("after").outputs == {"value": "2"}
