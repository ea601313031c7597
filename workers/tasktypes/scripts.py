"""Runners of the script task types (shell Commands, Python Script) and their subprocess
machinery.

A script runs in its own process group, in a fresh temporary directory, as the task
user (``OSTRA_TASK_USER``; ``nobody`` when the worker runs as root), with an environment
built from an allowlist: ``PATH``, the locale and time zone, ``HOME``/``USER`` of the
task user, ``WORKING_DIR`` (Kestra's), the variables ``OSTRA_TASK_ENV`` names and the
task's own ``env``; never ``OSTRA_*`` or ``SECRET_*``. So a script cannot read the Redis
URL, the encryption key or the secrets from its environment, nor, as another user, from
the worker's ``/proc/<pid>/environ`` or the ``OSTRA_REDIS_URL_FILE``. Its output is
streamed to the task run's logs while it runs, read in bounded chunks (a line longer
than the line cap is cut as it is read); stdout lines of the form
``::{"outputs": {...}}::`` or ``::{"metrics": [...]}::`` are Kestra's output protocol.
"""

from __future__ import annotations

import json
import os
import pwd
import queue
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from executor.builtin_types import CommandsProperties, ScriptProperties
from executor.context import RunContext
from executor.errors import AttemptTimeout, TaskFailure, TaskKilled
from executor.loglimits import cut_marker
from executor.settings import get_settings, split_patterns

#: a stdout line carrying outputs or metrics
PROTOCOL_LINE = re.compile(r"^::(\{.*\})::$")
#: how often the wait loop checks for kill and deadline, in seconds
POLL_INTERVAL = 0.1
#: seconds between SIGTERM and SIGKILL of the process group
KILL_GRACE = 2.0
#: seconds to wait for the output pipes to close once the process group is gone
READER_GRACE = 2.0
#: lines buffered between the pipe readers and the logger; readers block when it is full
MAX_PENDING_LINES = 1000
#: characters of lines buffered there; readers block past it too
MAX_PENDING_BYTES = 8 << 20
#: lines logged per poll, so a flood of output cannot delay the kill/deadline checks
MAX_LINES_PER_POLL = 500
#: bytes a reader asks the pipe for at once
READ_CHUNK = 64 << 10
#: the least a reader keeps of one line (an output protocol line carries up to 1 MiB of
#: outputs); the rest of a longer line is counted and dropped as it is read, and the
#: store cuts a log message to OSTRA_LOG_LINE_MAX_BYTES after masking secrets
PROTOCOL_MAX_BYTES = 2 << 20

#: worker variables every script gets (besides LC_*), as Kestra's process runner has them
_PASSED = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TERM"})
#: never passed on, even when OSTRA_TASK_ENV names them
_NEVER = ("OSTRA_", "SECRET_")
#: who runs scripts when the worker is root and OSTRA_TASK_USER is not set
DEFAULT_ROOT_TASK_USER = "nobody"
#: tag names that would clash with the parameters of RunContext.counter / timer
_RESERVED_TAGS = frozenset({"self", "name", "value", "seconds"})


@dataclass
class ProcessResult:
    """How a script ended: its exit code and the ``vars`` it emitted."""

    exit_code: int
    vars: dict[str, Any] = field(default_factory=dict)


