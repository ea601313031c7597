"""Flow properties Kestra accepts (``core/src/main/java/io/kestra/core/models/flows/Flow.java``
and ``AbstractFlow.java``): stored and shown; unknown ones still refused; template errors
found when rendered (a warning at deploy)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from executor import Client, Flow, FlowValidationError, StateType
from executor.api.app import create_app

pytestmark = pytest.mark.integration
S = StateType

ACCEPTED = """
id: flow_properties
namespace: tests.conformance
description: every top-level property Kestra reads
labels:
  team: data
  tier: 2
variables:
  greeting: hello
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
sla:
  - id: max
    type: MAX_DURATION
    behavior: FAIL
    duration: PT1H
afterExecution:
  - id: notify
    type: io.kestra.plugin.core.log.Log
    message: done
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "{{ vars.greeting }} {{ labels.team }} {{ labels.tier }}"
"""


def test_flow_properties_are_stored_and_shown(run, client: Client) -> None:
    # Flow.java: triggers, sla, afterExecution; labels as a map (ListOrMapOfLabelDeserializer)
    deployed = client.deploy(ACCEPTED)
    shown = client.flow("tests.conformance", "flow_properties").to_dict()
    assert shown["triggers"] == [
        {"id": "nightly", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "0 2 * * *"}
    ]
    assert shown["sla"][0]["type"] == "MAX_DURATION"
    assert shown["afterExecution"][0]["id"] == "notify"
    assert shown["labels"] == {"team": "data", "tier": "2"}
    assert deployed.revision is not None
    done = run(ACCEPTED)
    assert done.state.current == S.SUCCESS
    assert done.task_run("hello").outputs == {"value": "hello data 2"}
    # afterExecution runs once the execution ended (tests/conformance/test_conf_after_execution.py)
    assert done.task_run_list[0].task_id == "hello"


def test_labels_as_a_list(run) -> None:
    done = run("""
id: flow_labels_list
namespace: tests.conformance
labels:
  - key: team
    value: data
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.team }}"
""")
    assert done.task_run("show").outputs == {"value": "data"}


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ("surprise: 1\n", "surprise"),
        ("triggers:\n  - {type: io.kestra.plugin.core.trigger.Schedule}\n", "triggers[0].id"),
        ("triggers: nightly\n", "triggers"),
        ("labels:\n  - {value: x}\n", "labels[0]"),
    ],
    ids=["unknown", "trigger-without-id", "triggers-not-a-list", "label-without-key"],
)
def test_bad_flow_properties_are_refused(client: Client, extra: str, path: str) -> None:
    text = "id: flow_bad\nnamespace: tests.conformance\n" + extra
    text += "tasks:\n  - {id: a, type: io.kestra.plugin.core.log.Log, message: m}\n"
    with pytest.raises(FlowValidationError) as info:
        client.deploy(text)
    assert path in {p.path for p in info.value.problems}


BAD_TEMPLATE = """
id: flow_template_warning
namespace: tests.conformance
tasks:
  - id: fine
    type: io.kestra.plugin.core.debug.Return
    format: ok
  - id: broken
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.fine.value | }}"
"""


def test_template_error_is_a_warning_and_fails_when_rendered(run, client: Client) -> None:
    # Kestra checks a template when it renders it: the flow deploys, the task run that
    # renders the broken template fails, the one before it succeeds.
    flow = Flow.from_yaml(BAD_TEMPLATE)
    assert [w.split(":")[0] for w in flow.warnings] == ["tasks[1].format"]
    client.deploy(flow)
    done = run(BAD_TEMPLATE)
    assert done.task_run("fine").state.current == S.SUCCESS
    assert done.task_run("broken").state.current == S.FAILED
    assert "template" in (done.task_run("broken").attempts[-1].reason or "")
    assert done.state.current == S.FAILED


def test_deploy_results_list_the_warnings(client: Client) -> None:
    # The API's deploy answer carries the warnings; a flow without any has an empty list.
    with TestClient(create_app(client, token="")) as http:
        headers = {"Content-Type": "application/x-yaml"}
        answer = http.post("/api/v1/flows", content=BAD_TEMPLATE, headers=headers)
        assert answer.status_code == 200, answer.text
        assert [w.split(":")[0] for w in answer.json()["warnings"]] == ["tasks[1].format"]
        clean = BAD_TEMPLATE.replace("| }}", "}}")
        assert http.post("/api/v1/flows", content=clean, headers=headers).json()["warnings"] == []


def test_cli_deploy_prints_the_warnings(redis_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # `ostra flow deploy` deploys the flow (exit 0) and names each warning on stderr.
    path = tmp_path / "warned.yaml"
    path.write_text(BAD_TEMPLATE)
    env = {**os.environ, "OSTRA_REDIS_URL": redis_server.url}
    proc = subprocess.run(
        [sys.executable, "-m", "executor.cli", "flow", "deploy", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "revision" in proc.stdout
    assert "warning:" in proc.stderr and "tasks[1].format" in proc.stderr
