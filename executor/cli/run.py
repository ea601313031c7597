"""``ostra run``: one execution of a flow file, to its end.

Without ``OSTRA_REDIS_URL`` it starts a private ``redis-server`` and a local worker for
the one execution and stops both (by PID) when it ends (embedded); with it, it submits
to that Redis and waits for real workers (remote).

The embedded run's worker may call the Python functions of the modules found in the
flow file's directory (besides those ``OSTRA_PYTHON_MODULES`` allows): the one running
``ostra run`` trusts the flow it runs on its own machine.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
    is_http,
    load_flow,
    parse_inputs,
    redact,
    target_url,
)
from executor.cli.output import err, execution_json, finish
from executor.cli.processes import interruptible, kill_tree, print_tail, shielded
from executor.cli.progress import IDLE_HINT_AFTER, Progress, watch, worker_queues
from executor.errors import OstraError, StateConflict, WaitTimeout
from executor.flow import Flow
from executor.python_modules import check_flow, directory_patterns
from executor.settings import get_settings, split_patterns

if TYPE_CHECKING:
    from executor.embedded import LocalWorker


class LocalWorkerDied(OstraError):
    """The worker started by ``ostra run`` exited before the execution ended."""


def _queues(flow: Flow, default: str) -> list[str]:
    """The queues ``flow``'s task runs go to: ``default``, then its worker groups."""
    queues = [default]
    for _, task in flow.all_tasks():
        if task.worker_group and task.worker_group not in queues:
            queues.append(task.worker_group)
    return queues


def local_python_modules(flow_file: Path, operator: tuple[str, ...] | None) -> str:
    """OSTRA_PYTHON_MODULES for the embedded run's worker: the operator's patterns and
    the modules of the flow file's directory, as the worker imports them from the current
    directory (``examples.etl`` for ``examples/etl.py``)."""
    found = directory_patterns(flow_file.resolve().parent, [Path.cwd()])
    return ",".join(dict.fromkeys([*(operator or ()), *found]))


def _run_embedded(
    flow: Flow,
    inputs: dict[str, str],
    *,
    flow_file: Path,
    as_json: bool,
    timeout: float | None,
    progress: Progress,
    data_dir: Path | None = None,
) -> None:
    """Run ``flow`` on a private redis-server and local worker, both stopped at the end;
    with ``data_dir``, Redis keeps its data there (AOF) for ``ostra execution`` to read
    afterwards."""
    from executor.embedded import EmbeddedRedis, LocalWorker
    from executor.encryption import ensure_key

    modules = local_python_modules(flow_file, get_settings().python_module_patterns)
    check_flow(flow, split_patterns(modules))  # before anything starts
    if data_dir is not None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OstraError(f"cannot use {data_dir}: {exc.strerror}") from None
    ensure_key(data_dir)  # SECRET inputs need a key; without data_dir it dies with the run
    workdir = Path(tempfile.mkdtemp(prefix="ostra-run-"))
    keep_workdir = False
    ended = False
    # the layout of `ostra server standalone --data-dir`, which opens it again
    server = EmbeddedRedis(
        None if data_dir is None else data_dir / "redis", appendonly=data_dir is not None
    )
    worker: LocalWorker | None = None
    try:
        with progress.live("starting redis and a local worker..."):
            try:
                server.start()
            except RuntimeError as exc:  # no redis-server binary, or it would not start
                raise OstraError(f"cannot start an embedded redis: {exc}") from None
            env = {
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])
                ),
                "OSTRA_PYTHON_MODULES": modules,
            }
            worker = LocalWorker(
                server.url,
                concurrency=2,
                log_file=workdir / "worker.log",
                queues=",".join(_queues(flow, get_settings().queue)),
                env=env,
            )
            worker.start(wait=False)
            local = worker
            try:  # submitted once it is ready: the first task's time is the task's own
                worker.wait_ready(60)
            except RuntimeError as exc:
                raise LocalWorkerDied(f"the local worker did not start: {exc}") from None
            progress.note(
                f"embedded redis (pid {server.pid}) and local worker (pid {worker.pid}) started"
            )

            def alive() -> None:
                proc = local.proc
                if proc is not None and proc.poll() is not None:
                    raise LocalWorkerDied(
                        f"the local worker exited with code {proc.returncode}"
                        f" (log: {workdir / 'worker.log'})"
                    )

            with connect(server.url) as client:
                client.settings = client.settings.model_copy(update={"python_modules": modules})
                execution = client.submit(flow, inputs=inputs)
                progress.note(f"execution {execution.id} created")
                if progress.status is not None:
                    progress.status.update(f"{progress.title}: waiting for the worker")
                try:
                    done = watch(client, execution.id, progress, timeout=timeout, check=alive)
                    # the local worker runs the afterExecution tasks before it stops
                    done = client.after_execution(done, timeout)
                except WaitTimeout:
                    if as_json:
                        sys.stdout.write(execution_json(client.get(execution.id)) + "\n")
                    raise
                ended = True
        if data_dir is not None:
            _print_reopen(done.id, data_dir)
        finish(done, as_json)  # prints, then the servers stop (in finally)
    except LocalWorkerDied:
        keep_workdir = True
        print_tail(workdir / "worker.log")
        raise
    finally:
        with shielded():
            if worker is not None:
                if ended:
                    worker.stop(grace=10)  # idle: a warm shutdown is quick
                else:  # interrupted or failed: its work goes with the redis
                    kill_tree(worker)
            server.close()
            if not keep_workdir:
                shutil.rmtree(workdir, ignore_errors=True)


