"""Interrupting a running attempt from outside: its time limit and kills.

The attempt runs in the main thread of its process (Celery's prefork and solo pools);
``SIGALRM`` (set with ``setitimer``) ends it at its ``timeout``, and ``SIGUSR2`` (sent
by the heartbeat thread of the same process) ends it when its execution was killed.
Elsewhere, task types' own deadline and ``ctx.killed()`` checks apply.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from executor.errors import AttemptTimeout, TaskKilled


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def attempt_guard(seconds: float | None) -> Iterator[Callable[[], None] | None]:
    """Raise ``AttemptTimeout`` after ``seconds``, and ``TaskKilled`` when the returned
    function is called (from another thread); yields None where signals can't be used."""
    if not _main_thread():
        yield None
        return

    def _expired(signum: int, frame: FrameType | None) -> None:
        raise AttemptTimeout(seconds or 0)

    def _killed(signum: int, frame: FrameType | None) -> None:
        raise TaskKilled("execution killed")

    pid = os.getpid()
    previous_alarm = signal.signal(signal.SIGALRM, _expired)
    previous_usr2 = signal.signal(signal.SIGUSR2, _killed)
    if seconds:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield lambda: os.kill(pid, signal.SIGUSR2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_alarm)
        # A late SIGUSR2 (sent just as the attempt ended) must not kill the process.
        keep = previous_usr2 not in (signal.SIG_DFL, None)
        signal.signal(signal.SIGUSR2, previous_usr2 if keep else signal.SIG_IGN)
