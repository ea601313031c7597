"""Kestra's secrets: SECRET inputs masked in logs, ``secret()`` from ``SECRET_*`` variables.

Ostra masks with a fixed ``******`` (Kestra writes one ``*`` per character, its first
nine as ``**masked*``), and masks outputs too, where Kestra leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from executor import Client, Flow
from executor.secrets import MASK
from executor.state import StateType
from tests.conftest import WORKER_ENV
from tests.helpers.secret_env import secret_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with secret_world(tmp_path_factory.mktemp("kestra-secrets"), WORKER_ENV) as (c, _):
        yield c


def _run(client: Client, text: str, inputs: dict[str, Any] | None = None) -> Any:
    execution = client.submit(Flow.from_yaml(text), inputs=inputs)
    return client.wait(execution.id, timeout=60)


# core/src/test/resources/flows/valids/input-log-secret.yaml, run by
# core/src/test/java/io/kestra/core/runners/InputsTest.java (shouldNotLogSecretInput).
INPUT_LOG_SECRET = """
id: input-log-secret
namespace: io.kestra.tests

inputs:
  - id: secret
    type: SECRET
    defaults: password

tasks:
  - id: log-secret
    type: io.kestra.plugin.core.log.Log
    message: "This is my secret: {{inputs.secret}}"
"""


def test_should_not_log_secret_input(client: Client) -> None:
    done = _run(client, INPUT_LOG_SECRET)
    assert done.state.current == StateType.SUCCESS
    assert len(done.task_run_list) == 1
    messages = [e.message for e in client.logs(done.id) if e.task_id == "log-secret"]
    assert messages == [f"This is my secret: {MASK}"]


# core/src/test/java/io/kestra/core/secret/SecretFunctionTest.java (getUnknownSecret):
# "Cannot find secret for key 'unknown_secret_key'."
UNKNOWN_SECRET = """
id: unknown-secret
namespace: io.kestra.tests
tasks:
  - id: log-secret
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('unknown_secret_key') }}"
"""


def test_get_unknown_secret(client: Client) -> None:
    done = _run(client, UNKNOWN_SECRET)
    assert done.state.current == StateType.FAILED
    errors = [e.message for e in client.logs(done.id) if e.level == "ERROR"]
    assert any("Cannot find secret for key 'unknown_secret_key'" in m for m in errors), errors
