"""Signals, and the processes the CLI starts on this machine (an embedded redis-server,
a local worker): making SIGTERM act as Ctrl-C, not being interrupted while stopping
them, killing a worker with everything below it, and showing the tail of its log."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from rich.text import Text

from executor.cli.common import redact
from executor.cli.output import err

if TYPE_CHECKING:
    from executor.embedded import LocalWorker


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM behaves as Ctrl-C (KeyboardInterrupt) so that cleanups run."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while servers are being stopped."""
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def forcible() -> Iterator[threading.Event]:
    """While servers are being stopped in order, a SIGINT or SIGTERM (a second Ctrl-C)
    sets the event it yields instead of interrupting: the caller then stops the rest at
    once (SIGKILL) rather than waiting for them."""
    force = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not force.is_set():
            err.print(f"{signal.Signals(signum).name} again: forcing the stop")
        force.set()

    saved = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield force
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def descendants(pid: int) -> list[int]:
    """PIDs of every process below ``pid`` (scripts run in sessions of their own)."""
    try:
        listing = subprocess.run(
            ["ps", "-e", "-o", "pid=,ppid="],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout
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


def kill_tree(worker: LocalWorker) -> None:
    """SIGKILL the local worker, its pool processes and whatever they started."""
    below = descendants(worker.pid) if worker.pid is not None else []
    worker.kill()
    for pid in below:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def print_tail(path: Path, lines: int = 20) -> None:
    """The last ``lines`` lines of the log file ``path`` on stderr, dimmed and redacted
    (nothing if it cannot be read)."""
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    for line in tail:
        err.print(Text(f"  | {redact(line)}", style="dim"), soft_wrap=True)
