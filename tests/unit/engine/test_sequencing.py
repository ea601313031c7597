"""Sequencing: what follows the end of a top-level task run, without Redis or Celery.

Kestra: core/src/main/java/io/kestra/core/runners/FlowableUtils.java (resolveSequentialNexts:
tasks, then errors once a task run failed, then finally).
"""

from __future__ import annotations

from executor import Flow
from executor.engine.outcomes import execution_end as final_state
from executor.engine.sequencing import after as decide
from executor.engine.sequencing import start
from executor.engine.vocabulary import END, Decision, Ended, NewTaskRun
from executor.state import StateType as S

FLOW = Flow.from_yaml("""
id: f
namespace: t
tasks:
  - {id: a, type: Log, message: m}
  - {id: skipped, type: Log, message: m, disabled: true}
  - {id: b, type: Log, message: m}
errors:
  - {id: e1, type: Log, message: m}
  - {id: e2, type: Log, message: m}
finally:
  - {id: z, type: Log, message: m}
""")


def nxt(task_id: str) -> Decision:
    return Decision(create=(NewTaskRun(task_id),))


def test_start_with_first_task() -> None:
    assert start(FLOW) == nxt("a")


def test_success_goes_to_next_enabled_task() -> None:
    assert decide(FLOW, Ended("a", S.SUCCESS)) == nxt("b")
    assert decide(FLOW, Ended("a", S.WARNING)) == nxt("b")


def test_end_of_tasks_runs_finally_then_ends() -> None:
    assert decide(FLOW, Ended("b", S.SUCCESS)) == nxt("z")
    assert decide(FLOW, Ended("z", S.SUCCESS)) == END


def test_failure_runs_errors_then_finally() -> None:
    assert decide(FLOW, Ended("a", S.FAILED)) == nxt("e1")
    assert decide(FLOW, Ended("e1", S.SUCCESS)) == nxt("e2")
    assert decide(FLOW, Ended("e2", S.SUCCESS)) == nxt("z")
    assert decide(FLOW, Ended("e1", S.FAILED)) == nxt("z")


def test_without_errors_or_finally_a_failure_ends() -> None:
    flow = Flow.from_yaml(
        "id: f\nnamespace: t\ntasks:\n  - {id: a, type: Log, message: m}\n"
        "  - {id: b, type: Log, message: m}\n"
    )
    assert decide(flow, Ended("a", S.FAILED)) == END
    assert decide(flow, Ended("a", S.KILLED)) == END


def test_final_state() -> None:
    assert final_state([S.SUCCESS, S.FAILED, S.SUCCESS], S.RUNNING) == S.FAILED
    assert final_state([S.SUCCESS, S.WARNING], S.RUNNING) == S.WARNING
    assert final_state([S.SUCCESS], S.KILLING) == S.KILLED
    assert final_state([], S.RUNNING) == S.SUCCESS