def _print_reopen(eid: str, directory: Path) -> None:
    """Tell how to read the kept execution again (stderr: stdout is the result)."""
    from executor.cli.servers import DEFAULT_REDIS_PORT

    err.print(
        f"execution {eid} kept in {directory}; to read it again, start\n"
        f"  ostra server standalone --data-dir {directory}\n"
        f"and then (with the port it prints, if {DEFAULT_REDIS_PORT} was taken)\n"
        f"  OSTRA_REDIS_URL=redis://127.0.0.1:{DEFAULT_REDIS_PORT}/0 ostra execution get {eid}\n"
        f"  OSTRA_REDIS_URL=redis://127.0.0.1:{DEFAULT_REDIS_PORT}/0 ostra execution logs {eid}",
        soft_wrap=True,
    )


def _run_remote(
    flow: Flow, inputs: dict[str, str], *, as_json: bool, timeout: float | None, progress: Progress
) -> None:
    """Submit ``flow`` to OSTRA_REDIS_URL and follow it; on a timeout or Ctrl-C it goes
    on without us."""
    with connect() as client:
        execution = client.submit(flow, inputs=inputs)
        http = is_http(client)
        where = client.url if http else client.settings.url  # type: ignore[attr-defined]
        progress.note(f"execution {execution.id} submitted to {redact(where)}")
        hint = None
        if not http:
            queues = ", ".join(repr(q) for q in _queues(flow, client.settings.queue))
            hint = (
                f"no state change for {IDLE_HINT_AFTER:g}s: is a worker consuming "
                f"{queues}? (ostra worker)"
            )
        try:
            with progress.live(f"{progress.title}: waiting for workers"):
                done = watch(
                    client,
                    execution.id,
                    progress,
                    timeout=timeout,
                    hint=hint,
                    consumers=None if http else lambda: worker_queues(client),
                )
                if not http:
                    done = client.after_execution(done, timeout)  # type: ignore[attr-defined]
        except WaitTimeout:
            if as_json:
                sys.stdout.write(execution_json(client.get(execution.id)) + "\n")
            error(
                f"timed out; execution {execution.id} goes on "
                f"(ostra execution follow {execution.id})"
            )
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            error(
                f"interrupted; execution {execution.id} goes on "
                f"(ostra execution follow {execution.id})"
            )
            raise typer.Exit(130) from None
    finish(done, as_json)


def run(
    flow_file: Annotated[Path, typer.Argument(metavar="FLOW.yaml", help="The flow to run.")],
    input_: InputsOption = None,
    as_json: JsonOption = False,
    timeout: TimeoutOption = None,
    quiet: QuietOption = False,
    log_level: LogLevelOption = "INFO",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            show_default=False,
            help="Keep the embedded Redis's data (AOF) in DIR, to read the execution "
            "afterwards (ostra server standalone --data-dir DIR).",
        ),
    ] = None,
) -> None:
    """Run one execution of a flow to its end, showing its task runs and log lines.

    Without OSTRA_URL/OSTRA_REDIS_URL, starts a private redis-server and a local worker
    for it. Exit code 0 on SUCCESS or WARNING, 1 otherwise, 2 for an invalid flow or
    inputs.
    """
    level = check_level(log_level)
    flow = load_flow(flow_file)
    given = parse_inputs(input_, flow)  # every input problem, before anything starts
    if flow.disabled:
        raise StateConflict(f"flow {flow.namespace}.{flow.id} is disabled")
    progress = Progress(err, flow, enabled=not quiet, log_level=level)
    url = target_url()
    if url and data_dir is not None:
        raise UsageError("--data-dir is for the embedded Redis: not with OSTRA_URL/OSTRA_REDIS_URL")
    with interruptible():
        try:
            if url:
                _run_remote(flow, given, as_json=as_json, timeout=timeout, progress=progress)
            else:
                _run_embedded(
                    flow,
                    given,
                    flow_file=flow_file,
                    as_json=as_json,
                    timeout=timeout,
                    progress=progress,
                    data_dir=None if data_dir is None else data_dir.expanduser().resolve(),
                )
        except WaitTimeout as exc:
            error(str(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            error("interrupted")
            raise typer.Exit(130) from None


def register(app: typer.Typer) -> None:
    """Add ``ostra run`` to the root ``app``."""
    app.command()(run)
