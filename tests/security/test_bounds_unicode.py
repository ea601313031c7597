"""A lone surrogate (``"\\ud800"``: valid JSON or YAML escape syntax, but no character)
in a request answered 500: the problem body naming the value could not be encoded as
UTF-8 (found by the API fuzz). Now the request is refused with a 422 naming the body, and
nothing is stored: JSON input bodies, KV values and flow sources.

Runs on database 13 of the session's real redis-server (no worker uses it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis
from executor.errors import FlowValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NS = "bounds.unicode"
FLOW = f"""
id: lone
namespace: {NS}
inputs:
  - id: s
    type: STRING
    required: false
  - id: j
    type: JSON
    required: false
tasks:
  - id: t
    type: Return
    format: hi
"""
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def api(redis_server: EmbeddedRedis) -> Iterator[tuple[TestClient, redis.Redis]]:
    url = redis_server.url.rsplit("/", 1)[0] + "/13"
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    c = Client(url)
    c.deploy(Flow.from_yaml(FLOW))
    with TestClient(create_app(c, token=""), raise_server_exceptions=False) as t:
        yield t, raw
    raw.flushdb()
    raw.close()
    c.close()


def refused(response: Any) -> str:
    assert response.status_code == 422, response.text
    text: str = response.text
    assert "lone surrogate" in text, text
    return text


@pytest.mark.parametrize(
    "body",
    [
        '{"s": "a\\ud800b"}',  # a value
        '{"j": {"k": ["\\udfff"]}}',  # deep in a JSON input
        '{"\\ud800": 1}',  # a key
    ],
)
def test_bounds_lone_surrogate_in_inputs_is_422(
    api: tuple[TestClient, redis.Redis], body: str
) -> None:
    http, raw = api
    before = raw.dbsize()
    refused(http.post(f"/api/v1/executions/{NS}/lone", content=body, headers=JSON))
    assert raw.dbsize() == before  # no execution


def test_bounds_surrogate_pair_is_a_character(api: tuple[TestClient, redis.Redis]) -> None:
    """A pair (``\\ud83d\\ude00``) is one character, accepted as such."""
    http, _ = api
    r = http.post(f"/api/v1/executions/{NS}/lone", content='{"s": "\\ud83d\\ude00"}', headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["inputs"]["s"] == "\U0001f600"


def test_bounds_lone_surrogate_in_a_kv_value_is_422(api: tuple[TestClient, redis.Redis]) -> None:
    http, raw = api
    before = raw.dbsize()
    refused(http.put(f"/api/v1/namespaces/{NS}/kv/k", content='"\\ud800"', headers=JSON))
    assert raw.dbsize() == before


def test_bounds_lone_surrogate_in_a_flow_is_refused(api: tuple[TestClient, redis.Redis]) -> None:
    http, raw = api
    before = raw.dbsize()
    source = FLOW.replace("id: lone", "id: lone2").replace("format: hi", 'format: "hi \\ud800"')
    refused(
        http.post("/api/v1/flows", content=source, headers={"Content-Type": "application/x-yaml"})
    )
    assert raw.dbsize() == before
    with pytest.raises(FlowValidationError, match="lone surrogate"):
        Flow.from_yaml(source)
