"""Issue 12 item 11: a search page reads the page, not the whole index (counted in Redis
commands on a server of the test's own), and ``ostra execution reindex`` indexes
executions stored before the search indexes existed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from executor.client import Client
from executor.embedded import EmbeddedRedis
from executor.flow import Flow
from executor.models import Label
from executor.state import StateType
from executor.store.redis import RedisStore

S = StateType
N = 1500


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server nothing else talks to, so its command counts are the test's."""
    server = EmbeddedRedis(tmp_path)
    server.start()
    yield server
    server.close()


def _flow(namespace: str, fid: str) -> Flow:
    return Flow.from_dict(
        {"id": fid, "namespace": namespace, "tasks": [{"id": "a", "type": "Log", "message": "a"}]}
    )


def _seed(store: RedisStore) -> None:
    """N executions in namespaces s.a and s.b, a third SUCCESS, labelled by parity."""
    flows = [_flow("s.a", "f"), _flow("s.b", "f"), _flow("s.a", "g")]
    for i in range(N):
        eid = f"e{i:05d}"
        label = [Label(key="env", value="prod" if i % 2 else "dev")]
        store.create_execution(eid, flows[i % 3], {}, label, [], pending_deadline=0.0)
        if i % 3 == 0:
            store.transition_execution(eid, S.RUNNING)
            store.transition_execution(eid, S.SUCCESS)


