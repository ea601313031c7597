"""The REST API fuzzed for server errors (issue 12: "Fuzz the API with schemathesis
including deep and huge bodies: no 5xx").

Every operation of ``/openapi.json`` is fuzzed by schemathesis (valid and invalid
requests, a few examples each: the run is bounded), then every operation that takes a
body gets hand-made hostile ones: JSON nested 100,000 deep, an object whose value nests
5,000 deep, YAML nested 20,000 deep, a body over the size limit (with a Content-Length,
and chunked without one), and malformed bytes. None may answer 5xx; a body over the limit
is a 413; nothing is stored for any of them. Database 13 of the session's redis-server
(no worker reads it) holds one flow and one execution so the routes get past their 404s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis
from tests.conftest import stored

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NS = "bounds.fuzz"
MAX_BODY = 64 * 1024
FLOW = f"""
id: fuzzed
namespace: {NS}
inputs:
  - id: x
    type: JSON
    required: false
tasks:
  - id: t
    type: Return
    format: hi
"""


@pytest.fixture(scope="module")
def fuzz_db(redis_server: EmbeddedRedis) -> Iterator[tuple[Client, redis.Redis, str]]:
    url = redis_server.url.rsplit("/", 1)[0] + "/13"
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    c = Client(url)
    execution = c.submit(Flow.from_yaml(FLOW))  # stays CREATED: no worker reads db 13
    yield c, raw, execution.id
    raw.flushdb()
    raw.close()
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


def test_bounds_fuzz_schemathesis_no_server_error(
    fuzz_db: tuple[Client, redis.Redis, str],
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    client, _, _ = fuzz_db
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(client, token="", max_body=MAX_BODY)
    )
    failures: list[str] = []
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if "{tenant}" in operation.path or operation.path.endswith(("/follow", "/events")):
            continue  # the same routes again; streams that wait for an end
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=5,  # bounded: the whole test costs well under 60 s
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            try:
                fuzz()
            except Unsatisfiable:
                continue
            except UnicodeEncodeError:  # a text body schemathesis cannot send
                continue
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    assert time.monotonic() - started < 180  # ~30 s idle; generous on a loaded 2-core box


def _body_routes(app: Any) -> list[tuple[str, str, list[str]]]:
    """(method, path, media types) of every operation taking a body (no tenant copies)."""
    out = []
    for path, item in app.openapi()["paths"].items():
        if "{tenant}" in path:
            continue
        for method, op in item.items():
            body = op.get("requestBody")
            if body:
                out.append((method.upper(), path, list(body.get("content", {}))))
    return out


def _fill(path: str, eid: str) -> str:
    values = {"namespace": NS, "flowId": "fuzzed", "id": "fuzzed", "executionId": eid}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "k"), path)


def _not_kv(raw: redis.Redis) -> frozenset[bytes]:
    """Every key but the KV store's ({"x": "[[..."} is a fine KV value, stored)."""
    return frozenset(k for k in raw.scan_iter() if not k.startswith(b"ostra:kv:"))


def _chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b"[" * 8192
        sent += 8192


def test_bounds_fuzz_deep_and_huge_bodies(fuzz_db: tuple[Client, redis.Redis, str]) -> None:
    client, raw, eid = fuzz_db
    app = create_app(client, token="", max_body=MAX_BODY)
    routes = _body_routes(app)
    assert len(routes) >= 6, routes  # deploy, update, submit, replay (x2), KV put
    http = TestClient(app, raise_server_exceptions=False)
    bodies: list[tuple[str, bytes]] = [
        ("application/json", b"[" * 60_000 + b"]" * 4_000),  # deep, unbalanced (the limit)
        ("application/json", ("[" * 30_000 + "]" * 30_000).encode()),
        ("application/json", ('{"x": ' + "[" * 5_000 + "]" * 5_000 + "}").encode()),
        ("application/json", ('{"x": "' + "[" * 5_000 + "]" * 5_000 + '"}').encode()),
        ("application/json", b'{"x": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001),
        ("application/json", b"\xff\xfe{\x00"),
        ("application/x-yaml", ("v: " + "[" * 20_000 + "]" * 20_000).encode()),
        ("application/x-yaml", ("v:\n" + "".join(" " * i + "- \n" for i in range(2_000))).encode()),
        ("application/x-yaml", b"a: &a [" + b"*a, " * 10 + b"]"),
        ("application/x-www-form-urlencoded", ("x=" + "[" * 20_000 + "]" * 20_000).encode()),
    ]
    before = stored(client), _not_kv(raw)
    problems: list[str] = []
    for method, path, media_types in routes:
        url = _fill(path, eid)
        for media, body in bodies:
            r = http.request(method, url, content=body, headers={"Content-Type": media})
            if r.status_code >= 500:
                problems.append(
                    f"{method} {path} {media} {body[:20]!r}: {r.status_code} {r.text[:200]}"
                )
        own = {"Content-Type": media_types[0]}  # past the media type check
        huge = b"[" * (MAX_BODY + 1)
        r = http.request(method, url, content=huge, headers=own)
        if r.status_code != 413:
            problems.append(f"{method} {path} huge: {r.status_code} {r.text[:200]}")
        r = http.request(method, url, content=_chunks(4 * MAX_BODY), headers=own)
        if r.status_code != 413:
            problems.append(f"{method} {path} huge chunked: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)
    assert (stored(client), _not_kv(raw)) == before
