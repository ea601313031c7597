"""The budget of a task run's logs and how logs are read back, shared by both stores.

Logs are flow content, so they are bounded (DESIGN.md rule 7): per task run (all its
attempts, whatever worker writes them) at most ``max_bytes`` of stored entries and
``max_lines`` entries; one message at most ``line_max_bytes``. A longer message is cut
and ends with a marker saying how many bytes were cut; the entry that would pass a cap
is dropped and, once per task run, one WARN entry says what was dropped (the marker is
stored beyond the cap). Entries of the execution itself (no task run) share one budget.

Reading: the entries of an execution are numbered from 0 in the order they were stored;
a :class:`LogQuery` filters them and :func:`page_of` cuts a page out of them, from a
cursor (a position, so a follower reads on from where it stopped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from executor.models import LogEntry

#: log levels, lowest first (``min_level`` keeps a level and those after it)
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_RANK = {name: i for i, name in enumerate(LEVELS)}


@dataclass(frozen=True)
class LogLimits:
    """The caps of a task run's logs (``OSTRA_LOG_MAX_BYTES``, ``OSTRA_LOG_MAX_LINES``,
    ``OSTRA_LOG_LINE_MAX_BYTES``)."""

    max_bytes: int = 10 * 1024 * 1024
    max_lines: int = 100_000
    line_max_bytes: int = 256 * 1024

    @classmethod
    def from_settings(cls) -> LogLimits:
        """The limits the process-wide settings give."""
        from executor.settings import get_settings

        s = get_settings()
        return cls(s.log_max_bytes, s.log_max_lines, s.log_line_max_bytes)


def cut_marker(cut: int) -> str:
    """What ends a message of which ``cut`` bytes were cut."""
    return f" … [{cut} bytes cut]"


_CUT = re.compile(r" … \[(\d+) bytes cut\]\Z")


def cut_message(text: str, max_bytes: int) -> str:
    """``text`` if it fits in ``max_bytes`` (UTF-8), else its start cut at a character
    boundary and ending with :func:`cut_marker` of how many bytes were cut.

    The result fits in ``max_bytes``, marker included (for ``max_bytes`` above the
    marker's own length). Cutting adds up: a ``text`` already ending with a marker (cut
    where it was read, as script output is) is cut with its marker's count added, so
    cutting a cut message again never loses how much was cut."""
    if len(text) * 4 <= max_bytes:
        return text  # fits whatever its characters: no encoding on the common path
    raw = text.encode("utf-8", errors="replace")
    if len(raw) <= max_bytes:
        return text
    before = 0
    found = _CUT.search(text)
    if found is not None:
        before = int(found.group(1))
        raw = text[: found.start()].encode("utf-8", errors="replace")
    total = len(raw) + before
    keep = max(0, max_bytes - len(cut_marker(total).encode()))
    kept = raw[:keep].decode("utf-8", errors="ignore")  # drops a split last character
    return kept + cut_marker(total - len(kept.encode()))


#: where a truncation marker names the limit reached ("N bytes" or "N lines")
LIMIT_PLACEHOLDER = "@LIMIT@"


def truncation_message(limit: str) -> str:
    """The message of the WARN entry stored once a task run's ``limit`` is reached."""
    return f"log truncated: limit of {limit} per task run reached; further lines dropped"


def truncation_entry(entry: LogEntry, limit: str) -> LogEntry:
    """The one WARN entry stored when ``entry`` is the first one dropped for its task run
    (dated as ``entry``; ``limit``: "N bytes" or "N lines")."""
    return LogEntry(
        level="WARN",
        message=truncation_message(limit),
        timestamp=entry.timestamp,
        execution_id=entry.execution_id,
        task_run_id=entry.task_run_id,
        task_id=entry.task_id,
        attempt=entry.attempt,
    )


def prepared(entry: LogEntry, limits: LogLimits) -> LogEntry:
    """``entry`` with its message cut to ``limits.line_max_bytes``."""
    message = cut_message(entry.message, limits.line_max_bytes)
    if message is entry.message:
        return entry
    return entry.model_copy(update={"message": message})


def budget_field(entry: LogEntry) -> str:
    """Whose budget ``entry`` counts against: its task run, or "" for the execution."""
    return entry.task_run_id or ""


@dataclass(frozen=True)
class LogQuery:
    """Which entries to read (all when every field is None): Kestra's filters of
    ``/logs/{executionId}``. ``attempt`` counts from 1 (Ostra's numbering)."""

    min_level: str | None = None
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None

    def __post_init__(self) -> None:
        if self.min_level is not None and self.min_level not in _RANK:
            raise ValueError(f"unknown log level {self.min_level!r}: one of {', '.join(LEVELS)}")

    @property
    def everything(self) -> bool:
        """True when nothing is filtered out."""
        return (self.min_level, self.task_run_id, self.task_id, self.attempt) == (None,) * 4

    def matches(self, x: dict[str, Any]) -> bool:
        """Whether the stored entry ``x`` (its JSON, decoded) is kept."""
        if self.task_run_id is not None and x.get("taskRunId") != self.task_run_id:
            return False
        if self.task_id is not None and x.get("taskId") != self.task_id:
            return False
        if self.attempt is not None and x.get("attempt") != self.attempt:
            return False
        if self.min_level is not None:
            return _RANK.get(x.get("level", "INFO"), 0) >= _RANK[self.min_level]
        return True


@dataclass(frozen=True)
class RawPage:
    """A page as a store reads it: the stored JSON of its entries, how many entries
    from the cursor on match, and the cursor to read on from."""

    raws: list[Any]
    total: int
    next_cursor: int


def check_page(cursor: int, offset: int, limit: int | None) -> None:
    """Refuse a page that cannot be (``ValueError`` naming what is wrong)."""
    if cursor < 0:
        raise ValueError(f"cursor must be 0 or more, got {cursor}")
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, got {offset}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be 1 or more, got {limit}")


def page_of(
    chunks: Iterable[list[Any]],
    *,
    cursor: int,
    offset: int,
    limit: int | None,
    query: LogQuery,
) -> RawPage:
    """Cut a page out of the stored entries from position ``cursor`` on, given in order
    as ``chunks`` (lists of stored JSON; the last one may be empty): skip ``offset``
    matching entries, take up to ``limit`` (all if None).

    ``next_cursor`` is the position after the last entry taken when the page is full,
    else the end of what was read: reading on from it never repeats an entry and never
    misses one stored later."""
    raws: list[Any] = []
    total = 0
    position = cursor
    next_cursor: int | None = None
    everything = query.everything
    for chunk in chunks:
        for raw in chunk:
            position += 1
            if not everything and not query.matches(json.loads(raw)):
                continue
            total += 1
            if total > offset and (limit is None or len(raws) < limit):
                raws.append(raw)
                if limit is not None and len(raws) == limit:
                    next_cursor = position
    return RawPage(raws, total, position if next_cursor is None else next_cursor)


def chunked(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
