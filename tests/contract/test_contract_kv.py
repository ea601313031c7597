"""The KV part of the store contract, against ``RedisStore`` and ``MemoryStore``."""

from __future__ import annotations

import json
import time

import pytest

from executor.errors import KVConflict
from executor.kv import KVType, KVValidationError
from executor.store.base import Store

NS = "company.team"


def test_set_then_get_gives_the_value_and_its_type(store: Store) -> None:
    store.kv_set(NS, "my-key", KVType.JSON, json.dumps({"field": "value"}))
    record = store.kv_get(NS, "my-key")
    assert record is not None
    assert record.type == KVType.JSON
    assert json.loads(record.value or "") == {"field": "value"}
    assert record.expires is None
    assert record.created == pytest.approx(time.time(), abs=5)


def test_a_key_lives_in_its_namespace_and_tenant_only(store: Store) -> None:
    store.kv_set(NS, "k", KVType.STRING, '"a"')
    store.kv_set("other", "k", KVType.STRING, '"b"', tenant="main")
    store.kv_set(NS, "k", KVType.STRING, '"c"', tenant="acme")
    got = [store.kv_get(NS, "k"), store.kv_get("other", "k"), store.kv_get(NS, "k", tenant="acme")]
    assert [r.value for r in got if r] == ['"a"', '"b"', '"c"']
    assert store.kv_get("nowhere", "k") is None


def test_overwrite_replaces_the_value_and_keeps_the_creation_date(store: Store) -> None:
    store.kv_set(NS, "k", KVType.NUMBER, "1")
    first = store.kv_get(NS, "k")
    time.sleep(0.01)
    store.kv_set(NS, "k", KVType.BOOLEAN, "true")
    second = store.kv_get(NS, "k")
    assert first is not None and second is not None
    assert (second.type, second.value) == (KVType.BOOLEAN, "true")
    assert second.created == pytest.approx(first.created, abs=0.002)
    assert second.updated > first.updated


def test_overwrite_false_refuses_a_live_key_and_writes_nothing(store: Store) -> None:
    store.kv_set(NS, "k", KVType.STRING, '"old"')
    with pytest.raises(KVConflict, match="Key already exists and `overwrite` is set to `false`"):
        store.kv_set(NS, "k", KVType.STRING, '"new"', overwrite=False)
    record = store.kv_get(NS, "k")
    assert record is not None and record.value == '"old"'
    store.kv_set(NS, "fresh", KVType.STRING, '"x"', overwrite=False)  # absent: stored
    assert store.kv_get(NS, "fresh") is not None


def test_an_entry_expires_after_its_ttl(store: Store) -> None:
    store.kv_set(NS, "short", KVType.STRING, '"v"', ttl=0.2)
    store.kv_set(NS, "long", KVType.STRING, '"v"', ttl=300)
    record = store.kv_get(NS, "long")
    assert record is not None and record.expires == pytest.approx(time.time() + 300, abs=5)
    assert [r.key for r in store.kv_list(NS)] == ["long", "short"]
    time.sleep(0.3)
    assert store.kv_get(NS, "short") is None
    assert [r.key for r in store.kv_list(NS)] == ["long"]
    # an expired key is no obstacle to overwrite=false
    store.kv_set(NS, "short", KVType.STRING, '"again"', overwrite=False)
    assert store.kv_get(NS, "short") is not None


def test_setting_without_ttl_removes_an_earlier_ttl(store: Store) -> None:
    store.kv_set(NS, "k", KVType.STRING, '"v"', ttl=0.2)
    store.kv_set(NS, "k", KVType.STRING, '"w"')
    time.sleep(0.3)
    record = store.kv_get(NS, "k")
    assert record is not None and record.expires is None


def test_delete_says_whether_there_was_an_entry(store: Store) -> None:
    store.kv_set(NS, "k", KVType.STRING, '"v"')
    assert store.kv_delete(NS, "k") is True
    assert store.kv_delete(NS, "k") is False
    assert store.kv_get(NS, "k") is None
    assert store.kv_list(NS) == []


def test_list_gives_dates_without_values_sorted_by_key(store: Store) -> None:
    for key in ("b", "a", "c.d"):
        store.kv_set(NS, key, KVType.STRING, '"v"')
    records = store.kv_list(NS)
    assert [r.key for r in records] == ["a", "b", "c.d"]
    assert all(r.value is None and r.type == KVType.STRING for r in records)
    assert all(r.created <= r.updated for r in records)


@pytest.mark.parametrize("key", ["", "-starts-with-dash", "has space", "a:b", "a/b", "é"])
def test_a_bad_key_is_refused_and_nothing_stored(store: Store, key: str) -> None:
    with pytest.raises(KVValidationError, match="key"):
        store.kv_set(NS, key, KVType.STRING, '"v"')
    assert store.kv_list(NS) == []


@pytest.mark.parametrize("namespace", ["", "Upper", "a b", "a:b", "{x}"])
def test_a_bad_namespace_is_refused(store: Store, namespace: str) -> None:
    with pytest.raises(KVValidationError, match="namespace"):
        store.kv_set(namespace, "k", KVType.STRING, '"v"')
    with pytest.raises(KVValidationError, match="namespace"):
        store.kv_list(namespace)


@pytest.mark.parametrize("ttl", [-1, 0, "PT-5M", "five minutes", float("nan")])
def test_a_bad_ttl_is_refused_and_nothing_stored(store: Store, ttl: object) -> None:
    with pytest.raises(KVValidationError, match="ttl"):
        store.kv_set(NS, "k", KVType.STRING, '"v"', ttl=ttl)  # type: ignore[arg-type]
    assert store.kv_get(NS, "k") is None
