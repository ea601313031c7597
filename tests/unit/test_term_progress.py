"""What ``ostra run`` prints while it follows an execution (``executor.cli.progress``),
fed state changes and log lines by hand, on a recorded console with an injected clock."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from executor.cli.progress import COLLAPSE_AFTER, WAIT_AFTER, Progress, planned_task_runs
from executor.flow import Flow
from executor.models import LogEntry, StateEvent
from executor.state import StateType

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

FLOW = Flow.from_yaml(
    """
id: shown
namespace: tests.term
tasks:
  - id: first
    type: Log
    message: hi
  - id: each
    type: ForEach
    values: ["eu", "us"]
    tasks:
      - id: fetch
        type: Return
        format: x
  - id: gpu
    type: Return
    format: y
    workerGroup: gpu
finally:
  - id: bye
    type: Log
    message: bye
"""
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress(**kwargs: object) -> tuple[Progress, io.StringIO, Clock]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, markup=False, highlight=False)
    clock = Clock()
    return Progress(console, FLOW, clock=clock, **kwargs), buffer, clock  # type: ignore[arg-type]


def ev(
    state: StateType, task: str | None = None, trid: str | None = None, attempt: int | None = None
) -> StateEvent:
    return StateEvent(
        execution_id="e1",
        state=state,
        date=T0,
        task_id=task,
        task_run_id=trid,
        attempt=attempt,
    )


def log(message: str, task: str, trid: str, level: str = "INFO", at: float = 0) -> LogEntry:
    return LogEntry(
        level=level,  # type: ignore[arg-type]
        message=message,
        task_id=task,
        task_run_id=trid,
        attempt=1,
        timestamp=T0 + timedelta(seconds=at),
    )


def test_planned_count_is_what_the_flow_creates_for_sure() -> None:
    # first, each, gpu and bye for sure; fetch inside the loop: how many is not known
    assert planned_task_runs(FLOW) == (4, True)
    static = Flow.from_yaml(
        "id: s\nnamespace: t\ntasks:\n  - id: p\n    type: Parallel\n    tasks:\n"
        "      - {id: a, type: Log, message: a}\n      - {id: b, type: Log, message: b}\n"
    )
    assert planned_task_runs(static) == (3, False)


def test_log_lines_print_under_their_task_in_time_order_nested_and_levelled() -> None:
    progress, buffer, _ = _progress()
    progress.values["f1"] = "eu"
    progress.pending_logs = [log("fetching eu", "fetch", "f1", at=1)]
    progress.event(ev(StateType.RUNNING, "fetch", "f1", attempt=1))  # dated T0: before the line
    progress.event(
        ev(StateType.SUCCESS, "fetch", "f1", attempt=1).model_copy(
            update={"date": T0 + timedelta(seconds=2)}
        )
    )
    lines = buffer.getvalue().splitlines()
    assert lines[0].split() == ["0.0s", "fetch[eu]", "RUNNING", "(attempt", "1)"]
    assert lines[1].split() == ["fetch[eu]", "INFO", "fetching", "eu"]
    assert lines[2].split()[1:3] == ["fetch[eu]", "SUCCESS"]
    # nested under its ForEach: indented by two, in the same column as the state lines
    assert lines[0].index("fetch") == lines[1].index("fetch") == 11


def test_log_level_filters_and_quiet_hides_everything() -> None:
    progress, buffer, _ = _progress(log_level=None)
    progress.log(log("not shown", "first", "t1"))
    assert buffer.getvalue() == ""
    quiet, buffer, _ = _progress(enabled=False)
    quiet.event(ev(StateType.RUNNING, "first", "t1", attempt=1))
    quiet.log(log("not shown", "first", "t1"))
    assert buffer.getvalue() == ""


def test_failed_attempt_shows_its_reason_and_the_tail_of_its_stderr() -> None:
    progress, buffer, _ = _progress(log_level="ERROR")  # its WARN lines were not shown live
    stderr = [log(f"err {i}", "first", "t1", level="WARN") for i in range(8)]
    progress.failed_attempt(ev(StateType.FAILED, "first", "t1", 1), "exit code 3", stderr)
    text = buffer.getvalue()
    assert "reason: exit code 3" in text
    assert "last lines of its stderr:" in text
    assert "err 7" in text and "err 3" in text and "err 2" not in text  # the last five


def test_stderr_tail_is_not_repeated_when_its_lines_were_just_shown() -> None:
    progress, buffer, _ = _progress()
    progress.log(log("disk full", "first", "t1", level="WARN"))
    progress.failed_attempt(
        ev(StateType.FAILED, "first", "t1", 1), "exit code 3", [log("disk full", "first", "t1")]
    )
    text = buffer.getvalue()
    assert text.count("disk full") == 1 and "reason: exit code 3" in text


def test_a_fan_out_collapses_to_one_count_line_per_task() -> None:
    progress, buffer, clock = _progress()
    for i in range(COLLAPSE_AFTER + 30):
        progress.event(ev(StateType.CREATED, "fetch", f"f{i}"))
    for i in range(10):
        progress.event(ev(StateType.SUCCESS, "fetch", f"f{i}"))
    lines = buffer.getvalue().splitlines()
    assert len(lines) == COLLAPSE_AFTER  # one line per change until it collapsed
    progress.counts()
    last = buffer.getvalue().splitlines()[-1]
    assert "fetch" in last and "50 task runs: 40 CREATED, 10 SUCCESS" in last
    progress.counts()  # the same counts, too soon: nothing more
    assert len(buffer.getvalue().splitlines()) == COLLAPSE_AFTER + 1
    clock.now += 5
    progress.event(ev(StateType.SUCCESS, "fetch", "f10"))
    progress.counts(final=True)
    assert "39 CREATED, 11 SUCCESS" in buffer.getvalue().splitlines()[-1]


def test_task_runs_waiting_in_a_queue_are_reported_after_a_few_seconds() -> None:
    progress, _, clock = _progress()
    progress.event(ev(StateType.CREATED, "gpu", "g1"))
    progress.event(ev(StateType.CREATED, "each", "e1"))  # a flowable: no worker needed
    assert progress.waiting_queues("ostra") == set()
    clock.now += WAIT_AFTER
    assert progress.waiting_queues("ostra") == {"gpu"}
    progress.event(ev(StateType.RUNNING, "gpu", "g1", attempt=1))
    assert progress.waiting_queues("ostra") == set()
