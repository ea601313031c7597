"""Contract: a task run's logs are capped (bytes, lines, one line), with a marker stored
once; logs are read in pages, filtered, and followed from a cursor."""

from __future__ import annotations

import threading

import pytest

from executor.errors import ExecutionNotFound
from executor.loglimits import LogLimits, LogQuery
from executor.models import LogEntry
from executor.state import StateType
from executor.store.base import Status, Store
from tests.contract.support import row, submit

S = StateType
TRUNCATED = "log truncated: limit of"


def _entry(eid: str, message: str, trid: str | None = "t1", **kw: object) -> LogEntry:
    return LogEntry(
        message=message,
        execution_id=eid,
        task_run_id=trid,
        task_id=None if trid is None else f"task-{trid}",
        attempt=None if trid is None else 1,
        **kw,  # type: ignore[arg-type]
    )


def _stored_bytes(store: Store, eid: str, trid: str) -> int:
    return sum(
        len(e.model_dump_json(by_alias=True).encode())
        for e in store.logs(eid)
        if e.task_run_id == trid and not e.message.startswith(TRUNCATED)
    )


def test_logcap_bytes_per_task_run(store: Store) -> None:
    store.log_limits = LogLimits(max_bytes=4000, max_lines=10_000, line_max_bytes=1000)
    eid = submit(store)
    statuses = [store.append_log(_entry(eid, f"line {i:04d} " + "x" * 150)) for i in range(100)]
    stored = statuses.index(Status.FULL)
    assert 0 < stored < 100 and set(statuses[stored:]) == {Status.FULL}
    assert set(statuses[:stored]) == {Status.OK}
    assert _stored_bytes(store, eid, "t1") <= 4000
    logs = store.logs(eid)
    markers = [e for e in logs if e.message.startswith(TRUNCATED)]
    assert len(markers) == 1, "the marker is stored once"
    (marker,) = markers
    assert marker == logs[-1] and marker.level == "WARN" and marker.task_run_id == "t1"
    assert marker.task_id == "task-t1" and marker.attempt == 1
    assert marker.message == (
        "log truncated: limit of 4000 bytes per task run reached; further lines dropped"
    )
    assert [e.message[:9] for e in logs[:-1]] == [f"line {i:04d}" for i in range(stored)]
    # Another task run and the execution itself have budgets of their own.
    assert store.append_log(_entry(eid, "other", trid="t2")) == Status.OK
    assert store.append_log(_entry(eid, "execution", trid=None)) == Status.OK
    assert [e.message for e in store.logs(eid)[-2:]] == ["other", "execution"]


def test_logcap_lines_per_task_run_over_attempts(store: Store) -> None:
    store.log_limits = LogLimits(max_bytes=1 << 20, max_lines=3, line_max_bytes=1000)
    eid = submit(store)
    assert store.append_log(_entry(eid, "a")) == Status.OK
    second = _entry(eid, "b").model_copy(update={"attempt": 2})  # another attempt
    assert store.append_log(second) == Status.OK
    assert store.append_log(_entry(eid, "c")) == Status.OK
    assert store.append_log(_entry(eid, "d")) == Status.FULL
    assert store.append_log(_entry(eid, "e")) == Status.FULL
    assert [e.message for e in store.logs(eid)] == [
        "a",
        "b",
        "c",
        "log truncated: limit of 3 lines per task run reached; further lines dropped",
    ]


def test_logcap_cuts_one_long_line(store: Store) -> None:
    store.log_limits = LogLimits(max_bytes=1 << 20, max_lines=100, line_max_bytes=300)
    eid = submit(store)
    assert store.append_log(_entry(eid, "é" * 5000)) == Status.OK  # 10,000 bytes
    assert store.append_log(_entry(eid, "short")) == Status.OK
    cut, short = store.logs(eid)
    assert len(cut.message.encode()) <= 300
    body, _, marker = cut.message.partition(" … [")
    assert set(body) == {"é"} and marker.endswith(" bytes cut]")
    assert len(body.encode()) + int(marker.split()[0]) == 10_000
    assert short.message == "short"


def test_logcap_is_atomic_across_writers(store: Store) -> None:
    store.log_limits = LogLimits(max_bytes=20_000, max_lines=100_000, line_max_bytes=1000)
    eid = submit(store)

    def write(n: int) -> None:
        for i in range(60):
            store.append_log(_entry(eid, f"writer {n} line {i} " + "y" * 100))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _stored_bytes(store, eid, "t1") <= 20_000
    messages = [e.message for e in store.logs(eid)]
    assert sum(m.startswith(TRUNCATED) for m in messages) == 1
    assert messages[-1].startswith(TRUNCATED), "nothing of the task run is stored after it"


