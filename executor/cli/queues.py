"""``ostra queue stats``: the depth of every queue, as an autoscaler reads it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from executor.cli.common import connect
from executor.cli.output import print_json

queue_app = typer.Typer(no_args_is_help=True, help="Queue depth of workers and worker groups.")


@queue_app.command("stats")
def queue_stats(
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", "-q", help="Also show this queue (worker group); repeatable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per queue: messages waiting (every priority sub-list), reserved by workers and not
    acknowledged, retries due within a minute (and later), and the oldest waiting age.

    Queues shown: the default queue, those live workers consumed in the last day,
    OSTRA_METRICS_QUEUES and --queue.
    """
    with connect() as client:
        stats = client.queue_stats(queue or ())
    if as_json:
        print_json([s.as_json() for s in stats])
        return
    table = Table()
    table.add_column("queue", no_wrap=True)
    for name in ("waiting", "by priority", "reserved", "retries <1m", "later", "oldest"):
        table.add_column(name)
    for s in stats:
        by = " ".join(f"{p}:{n}" for p, n in s.waiting_by_priority.items() if n) or "-"
        age = s.oldest_waiting_age_seconds
        table.add_row(
            s.queue,
            str(s.waiting),
            by,
            str(s.reserved),
            str(s.retries_due_next_minute),
            str(s.retries_later),
            "-" if age is None else f"{age:.1f}s",
        )
    Console().print(table)
