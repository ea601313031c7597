"""The Celery settings that reliability depends on must not drift."""

from __future__ import annotations

from executor.celery_config import celery_config, max_countdown
from executor.settings import Settings


def test_reliability_settings() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    conf = celery_config(settings)
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["accept_content"] == conf["result_accept_content"] == ["json"]
    assert conf["task_ignore_result"] is True  # Redis state, not results, is the record
    assert conf["worker_send_task_events"]
    vt = conf["broker_transport_options"]["visibility_timeout"]
    assert vt == conf["visibility_timeout"] == settings.visibility_timeout
    # a retry countdown always lands well inside the visibility timeout
    assert max_countdown(settings) < vt
    assert settings.lease_seconds < vt