def commands(props: CommandsProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Run ``commands`` (after ``beforeCommands``) as one script through ``interpreter``.

    Outputs ``{"exitCode": int, "vars": {...}}``; a non-zero exit raises TaskFailure.
    """
    lines = (["set -e"] if props.fail_fast else []) + props.before_commands + props.commands
    user = task_user()
    with _workdir(user) as cwd:
        argv = [*props.interpreter, "\n".join(lines)]
        env = script_env(props.env, user=user, cwd=cwd)
        result = run_process(argv, ctx, env=env, cwd=cwd, user=user)
    return _outputs(result)


def script(props: ScriptProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Run the inline Python ``script`` with ``interpreter`` (default: the worker's Python).

    ``beforeCommands`` run first in ``/bin/sh`` (stopping at the first failure). Outputs
    ``{"exitCode": int, "vars": {...}}``; a non-zero exit raises TaskFailure.
    """
    user = task_user()
    with _workdir(user) as cwd:
        env = script_env({"PYTHONUNBUFFERED": "1", **props.env}, user=user, cwd=cwd)
        interpreter = props.interpreter or [default_python(user, env.get("PATH"))]
        path = Path(cwd) / "main.py"
        path.write_text(props.script, encoding="utf-8")
        argv = [*interpreter, str(path)]
        if props.before_commands:
            shell = ["set -e", *props.before_commands, "exec " + shlex.join(argv)]
            argv = ["/bin/sh", "-c", "\n".join(shell)]
        result = run_process(argv, ctx, env=env, cwd=cwd, user=user)
    return _outputs(result)


@dataclass(frozen=True)
class TaskUser:
    """The user scripts run as, when it is not the worker's own."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def task_user() -> TaskUser | None:
    """Who runs scripts: ``OSTRA_TASK_USER``, else ``nobody`` when the worker is root;
    None when that is the worker's own user (no switch)."""
    return _task_user(get_settings().task_user, os.geteuid())


@lru_cache(maxsize=8)
def _task_user(configured: str | None, euid: int) -> TaskUser | None:
    name = configured or (DEFAULT_ROOT_TASK_USER if euid == 0 else None)
    if name is None:
        return None
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        raise TaskFailure(
            f"OSTRA_TASK_USER: no user {name!r} on this worker", retryable=False
        ) from None
    if entry.pw_uid == euid:
        return None
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))  # initgroups' list
    return TaskUser(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)


def script_env(
    extra: Mapping[str, str], *, user: TaskUser | None = None, cwd: str | None = None
) -> dict[str, str]:
    """A script's environment, from an allowlist: ``PATH``, ``LANG``, ``LC_*``, ``TZ``,
    ``TERM``, the variables OSTRA_TASK_ENV names, ``HOME``/``USER``/``LOGNAME`` (of
    ``user`` when scripts run as another user), ``WORKING_DIR``, then ``extra``.
    ``OSTRA_*`` and ``SECRET_*`` are never passed on from the worker."""
    wanted = split_patterns(get_settings().task_env)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(_NEVER)
        and (name in _PASSED or name.startswith("LC_") or any(fnmatchcase(name, p) for p in wanted))
    }
    if user is None:
        for name in ("HOME", "USER", "LOGNAME"):
            if name in os.environ:
                env[name] = os.environ[name]
    else:
        home_ok = os.path.isdir(user.home) and _usable_by(user.home, user, os.X_OK)
        env.update(HOME=user.home if home_ok else (cwd or "/"), USER=user.name, LOGNAME=user.name)
    if cwd is not None:
        env["WORKING_DIR"] = cwd
    env.update(extra)
    return env


def default_python(user: TaskUser | None, path: str | None) -> str:
    """The interpreter of a Python Script: the worker's, unless the task user cannot run
    it (a virtualenv under a private home), then ``python3`` on ``PATH``."""
    if user is None or _usable_by(sys.executable, user, os.X_OK):
        return sys.executable
    for directory in (path or os.defpath).split(os.pathsep):
        found = shutil.which("python3", path=directory)
        if found and _usable_by(found, user, os.X_OK):
            return found
    return sys.executable  # fails to start, with an error naming the user


def _usable_by(path: str, user: TaskUser, mode: int) -> bool:
    """Whether ``user`` may reach ``path`` (every directory on the way, the link and its
    target) and use it with ``mode`` (``os.X_OK``...), judged from permission bits."""
    seen = [Path(path).absolute(), Path(os.path.realpath(path))]
    try:
        for target in seen:
            for directory in reversed(target.parents):
                if not _permits(directory.stat(), user, os.X_OK):
                    return False
        return _permits(seen[1].stat(), user, mode)
    except OSError:
        return False


