"""OpenTelemetry traces: one trace per execution, a span per task run and per attempt.

Off unless configured with the standard variables: ``OTEL_TRACES_EXPORTER`` (``otlp``,
``console``, or Ostra's ``file``: JSON lines appended to ``OSTRA_OTEL_FILE``; ``none``
is off) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (then ``otlp``); ``OTEL_SERVICE_NAME`` names
the service (default ``ostra``), ``OTEL_RESOURCE_ATTRIBUTES`` and the OTLP variables are
read by the SDK. When off, every function here is one branch.

An execution runs in many processes on many machines, and no process sees it from start
to end. So its trace context is **derived from its id**: the trace id and the
execution span's id are hashes of the execution id, and a task run span's id a hash of
the execution and task run ids. Every process (API, workers, reconciler, after a
restart) knows the execution's ``traceparent`` (:func:`traceparent`) without a read, and
it is carried in the ``traceparent`` header of every task run message. Spans are
exported by the process that sees their end, with their real start time:

- ``execution NS.FLOW`` (root; kind SERVER): when the execution ends, from its creation;
- ``task run TASK`` (child of the execution): when the task run ends on a worker, from
  its first attempt's start;
- ``attempt N TASK`` (child of the task run): live around the attempt in the worker
  process that runs it (the current span while it runs: log lines carry its ids).

A worker's pool processes start tracing lazily, in the process that uses it (after the
fork: a batch processor's thread does not survive one), and flush before they exit
(:func:`shutdown`, from Celery's ``worker_process_shutdown``).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

log = logging.getLogger(__name__)

_OFF = {"", "none"}
_ERROR_STATES = ("FAILED", "KILLED")
_lock = threading.Lock()


@dataclass(frozen=True)
class _Process:
    """This process's tracing: where its spans go, and what says which traces are kept."""

    processor: SpanProcessor | None  # None: tracing could not start (an error was logged)
    sampler: Sampler | None
    resource: Resource | None
    scope: InstrumentationScope | None
    pid: int


_process: _Process | None = None
_atexit_registered = False


def exporter_name(env: Mapping[str, str] | None = None) -> str:
    """The exporter the environment asks for (``""`` when tracing is off)."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ""
    name = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not name and env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        name = "otlp"
    return "" if name in _OFF else name.split(",")[0].strip()


#: Whether tracing is configured in this process's environment.
ENABLED = bool(exporter_name())


def _hash(kind: str, *parts: str, bits: int) -> int:
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).digest()
    return int.from_bytes(digest[: bits // 8], "big") or 1  # never the invalid id 0


def trace_id(eid: str) -> int:
    """The trace id of execution ``eid``."""
    return _hash("trace", eid, bits=128)


def execution_span_id(eid: str) -> int:
    """The id of execution ``eid``'s span."""
    return _hash("execution", eid, bits=64)


def task_run_span_id(eid: str, trid: str) -> int:
    """The id of task run ``trid``'s span."""
    return _hash("taskrun", eid, trid, bits=64)


def traceparent(eid: str, trid: str | None = None) -> str:
    """The W3C ``traceparent`` of execution ``eid`` (of its task run ``trid``: the
    parent its attempts' spans take). Its flags say whether the trace is sampled."""
    span = task_run_span_id(eid, trid) if trid else execution_span_id(eid)
    tid = trace_id(eid)
    return f"00-{tid:032x}-{span:016x}-{'01' if _sampled(tid) else '00'}"


