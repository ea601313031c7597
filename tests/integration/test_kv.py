"""The KV store end to end: tasks and ``kv()`` on real workers, the REST API (Kestra's
shapes), the HTTP client against a live server, and ``ostra kv``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from executor import Client
from executor.api.app import create_app
from executor.api.http_client import HttpClient
from executor.embedded import EmbeddedRedis
from executor.errors import (
    InputValidationError,
    KVConflict,
    KVNotFound,
    NotFoundError,
    StateConflict,
)
from executor.kv import KVType
from executor.state import StateType
from tests.helpers.api import ThreadServer

ROOT = Path(__file__).resolve().parents[2]


def _ns() -> str:
    return f"tests.kv{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def kv_client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture
def http(kv_client: Client) -> Iterator[TestClient]:
    with TestClient(create_app(kv_client, token="")) as client:
        yield client


def test_a_flow_sets_what_the_client_reads_and_the_client_sets_what_kv_reads(
    run, client: Client
) -> None:  # type: ignore[no-untyped-def]
    ns = _ns()
    client.kv_set(ns, "greeting", "hello")
    done = run(f"""
id: kv_it
namespace: {ns}
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: answer
    value: "{{{{ kv('greeting') }}}} world"
    ttl: PT1M
  - id: when
    type: kv.Set
    key: when
    value: "2023-05-02T01:02:03Z"
    kvType: DATETIME
""")
    assert done.state.current == StateType.SUCCESS
    assert client.kv_get(ns, "answer").model_dump() == {"type": "STRING", "value": "hello world"}
    assert client.kv_get(ns, "when").model_dump() == {
        "type": "DATETIME",
        "value": "2023-05-02T01:02:03Z",
    }
    entries = {e.key: e for e in client.kv_list(ns)}
    assert set(entries) == {"answer", "greeting", "when"}
    assert entries["answer"].expiration_date is not None
    assert entries["greeting"].expiration_date is None


def test_a_bad_key_in_a_set_task_fails_it_and_stores_nothing(run, client: Client) -> None:  # type: ignore[no-untyped-def]
    ns = _ns()
    done = run(f"""
id: kv_bad
namespace: {ns}
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: "bad key"
    value: x
