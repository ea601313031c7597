"""Following an execution as it runs: ``watch`` reads its state changes and log lines
and ``Progress`` prints them (``ostra run``, ``execution submit --wait``, ``execution
follow``).

What a user sees, on stderr:

- one line per state change of a task run or attempt (no repeats), nested tasks
  indented under their flowable; a failed attempt with its reason and, unless its log
  lines were just shown, the last lines of its stderr;
- the flow's own log lines under their task as they arrive, level coloured
  (``--log-level`` filters them, ``--quiet`` hides everything);
- for a task with more than ``COLLAPSE_AFTER`` task runs (a fan-out), one line with its
  counts by state every ``COLLAPSE_EVERY`` seconds instead of a line per change;
- on a terminal, a status line with the elapsed time and how many task runs ended of how
  many the flow will create (``5/7+`` when more may come);
- a warning when a task run waits ``WAIT_AFTER`` seconds in a queue no worker consumes.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

from rich.console import Console
from rich.status import Status
from rich.text import Text

from executor.cli.output import styled_state
from executor.client import Client
from executor.errors import WaitTimeout
from executor.flow import Flow
from executor.loglimits import LEVELS
from executor.models import Execution, LogEntry, StateEvent
from executor.state import StateType

#: seconds without any state change before ``run`` hints that no worker may be listening
IDLE_HINT_AFTER = 15.0
#: seconds a task run may wait CREATED before we look for a worker consuming its queue
WAIT_AFTER = 3.0
#: task runs of one task beyond which its changes are shown as counts
COLLAPSE_AFTER = 20
#: seconds between two count lines of a collapsed task
COLLAPSE_EVERY = 2.0
#: stderr lines of a failed attempt shown under it
STDERR_TAIL = 5
#: log lines read at once while following
LOG_PAGE = 1000
#: the flowables whose children are known before the execution runs
_STATIC = frozenset({"Sequential", "Parallel", "AllowFailure", "Dag"})
#: the flowables whose children's task runs carry a loop value
_LOOPS = frozenset({"ForEach", "EachSequential", "EachParallel", "LoopUntil", "WaitFor"})

LEVEL_STYLES = {"TRACE": "dim", "DEBUG": "dim", "INFO": "blue", "WARN": "yellow", "ERROR": "red"}

#: what tells which queues some worker consumes (None: cannot tell)
Consumers = Callable[[], set[str] | None]


def planned_task_runs(flow: Flow) -> tuple[int, bool]:
    """How many task runs ``flow`` creates for sure (its tasks outside loops and
    conditions, and its ``finally``), and whether it may create more."""
    index = {task.id: (loc, task) for loc, task in flow.all_tasks()}
    known = 0
    more = bool(flow.branch("errors"))
    for loc, _task in index.values():
        certain = loc.branch in ("tasks", "finally")
        parent = loc.parent
        while certain and parent is not None:
            ploc, ptask = index[parent]
            certain = ptask.task_type.name.rsplit(".", 1)[-1] in _STATIC and ploc.branch in (
                "tasks",
                "finally",
            )
            parent = ploc.parent
        if certain:
            known += 1
        else:
            more = True
    return known, more


class Progress:
    """Prints the state changes and log lines of one execution on ``console``.

    Args:
        console: where to print (stderr for ``run``).
        flow: the flow, for labels, nesting, queues and the planned count.
        enabled: False prints nothing but warnings (``--quiet``).
        log_level: the lowest level of log lines shown; None shows no log lines.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        console: Console,
        flow: Flow | None = None,
        *,
        enabled: bool = True,
        log_level: str | None = "INFO",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.enabled = enabled
        self.log_level = log_level.upper() if log_level else None
        self.clock = clock
        located = list(flow.all_tasks()) if flow is not None else []
        tasks = [task for _, task in located]
        parents = {task.id: loc.parent for loc, task in located}
        #: task ids whose task runs have attempts (their RUNNING shows on the attempt line)
        self.attempted = {t.id for t in tasks if not t.task_type.flowable}
        #: the Celery queue of each task's task runs (None: the default queue)
        self.queues = {t.id: t.worker_group for t in tasks}
        self.depth: dict[str, int] = {}
        for task_id in parents:
            depth, parent = 0, parents[task_id]
            while parent is not None:
                depth, parent = depth + 1, parents.get(parent)
            self.depth[task_id] = depth
        kinds = {t.id: t.task_type.name.rsplit(".", 1)[-1] for t in tasks}
        #: tasks inside a loop: their task runs show their value (``fetch[eu]``)
        self.looped: set[str] = set()
        for task_id in parents:
            parent = parents[task_id]
            while parent is not None and task_id not in self.looped:
                if kinds.get(parent) in _LOOPS:
                    self.looped.add(task_id)
                parent = parents.get(parent)
        self.values: dict[str, str | None] = {}  # task run id -> its loop value
        labels = [2 * self.depth[t.id] + len(t.id) for t in tasks]
        self.width = max([*labels, len("execution")])
        self.planned, self.more = planned_task_runs(flow) if flow is not None else (0, True)
        self.start: datetime | None = None
        self.started = clock()
        self.last: dict[str, StateType] = {}  # the last state shown, per task run
        self.tr_state: dict[str, StateType] = {}  # each task run's own state
        self.ended: set[str] = set()
        self.task_runs: dict[str, str] = {}  # task run id -> task id
        self.created_at: dict[str, float] = {}  # task run id -> when first seen CREATED
        self.warned_queues: set[str] = set()
        self.per_task: dict[str, Counter[StateType]] = {}
        self.counts_shown: dict[str, tuple[float, Counter[StateType]]] = {}
        self.execution_state = StateType.CREATED
        self.status: Status | None = None
        self.log_cursor = 0
        self.pending_logs: list[LogEntry] = []
        self.shown_logs: set[tuple[str, int]] = set()  # (task run id, attempt) with lines shown
        self.title = f"{flow.namespace}.{flow.id}" if flow is not None else "execution"

    # ------------------------------------------------------------------ display

    @contextlib.contextmanager
    def live(self, message: str) -> Iterator[Progress]:
        """Show the status line (starting with ``message``) while in the block, on a
        terminal and when enabled."""
        if self.enabled and self.console.is_terminal:
            with self.console.status(message) as status:
                self.status = status
                try:
                    yield self
                finally:
                    self.status = None
        else:
            yield self

    def note(self, message: str) -> None:
        """Print ``message`` dimmed (when enabled)."""
        if self.enabled:
            self.console.print(Text(message, style="dim"), soft_wrap=True)

    def warn(self, message: str) -> None:
        """Print ``message`` as a warning, even when quiet."""
        self.console.print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)

    def _label(self, task_id: str | None, fallback: str = "", trid: str | None = None) -> str:
        if task_id is None:
            return fallback
        value = self.values.get(trid) if trid is not None else None
        shown = f"{task_id}[{value}]" if value is not None else task_id
        return "  " * self.depth.get(task_id, 0) + shown

    def needs_values(self, events: list[tuple[str, StateEvent]]) -> bool:
        """Whether some of ``events`` are of looped task runs whose value is unknown."""
        return any(
            ev.task_run_id is not None
            and ev.task_run_id not in self.values
            and ev.task_id in self.looped
            and not self._collapsed(ev.task_id)
            for _, ev in events
        )

    def learn_values(self, execution: Execution) -> None:
        """Remember the loop value of every task run of ``execution``."""
        for tr in execution.task_run_list:
            self.values[tr.id] = tr.value

    def _elapsed(self, date: datetime) -> float:
        return (date - self.start).total_seconds() if self.start is not None else 0.0

    def refresh(self) -> None:
        """Update the status line: state, elapsed time, task runs ended of planned."""
        if self.status is None:
            return
        total = max(self.planned, len(self.task_runs))
        plus = "+" if self.more else ""
        self.status.update(
            f"{self.title}: {self.execution_state.value} {self.clock() - self.started:5.1f}s, "
            f"{len(self.ended)}/{total}{plus} task runs ended"
        )

    # ------------------------------------------------------------------ state changes

    def event(self, ev: StateEvent) -> None:
        """Take one state change into account and print its line (unless a repeat),
        after the fetched log lines written before it."""
        self.flush_logs(ev.date)
        if self.start is None:
            self.start = ev.date
        key = ev.task_run_id or ""
        if not key:
            self.execution_state = ev.state
        elif ev.attempt is None:
            self.task_runs[key] = ev.task_id or ""
            if ev.state == StateType.CREATED:
                self.created_at.setdefault(key, self.clock())
            else:
                self.created_at.pop(key, None)
            if ev.state.is_terminated():
                self.ended.add(key)
            if ev.task_id is not None:
                counts = self.per_task.setdefault(ev.task_id, Counter())
                previous = self.tr_state.get(key)
                if previous is not None:
                    counts[previous] -= 1
                counts[ev.state] += 1
                self.tr_state[key] = ev.state
        else:
            self.created_at.pop(key, None)
        self.refresh()
        if key and ev.attempt is None:
            if self.last.get(key) == ev.state:
                return  # the task run entered the state its attempt just showed
            if ev.state == StateType.RUNNING and ev.task_id in self.attempted:
                return  # "RUNNING (attempt n)" follows
        self.last[key] = ev.state
        if not self.enabled or self._collapsed(ev.task_id):
            return
        label = (
            self._label(ev.task_id, ev.task_run_id or "", ev.task_run_id) if key else "execution"
        )
        line = Text(
            f"{self._elapsed(ev.date):6.1f}s  {label:<{self.width}}  ", style="" if key else "bold"
        )
        line.append_text(styled_state(ev.state))
        if ev.attempt is not None:
            line.append(f" (attempt {ev.attempt})")
        self.console.print(line, soft_wrap=True)

    def _collapsed(self, task_id: str | None) -> bool:
        """Whether ``task_id`` has so many task runs that its changes show as counts."""
        return task_id is not None and sum(self.per_task.get(task_id, {}).values()) > COLLAPSE_AFTER

    def counts(self, *, final: bool = False) -> None:
        """Print a count line for each collapsed task whose counts changed (at most every
        ``COLLAPSE_EVERY`` seconds, unless ``final``)."""
        if not self.enabled:
            return
        now = self.clock()
        for task_id, counts in self.per_task.items():
            if not self._collapsed(task_id):
                continue
            shown_at, shown = self.counts_shown.get(task_id, (float("-inf"), Counter()))
            current = +counts  # without the zeros
            if current == shown or (not final and now - shown_at < COLLAPSE_EVERY):
                continue
            self.counts_shown[task_id] = (now, current)
            line = Text(f"{now - self.started:6.1f}s  {self._label(task_id):<{self.width}}  ")
            line.append(f"{sum(current.values())} task runs: ")
            for i, (state, n) in enumerate(sorted(current.items(), key=lambda kv: kv[0].value)):
                if i:
                    line.append(", ")
                line.append(f"{n} ")
                line.append_text(styled_state(state))
            self.console.print(line, soft_wrap=True)

    def failed_attempt(self, ev: StateEvent, reason: str | None, stderr: list[LogEntry]) -> None:
        """Print why attempt ``ev`` failed and, unless its lines were shown live, the
        last lines of its stderr (its WARN and ERROR lines)."""
        if not self.enabled:
            return
        pad = " " * 10 + " " * self.width
        if reason:
            self.console.print(Text(f"{pad}reason: {reason}", style="red"), soft_wrap=True)
        if (ev.task_run_id or "", ev.attempt or 0) in self.shown_logs and self.log_level in (
            "TRACE",
            "DEBUG",
            "INFO",
            "WARN",
        ):
            return
        if stderr:
            self.console.print(Text(f"{pad}last lines of its stderr:", style="dim"))
            for entry in stderr[-STDERR_TAIL:]:
                for text in entry.message.splitlines() or [""]:
                    self.console.print(Text(f"{pad}  {text}", style="yellow"), soft_wrap=True)

    # ------------------------------------------------------------------ log lines

    def log(self, entry: LogEntry) -> None:
        """Print one log line of the flow under its task (when enabled)."""
        if entry.task_run_id is not None:
            self.shown_logs.add((entry.task_run_id, entry.attempt or 0))
        if not self.enabled or self.log_level is None:
            return
        label = self._label(entry.task_id, "execution", entry.task_run_id)
        head = f"{'':9}{label:<{self.width}}  "
        for i, text in enumerate(entry.message.splitlines() or [""]):
            line = Text(head)
            if i == 0:
                line.append(f"{entry.level:<5}", style=LEVEL_STYLES.get(entry.level, ""))
            else:
                line.append(" " * 5)
            line.append(f" {text}")
            self.console.print(line, soft_wrap=True)

    def read_logs(self, client: Client, eid: str) -> None:
        """Fetch the log lines stored since the last read (none when not shown); they
        print in time order with the state changes (``flush_logs``)."""
        if not self.enabled or self.log_level is None:
            return
        while True:
            page = client.logs_page(
                eid, size=LOG_PAGE, cursor=self.log_cursor, min_level=self.log_level
            )
            self.pending_logs.extend(page.results)
            self.log_cursor = page.next_cursor
            if len(page.results) < LOG_PAGE:
                return

    def flush_logs(self, until: datetime | None = None) -> None:
        """Print the fetched log lines dated ``until`` or before (all of them if None)."""
        while self.pending_logs and (until is None or self.pending_logs[0].timestamp <= until):
            self.log(self.pending_logs.pop(0))

    # ------------------------------------------------------------------ waiting

    def waiting_queues(self, default: str) -> set[str]:
        """The queues of task runs that have waited CREATED for ``WAIT_AFTER`` seconds
        (task runs workers run, not flowables), not warned about yet."""
        now = self.clock()
        found = set()
        for trid, since in self.created_at.items():
            task_id = self.task_runs.get(trid, "")
            if task_id in self.attempted and now - since >= WAIT_AFTER:
                queue = self.queues.get(task_id) or default
                if queue not in self.warned_queues:
                    found.add(queue)
        return found


