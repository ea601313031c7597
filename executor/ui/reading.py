"""How an execution page reads an execution: whole when it is small, in parts when it is
big, so that a page of an execution of 10,000 task runs costs about what a page of 200
does.

Past ``views.GANTT_MAX_ROWS`` task runs the page reads, through the store contract, the
execution's own fields (``execution_meta``), the few fields of every task run that give
the tree its shape (``task_run_rows``), the whole records of the task runs of the tree's
page only (``read_task_runs_raw``), and for the timeline, one row per task, the first and
the last task run of each task (the bar runs from the first one's start to the last
one's end).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from executor.client import Client
from executor.models import Execution, Label
from executor.store.base import TaskRunRow
from executor.store.records import history, metadata_of, origin_of, state_of, task_run_of
from executor.ui import views


@dataclass
class ExecutionView:
    """What an execution page shows of it: the execution (with every task run when it is
    small, with the tree page's task runs when it is big), the tree page, the timeline."""

    execution: Execution
    tree: views.TreePage
    gantt: views.Gantt
    task_ids: list[str]
    task_runs: int


def header_of(eid: str, x: dict[str, str]) -> Execution:
    """The execution from its own stored fields, without task runs (as
    ``RedisStore.get_execution`` assembles it)."""
    state = state_of(history(x.get("h")))
    return Execution(
        id=eid,
        namespace=x["namespace"],
        flow_id=x["flowId"],
        flow_revision=int(x.get("flowRevision") or 1),
        state=state,
        inputs=json.loads(x.get("inputs") or "{}"),
        outputs=json.loads(x.get("outputs") or "{}"),
        labels=[Label.model_validate(lb) for lb in json.loads(x.get("labels") or "[]")],
        variables=json.loads(x.get("variables") or "{}"),
        parent_id=x.get("parentId") or None,
        original_id=x.get("originalId") or eid,
        metadata=metadata_of(x, state.start_date),
        trigger=origin_of(x),
    )


def read_view(client: Client, eid: str, tree_page: int, now: datetime) -> ExecutionView:
    """The execution as its page shows it (``ExecutionNotFound`` if there is none)."""
    store = client.store
    rows = store.task_run_rows(eid)
    if len(rows) <= views.GANTT_MAX_ROWS:
        execution = store.get_execution(eid)
        return ExecutionView(
            execution,
            views.tree_rows(execution, now, tree_page),
            views.gantt(execution, now),
            sorted({r.task_id for r in execution.task_run_list}),
            len(execution.task_run_list),
        )
    x = store.execution_meta(eid)
    header = header_of(eid, x)
    ordered = views.tree_order(rows)
    pages = max(1, -(-len(ordered) // views.TREE_PAGE))
    page = min(max(1, tree_page), pages)
    chunk = ordered[(page - 1) * views.TREE_PAGE : page * views.TREE_PAGE]
    raw = store.read_task_runs_raw(eid, [row.id for row, _, _ in chunk])
    runs = {h["id"]: task_run_of(eid, x, h) for h in raw if h}
    tree_rows = [
        views.TreeRow(
            runs[row.id],
            depth,
            kids,
            views.duration_text(views.span_seconds(runs[row.id].state, now)),
        )
        for row, depth, kids in chunk
        if row.id in runs
    ]
    execution = header.model_copy(update={"task_run_list": list(runs.values())})
    tree = views.TreePage(tree_rows, page, pages, len(ordered))
    gantt = _big_gantt(client, eid, x, header, ordered, now)
    return ExecutionView(execution, tree, gantt, sorted({r.task_id for r in rows}), len(rows))


def _big_gantt(
    client: Client,
    eid: str,
    x: dict[str, str],
    header: Execution,
    ordered: list[tuple[TaskRunRow, int, int]],
    now: datetime,
) -> views.Gantt:
    groups: dict[str, list[tuple[TaskRunRow, int]]] = {}
    for row, depth, _kids in ordered:
        groups.setdefault(row.task_id, []).append((row, depth))
    ends = {trid for g in groups.values() for trid in (g[0][0].id, g[-1][0].id)}
    raw = client.store.read_task_runs_raw(eid, sorted(ends))
    known = {h["id"]: task_run_of(eid, x, h) for h in raw if h}
    t0 = views.started(header.state) or now
    t1 = views.ended(header.state) or now
    total = max((t1 - t0).total_seconds(), 0.001)
    out = []
    for task_id, members in groups.items():
        states: dict[str, int] = {}
        for row, _ in members:
            states[row.state.value] = states.get(row.state.value, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items(), key=lambda i: -i[1]))
        detail = f"{len(members)} task runs: {summary}"
        first, last = known.get(members[0][0].id), known.get(members[-1][0].id)
        bars = []
        start = views.started(first.state) if first else None
        if start is not None:
            running = any(not row.state.is_terminated() for row, _ in members)
            end: Any = (views.ended(last.state) if last else None) or now
            if running:
                end = now
            left, width = views.position(start, end, t0, total)
            worst = views.worst(states)
            bars.append(views.Bar(left, width, worst, f"{task_id}: {detail}", f"×{len(members)}"))
        out.append(views.GanttRow(task_id, members[0][1], bars, detail))
    ticks = [(p * 25.0, views.duration_text(total * p / 4)) for p in range(5)]
    return views.Gantt(out, True, views.duration_text(total), len(ordered), ticks)
