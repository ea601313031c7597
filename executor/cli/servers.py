"""The long-running commands: ``ostra worker`` (a Celery worker), ``ostra executor``
(the reconciler loop), ``ostra server api`` (the REST API) and ``ostra server
standalone`` (embedded Redis, a local worker, the reconciler and the API in one)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from executor.cli.common import UsageError, close, connect, ping_redis, redact, store_of
from executor.cli.output import err
from executor.cli.processes import forcible, interruptible, kill_tree, print_tail
from executor.client import Client
from executor.errors import OstraError
from executor.settings import get_settings

if TYPE_CHECKING:
    import socket

    from executor.embedded import LocalWorker
    from executor.reconciler import Reconciler
    from executor.settings import Settings

log = logging.getLogger("ostra.cli")

server_app = typer.Typer(no_args_is_help=True, help="Run Ostra as a service (REST API).")

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[
    int,
    typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on (0: any free port)."),
]
LogLevelOption = Annotated[str, typer.Option("--loglevel", "-l")]
AccessLogOption = Annotated[
    bool, typer.Option("--access-log/--no-access-log", help="Log one line per request.")
]


def _metrics_port_option(what: str) -> Any:
    """The ``--metrics-port`` option of a command that serves ``what``."""
    return typer.Option(
        "--metrics-port",
        min=1,
        max=65535,
        help=f"Serve Prometheus metrics ({what}) on this port "
        "(host OSTRA_METRICS_HOST, default 127.0.0.1).",
    )


#: the embedded Redis port of `ostra server standalone` (the next free one if taken)
DEFAULT_REDIS_PORT = 6390


def _redis_port(wanted: int, tries: int = 20) -> int:
    """``wanted`` if it is free on 127.0.0.1, else the next free one after it (0: any)."""
    import socket

    if wanted == 0:
        return 0
    for port in range(wanted, min(wanted + tries, 65536)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OstraError(f"no free port for redis in {wanted}..{wanted + tries - 1}")


# ---------------------------------------------------------------- worker, executor


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", min=1, help="Pool processes (default: CPU count)."),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group",
            help="Serve the worker group NAME (tasks with workerGroup: NAME) "
            "instead of the default queue.",
        ),
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
    pool: Annotated[str, typer.Option("--pool", "-P")] = "prefork",
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Celery node name (default: ostra-<queue>-<pid>@%h)."),
    ] = None,
    metrics_port: Annotated[
        int | None, _metrics_port_option("all pool processes; OSTRA_METRICS_PORT")
    ] = None,
) -> None:
    """Run a Celery worker for Ostra's task runs (replaces this process).

    Extra arguments are passed to `celery worker` as they are. A queue message it cannot
    run is dead-lettered (see `ostra dead-letters`), never a reason to exit.
    """
    settings = get_settings()
    queue = group or settings.queue
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers",
        "worker",
        "-Q",
        queue,
        "-P",
        pool,
        "--loglevel",
        loglevel,
        "-E",
        "-n",
        name or f"ostra-{queue}-{os.getpid()}@%h",
    ]
    if concurrency is not None:
        argv += ["-c", str(concurrency)]
    if metrics_port is not None:
        os.environ["OSTRA_METRICS_PORT"] = str(metrics_port)
    argv += list(ctx.args)
    err.print(
        f"ostra worker: queue {queue!r}, redis {redact(settings.url)}, "
        f"prefix {settings.prefix!r}, pool {pool}"
        + (f", concurrency {concurrency}" if concurrency else ""),
        soft_wrap=True,
    )
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
    """The default seconds between sweeps: half the lease, between 0.5 and 10."""
    return max(0.5, min(lease_seconds / 2, 10.0))


def executor(
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            min=0.1,
            help="Seconds between sweeps (default: half the lease, between 0.5 and 10).",
        ),
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
    triggers: Annotated[
        bool,
        typer.Option(
            "--triggers/--no-triggers",
            help="Also run the trigger loop (schedules, Flow triggers).",
        ),
    ] = True,
    metrics_port: Annotated[
        int | None, _metrics_port_option("sweeps, recoveries, trigger fires, queue depth")
    ] = None,
) -> None:
    """Run the reconciler: re-send lost task runs, advance stuck executions; and the
    trigger loop: fire schedules when due, start flows when the executions they listen
    to end.

    Runs until SIGTERM or Ctrl-C. Workers run the reconciler too; any number of
    processes may run either at once.
    """
    from executor.dispatch import Dispatcher, make_app
    from executor.orchestrator import Orchestrator
    from executor.reconciler import Reconciler
    from executor.store import RedisStore

    logging.basicConfig(
        level=loglevel.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
        ping_redis(store, settings.url)
        orchestrator = Orchestrator(store, Dispatcher(celery_app), settings)
        reconciler = Reconciler(orchestrator)
        if metrics_port is not None:  # first: a port in use stops it before it starts work
            _serve_executor_metrics(metrics_port, settings)
        if triggers:
            from executor.triggers.runner import start_thread

            start_thread(orchestrator, settings.trigger_interval, stop)
        log.info(
            "executor: reconciling every %.1fs, redis %s, prefix %r",
            every,
            redact(settings.url),
            settings.prefix,
        )
        reconcile_until(reconciler, stop, every)
        log.info("executor: stopped")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        celery_app.close()
        store.close()


def _serve_executor_metrics(port: int, settings: Settings) -> None:
    """Serve this process's metrics and the queue depth (read at each scrape) on
    ``OSTRA_METRICS_HOST`` (127.0.0.1) : ``port``, from a daemon thread; a port in use
    is a usage error."""
    from prometheus_client import REGISTRY, start_http_server

    from executor.observability.queues import QueueCollector

    host = os.environ.get("OSTRA_METRICS_HOST", "127.0.0.1")
    client = Client(settings.url, prefix=settings.prefix)
    REGISTRY.register(QueueCollector(client.queue_stats))  # type: ignore[arg-type]
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise UsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
    log.info("executor: metrics on http://%s:%d/metrics", host, port)


# ---------------------------------------------------------------- server


def _setup_logging(loglevel: str) -> None:
    """Log lines with their time, level and logger on stderr, from ``loglevel`` up."""
    logging.basicConfig(
        level=loglevel.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (OstraError if it cannot be had)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
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
    config = uvicorn.Config(
        api,
        host=host,
        port=port,
        log_config=None,
        log_level=loglevel.lower(),
        access_log=access_log,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    log.info(
        "ostra api: listening on http://%s:%d (redis %s, %s)",
        shown,
        port,
        redact(client.settings.url),
        f"bearer tokens required ({tokens} accepted)" if tokens else "no authentication",
    )
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
    OSTRA_API_MAX_BODY limits request bodies (bytes, default 1 MiB);
    OSTRA_API_MAX_FOLLOWERS the follow streams open at once (default 1000).
    """
    _setup_logging(loglevel)
    sock = _listen(host, port)
    try:
        with connect(get_settings().url) as client:  # fails fast when Redis is unreachable
            # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again
            with interruptible(), contextlib.suppress(KeyboardInterrupt):
                _serve(client, sock, loglevel=loglevel, access_log=access_log)
    finally:
        sock.close()
    log.info("ostra api: stopped")


