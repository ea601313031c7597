"""What runs first and what follows a top-level task run, in Kestra's order.

Branches run as Kestra runs them (``ExecutorService`` / ``FlowableUtils``): ``tasks``
one after the other; once a task run of ``tasks`` fails for good, ``errors``; then,
always, ``finally``. Disabled tasks are passed over. Once the execution has ended (in
whatever state, KILLED included), ``afterExecution`` runs one task after the other
(Kestra's ``handleAfterExecution``: ``resolveSequentialNexts`` over that list, each task
run forced), a failure stopping the rest; the execution's state no longer changes.
What follows inside a flowable (Sequential, Parallel, ForEach, ...) is decided in
``executor/engine/flowables.py``.
"""

from __future__ import annotations

from executor.engine.flowables import started_by_executor
from executor.engine.vocabulary import END, Decision, Ended, NewTaskRun
from executor.flow import Flow, TaskDef


def first_enabled(tasks: list[TaskDef], start: int = 0) -> TaskDef | None:
    """The first task of ``tasks[start:]`` that is not disabled."""
    for task in tasks[start:]:
        if not task.disabled:
            return task
    return None


def enter(flow: Flow, *branches: str) -> Decision:
    """Start the first of ``branches`` that has an enabled task, or end."""
    for name in branches:
        task = first_enabled(flow.branch(name))
        if task is not None:
            return Decision(create=(NewTaskRun(task.id),))
    return END


def start(flow: Flow) -> Decision:
    """The first task runs of a new execution (``finally`` alone if ``tasks`` is empty
    of enabled tasks)."""
    return enter(flow, "tasks", "finally")


def after_end(flow: Flow) -> Decision:
    """What follows the end of the execution itself: the first enabled task of
    ``afterExecution`` (an empty decision when there is none)."""
    task = first_enabled(flow.after_execution)
    return Decision(create=(NewTaskRun(task.id),)) if task is not None else Decision()


def is_after_execution(flow: Flow, task_id: str) -> bool:
    """True if ``task_id`` is a top-level task of ``afterExecution``."""
    loc = flow.locate(task_id)
    return loc.parent is None and loc.branch == "afterExecution"


def after(flow: Flow, ended: Ended) -> Decision:
    """What follows the end of top-level task run ``ended``."""
    loc = flow.locate(ended.task_id)
    failed = ended.state.is_failed()
    if not failed:
        nxt = first_enabled(flow.branch(loc.branch), loc.index + 1)
        if nxt is not None:
            return Decision(create=(NewTaskRun(nxt.id),))
    if loc.branch == "tasks":
        return enter(flow, "errors", "finally") if failed else enter(flow, "finally")
    if loc.branch == "errors":
        return enter(flow, "finally")
    # The end of finally (the execution ends), or of afterExecution (it has ended: a
    # failure there leaves the rest of afterExecution and the execution's state alone).
    return END


def goes_to_worker(task: TaskDef) -> bool:
    """True if a task run of ``task`` is sent straight to a worker once created: not a
    task the executor runs itself (a flowable, Pause, Subflow) and no ``runIf`` to
    evaluate first."""
    return task.run_if is None and not started_by_executor(task)


def ends_in_one_step(flow: Flow) -> bool:
    """True if the end of an execution of ``flow`` needs nothing but the worst state of
    its top-level task runs (no flow outputs to render, no concurrency slot to free, no
    flowable whose children a worker cannot see, no afterExecution to start), so that
    the worker recording the last task run's end may end the execution in the same
    step."""
    return (
        not flow.outputs
        and flow.concurrency is None
        and not flow.after_execution
        and not any(t.task_type.flowable for _, t in flow.all_tasks())
    )


def successor_in_step(flow: Flow, ended: Ended) -> Decision | None:
    """What follows top-level task run ``ended`` if the worker recording its end can
    apply it in that same step (``finish_attempt`` with ``then``): task runs that go
    straight to a worker, or the end of the execution when ``ends_in_one_step``.
    None when an orchestrator must decide after the end is recorded."""
    if ended.parent_task_run_id is not None or not ended.state.is_terminated():
        return None
    if flow.after_execution and is_after_execution(flow, ended.task_id):
        return None  # the execution has ended: the finish step would create nothing
    decision = after(flow, ended)
    if decision.end:
        return decision if ends_in_one_step(flow) else None
    if decision.create and all(goes_to_worker(flow.task(c.task_id)) for c in decision.create):
        return decision
    return None
