"""Deep JSON and YAML from a user are refused with a clear error, nothing stored (issue 12,
item 5): the request bodies, input values, KV values and flow sources that answered 500
(``RecursionError``) before, through the REST API, the Python clients and the CLI.

Everything runs on database 12 of the session's real redis-server (no worker uses it), so
"nothing stored" is checked with DBSIZE as well as ``stored()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.api.http_client import HttpClient
from executor.bounds import MAX_JSON_DEPTH, MAX_YAML_DEPTH
from executor.embedded import EmbeddedRedis
from executor.errors import FlowValidationError, InputValidationError
from tests.conftest import ROOT, WORKER_ENV, stored
from tests.helpers.api import ThreadServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NS = "bounds.depth"
YAML = {"Content-Type": "application/x-yaml"}
JSON_FLOW = f"""
id: deep
namespace: {NS}
inputs:
  - id: x
    type: JSON
    required: false
  - id: a
    type: ARRAY
    itemType: JSON
    required: false
tasks:
  - id: t
    type: Return
    format: hi
"""


def nested(depth: int) -> str:
    """A JSON (and YAML flow) text of ``depth`` nested arrays."""
    return "[" * depth + "]" * depth


def nested_value(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def deep_flow_yaml(depth: int) -> str:
    return (
        f"id: deepyaml\nnamespace: {NS}\ntasks:\n  - id: t\n    type: Return\n"
        f"    format: hi\nvariables:\n  v: {nested(depth)}\n"
    )


@pytest.fixture(scope="module")
def db(redis_server: EmbeddedRedis) -> Iterator[tuple[Client, redis.Redis]]:
    url = redis_server.url.rsplit("/", 1)[0] + "/12"
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    c = Client(url)
    c.deploy(Flow.from_yaml(JSON_FLOW))
    yield c, raw
    raw.flushdb()
    raw.close()
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture(scope="module")
def http(db: tuple[Client, redis.Redis]) -> Iterator[TestClient]:
    with TestClient(create_app(db[0], token=""), raise_server_exceptions=False) as t:
        yield t


def snapshot(db: tuple[Client, redis.Redis]) -> tuple[Any, int]:
    return stored(db[0]), int(db[1].dbsize())


def refused(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert "nested" in json.dumps(body), body
    return body


# ---------------------------------------------------------------- REST API


def test_bounds_api_json_body_100k_deep(http: TestClient, db: Any) -> None:
    before = snapshot(db)
    body = refused(
        http.post(
            f"/api/v1/executions/{NS}/deep",
            content=nested(100_000),
            headers={"Content-Type": "application/json"},
        )
    )
    assert body["errors"][0]["path"] == "body"
    assert snapshot(db) == before


def test_bounds_api_inputs_5k_deep(http: TestClient, db: Any) -> None:
    before = snapshot(db)
    as_json = '{"x": ' + nested(5_000) + "}"
    refused(
        http.post(
            f"/api/v1/executions/{NS}/deep",
            content=as_json,
            headers={"Content-Type": "application/json"},
        )
    )
    for field in ("x", "a"):  # a JSON text given as the value (a string), JSON and ARRAY
        body = refused(http.post(f"/api/v1/executions/{NS}/deep", json={field: nested(5_000)}))
        assert body["errors"][0]["path"] == f"inputs.{field}"
        body = refused(http.post(f"/api/v1/executions/{NS}/deep", data={field: nested(5_000)}))
        assert body["errors"][0]["path"] == f"inputs.{field}"
    replayed = refused(
        http.post(
            "/api/v1/executions/nope/replay",
            content=nested(100_000),
            headers={"Content-Type": "application/json"},
        )
    )
    assert replayed["errors"][0]["path"] == "body"
    assert snapshot(db) == before


def test_bounds_api_just_under_the_limit_is_accepted(http: TestClient, db: Any) -> None:
    ok = http.post(f"/api/v1/executions/{NS}/deep", json={"x": nested_value(MAX_JSON_DEPTH)})
    assert ok.status_code == 200, ok.text
    refused(
        http.post(f"/api/v1/executions/{NS}/deep", json={"x": nested_value(MAX_JSON_DEPTH + 1)})
    )


def test_bounds_api_yaml_flow_20k_deep(http: TestClient, db: Any) -> None:
    before = snapshot(db)
    for text in (deep_flow_yaml(20_000), deep_flow_yaml(MAX_YAML_DEPTH + 1)):
        body = refused(http.post("/api/v1/flows", content=text, headers=YAML))
        assert body["type"] == "urn:ostra:problem:invalid-flow"
    put = http.put(f"/api/v1/flows/{NS}/deep", content=deep_flow_yaml(20_000), headers=YAML)
    refused(put)
    # aliases count as deep as what they stand for: 3 anchors of 40 levels, nested
    chain = "a: &a " + nested(40) + "\n"
    chain += "b: &b [" + "[" * 39 + "*a" + "]" * 40 + "\n"
    chain += "c: &c [" + "[" * 39 + "*b" + "]" * 40 + "\n"
    aliased = f"id: al\nnamespace: {NS}\ntasks:\n  - id: t\n    type: Log\n    message: hi\n"
    aliased += "variables:\n" + "".join(f"  {line}\n" for line in chain.splitlines())
    refused(http.post("/api/v1/flows", content=aliased, headers=YAML))
    assert snapshot(db) == before


def test_bounds_api_kv_value_deep(http: TestClient, db: Any) -> None:
    before = snapshot(db)
    body = refused(
        http.put(
            f"/api/v1/namespaces/{NS}/kv/k",
            content=nested(100_000),
            headers={"Content-Type": "application/json"},
        )
    )
    assert body["errors"][0]["path"] == "value"
    assert snapshot(db) == before


# ---------------------------------------------------------------- Python clients


def test_bounds_python_client(db: tuple[Client, redis.Redis]) -> None:
    client, _ = db
    before = snapshot(db)
    with pytest.raises(InputValidationError, match="nested more than"):
        client.submit((NS, "deep"), inputs={"x": nested_value(5_000)})
    with pytest.raises(InputValidationError, match="nested more than"):
        client.submit((NS, "deep"), inputs={"x": nested(5_000)})
    with pytest.raises(InputValidationError, match="labels.k"):
        client.submit((NS, "deep"), labels={"k": nested_value(5_000)})  # type: ignore[dict-item]
    with pytest.raises(InputValidationError, match="nested more than"):
        client.kv_set(NS, "k", nested_value(5_000))
    with pytest.raises(InputValidationError, match="nested more than"):
        client.kv_set(NS, "k", nested(5_000), kv_type="JSON")
    with pytest.raises(FlowValidationError, match="nested more than"):
        Flow.from_yaml(deep_flow_yaml(20_000))
    with pytest.raises(FlowValidationError, match="variables"):
        Flow(
            id="deep2",
            namespace=NS,
            tasks=[{"id": "t", "type": "Log", "message": "x"}],
            variables={"v": nested_value(5_000)},
        )  # type: ignore[list-item]
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(InputValidationError, match="nested more than"):
        client.submit((NS, "deep"), inputs={"x": cyclic})
    assert snapshot(db) == before


def test_bounds_http_client(db: tuple[Client, redis.Redis]) -> None:
    server = ThreadServer(create_app(db[0], token="")).start()
    try:
        with HttpClient(server.url, token="") as remote:
            before = snapshot(db)
            with pytest.raises(InputValidationError, match="nested more than"):
                remote.submit((NS, "deep"), inputs={"x": nested_value(5_000)})
            with pytest.raises(InputValidationError, match="inputs.x"):
                remote.submit((NS, "deep"), inputs={"x": nested(5_000)})  # refused by the API
            with pytest.raises(FlowValidationError, match="nested more than"):
                remote.deploy(deep_flow_yaml(20_000))
            with pytest.raises(InputValidationError, match="nested more than"):
                remote.kv_set(NS, "k", nested_value(5_000))
            assert snapshot(db) == before
    finally:
        server.stop()


# ---------------------------------------------------------------- CLI


def ostra(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **WORKER_ENV, "OSTRA_REDIS_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "executor.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_bounds_cli(
    db: tuple[Client, redis.Redis], redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + "/12"
    before = snapshot(db)
    deep = tmp_path / "deep.yaml"
    deep.write_text(deep_flow_yaml(20_000))
    flow = tmp_path / "inputs.yaml"
    flow.write_text(JSON_FLOW)
    for args in (
        ("flow", "deploy", str(deep)),
        ("run", str(deep)),
        ("run", str(flow), "-i", f"x={nested(5_000)}"),
        ("kv", "set", NS, "k", nested(20_000)),  # an argument is at most 128 KiB
    ):
        proc = ostra(*args, url=url)
        assert proc.returncode == 2, (args[:2], proc.stderr[-2000:])
        assert "nested more than" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert snapshot(db) == before
