"""``resend_task_run``: a task run's message is sent again only when no copy is queued."""

from __future__ import annotations

import json
import time
import uuid

from executor.embedded import EmbeddedRedis
from executor.messages import MessageBuilder, Outgoing
from executor.store.base import Store
from executor.store.redis import RedisStore
from tests.contract.support import message, queue_key, row, sent, submit


def _resend(store: Store, eid: str, trid: str, text: str, *, check: bool = True) -> str:
    return store.resend_task_run(
        eid,
        trid,
        message(store, text),
        group="g",
        broker_prefix="",
        now=time.time(),
        grace=60.0,
        check=check,
    ).status


def test_no_copy_is_added_while_the_last_one_is_in_its_queue(store: Store) -> None:
    first = row("a", msg=message(store, "m1"))
    eid = submit(store, first=[first])
    assert sent(store) == ["m1"]
    assert store.task_run_field(eid, first.id, "mw") is None
    assert _resend(store, eid, first.id, "m2") == "QUEUED"
    assert _resend(store, eid, first.id, "m3") == "QUEUED"
    assert sent(store) == ["m1"]
    assert store.task_run_field(eid, first.id, "mw") == "g"  # waiting for its group
    # A worker took the copy (and lost it): the next resend sends one, and only one.
    key = queue_key(store)
    if isinstance(store, RedisStore):
        store.r.delete(key)
    else:
        store.queues[key].clear()  # type: ignore[attr-defined]
    assert _resend(store, eid, first.id, "m4") == "SENT"
    assert store.task_run_field(eid, first.id, "mw") is None
    assert _resend(store, eid, first.id, "m5") == "QUEUED"
    assert sent(store) == ["m4"]
    # A lapsed lease sends whatever is queued; an attempt's start forgets the copy.
    assert _resend(store, eid, first.id, "m6", check=False) == "SENT"
    assert sent(store) == ["m4", "m6"]
    assert store.resend_task_run(
        eid, "nope", message(store, "x"), group="g", broker_prefix="", now=0, grace=1, check=True
    ).status == ("MISSING")
    store.start_attempt(eid, first.id, "w1", 30_000)
    assert store.task_run_field(eid, first.id, "mp") is None
    assert store.task_run_field(eid, first.id, "mw") is None


def test_a_copy_reserved_by_a_worker_counts_until_the_grace_is_over(
    redis_server: EmbeddedRedis,
) -> None:
    prefix = f"ct-{uuid.uuid4().hex[:8]}"
    store = RedisStore.from_url(redis_server.url, prefix=prefix)
    broker = f"{prefix}-kombu:"  # kombu's global_keyprefix
    try:
        out = MessageBuilder("q", broker).build("e1", "t1")
        first = row("a", msg=out)
        eid = submit(store, first=[first])
        # A worker reserves it, as kombu's QoS.append does: off the list, into unacked.
        raw = store.r.rpop(out.queue_key)
        tag = json.loads(raw)["properties"]["delivery_tag"]
        store.r.hset(broker + "unacked", tag, json.dumps([json.loads(raw), "", "q"]))
        store.r.zadd(broker + "unacked_index", {tag: time.time()})

        def again(now: float) -> str:
            fresh = MessageBuilder("q", broker).build(eid, first.id)
            return store.resend_task_run(
                eid,
                first.id,
                Outgoing(out.queue_key, fresh.payload, fresh.task_id),
                group="q",
                broker_prefix=broker,
                now=now,
                grace=60.0,
                check=True,
            ).status

        assert again(time.time()) == "RESERVED"
        assert store.r.llen(out.queue_key) == 0
        # Reserved long ago and never started: its worker died before starting it.
        assert again(time.time() + 120) == "SENT"
        assert store.r.llen(out.queue_key) == 1
    finally:
        store.close()
