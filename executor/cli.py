"""The ``ostra`` command line.

::

    ostra run FLOW.yaml [-i k=v ...] [--json] [--timeout S]   run one execution to its end
    ostra worker [-c N] [--group NAME]                          a Celery worker (exec)
    ostra executor [--interval S]                               the reconciler loop
    ostra flow deploy FILE... | get NS ID | list
    ostra execution submit NS FLOW_ID [-i k=v] [--wait] | get ID | list | logs ID
                    | metrics ID | follow ID | kill ID | restart ID
                    | replay ID [--task-run TRID] [-i k=v] | pause ID | resume ID
    ostra server api [--host H] [--port P]                      the REST API (uvicorn)
    ostra server standalone [--host H] [--port P] [--data-dir D]
                                  embedded Redis + a worker + the reconciler + the API

``ostra run`` without ``OSTRA_REDIS_URL`` starts a private ``redis-server`` and a local
worker for the one execution and stops both (by PID) when it ends. Every other command
talks to ``OSTRA_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).

Exit codes: 0 when the execution ends SUCCESS or WARNING (or the command worked), 1 for
any other end state, a timeout or an error (Redis unreachable, not found), 2 for an
invalid flow or invalid inputs (every problem is printed with its path; nothing is
stored). Progress goes to stderr, results to stdout.

This module never imports ``workers``: workers are started as subprocesses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table
from rich.text import Text

from executor.client import Client
from executor.errors import (
    InputValidationError,
    OstraError,
    Problem,
    StateConflict,
    StoreError,
    ValidationFailed,
    WaitTimeout,
)
from executor.flow import Flow
from executor.inputs import resolve_inputs
from executor.models import Execution, StateEvent, TaskRun
from executor.settings import get_settings
from executor.state import StateType

if TYPE_CHECKING:
    import socket

    from executor.embedded import LocalWorker
    from executor.reconciler import Reconciler
    from executor.store import RedisStore

log = logging.getLogger("ostra.cli")

#: stdout (results) and stderr (progress, errors); no markup, so user text prints as is
out = Console(markup=False, highlight=False, emoji=False)
err = Console(stderr=True, markup=False, highlight=False, emoji=False)

OK_STATES = frozenset({StateType.SUCCESS, StateType.WARNING})
STATE_STYLES = {
    StateType.SUCCESS: "green", StateType.WARNING: "yellow", StateType.FAILED: "red",
    StateType.KILLED: "red", StateType.KILLING: "red", StateType.RUNNING: "cyan",
    StateType.RETRYING: "yellow", StateType.CREATED: "dim",
}
#: seconds without any state change before ``run`` hints that no worker may be listening
IDLE_HINT_AFTER = 15.0

app = typer.Typer(
    name="ostra", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Ostra: Kestra-style workflow executions on Celery workers, state in Redis.",
)
flow_app = typer.Typer(no_args_is_help=True, help="Deploy and read flows.")
execution_app = typer.Typer(no_args_is_help=True, help="Submit, read and follow executions.")
server_app = typer.Typer(no_args_is_help=True, help="Run Ostra as a service (REST API).")
app.add_typer(flow_app, name="flow")
app.add_typer(execution_app, name="execution")
app.add_typer(server_app, name="server")


class LocalWorkerDied(OstraError):
    """The worker started by ``ostra run`` exited before the execution ended."""


# ---------------------------------------------------------------- helpers

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]+@",
                           re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def error(message: str) -> None:
    """Print ``error: message`` on stderr (passwords of URLs redacted)."""
    text = Text("error: ", style="bold red")
    text.append(redact(message))
    err.print(text, soft_wrap=True)


class FlowFileError(ValidationFailed):
    """The flow file cannot be read (exit code 2, as for an invalid flow)."""

    what = "flow"

    def __init__(self, message: str) -> None:
        super().__init__([Problem("", message)])
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def parse_pairs(pairs: Sequence[str] | None, section: str = "inputs"
                ) -> tuple[dict[str, str], list[Problem]]:
    """``["k=v", ...]`` as a dict, and the problems of malformed or repeated pairs."""
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for raw in pairs or ():
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem(section, f"expected KEY=VALUE, got {raw!r}"))
        elif key in values:
            problems.append(Problem(f"{section}.{key}", "given more than once"))
        else:
            values[key] = value
    return values, problems


def parse_inputs(pairs: Sequence[str] | None, flow: Flow | None = None) -> dict[str, str]:
    """``-i k=v`` values; with ``flow``, also checked against its inputs. Raises
    InputValidationError listing every problem of both kinds."""
    values, problems = parse_pairs(pairs)
    if flow is not None:
        try:
            resolve_inputs(flow.inputs, values)
        except InputValidationError as exc:
            problems += exc.problems
    if problems:
        raise InputValidationError(problems)
    return values


def load_flow(path: Path) -> Flow:
    """The flow in file ``path``; FlowValidationError (with every problem) if invalid,
    FlowFileError if it cannot be read."""
    if not path.is_file():
        raise FlowFileError(f"cannot read {path}: no such file")
    try:
        return Flow.from_yaml(path)
    except OSError as exc:
        raise FlowFileError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise FlowFileError(f"cannot read {path}: not UTF-8 text") from None


def _ping(store: RedisStore, url: str) -> None:
    """Fail fast (StoreError) when Redis at ``url`` cannot be reached."""
    try:
        store.ping()
    except StoreError as exc:  # "cannot reach redis at URL: " and redis-py's own message
        raise StoreError(f"cannot reach redis at {redact(url)}: {exc.__cause__ or exc}"
                         ) from None


def _close(client: Client) -> None:
    """Close ``client``'s Celery app and Redis connections (errors ignored)."""
    with contextlib.suppress(Exception):
        client.orchestrator.dispatcher.app.close()
    with contextlib.suppress(Exception):
        client.store.close()