def test_logcap_budget_goes_with_the_execution(store: Store) -> None:
    store.log_limits = LogLimits(max_bytes=1 << 20, max_lines=1, line_max_bytes=1000)
    eid = submit(store, first=[row("a")])
    store.append_log(_entry(eid, "one"))
    assert store.append_log(_entry(eid, "two")) == Status.FULL
    store.transition_execution(eid, S.RUNNING)
    store.transition_execution(eid, S.SUCCESS)
    assert store.delete_execution(eid)
    submit(store, eid=eid)  # the same id again: nothing of the old one is left
    assert store.append_log(_entry(eid, "again")) == Status.OK
    assert [e.message for e in store.logs(eid)] == ["again"]


# ---------------------------------------------------------------------- pages


def _levelled(store: Store) -> tuple[str, list[LogEntry]]:
    eid = submit(store)
    levels = ("DEBUG", "INFO", "WARN", "ERROR")
    entries = [
        _entry(eid, f"m{i}", trid=f"t{i % 3}", level=levels[i % 4]).model_copy(
            update={"attempt": 1 + i % 2}
        )
        for i in range(25)
    ]
    for e in entries:
        assert store.append_log(e) == Status.OK
    return eid, entries


def test_logcap_pages_add_up_to_the_log(store: Store) -> None:
    eid, entries = _levelled(store)
    assert store.logs_page(eid).results == entries
    pages = [store.logs_page(eid, offset=o, limit=10) for o in (0, 10, 20, 30)]
    assert [len(p.results) for p in pages] == [10, 10, 5, 0]
    assert [e for p in pages for e in p.results] == entries
    assert {p.total for p in pages} == {25}
    assert [p.next_cursor for p in pages] == [10, 20, 25, 25]


def test_logcap_filtered_pages(store: Store) -> None:
    eid, entries = _levelled(store)
    query = LogQuery(min_level="WARN", task_run_id="t1")
    expected = [e for e in entries if e.task_run_id == "t1" and e.level in ("WARN", "ERROR")]
    assert expected and store.logs_page(eid, query=query).results == expected
    first = store.logs_page(eid, limit=2, query=query)
    assert first.results == expected[:2] and first.total == len(expected)
    assert first.next_cursor == entries.index(expected[1]) + 1
    rest = store.logs_page(eid, cursor=first.next_cursor, query=query)
    assert first.results + rest.results == expected and rest.next_cursor == 25
    by_task = store.logs_page(eid, query=LogQuery(task_id="task-t2", attempt=2))
    assert by_task.results == [e for e in entries if e.task_id == "task-t2" and e.attempt == 2]
    skipped = store.logs_page(eid, offset=1, limit=1, query=query)
    assert skipped.results == expected[1:2]


def test_logcap_follow_from_a_cursor(store: Store) -> None:
    eid = submit(store)
    page = store.logs_page(eid, limit=100)
    assert (page.results, page.total, page.next_cursor) == ([], 0, 0)
    seen: list[str] = []
    cursor = 0
    for batch in (["a", "b", "c"], [], ["d"], ["e", "f"]):
        for m in batch:
            store.append_log(_entry(eid, m))
        while True:
            page = store.logs_page(eid, cursor=cursor, limit=2)
            seen += [e.message for e in page.results]
            assert page.next_cursor >= cursor
            cursor = page.next_cursor
            if len(page.results) < 2:
                break
    assert seen == ["a", "b", "c", "d", "e", "f"]
    beyond = store.logs_page(eid, cursor=100, limit=5)
    assert (beyond.results, beyond.total, beyond.next_cursor) == ([], 0, 100)


def test_logcap_page_refuses_bad_arguments(store: Store) -> None:
    eid = submit(store)
    with pytest.raises(ValueError, match="cursor"):
        store.logs_page(eid, cursor=-1)
    with pytest.raises(ValueError, match="offset"):
        store.logs_page(eid, offset=-1)
    with pytest.raises(ValueError, match="limit"):
        store.logs_page(eid, limit=0)
    with pytest.raises(ValueError, match="LOUD"):
        LogQuery(min_level="LOUD")
    with pytest.raises(ExecutionNotFound):
        store.logs_page("nope")
    with pytest.raises(ExecutionNotFound):
        store.logs_page("nope", query=LogQuery(min_level="INFO"))
