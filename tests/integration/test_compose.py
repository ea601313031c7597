"""``docker-compose.yml``, checked without Docker (there is no engine here).

The file is parsed with PyYAML and its ``${VAR...}`` references are substituted from
``ENV`` (compose's rules: ``:?`` refuses an unset or empty variable, ``:-`` gives a
default). Static tests check the security defaults (Redis durable and password-protected,
every published port on 127.0.0.1, no default secret, workers scalable). Then every
service but ``redis`` is run here as a subprocess, with the same argv and environment as
in its container, except that the host ``redis:6379`` becomes a local ``EmbeddedRedis``
started with the same password, ``0.0.0.0`` becomes ``127.0.0.1`` and container ports
become free local ports: the orchestration loop re-sends a lost task run, a worker runs
the execution to SUCCESS, Flower answers only with its credentials, lists the worker and
shows each job as ``<namespace>.<flowId> <taskId> execution=<id>`` and never an input,
and the API answers ``/health`` and refuses requests without the token.

Every process started here is stopped by its PID in the ``stack`` fixture's finalizer.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from executor import Client, Flow, StateType
from executor.celery_config import celery_config
from executor.embedded import EmbeddedRedis, free_port
from executor.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
BIN = Path(sys.executable).parent

#: What a user puts in ``.env``; each must be required by the compose file.
ENV = {
    "REDIS_PASSWORD": "compose-redis-7f3a9c61",
    "OSTRA_API_TOKEN": "compose-api-token-2b8e41d0",
    "FLOWER_USER": "ostra-admin",
    "FLOWER_PASSWORD": "compose-flower-5d1c77e2",
    "OSTRA_ENCRYPTION_KEY": "Y29tcG9zZS1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcyE=",
}
SECRET_VALUES = (
    ENV["REDIS_PASSWORD"],
    ENV["OSTRA_API_TOKEN"],
    ENV["FLOWER_PASSWORD"],
    ENV["OSTRA_ENCRYPTION_KEY"],
)
SECRET_INPUT = "s3cr3t-value"
LOOPBACK = {"127.0.0.1", "::1"}
HOSTNAME = socket.gethostname()

SECRETIVE_FLOW = """
id: secretive
namespace: tests.compose
inputs:
  - id: token
    type: STRING
tasks:
  - id: greet
    type: Return
    format: "got {{ inputs.token }}"
  - id: flaky
    type: Commands
    retry: {type: constant, interval: PT0.2S, maxAttempts: 2}
    commands:
      - test {{ taskrun.attemptsCount }} -ge 1
  - id: say
    type: Log
    message: "{{ outputs.greet.value }}"
"""

HELLO_FLOW = """
id: hello
namespace: tests.compose
tasks:
  - id: greet
    type: Return
    format: hello