@contextlib.contextmanager
def connect(url: str | None = None, *, ping: bool = True) -> Iterator[Client]:
    """A Client of ``url`` (default: the settings), closed afterwards."""
    client = Client(url)
    try:
        if ping:
            _ping(client.store, client.settings.url)
        yield client
    finally:
        _close(client)


def fmt_duration(seconds: float | None) -> str:
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
    return date.astimezone().strftime("%Y-%m-%d %H:%M:%S") if date else "-"


def styled_state(state: StateType) -> Text:
    return Text(state.value, style=STATE_STYLES.get(state, ""))


def execution_json(execution: Execution) -> str:
    return json.dumps(execution.model_dump(mode="json", by_alias=True), indent=2)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def exit_code(state: StateType) -> int:
    return 0 if state in OK_STATES else 1


def task_label(tr: TaskRun) -> str:
    return f"{tr.task_id}[{tr.value}]" if tr.value is not None else tr.task_id


def task_runs_table(execution: Execution) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("task", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("attempts", justify="right")
    table.add_column("duration", justify="right")
    for tr in execution.task_run_list:
        table.add_row(task_label(tr), styled_state(tr.state.current), str(tr.attempt_count),
                      fmt_duration(tr.state.duration))
    return table


def print_summary(execution: Execution) -> None:
    """The task runs table, failure reasons, outputs, then the id and final state."""
    out.print(task_runs_table(execution))
    for tr in execution.task_run_list:
        if tr.state.current.is_failed() and tr.attempts:
            for attempt in tr.attempts:
                if attempt.reason:
                    out.print(f"  {task_label(tr)} attempt {attempt.number}: {attempt.reason}",
                              soft_wrap=True)
    if execution.outputs:
        out.print(f"outputs: {json.dumps(execution.outputs)}", soft_wrap=True)
    line = Text(f"execution {execution.id} ({execution.namespace}.{execution.flow_id}) ")
    line.append_text(styled_state(execution.state.current))
    line.append(f" in {fmt_duration(execution.state.duration)}")
    out.print(line, soft_wrap=True)


# ---------------------------------------------------------------- progress


class Progress:
    """One line per state change of a task run or attempt (no repeats), on ``console``.

    On a terminal a status line also shows how many task runs ended; elsewhere there is
    no spinner, only the lines.
    """

    def __init__(self, console: Console, flow: Flow | None = None, *,
                 enabled: bool = True) -> None:
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
        if self.enabled:
            self.console.print(Text(message, style="dim"), soft_wrap=True)

    def event(self, ev: StateEvent) -> None:
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
            self.status.update(f"{self.title}: {self.execution_state.value}, "
                               f"{len(self.ended)}/{len(self.task_runs)} task runs ended")
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


def watch(client: Client, eid: str, progress: Progress, *, timeout: float | None = None,
          check: Callable[[], None] | None = None, hint: str | None = None) -> Execution:
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
        events = client.store.read_events(eid, last_id, 500)
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


# ---------------------------------------------------------------- ostra run


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM behaves as Ctrl-C (KeyboardInterrupt) so that cleanups run."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while servers are being stopped."""
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _queues(flow: Flow, default: str) -> list[str]:
    queues = [default]
    for _, task in flow.all_tasks():
        if task.worker_group and task.worker_group not in queues:
            queues.append(task.worker_group)
    return queues


def _finish(execution: Execution, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(execution_json(execution) + "\n")
    else:
        print_summary(execution)
    sys.stdout.flush()
    raise typer.Exit(exit_code(execution.state.current))


def _run_embedded(flow: Flow, inputs: dict[str, str], *, as_json: bool,
                  timeout: float | None, progress: Progress) -> None:
    from executor.embedded import EmbeddedRedis, LocalWorker

    workdir = Path(tempfile.mkdtemp(prefix="ostra-run-"))
    keep_workdir = False
    ended = False
    server = EmbeddedRedis(appendonly=False)
    worker: LocalWorker | None = None
    try:
        with progress.live("starting redis and a local worker..."):
            try:
                server.start()
            except RuntimeError as exc:  # no redis-server binary, or it would not start
                raise OstraError(f"cannot start an embedded redis: {exc}") from None
            env = {"PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(),
                                                               os.environ.get("PYTHONPATH")]))}
            worker = LocalWorker(server.url, concurrency=2, log_file=workdir / "worker.log",
                                 queues=",".join(_queues(flow, get_settings().queue)), env=env)
            worker.start(wait=False)  # it picks up the first task run once it is ready
            progress.note(f"embedded redis (pid {server.pid}) and local worker "
                          f"(pid {worker.pid}) started")
            local = worker

            def alive() -> None:
                proc = local.proc
                if proc is not None and proc.poll() is not None:
                    raise LocalWorkerDied(f"the local worker exited with code {proc.returncode}"
                                          f" (log: {workdir / 'worker.log'})")

            with connect(server.url) as client:
                execution = client.submit(flow, inputs=inputs)
                progress.note(f"execution {execution.id} created")
                if progress.status is not None:
                    progress.status.update(f"{progress.title}: waiting for the worker")
                try:
                    done = watch(client, execution.id, progress, timeout=timeout, check=alive)
                except WaitTimeout:
                    if as_json:
                        sys.stdout.write(execution_json(client.get(execution.id)) + "\n")
                    raise
                ended = True
        _finish(done, as_json)  # prints, then the servers stop (in finally)
    except LocalWorkerDied:
        keep_workdir = True
        _print_tail(workdir / "worker.log")
        raise
    finally:
        with _shielded():
            if worker is not None:
                if ended:
                    worker.stop(grace=10)  # idle: a warm shutdown is quick
                else:  # interrupted or failed: its work goes with the redis
                    _kill_tree(worker)
            server.close()
            if not keep_workdir:
                shutil.rmtree(workdir, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    """PIDs of every process below ``pid`` (scripts run in sessions of their own)."""
    try:
        listing = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True,
                                 text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            children.setdefault(int(parts[1]), []).append(int(parts[0]))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(worker: LocalWorker) -> None:
    """SIGKILL the local worker, its pool processes and whatever they started."""
    below = _descendants(worker.pid) if worker.pid is not None else []
    worker.kill()
    for pid in below:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _print_tail(path: Path, lines: int = 20) -> None:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    for line in tail:
        err.print(Text(f"  | {redact(line)}", style="dim"), soft_wrap=True)


def _run_remote(flow: Flow, inputs: dict[str, str], *, as_json: bool,
                timeout: float | None, progress: Progress) -> None:
    with connect() as client:
        execution = client.submit(flow, inputs=inputs)
        progress.note(f"execution {execution.id} submitted to "
                      f"{redact(client.settings.url)}")
        queues = ", ".join(repr(q) for q in _queues(flow, client.settings.queue))
        hint = (f"no state change for {IDLE_HINT_AFTER:g}s: is a worker consuming "
                f"{queues}? (ostra worker)")
        try:
            with progress.live(f"{progress.title}: waiting for workers"):
                done = watch(client, execution.id, progress, timeout=timeout, hint=hint)
        except WaitTimeout:
            if as_json:
                sys.stdout.write(execution_json(client.get(execution.id)) + "\n")
            error(f"timed out; execution {execution.id} goes on "
                  f"(ostra execution follow {execution.id})")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            error(f"interrupted; execution {execution.id} goes on "
                  f"(ostra execution follow {execution.id})")
            raise typer.Exit(130) from None
    _finish(done, as_json)


InputsOption = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", metavar="KEY=VALUE",
                 help="An input value (repeatable); the flow's input types coerce it."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the execution as JSON only.")]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", min=0, metavar="SECONDS", help="Give up after SECONDS (exit 1)."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]


