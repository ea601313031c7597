"""Template bombs in a flow fail their render within the budget; other executions go on.

Real worker processes (the ``worker`` fixture) with the default budget (2 s, 1 MiB).
"""

from __future__ import annotations

import json
import time

import pytest

from executor import Client, Flow, StateType

CPU_BOMB = "{% for i in 1..100000 %}{% for j in 1..100000 %}{% endfor %}{% endfor %}x"
MEM_BOMB = (
    "{% set ns = namespace(l=['x']) %}{% for i in 1..64 %}"
    "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}"
)
BOMBS = {"cpu": (CPU_BOMB, "time budget"), "memory": (MEM_BOMB, "size budget")}


def _flow(where: str, bomb: str, flow_id: str) -> str:
    b = json.dumps(bomb)  # a JSON string is a YAML double-quoted scalar
    if where == "property":
        return f"""
id: {flow_id}
namespace: tests.bombs
tasks:
  - {{id: t, type: Return, format: {b}}}
"""
    if where == "outputs":
        return f"""
id: {flow_id}
namespace: tests.bombs
tasks:
  - {{id: t, type: Return, format: ok}}
outputs:
  - {{id: o, type: STRING, value: {b}}}
"""
    return f"""
id: {flow_id}
namespace: tests.bombs
tasks:
  - id: each
    type: ForEach
    values: {b}
    tasks:
      - {{id: t, type: Return, format: "{{{{ taskrun.value }}}}"}}
"""


@pytest.mark.parametrize("where", ["property", "outputs", "foreach"])
@pytest.mark.parametrize("kind", ["cpu", "memory"])
def test_bomb_fails_within_the_budget_while_another_execution_runs(
    client: Client, worker: object, where: str, kind: str
) -> None:
    bomb, message = BOMBS[kind]
    other = client.submit(
        Flow.from_yaml(f"""
id: bystander{kind}{where}
namespace: tests.bombs
tasks:
  - {{id: nap, type: Sleep, duration: PT1S}}
  - {{id: after, type: Return, format: "still here"}}
""")
    )
    start = time.monotonic()
    bad = client.submit(Flow.from_yaml(_flow(where, bomb, f"bomb{kind}{where}")))
    done = client.wait(bad.id, timeout=60)
    elapsed = time.monotonic() - start

    assert done.state.current == StateType.FAILED
    logged = " | ".join(e.message for e in client.logs(bad.id))
    assert message in logged, logged
    # the render stops at its budget (2 s), plus scheduling on a busy machine
    assert elapsed < 20
    ok = client.wait(other.id, timeout=60)
    assert ok.state.current == StateType.SUCCESS
