"""What the command groups share: the options they have in common, error messages
(URL passwords redacted), ``-i KEY=VALUE`` pairs, reading a flow file, and connecting
to Ostra: a Redis URL (``redis://``, ``rediss://``, ``unix://``) or the URL of its REST
API (``http(s)://``, with ``OSTRA_API_TOKEN``), from ``--url``, ``OSTRA_URL`` or
``OSTRA_REDIS_URL``."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from executor.cli.output import err
from executor.client import Client
from executor.errors import (
    InputValidationError,
    OstraError,
    Problem,
    StoreError,
    StoreUnavailable,
    ValidationFailed,
)
from executor.flow import Flow
from executor.inputs import resolve_inputs

if TYPE_CHECKING:
    from executor.api.http_client import HttpClient
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
LogLevelOption = Annotated[
    str,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        help="Show the flow's log lines of LEVEL or above (TRACE, DEBUG, INFO, WARN, ERROR) "
        "or none (NONE).",
    ),
]


def check_level(level: str | None, option: str = "--log-level") -> str | None:
    """``level`` upper-cased if it is a log level (None for ``NONE`` or None);
    UsageError naming ``option`` otherwise."""
    from executor.loglimits import LEVELS

    if level is None or level.upper() == "NONE":
        return None
    if level.upper() == "WARNING":
        return "WARN"
    if level.upper() not in LEVELS:
        raise UsageError(f"{option}: {level!r} is not one of {', '.join(LEVELS)}, NONE")
    return level.upper()


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


class UsageError(OstraError):
    """The command line asks for something it cannot do (exit code 2, one line)."""


#: the schemes of a Redis URL and of an API URL
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
API_SCHEMES = ("http://", "https://")


def target_url() -> str | None:
    """The Ostra the CLI talks to: ``--url``/``OSTRA_URL`` (Redis or API), else
    ``OSTRA_REDIS_URL``; None when neither is set. UsageError for another scheme."""
    from executor.settings import get_settings

    url = os.environ.get("OSTRA_URL") or get_settings().redis_url
    if url and not url.startswith(REDIS_SCHEMES + API_SCHEMES):
        raise UsageError(
            f"cannot use {redact(url)!r}: give a Redis URL (redis://, rediss://, unix://)"
            " or an Ostra API URL (http://, https://)"
        )
    return url or None


def is_api(url: str | None) -> bool:
    """Whether ``url`` is the URL of an Ostra REST API (not of a Redis)."""
    return bool(url) and str(url).startswith(API_SCHEMES)


def ping_redis(store: RedisStore, url: str) -> None:
    """Fail fast (StoreUnavailable) when Redis at ``url`` cannot be reached."""
    try:
        store.ping()
    except StoreError as exc:  # "cannot reach redis at URL: " and redis-py's own message
        raise StoreUnavailable(
            f"cannot reach redis at {redact(url)}: {exc.__cause__ or exc}"
        ) from None


def close(client: Client) -> None:
    """Close ``client``'s connections (its Celery app and Redis, or its HTTP ones; errors
    ignored)."""
    if is_http(client):
        with contextlib.suppress(Exception):
            client.close()
        return
    with contextlib.suppress(Exception):
        client.orchestrator.dispatcher.app.close()
    with contextlib.suppress(Exception):
        client.store.close()


def is_http(client: Client | HttpClient) -> bool:
    """Whether ``client`` talks to the REST API (an ``HttpClient``), not to Redis."""
    return not hasattr(client, "store")


def store_of(client: Client, what: str) -> RedisStore:
    """``client``'s Redis store; UsageError naming ``what`` when it talks to an API."""
    if is_http(client):
        raise UsageError(f"{what} needs a Redis URL (OSTRA_REDIS_URL), not an API URL")
    return client.store


@contextlib.contextmanager
def connect(url: str | None = None, *, ping: bool = True) -> Iterator[Client]:
    """A Client of ``url`` (default: ``target_url()``), checked and closed afterwards:
    a Redis client, or an HTTP client (same methods) for an API URL."""
    url = url or target_url()
    client = Client(url)
    try:
        if ping:
            if is_http(client):
                client.ping()  # ApiUnavailable, one line, when it cannot be reached
            else:
                ping_redis(client.store, client.settings.url)
        yield client
    finally:
        close(client)