def _permits(st: os.stat_result, user: TaskUser, mode: int) -> bool:
    if st.st_uid == user.uid:
        shift = 6
    elif st.st_gid in user.groups or st.st_gid == user.gid:
        shift = 3
    else:
        shift = 0
    bits = {os.X_OK: stat.S_IXOTH, os.R_OK: stat.S_IROTH, os.W_OK: stat.S_IWOTH}[mode]
    return bool(st.st_mode & (bits << shift))


def _outputs(result: ProcessResult) -> dict[str, Any]:
    if result.exit_code != 0:
        raise TaskFailure(f"command exited with code {result.exit_code}")
    return {"exitCode": result.exit_code, "vars": result.vars}


def _workdir(user: TaskUser | None = None) -> tempfile.TemporaryDirectory[str]:
    """A fresh temporary directory (mode 0700) owned by ``user`` when scripts run as
    another user, removed (by the worker) when the ``with`` block ends."""
    workdir = tempfile.TemporaryDirectory(prefix="ostra-task-", ignore_cleanup_errors=True)
    if user is not None:
        os.chown(workdir.name, user.uid, user.gid)
    return workdir


def run_process(
    argv: list[str],
    ctx: RunContext,
    *,
    env: Mapping[str, str],
    cwd: str,
    user: TaskUser | None = None,
) -> ProcessResult:
    """Run ``argv`` in its own process group (as ``user`` when given: setgid, the
    user's groups, setuid in the child), streaming its output to ``ctx`` logs.

    Raises TaskKilled when ``ctx.killed()``, AttemptTimeout at ``ctx.deadline``. Whatever
    ends the wait, including an exception raised asynchronously by a signal handler, the
    whole process group is terminated and the process reaped before this returns.
    """
    lines = _Lines(MAX_PENDING_LINES, MAX_PENDING_BYTES)
    keep = max(get_settings().log_line_max_bytes, PROTOCOL_MAX_BYTES)
    output = _OutputHandler(ctx)
    proc: subprocess.Popen[bytes] | None = None
    readers: list[threading.Thread] = []
    # SIGALRM is blocked while the process and its readers are started so that an
    # asynchronous AttemptTimeout cannot land between Popen and the try block (leaving an
    # orphan); reader threads inherit the mask, so the signal is never delivered to them.
    saved = _block_alarm()
    identity: dict[str, Any] = {}
    if user is not None:
        identity = {"user": user.uid, "group": user.gid, "extra_groups": list(user.groups)}
    try:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                **identity,
            )
        except OSError as exc:
            who = f" as user {user.name!r} (OSTRA_TASK_USER)" if user is not None else ""
            raise TaskFailure(f"cannot start {argv[0]!r}{who}: {exc}", retryable=False) from exc
        assert proc.stdout is not None
        assert proc.stderr is not None
        readers = [
            _start_reader(proc.stdout, "stdout", lines, keep),
            _start_reader(proc.stderr, "stderr", lines, keep),
        ]
        _restore_mask(saved)  # a pending SIGALRM raises here, inside the try
        _wait(proc, ctx, lines, output)
    finally:
        _block_alarm()
        try:
            try:
                _cleanup(proc, readers, lines, output)
            except BaseException:
                # Interrupted by an exception delivered before the mask took effect:
                # finish the cleanup anyway so no process outlives the attempt.
                _cleanup(proc, readers, lines, output)
                raise
        finally:
            _restore_mask(saved)
    assert proc is not None
    assert proc.returncode is not None
    return ProcessResult(exit_code=proc.returncode, vars=output.vars)


def _wait(
    proc: subprocess.Popen[bytes],
    ctx: RunContext,
    lines: _Lines,
    output: _OutputHandler,
) -> None:
    while True:
        output.drain(lines, timeout=POLL_INTERVAL, limit=MAX_LINES_PER_POLL)
        if proc.poll() is not None:
            return
        if ctx.killed():
            raise TaskKilled()
        if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
            raise AttemptTimeout(ctx.timeout if ctx.timeout is not None else 0.0)


