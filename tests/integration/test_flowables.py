"""Flowable tasks on real workers: task runs, their parents and values, and end states,
checked against Kestra's documented behaviour."""

from __future__ import annotations

import pytest

from executor import Client, Flow, FlowValidationError, StateType
from executor.models import Execution, TaskRun
from tests.conftest import stored

pytestmark = pytest.mark.integration
S = StateType


def by_task(ex: Execution) -> dict[str, list[TaskRun]]:
    out: dict[str, list[TaskRun]] = {}
    for tr in ex.task_run_list:
        out.setdefault(tr.task_id, []).append(tr)
    return out


def parent_of(ex: Execution, tr: TaskRun) -> str | None:
    if tr.parent_task_run_id is None:
        return None
    return next(p.task_id for p in ex.task_run_list if p.id == tr.parent_task_run_id)


def test_sequential_and_parallel(run) -> None:
    done = run("""
id: seqpar
namespace: tests.flowables
tasks:
  - id: seq
    type: Sequential
    tasks:
      - {id: s1, type: Return, format: one}
      - {id: s2, type: Return, format: "{{ outputs.s1.value }}-two"}
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 2
    tasks:
      - {id: p1, type: Sleep, duration: PT0.2S}
      - {id: p2, type: Sleep, duration: PT0.2S}
      - {id: p3, type: Return, format: "{{ outputs.s2.value }}"}
  - id: after
    type: Return
    format: "{{ outputs.p3.value }}"
""")
    assert done.state.current == S.SUCCESS
    runs = by_task(done)
    assert {t: parent_of(done, r[0]) for t, r in runs.items()} == {
        "seq": None,
        "s1": "seq",
        "s2": "seq",
        "par": None,
        "p1": "par",
        "p2": "par",
        "p3": "par",
        "after": None,
    }
    assert runs["s2"][0].outputs == {"value": "one-two"}
    assert runs["after"][0].outputs == {"value": "one-two"}
    assert [h.state for h in runs["par"][0].state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
    assert runs["par"][0].attempts == []  # flowables never go to a worker
    # concurrent: 2 -> p3 started only after one of p1/p2 ended
    p3_start = runs["p3"][0].state.histories[1].date
    first_end = min(runs[t][0].state.end_date for t in ("p1", "p2"))
    assert p3_start >= first_end


def test_foreach_values_outputs_and_nested_parallel(run) -> None:
    done = run("""
id: foreach
namespace: tests.flowables
tasks:
  - id: each
    type: ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: 0
    tasks:
      - id: first
        type: Return
        format: "{{ taskrun.value }}1"
      - id: inner
        type: Parallel
        tasks:
          - {id: x, type: Return, format: "{{ outputs.first[parent.taskrun.value].value }}x"}
          - {id: y, type: Return, format: "y"}
  - id: collect
    type: Return
    format: "{{ outputs.first['b'].value }} {{ outputs.x['c'].value }}"
""")
    assert done.state.current == S.SUCCESS, [
        (t.task_id, t.state.current) for t in done.task_run_list
    ]
    runs = by_task(done)
    assert sorted(r.value for r in runs["first"]) == ["a", "b", "c"]
    assert sorted(r.iteration for r in runs["first"]) == [0, 1, 2]
    assert all(parent_of(done, r) == "each" for r in runs["first"])
    assert len(runs["inner"]) == 3 and len(runs["x"]) == 3
    assert all(parent_of(done, r) == "inner" for r in runs["x"])
    assert sorted(r.outputs["value"] for r in runs["x"]) == ["a1x", "b1x", "c1x"]
    assert runs["collect"][0].outputs == {"value": "b1 c1x"}


def test_foreach_concurrency_limit_and_templated_values(run) -> None:
    done = run("""
id: foreachlimit
namespace: tests.flowables
inputs:
  - {id: items, type: JSON, defaults: "[1, 2, 3, 4]"}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ inputs.items }}"
    concurrencyLimit: 2
    tasks:
      - {id: nap, type: Sleep, duration: PT0.3S}
""")
    assert done.state.current == S.SUCCESS
    naps = sorted(by_task(done)["nap"], key=lambda r: r.state.histories[0].date)
    assert [r.value for r in sorted(naps, key=lambda r: r.iteration)] == ["1", "2", "3", "4"]
    # never more than 2 running at once
    events = sorted(
        [(r.state.histories[1].date, 1) for r in naps] + [(r.state.end_date, -1) for r in naps]
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak <= 2


def test_each_sequential_and_each_parallel(run) -> None:
    done = run("""
id: eachold
namespace: tests.flowables
tasks:
  - id: seq
    type: EachSequential
    value: [1, 2]
    tasks:
      - {id: a, type: Return, format: "a{{ taskrun.value }}"}
      - {id: b, type: Return, format: "b{{ taskrun.value }}"}
  - id: par
    type: EachParallel
    value: '["x", "y"]'
    tasks:
      - {id: c, type: Return, format: "c{{ taskrun.value }}"}
""")
    assert done.state.current == S.SUCCESS
    runs = by_task(done)
    seq_order = [(r.task_id, r.value) for r in done.task_run_list if r.task_id in ("a", "b")]
    assert seq_order == [("a", "1"), ("b", "1"), ("a", "2"), ("b", "2")]
    assert sorted(r.outputs["value"] for r in runs["c"]) == ["cx", "cy"]


def test_switch_and_if(run) -> None:
    done = run("""
id: switchif
namespace: tests.flowables
inputs:
  - {id: kind, type: STRING, defaults: "2"}
tasks:
  - id: sw
    type: Switch
    value: "{{ inputs.kind }}"
    cases:
      "1": [{id: one, type: Return, format: one}]
      "2": [{id: two, type: Return, format: two}]
    defaults: [{id: other, type: Return, format: other}]
  - id: cond
    type: If
    condition: "{{ outputs.two.value == 'two' }}"
    then: [{id: yes, type: Return, format: "yes"}]
    else: [{id: no, type: Return, format: "no"}]
  - id: falsy
    type: If
    condition: "0"
    then: [{id: t2, type: Return, format: t}]
""")
    assert done.state.current == S.SUCCESS
    ids = [tr.task_id for tr in done.task_run_list]
    assert ids == ["sw", "two", "cond", "yes", "falsy"]
    # (no case and no defaults fails, as Kestra: tests/conformance/test_kestra_switch_foreach.py)
    assert done.task_run("falsy").state.current == S.SUCCESS


def test_allow_failure_flowable_and_run_if(run) -> None:
    done = run("""
id: allowfail
namespace: tests.flowables
tasks:
  - id: tolerant
    type: AllowFailure
    tasks:
      - {id: boom, type: Fail}
      - {id: never, type: Log, message: never}
  - id: skipped
    type: Return
    format: x
    runIf: "{{ 1 == 2 }}"
  - id: ran
    type: Return
    format: "{{ outputs.tolerant is defined }}"
    runIf: "true"
""")
    assert done.state.current == S.WARNING
    assert done.task_run("tolerant").state.current == S.WARNING
    assert done.task_run("boom").state.current == S.FAILED
    assert done.task_runs("never") == []
    skipped = done.task_run("skipped")
    assert [h.state for h in skipped.state.histories] == [S.CREATED, S.SKIPPED]
    assert skipped.attempts == []
    assert done.task_run("ran").state.current == S.SUCCESS


def test_errors_inside_a_parallel_branch(run) -> None:
    done = run("""
id: parerrors
namespace: tests.flowables
tasks:
  - id: par
    type: Parallel
    tasks:
      - {id: ok, type: Sleep, duration: PT0.3S}
      - {id: boom, type: Fail, errorMessage: broken}
    errors:
      - {id: local, type: Return, format: "handled"}
errors:
  - {id: global, type: Log, message: global handler}
""")
    assert done.state.current == S.FAILED
    runs = by_task(done)
    assert runs["ok"][0].state.current == S.SUCCESS  # the running sibling finished
    assert runs["local"][0].state.current == S.SUCCESS
    assert parent_of(done, runs["local"][0]) == "par"
    assert runs["par"][0].state.current == S.FAILED
    assert runs["global"][0].state.current == S.SUCCESS
    order = [tr.task_id for tr in done.task_run_list]
    assert order.index("local") < order.index("global")


def test_dag_diamond(run) -> None:
    done = run("""
id: diamond
namespace: tests.flowables
tasks:
  - id: dag
    type: Dag
    tasks:
      - task: {id: d, type: Return, format: "{{ outputs.b.value }}{{ outputs.c.value }}"}
        dependsOn: [b, c]
      - task: {id: b, type: Return, format: "b{{ outputs.a.value }}"}
        dependsOn: [a]
      - task: {id: a, type: Return, format: a}
      - task: {id: c, type: Return, format: "c{{ outputs.a.value }}"}
        dependsOn: [a]
""")
    assert done.state.current == S.SUCCESS
    runs = {tr.task_id: tr for tr in done.task_run_list}
    assert runs["d"].outputs == {"value": "baca"}
    a_end = runs["a"].state.end_date
    assert runs["b"].state.start_date >= a_end and runs["c"].state.start_date >= a_end
    assert runs["d"].state.start_date >= max(runs["b"].state.end_date, runs["c"].state.end_date)


def test_dag_failure_stops_dependents(run) -> None:
    done = run("""
id: dagfail
namespace: tests.flowables
tasks:
  - id: dag
    type: Dag
    tasks:
      - task: {id: a, type: Fail}
      - task: {id: b, type: Return, format: b}
        dependsOn: [a]
      - task: {id: c, type: Return, format: c}
""")
    assert done.state.current == S.FAILED
    assert done.task_runs("b") == []
    assert done.task_run("c").state.current == S.SUCCESS
    assert done.task_run("dag").state.current == S.FAILED


def test_flow_outputs_are_rendered_at_the_end(run, client: Client) -> None:
    done = run("""
id: flowoutputs
namespace: tests.flowables
tasks:
  - {id: a, type: Return, format: hello}
outputs:
  - {id: greeting, type: STRING, value: "{{ outputs.a.value }} world"}
""")
    assert done.state.current == S.SUCCESS
    assert done.outputs == {"greeting": "hello world"}
    bad = run("""
id: flowoutputsbad
namespace: tests.flowables
tasks:
  - {id: a, type: Return, format: hello}
outputs:
  - {id: broken, type: STRING, value: "{{ outputs.nope.value }}"}
""")
    assert bad.state.current == S.FAILED
    assert any("flow outputs" in e.message for e in client.logs(bad.id))


BAD = {
    "cycle": """
  - id: dag
    type: Dag
    tasks:
      - {task: {id: a, type: Log, message: m}, dependsOn: [c]}
      - {task: {id: b, type: Log, message: m}, dependsOn: [a]}
      - {task: {id: c, type: Log, message: m}, dependsOn: [b]}
""",
    "unknown dependency": """
  - id: dag
    type: Dag
    tasks:
      - {task: {id: a, type: Log, message: m}, dependsOn: [ghost]}
""",
    "empty cases": """
  - id: sw
    type: Switch
    value: x
    cases: {}
""",
    "duplicate nested ids": """
  - id: par
    type: Parallel
    tasks:
      - id: seq
        type: Sequential
        tasks: [{id: same, type: Log, message: m}]
      - {id: same, type: Log, message: m}
""",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_flowables_are_refused_and_nothing_stored(client: Client, case: str) -> None:
    before = stored(client)
    with pytest.raises(FlowValidationError) as info:
        client.submit(f"id: bad\nnamespace: tests.flowables\ntasks:{BAD[case]}")
    text = str(info.value)
    expected = {
        "cycle": "dependency cycle between a, b, c",
        "unknown dependency": "unknown task 'ghost'",
        "empty cases": "tasks[0].cases",
        "duplicate nested ids": "duplicate task id 'same'",
    }[case]
    assert expected in text
    assert stored(client) == before


def test_dag_cycle_check_is_linear() -> None:
    import time

    n = 20000
    entries = "\n".join(
        f"      - {{task: {{id: t{i}, type: Log, message: m}}, dependsOn: [t{i - 1}]}}"
        if i
        else "      - {task: {id: t0, type: Log, message: m}}"
        for i in range(n)
    )
    started = time.monotonic()
    Flow.from_yaml(
        f"id: big\nnamespace: t\ntasks:\n  - id: dag\n    type: Dag\n    tasks:\n{entries}\n"
    )
    assert time.monotonic() - started < 30


def test_worker_group_waits_for_a_worker_of_its_group(
    client: Client, worker, redis_server, tmp_path
) -> None:
    import os
    import time

    from executor.embedded import LocalWorker
    from tests.conftest import WORKER_ENV

    group = f"gpu-{os.getpid()}"
    eid = client.submit(f"""
id: grouped
namespace: tests.flowables
tasks:
  - {{id: plain, type: Return, format: anywhere}}
  - {{id: special, type: Return, format: "on {group}", workerGroup: {group}}}
""").id
    time.sleep(2)
    waiting = client.get(eid)
    assert waiting.state.current == S.RUNNING
    assert waiting.task_run("plain").state.current == S.SUCCESS
    special = waiting.task_run("special")
    assert special.state.current == S.CREATED and special.attempts == []  # visibly waiting
    gpu = LocalWorker(
        redis_server.url,
        concurrency=1,
        queues=group,
        env=WORKER_ENV,
        name=f"{group}@%h",
        log_file=tmp_path / "gpu.log",
    ).start()
    try:
        done = client.wait(eid, timeout=30)
    finally:
        gpu.stop()
    assert done.state.current == S.SUCCESS
    pid = int((done.task_run("special").attempts[0].worker_id or "").rpartition(":")[2])
    assert pid not in worker.children()


def test_run_if_on_the_first_task_is_evaluated(run) -> None:
    done = run("""
id: firstrunif
namespace: tests.flowables
tasks:
  - {id: first, type: Fail, errorMessage: must not run, runIf: "{{ 1 == 2 }}"}
  - {id: second, type: Return, format: ran}
""")
    assert done.task_run("first").state.current == S.SKIPPED
    assert done.task_run("first").attempts == []
    assert done.state.current == S.SUCCESS
