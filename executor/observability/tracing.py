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

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

_OFF = {"", "none"}
_lock = threading.Lock()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None
_pid = 0
# Span and trace ids the next span gets (derived spans), else random (see _Ids).
_forced: ContextVar[tuple[int, int] | None] = ContextVar("ostra_otel_ids", default=None)


def exporter_name(env: Mapping[str, str] | None = None) -> str:
    """The exporter the environment asks for (``""`` when tracing is off)."""
    env = os.environ if env is None else env
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
    parent its attempts' spans take)."""
    span = task_run_span_id(eid, trid) if trid else execution_span_id(eid)
    return f"00-{trace_id(eid):032x}-{span:016x}-01"


def _file_exporter(path: str) -> Any:
    """Ostra's ``file`` exporter: one JSON object per span, appended to ``path`` (so a
    test or a shell reads what several processes exported)."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class FileExporter(SpanExporter):
        def __init__(self) -> None:
            self._lock = threading.Lock()

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            lines = [json.dumps(_span_record(span), default=str) + "\n" for span in spans]
            with self._lock, open(path, "a", encoding="utf-8") as f:
                f.write("".join(lines))
            return SpanExportResult.SUCCESS

    return FileExporter()


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
        return _file_exporter(path)
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


def _setup() -> Tracer | None:
    """This process's tracer (made once per process: after a fork, again)."""
    global _provider, _tracer, _pid
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class _Ids(RandomIdGenerator):
        """Random ids, unless a derived span is being made (``_forced``)."""

        def generate_span_id(self) -> int:
            forced = _forced.get()
            return forced[1] if forced else super().generate_span_id()

        def generate_trace_id(self) -> int:
            forced = _forced.get()
            return forced[0] if forced else super().generate_trace_id()

    name = exporter_name()
    try:
        exporter = _exporter(name)
    except ValueError as exc:
        log.error("tracing off: %s", exc)
        _pid, _tracer = os.getpid(), None
        return None
    service = os.environ.get("OTEL_SERVICE_NAME") or "ostra"
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        id_generator=_Ids(),
        shutdown_on_exit=True,
    )
    if name == "file":
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider, _pid = provider, os.getpid()
    _tracer = provider.get_tracer("ostra")
    return _tracer


def tracer() -> Tracer | None:
    """This process's tracer, None when tracing is off."""
    if not ENABLED:
        return None
    if _pid != os.getpid():
        with _lock:
            if _pid != os.getpid():
                return _setup()
    return _tracer


def shutdown() -> None:
    """Flush and stop this process's tracing (a pool process about to exit)."""
    global _provider, _tracer, _pid
    with _lock:
        provider, pid = _provider, _pid
        _provider, _tracer, _pid = None, None, 0
    if provider is not None and pid == os.getpid():
        provider.shutdown()


def _parent(trace: int, span: int) -> Any:
    from opentelemetry import trace as api

    ctx = api.SpanContext(trace, span, is_remote=True, trace_flags=api.TraceFlags(1))
    return api.set_span_in_context(api.NonRecordingSpan(ctx))


def _derived(
    name: str,
    ids: tuple[int, int],
    parent: tuple[int, int] | None,
    start_s: float,
    end_s: float,
    attributes: Mapping[str, Any],
    kind: Any = None,
    error: str = "",
) -> None:
    t = tracer()
    if t is None:
        return
    from opentelemetry import context as otel_context
    from opentelemetry import trace as api

    token = _forced.set(ids)
    try:
        ctx = _parent(*parent) if parent else otel_context.Context()
        span = t.start_span(
            name,
            context=ctx,
            kind=kind or api.SpanKind.INTERNAL,
            attributes=dict(attributes),
            start_time=int(start_s * 1e9),
        )
    finally:
        _forced.reset(token)
    if error:
        span.set_status(api.Status(api.StatusCode.ERROR, error[:500]))
    span.end(end_time=int(end_s * 1e9))


def execution_ended(
    eid: str, namespace: str, flow_id: str, state: str, created_s: float, end_s: float
) -> None:
    """Export execution ``eid``'s span (it ended in ``state`` at ``end_s``)."""
    if not ENABLED:
        return
    from opentelemetry.trace import SpanKind

    _derived(
        f"execution {namespace}.{flow_id}",
        (trace_id(eid), execution_span_id(eid)),
        None,
        created_s,
        end_s,
        {
            "ostra.execution.id": eid,
            "ostra.namespace": namespace,
            "ostra.flow.id": flow_id,
            "ostra.state": state,
        },
        kind=SpanKind.SERVER,
        error=state if state in ("FAILED", "KILLED") else "",
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
    if not ENABLED:
        return
    _derived(
        f"task run {task_id}",
        (trace_id(eid), task_run_span_id(eid, trid)),
        (trace_id(eid), execution_span_id(eid)),
        start_s,
        end_s,
        {
            "ostra.execution.id": eid,
            "ostra.task_run.id": trid,
            "ostra.task.id": task_id,
            "ostra.task.type": task_type,
            "ostra.state": state,
            "ostra.attempts": attempts,
        },
        error=state if state in ("FAILED", "KILLED") else "",
    )


@contextmanager
def attempt_span(
    eid: str, trid: str, task_id: str, task_type: str, attempt: int
) -> Iterator[Span | None]:
    """The span of one attempt, current while it runs (None when tracing is off)."""
    t = tracer() if ENABLED else None
    if t is None:
        yield None
        return
    from opentelemetry import trace as api

    parent = _parent(trace_id(eid), task_run_span_id(eid, trid))
    with t.start_as_current_span(
        f"attempt {attempt} {task_id}",
        context=parent,
        kind=api.SpanKind.CONSUMER,
        attributes={
            "ostra.execution.id": eid,
            "ostra.task_run.id": trid,
            "ostra.task.id": task_id,
            "ostra.task.type": task_type,
            "ostra.attempt": attempt,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


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