def worker_queues(client: Client, timeout: float = 1.0) -> set[str] | None:
    """The queues the live workers of ``client``'s broker consume (Celery's remote
    control: every worker answers within ``timeout``); None when it cannot be asked."""
    try:
        replies = client.orchestrator.dispatcher.app.control.inspect(
            timeout=timeout
        ).active_queues()
    except Exception:  # no answer is no information, not an error of the run
        return None
    return {q["name"] for queues in (replies or {}).values() for q in queues or ()}


def _say_waiting(
    progress: Progress, client: Client, consumers: Consumers | None, default: str
) -> None:
    waiting = progress.waiting_queues(default)
    if not waiting or consumers is None:
        return
    consumed = consumers()
    if consumed is None:
        return
    for queue in sorted(waiting - consumed):
        progress.warned_queues.add(queue)
        start = "ostra worker" if queue == default else f"ostra worker --group {queue}"
        progress.warn(f"no worker consumes the queue '{queue}': its task runs wait ({start})")
    progress.warned_queues |= waiting & consumed  # someone is there: just busy


def watch(
    client: Client,
    eid: str,
    progress: Progress,
    *,
    timeout: float | None = None,
    check: Callable[[], None] | None = None,
    hint: str | None = None,
    consumers: Consumers | None = None,
) -> Execution:
    """Report every state change and log line of execution ``eid`` until it ends;
    return it.

    ``check`` is called about every half second (it raises to give up, e.g. when the
    local worker died); ``consumers`` tells which queues some worker consumes, to warn
    about task runs waiting for nobody. Raises WaitTimeout after ``timeout`` seconds.
    """
    if not hasattr(client, "events"):  # the HTTP client: its /events stream
        return _watch_stream(client, eid, progress, timeout=timeout)
    default = client.settings.queue
    deadline = None if timeout is None else time.monotonic() + timeout
    last_id = "0"
    last_change = time.monotonic()
    hinted = False
    state = client.state(eid)
    while True:
        events = client.events(eid, last_id, block=0.5)
        progress.read_logs(client, eid)  # the lines written so far, printed in time order
        if progress.enabled and progress.needs_values(events):
            progress.learn_values(client.get(eid))
        done = False
        for last_id, ev in events:  # noqa: B007
            _take(client, eid, progress, ev)
            last_change = time.monotonic()
            if ev.task_run_id is None:
                state = ev.state
                done = done or ev.state.is_terminated()
        if not events:
            progress.flush_logs()
        progress.counts()
        if done or (not events and client.state(eid).is_terminated()):
            progress.read_logs(client, eid)
            progress.flush_logs()
            progress.counts(final=True)
            return client.get(eid)
        if check is not None:
            check()
        progress.refresh()
        _say_waiting(progress, client, consumers, default)
        now = time.monotonic()
        if deadline is not None and now > deadline:
            raise WaitTimeout(eid, timeout or 0, client.state(eid) if events else state)
        if hint and not hinted and now - last_change > IDLE_HINT_AFTER:
            progress.note(hint)
            hinted = True


