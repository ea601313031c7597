"""Following an execution as it runs: ``watch`` reads its state changes from the store
and ``Progress`` prints one line per change (``ostra run``, ``execution submit --wait``,
``execution follow``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from rich.console import Console
from rich.status import Status
from rich.text import Text

from executor.cli.output import styled_state
from executor.client import Client
from executor.errors import WaitTimeout
from executor.flow import Flow
from executor.models import Execution, StateEvent
from executor.state import StateType

#: seconds without any state change before ``run`` hints that no worker may be listening
IDLE_HINT_AFTER = 15.0


class Progress:
    """One line per state change of a task run or attempt (no repeats), on ``console``.

    On a terminal a status line also shows how many task runs ended; elsewhere there is
    no spinner, only the lines.
    """

    def __init__(self, console: Console, flow: Flow | None = None, *, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        tasks = [task for _, task in flow.all_tasks()] if flow is not None else []
        ids = [task.id for task in tasks]
        #: task ids whose task runs have attempts (their RUNNING shows on the attempt line)
        self.attempted = {t.id for t in tasks if not t.task_type.flowable}
        self.width = max([len(i) for i in ids] + [len("execution")])
        self.start: datetime | None = None
        self.last: dict[str, StateType] = {}
        self.ended: set[str] = set()
        self.task_runs: set[str] = set()
        self.execution_state = StateType.CREATED
        self.status: Status | None = None
        self.title = f"{flow.namespace}.{flow.id}" if flow is not None else "execution"

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

    def event(self, ev: StateEvent) -> None:
        """Take one state change into account and print its line (unless a repeat)."""
        if self.start is None:
            self.start = ev.date
        key = ev.task_run_id or ""
        if not key:
            self.execution_state = ev.state
        elif ev.attempt is None:
            self.task_runs.add(key)
            if ev.state.is_terminated():
                self.ended.add(key)
        if self.status is not None:
            self.status.update(
                f"{self.title}: {self.execution_state.value}, "
                f"{len(self.ended)}/{len(self.task_runs)} task runs ended"
            )
        if key and ev.attempt is None:
            if self.last.get(key) == ev.state:
                return  # the task run entered the state its attempt just showed
            if ev.state == StateType.RUNNING and ev.task_id in self.attempted:
                return  # "RUNNING (attempt n)" follows
        self.last[key] = ev.state
        if not self.enabled:
            return
        label = (ev.task_id or ev.task_run_id or "") if key else "execution"
        elapsed = (ev.date - self.start).total_seconds()
        line = Text(f"{elapsed:6.1f}s  {label:<{self.width}}  ", style="" if key else "bold")
        line.append_text(styled_state(ev.state))
        if ev.attempt is not None:
            line.append(f" (attempt {ev.attempt})")
        self.console.print(line, soft_wrap=True)


def watch(
    client: Client,
    eid: str,
    progress: Progress,
    *,
    timeout: float | None = None,
    check: Callable[[], None] | None = None,
    hint: str | None = None,
) -> Execution:
    """Report every state change of execution ``eid`` until it ends; return it.

    ``check`` is called about every half second (it raises to give up, e.g. when the
    local worker died). Raises WaitTimeout after ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    last_id = "0"
    last_change = time.monotonic()
    hinted = False
    state = client.state(eid)
    while True:
        events = client.events(eid, last_id, block=0.5)
        done = False
        for last_id, ev in events:  # noqa: B007
            progress.event(ev)
            last_change = time.monotonic()
            if ev.task_run_id is None:
                state = ev.state
                done = done or ev.state.is_terminated()
        if done or (not events and client.state(eid).is_terminated()):
            return client.get(eid)
        if check is not None:
            check()
        now = time.monotonic()
        if deadline is not None and now > deadline:
            raise WaitTimeout(eid, timeout or 0, client.state(eid) if events else state)
        if hint and not hinted and now - last_change > IDLE_HINT_AFTER:
            progress.note(hint)
            hinted = True
