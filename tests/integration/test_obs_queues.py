"""Queue depth against a real backlog: messages in every priority sub-list of a worker
group nobody serves, one taken by a consumer and not acknowledged, one delayed retry
held the same way; seen in Client.queue_stats, the API and /metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from kombu import Connection

from executor import Client, Flow
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis

pytestmark = pytest.mark.integration


def _flow(flow_id: str, group: str) -> Flow:
    """A flow of one Log task sent to worker group ``group``."""
    task = {"id": "a", "type": "Log", "message": "x", "workerGroup": group}
    return Flow.from_dict({"id": flow_id, "namespace": "obs", "tasks": [task]})


@pytest.fixture
def obs_client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


def test_depth_counts_priority_sub_lists_and_unacked(
    obs_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = f"obs-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OSTRA_METRICS_QUEUES", group)  # watched before any worker serves it
    flow = _flow("q", group)
    app = obs_client.orchestrator.dispatcher.app
    with Connection(obs_client.settings.url) as conn:
        q = conn.SimpleQueue(group)
        # A retry due in 20 s, held unacknowledged as a worker holds an ETA message.
        eta = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
        app.send_task("ostra.run_task_run", args=["e", "t"], queue=group, eta=eta)
        held = q.get(timeout=5)
        # Two task runs in the group's own list (created by Ostra's submit step) and three
        # with priorities (kombu puts them in the sub-lists 3, 6 and 9).
        for _ in range(2):
            obs_client.submit(flow)
        for pri in (4, 7, 9):
            app.send_task("ostra.run_task_run", args=["e", "t"], queue=group, priority=pri)
        taken = q.get(timeout=5)  # reserved, never acknowledged
        stats = {s.queue: s for s in obs_client.queue_stats([group])}[group]
        # kombu's Redis serves sub-list 0 first (its lowest number): one of those was taken.
        assert stats.waiting == 4
        assert stats.waiting_by_priority == {"0": 1, "3": 1, "6": 1, "9": 1}
        assert stats.reserved == 1
        assert stats.retries_due_next_minute == 1
        assert stats.oldest_waiting_age_seconds is not None
        assert stats.oldest_waiting_age_seconds >= 0

        with TestClient(create_app(obs_client, token="")) as http:
            body = http.get("/api/v1/main/workers/queues", params={"queue": group}).json()
            row = next(r for r in body["results"] if r["queue"] == group)
            assert (row["waiting"], row["reserved"], row["retriesDueNextMinute"]) == (4, 1, 1)
            scrape = http.get("/metrics").text
            assert f'ostra_queue_messages_waiting{{priority="3",queue="{group}"}} 1.0' in scrape
            # What an autoscaler reads: 4 waiting + 1 reserved + 1 retry due.
            assert f'ostra_queue_depth{{queue="{group}"}} 6.0' in scrape
        del taken, held
        q.close()


def test_oldest_waiting_age_grows_with_the_wait(obs_client: Client) -> None:
    group = f"obs-{uuid.uuid4().hex[:8]}"
    flow = _flow("age", group)
    obs_client.submit(flow)
    first = obs_client.queue_stats([group])[-1]
    time.sleep(1.1)
    later = obs_client.queue_stats([group])[-1]
    assert first.queue == later.queue == group
    assert first.oldest_waiting_age_seconds is not None
    assert later.oldest_waiting_age_seconds is not None
    assert later.oldest_waiting_age_seconds >= first.oldest_waiting_age_seconds + 1.0


def test_metrics_need_a_token_when_tokens_are_set(
    obs_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSTRA_METRICS_TOKEN", "scrape-only")
    with TestClient(create_app(obs_client, token="api-token")) as http:
        assert http.get("/metrics").status_code == 401
        api = http.get("/metrics", headers={"Authorization": "Bearer api-token"})
        assert api.status_code == 200
        ok = http.get("/metrics", headers={"Authorization": "Bearer scrape-only"})
        assert ok.status_code == 200 and "ostra_queue_scrape_error 0.0" in ok.text
        # The scrape-only token opens /metrics only.
        refused = http.get("/api/v1/flows/search", headers={"Authorization": "Bearer scrape-only"})
        assert refused.status_code == 401
    monkeypatch.setenv("OSTRA_METRICS_PUBLIC", "true")
    with TestClient(create_app(obs_client, token="api-token")) as http:
        assert http.get("/metrics").status_code == 200
