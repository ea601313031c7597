"""What the command groups share: the options they have in common, error messages
(URL passwords redacted), ``-i KEY=VALUE`` pairs, reading a flow file, and connecting
to Redis."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from executor.cli.output import err
from executor.client import Client
from executor.errors import InputValidationError, Problem, StoreError, ValidationFailed
from executor.flow import Flow
from executor.inputs import resolve_inputs

if TYPE_CHECKING:
    from executor.store import RedisStore

InputsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        "-i",
        metavar="KEY=VALUE",
        help="An input value (repeatable); the flow's input types coerce it.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the execution as JSON only.")]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", min=0, metavar="SECONDS", help="Give up after SECONDS (exit 1)."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]

_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]+@", re.IGNORECASE
)


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


def parse_pairs(
    pairs: Sequence[str] | None, section: str = "inputs"
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
            resolve_inputs(flow.inputs, values, seal=False)
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


def ping_redis(store: RedisStore, url: str) -> None:
    """Fail fast (StoreError) when Redis at ``url`` cannot be reached."""
    try:
        store.ping()
    except StoreError as exc:  # "cannot reach redis at URL: " and redis-py's own message
        raise StoreError(f"cannot reach redis at {redact(url)}: {exc.__cause__ or exc}") from None


def close(client: Client) -> None:
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
            ping_redis(client.store, client.settings.url)
        yield client
    finally:
        close(client)
