"""``ostra trigger ...``: see and control the triggers of the deployed flows.

::

    ostra trigger list [--namespace NS] [--flow ID] [--json]
    ostra trigger enable|disable|unlock NS FLOW TRIGGER [--json]
    ostra trigger backfill NS FLOW TRIGGER --start ISO --end ISO [--rerun] [--rate R]
                           [-i k=v] [-l k=v] [--no-follow] [--json]
    ostra trigger backfill-status|backfill-pause|backfill-resume|backfill-cancel NS FLOW TRIGGER

``backfill`` follows the backfill with a progress bar until it is done; Ctrl-C stops
following, not the backfill (the trigger loop of any process runs it).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from executor.cli.common import connect
from executor.cli.output import print_json

trigger_app = typer.Typer(no_args_is_help=True, help="See and control triggers (schedules...).")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _short(iso: Any) -> str:
    return "" if not iso else str(iso).replace("T", " ")[:19]


@trigger_app.command("list")
def list_triggers(
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    flow_id: Annotated[str | None, typer.Option("--flow", "-f")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List every trigger: next and last fire, last execution, last error, disabled,
    backfill progress."""
    with connect() as client:
        entries = client.triggers(namespace, flow_id)
    if as_json:
        print_json(entries)
        return
    table = Table("namespace", "flow", "trigger", "type", "next", "last", "execution")
    for col in ("disabled", "backfill", "error"):
        table.add_column(col)
    for e in entries:
        fill = e.get("backfill") or {}
        table.add_row(
            e["namespace"],
            e["flowId"],
            e["triggerId"],
            str(e["type"]).rsplit(".", 1)[-1],
            _short(e.get("nextExecutionDate")),
            _short(e.get("date")),
            e.get("executionId") or "",
            "yes" if e["disabled"] else "",
            f"{fill['done']}/{fill['total']} {fill['status']}" if fill else "",
            (e.get("error") or "")[:60],
        )
    Console().print(table)


def _show(entry: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(entry)
    else:
        state = "disabled" if entry["disabled"] else "enabled"
        nxt = entry.get("nextExecutionDate")
        typer.echo(
            f"{entry['namespace']}.{entry['flowId']}.{entry['triggerId']}: {state}"
            + (f", next {nxt}" if nxt else "")
        )


@trigger_app.command("enable")
def enable(namespace: str, flow: str, trigger: str, as_json: JsonOpt = False) -> None:
    """Enable a trigger (a schedule applies recoverMissedSchedules to what it missed)."""
    with connect() as client:
        _show(client.enable_trigger(namespace, flow, trigger), as_json)


@trigger_app.command("disable")
def disable(namespace: str, flow: str, trigger: str, as_json: JsonOpt = False) -> None:
    """Disable a trigger, whatever its flow says."""
    with connect() as client:
        _show(client.disable_trigger(namespace, flow, trigger), as_json)


@trigger_app.command("unlock")
def unlock(namespace: str, flow: str, trigger: str, as_json: JsonOpt = False) -> None:
    """Drop the claim of a process on a stuck trigger: it is due again at once."""
    with connect() as client:
        _show(client.unlock_trigger(namespace, flow, trigger), as_json)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{what} {v!r}: expected key=value")
        out[key] = value
    return out


@trigger_app.command("backfill")
def backfill(
    namespace: str,
    flow: str,
    trigger: str,
    start: Annotated[str, typer.Option("--start", help="ISO-8601 (naive: UTC).")],
    end: Annotated[str, typer.Option("--end", help="ISO-8601 (naive: UTC).")],
    rerun: Annotated[bool, typer.Option("--rerun", help="Fire ticks that ran already.")] = False,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Executions per second at most.")
    ] = None,
    inputs: Annotated[list[str] | None, typer.Option("--input", "-i", help="k=v")] = None,
    labels: Annotated[list[str] | None, typer.Option("--label", "-l", help="k=v")] = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Backfill a schedule over [--start, --end]: one execution per tick that has none
    yet, labelled system.backfill=true. Follows it with a progress bar until done."""
    with connect() as client:
        status = client.backfill(
            namespace,
            flow,
            trigger,
            start,
            end,
            inputs=_pairs(inputs or [], "input") or None,
            labels=_pairs(labels or [], "label") or None,
            rerun=rerun,
            rate=rate,
        )
        if follow and not as_json:
            status = _follow(client, namespace, flow, trigger, status)
    if as_json:
        print_json(status)
    else:
        typer.echo(
            f"backfill {status['status']}: {status['done']}/{status['total']} ticks, "
            f"{status['fired']} executions started"
        )


def _follow(client: Any, namespace: str, flow: str, trigger: str, status: dict[str, Any]) -> Any:
    err = Console(stderr=True)
    ids = f"{namespace} {flow} {trigger}"
    columns = (
        TextColumn("[bold]backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task("backfill", total=status["total"], current="")
            while True:
                bar.update(task, completed=status["done"], current=status.get("currentDate") or "")
                if status["status"] != "RUNNING":
                    return status
                time.sleep(0.5)
                status = client.backfill_status(namespace, flow, trigger) or status
    except KeyboardInterrupt:
        err.print(
            "stopped following; the backfill goes on. "
            f"Pause: ostra trigger backfill-pause {ids}; "
            f"cancel: ostra trigger backfill-cancel {ids}"
        )
        raise typer.Exit(130) from None


def _backfill_action(name: str, namespace: str, flow: str, trigger: str) -> None:
    with connect() as client:
        status = getattr(client, name)(namespace, flow, trigger)
    print_json(status)


@trigger_app.command("backfill-status")
def backfill_status(namespace: str, flow: str, trigger: str) -> None:
    """Print the backfill of a trigger and its progress (JSON)."""
    _backfill_action("backfill_status", namespace, flow, trigger)


@trigger_app.command("backfill-pause")
def backfill_pause(namespace: str, flow: str, trigger: str) -> None:
    """Pause a running backfill."""
    _backfill_action("pause_backfill", namespace, flow, trigger)


@trigger_app.command("backfill-resume")
def backfill_resume(namespace: str, flow: str, trigger: str) -> None:
    """Resume a paused backfill."""
    _backfill_action("resume_backfill", namespace, flow, trigger)


@trigger_app.command("backfill-cancel")
def backfill_cancel(namespace: str, flow: str, trigger: str) -> None:
    """Cancel a backfill (no tick fires after the one in flight)."""
    _backfill_action("cancel_backfill", namespace, flow, trigger)