"""


# ---------------------------------------------------------------- compose, read as compose does


class MissingVariable(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty: compose refuses to start."""


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, env: dict[str, str]) -> str:
    """``text`` with compose's variable references replaced from ``env``."""

    def one(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["named"]
        op, arg = m["op"] or "", m["arg"] or ""
        value = env.get(name)
        missing = value is None or (op.startswith(":") and value == "")
        if op.endswith("?"):
            if missing:
                raise MissingVariable(f"{name}: {arg or 'required'}")
            return value or ""
        if op.endswith("-"):
            return arg if missing else (value or "")
        if op.endswith("+"):
            return "" if missing else arg
        return value or ""

    return _VAR.sub(one, text)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def load_compose(env: dict[str, str] = ENV) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return interpolate_tree(raw, env)  # type: ignore[no-any-return]


def argv_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    if isinstance(command, str):
        return shlex.split(command)
    assert all(isinstance(a, str) for a in command), f"non-string argument in {command!r}"
    return list(command)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    for key, value in env.items():
        assert not isinstance(value, bool), f"{key}: compose refuses booleans, quote it"
    return {k: "" if v is None else str(v) for k, v in env.items()}


@dataclass(frozen=True)
class Published:
    host_ip: str | None
    host_port: str
    target: int


def published_ports(service: dict[str, Any]) -> list[Published]:
    found = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            found.append(
                Published(
                    entry.get("host_ip"), str(entry.get("published", "")), int(entry["target"])
                )
            )
            continue
        spec = str(entry).split("/", 1)[0]
        ip: str | None = None
        if spec.startswith("["):
            ip, spec = spec[1:].split("]:", 1)
        parts = spec.split(":")
        if ip is None and len(parts) == 3:
            ip = parts.pop(0)
        host = parts[0] if len(parts) == 2 else ""
        found.append(Published(ip, host, int(parts[-1])))
    return found


def option(argv: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in ``argv``."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def seconds(duration: str) -> float:
    """A compose duration (``45s``, ``1m30s``, ``500ms``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    assert set(found) >= {"redis", "api", "orchestration", "worker", "flower"}
    return found


# ---------------------------------------------------------------- static checks


def test_every_secret_is_required_and_has_no_default() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for name in ENV:
        assert "${" + name + ":?" in text, f"{name} must be required (${{{name}:?...}})"
        assert not re.search(r"\$\{" + name + r":?[-+]", text), f"{name} must have no default"
        for refused in ({k: v for k, v in ENV.items() if k != name}, {**ENV, name: ""}):
            with pytest.raises(MissingVariable, match=name):
                load_compose(refused)


def test_shared_environment_comes_from_an_anchor(services: dict[str, dict[str, Any]]) -> None:
    assert "x-common" in yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert "&common" in COMPOSE_FILE.read_text(encoding="utf-8")
    url = f"redis://:{ENV['REDIS_PASSWORD']}@redis:6379/0"
    for name, service in services.items():
        if name == "redis":
            continue
        env = environment_of(service)
        assert env["OSTRA_REDIS_URL"] == url, name
        assert ("OSTRA_API_TOKEN" in env) == (name == "api"), f"{name}: the token is the api's"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def redis_argv(service: dict[str, Any], tmp: Path) -> list[str]:
    """The redis service's ``sh -c`` script run here: the config file it writes (in
    ``tmp``) and the redis-server argv it execs."""
    argv = argv_of(service)
    assert argv[:2] == ["sh", "-c"], argv
    script = argv[2].replace("/tmp/auth.conf", str(tmp / "auth.conf"))
    subprocess.run(
        ["sh", "-c", script.split("&& exec", 1)[0]],
        env={**os.environ, **environment_of(service)},
        check=True,
    )
    return shlex.split(script.split("&& exec", 1)[1])


def test_redis_is_durable_and_needs_the_password(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    redis_service = services["redis"]
    assert re.fullmatch(r"redis:7\.\d+\.\d+", str(redis_service["image"])), "pin the version"
    argv = redis_argv(redis_service, tmp_path)
    assert argv[0] == "redis-server"
    assert option(argv, "--appendonly") == "yes"
    assert option(argv, "--appendfsync") == "everysec"
    # the password from the environment into a file only the container sees
    assert (tmp_path / "auth.conf").read_text() == f'requirepass "{ENV["REDIS_PASSWORD"]}"\n'
    assert (tmp_path / "auth.conf").stat().st_mode & 0o077 == 0
    assert any(str(v).endswith(":/data") for v in redis_service["volumes"]), "no data volume"
    check = redis_service["healthcheck"]["test"]
    check_text = " ".join(check) if isinstance(check, list) else check
    # The healthcheck authenticates (REDISCLI_AUTH) and needs a real PONG: without the
    # password redis-cli prints NOAUTH and still exits 0.
    assert (
        environment_of(redis_service).get("REDISCLI_AUTH") == ENV["REDIS_PASSWORD"]
        or ENV["REDIS_PASSWORD"] in check_text
    )
    assert "PONG" in check_text


def test_no_secret_is_on_a_command_line(services: dict[str, dict[str, Any]]) -> None:
    # `ps` and `docker inspect` (Args) show commands: credentials come from the
    # environment or files only
    for name, service in services.items():
        command = " ".join(argv_of(service))
        for value in SECRET_VALUES:
            assert value not in command, f"{name}: a secret on its command line"
        check = (service.get("healthcheck") or {}).get("test") or []
        for value in SECRET_VALUES:
            assert value not in " ".join(check), f"{name}: a secret in its healthcheck"


def test_images_are_pinned_logs_rotated_and_flower_state_kept(
    services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    from executor import __version__

    for name, service in services.items():
        image = str(service["image"])
        assert ":" in image and not image.endswith((":latest", ":local", ":7")), name
        logging = service["logging"]
        assert logging["driver"] == "json-file" and logging["options"]["max-size"], name
    assert services["api"]["image"] == f"ostra:{__version__}"
    flower_argv = argv_of(services["flower"])
    assert option(flower_argv, "--persistent") == "True"
    db = option(flower_argv, "--db") or ""
    assert any(db.startswith(v.split(":", 1)[1] + "/") for v in services["flower"]["volumes"])
    assert "flower-data" in compose["volumes"]
    example = (ROOT / ".env.example").read_text()
    for variable in ENV:
        assert re.search(rf"^{variable}=", example, re.M), f".env.example lacks {variable}"


def test_worker_and_orchestration_have_health_checks(services: dict[str, dict[str, Any]]) -> None:
    for name in ("worker", "orchestration", "api", "flower", "redis"):
        assert services[name]["healthcheck"]["test"], name
    check = " ".join(services["worker"]["healthcheck"]["test"])
    # its own node: the name it is given, on its own container's hostname
    assert "inspect ping --destination ostra-worker@$HOSTNAME" in check
    assert option(argv_of(services["worker"]), "--name") == "ostra-worker@%h"


def test_published_ports_are_bound_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert service.get("network_mode") != "host", f"{name}: host networking publishes all"
        for port in published_ports(service):
            assert port.host_ip in LOOPBACK, (
                f"{name} publishes {port.target} on all interfaces; bind it to 127.0.0.1"
            )
    assert {p.target for p in published_ports(services["api"])} == {8080}
    assert {p.target for p in published_ports(services["flower"])} == {5555}
    assert not published_ports(services["orchestration"])


def test_workers_scale_and_stop_gracefully(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert argv_of(worker)[:2] == ["ostra", "worker"]
    assert option(argv_of(worker), "--concurrency") == "2"
    assert "container_name" not in worker, "a fixed name prevents --scale worker=N"
    assert not published_ports(worker), "published ports prevent --scale worker=N"
    soft = celery_config(Settings())["worker_soft_shutdown_timeout"]
    assert seconds(worker["stop_grace_period"]) > soft


def test_flower_needs_credentials(services: dict[str, dict[str, Any]]) -> None:
    flower = services["flower"]
    argv = argv_of(flower)
    assert argv[:4] == ["celery", "-A", "workers", "flower"]
    assert option(argv, "--basic-auth") is None  # never on its command line
    auth = environment_of(flower)["FLOWER_BASIC_AUTH"]
    assert auth == f"{ENV['FLOWER_USER']}:{ENV['FLOWER_PASSWORD']}"
    assert option(argv, "--address") == "0.0.0.0"  # inside the container; published on
    assert option(argv, "--port") == "5555"  # 127.0.0.1 only (see the ports test)
    columns = option(argv, "--tasks-columns") or option(argv, "--tasks_columns") or ""
    assert "args" in columns.split(","), "the Tasks page must show each job's readable line"
    for name, service in services.items():
        assert "FLOWER_UNAUTHENTICATED_API" not in environment_of(service), name


def test_dockerfile_runs_as_a_user_without_secrets() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [
        line.strip()
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert all(
        re.fullmatch(r"python:3\.11\.\d+-slim", line.split()[1])  # pinned to a patch version
        for line in lines
        if line.upper().startswith("FROM ")
    )
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert any("pip install" in line for line in lines)
    assert not any("[test]" in line or "pip install -e" in line for line in lines)
    for line in lines:
        if line.upper().startswith(("ENV ", "ARG ")):
            assert not re.search(r"PASSWORD|TOKEN|SECRET|REDIS_URL", line, re.I), line
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").split()
    assert {".env", ".git"} <= set(ignored)


# ---------------------------------------------------------------- the services, run here


@dataclass
class Service:
    """One compose service run as a local subprocess."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ports: dict[int, int]
    log: Path
    cwd: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Service:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OSTRA_", "FLOWER_"))}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env={**base, **self.env},
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM by PID; SIGKILL of its process group (its pool) if it hangs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class Stack:
    """The compose services, started on demand against one local Redis."""

    def __init__(
        self, services: dict[str, dict[str, Any]], server: EmbeddedRedis, workdir: Path
    ) -> None:
        self.definitions = services
        self.server = server
        self.workdir = workdir
        self.running: dict[str, Service] = {}
        self._client: Client | None = None

    def localize(self, name: str) -> Service:
        """Service ``name`` with local Redis, local addresses and free local ports."""
        definition = self.definitions[name]
        ports = {p.target: free_port() for p in published_ports(definition)}

        def adapt(arg: str) -> str:
            arg = arg.replace("0.0.0.0", "127.0.0.1")
            arg = arg.replace("/home/ostra/flower", str(self.workdir))  # Flower's volume
            for target, local in ports.items():
                if arg == str(target):
                    return str(local)
                if arg.endswith(f"={target}"):
                    return arg[: -len(str(target))] + str(local)
            return arg

        argv = [adapt(a) for a in argv_of(definition)]
        assert argv[0] in ("ostra", "celery"), f"{name}: unexpected program {argv[0]}"
        argv[0] = str(BIN / argv[0])
        env = {
            k: v.replace("redis:6379", f"127.0.0.1:{self.server.port}")
            for k, v in environment_of(definition).items()
        }
        assert env["OSTRA_REDIS_URL"] == self.server.url, "not the redis service's password"
        return Service(name, argv, env, ports, self.workdir / f"{name}.log", self.workdir)

    def start(self, name: str) -> Service:
        if name not in self.running:
            self.running[name] = self.localize(name).start()
        return self.running[name]

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.server.url)
        return self._client

    def close(self) -> None:
        for service in reversed(list(self.running.values())):
            service.stop()
        if self._client is not None:
            self._client.orchestrator.dispatcher.app.close()
            self._client.store.r.close()


