"""Work a render cannot interrupt, bounded anyway: jq programs and regular expressions.

The render budget (:mod:`executor.pebble.budget`) is checked between the steps of a
template, but a jq program runs in C from start to end (``[limit(1e9; repeat(1))]``
builds a billion-item array before Python sees it) and a regular expression can
backtrack for hours inside one call. So:

* a regular expression runs on the ``regex`` package, whose matching functions take a
  ``timeout``: the time left in the render;
* a jq program runs in a forked child process with the time left in the render and an
  address-space limit, sending its results back as JSON through a pipe; past the
  deadline the child is killed (SIGKILL) and waited for, and the render fails. Forking
  costs a few milliseconds, which is why only jq pays it.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import time
from typing import Any

import regex

from executor.errors import TemplateError
from executor.pebble.budget import max_bytes, remaining, time_budget_exceeded

__all__ = ["jq_results", "regex_compile", "regex_split", "regex_sub"]

#: Address space a jq child may add to what it inherited (bytes), besides the output budget.
JQ_EXTRA_MEMORY = 512 * 1024 * 1024
#: Time a jq program may take outside any render (a filter called directly), in seconds.
JQ_DEFAULT_TIMEOUT = 10.0


def regex_compile(pattern: str) -> Any:
    """``pattern`` compiled (``regex.error`` if it is not a regular expression)."""
    return regex.compile(pattern)


def regex_sub(pattern: Any, repl: Any, text: str) -> str:
    """``pattern.sub(repl, text)`` within the time left in the render."""
    try:
        return str(pattern.sub(repl, text, timeout=remaining()))
    except TimeoutError:
        raise time_budget_exceeded() from None


def regex_split(pattern: Any, text: str, maxsplit: int = 0) -> list[str]:
    """``pattern.split(text, maxsplit)`` within the time left in the render."""
    try:
        return list(pattern.split(text, maxsplit=maxsplit, timeout=remaining()))
    except TimeoutError:
        raise time_budget_exceeded() from None


def regex_match(pattern: Any, text: str) -> Any:
    """``pattern.match(text)`` within the time left in the render."""
    try:
        return pattern.match(text, timeout=remaining())
    except TimeoutError:
        raise time_budget_exceeded() from None


def _address_space() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _jq_child(program: Any, data: Any, limit: int, out: int) -> None:
    """In the child: run the program, write ``{"ok": [...]}`` or ``{"error": "..."}``."""
    try:
        try:
            extra = JQ_EXTRA_MEMORY + 8 * limit
            cap = _address_space() + extra
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        except (OSError, ValueError):
            pass  # no /proc or no rlimit: the time limit still holds

        results: list[Any] = []
        size = 0
        reply: dict[str, Any]
        try:
            for result in program.input_value(data):
                size += len(json.dumps(result, separators=(",", ":")))
                if size > limit:
                    reply = {"large": limit}
                    break
                results.append(result)
            else:
                reply = {"ok": results}
        except ValueError as e:
            reply = {"error": str(e)}
        except MemoryError:
            reply = {"memory": True}
        payload = json.dumps(reply, separators=(",", ":")).encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(out, view) :]
    finally:
        os._exit(0)


def jq_results(program: Any, data: Any) -> list[Any]:
    """Every result of the compiled jq ``program`` (``jq.compile``: the child inherits it
    as it is) on ``data`` (JSON-ready), within the render's time and size budgets.
    ``ValueError`` for a program jq cannot apply."""
    timeout = remaining()
    deadline = time.monotonic() + (JQ_DEFAULT_TIMEOUT if timeout is None else timeout)
    limit = max_bytes()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        os.close(read_end)
        _jq_child(program, data, limit, write_end)
    os.close(write_end)
    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise time_budget_exceeded()
            ready, _, _ = select.select([read_end], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if not chunks:
        raise TemplateError("jq: the program ended without a result (out of memory?)")
    reply = json.loads(b"".join(chunks))
    if "ok" in reply:
        return list(reply["ok"])
    if "error" in reply:
        raise ValueError(reply["error"])
    if "large" in reply:
        raise TemplateError(f"jq: result too large (limit {reply['large']} characters)")
    raise TemplateError("jq: the program ran out of memory")
