"""Poison messages: kombu's Redis transport with a screen in front of the consumer.

kombu pops a message off its queue list (``BRPOP``) and parses it before anything can
reject it: one entry that is not JSON, or JSON that is not kombu's envelope (``body``,
``properties.delivery_tag``, ``delivery_info``, a Base64 body), raises inside the worker's
event loop and Celery stops (``Unrecoverable error: JSONDecodeError``). This transport
screens each popped entry first: a malformed or oversized one is logged and moved to the
dead-letter list, and the consumer goes on as if the ``BRPOP`` had timed out. The entry
was already removed from the queue by ``BRPOP`` and never reached kombu's unacked hash,
so there is nothing left to acknowledge. Broadcasts (fanout: remote control, events)
whose JSON is no envelope are dead-lettered the same way.

Messages that are well-formed envelopes but not a job this worker can run (an unknown
task name, a body that is not Celery's ``[args, kwargs, embed]``, ``ostra.run_task_run``
with wrong arguments) are screened by the worker's Celery consumer
(``workers/consumer.py``), which dead-letters them through :meth:`Channel.dead_letter` and
acknowledges them.

The dead-letter list ``<prefix>:deadletter`` holds JSON entries, newest first, at most
``OSTRA_DEAD_LETTER_MAX`` of them: ``reason``, ``queue``, ``at`` (UTC, ISO 8601),
``size`` (bytes) and ``message`` (the raw entry, cut to :data:`RAW_CHARS` characters).

Ostra's own messages (``executor/messages.py``, pushed by Lua) pass the screen as they
are; it costs one more JSON parse of a ~1 KB entry per delivery.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str

from executor.observability import metrics

log = logging.getLogger("ostra.broker")

#: This module's transport, as kombu names transports.
TRANSPORT = "executor.broker:Transport"
#: How much of a poison message a dead-letter entry keeps (characters).
RAW_CHARS = 4096
#: The envelope's body encodings kombu's virtual channel can decode.
_ENCODINGS = (None, "base64", "utf-8")


def envelope_problem(raw: bytes | str, max_bytes: int) -> str | None:
    """Why ``raw`` (one entry popped off a queue list) would stop kombu, or None.

    Checks only what kombu itself needs to build a message: its size, JSON, the
    envelope's fields and their types, and a Base64 body that decodes.
    """
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        return f"oversized: {size} bytes, over the limit of {max_bytes} (OSTRA_MAX_MESSAGE_BYTES)"
    try:
        payload = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return f"not JSON: {exc}"
    return payload_problem(payload)


def payload_problem(payload: Any) -> str | None:
    """Why ``payload`` (parsed JSON) is not an envelope kombu can build a message of."""
    if not isinstance(payload, dict):
        return f"not a kombu message: a JSON {type(payload).__name__}, not an object"
    props = payload.get("properties")
    if not isinstance(props, dict):
        return "not a kombu message: no 'properties' object"
    tag = props.get("delivery_tag")
    if not isinstance(tag, str) or not tag:
        return "not a kombu message: no 'properties.delivery_tag' string"
    info = props.get("delivery_info")
    if not isinstance(info, dict) or not all(
        isinstance(info.get(k), str) for k in ("exchange", "routing_key")
    ):
        return "not a kombu message: 'properties.delivery_info' lacks exchange/routing_key"
    for field in ("headers",):
        if payload.get(field) is not None and not isinstance(payload[field], dict):
            return f"not a kombu message: '{field}' is not an object"
    for field in ("content-type", "content-encoding"):
        if payload.get(field) is not None and not isinstance(payload[field], str):
            return f"not a kombu message: '{field}' is not a string"
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        return "not a kombu message: 'body' is not a string"
    encoding = props.get("body_encoding")
    if isinstance(encoding, str):
        encoding = encoding.lower()
    if encoding not in _ENCODINGS:
        return f"bad body encoding {props.get('body_encoding')!r} (not base64)"
    if body and encoding == "base64":
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            return f"bad base64 body: {exc}"
    return None


def dead_letter_entry(reason: str, queue: str, raw: bytes | str) -> str:
    """The JSON text of one dead-letter entry."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return json.dumps(
        {
            "reason": reason,
            "queue": queue,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "size": len(raw.encode() if isinstance(raw, str) else raw),
            "message": text[:RAW_CHARS],
        }
    )


