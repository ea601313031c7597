"""Helpers for the REST API tests: a real uvicorn server in a thread, an SSE parser."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from executor.api.http_client import iter_sse
from executor.embedded import free_port


class ThreadServer:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@dataclass
class Sse:
    event: str
    data: Any
    id: str | None = None


def parse_sse(lines: Iterable[str]) -> list[Sse]:
    """Server-sent events from text lines (comments and ``retry`` skipped)."""
    return [Sse(name, json.loads(text), eid) for name, text, eid in iter_sse(lines)]
