"""Per-attempt time limits (a task's ``timeout``), raised inside the running attempt.

Uses ``SIGALRM`` via ``setitimer`` when the attempt runs in the main thread (Celery's
prefork and solo pools); elsewhere the runners' own deadline checks apply.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from executor.errors import AttemptTimeout


@contextmanager
def attempt_timeout(seconds: float | None) -> Iterator[None]:
    """Raise ``AttemptTimeout`` in this thread if the block runs longer than ``seconds``."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: FrameType | None) -> None:
        raise AttemptTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
