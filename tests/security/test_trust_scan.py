"""After a flow used a secret and a SECRET input every way a flow author can (logs,
outputs and their keys, script output vars, metric names and tags, errors, the KV
store), no Redis key of any type holds either value in plaintext or in Base64."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from executor import Client, Flow
from executor.state import StateType
from tests.conftest import WORKER_ENV
from tests.helpers.secret_env import INPUT_VALUE, SECRET_VALUE, every_stored_byte, secret_world

pytestmark = pytest.mark.integration

FLOW = """
id: scan
namespace: tests.trust
inputs:
  - id: password
    type: SECRET
tasks:
  - id: log
    type: Log
    message: "secret {{ secret('plain') }} password {{ inputs.password }}"
  - id: ret
    type: Return
    format: "{{ secret('plain') }}"
  - id: values
    type: OutputValues
    values:
      plain: "{{ secret('plain') }}"
      password: "{{ inputs.password }}"
  - id: sh
    type: Commands
    env:
      TOKEN: "{{ secret('plain') }}"
      PASS: "{{ inputs.password }}"
    commands:
      - echo "token $TOKEN pass $PASS" >&2
      - echo '::{"outputs":{"tok":"'"$TOKEN"'","'"$PASS"'":1}}::'
      - echo '::{"metrics":[{"name":"m-'"$TOKEN"'","value":1,"tags":{"t":"'"$PASS"'"}}]}::'
  - id: fn
    type: Python
    function: tests.helpers.trust_funcs:echo
    kwargs: {value: "{{ secret('plain') }}"}
  - id: kv
    type: kv.Set
    allowFailure: true
    key: stash
    value: "{{ secret('plain') }}-{{ inputs.password }}"
  - id: boom
    type: Python
    allowFailure: true
    function: tests.helpers.trust_funcs:fail_with
    kwargs: {value: "{{ inputs.password }} {{ secret('plain') }}"}
"""


def forms(value: str) -> list[bytes]:
    """``value`` as it could be stored: plaintext, and Base64 (kombu's message bodies,
    Kestra's SECRET_* variables), with and without padding."""
    encoded = base64.b64encode(value.encode())
    return [value.encode(), encoded, encoded.rstrip(b"=")]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Client, redis.Redis]]:
    with secret_world(tmp_path, WORKER_ENV) as (client, server):
        raw = redis.Redis.from_url(server.url)
        yield client, raw
        raw.close()


def test_no_redis_key_holds_a_secret_or_a_secret_input(world: tuple[Client, redis.Redis]) -> None:
    client, raw = world
    execution = client.submit(Flow.from_yaml(FLOW), inputs={"password": INPUT_VALUE})
    done = client.wait(execution.id, timeout=90)
    stored = every_stored_byte(raw)
    assert execution.id.encode() in stored
    leaks = [
        (name, form)
        for name, value in (("secret", SECRET_VALUE), ("SECRET input", INPUT_VALUE))
        for form in forms(value)
        if form in stored
    ]
    assert not leaks, leaks
    states = {t.task_id: t.state.current for t in done.task_run_list}
    assert done.state.current == StateType.WARNING, states  # boom failed, allowed
    assert states["boom"] == StateType.WARNING
    # the KV store keeps values in plaintext: a secret is refused there
    assert states["kv"] == StateType.WARNING
    errors = [e.message for e in client.logs(done.id) if e.level == "ERROR"]
    assert any("kv.Set of key 'stash'" in e and "secret" in e for e in errors), errors
    ok = {t: s for t, s in states.items() if t not in ("boom", "kv")}
    assert all(s == StateType.SUCCESS for s in ok.values()), states
