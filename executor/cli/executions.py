"""``ostra execution ...``: submit executions of deployed flows, read them (state, logs,
metrics), follow them, and act on them (kill, restart, replay, pause, resume)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from executor.cli.common import (
    InputsOption,
    JsonOption,
    LogLevelOption,
    QuietOption,
    TimeoutOption,
    UsageError,
    check_level,
    connect,
    error,
    parse_inputs,
    parse_pairs,
    store_of,
)
from executor.cli.output import (
    err,
    execution_json,
    exit_code,
    finish,
    fmt_date,
    fmt_duration,
    out,
    print_json,
    print_reasons,
    print_table,
    styled_state,
    task_runs_table,
)
from executor.cli.processes import interruptible
from executor.cli.progress import Progress, watch
from executor.durations import DurationError, parse_duration
from executor.errors import InputValidationError, OstraError, WaitTimeout
from executor.flow import Flow
from executor.loglimits import LEVELS
from executor.models import Execution
from executor.state import StateType

execution_app = typer.Typer(no_args_is_help=True, help="Submit, read and follow executions.")

IdArgument = Annotated[str, typer.Argument(metavar="ID")]


@execution_app.command("submit")
def execution_submit(
    namespace: str,
    flow_id: Annotated[str, typer.Argument(metavar="FLOW_ID")],
    input_: InputsOption = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", metavar="KEY=VALUE", help="A label (repeatable)."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow it to its end.")] = False,
    as_json: JsonOption = False,
    timeout: TimeoutOption = None,
    quiet: QuietOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Start an execution of a deployed flow; print its id (or follow it with --wait)."""
    labels, problems = parse_pairs(label, "labels")
    if problems:
        raise InputValidationError(problems)
    with connect() as client:
        flow = client.flow(namespace, flow_id)
        given = parse_inputs(input_, flow)
        execution = client.submit((namespace, flow_id), inputs=given, labels=labels)
        if not wait:
            if as_json:
                sys.stdout.write(execution_json(execution) + "\n")
            else:
                out.print(execution.id)
            return
        progress = Progress(err, flow, enabled=not quiet, log_level=check_level(log_level))
        progress.note(f"execution {execution.id} submitted")
        try:
            with interruptible(), progress.live(f"{progress.title}: running"):
                done = watch(client, execution.id, progress, timeout=timeout)
        except WaitTimeout as exc:
            error(f"{exc} (it goes on)")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            error(f"interrupted; execution {execution.id} goes on")
            raise typer.Exit(130) from None
    finish(done, as_json)


