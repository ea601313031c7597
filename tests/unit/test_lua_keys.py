"""DESIGN.md rule 8: every key a Lua step touches comes in KEYS; no script builds one.

A static scan of every script with the prelude (``_lib.lua``): no key prefix, no piece of
a key name in a string, and every Redis command names its key by a plain name (a field
of the named keys ``K``, never a concatenation).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from executor.store.redis import _script_source

STORE = Path(__file__).resolve().parents[2] / "executor" / "store"
SCRIPTS = sorted(p.stem for p in STORE.glob("*.lua") if p.stem != "_lib")

#: The segments of key names (``executor/store/keys.py``) after the prefix.
SEGMENTS = (
    "flow",
    "flows",
    "exec",
    "ev",
    "trs",
    "trkey",
    "tv",
    "flowables",
    "tr",
    "ended",
    "values",
    "lease",
    "metrics",
    "logs",
    "events",
    "idx",
    "all",
    "conc",
    "concq",
    "concflows",
    "promoted",
    "subflows",
    "active",
    "reconciler",
    "lock",
)
KEY_PIECE = re.compile(r":\{|\}:|^\{$|:(" + "|".join(SEGMENTS) + r")\b")
STRING = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")
CALL = re.compile(r"redis\.call\(\s*'(\w+)'\s*,\s*([^,)]*)")
PLAIN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*|\[[A-Za-z_][\w.]*\])*$")


def _code(name: str) -> list[str]:
    """The script (prelude included) without comments."""
    return [re.sub(r"--.*$", "", line) for line in _script_source(name).splitlines()]


def _problems(lines: list[str]) -> list[str]:
    out = []
    for no, line in enumerate(lines, 1):
        if re.search(r"\bprefix\b", line):
            out.append(f"{no}: a key prefix: {line.strip()}")
        for m in STRING.finditer(line):
            text = m.group(1) if m.group(1) is not None else m.group(2)
            if KEY_PIECE.search(text):
                out.append(f"{no}: a piece of a key name {text!r}: {line.strip()}")
        for m in CALL.finditer(line):
            command, key = m.group(1), m.group(2).strip()
            if command == "UNLINK":  # purge: unpack() of the keys it was given
                continue
            if not PLAIN.match(key):
                out.append(f"{no}: {command} on a key built here ({key}): {line.strip()}")
        if re.search(r"\bKEYS\[", line) and "out[name] = KEYS[v]" not in line:
            out.append(f"{no}: KEYS by position (use the named keys): {line.strip()}")
        if re.search(r"\bARGV\[", line) and "cjson.decode(ARGV[1])" not in line:
            out.append(f"{no}: ARGV by position (use the named arguments): {line.strip()}")
    return out


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_script_builds_a_key(name: str) -> None:
    assert _problems(_code(name)) == []


def test_the_scan_finds_what_the_old_steps_did() -> None:
    # What the steps did before (issue 9): built index, task run and events keys.
    old = [
        "redis.call('ZREM', prefix .. ':idx:state:' .. cur, eid)",
        "local base = P .. ':{' .. nxt .. '}:exec'",
        "redis.call('HMGET', ARGV[4] .. trid, 'state')",
        "redis.call('DEL', trkey .. ':lease')",
        "redis.call('HSET', KEYS[2], 'state', 'RUNNING')",
    ]
    assert len(_problems(old)) >= len(old)


def test_every_script_names_its_keys_and_arguments_at_the_top() -> None:
    for name in SCRIPTS:
        head = (STORE / f"{name}.lua").read_text().split("\nlocal ", 1)[0]
        assert "KEYS, by name" in head and "ARGV[1] = {" in head and "Reply" in head, name
