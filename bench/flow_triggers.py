"""Flow triggers: Redis commands per execution, with and without a flow listening.

Starts its own ``redis-server`` and one worker node, then runs E executions of a one-task
flow (``Return``) three times, counting Redis commands (``CONFIG RESETSTAT``, then ``INFO
commandstats`` once all ended, commands inside Lua scripts included, the benchmark's own
waiting left out as far as it can be: it uses ``Client.wait``):

* **none**: no flow has a Flow trigger (the ending step checks one ``EXISTS``);
* **other**: a flow listens to another flow: each end is appended to the stream of ends
  and evaluated by the poller (run in this process), nothing fires;
* **match**: the listener matches every end: each end starts one more execution (the
  listener's own run is counted in this case's commands, per upstream execution).

Usage: ``python bench/flow_triggers.py [--executions 200] [--json]``
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from bench.throughput import command_stats  # noqa: E402
from executor import Flow  # noqa: E402
from executor.triggers.flow_trigger import FlowEndsPoller  # noqa: E402

UPSTREAM = {
    "id": "up",
    "namespace": "bench.ft",
    "tasks": [{"id": "r", "type": "Return", "format": "x"}],
}


def listener(flow_id: str) -> Flow:
    return Flow.from_dict(
        {
            "id": "listener",
            "namespace": "bench.ft",
            "tasks": [{"id": "r", "type": "Return", "format": "y"}],
            "triggers": [
                {
                    "id": "after",
                    "type": "io.kestra.plugin.core.trigger.Flow",
                    "preconditions": {
                        "id": "up",
                        "flows": [{"namespace": "bench.ft", "flowId": flow_id}],
                    },
                }
            ],
        }
    )


def run_case(b: harness.Bench, n: int, poll: bool, fires: bool) -> dict[str, Any]:
    client = b.client
    flow = client.deploy(Flow.from_dict(UPSTREAM))
    poller = FlowEndsPoller(client.orchestrator, claim_idle=30)
    b.r.config_resetstat()
    t0 = time.perf_counter()
    ids = [client.submit(flow).id for _ in range(n)]
    for eid in ids:
        client.wait(eid, timeout=120)
    fired = 0
    if poll:
        while fired < (n if fires else 0) or poller(time.time()):
            fired += poller(time.time())
        if fires:
            children = [e for e in client.search(flow_id="listener", limit=n + 10) if e.trigger]
            for e in children:
                client.wait(e.id, timeout=120)
    stats: Counter[str] = command_stats(b.r)
    total = sum(stats.values())
    return {
        "executions": n,
        "commands_per_execution": round(total / n, 2),
        "exists": stats.get("exists", 0),
        "xadd": stats.get("xadd", 0),
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__ or "")
    p.add_argument("--executions", type=int, default=200)
    args = harness.parse(p, argv)
    out: dict[str, Any] = {}
    with harness.serve(nodes=1, concurrency=2) as b:
        out["none"] = run_case(b, args.executions, poll=False, fires=False)
        b.client.deploy(listener("somebody-else"))
        out["other"] = run_case(b, args.executions, poll=True, fires=False)
        b.client.deploy(listener("up"))
        out["match"] = run_case(b, args.executions, poll=True, fires=True)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for name, res in out.items():
            print(f"{name:6s} {res}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