#: Flower's job columns that show Ostra's readable line (`<ns>.<flow> <task> execution=<id>`)
FLOWER_COLUMNS = "name,args,state,retries,received,runtime,worker,uuid"


def _api_tokens() -> list[str]:
    return [t.strip() for t in os.environ.get("OSTRA_API_TOKEN", "").split(",") if t.strip()]


def start_flower(port: int, directory: Path) -> subprocess.Popen[bytes]:
    """Flower on 127.0.0.1:``port`` for this process's broker (OSTRA_REDIS_URL), its state
    kept in ``directory``; behind ``ostra:<the API's first token>`` when there is one.
    Credentials go through Flower's environment (FLOWER_BASIC_AUTH), never its argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))
    tokens = _api_tokens()
    if tokens:
        env["FLOWER_BASIC_AUTH"] = f"ostra:{tokens[0]}"
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers",
        "flower",
        "--address=127.0.0.1",
        f"--port={port}",
        f"--tasks-columns={FLOWER_COLUMNS}",
        "--persistent=True",
        f"--db={directory / 'flower.db'}",
    ]
    log_file = open(directory / "flower.log", "ab")  # the child has its own copy
    try:
        return subprocess.Popen(
            argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        log_file.close()


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM ``proc`` (by its PID), SIGKILL it after ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _banner(redis_url: str, sock: socket.socket, flower_port: int | None = None) -> None:
    """Print, once everything but the API runs, where to reach each part."""
    host, port = sock.getsockname()[:2]
    api = f"http://{host}:{port}"
    lines = ["ostra standalone is up:", f"  redis  {redis_url}", f"  api    {api}/api/v1"]
    if not _api_tokens():  # the API's OpenAPI pages are served without a token only
        lines.append(f"  ui     {api}/docs")
    if flower_port is not None:
        auth = " (user ostra, password: the API token)" if _api_tokens() else ""
        lines.append(f"  flower http://127.0.0.1:{flower_port}{auth}")
    lines += [
        "in another shell:",
        f"  export OSTRA_REDIS_URL={redis_url}    # or OSTRA_URL={api}",
    ]
    err.print("\n".join(lines), soft_wrap=True)


@server_app.command("standalone")
def server_standalone(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            show_default=False,
            help="Where Redis keeps its data (append-only file) and the worker its log "
            "(default: ~/.ostra).",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Worker pool processes.")
    ] = 2,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", metavar="NAME", help="Also serve this worker group (repeatable)."),
    ] = None,
    loglevel: LogLevelOption = "INFO",
    access_log: AccessLogOption = True,
    redis_port: Annotated[
        int,
        typer.Option(
            "--redis-port",
            min=0,
            max=65535,
            help="The embedded Redis's port (the next free one if taken; 0: any).",
        ),
    ] = DEFAULT_REDIS_PORT,
    flower: Annotated[
        bool,
        typer.Option(
            "--flower",
            help="Also start Flower on the same broker (127.0.0.1, --flower-port), behind "
            "the API's token as its basic-auth password (user `ostra`).",
        ),
    ] = False,
    flower_port: Annotated[int, typer.Option("--flower-port", min=1, max=65535)] = 5555,
) -> None:
    """Embedded Redis, a local worker, the reconciler and the REST API, in one command.

    Like Kestra's `server local`. Redis keeps its data (append-only) in --data-dir.

    SIGTERM or Ctrl-C stops the API, then the worker (warm: running tasks finish and are
    recorded), then the reconciler, then Redis. A second Ctrl-C forces the stop (the
    worker is killed; what it ran is taken over as a new attempt at the next start).
    """
    import fcntl

    from executor.embedded import EmbeddedRedis, LocalWorker
    from executor.encryption import ensure_key
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
    server = EmbeddedRedis(
        directory / "redis", appendonly=True, port=_redis_port(redis_port) or None
    )
    worker: LocalWorker | None = None
    stop = threading.Event()
    stopping = threading.Event()
    sweeper: threading.Thread | None = None
    triggers: threading.Thread | None = None
    watcher: threading.Thread | None = None
    clients: list[Client] = []
    sock: socket.socket | None = None
    flower_proc: subprocess.Popen[bytes] | None = None
    try:
        with interruptible():
            try:
                sock = _listen(host, port)
                try:
                    server.start()
                except RuntimeError as exc:
                    raise OstraError(f"cannot start the embedded redis: {exc}") from None
                log.info(
                    "standalone: redis pid %d on %s, data in %s", server.pid, server.url, server.dir
                )
                os.environ["OSTRA_REDIS_URL"] = server.url
                os.environ.pop("OSTRA_REDIS_URL_FILE", None)  # this Redis, not that one
                log.info("standalone: encryption key %s", ensure_key(directory))
                get_settings.cache_clear()
                settings = get_settings()
                queues = [settings.queue, *[g for g in group or [] if g != settings.queue]]
                pythonpath = os.pathsep.join(
                    filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])
                )
                worker = LocalWorker(
                    server.url,
                    concurrency=concurrency,
                    queues=",".join(queues),
                    log_file=directory / "worker.log",
                    env={"PYTHONPATH": pythonpath},
                    loglevel="INFO",
                    name=f"ostra-standalone-{os.getpid()}@%h",
                )
                worker.start(wait=False)
                log.info(
                    "standalone: worker pid %d (queues %s, log %s)",
                    worker.pid,
                    ",".join(queues),
                    worker.log_file,
                )
                try:
                    worker.wait_ready(60)
                except RuntimeError as exc:
                    print_tail(directory / "worker.log")
                    raise OstraError(f"the worker did not start: {exc}") from None
                clients.append(Client(server.url))
                sweeper = threading.Thread(
                    target=reconcile_until,
                    name="ostra-reconciler",
                    daemon=True,
                    args=(
                        Reconciler(clients[-1].orchestrator),
                        stop,
                        _sweep_interval(settings.lease_seconds),
                    ),
                )
                sweeper.start()
                log.info("standalone: reconciler running")
                from executor.triggers.runner import start_thread

                clients.append(Client(server.url))
                triggers = start_thread(clients[-1].orchestrator, settings.trigger_interval, stop)
                watcher = threading.Thread(
                    target=_keep_worker,
                    name="ostra-worker-watch",
                    daemon=True,
                    args=(worker, stopping),
                )
                watcher.start()
                clients.append(Client(server.url))
                if flower:
                    flower_proc = start_flower(flower_port, directory)
                    log.info("standalone: flower pid %d", flower_proc.pid)
                _banner(server.url, sock, flower_port if flower else None)
                _serve(clients[-1], sock, loglevel=loglevel, access_log=access_log)
            except KeyboardInterrupt:  # SIGTERM or Ctrl-C, during startup or re-raised
                pass
    finally:
        # In order: the API has stopped (``_serve`` returned or never started); the worker
        # finishes what it runs and records it while Redis is still up; then the
        # reconciler, then Redis. Each child is in a process group of its own, so a
        # terminal's Ctrl-C reached only this process; a second one forces the rest.
        with forcible() as force:
            log.info("standalone: stopping (Ctrl-C again to force)")
            stopping.set()
            if watcher is not None:
                watcher.join(10)
            if sock is not None:
                sock.close()
            if flower_proc is not None:
                log.info("standalone: stopping flower pid %d", flower_proc.pid)
                stop_process(flower_proc)
            if worker is not None:
                log.info("standalone: stopping worker pid %s (warm shutdown)", worker.pid)
                _stop_worker(worker, force=force)
            stop.set()
            if sweeper is not None:
                log.info("standalone: stopping the reconciler")
                sweeper.join(0 if force.is_set() else 15)
            if triggers is not None:
                triggers.join(0 if force.is_set() else 15)
            for c in clients:
                close(c)
            if server.pid is not None:
                log.info("standalone: stopping redis pid %d", server.pid)
            server.stop(kill=force.is_set())
            lock.close()
            log.info("standalone: stopped")


def _keep_worker(worker: LocalWorker, stopping: threading.Event) -> None:
    """Start the worker again whenever it exits while nothing asked it to (a crash, a
    kill): the worker exits only on purpose. Restarts back off up to 30 s."""
    pause, started = 1.0, time.monotonic()
    while not stopping.wait(1.0):
        proc = worker.proc
        if proc is None or proc.poll() is None:
            if time.monotonic() - started > 60:
                pause = 1.0  # up a minute: not a crash loop
            continue
        log.error(
            "standalone: worker pid %d exited with %s; starting another in %.0fs",
            proc.pid,
            proc.returncode,
            pause,
        )
        if worker.log_file is not None:
            print_tail(worker.log_file)
        if stopping.wait(pause):
            return
        pause = min(pause * 2, 30.0)
        try:
            worker.start(wait=False)
        except OSError:
            log.exception("standalone: cannot start the worker")
            continue
        started = time.monotonic()
        log.info("standalone: worker pid %d (restarted)", worker.pid)


def _stop_worker(
    worker: LocalWorker, grace: float = 30.0, force: threading.Event | None = None
) -> None:
    """Warm shutdown; past ``grace`` seconds, or once ``force`` is set, SIGKILL the worker
    and all below it."""
    proc = worker.proc
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while proc.poll() is None:
            if force is not None and force.is_set():
                log.warning("standalone: killing worker pid %d (forced)", proc.pid)
                kill_tree(worker)
                break
            if time.monotonic() > deadline:
                log.warning(
                    "standalone: worker pid %d still busy after %.0fs: killing it", proc.pid, grace
                )
                kill_tree(worker)
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.2)
    worker.proc = None
    worker.remove_url_file()


def dead_letters(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many, newest first.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
) -> None:
    """List the queue messages workers could not run (poison messages), newest first.

    Each was logged, kept here with its reason and acknowledged; the worker went on.
    At most OSTRA_DEAD_LETTER_MAX entries are kept.
    """
    from rich.table import Table

    from executor.broker import read_dead_letters
    from executor.cli.output import out, print_json

    with connect() as client:
        store = store_of(client, "ostra dead-letters")
        entries = read_dead_letters(store.r, store.k.dead_letters, limit)
    if as_json:
        print_json(entries)
        return
    if not entries:
        err.print("no dead letters")
        return
    table = Table("at", "queue", "reason", "size", "message", box=None)
    for e in entries:
        table.add_row(
            str(e.get("at", "-")),
            str(e.get("queue", "-")),
            str(e.get("reason", "-")),
            str(e.get("size", "-")),
            str(e.get("message", ""))[:60],
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``ostra worker``, ``ostra executor`` and ``ostra dead-letters`` to the root
    ``app`` (``ostra server`` is ``server_app``, added as a group)."""
    # worker: options celery knows and ostra does not go to `celery worker` as they are
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(worker)
    app.command()(executor)
    app.command("dead-letters")(dead_letters)
