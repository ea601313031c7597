"""Traces over OTLP/HTTP, the exporter operators run: a real prefork worker sends its
spans, batched by its pool processes' export threads, to a collector (here an HTTP
server in this test that decodes each request), while it keeps running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from executor import Client, Flow
from executor.embedded import EmbeddedRedis
from executor.observability import tracing
from tests.helpers.faults import make_worker

trace_service_pb2 = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="opentelemetry-exporter-otlp-proto-http is part of the test extra",
)

pytestmark = pytest.mark.integration

FLOW = """
id: otlpflow
namespace: obs.otlp
tasks:
  - {id: first, type: Return, format: hi}
  - id: boom
    type: Fail
    errorMessage: "no"
    retry: {type: constant, interval: PT0.1S, maxAttempts: 2}
"""


class Collector:
    """Receives OTLP/HTTP trace exports on 127.0.0.1 and keeps every span with its
    service name."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
                got = []
                for rs in req.resource_spans:
                    attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for scope in rs.scope_spans:
                        for s in scope.spans:
                            got.append(
                                {
                                    "path": self.path,
                                    "service": attrs.get("service.name"),
                                    "name": s.name,
                                    "trace_id": s.trace_id.hex(),
                                    "span_id": s.span_id.hex(),
                                    "parent_id": s.parent_span_id.hex() or None,
                                    "error": s.status.code == 2,  # STATUS_CODE_ERROR
                                    "attributes": {
                                        a.key: a.value.string_value or a.value.int_value
                                        for a in s.attributes
                                    },
                                }
                            )
                with collector.lock:
                    collector.spans.extend(got)
                body = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, eid: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if s["attributes"].get("ostra.execution.id") == eid]


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.server.shutdown()
    c.server.server_close()


def test_a_running_worker_exports_whole_traces_over_otlp(
    collector: Collector, tmp_path: Path
) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        w = make_worker(
            server.url,
            tmp_path,
            "otlp",
            concurrency=2,
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                "OTEL_SERVICE_NAME": "ostra-otlp-test",
                "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: exported while the worker runs
            },
        )
        client = Client(server.url)
        w.start()
        try:
            eid = client.submit(Flow.from_yaml(FLOW)).id
            assert client.wait(eid, timeout=60).state.current.value == "FAILED"
            # execution + two task runs + three attempts (boom is tried twice)
            deadline = time.monotonic() + 20
            while len(collector.of(eid)) < 6 and time.monotonic() < deadline:
                time.sleep(0.1)
            spans = collector.of(eid)
        finally:
            w.stop()
            client.store.r.close()

    by_name = {s["name"]: s for s in spans}
    assert sorted(by_name) == [
        "attempt 1 boom",
        "attempt 1 first",
        "attempt 2 boom",
        "execution obs.otlp.otlpflow",
        "task run boom",
        "task run first",
    ]
    assert {s["path"] for s in spans} == {"/v1/traces"}
    assert {s["service"] for s in spans} == {"ostra-otlp-test"}
    assert {s["trace_id"] for s in spans} == {f"{tracing.trace_id(eid):032x}"}
    root = by_name["execution obs.otlp.otlpflow"]
    assert root["parent_id"] is None and root["error"]
    for task in ("first", "boom"):
        assert by_name[f"task run {task}"]["parent_id"] == root["span_id"]
    for name in ("attempt 1 boom", "attempt 2 boom"):
        assert by_name[name]["parent_id"] == by_name["task run boom"]["span_id"]
        assert by_name[name]["error"] and by_name[name]["attributes"]["ostra.state"] == "FAILED"
    first = by_name["attempt 1 first"]
    assert not first["error"] and first["attributes"]["ostra.state"] == "SUCCESS"
    assert by_name["task run boom"]["attributes"]["ostra.attempts"] == 2
