"""Script output is read in bounded chunks: a 50 MB line is cut as it is read (the reader
never holds it), lines waiting for the logger are bounded in characters, and a cut line
is logged with a marker of the bytes cut (never parsed as the output protocol)."""

from __future__ import annotations

import os
import threading
import time

from executor.context import RunContext
from executor.loglimits import cut_message
from workers.tasktypes import scripts


def _feed(data: bytes, chunk: int = 1 << 20) -> int:
    """A pipe whose write end gets ``data`` from a thread; its read end."""
    r, w = os.pipe()

    def write() -> None:
        with os.fdopen(w, "wb") as f:
            for i in range(0, len(data), chunk):
                f.write(data[i : i + chunk])

    threading.Thread(target=write, daemon=True).start()
    return r


def test_logcap_reader_cuts_a_50mb_line_as_it_reads() -> None:
    line = b"a" * 50_000_000
    lines = scripts._Lines(1000, 8 << 20)
    keep = 1 << 20
    with os.fdopen(_feed(line + b"\nafter\n"), "rb") as stream:
        scripts._read_lines(stream, "stdout", lines, keep)
    first, second, end = lines.get(), lines.get(), lines.get()
    assert first[0] == "stdout" and first[1] == "a" * keep and first[2] == 50_000_000 - keep
    assert second == ("stdout", "after", 0) and end == ("stdout", None, 0)


def test_logcap_pending_lines_are_bounded_in_characters() -> None:
    lines = scripts._Lines(1000, 3000)
    lines.put(("stdout", "x" * 2000, 0))
    blocked = threading.Thread(target=lines.put, args=(("stdout", "y" * 2000, 0),))
    blocked.start()
    time.sleep(0.3)
    assert blocked.is_alive(), "a reader waits while the buffer is full"
    assert lines.get()[1] == "x" * 2000
    blocked.join(5)
    assert not blocked.is_alive() and lines.get()[1] == "y" * 2000


def test_logcap_a_cut_line_is_logged_with_its_marker() -> None:
    ctx = RunContext(execution_id="e1", task_run_id="tr1", task_id="t1")
    handler = scripts._OutputHandler(ctx)
    handler.handle("stdout", '::{"outputs": {"a": 1}}::', 0)
    handler.handle("stdout", '::{"outputs": {"b": 2', 5)  # cut: not the protocol
    handler.handle("stderr", "e" * 10, 7)
    assert handler.vars == {"a": 1}
    assert [(e.level, e.message) for e in ctx.logs] == [
        ("INFO", '::{"outputs": {"b": 2 … [5 bytes cut]'),
        ("WARN", "e" * 10 + " … [7 bytes cut]"),
    ]
    # The store cuts it to the line cap, adding what the reader cut.
    stored = cut_message("e" * 1000 + " … [7000 bytes cut]", 300)
    assert len(stored.encode()) <= 300
    assert stored.endswith(f" … [{8000 - stored.index(' …')} bytes cut]")
