from executor import StateType


def test_outputs_flow_between_tasks(run) -> None:
    done = run(
        """
id: smoke
namespace: tests
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: Return
    format: "hello {{ inputs.name }}"
  - id: shout
    type: Return
    format: "{{ outputs.greet.value | upper }}"
""",
        {"name": "Ada"},
    )
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("shout").outputs == {"value": "HELLO ADA"}
