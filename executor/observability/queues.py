"""Queue depth an autoscaler can trust: per queue (the default one and each worker
group), read from kombu's Redis transport as it keeps them.

- **waiting**: every priority sub-list of the queue (kombu's ``_q_for_pri``: the queue's
  own list for priority 0, ``queue\\x06\\x163``, ``\\x066``, ``\\x069`` for the other
  ``PRIORITY_STEPS``), not one ``LLEN``;
- **reserved**: messages workers took and have not acknowledged (kombu's ``unacked``
  hash, ``[message, exchange, routing_key]`` per delivery tag; ``unacked_index`` orders
  them), other than delayed retries;
- **retries due**: reserved retry messages whose ETA is in the next minute (a task
  run's retry is a Celery retry with a countdown: its worker holds it until then), and
  later ones apart;
- **oldest waiting**: the age of the oldest message waiting (the right end of each
  list, the one taken next), from when its task run's message was sent (``ms`` on the
  task run).

A scrape costs one pipeline per call (``LLEN`` and ``LINDEX`` of every list, ``HVALS`` of
the unacked hash, bounded by the workers' prefetch), plus one read per queue's oldest.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import redis

from executor.store.base import Store

#: kombu's Redis transport: priority steps, the separator of a sub-list's name, the
#: unacked hash (``kombu/transport/redis.py``: ``PRIORITY_STEPS``, ``sep``, ``unacked_key``).
PRIORITY_STEPS = (0, 3, 6, 9)
SEP = "\x06\x16"
UNACKED = "unacked"
#: Retries due within this many seconds count as ``retries_due_next_minute``.
DUE_WINDOW_S = 60.0


def priority_lists(queue: str, key_prefix: str = "") -> list[tuple[int, str]]:
    """The Redis lists of ``queue``, one per priority step (kombu's ``_q_for_pri``)."""
    return [
        (p, f"{key_prefix}{queue}{SEP}{p}" if p else key_prefix + queue) for p in PRIORITY_STEPS
    ]


@dataclass
class QueueStats:
    """The depth of one queue (``queue``: the default queue or a worker group)."""

    queue: str
    waiting: int = 0
    waiting_by_priority: dict[str, int] = field(default_factory=dict)
    reserved: int = 0
    retries_due_next_minute: int = 0
    retries_later: int = 0
    oldest_waiting_age_seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        """camelCase, as the API answers."""
        d = asdict(self)
        return {
            "queue": d["queue"],
            "waiting": d["waiting"],
            "waitingByPriority": d["waiting_by_priority"],
            "reserved": d["reserved"],
            "retriesDueNextMinute": d["retries_due_next_minute"],
            "retriesLater": d["retries_later"],
            "oldestWaitingAgeSeconds": d["oldest_waiting_age_seconds"],
        }


def _decode(raw: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _eta(message: dict[str, Any]) -> float | None:
    eta = (message.get("headers") or {}).get("eta")
    if not isinstance(eta, str):
        return None
    try:
        return datetime.fromisoformat(eta).timestamp()
    except ValueError:
        return None


def _ids(message: dict[str, Any]) -> tuple[str, str] | None:
    """(execution id, task run id) of an ``ostra.run_task_run`` message."""
    try:
        body = json.loads(base64.b64decode(message["body"]))
        eid, trid = body[0][0], body[0][1]
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return (eid, trid) if isinstance(eid, str) and isinstance(trid, str) else None


def _sent_at(store: Store | None, message: dict[str, Any], now: float) -> float | None:
    ids = _ids(message)
    if store is not None and ids is not None:
        try:
            sent = store.task_run_field(ids[0], ids[1], "ms")
        except Exception:  # the age is a hint: a missing or unreadable one is left out
            sent = None
        if sent:
            try:
                return datetime.fromisoformat(str(sent).replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
    eta = _eta(message)
    return eta if eta is not None and eta <= now else None


def queue_stats(
    r: redis.Redis,
    queues: Iterable[str],
    *,
    store: Store | None = None,
    key_prefix: str = "",
    now: float | None = None,
) -> list[QueueStats]:
    """The depth of each of ``queues`` (in that order, each once)."""
    now = time.time() if now is None else now
    names = list(dict.fromkeys(queues))
    with r.pipeline(transaction=False) as pipe:
        for q in names:
            for _, key in priority_lists(q, key_prefix):
                pipe.llen(key)
                pipe.lindex(key, -1)  # kombu pushes left and pops right: the oldest
        pipe.hvals(key_prefix + UNACKED)
        replies = pipe.execute()
    stats = {q: QueueStats(q) for q in names}
    i = 0
    for q in names:
        s = stats[q]
        oldest: float | None = None
        for p, _ in priority_lists(q, key_prefix):
            n, last = int(replies[i]), replies[i + 1]
            i += 2
            s.waiting += n
            s.waiting_by_priority[str(p)] = n
            message = _decode(last) if last is not None else None
            if message is not None:
                sent = _sent_at(store, message, now)
                if sent is not None and (oldest is None or sent < oldest):
                    oldest = sent
        if oldest is not None:
            s.oldest_waiting_age_seconds = round(max(now - oldest, 0.0), 3)
        elif s.waiting:
            s.oldest_waiting_age_seconds = None
        else:
            s.oldest_waiting_age_seconds = 0.0
    for raw in replies[i]:
        try:
            message, _exchange, routing_key = json.loads(raw)
        except (TypeError, ValueError):
            continue
        queue = routing_key if isinstance(routing_key, str) else ""
        if queue not in stats or not isinstance(message, dict):
            continue
        eta = _eta(message)
        s = stats[queue]
        if eta is None or eta <= now:
            s.reserved += 1
        elif eta <= now + DUE_WINDOW_S:
            s.retries_due_next_minute += 1
        else:
            s.retries_later += 1
    return [stats[q] for q in names]


class QueueCollector:
    """A Prometheus collector of ``queue_stats``, read when scraped.

    ``read()`` returns the stats (a Client's ``queue_stats``); a failure (Redis away)
    yields no queue samples and ``ostra_queue_scrape_errors`` of 1.
    """

    def __init__(self, read: Any) -> None:
        self.read = read

    def describe(self) -> list[Any]:
        """Nothing up front: the samples depend on the queues seen."""
        return []

    def collect(self) -> Iterable[Any]:
        """The queue gauges, one sample per queue (and priority)."""
        from prometheus_client.core import GaugeMetricFamily

        error = GaugeMetricFamily(
            "ostra_queue_scrape_error", "1 when the queues could not be read at this scrape"
        )
        try:
            stats: list[QueueStats] = self.read()
        except Exception:
            error.add_metric([], 1)
            yield error
            return
        error.add_metric([], 0)
        waiting = GaugeMetricFamily(
            "ostra_queue_messages_waiting",
            "Messages waiting in a queue (all its priority sub-lists)",
            labels=["queue", "priority"],
        )
        reserved = GaugeMetricFamily(
            "ostra_queue_messages_reserved",
            "Messages workers took and have not acknowledged (running or about to)",
            labels=["queue"],
        )
        due = GaugeMetricFamily(
            "ostra_queue_retries_due_next_minute",
            "Retries of task runs held by workers, due within a minute",
            labels=["queue"],
        )
        later = GaugeMetricFamily(
            "ostra_queue_retries_later",
            "Retries of task runs held by workers, due in more than a minute",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "ostra_queue_oldest_waiting_age_seconds",
            "Age of the oldest message waiting in a queue (0 when none waits)",
            labels=["queue"],
        )
        total = GaugeMetricFamily(
            "ostra_queue_depth",
            "What an autoscaler scales on: waiting + reserved + retries due in a minute",
            labels=["queue"],
        )
        for s in stats:
            for p, n in s.waiting_by_priority.items():
                waiting.add_metric([s.queue, p], n)
            reserved.add_metric([s.queue], s.reserved)
            due.add_metric([s.queue], s.retries_due_next_minute)
            later.add_metric([s.queue], s.retries_later)
            if s.oldest_waiting_age_seconds is not None:
                oldest.add_metric([s.queue], s.oldest_waiting_age_seconds)
            total.add_metric([s.queue], s.waiting + s.reserved + s.retries_due_next_minute)
        yield from (error, waiting, reserved, due, later, oldest, total)
