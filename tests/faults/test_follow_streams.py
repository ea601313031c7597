"""Issue 12, item 12: open follow streams must not starve the rest of the REST API.

A real ``ostra server api`` process (127.0.0.1, a free port, stopped by its PID) on a
Redis of its own, and real HTTP follow streams (``/follow`` and ``/events``) of
executions that do not end (no worker serves their queue). Each stream used to hold one
of anyio's 40 threadpool tokens in a blocking ``XREAD``: with more streams than tokens,
a plain GET waited a second or two for a thread.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.follow import ApiServer, Followers
from executor.embedded import EmbeddedRedis

pytestmark = pytest.mark.faults

#: more streams than anyio's default threadpool has tokens (40)
STREAMS = 100
#: a GET with the streams open answers within this (median; idle it takes milliseconds,
#: with the streams holding the threadpool it took about a second)
GET_BOUND_MS = 300


def flow(ns: str) -> str:
    return f"id: waits\nnamespace: {ns}\ntasks:\n  - id: t\n    type: Return\n    format: x\n"


@pytest.fixture
def ns() -> str:
    return f"tests.follow.n{uuid.uuid4().hex[:10]}"


def start_api(redis_server: EmbeddedRedis, tmp_path: Path, **env: str) -> ApiServer:
    return ApiServer(redis_server.url, tmp_path / "api.log", env).start()


@pytest.fixture
def api(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[ApiServer]:
    served = start_api(redis_server, tmp_path)
    try:
        yield served
    finally:
        served.stop()


def submit(http: httpx.Client, ns: str, n: int) -> list[str]:
    deployed = http.post(
        "/api/v1/flows", content=flow(ns), headers={"Content-Type": "application/x-yaml"}
    )
    assert deployed.status_code == 200, deployed.text
    ids = []
    for _ in range(n):
        created = http.post(f"/api/v1/executions/{ns}/waits")
        assert created.status_code == 200, created.text
        ids.append(created.json()["id"])
    return ids


@pytest.mark.timeout(120)
def test_follow_streams_do_not_starve_plain_requests(api: ApiServer, ns: str) -> None:
    with httpx.Client(base_url=api.url, timeout=60) as http:
        ids = submit(http, ns, STREAMS)
        streams = Followers(api.url, ids)
        streams.open(timeout=90)
        try:
            assert streams.statuses == [200] * STREAMS
            time.sleep(1.5)  # every stream is past its first read, waiting for changes
            times = []
            for _ in range(15):
                t0 = time.perf_counter()
                got = http.get(f"/api/v1/executions/{ids[0]}")
                times.append((time.perf_counter() - t0) * 1000)
                assert got.status_code == 200
            health = http.get("/health")
            assert health.status_code == 200
        finally:
            streams.close()
    assert statistics.median(times) < GET_BOUND_MS, sorted(times)


@pytest.mark.timeout(120)
def test_follow_streams_are_bounded_and_released_on_disconnect(
    redis_server: EmbeddedRedis, tmp_path: Path, ns: str
) -> None:
    api = start_api(redis_server, tmp_path, OSTRA_API_MAX_FOLLOWERS="4")
    try:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            ids = submit(http, ns, 5)
            first = Followers(api.url, ids[:4])
            first.open(timeout=60)
            try:
                assert first.statuses == [200] * 4
                for stream in ("follow", "events"):
                    with http.stream("GET", f"/api/v1/executions/{ids[4]}/{stream}") as refused:
                        assert refused.status_code == 503  # (a stream answers 200 at once)
                        refused.read()
                    assert refused.headers["content-type"].startswith("application/problem+json")
                    assert refused.headers["retry-after"] == "5"
                    body = refused.json()
                    assert body["type"] == "urn:ostra:problem:too-many-followers"
                    assert "OSTRA_API_MAX_FOLLOWERS" in body["detail"] and body["limit"] == 4
                # plain requests are not follow streams: they still answer
                assert http.get(f"/api/v1/executions/{ids[4]}").status_code == 200
            finally:
                first.close()  # the clients go away: their slots are given back
            deadline = time.monotonic() + 10
            while True:
                again = Followers(api.url, ids[1:])
                again.open(timeout=60)
                statuses = list(again.statuses)
                again.close()
                if statuses == [200] * 4 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert statuses == [200] * 4
    finally:
        api.stop()


def read_events(lines: Iterator[str], until: str, timeout: float) -> list[str]:
    """The ``event:`` names of an open stream's ``lines``, up to one named ``until``."""
    names: list[str] = []
    deadline = time.monotonic() + timeout
    for line in lines:
        if line.startswith("event:"):
            names.append(line.split(":", 1)[1].strip())
            if names[-1] == until:
                return names
        assert time.monotonic() < deadline, names
    return names


@pytest.mark.timeout(120)
def test_follow_streams_survive_a_redis_restart(
    redis_server: EmbeddedRedis, api: ApiServer, ns: str
) -> None:
    """Redis stopped while streams are open: they end with an error event (as a blocking
    read did), and once Redis is back a new stream is woken by the one reader again."""
    with httpx.Client(base_url=api.url, timeout=httpx.Timeout(30, read=15)) as http:
        eid = submit(http, ns, 1)[0]
        with http.stream("GET", f"/api/v1/executions/{eid}/follow") as followed:
            lines = followed.iter_lines()
            assert read_events(lines, "progress", 15)[0] == "progress"
            redis_server.stop(kill=True)
            try:
                assert read_events(lines, "error", 30)[-1] == "error"
            finally:
                redis_server.start()
        health = time.monotonic() + 30
        while http.get("/health").status_code != 200:
            assert time.monotonic() < health, "the API did not see Redis back"
            time.sleep(0.2)
        with http.stream("GET", f"/api/v1/executions/{eid}/follow") as followed:
            lines = followed.iter_lines()
            assert read_events(lines, "progress", 15) == ["progress"]
            killed = http.delete(f"/api/v1/executions/{eid}/kill")
            assert killed.status_code == 202, killed.text
            # the kill's changes wake the stream: the execution again, then its end
            assert read_events(lines, "end", 20)[-1] == "end"