def push_dead_letter(
    client: redis.Redis, key: str, keep: int, reason: str, queue: str, raw: bytes | str
) -> None:
    """Add one entry to the dead-letter list ``key``, keeping the newest ``keep``."""
    pipe = client.pipeline(transaction=True)
    pipe.lpush(key, dead_letter_entry(reason, queue, raw))
    pipe.ltrim(key, 0, max(keep, 1) - 1)
    pipe.execute()


def read_dead_letters(client: redis.Redis, key: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` dead-letter entries of ``key``, newest first."""
    entries: list[dict[str, Any]] = []
    for item in client.lrange(key, 0, max(limit, 1) - 1):
        try:
            entry = json.loads(item)
        except ValueError:
            entry = {"reason": "unreadable dead-letter entry", "message": repr(item)[:RAW_CHARS]}
        entries.append(entry if isinstance(entry, dict) else {"message": entry})
    return entries


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    """kombu's Redis channel, screening every entry ``BRPOP`` pops (see the module)."""

    #: Set from ``broker_transport_options`` (``executor.celery_config``).
    ostra_dead_letter_key: str = "ostra:deadletter"
    ostra_dead_letter_max: int = 1000
    ostra_max_message_bytes: int = 1024 * 1024

    from_transport_options = (
        *kombu_redis.Channel.from_transport_options,
        "ostra_dead_letter_key",
        "ostra_dead_letter_max",
        "ostra_max_message_bytes",
    )

    def _create_client(self, asynchronous: bool = False) -> Any:
        client = super()._create_client(asynchronous)  # type: ignore[misc]
        if asynchronous:
            # The consumer's client: its BRPOP replies go through the screen before
            # kombu's ``_brpop_read`` parses them. A None reply reads as a timeout
            # (``Empty``), after which kombu issues the next BRPOP as usual.
            parse = client.response_callbacks.get("BRPOP")
            client.set_response_callback("BRPOP", self._screening(parse))
        return client

    def _screening(self, parse: Any) -> Any:
        def screen(response: Any, **options: Any) -> Any:
            reply = parse(response, **options) if parse else response
            if not reply:
                return reply
            try:
                dest, item = reply
                problem = envelope_problem(item, self.ostra_max_message_bytes)
            except Exception as exc:  # never let a reply stop the consumer
                problem, dest, item = f"unreadable reply: {exc!r}", b"?", repr(reply)
            if problem is None:
                return reply
            queue = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self.dead_letter(problem, queue, item)
            return None

        return screen

    def _deliver_fanout_message(self, message: Any, exchange: str) -> bool:
        # A broadcast (PUBLISH on a fanout channel: remote control, events) is parsed by
        # kombu itself, which skips what is not JSON but not JSON that is no envelope.
        problem = payload_problem(message)
        if problem is None:
            return bool(super()._deliver_fanout_message(message, exchange))  # type: ignore[misc]
        self.dead_letter(problem, exchange, json.dumps(message))
        return False

    def dead_letter(self, reason: str, queue: str, raw: bytes | str) -> None:
        """Log a message that cannot be run and add it to the dead-letter list.

        A failure to write it is logged, not raised: the message is gone either way and
        the consumer must go on.
        """
        log.error("dead-lettered a message from queue %r: %s", queue, reason)
        metrics.count_dead_letter(queue)
        try:
            with self.conn_or_acquire() as client:
                push_dead_letter(
                    client,
                    self.ostra_dead_letter_key,
                    self.ostra_dead_letter_max,
                    reason,
                    queue,
                    raw,
                )
        except Exception:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            log.exception("could not store the dead letter; its start: %r", text[:200])


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    """kombu's Redis transport with :class:`Channel` (see :func:`install`)."""

    Channel = Channel


def install() -> None:
    """Make ``redis://`` and ``rediss://`` broker URLs use :class:`Transport` here.

    kombu picks a transport by the URL's scheme (``kombu.transport.TRANSPORT_ALIASES``);
    pointing the scheme rather than Celery's ``broker_transport`` at this transport keeps
    all else the scheme means to kombu, Celery and Flower (TLS for ``rediss://``, the URL
    they show and parse). Call it before the first broker connection of the process.
    """
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = TRANSPORT
