"""How the CLI prints: the consoles, durations, dates, styled states, task run tables,
execution summaries and JSON.

Results go to ``out`` (stdout), progress and errors to ``err`` (stderr).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from executor.models import Execution, TaskRun
from executor.state import StateType

#: stdout (results) and stderr (progress, errors); no markup, so user text prints as is
out = Console(markup=False, highlight=False, emoji=False)
err = Console(stderr=True, markup=False, highlight=False, emoji=False)

#: the end states an execution's commands exit 0 for
OK_STATES = frozenset({StateType.SUCCESS, StateType.WARNING})
STATE_STYLES = {
    StateType.SUCCESS: "green",
    StateType.WARNING: "yellow",
    StateType.FAILED: "red",
    StateType.KILLED: "red",
    StateType.KILLING: "red",
    StateType.RUNNING: "cyan",
    StateType.RETRYING: "yellow",
    StateType.CREATED: "dim",
}


def fmt_duration(seconds: float | None) -> str:
    """``seconds`` as ``1.23s``, ``4m05s`` or ``1h02m03s``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def fmt_date(date: datetime | None) -> str:
    """``date`` in local time to the second; ``-`` for None."""
    return date.astimezone().strftime("%Y-%m-%d %H:%M:%S") if date else "-"


def styled_state(state: StateType) -> Text:
    """The name of ``state`` in its colour."""
    return Text(state.value, style=STATE_STYLES.get(state, ""))


def execution_json(execution: Execution) -> str:
    """``execution`` as indented JSON (the field names of the API)."""
    return json.dumps(execution.model_dump(mode="json", by_alias=True), indent=2)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def exit_code(state: StateType) -> int:
    """0 for an execution that ended SUCCESS or WARNING, else 1."""
    return 0 if state in OK_STATES else 1


def task_label(tr: TaskRun) -> str:
    """The task id of ``tr``, with its ForEach value in brackets if it has one."""
    return f"{tr.task_id}[{tr.value}]" if tr.value is not None else tr.task_id


def task_runs_table(execution: Execution) -> Table:
    """One row per task run of ``execution``: task, state (and, for one whose message
    no worker took, the worker group it waits for and how long), attempts, duration."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("task", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("attempts", justify="right")
    table.add_column("duration", justify="right")
    parents = {tr.id: tr.parent_task_run_id for tr in execution.task_run_list}
    for tr in execution.task_run_list:
        depth, parent = 0, tr.parent_task_run_id
        while parent is not None and depth < 100:  # nested under its flowable's task run
            depth, parent = depth + 1, parents.get(parent)
        state = styled_state(tr.state.current)
        if tr.waiting_for_worker is not None:
            wait = tr.waiting_for_worker
            state.append(
                f" waiting for worker group {wait.worker_group} for {fmt_duration(wait.seconds)}",
                style="yellow",
            )
        table.add_row(
            "  " * depth + task_label(tr),
            state,
            str(tr.attempt_count),
            fmt_duration(tr.state.duration),
        )
    return table


def print_table(table: Table) -> None:
    """Print ``table`` on stdout: fitted to a terminal, never cut when piped (ids whole)."""
    if out.is_terminal:
        out.print(table)
    else:  # a console as wide as the longest row (Console.print caps a width at its own)
        wide = Console(file=out.file, width=100_000, markup=False, highlight=False, emoji=False)
        wide.print(table, crop=False)


def print_reasons(execution: Execution, *, every: bool = False) -> None:
    """One line per attempt that ended with a reason: of the failed task runs, or of
    ``every`` task run (a success after retries has the reasons of its failed tries)."""
    for tr in execution.task_run_list:
        if (every or tr.state.current.is_failed()) and tr.attempts:
            for attempt in tr.attempts:
                if attempt.reason:
                    line = Text(f"  {task_label(tr)} attempt {attempt.number} ")
                    line.append_text(styled_state(attempt.state.current))
                    line.append(f": {attempt.reason}")
                    out.print(line, soft_wrap=True)


def print_summary(execution: Execution) -> None:
    """The task runs table, failure reasons, outputs, then the id and final state."""
    print_table(task_runs_table(execution))
    print_reasons(execution)
    if execution.outputs:
        out.print(f"outputs: {json.dumps(execution.outputs)}", soft_wrap=True)
    line = Text(f"execution {execution.id} ({execution.namespace}.{execution.flow_id}) ")
    line.append_text(styled_state(execution.state.current))
    line.append(f" in {fmt_duration(execution.state.duration)}")
    out.print(line, soft_wrap=True)


def finish(execution: Execution, as_json: bool) -> None:
    """Print the ended ``execution`` (its JSON, or its summary), then exit with its exit
    code (raises typer.Exit)."""
    if as_json:
        sys.stdout.write(execution_json(execution) + "\n")
    else:
        print_summary(execution)
    sys.stdout.flush()
    raise typer.Exit(exit_code(execution.state.current))
