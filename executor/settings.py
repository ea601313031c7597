"""Configuration, read from ``OSTRA_*`` environment variables.

========================  ===========================  =============================================
variable                  default                      meaning
========================  ===========================  =============================================
OSTRA_REDIS_URL           (embedded for ``run``)       Redis URL for state and the Celery broker
                                                       (``redis://``, ``rediss://``, user/password)
OSTRA_REDIS_URL_FILE      (none)                       a file holding the Redis URL (e.g. a 0600
                                                       secret file), so it is in no process
                                                       environment; not with OSTRA_REDIS_URL
OSTRA_PREFIX              ``ostra``                    prefix of every Redis key Ostra writes
OSTRA_RETENTION           ``604800`` (7 days)          seconds a finished execution is kept
OSTRA_LEASE_SECONDS       ``30``                       a running attempt's lease, renewed every
                                                       quarter of it; a worker that stops
                                                       renewing it is presumed dead; one that
                                                       cannot renew it stops the attempt
                                                       ``max(0.5, lease/10)`` s before it lapses
OSTRA_PENDING_GRACE       ``300``                      seconds a created task run may wait in the
                                                       queue before it is sent again
OSTRA_RECONCILER_BACKOFF  ``600``                      longest wait, in seconds, before the
                                                       reconciler looks again at a task run whose
                                                       sweep failed (2 s after the first failure,
                                                       doubling at each one)
OSTRA_VISIBILITY_TIMEOUT  ``3600``                     kombu visibility timeout (a backstop only)
OSTRA_MAX_DELIVERIES      ``5``                        attempts lost to dead workers before a task
                                                       run is failed (stops crash loops)
OSTRA_QUEUE               ``ostra``                    default Celery queue for task runs
OSTRA_RENDER_TIMEOUT      ``2``                        seconds one template render may run (checked
                                                       while it renders; over it, the render fails)
OSTRA_RENDER_MAX_BYTES    ``1048576`` (1 MiB)          largest value a render may build or print, in
                                                       characters
OSTRA_LOG_MAX_BYTES       ``10485760`` (10 MiB)        bytes of log entries stored per task run (all
                                                       its attempts); past it, one WARN line says
                                                       the log was truncated and the rest is dropped
OSTRA_LOG_MAX_LINES       ``100000``                   log entries stored per task run (the same)
OSTRA_LOG_LINE_MAX_BYTES  ``262144`` (256 KiB)         longest log message; a longer one is cut and
                                                       ends with ``… [N bytes cut]``
OSTRA_SECRETS             ``env``                      where ``secret('NAME')`` reads on workers:
                                                       ``env`` (``SECRET_<NAME>``, Base64),
                                                       ``file`` (OSTRA_SECRETS_DIR), or a list
                                                       tried in order (``env,file``)
OSTRA_SECRETS_DIR         (none)                       directory of the ``file`` provider: one
                                                       file per secret, named after it
OSTRA_ENCRYPTION_KEY      (none)                       Base64 AES key (16/24/32 bytes) that
                                                       encrypts SECRET inputs at rest; without
                                                       it SECRET inputs are refused. The API,
                                                       clients and workers need the same key
OSTRA_MAX_MESSAGE_BYTES   ``1048576`` (1 MiB)          largest queue message a worker accepts; a
                                                       larger one is dead-lettered
OSTRA_DEAD_LETTER_MAX     ``1000``                     entries kept in ``<prefix>:deadletter``
                                                       (poison messages, newest first)
OSTRA_PYTHON_MODULES      (none)                       comma-separated module patterns
                                                       (``myco.tasks.*``, ``etl``) whose functions
                                                       ``Python`` tasks may call; none by default
                                                       (workers refuse every function)
OSTRA_TASK_USER           (``nobody`` as root)         user that script tasks run as; unset: the
                                                       worker's user, or ``nobody`` when root
OSTRA_TASK_ENV            (none)                       comma-separated names (or patterns) of
                                                       worker variables script tasks also get
========================  ===========================  =============================================
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from executor.errors import SettingsError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: one pattern of OSTRA_PYTHON_MODULES / OSTRA_TASK_ENV (fnmatch wildcards allowed)
_PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


def split_patterns(text: str | None) -> tuple[str, ...]:
    """The non-empty comma-separated items of ``text``, stripped."""
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


class Settings(BaseSettings):
    """Ostra's settings; every field reads ``OSTRA_<NAME>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="OSTRA_", extra="ignore")

    redis_url: str | None = None
    redis_url_file: str | None = None
    prefix: str = "ostra"
    retention: int = 7 * 24 * 3600
    lease_seconds: float = 30.0
    pending_grace: float = 300.0
    reconciler_backoff: float = Field(default=600.0, gt=0)
    visibility_timeout: int = 3600
    max_deliveries: int = 5
    queue: str = "ostra"
    render_timeout: float = Field(default=2.0, gt=0)
    render_max_bytes: int = Field(default=1024 * 1024, gt=0)
    log_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_max_lines: int = Field(default=100_000, ge=1)
    log_line_max_bytes: int = Field(default=256 * 1024, ge=256)
    secrets: str = "env"
    secrets_dir: str | None = None
    encryption_key: str | None = None
    max_message_bytes: int = Field(default=1024 * 1024, gt=0)
    dead_letter_max: int = Field(default=1000, gt=0)
    python_modules: str | None = None
    task_user: str | None = None
    task_env: str | None = None
    #: Seconds between two polls of the trigger loop (schedules due, Flow triggers).
    trigger_interval: float = Field(default=0.25, gt=0)
    #: Run the trigger loop in each worker's main process too.
    worker_triggers: bool = False
    #: Flow triggers: ends read from the stream of ends per poll, and the seconds an end
    #: read by a process that did not acknowledge it (it died) waits before another
    #: process claims it.
    flow_trigger_batch: int = Field(default=100, gt=0)
    flow_trigger_claim_idle: float = Field(default=30.0, gt=0)
    #: Schedules one claim of the scheduler takes at most (it claims until none is due).
    schedule_batch: int = Field(default=100, gt=0)
    #: Seconds a process holds the schedules it claimed before others may take them.
    schedule_lease: float = Field(default=30.0, gt=0)
    #: A tick older than this (seconds) was missed: ``recoverMissedSchedules`` decides.
    schedule_late_after: float = Field(default=60.0, ge=0)
    #: Ticks that ran kept per schedule (what backfills skip once executions are purged).
    schedule_ticks_kept: int = Field(default=10_000, gt=0)
    #: Executions per second a backfill starts, unless it asks for another rate.
    backfill_rate: float = Field(default=10.0, gt=0)
    #: Largest number of ticks one backfill may cover.
    backfill_max_ticks: int = Field(default=100_000, gt=0)

    @field_validator("python_modules", "task_env")
    @classmethod
    def _patterns(cls, value: str | None) -> str | None:
        for pattern in split_patterns(value):
            if not _PATTERN.match(pattern):
                raise ValueError(
                    f"invalid pattern {pattern!r}: use names with fnmatch wildcards "
                    "(`myco.tasks.*`), separated by commas"
                )
        return value

    @model_validator(mode="after")
    def _url_from_file(self) -> Settings:
        if not self.redis_url_file:
            return self
        if self.redis_url:
            raise ValueError("set OSTRA_REDIS_URL or OSTRA_REDIS_URL_FILE, not both")
        path = Path(self.redis_url_file)
        try:
            url = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(
                f"OSTRA_REDIS_URL_FILE: cannot read {path}: {exc.strerror or exc}"
            ) from None
        if not url:
            raise ValueError(f"OSTRA_REDIS_URL_FILE: {path} is empty")
        # Read once, here: the URL lives in this object, never in the environment.
        self.redis_url = url
        return self

    @property
    def python_module_patterns(self) -> tuple[str, ...] | None:
        """OSTRA_PYTHON_MODULES as patterns; None when it is not set at all (a deploying
        process then does not check, the workers refuse every function)."""
        if self.python_modules is None:
            return None
        return split_patterns(self.python_modules)

    @property
    def url(self) -> str:
        """The Redis URL to use, falling back to a local default."""
        return self.redis_url or DEFAULT_REDIS_URL


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once); SettingsError names what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        reasons = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            where = ".".join(str(part) for part in error["loc"])
            reasons.append(f"OSTRA_{where.upper()}: {message}" if where else message)
        raise SettingsError("; ".join(reasons)) from None
