"""The ``ostra`` command line.

::

    ostra run FLOW.yaml [-i k=v ...] [--json] [--timeout S]   run one execution to its end
    ostra worker [-c N] [--group NAME]                          a Celery worker (exec)
    ostra executor [--interval S]                               the reconciler loop
    ostra dead-letters [-n N] [--json]                          poison queue messages
    ostra flow deploy FILE... | get NS ID | list
    ostra execution submit NS FLOW_ID [-i k=v] [--wait] | get ID | list | logs ID
                    | metrics ID | follow ID | kill ID | restart ID
                    | replay ID [--task-run TRID] [-i k=v] | pause ID | resume ID | reindex
    ostra kv get NS KEY | set NS KEY VALUE [--type T] [--ttl PT5M] | delete NS KEY | list NS
    ostra trigger list [-n NS] [-f FLOW] [--json] | enable|disable|unlock NS FLOW TRIGGER
                  | backfill NS FLOW TRIGGER --start ISO --end ISO [--rerun] [--rate R]
                  | backfill-status|backfill-pause|backfill-resume|backfill-cancel NS FLOW TRIGGER
    ostra server api [--host H] [--port P]                      the REST API (uvicorn)
    ostra server standalone [--host H] [--port P] [--data-dir D]
                                  embedded Redis + a worker + the reconciler + the API

``ostra run`` without a URL starts a private ``redis-server`` and a local worker for the
one execution and stops both (by PID) when it ends. Every other command talks to the
Ostra at ``--url``/``OSTRA_URL`` (a Redis URL, or the URL of an Ostra REST API, with
``OSTRA_API_TOKEN``), else ``OSTRA_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).

Exit codes: 0 when the execution ends SUCCESS or WARNING (or the command worked), 1 for
any other end state, a timeout or an error (not found, wrong state), 2 for an invalid
flow or invalid inputs (every problem is printed with its path; nothing is stored), a
usage error or an Ostra that cannot be reached. Every expected error is one line on
stderr, never a traceback. Progress goes to stderr, results to stdout.

The modules: ``run`` (``ostra run``), ``flows`` (``ostra flow``), ``executions``
(``ostra execution``), ``servers`` (``ostra worker``, ``ostra executor``, ``ostra
server``); what they share: ``common`` (options, errors, inputs, flow files, connecting),
``output`` (printing), ``progress`` (following an execution), ``processes`` (signals,
local processes). This package builds the root command and ``main``.

This package never imports ``workers``: workers are started as subprocesses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from typer._click import exceptions as click_errors  # typer's own click

from executor.cli import run, servers
from executor.cli.common import UsageError, error
from executor.cli.executions import execution_app
from executor.cli.flows import flow_app
from executor.cli.kv import kv_app
from executor.cli.queues import queue_app
from executor.cli.servers import server_app
from executor.cli.triggers import trigger_app
from executor.errors import (
    ApiUnavailable,
    OstraError,
    StoreUnavailable,
    ValidationFailed,
)
from executor.settings import get_settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="ostra",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    help="Ostra: Kestra-style workflow executions on Celery workers, state in Redis.",
)
# `ostra --help` lists the commands in this order, then the groups
run.register(app)  # ostra run
servers.register(app)  # ostra worker, ostra executor
app.add_typer(flow_app, name="flow")
app.add_typer(execution_app, name="execution")
app.add_typer(server_app, name="server")
app.add_typer(kv_app, name="kv")
app.add_typer(queue_app, name="queue")
app.add_typer(trigger_app, name="trigger")


def _print_version(value: bool) -> None:
    if value:
        from executor import __version__

        typer.echo(f"ostra {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url",
            metavar="URL",
            show_default=False,
            help="Redis to use (sets OSTRA_REDIS_URL; `ostra run` then uses real workers).",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            show_default=False,
            help="The Ostra to talk to: a Redis URL or an API URL (http://...; token from "
            "OSTRA_API_TOKEN). Sets OSTRA_URL.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print Ostra's version and exit.",
        ),
    ] = False,
) -> None:
    # the options of every command (given before its name); no docstring: not a help text
    if redis_url:
        os.environ["OSTRA_REDIS_URL"] = redis_url
        get_settings.cache_clear()
    if url:
        os.environ["OSTRA_URL"] = url


def take_url(argv: list[str]) -> list[str]:
    """``argv`` without its ``--url URL`` (or ``--url=URL``), wherever it is given (every
    command takes it, before or after its name), which sets OSTRA_URL."""
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg == "--url" and i + 1 < len(argv):
            os.environ["OSTRA_URL"] = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--url="):
            os.environ["OSTRA_URL"] = arg.partition("=")[2]
        else:
            rest.append(arg)
        i += 1
    return rest


def main(argv: Sequence[str] | None = None) -> None:
    """The ``ostra`` entry point: expected errors become one line and an exit code."""
    args = take_url(list(argv) if argv is not None else sys.argv[1:])
    try:
        code = app(
            args=args,
            prog_name="ostra",
            standalone_mode=False,
        )
    except typer.Exit as exc:  # typer.Exit: the command's own exit code
        sys.exit(exc.exit_code)
    except typer.Abort:  # Ctrl-C while click prompts
        error("interrupted")
        sys.exit(130)
    except click_errors.NoArgsIsHelpError:  # the help was printed
        sys.exit(2)
    except click_errors.UsageError as exc:  # a bad option or argument: one line, and where to look
        ctx = exc.ctx
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        error(f"{exc.format_message()}{hint}")
        sys.exit(2)
    except click_errors.ClickException as exc:
        error(exc.format_message())
        sys.exit(exc.exit_code)
    except (ValidationFailed, UsageError) as exc:
        error(str(exc))
        sys.exit(2)
    except (StoreUnavailable, ApiUnavailable) as exc:  # nothing to talk to
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
    sys.exit(code if isinstance(code, int) else 0)