def _commands(store: RedisStore) -> int:
    stats: dict[str, Any] = store.r.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def test_searchpage_a_page_reads_the_page_not_the_index(own_redis: EmbeddedRedis) -> None:
    client = Client(own_redis.url, prefix="sp")
    try:
        _seed(client.store)
        for filters, total in (
            ({}, N),
            ({"namespace": "s.a", "state": S.SUCCESS}, N // 3),
            ({"namespace": "s.b", "flow_id": "f", "state": S.CREATED}, N // 3),
            ({"state": S.CREATED}, 2 * N // 3),
        ):
            before = _commands(client.store)
            page = client.search_page(page=2, size=10, **filters)  # type: ignore[arg-type]
            used = _commands(client.store) - before - 1  # the INFO above
            assert page.total == total and len(page.results) == 10, filters
            # the range and the count, then two reads per execution of the page: nothing
            # grows with the N stored (the whole index read was ~N commands)
            assert used <= 40, (filters, used)
        page = client.search_page(namespace_prefix="s", state=S.SUCCESS, size=5)
        assert page.total == N // 3 and len(page.results) == 5
        assert all(x.state.current == S.SUCCESS for x in page.results)
        page = client.search_page(labels={"env": "prod"}, state=S.SUCCESS, size=5)
        assert page.total == len([i for i in range(N) if i % 2 and i % 3 == 0])
        assert all(x.labels == [Label(key="env", value="prod")] for x in page.results)
        # any of several states: a union made and dropped in one transaction
        for filters in ({}, {"labels": {"env": "prod"}}, {"namespace": "s.a"}):
            page = client.search_page(state=[S.SUCCESS, S.CREATED], size=5, **filters)  # type: ignore[arg-type]
            alone = [client.search_page(state=st, **filters).total for st in (S.SUCCESS, S.CREATED)]  # type: ignore[arg-type]
            assert page.total == sum(alone) and len(page.results) == 5
        assert list(client.store.r.scan_iter("sp:tmp:*")) == []
    finally:
        client.store.close()


def test_searchpage_reindex_indexes_executions_stored_before(own_redis: EmbeddedRedis) -> None:
    store = RedisStore.from_url(own_redis.url, prefix="ri")
    try:
        _seed(store)
        want = {
            "ns": store.search_page(namespace="s.a", state=S.SUCCESS, limit=N),
            "prefix": store.search_page(namespace_prefix="s", limit=N),
            "label": store.search_page(labels={"env": "dev"}, limit=N),
            "flow": store.search_page(namespace="s.b", flow_id="f", state=S.CREATED, limit=N),
        }
        assert want["ns"][1] == N // 3
        # As a version without the search indexes left them: only all, state and flow.
        kept = {"ri:idx:all", "ri:idx:ended"}
        old = [
            k
            for k in (key.decode() for key in store.r.scan_iter("ri:idx:*"))
            if k not in kept
            and not k.startswith("ri:idx:state:")
            and not (k.startswith("ri:idx:flow:") and ":state:" not in k)
        ]
        assert old
        store.r.delete(*old)
        assert store.search_page(namespace="s.a", state=S.SUCCESS)[1] == 0
        env = {**os.environ, "OSTRA_REDIS_URL": own_redis.url, "OSTRA_PREFIX": "ri"}
        done = subprocess.run(
            [sys.executable, "-m", "executor.cli", "execution", "reindex"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"indexed {N} executions" in done.stdout
        got = {
            "ns": store.search_page(namespace="s.a", state=S.SUCCESS, limit=N),
            "prefix": store.search_page(namespace_prefix="s", limit=N),
            "label": store.search_page(labels={"env": "dev"}, limit=N),
            "flow": store.search_page(namespace="s.b", flow_id="f", state=S.CREATED, limit=N),
        }
        assert got == want
        # once indexed, the moves keep them; indexing again changes nothing
        store.transition_execution("e00001", S.RUNNING)
        assert store.rebuild_search_indexes() == N
        assert store.search_page(namespace="s.b", flow_id="f", state=S.RUNNING)[0] == ["e00001"]
        assert store.search_page(namespace="s.b", flow_id="f", state=S.CREATED)[1] == N // 3 - 1
    finally:
        store.close()


def test_searchpage_api_filters_by_prefix_and_labels(own_redis: EmbeddedRedis) -> None:
    """``GET /executions/search``: ``filters[namespace][PREFIX]`` and ``labels=k:v``
    (repeatable, all must match), through the HTTP client and as raw parameters."""
    import httpx

    from executor.api.app import create_app
    from executor.api.http_client import HttpClient
    from tests.helpers.api import ThreadServer

    local = Client(own_redis.url, prefix="api")
    server = ThreadServer(create_app(local, token="")).start()
    try:
        _seed(local.store)
        with HttpClient(server.url, token="") as remote:
            page = remote.search_page(namespace_prefix="s", state="SUCCESS", size=3)
            assert page.total == N // 3 and len(page.results) == 3
            page = remote.search_page(labels={"env": "prod"}, namespace="s.b", size=2)
            assert page.total == len([i for i in range(N) if i % 2 and i % 3 == 1])
            found = remote.search(labels={"env": "dev"}, namespace_prefix="s.a", limit=4)
            assert [x.labels[0].value for x in found] == ["dev"] * 4
        url = f"{server.url}/api/v1/executions/search"
        answer = httpx.get(url, params={"filters[namespace][PREFIX]": "s.a", "size": 1})
        assert answer.status_code == 200 and answer.json()["total"] == 2 * N // 3
        answer = httpx.get(url, params={"filters[namespace][PREFIX]": "s.", "size": 1})
        assert answer.json()["total"] == 0
        answer = httpx.get(url, params=[("labels", "env:prod"), ("labels", "env:dev")])
        assert answer.status_code == 422 and "'env' given more than once" in answer.text
        answer = httpx.get(url, params=[("labels", "env:prod"), ("state", "SUCCESS")])
        assert answer.json()["total"] == len([i for i in range(N) if i % 2 and i % 3 == 0])
        answer = httpx.get(url, params={"labels": "nocolon"})
        assert answer.status_code == 422 and "labels" in answer.text
        answer = httpx.get(url, params={"filters[namespace][REGEX]": "s"})
        assert answer.status_code == 422 and "REGEX" in answer.text
    finally:
        server.stop()
        local.orchestrator.dispatcher.app.close()
        local.store.close()
