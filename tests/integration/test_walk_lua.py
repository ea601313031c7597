"""The Lua step that counts a flowable child's end claims the successors the engine's
rule (``executor.engine.flowables.walk_successors``) says, on every walk mode.

Random orders of child ends (seeded) are applied to a real flowable task run in Redis
and, side by side, to the rule; after each end both must name the same slots.
"""

from __future__ import annotations

import random

import pytest

from executor import Client, Flow
from executor.embedded import EmbeddedRedis
from executor.engine.flowables import make_plan, walk_successors
from executor.flowables import EACH_PARALLEL, EACH_SEQUENTIAL, FOREACH, PARALLEL, SEQUENTIAL

pytestmark = pytest.mark.integration

TASKS = "[{id: a, type: Log, message: m}, {id: b, type: Log, message: m}]"
WALKS = [
    (SEQUENTIAL, f"tasks: {TASKS}"),
    (PARALLEL, f"concurrent: 1\n    tasks: {TASKS}"),
    (PARALLEL, f"tasks: {TASKS}"),
    (FOREACH, f"values: [x, y, z, w]\n    concurrencyLimit: 2\n    tasks: {TASKS}"),
    (FOREACH, f"values: [x, y, z]\n    tasks: {TASKS}"),
    (FOREACH, f"values: [x, y, z]\n    concurrencyLimit: 0\n    tasks: {TASKS}"),
    (EACH_SEQUENTIAL, f"value: [x, y]\n    tasks: {TASKS}"),
    (EACH_PARALLEL, f"value: [x, y, z]\n    concurrent: 2\n    tasks: {TASKS}"),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("type_name", "props"), WALKS)
def test_lua_claims_what_the_rule_says(
    redis_server: EmbeddedRedis, type_name: str, props: str, seed: int
) -> None:
    client = Client(redis_server.url, prefix="walk")
    flow = Flow.from_yaml(f"""
id: walk
namespace: tests.walk
tasks:
  - id: loop
    type: {type_name}
    {props}
""")
    eid = client.submit(flow).id  # no worker: the children stay queued
    parent = client.get(eid).task_run("loop").id
    plan = make_plan(type_name, flow.task("loop").properties)
    width, total = len(plan.tasks), plan.total
    open_slots = list(plan.initial())
    claimed, bad = plan.claimed_at_start(), 0
    rng = random.Random(seed)
    while open_slots:
        slot = open_slots.pop(rng.randrange(len(open_slots)))
        klass = rng.choice(["ok", "ok", "ok", "warn", "bad"] if seed else ["ok"])
        bad += klass == "bad"
        task_id = plan.tasks[slot % width]
        iteration = slot // width if plan.values is not None else None
        counted = client.store.child_ended(
            eid, parent, f"child-{slot}", klass, task_id, iteration, False
        )
        expected, claimed = walk_successors(plan.mode, width, total, slot, bad, claimed)
        assert [s for s, _ in counted.successors] == expected, (slot, klass)
        values = plan.values or ()
        assert [v for _, v in counted.successors] == [
            values[s // width] if values else "" for s in expected
        ]
        open_slots += expected
    client.kill(eid)
    client.close()