""")
    assert done.state.current == StateType.FAILED
    assert "Key must start with an alphanumeric character" in " ".join(
        e.message for e in client.logs(done.id)
    )
    assert client.kv_list(ns) == []


@pytest.mark.parametrize("prefix", ["/api/v1", "/api/v1/main"])
def test_api_put_get_list_delete_in_kestras_shapes(http: TestClient, prefix: str) -> None:
    ns = _ns()
    base = f"{prefix}/namespaces/{ns}/kv"
    cases = [
        ('{"hello":"world"}', "JSON", {"hello": "world"}),
        ('"hello"', "STRING", "hello"),
        ("1", "NUMBER", 1),
        ("true", "BOOLEAN", True),
        ("2021-09-01", "DATE", "2021-09-01"),
        ("2021-09-01T01:02:03Z", "DATETIME", "2021-09-01T01:02:03Z"),
        ('"PT5S"', "DURATION", "PT5S"),
    ]
    for body, kv_type, value in cases:
        r = http.put(
            f"{base}/my-key",
            content=body,
            headers={"Content-Type": "application/json", "ttl": "PT5M"},
        )
        assert r.status_code == 200, r.text
        got = http.get(f"{base}/my-key")
        assert got.json() == {"type": kv_type, "value": value}
    listed = http.get(base).json()
    assert [e["key"] for e in listed] == ["my-key"]
    assert set(listed[0]) == {"key", "creationDate", "updateDate", "expirationDate"}
    assert listed[0]["expirationDate"].endswith("Z")
    assert http.delete(f"{base}/my-key").json() is True
    assert http.delete(f"{base}/my-key").json() is False
    missing = http.get(f"{base}/my-key")
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"No value found for key 'my-key' in namespace '{ns}'"


def test_api_refuses_bad_keys_ttls_and_bodies_and_stores_nothing(http: TestClient) -> None:
    ns = _ns()
    base = f"/api/v1/namespaces/{ns}/kv"
    bad_key = http.put(f"{base}/-bad", content='"x"')
    bad_ttl = http.put(f"{base}/k", content='"x"', headers={"ttl": "five minutes"})
    bad_body = http.put(f"{base}/k", content="{not json")
    for r in (bad_key, bad_ttl, bad_body):
        assert r.status_code == 422, r.text
    assert "Key must start" in bad_key.text
    assert "ttl" in bad_ttl.text
    assert "Invalid JSON value for" in bad_body.text
    assert http.get("/api/v1/namespaces/Bad/kv").status_code == 422
    assert http.get(base).json() == []
    http.put(f"{base}/k", content='"x"')
    conflict = http.put(f"{base}/k", content='"y"', headers={"overwrite": "false"})
    assert conflict.status_code == 409
    assert http.get(f"{base}/k").json()["value"] == "x"


def test_http_client_round_trip_matches_the_redis_client(kv_client: Client) -> None:
    ns = _ns()
    server = ThreadServer(create_app(kv_client, token="")).start()
    try:
        with HttpClient(server.url, token="") as remote:
            remote.kv_set(ns, "n", "42", kv_type="NUMBER")
            remote.kv_set(ns, "d", "P1DT5S", kv_type=KVType.DURATION, ttl=60)
            remote.kv_set(ns, "j", {"a": [1, 2]})
            assert kv_client.kv_get(ns, "n").value == 42
            assert remote.kv_get(ns, "d").model_dump() == {"type": "DURATION", "value": "PT24H5S"}
            assert remote.kv_get(ns, "j") == kv_client.kv_get(ns, "j")
            assert [e.key for e in remote.kv_list(ns)] == ["d", "j", "n"]
            assert remote.kv_list(ns) == kv_client.kv_list(ns)
            with pytest.raises(StateConflict) as conflict:
                remote.kv_set(ns, "n", 1, overwrite=False)
            assert "already exists" in str(conflict.value)
            with pytest.raises(InputValidationError):
                remote.kv_set(ns, "bad key", 1)
            assert remote.kv_delete(ns, "n") is True
            with pytest.raises(NotFoundError, match="No value found for key 'n'"):
                remote.kv_get(ns, "n")
    finally:
        server.stop()
    with pytest.raises(KVNotFound):
        kv_client.kv_get(ns, "n")
    with pytest.raises(KVConflict):
        kv_client.kv_set(ns, "j", 1, overwrite=False)


def test_a_ttl_makes_the_entry_disappear(kv_client: Client) -> None:
    ns = _ns()
    kv_client.kv_set(ns, "brief", "v", ttl=0.2)
    assert kv_client.kv_get(ns, "brief").value == "v"
    time.sleep(0.3)
    with pytest.raises(KVNotFound):
        kv_client.kv_get(ns, "brief")
    assert kv_client.kv_list(ns) == []


def _ostra(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["OSTRA_REDIS_URL"] = redis_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "executor.cli", "kv", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_set_get_list_delete(redis_server: EmbeddedRedis) -> None:
    ns = _ns()
    url = redis_server.url
    assert _ostra(url, "set", ns, "count", "3").returncode == 0
    assert (
        _ostra(url, "set", ns, "flag", "yes", "--type", "BOOLEAN", "--ttl", "PT5M").returncode == 0
    )
    got = _ostra(url, "get", ns, "count")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == {"type": "NUMBER", "value": 3}
    assert json.loads(_ostra(url, "get", ns, "flag").stdout)["value"] is False
    listed = json.loads(_ostra(url, "list", ns).stdout)
    assert [e["key"] for e in listed] == ["count", "flag"]
    assert listed[1]["expirationDate"] is not None
    conflict = _ostra(url, "set", ns, "count", "4", "--no-overwrite")
    assert conflict.returncode == 1 and "already exists" in conflict.stderr
    bad = _ostra(url, "set", ns, "bad key", "1")
    assert bad.returncode == 2 and "Key must start" in bad.stderr
    assert _ostra(url, "delete", ns, "count").stdout.strip() == "true"
    missing = _ostra(url, "get", ns, "count")
    assert missing.returncode == 1 and "No value found for key 'count'" in missing.stderr