def _take(client: Client, eid: str, progress: Progress, ev: StateEvent) -> None:
    """Show ``ev``; for a failed attempt, its log lines first, then why it failed."""
    failed = ev.attempt is not None and ev.state == StateType.FAILED
    if failed:
        progress.read_logs(client, eid)
        progress.flush_logs(ev.date)
    progress.event(ev)
    if failed and progress.enabled and ev.task_run_id is not None:
        reason = None
        with contextlib.suppress(Exception):
            for tr in client.get(eid).task_run_list:
                if tr.id == ev.task_run_id:
                    reason = next((a.reason for a in tr.attempts if a.number == ev.attempt), None)
        stderr = client.logs(eid, task_run_id=ev.task_run_id, attempt=ev.attempt, min_level="WARN")
        progress.failed_attempt(ev, reason, stderr)


def _watch_stream(
    client: Client, eid: str, progress: Progress, *, timeout: float | None
) -> Execution:
    """``watch`` over the REST API: its event stream, the log read after each change."""
    for ev in client.follow(eid, timeout=timeout):
        progress.read_logs(client, eid)
        if progress.enabled and progress.needs_values([("", ev)]):
            progress.learn_values(client.get(eid))
        _take(client, eid, progress, ev)
        progress.counts()
    progress.read_logs(client, eid)
    progress.flush_logs()
    progress.counts(final=True)
    return client.get(eid)


__all__ = ["LEVELS", "Progress", "planned_task_runs", "watch", "worker_queues"]