class _FileExporter:
    """Ostra's ``file`` exporter: one JSON object per span, appended to ``path`` (so a
    test or a shell reads what several processes exported). Each batch is one write of
    whole lines to a file opened in append mode, so the lines of several processes do
    not interleave."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        text = "".join(json.dumps(_span_record(span), default=str) + "\n" for span in spans)
        with self._lock:
            if self._file is None:
                self._file = open(self._path, "a", encoding="utf-8")
            self._file.write(text)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    return {
        "name": span.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "pid": os.getpid(),
    }


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "file":
        path = os.environ.get("OSTRA_OTEL_FILE", "")
        if not path:
            raise ValueError("OTEL_TRACES_EXPORTER=file needs OSTRA_OTEL_FILE (a file path)")
        return _FileExporter(path)
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError as exc:
            raise ValueError(
                "OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-http "
                "(pip install 'ostra[otlp]')"
            ) from exc
        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: Ostra knows otlp, console, file, none")


def _setup() -> _Process:
    """This process's tracing (made once per process: after a fork, again, as a batch
    processor's thread does not survive one). Every exporter is fed by a
    ``BatchSpanProcessor`` (``OTEL_BSP_*``): spans are exported by its thread, off the
    path of the attempt that made them."""
    global _process, _atexit_registered
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    try:
        exporter = _exporter(exporter_name())
    except ValueError as exc:
        log.error("tracing off: %s", exc)
        _process = _Process(None, None, None, None, os.getpid())
        return _process
    service = os.environ.get("OTEL_SERVICE_NAME") or "ostra"
    # The provider is kept for what it reads from the standard variables (the sampler,
    # OTEL_TRACES_SAMPLER; the resource, OTEL_RESOURCE_ATTRIBUTES). Spans are made here,
    # not by its tracer: their ids are derived, and an ended span needs none of a live
    # span's bookkeeping.
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), shutdown_on_exit=False
    )
    processor = BatchSpanProcessor(exporter)
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(shutdown)  # the API's, the executor's, a client's last spans
    scope = InstrumentationScope("ostra")
    _process = _Process(processor, provider.sampler, provider.resource, scope, os.getpid())
    return _process


def _current() -> _Process | None:
    """This process's tracing, None when tracing is off."""
    if not ENABLED:
        return None
    p = _process
    if p is None or p.pid != os.getpid():
        with _lock:
            p = _process
            if p is None or p.pid != os.getpid():
                p = _setup()
    return p if p.processor is not None else None


def _sampled(tid: int) -> bool:
    """Whether the trace ``tid`` is kept. The sampler decides as for the trace's root:
    with a ratio sampler (``OTEL_TRACES_SAMPLER=traceidratio`` or
    ``parentbased_traceidratio``) the decision depends on the trace id alone, so every
    process keeps or drops an execution's spans alike, and a trace is whole or absent."""
    p = _current()
    if p is None or p.sampler is None:
        return False
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.sampling import Decision

    # An empty context: the decision of a root, whatever span is current here.
    decision = p.sampler.should_sample(Context(), tid, "execution").decision
    return decision is Decision.RECORD_AND_SAMPLE


def shutdown() -> None:
    """Flush and stop this process's tracing (a pool process about to exit)."""
    global _process
    with _lock:
        p, _process = _process, None
    if p is not None and p.processor is not None and p.pid == os.getpid():
        p.processor.shutdown()


def _export(
    p: _Process,
    name: str,
    ids: tuple[int, int],
    parent: int | None,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any],
    kind: Any,
    error: str = "",
) -> None:
    """Hand one ended span to the processor (its thread exports it)."""
    from opentelemetry import trace as api
    from opentelemetry.sdk.trace import ReadableSpan

    sampled = api.TraceFlags(api.TraceFlags.SAMPLED)
    trace, span_id = ids
    status = api.Status(api.StatusCode.ERROR, error[:500]) if error else api.Status()
    assert p.processor is not None
    p.processor.on_end(
        ReadableSpan(
            name=name,
            context=api.SpanContext(trace, span_id, is_remote=False, trace_flags=sampled),
            parent=(
                api.SpanContext(trace, parent, is_remote=True, trace_flags=sampled)
                if parent
                else None
            ),
            resource=p.resource,
            attributes=attributes,
            kind=kind,
            status=status,
            start_time=start_ns,
            end_time=end_ns,
            instrumentation_scope=p.scope,
        )
    )


def execution_ended(
    eid: str, namespace: str, flow_id: str, state: str, created_s: float, end_s: float
) -> None:
    """Export execution ``eid``'s span (it ended in ``state`` at ``end_s``)."""
    p = _current()
    tid = trace_id(eid) if p is not None else 0
    if p is None or not _sampled(tid):
        return
    from opentelemetry.trace import SpanKind

    _export(
        p,
        f"execution {namespace}.{flow_id}",
        (tid, execution_span_id(eid)),
        None,
        int(created_s * 1e9),
        int(end_s * 1e9),
        {
            "ostra.execution.id": eid,
            "ostra.namespace": namespace,
            "ostra.flow.id": flow_id,
            "ostra.state": state,
        },
        SpanKind.SERVER,
        error=state if state in _ERROR_STATES else "",
    )


