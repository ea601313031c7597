"""Store contract: the due queues of schedules and backfills (``due_*``), the record of
ticks that ran and backfills' hashes, on ``RedisStore`` and ``MemoryStore`` alike."""

from __future__ import annotations

from executor.store.base import Store


def test_claim_is_exclusive_and_advance_is_a_compare_and_set(store: Store) -> None:
    store.due_set("sched", "a", "100", 100.0)
    store.due_set("sched", "b", "200", 200.0)
    assert store.due_claim("sched", 99.0, 10, 30.0) == []
    assert store.due_claim("sched", 150.0, 10, 30.0) == [("a", "100")]
    assert store.due_claim("sched", 150.0, 10, 30.0) == []  # held: nobody else gets it
    position = store.due_position("sched", "a")
    assert position is not None and position.due is None and position.claimed_until == 180.0
    assert not store.due_advance("sched", "a", "99", "160", 160.0)  # not the claimed tick
    assert store.due_advance("sched", "a", "100", "160", 160.0, ran=["100"], keep=5)
    assert not store.due_advance("sched", "a", "100", "170", 170.0)  # released already
    assert store.due_position("sched", "a") == type(position)("160", 160.0, None)
    assert store.ticks_ran("a", ["100", "160"]) == {"100"}


def test_claims_in_batches_oldest_first(store: Store) -> None:
    for i in range(5):
        store.due_set("sched", f"t{i}", str(10 + i), 10.0 + i)
    first = store.due_claim("sched", 100.0, 3, 30.0)
    assert [u for u, _ in first] == ["t0", "t1", "t2"]
    assert [u for u, _ in store.due_claim("sched", 100.0, 3, 30.0)] == ["t3", "t4"]


def test_lapsed_claim_is_handed_back_at_its_tick(store: Store) -> None:
    store.due_set("sched", "a", "100", 100.0)
    assert store.due_claim("sched", 100.0, 10, 5.0) == [("a", "100")]
    assert store.due_claim("sched", 104.0, 10, 5.0) == []
    assert store.due_claim("sched", 106.0, 10, 5.0) == [("a", "100")]  # its holder died
    assert store.due_advance("sched", "a", "100", "200", 200.0)


def test_set_drops_a_claim_and_unlock_makes_it_due(store: Store) -> None:
    store.due_set("sched", "a", "100", 100.0)
    store.due_claim("sched", 100.0, 10, 30.0)
    store.due_set("sched", "a", "300", 300.0)  # a redeploy: the holder's advance is void
    assert not store.due_advance("sched", "a", "100", "200", 200.0)
    assert store.due_position("sched", "a") == type(store.due_position("sched", "a"))(
        "300", 300.0, None
    )
    assert not store.due_unlock("sched", "a", 50.0)  # not claimed
    store.due_set("sched", "a", "40", 40.0)
    store.due_claim("sched", 50.0, 10, 30.0)
    assert store.due_unlock("sched", "a", 51.0)
    assert store.due_claim("sched", 51.0, 10, 30.0) == [("a", "40")]
    store.due_set("sched", "a", None)
    assert store.due_position("sched", "a") is None
    assert not store.due_advance("sched", "a", "40", "41", 41.0)


def test_ticks_record_keeps_the_newest(store: Store) -> None:
    store.ticks_record("u", [str(t) for t in range(10)], 3)
    assert store.ticks_ran("u", [str(t) for t in range(10)]) == {"7", "8", "9"}


def test_backfill_hash(store: Store) -> None:
    assert store.backfill_get("u") is None
    store.backfill_put("u", {"a": "1", "b": "2"})
    store.backfill_put("u", {"b": "3"})
    assert store.backfill_get("u") == {"a": "1", "b": "3"}
    store.backfill_put("u", {"c": "4"}, replace=True)
    assert store.backfill_get("u") == {"c": "4"}
    store.backfill_delete("u")
    assert store.backfill_get("u") is None


def test_advance_many_is_one_compare_and_set_each(store: Store) -> None:
    from executor.store.base import DueStep

    store.due_set("sched", "a", "10", 10.0)
    store.due_set("sched", "b", "10", 10.0)
    store.due_claim("sched", 10.0, 10, 30.0)
    store.due_set("sched", "b", "50", 50.0)  # redeployed meanwhile
    done = store.due_advance_many(
        "sched", [DueStep("a", "10", "20", 20.0, ["10"], 9), DueStep("b", "10", "20", 20.0)]
    )
    assert done == [True, False]
    a, b = store.due_position("sched", "a"), store.due_position("sched", "b")
    assert a is not None and a.tick == "20" and b is not None and b.tick == "50"
    assert store.ticks_ran("a", ["10"]) == {"10"}
    assert store.due_advance_many("sched", []) == []
