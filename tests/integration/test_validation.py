"""Bad flows and bad inputs: one error listing every problem, and nothing stored."""

from __future__ import annotations

import pytest

from executor import Client, FlowValidationError, InputValidationError, StateType
from tests.conftest import stored

pytestmark = pytest.mark.integration

BAD_FLOWS = {
    "duplicate ids": (
        """
id: dup
namespace: tests.bad
tasks:
  - {id: a, type: Log, message: m}
  - {id: a, type: Log, message: m}
""",
        {"tasks[1].id": "duplicate task id 'a'"},
    ),
    "unknown type": (
        """
id: unknown
namespace: tests.bad
tasks:
  - {id: a, type: io.kestra.plugin.Nope}
""",
        {"tasks[0].type": "unknown task type"},
    ),
    "missing property": (
        """
id: missing
namespace: tests.bad
tasks:
  - {id: a, type: Return}
""",
        {"tasks[0].format": ""},
    ),
    "bad duration": (
        """
id: duration
namespace: tests.bad
tasks:
  - {id: a, type: Sleep, duration: ten minutes, timeout: soon}
""",
        {"tasks[0].duration": "", "tasks[0].timeout": ""},
    ),
    "bad retry": (
        """
id: retry
namespace: tests.bad
tasks:
  - {id: a, type: Log, message: m, retry: {type: linear, interval: PT1S, maxAttempts: 2}}
""",
        {"tasks[0].retry": ""},
    ),
    "bad input definition": (
        """
id: inputdef
namespace: tests.bad
inputs:
  - {id: pick, type: SELECT}
  - {id: n, type: INT, defaults: many}
tasks:
  - {id: a, type: Log, message: m}
""",
        {"inputs[0]": "", "inputs[1]": ""},
    ),
}


@pytest.mark.parametrize("case", list(BAD_FLOWS), ids=list(BAD_FLOWS))
def test_bad_flow_is_refused_with_every_problem_and_nothing_stored(
    client: Client, case: str
) -> None:
    text, expected = BAD_FLOWS[case]
    before = stored(client)
    for action in (client.deploy, client.submit):
        with pytest.raises(FlowValidationError) as info:
            action(text)
        found = {p.path: p.message for p in info.value.problems}
        for path, fragment in expected.items():
            matching = [m for p, m in found.items() if p.startswith(path)]
            assert matching, f"no problem at {path}: {found}"
            assert any(fragment in m for m in matching), found
        assert str(info.value).startswith("invalid flow")
    assert stored(client) == before


def test_secret_input_is_not_echoed(client: Client) -> None:
    text = """
id: secret
namespace: tests.bad
inputs:
  - {id: token, type: SECRET}
  - {id: n, type: INT}
tasks:
  - {id: a, type: Log, message: m}
"""
    with pytest.raises(InputValidationError) as info:
        client.submit(text, inputs={"token": {"k": "hunter2-very-secret"}, "n": "12x"})
    assert {p.path for p in info.value.problems} == {"inputs.token", "inputs.n"}
    assert "hunter2" not in str(info.value)
    assert "12x" in str(info.value)  # a plain input's bad value is shown


def test_user_task_type_from_task_modules(run, client: Client) -> None:
    done = run("""
id: custom
namespace: tests
tasks:
  - id: hi
    type: Hello
    name: "{{ flow.id }}"
    times: 2
  - id: canonical
    type: acme.greetings.Hello
    name: again
""")
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("hi").outputs == {"greeting": "hello custom hello custom"}
    assert done.task_run("canonical").outputs == {"greeting": "hello again"}
    assert [m.value for m in client.metrics(done.id) if m.name == "greetings"] == [2, 1]