def task_run_ended(
    eid: str,
    trid: str,
    task_id: str,
    task_type: str,
    state: str,
    start_s: float,
    end_s: float,
    attempts: int,
) -> None:
    """Export task run ``trid``'s span (it ended in ``state`` after ``attempts``)."""
    p = _current()
    tid = trace_id(eid) if p is not None else 0
    if p is None or not _sampled(tid):
        return
    from opentelemetry.trace import SpanKind

    _export(
        p,
        f"task run {task_id}",
        (tid, task_run_span_id(eid, trid)),
        execution_span_id(eid),
        int(start_s * 1e9),
        int(end_s * 1e9),
        {
            "ostra.execution.id": eid,
            "ostra.task_run.id": trid,
            "ostra.task.id": task_id,
            "ostra.task.type": task_type,
            "ostra.state": state,
            "ostra.attempts": attempts,
        },
        SpanKind.INTERNAL,
        error=state if state in _ERROR_STATES else "",
    )


class AttemptSpan:
    """The span of one running attempt. Its context is the current one while the attempt
    runs, so log lines carry its ids and spans the task makes (with its own tracer) are
    its children; it is exported when the attempt ends, with the attributes set on it
    (``ostra.state`` FAILED or KILLED marks it as an error)."""

    __slots__ = ("attributes", "span_id")

    def __init__(self, span_id: int, attributes: dict[str, Any]) -> None:
        self.span_id = span_id
        self.attributes = attributes

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute of the span."""
        self.attributes[key] = value


@contextmanager
def attempt_span(
    eid: str, trid: str, task_id: str, task_type: str, attempt: int
) -> Iterator[AttemptSpan | None]:
    """The span of one attempt, current while it runs (None when tracing is off or the
    execution's trace is not sampled)."""
    import time

    p = _current()
    tid = trace_id(eid) if p is not None else 0
    if p is None or not _sampled(tid):
        yield None
        return
    from opentelemetry import context as otel_context
    from opentelemetry import trace as api

    span = AttemptSpan(
        random.getrandbits(64) or 1,
        {
            "ostra.execution.id": eid,
            "ostra.task_run.id": trid,
            "ostra.task.id": task_id,
            "ostra.task.type": task_type,
            "ostra.attempt": attempt,
        },
    )
    live = api.SpanContext(
        tid, span.span_id, is_remote=False, trace_flags=api.TraceFlags(api.TraceFlags.SAMPLED)
    )
    start = time.time_ns()
    token = otel_context.attach(api.set_span_in_context(api.NonRecordingSpan(live)))
    try:
        yield span
    finally:
        otel_context.detach(token)
        state = str(span.attributes.get("ostra.state", ""))
        _export(
            p,
            f"attempt {attempt} {task_id}",
            (tid, span.span_id),
            task_run_span_id(eid, trid),
            start,
            time.time_ns(),
            span.attributes,
            api.SpanKind.CONSUMER,
            error=state if state in _ERROR_STATES else "",
        )


_factory_installed = False


def install_log_ids() -> None:
    """When tracing is on, make every log record of this process carry the current
    span's ids (``trace_id``, ``span_id`` attributes, and at the end of the message), so
    a log line can be found from its trace and back (a record factory: it sees every
    record, whichever handler writes it)."""
    global _factory_installed
    if not ENABLED or _factory_installed:
        return
    from opentelemetry import trace as api

    make = logging.getLogRecordFactory()

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        rec = make(*args, **kwargs)
        ctx = api.get_current_span().get_span_context()
        trace, span = "", ""
        if ctx.is_valid:
            trace, span = f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
            rec.msg = f"{rec.msg} [trace_id={trace} span_id={span}]"
        rec.trace_id, rec.span_id = trace, span  # type: ignore[attr-defined]
        return rec

    logging.setLogRecordFactory(record)
    _factory_installed = True