@app.command()
def run(
    flow_file: Annotated[Path, typer.Argument(metavar="FLOW.yaml", help="The flow to run.")],
    input_: InputsOption = None,
    as_json: JsonOption = False,
    timeout: TimeoutOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run one execution of a flow to its end.

    Without OSTRA_REDIS_URL, starts a private redis-server and a local worker for it.
    Exit code 0 on SUCCESS or WARNING, 1 otherwise, 2 for an invalid flow or inputs.
    """
    flow = load_flow(flow_file)
    given = parse_inputs(input_, flow)  # every input problem, before anything starts
    if flow.disabled:
        raise StateConflict(f"flow {flow.namespace}.{flow.id} is disabled")
    progress = Progress(err, flow, enabled=not quiet)
    with _interruptible():
        try:
            if get_settings().redis_url:
                _run_remote(flow, given, as_json=as_json, timeout=timeout, progress=progress)
            else:
                _run_embedded(flow, given, as_json=as_json, timeout=timeout,
                              progress=progress)
        except WaitTimeout as exc:
            error(str(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            error("interrupted")
            raise typer.Exit(130) from None


# ---------------------------------------------------------------- worker, executor


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", "-c", min=1, help="Pool processes (default: CPU count).")] = None,
    group: Annotated[str | None, typer.Option(
        "--group", help="Serve the worker group NAME (tasks with workerGroup: NAME) "
                        "instead of the default queue.")] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
    pool: Annotated[str, typer.Option("--pool", "-P")] = "prefork",
    name: Annotated[str | None, typer.Option(
        "--name", "-n", help="Celery node name (default: ostra-<queue>-<pid>@%h).")] = None,
) -> None:
    """Run a Celery worker for Ostra's task runs (replaces this process).

    Extra arguments are passed to `celery worker` as they are.
    """
    settings = get_settings()
    queue = group or settings.queue
    argv = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", queue,
            "-P", pool, "--loglevel", loglevel, "-E",
            "-n", name or f"ostra-{queue}-{os.getpid()}@%h"]
    if concurrency is not None:
        argv += ["-c", str(concurrency)]
    argv += list(ctx.args)
    err.print(f"ostra worker: queue {queue!r}, redis {redact(settings.url)}, "
              f"prefix {settings.prefix!r}, pool {pool}"
              + (f", concurrency {concurrency}" if concurrency else ""), soft_wrap=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(argv[0], argv)


def reconcile_until(reconciler: Reconciler, stop: threading.Event, every: float) -> None:
    """Sweep every ``every`` seconds until ``stop`` is set (errors are logged, not fatal)."""
    while not stop.is_set():
        try:
            acted = reconciler.sweep()
            if acted:
                log.info("executor: sweep moved %d task run(s) on", acted)
        except OstraError as exc:
            log.warning("executor: sweep failed: %s", redact(str(exc)))
        except Exception:  # keep going: this loop is the safety net
            log.exception("executor: sweep failed")
        stop.wait(every)


def _sweep_interval(lease_seconds: float) -> float:
    return max(0.5, min(lease_seconds / 2, 10.0))


@app.command()
def executor(
    interval: Annotated[float | None, typer.Option(
        "--interval", min=0.1, help="Seconds between sweeps (default: half the lease, "
                                    "between 0.5 and 10).")] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
) -> None:
    """Run the reconciler: re-send lost task runs, advance stuck executions.

    Runs until SIGTERM or Ctrl-C. Workers run it too; any number may run at once.
    """
    from executor.dispatch import Dispatcher, make_app
    from executor.orchestrator import Orchestrator
    from executor.reconciler import Reconciler
    from executor.store import RedisStore

    logging.basicConfig(level=loglevel.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    every = interval if interval is not None else _sweep_interval(settings.lease_seconds)
    store = RedisStore.from_url(settings.url, settings.prefix)
    celery_app = make_app(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("executor: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        _ping(store, settings.url)
        reconciler = Reconciler(Orchestrator(store, Dispatcher(celery_app), settings))
        log.info("executor: reconciling every %.1fs, redis %s, prefix %r", every,
                 redact(settings.url), settings.prefix)
        reconcile_until(reconciler, stop, every)
        log.info("executor: stopped")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        celery_app.close()
        store.close()


# ---------------------------------------------------------------- server

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(
    "--port", "-p", min=0, max=65535, help="Port to listen on (0: any free port).")]
LogLevelOption = Annotated[str, typer.Option("--loglevel", "-l")]
AccessLogOption = Annotated[bool, typer.Option(
    "--access-log/--no-access-log", help="Log one line per request.")]


def _setup_logging(loglevel: str) -> None:
    logging.basicConfig(level=loglevel.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (OstraError if it cannot be had)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OstraError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OstraError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _serve(client: Client, sock: socket.socket, *, loglevel: str, access_log: bool) -> None:
    """Serve the REST API on ``sock`` until SIGINT or SIGTERM (graceful: open requests
    get a few seconds, follow streams are then closed)."""
    import uvicorn

    from executor.api.app import configured_tokens, create_app

    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    tokens = len(configured_tokens(None))
    try:
        api = create_app(client)
    except ValueError as exc:  # a bad OSTRA_API_* setting
        raise OstraError(str(exc)) from None
    config = uvicorn.Config(api, host=host, port=port, log_config=None,
                            log_level=loglevel.lower(), access_log=access_log,
                            timeout_graceful_shutdown=5, server_header=False)
    log.info("ostra api: listening on http://%s:%d (redis %s, %s)", shown, port,
             redact(client.settings.url),
             f"bearer tokens required ({tokens} accepted)" if tokens else "no authentication")
    uvicorn.Server(config).run(sockets=[sock])


@server_app.command("api")
def server_api(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    loglevel: LogLevelOption = "INFO",
    access_log: AccessLogOption = True,
) -> None:
    """Serve the REST API on OSTRA_REDIS_URL (run workers with `ostra worker`).

    OSTRA_API_TOKEN (comma-separated) turns bearer authentication on;
    OSTRA_API_MAX_BODY limits request bodies (bytes, default 1 MiB).
    """
    _setup_logging(loglevel)
    sock = _listen(host, port)
    try:
        with connect() as client:  # fails fast when Redis cannot be reached
            # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again
            with _interruptible(), contextlib.suppress(KeyboardInterrupt):
                _serve(client, sock, loglevel=loglevel, access_log=access_log)
    finally:
        sock.close()
    log.info("ostra api: stopped")


@server_app.command("standalone")
def server_standalone(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", metavar="DIR", show_default=False,
        help="Where Redis keeps its data (append-only file) and the worker its log "
             "(default: ~/.ostra).")] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", "-c", min=1, help="Worker pool processes.")] = 2,
    group: Annotated[list[str] | None, typer.Option(
        "--group", metavar="NAME", help="Also serve this worker group (repeatable).")] = None,
    loglevel: LogLevelOption = "INFO",
    access_log: AccessLogOption = True,
) -> None:
    """Embedded Redis, a local worker, the reconciler and the REST API, in one command.

    Like Kestra's `server local`. Redis keeps its data (append-only) in --data-dir.

    SIGTERM or Ctrl-C stops the API, then the worker (warm: running tasks finish), then Redis.
    """
    import fcntl

    from executor.embedded import EmbeddedRedis, LocalWorker
    from executor.reconciler import Reconciler

    _setup_logging(loglevel)
    directory = (data_dir or Path.home() / ".ostra").expanduser().resolve()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = open(directory / "standalone.lock", "a+")  # held until the end
    except OSError as exc:
        raise OstraError(f"cannot use {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise OstraError(f"another `ostra server standalone` is using {directory}") from None
    server = EmbeddedRedis(directory / "redis", appendonly=True)
    worker: LocalWorker | None = None
    stop = threading.Event()
    sweeper: threading.Thread | None = None
    clients: list[Client] = []
    sock: socket.socket | None = None
    try:
        with _interruptible():
            try:
                sock = _listen(host, port)
                try:
                    server.start()
                except RuntimeError as exc:
                    raise OstraError(f"cannot start the embedded redis: {exc}") from None
                log.info("standalone: redis pid %d on %s, data in %s", server.pid, server.url,
                         server.dir)
                os.environ["OSTRA_REDIS_URL"] = server.url
                get_settings.cache_clear()
                settings = get_settings()
                queues = [settings.queue, *[g for g in group or [] if g != settings.queue]]
                pythonpath = os.pathsep.join(filter(None, [os.getcwd(),
                                                           os.environ.get("PYTHONPATH")]))
                worker = LocalWorker(server.url, concurrency=concurrency,
                                     queues=",".join(queues), log_file=directory / "worker.log",
                                     env={"PYTHONPATH": pythonpath}, loglevel="INFO",
                                     name=f"ostra-standalone-{os.getpid()}@%h")
                worker.start(wait=False)
                log.info("standalone: worker pid %d (queues %s, log %s)", worker.pid,
                         ",".join(queues), worker.log_file)
                try:
                    worker.wait_ready(60)
                except RuntimeError as exc:
                    _print_tail(directory / "worker.log")
                    raise OstraError(f"the worker did not start: {exc}") from None
                clients.append(Client(server.url))
                sweeper = threading.Thread(
                    target=reconcile_until, name="ostra-reconciler", daemon=True,
                    args=(Reconciler(clients[-1].orchestrator), stop,
                          _sweep_interval(settings.lease_seconds)))
                sweeper.start()
                log.info("standalone: reconciler running")
                clients.append(Client(server.url))
                _serve(clients[-1], sock, loglevel=loglevel, access_log=access_log)
            except KeyboardInterrupt:  # SIGTERM or Ctrl-C, during startup or re-raised
                pass
    finally:
        with _shielded():
            log.info("standalone: stopping")
            if sock is not None:
                sock.close()
            stop.set()
            if sweeper is not None:
                sweeper.join(15)
            if worker is not None:
                log.info("standalone: stopping worker pid %s (warm shutdown)", worker.pid)
                _stop_worker(worker)
            for c in clients:
                _close(c)
            if server.pid is not None:
                log.info("standalone: stopping redis pid %d", server.pid)
            server.stop()
            lock.close()
            log.info("standalone: stopped")


def _stop_worker(worker: LocalWorker, grace: float = 30.0) -> None:
    """Warm shutdown; past ``grace`` seconds, SIGKILL the worker and all below it."""
    proc = worker.proc
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            log.warning("standalone: worker pid %d still busy after %.0fs: killing it",
                        proc.pid, grace)
            _kill_tree(worker)
    worker.proc = None


# ---------------------------------------------------------------- flows


@flow_app.command("deploy")
def flow_deploy(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Flow YAML files.")],
) -> None:
    """Validate and store flows (all or none); print namespace.id and revision."""
    flows: list[Flow] = []
    bad = False
    for path in files:
        try:
            flows.append(load_flow(path))
        except ValidationFailed as exc:
            error(f"{path}: {exc}")
            bad = True
    if bad:
        raise typer.Exit(2)
    with connect() as client:
        for path, flow in zip(files, flows, strict=True):
            deployed = client.deploy(flow)
            out.print(f"{deployed.namespace}.{deployed.id} revision {deployed.revision} "
                      f"({path})", soft_wrap=True)


@flow_app.command("get")
def flow_get(
    namespace: str,
    flow_id: Annotated[str, typer.Argument(metavar="ID")],
    revision: Annotated[int | None, typer.Option("--revision", "-r", min=1)] = None,
) -> None:
    """Print a deployed flow (its latest revision unless --revision) as YAML."""
    with connect() as client:
        flow = client.flow(namespace, flow_id, revision)
    sys.stdout.write(flow.to_yaml())


@flow_app.command("list")
def flow_list() -> None:
    """The deployed flows, one namespace.id a line."""
    with connect() as client:
        flows = client.store.list_flows()
    for namespace, flow_id in sorted(flows):
        out.print(f"{namespace}.{flow_id}", soft_wrap=True)


# ---------------------------------------------------------------- executions


@execution_app.command("submit")
def execution_submit(
    namespace: str,
    flow_id: Annotated[str, typer.Argument(metavar="FLOW_ID")],
    input_: InputsOption = None,
    label: Annotated[list[str] | None, typer.Option(
        "--label", "-l", metavar="KEY=VALUE", help="A label (repeatable).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow it to its end.")] = False,
    as_json: JsonOption = False,
    timeout: TimeoutOption = None,
    quiet: QuietOption = False,
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
        progress = Progress(err, flow, enabled=not quiet)
        progress.note(f"execution {execution.id} submitted")
        try:
            with _interruptible(), progress.live(f"{progress.title}: running"):
                done = watch(client, execution.id, progress, timeout=timeout)
        except WaitTimeout as exc:
            error(f"{exc} (it goes on)")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            error(f"interrupted; execution {execution.id} goes on")
            raise typer.Exit(130) from None
    _finish(done, as_json)


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
    out.print(f"flow:      {execution.namespace}.{execution.flow_id} "
              f"(revision {execution.flow_revision})", soft_wrap=True)
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
    out.print(task_runs_table(execution))


@execution_app.command("list")
def execution_list(
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    flow_id: Annotated[str | None, typer.Option("--flow", "-f", metavar="FLOW_ID")] = None,
    state: Annotated[StateType | None, typer.Option(
        "--state", "-s", case_sensitive=False, help="Only executions in this state.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Executions, newest first."""
    with connect() as client:
        if flow_id and not namespace:
            found = [x for x in client.search(state=state, limit=10_000)
                     if x.flow_id == flow_id][:limit]
        else:
            found = client.search(namespace=namespace, flow_id=flow_id, state=state,
                                  limit=limit)
    if as_json:
        print_json([x.model_dump(mode="json", by_alias=True) for x in found])
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("id", "flow", "state", "started", "duration"):
        table.add_column(column, no_wrap=True)
    for x in found:
        table.add_row(x.id, f"{x.namespace}.{x.flow_id}", styled_state(x.state.current),
                      fmt_date(x.state.start_date), fmt_duration(x.state.duration))
    out.print(table)


@execution_app.command("logs")
def execution_logs(
    execution_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """Every log line of an execution, in order."""
    with connect() as client:
        entries = client.logs(execution_id)
    if as_json:
        print_json([e.model_dump(mode="json", by_alias=True) for e in entries])
        return
    for e in entries:
        where = e.task_id or "execution"
        if e.attempt is not None:
            where += f"#{e.attempt}"
        ts = e.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3]
        sys.stdout.write(f"{ts} {e.level:<5} {where}: {e.message}\n")
    sys.stdout.flush()


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
    out.print(table)


@execution_app.command("follow")
def execution_follow(
    execution_id: Annotated[str, typer.Argument(metavar="ID")],
    timeout: TimeoutOption = None,
) -> None:
    """Print every state change of an execution until it ends (exit code as `run`)."""
    with connect() as client:
        execution = client.get(execution_id)
        try:
            flow: Flow | None = client.flow(execution.namespace, execution.flow_id,
                                            execution.flow_revision)
        except OstraError:
            flow = None
        progress = Progress(out, flow)
        try:
            with _interruptible():
                done = watch(client, execution_id, progress, timeout=timeout)
        except WaitTimeout as exc:
            error(str(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
    line = Text(f"execution {done.id} ")
    line.append_text(styled_state(done.state.current))
    line.append(f" in {fmt_duration(done.state.duration)}")
    out.print(line, soft_wrap=True)
    raise typer.Exit(exit_code(done.state.current))


def _report(execution: Execution, as_json: bool, note: str = "") -> None:
    if as_json:
        sys.stdout.write(execution_json(execution) + "\n")
        sys.stdout.flush()
        return
    line = Text(f"execution {execution.id} ")
    line.append_text(styled_state(execution.state.current))
    if note:
        line.append(f" {note}")
    out.print(line, soft_wrap=True)


IdArgument = Annotated[str, typer.Argument(metavar="ID")]


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
    task_run: Annotated[str | None, typer.Option(
        "--task-run", metavar="ID", help="Replay from this task run (default: from the "
                                         "start).")] = None,
    input_: InputsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a new execution of the same flow, from the start or from a task run."""
    values, problems = parse_pairs(input_)
    if problems:
        raise InputValidationError(problems)
    with connect() as client:
        execution = client.replay(execution_id, task_run_id=task_run,
                                            inputs=dict(values) or None)
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


# ---------------------------------------------------------------- entry point


@app.callback()
def _options(
    redis_url: Annotated[str | None, typer.Option(
        "--redis-url", metavar="URL", show_default=False,
        help="Redis to use (sets OSTRA_REDIS_URL; `ostra run` then uses real workers).")
    ] = None,
) -> None:
    if redis_url:
        os.environ["OSTRA_REDIS_URL"] = redis_url
        get_settings.cache_clear()


def main(argv: Sequence[str] | None = None) -> None:
    """The ``ostra`` entry point: expected errors become one line and an exit code."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="ostra")
    except ValidationFailed as exc:
        error(str(exc))
        sys.exit(2)
    except OstraError as exc:
        error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
    except BrokenPipeError:  # stdout closed early (``ostra ... | head``)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
