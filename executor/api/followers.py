"""What makes follow streams (``/follow``, ``/events``) cheap for the rest of the API.

A follow stream spends nearly all its life waiting for the next state change. Waiting
with a blocking ``XREAD`` in the threadpool held one of anyio's 40 threads per stream,
so a hundred streams left plain requests queueing for a thread. Here:

* ``EventHub``: one asyncio task per process reads every followed execution's event
  stream with one ``XREAD BLOCK`` (``redis.asyncio``) and wakes the streams that have
  something new. A stream waits on its ``Subscription`` (an ``asyncio.Event``): no
  thread, no connection of its own. It then reads what is new itself, without blocking,
  the same reads as before, so what a stream sends does not change.
* ``Followers``: the streams' short reads run in threads of their own (a
  ``CapacityLimiter`` of ``FOLLOW_THREADS``), never taking the default threadpool's
  tokens; and the number of open streams per process is bounded
  (``OSTRA_API_MAX_FOLLOWERS``): beyond it a stream is refused with a 503.
* ``FollowResponse``: a ``StreamingResponse`` that also listens for the client's
  disconnect (uvicorn's ASGI 2.4 would only report it at the next write), then closes
  the stream's generator and gives back its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import redis.asyncio as aredis
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from executor.client import Client
from executor.errors import TooManyFollowers
from executor.store import RedisStore

log = logging.getLogger("ostra.api")

T = TypeVar("T")

#: open follow streams one API process serves at most (``OSTRA_API_MAX_FOLLOWERS``)
DEFAULT_MAX_FOLLOWERS = 1000
#: threads the follow streams' reads share (apart from the default threadpool's)
FOLLOW_THREADS = 4
#: how long the hub's XREAD blocks: a stream opened meanwhile is read from the next one
HUB_BLOCK_MS = 250
#: entries the hub reads per stream and XREAD (it only needs the newest id)
HUB_COUNT = 100
#: seconds the hub waits before reading again after a Redis error
HUB_RETRY = 1.0
#: seconds a stream sleeps between reads when there is no hub (a store other than Redis)
POLL_INTERVAL = 0.2


def max_followers(limit: int | None) -> int:
    """The most follow streams open at once: ``limit``, else ``OSTRA_API_MAX_FOLLOWERS``,
    else 1000."""
    if limit is None:
        raw = os.environ.get("OSTRA_API_MAX_FOLLOWERS", "").strip()
        try:
            limit = int(raw) if raw else DEFAULT_MAX_FOLLOWERS
        except ValueError:
            raise ValueError(
                f"OSTRA_API_MAX_FOLLOWERS must be a number of streams, got {raw!r}"
            ) from None
    if limit < 1:
        raise ValueError(f"OSTRA_API_MAX_FOLLOWERS must be at least 1, got {limit}")
    return limit


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _stream_id(entry: tuple[int, int]) -> str:
    return f"{entry[0]}-{entry[1]}"


def _entry(stream_id: str) -> tuple[int, int]:
    """A stream id (``N-M``, ``N``, or ``N-M/i`` within an entry) as a comparable pair."""
    ms, _, seq = stream_id.partition("/")[0].partition("-")
    try:
        return int(ms or 0), int(seq or 0)
    except ValueError:
        return 0, 0


class Subscription:
    """One stream's wait for new entries in one execution's event stream."""

    def __init__(self, hub: EventHub, key: str, after: str) -> None:
        self.hub, self.key = hub, key
        self.event = asyncio.Event()
        self.position = _entry(after)

    def seen(self, last_id: str) -> None:
        """The stream has read up to ``last_id``: the reader need not read before it
        (a stream resumed from its first event does not make it read the backlog)."""
        self.position = max(self.position, _entry(last_id))
        self.hub.advance(self.key)

    def clear(self) -> None:
        """Forget earlier wake-ups: call before reading what is new."""
        self.event.clear()

    async def wait(self, timeout: float) -> bool:
        """Whether something new may have come within ``timeout`` seconds."""
        return await self.hub.wait(self, timeout)

    def close(self) -> None:
        self.hub.remove(self)


class EventHub:
    """Wakes follow streams when their execution's event stream grows: one reader
    (a ``XREAD BLOCK`` over every followed stream at once) per process and event loop.

    With ``url`` None (a store other than Redis), there is no reader: a stream's wait
    is a short sleep, after which it reads again.

    A stream subscribes *before* it reads, with the id it reads after: the reader then
    reads each stream from an id no later than what the stream has seen, so an entry
    added after the stream's read wakes it (an earlier one is in that read).
    """

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: aredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._subs: dict[str, set[Subscription]] = {}
        self._cursors: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._failing = False

    @property
    def followed(self) -> int:
        """How many subscriptions are open."""
        return sum(len(s) for s in self._subs.values())

    @contextlib.asynccontextmanager
    async def subscribe(self, key: str, after: str) -> AsyncIterator[Subscription]:
        """Wake-ups for stream ``key``, whose entries up to ``after`` the caller has
        seen (``after`` may be ``ENTRY/i``, an id within an entry)."""
        self._start()
        sub = Subscription(self, key, after)
        if key not in self._subs:
            self._subs[key] = set()
            self._cursors[key] = _stream_id(sub.position)
            self._wake.set()
        self._subs[key].add(sub)
        try:
            yield sub
        finally:
            self.remove(sub)

    def advance(self, key: str) -> None:
        """Read stream ``key`` from where every one of its subscribers has read up to,
        if that is later than where the reader is (never earlier: a later entry the
        reader saw has woken them all)."""
        subs = self._subs.get(key)
        if not subs or key not in self._cursors:
            return
        least = min(sub.position for sub in subs)
        if least > _entry(self._cursors[key]):
            self._cursors[key] = _stream_id(least)

    def remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.key)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.key]
            self._cursors.pop(sub.key, None)

    async def wait(self, sub: Subscription, timeout: float) -> bool:
        if self.url is None:
            await asyncio.sleep(min(timeout, POLL_INTERVAL))
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await sub.event.wait()
                return True
        return False

    def _start(self) -> None:
        """Start the reader in the running loop (again, if the app moved to another)."""
        if self.url is None:
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (a test's): what the old one had is gone
            self._loop = loop
            self._subs, self._cursors = {}, {}
            self._wake = asyncio.Event()
            self._redis = aredis.Redis.from_url(
                self.url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
            )
            self._task = None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="ostra-follow-hub")

    async def _run(self) -> None:
        assert self._redis is not None
        while True:
            if not self._subs:
                self._wake.clear()
                await self._wake.wait()
                continue
            streams: dict[Any, Any] = dict(self._cursors)
            try:
                res: Any = await self._redis.xread(streams, block=HUB_BLOCK_MS, count=HUB_COUNT)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis unreachable: the streams' own reads say so
                if not self._failing:
                    log.warning("api: follow streams cannot read Redis: %s", type(exc).__name__)
                self._failing = True
                self._wake_all()
                await asyncio.sleep(HUB_RETRY)
                continue
            self._failing = False
            items = res.items() if isinstance(res, dict) else (res or [])
            for raw_key, entries in items:
                key = _text(raw_key)
                if not entries or key not in self._subs:
                    continue
                self._cursors[key] = _text(entries[-1][0])
                for sub in self._subs[key]:
                    sub.event.set()

    def _wake_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.event.set()

    async def aclose(self) -> None:
        """Stop the reader and close its connection."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None
        self._loop = None