def _cleanup(
    proc: subprocess.Popen[bytes] | None,
    readers: list[threading.Thread],
    lines: _Lines,
    output: _OutputHandler,
) -> None:
    if proc is None:
        return
    # Also on a normal exit: background children (``cmd &``) must not outlive the task,
    # and they would keep the pipes open.
    _kill_group(proc, lines, output)
    # Readers may be blocked on a full queue: keep logging until both reach end of file.
    give_up = time.monotonic() + READER_GRACE
    while any(r.is_alive() for r in readers) and time.monotonic() < give_up:
        output.drain(lines, timeout=0.05, limit=MAX_LINES_PER_POLL)
    output.drain(lines, timeout=0.0, limit=None)
    for stream in (proc.stdout, proc.stderr):
        # A process that left the group (setsid) may still hold a pipe: let its daemon
        # reader thread finish on its own rather than closing the file under it.
        if stream is not None and not any(r.is_alive() for r in readers):
            stream.close()


def _kill_group(
    proc: subprocess.Popen[bytes],
    lines: _Lines,
    output: _OutputHandler,
) -> None:
    """SIGTERM the process group, SIGKILL it after KILL_GRACE, reap the leader."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group id
    if not _signal_group(pgid, signal.SIGTERM):
        proc.wait()
        return
    give_up = time.monotonic() + KILL_GRACE
    while time.monotonic() < give_up:
        proc.poll()  # reap the leader as soon as it exits
        if not _group_running(pgid):
            break
        # Keep the queue moving so writers blocked on a full pipe can see the signal.
        output.drain(lines, timeout=0.05, limit=MAX_LINES_PER_POLL)
    else:
        _signal_group(pgid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process of the group is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_running(pgid: int) -> bool:
    """True while a process of the group is still running.

    Orphaned members become zombies until their new parent (init, or whatever runs as
    pid 1 in a container) reaps them, which may take long or never happen; zombies still
    count for ``killpg``, so on Linux /proc tells whether a live member remains.
    """
    if not _signal_group(pgid, 0):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                # "pid (comm) state ppid pgrp ...": comm may contain spaces and parens
                state, _ppid, pgrp = f.read().rsplit(b")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != b"Z":
            return True
    return False


def _block_alarm() -> set[int] | None:
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM}))


def _restore_mask(saved: set[int] | None) -> None:
    if saved is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


class _Lines:
    """Lines between the pipe readers and the logger, bounded in lines and in characters:
    a reader blocks while either is full (an empty buffer takes any one line, which the
    reader bounded already). Items are ``(stream, text, cut)``; a None text ends a
    stream."""

    def __init__(self, max_lines: int, max_chars: int) -> None:
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._items: deque[tuple[str, str | None, int]] = deque()
        self._chars = 0
        self._cond = threading.Condition()

    def put(self, item: tuple[str, str | None, int]) -> None:
        """Add ``item``, waiting while the buffer is full."""
        size = len(item[1] or "")
        with self._cond:
            while self._items and (
                len(self._items) >= self.max_lines or self._chars + size > self.max_chars
            ):
                self._cond.wait()
            self._items.append(item)
            self._chars += size
            self._cond.notify_all()

    def get(self, timeout: float = 0.0) -> tuple[str, str | None, int]:
        """The oldest item, waiting up to ``timeout`` for one (``queue.Empty`` if none)."""
        with self._cond:
            if not self._items and timeout > 0:
                self._cond.wait_for(lambda: bool(self._items), timeout)
            if not self._items:
                raise queue.Empty
            item = self._items.popleft()
            self._chars -= len(item[1] or "")
            self._cond.notify_all()
            return item


def _start_reader(stream: IO[bytes], name: str, lines: _Lines, keep: int) -> threading.Thread:
    thread = threading.Thread(
        target=_read_lines, args=(stream, name, lines, keep), name=f"ostra-{name}", daemon=True
    )
    thread.start()
    return thread


def _read_lines(stream: IO[bytes], name: str, lines: _Lines, keep: int) -> None:
    """Read ``stream`` line by line in chunks of READ_CHUNK, keeping at most ``keep``
    bytes of a line: the rest is counted as it is read and dropped, so a 50 MB line
    never sits in memory."""
    parts: list[bytes] = []
    kept = cut = 0

    def emit() -> None:
        nonlocal kept, cut
        text = b"".join(parts).decode("utf-8", errors="replace").rstrip("\r")
        lines.put((name, text, cut))
        parts.clear()
        kept = cut = 0

    try:
        for chunk in iter(lambda: stream.readline(READ_CHUNK), b""):
            end = chunk.endswith(b"\n")
            body = chunk[:-1] if end else chunk
            take = body[: max(0, keep - kept)]
            if take:
                parts.append(take)
                kept += len(take)
            cut += len(body) - len(take)
            if end:
                emit()
        if parts or cut:
            emit()  # a last line without a newline
    except (OSError, ValueError):
        pass  # the pipe was closed under us
    finally:
        lines.put((name, None, 0))


class _OutputHandler:
    """Turns output lines into logs, ``vars`` and metrics (on the waiting thread only)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.vars: dict[str, Any] = {}

    def drain(self, lines: _Lines, *, timeout: float, limit: int | None) -> None:
        """Handle queued lines: wait up to ``timeout`` for the first, then take what is
        there (at most ``limit``)."""
        try:
            item = lines.get(timeout=timeout)
        except queue.Empty:
            return
        count = 0
        while True:
            stream, text, cut = item
            if text is not None:  # None marks the end of a stream
                self.handle(stream, text, cut)
            count += 1
            if limit is not None and count >= limit:
                return
            try:
                item = lines.get()
            except queue.Empty:
                return

    def handle(self, stream: str, text: str, cut: int = 0) -> None:
        """Handle one line of ``stream`` (``"stdout"`` or ``"stderr"``), of which the
        reader dropped ``cut`` bytes (a line cut there is logged, never parsed)."""
        if cut:
            # Marked, not cut further here: the store cuts the message to its line cap
            # after secrets are masked, adding this count (executor.loglimits.cut_message).
            self.ctx.log(text + cut_marker(cut), "WARN" if stream == "stderr" else "INFO")
            return
        if stream == "stderr":
            self.ctx.log(text, "WARN")
            return
        match = PROTOCOL_LINE.match(text)
        if match is None:
            self.ctx.log(text, "INFO")
            return
        try:
            message = json.loads(match.group(1))
        except ValueError:
            self.ctx.log(text, "INFO")
            return
        if not isinstance(message, dict):
            self.ctx.log(text, "INFO")
            return
        if "outputs" in message:
            outputs = message["outputs"]
            if isinstance(outputs, dict):
                self.vars.update(outputs)
            else:
                self.ctx.log(f"ignored outputs that are not a map: {outputs!r}", "WARN")
        if "metrics" in message:
            metrics = message["metrics"]
            self._metrics(metrics if isinstance(metrics, list) else [metrics])

    def _metrics(self, metrics: Iterable[Any]) -> None:
        for metric in metrics:
            try:
                name = metric["name"]
                kind = metric.get("type", "counter")
                value = float(metric["value"])
                tags = metric.get("tags") or {}
                if not isinstance(name, str) or not isinstance(tags, dict):
                    raise TypeError
            except (KeyError, TypeError, ValueError, AttributeError):
                self.ctx.log(f"ignored invalid metric: {metric!r}", "WARN")
                continue
            tags = {str(k): v for k, v in tags.items()}
            if _RESERVED_TAGS & tags.keys():
                self.ctx.log(f"ignored metric with a reserved tag name: {metric!r}", "WARN")
            elif kind == "counter":
                self.ctx.counter(name, value, **tags)
            elif kind == "timer":
                self.ctx.timer(name, value, **tags)  # the protocol's timers are in seconds
            else:
                self.ctx.log(f"ignored metric of unknown type {kind!r}: {name}", "WARN")
