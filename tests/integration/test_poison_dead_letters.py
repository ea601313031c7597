"""The dead-letter list is bounded: the newest OSTRA_DEAD_LETTER_MAX entries are kept."""

from __future__ import annotations

import redis

from executor.broker import RAW_CHARS, push_dead_letter, read_dead_letters


def test_dead_letters_keep_the_newest_and_cut_the_raw_message(redis_server) -> None:
    r = redis.Redis.from_url(redis_server.url)
    key = "poison-test:deadletter"
    try:
        for i in range(5):
            push_dead_letter(r, key, 3, f"reason {i}", "q", b"x" * (RAW_CHARS + i))
        r.lpush(key, b"\xffnot json")
        entries = read_dead_letters(r, key, 10)
        assert entries[0]["reason"] == "unreadable dead-letter entry"
        assert [e["reason"] for e in entries[1:]] == ["reason 4", "reason 3", "reason 2"]
        assert all(len(e["message"]) == RAW_CHARS for e in entries[1:])
        assert entries[1]["size"] == RAW_CHARS + 4 and entries[1]["queue"] == "q"
        assert len(read_dead_letters(r, key, 2)) == 2
    finally:
        r.delete(key)
        r.close()