@pytest.fixture(scope="module")
def stack(
    services: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    password = environment_of(services["redis"])["REDIS_PASSWORD"]
    server = EmbeddedRedis(tmp_path_factory.mktemp("compose-redis"), password=password)
    server.start()
    running = Stack(services, server, tmp_path_factory.mktemp("compose-services"))
    try:
        yield running
    finally:
        running.close()
        server.close()


def wait_for(check: Callable[[], Any], what: str, *services: Service, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true; fail early if a service died."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        for service in services:
            if not service.alive():
                pytest.fail(
                    f"{service.name} exited while waiting for {what}:\n{service.output()[-3000:]}"
                )
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {s.name}\n{s.output()[-2000:]}" for s in services)
            pytest.fail(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.2)


def http(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET ``url``: (status, body); status 0 when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


FLOWER_AUTH = basic(ENV["FLOWER_USER"], ENV["FLOWER_PASSWORD"])


def test_orchestration_resends_a_lost_task_run_and_the_worker_runs_it(stack: Stack) -> None:
    orchestration = stack.start("orchestration")
    wait_for(
        lambda: "reconciling every" in orchestration.output(),
        "the orchestration loop to connect",
        orchestration,
    )
    assert ENV["REDIS_PASSWORD"] not in orchestration.output()

    client = stack.client
    execution = client.submit(Flow.from_yaml(HELLO_FLOW))
    queue = client.settings.queue
    broker = redis.Redis.from_url(stack.server.url)
    try:
        # No worker yet: lose the message, as a crash of Redis' last second could.
        assert broker.llen(queue) == 1
        broker.delete(queue)
        task_run = client.get(execution.id).task_run("greet")
        client.store.set_active(execution.id, task_run.id, time.time() - 1)  # grace is over
        wait_for(
            lambda: broker.llen(queue) == 1,
            "the orchestration to send it again",
            orchestration,
            timeout=25,
        )
    finally:
        broker.close()

    worker = stack.start("worker")
    done = client.wait(execution.id, timeout=60)
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("greet").outputs == {"value": "hello"}
    assert worker.alive() and orchestration.alive()


@dataclass
class FlowerView:
    """What Flower showed about one execution of SECRETIVE_FLOW."""

    base: str
    execution_id: str
    tasks: dict[str, dict[str, Any]]
    bodies: dict[str, str]


@pytest.fixture(scope="module")
def flower(stack: Stack) -> Service:
    worker = stack.start("worker")
    flower = stack.start("flower")
    base = f"http://127.0.0.1:{flower.ports[5555]}"
    wait_for(lambda: http(f"{base}/healthcheck")[0] == 200, "flower to answer", flower)

    def worker_online() -> bool:
        status, body = http(f"{base}/api/workers?status=1", FLOWER_AUTH)
        return status == 200 and any(
            name == f"ostra-worker@{HOSTNAME}" and alive for name, alive in json.loads(body).items()
        )

    # Online from its heartbeat events: Flower's event receiver is connected.
    wait_for(worker_online, "flower to see the worker online", flower, worker)
    return flower


@pytest.fixture(scope="module")
def flower_view(stack: Stack, flower: Service) -> FlowerView:
    base = f"http://127.0.0.1:{flower.ports[5555]}"
    client = stack.client
    execution = client.submit(Flow.from_yaml(SECRETIVE_FLOW), inputs={"token": SECRET_INPUT})
    done = client.wait(execution.id, timeout=60)
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("greet").outputs == {"value": f"got {SECRET_INPUT}"}

    def jobs() -> dict[str, dict[str, Any]] | None:
        status, body = http(f"{base}/api/tasks", FLOWER_AUTH)
        if status != 200:
            return None
        mine = {k: t for k, t in json.loads(body).items() if execution.id in (t["args"] or "")}
        ended = len(mine) == 3 and all(t["state"] == "SUCCESS" for t in mine.values())
        return mine if ended else None

    tasks = wait_for(jobs, "flower to show the execution's jobs", flower, timeout=20)
    bodies = {
        path: http(f"{base}{path}", FLOWER_AUTH)[1]
        for path in (
            "/api/tasks",
            "/api/workers",
            "/api/workers?refresh=1",
            "/api/task/types",
            "/tasks/datatable?draw=1&start=0&length=100&search%5Bvalue%5D="
            "&order%5B0%5D%5Bcolumn%5D=0&order%5B0%5D%5Bdir%5D=asc&columns%5B0%5D%5Bdata%5D=name",
        )
    }
    bodies.update(
        {
            f"/api/task/info/{uuid}": http(f"{base}/api/task/info/{uuid}", FLOWER_AUTH)[1]
            for uuid in tasks
        }
    )
    bodies["/metrics (no credentials)"] = http(f"{base}/metrics")[1]
    bodies["flower's own log"] = flower.output()
    return FlowerView(base, execution.id, tasks, bodies)


def test_flower_refuses_requests_without_credentials(flower: Service) -> None:
    base = f"http://127.0.0.1:{flower.ports[5555]}"
    for path in ("/", "/tasks", "/api/workers", "/api/tasks"):
        assert http(f"{base}{path}")[0] == 401, path
        assert http(f"{base}{path}", basic(ENV["FLOWER_USER"], "wrong"))[0] == 401, path
    assert http(f"{base}/", FLOWER_AUTH)[0] == 200
    assert http(f"{base}/api/workers", FLOWER_AUTH)[0] == 200


def test_flower_lists_the_worker(stack: Stack, flower: Service) -> None:
    base = f"http://127.0.0.1:{flower.ports[5555]}"
    status, body = http(f"{base}/api/workers?refresh=1", FLOWER_AUTH)
    assert status == 200
    assert stack.running["worker"].alive()
    name = f"ostra-worker@{HOSTNAME}"  # --name ostra-worker@%h
    workers = json.loads(body)
    assert name in workers, list(workers)
    assert "ostra.run_task_run" in workers[name]["registered"]
    assert [q["name"] for q in workers[name]["active_queues"]] == ["ostra"]


def run_healthcheck(stack: Stack, name: str, hostname: str = HOSTNAME) -> int:
    """Service ``name``'s healthcheck, run here with its environment; its exit code."""
    test = stack.definitions[name]["healthcheck"]["test"]
    kind, *rest = test
    argv = ["sh", "-c", rest[0]] if kind == "CMD-SHELL" else rest
    env = {**os.environ, **stack.localize(name).env, "HOSTNAME": hostname}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False).returncode


def test_the_health_checks_of_worker_and_orchestration_pass_here(
    stack: Stack, flower: Service
) -> None:
    assert run_healthcheck(stack, "worker") == 0  # the worker started by the flower fixture
    assert run_healthcheck(stack, "worker", hostname="not-this-one") != 0  # its own node only
    assert run_healthcheck(stack, "orchestration") == 0


def test_flower_shows_jobs_by_flow_task_and_execution(flower_view: FlowerView) -> None:
    eid = flower_view.execution_id
    jobs = flower_view.tasks.values()
    assert {t["name"] for t in jobs} == {"ostra.run_task_run"}
    assert {t["kwargs"] for t in jobs} == {"{}"}
    shown = {t["args"] for t in jobs if not t["retries"]}
    assert shown == {
        f"tests.compose.secretive greet execution={eid}",
        f"tests.compose.secretive say execution={eid}",
    }
    (retried,) = [t for t in jobs if t["retries"]]
    assert retried["retries"] == 1  # one Celery retry: the task run's second attempt
    assert retried["state"] == "SUCCESS"


def test_flower_keeps_the_readable_line_of_a_retried_job(flower_view: FlowerView) -> None:
    (retried,) = [t for t in flower_view.tasks.values() if t["retries"]]
    assert retried["args"] == f"tests.compose.secretive flaky execution={flower_view.execution_id}"


def test_flower_tasks_page_finds_an_execution_by_id(flower_view: FlowerView) -> None:
    status, page = http(f"{flower_view.base}/tasks", FLOWER_AUTH)
    assert status == 200 and 'data-column="args"' in page
    query = urllib.parse.urlencode(
        {
            "draw": 1,
            "start": 0,
            "length": 100,
            "search[value]": flower_view.execution_id,
            "order[0][column]": 0,
            "order[0][dir]": "asc",
            "columns[0][data]": "received",
        }
    )
    status, body = http(f"{flower_view.base}/tasks/datatable?{query}", FLOWER_AUTH)
    assert status == 200, body
    found = json.loads(body)["data"]
    assert {t["uuid"] for t in found} == set(flower_view.tasks)


def test_flower_never_shows_inputs_or_passwords(flower_view: FlowerView) -> None:
    assert len(flower_view.bodies["/api/tasks"]) > 100
    for where, body in flower_view.bodies.items():
        assert SECRET_INPUT not in body, f"the input value leaks through {where}"
        for secret in SECRET_VALUES:
            assert secret not in body, f"a password or token leaks through {where}"


def _api_server_exists() -> bool:
    try:
        result = subprocess.run(
            [str(BIN / "ostra"), "server", "api", "--help"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.mark.skipif(not _api_server_exists(), reason="`ostra server api` does not exist yet")
def test_api_answers_health_and_requires_the_token(stack: Stack) -> None:
    api = stack.start("api")
    base = f"http://127.0.0.1:{api.ports[8080]}"
    wait_for(lambda: http(f"{base}/health")[0] == 200, "the api to answer /health", api)
    search = f"{base}/api/v1/executions/search"
    assert http(search)[0] == 401
    assert http(search, {"Authorization": "Bearer wrong-token"})[0] == 401
    status, body = http(search, {"Authorization": f"Bearer {ENV['OSTRA_API_TOKEN']}"})
    assert status == 200, body
    json.loads(body)
    assert ENV["OSTRA_API_TOKEN"] not in api.output()
    assert ENV["REDIS_PASSWORD"] not in api.output()