@execution_app.command("get")
def execution_get(
    execution_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """Print an execution: its task runs as a table, or its JSON."""
    with connect() as client:
        execution = client.get(execution_id)
    if as_json:
        sys.stdout.write(execution_json(execution) + "\n")
        return
    state = execution.state
    out.print(f"id:        {execution.id}", soft_wrap=True)
    out.print(
        f"flow:      {execution.namespace}.{execution.flow_id} "
        f"(revision {execution.flow_revision})",
        soft_wrap=True,
    )
    line = Text("state:     ")
    line.append_text(styled_state(state.current))
    out.print(line)
    out.print(f"started:   {fmt_date(state.start_date)}")
    out.print(f"duration:  {fmt_duration(state.duration)}")
    if execution.inputs:
        out.print(f"inputs:    {json.dumps(execution.inputs)}", soft_wrap=True)
    labels = {lb.key: lb.value for lb in execution.labels if not lb.key.startswith("system.")}
    if labels:
        out.print(f"labels:    {json.dumps(labels)}", soft_wrap=True)
    if execution.outputs:
        out.print(f"outputs:   {json.dumps(execution.outputs)}", soft_wrap=True)
    out.print()
    print_table(task_runs_table(execution))
    print_reasons(execution, every=True)


@execution_app.command("reindex")
def execution_reindex() -> None:
    """Put every stored execution in the search indexes (once, after upgrading from a
    version without them; safe while Ostra runs)."""
    with connect() as client:
        count = store_of(client, "ostra execution reindex").rebuild_search_indexes()
    out.print(f"indexed {count} executions")


@execution_app.command("list")
def execution_list(
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    flow_id: Annotated[str | None, typer.Option("--flow", "-f", metavar="FLOW_ID")] = None,
    state: Annotated[
        list[StateType] | None,
        typer.Option(
            "--state",
            "-s",
            case_sensitive=False,
            help="Only executions in this state (repeat it: in any of them).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DURATION",
            help="Only executions created within this ISO-8601 duration (PT1H, P7D).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Executions, newest first."""
    created_from = None
    if since is not None:
        try:
            created_from = datetime.now(UTC) - abs(parse_duration(since))
        except DurationError as exc:
            raise UsageError(f"--since: {exc}") from None
    with connect() as client:
        found = client.search(
            namespace=namespace,
            flow_id=flow_id,
            state=state or None,
            limit=limit,
            created_from=created_from,
        )
    if as_json:
        print_json([x.model_dump(mode="json", by_alias=True) for x in found])
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("id", "flow", "state", "started", "duration"):
        table.add_column(column, no_wrap=True)
    for x in found:
        table.add_row(
            x.id,
            f"{x.namespace}.{x.flow_id}",
            styled_state(x.state.current),
            fmt_date(x.state.start_date),
            fmt_duration(x.state.duration),
        )
    print_table(table)


#: log lines the CLI reads at once
LOG_PAGE = 1000
#: seconds between two reads of ``logs --follow``
FOLLOW_EVERY = 0.5


@execution_app.command("logs")
def execution_logs(
    execution_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            "--min-level",
            metavar="LEVEL",
            help="Only lines of this level or above (TRACE, DEBUG, INFO, WARN, ERROR).",
        ),
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", "-t", metavar="TASK_ID", help="Only this task's lines.")
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new lines until the execution ends."),
    ] = False,
) -> None:
    """Every log line of an execution, in order (read and written a page at a time);
    with --follow, the new ones as they come until it ends."""
    if level is not None and level.upper() not in LEVELS:
        raise typer.BadParameter(f"one of {', '.join(LEVELS)}", param_hint="--level/--min-level")
    min_level = None if level is None else level.upper()
    first = True
    with connect() as client:
        cursor = 0
        ended = not follow
        while True:
            if follow:  # read after this check: nothing written before the end is missed
                ended = client.state(execution_id).is_terminated()
            page = client.logs_page(
                execution_id, size=LOG_PAGE, cursor=cursor, min_level=min_level, task_id=task
            )
            for e in page.results:
                if as_json:
                    text = json.dumps(e.model_dump(mode="json", by_alias=True), indent=2)
                    sys.stdout.write(("[\n" if first else ",\n") + _indented(text))
                else:
                    where = e.task_id or "execution"
                    if e.attempt is not None:
                        where += f"#{e.attempt}"
                    ts = e.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3]
                    sys.stdout.write(f"{ts} {e.level:<5} {where}: {e.message}\n")
                first = False
            cursor = page.next_cursor
            if len(page.results) < LOG_PAGE:
                if ended:
                    break
                sys.stdout.flush()
                with interruptible():
                    try:
                        time.sleep(FOLLOW_EVERY)
                    except KeyboardInterrupt:
                        raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write("[]\n" if first else "\n]\n")  # the same text as print_json's
    sys.stdout.flush()


def _indented(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@execution_app.command("metrics")
def execution_metrics(
    execution_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """Every metric entry emitted by an execution's task runs."""
    with connect() as client:
        entries = client.metrics(execution_id)
    if as_json:
        print_json([e.model_dump(mode="json", by_alias=True) for e in entries])
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("task", "type", "name", "value", "tags"):
        table.add_column(column, no_wrap=column != "tags")
    for e in entries:
        value = fmt_duration(e.value / 1000) if e.type == "timer" else f"{e.value:g}"
        tags = ", ".join(f"{k}={v}" for k, v in e.tags.items())
        table.add_row(e.task_id or "-", e.type, e.name, value, tags)
    print_table(table)


@execution_app.command("follow")
def execution_follow(
    execution_id: Annotated[str, typer.Argument(metavar="ID")],
    timeout: TimeoutOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Then print the ended execution as JSON.")
    ] = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Print every state change and log line of an execution until it ends (exit code
    as `run`)."""
    with connect() as client:
        execution = client.get(execution_id)
        try:
            flow: Flow | None = client.flow(
                execution.namespace, execution.flow_id, execution.flow_revision
            )
        except OstraError:
            flow = None
        progress = Progress(err if as_json else out, flow, log_level=check_level(log_level))
        try:
            with interruptible():
                done = watch(client, execution_id, progress, timeout=timeout)
        except WaitTimeout as exc:
            error(str(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
    if as_json:
        finish(done, True)
    line = Text(f"execution {done.id} ")
    line.append_text(styled_state(done.state.current))
    line.append(f" in {fmt_duration(done.state.duration)}")
    out.print(line, soft_wrap=True)
    raise typer.Exit(exit_code(done.state.current))


def _report(execution: Execution, as_json: bool, note: str = "") -> None:
    """Print ``execution`` after an action on it: its JSON, or its id, state and
    ``note``."""
    if as_json:
        sys.stdout.write(execution_json(execution) + "\n")
        sys.stdout.flush()
        return
    line = Text(f"execution {execution.id} ")
    line.append_text(styled_state(execution.state.current))
    if note:
        line.append(f" {note}")
    out.print(line, soft_wrap=True)


@execution_app.command("kill")
def execution_kill(execution_id: IdArgument, as_json: JsonOption = False) -> None:
    """Kill an execution: its task runs stop and it ends KILLED (exit 1 if it ended)."""
    with connect() as client:
        execution = client.kill(execution_id)
    _report(execution, as_json)


@execution_app.command("restart")
def execution_restart(execution_id: IdArgument, as_json: JsonOption = False) -> None:
    """Restart a FAILED or KILLED execution: same id, failed task runs run again."""
    with connect() as client:
        execution = client.restart(execution_id)
    _report(execution, as_json)


@execution_app.command("replay")
def execution_replay(
    execution_id: IdArgument,
    task_run: Annotated[
        str | None,
        typer.Option(
            "--task-run", metavar="ID", help="Replay from this task run (default: from the start)."
        ),
    ] = None,
    input_: InputsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a new execution of the same flow, from the start or from a task run."""
    values, problems = parse_pairs(input_)
    if problems:
        raise InputValidationError(problems)
    with connect() as client:
        execution = client.replay(execution_id, task_run_id=task_run, inputs=dict(values) or None)
    _report(execution, as_json, f"(replay of {execution_id})")


@execution_app.command("pause")
def execution_pause(execution_id: IdArgument, as_json: JsonOption = False) -> None:
    """Pause a RUNNING execution (running task runs finish; nothing new starts)."""
    with connect() as client:
        execution = client.pause(execution_id)
    _report(execution, as_json)


@execution_app.command("resume")
def execution_resume(execution_id: IdArgument, as_json: JsonOption = False) -> None:
    """Resume a PAUSED execution."""
    with connect() as client:
        execution = client.resume(execution_id)
    _report(execution, as_json)