class Followers:
    """The follow streams of one API process: how many are open (at most ``limit``),
    the hub that wakes them, and the threads their reads run in."""

    def __init__(self, client: Client, limit: int) -> None:
        self.client = client
        self.limit = limit
        self.open = 0
        # The store's own Redis (a Client's store is one; with another, streams poll).
        store = getattr(client, "store", None)
        url = client.settings.url if isinstance(store, RedisStore) else None
        self.hub = EventHub(url)
        self._limiter: anyio.CapacityLimiter | None = None
        self._limiter_loop: asyncio.AbstractEventLoop | None = None

    def acquire(self) -> Callable[[], None]:
        """Take a slot for one more stream (``TooManyFollowers`` if all are taken); the
        function returned gives it back (once, however often it is called)."""
        if self.open >= self.limit:
            raise TooManyFollowers(self.limit)
        self.open += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.open -= 1

        return release

    def events_key(self, execution_id: str) -> str:
        """The Redis stream of the execution's state changes (what the hub reads)."""
        store = self.client.store
        return store.k.events(execution_id) if isinstance(store, RedisStore) else execution_id

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of the follow streams' threads."""
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter_loop is not loop:
            self._limiter = anyio.CapacityLimiter(FOLLOW_THREADS)
            self._limiter_loop = loop
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def aclose(self) -> None:
        await self.hub.aclose()


class FollowResponse(StreamingResponse):
    """A server-sent event stream that ends when the client goes away: it listens for
    the disconnect while it streams, then closes its generator (whose ``finally``
    closes the subscription) and calls ``release`` (the stream's slot)."""

    def __init__(
        self,
        content: AsyncIterator[str],
        release: Callable[[], None],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.content = content
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    # A write to a client gone away raises OSError (ASGI 2.4): the end.
                    with contextlib.suppress(OSError):
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            try:
                aclose = getattr(self.content, "aclose", None)
                if aclose is not None:
                    with anyio.CancelScope(shield=True):
                        await aclose()
            finally:
                self.release()
