"""afterExecution in the pure engine: what starts once the execution ended, what
follows each of its task runs, and what a restart drops.

Kestra: executor/src/main/java/io/kestra/executor/ExecutorService.java
(``handleAfterExecution``: only once the execution is terminated,
``FlowableUtils.resolveSequentialNexts`` over the afterExecution list, each task run
``withForceExecution(true)``), core/.../services/ExecutionService.java (``restart``
removes afterExecution task runs; ``isTerminated`` waits for them).
"""

from __future__ import annotations

from executor import Flow
from executor.engine.control import restart_dropped
from executor.engine.sequencing import (
    after,
    after_end,
    ends_in_one_step,
    is_after_execution,
    successor_in_step,
)
from executor.engine.vocabulary import END, Decision, Ended, NewTaskRun
from executor.state import StateType as S

FLOW = Flow.from_yaml("""
id: f
namespace: t
tasks:
  - {id: a, type: Log, message: m}
finally:
  - {id: z, type: Log, message: m}
afterExecution:
  - {id: off, type: Log, message: m, disabled: true}
  - {id: x1, type: Log, message: m}
  - {id: x2, type: Log, message: m}
""")

PLAIN = Flow.from_yaml("""
id: p
namespace: t
tasks: [{id: a, type: Log, message: m}]
""")


def nxt(task_id: str) -> Decision:
    return Decision(create=(NewTaskRun(task_id),))


def test_the_end_of_finally_ends_the_execution_first() -> None:
    # afterExecution is not the next branch: the execution ends, then it starts
    assert after(FLOW, Ended("z", S.SUCCESS)) == END


def test_after_the_end_the_first_enabled_after_execution_task_starts() -> None:
    assert after_end(FLOW) == nxt("x1")


def test_a_flow_without_after_execution_has_nothing_after_its_end() -> None:
    assert after_end(PLAIN) == Decision()


def test_after_execution_tasks_run_one_after_the_other() -> None:
    assert after(FLOW, Ended("x1", S.SUCCESS)) == nxt("x2")
    assert after(FLOW, Ended("x1", S.WARNING)) == nxt("x2")
    assert after(FLOW, Ended("x2", S.SUCCESS)) == END


def test_a_failed_after_execution_task_stops_the_rest() -> None:
    # resolveSequentialNexts with no errors branch: nothing more once one failed
    assert after(FLOW, Ended("x1", S.FAILED)) == END


def test_after_execution_tasks_are_known_as_such() -> None:
    assert is_after_execution(FLOW, "x2")
    assert not is_after_execution(FLOW, "z")


def test_no_one_step_end_when_after_execution_must_start() -> None:
    assert ends_in_one_step(PLAIN)
    assert not ends_in_one_step(FLOW)
    assert successor_in_step(FLOW, Ended("z", S.SUCCESS)) is None
    # nor is what follows an afterExecution task run applied in the worker's step
    assert successor_in_step(FLOW, Ended("x1", S.SUCCESS)) is None


def test_a_restart_drops_after_execution_task_runs() -> None:
    assert set(restart_dropped(FLOW)) == {"z", "off", "x1", "x2"}
