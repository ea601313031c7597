"""B7, schedules: how long N schedules due in the same second take to fire with 2
``ostra executor`` processes polling, and how many Redis commands one fired tick costs.

The schedules are ``--flows`` flows of N / flows Schedule triggers each, all with a
six-field cron naming one second a little after they are deployed (every trigger has the
same single tick). Two ``ostra executor`` processes (the trigger loop every
``OSTRA_TRIGGER_INTERVAL``, 0.05 s here) are started before that second. Measured:

- **fire time**: from the tick to the creation of the last of the N executions (their
  CREATED dates), and to the moment the poller saw all N (wall);
- **commands per tick**: ``INFO commandstats`` deltas from just before the tick to the
  end of the firing, divided by N, with the idle rate of the two processes (measured
  before the tick, over the same length) subtracted; the top commands are listed;
- **shares**: how many executions each process started (both claim in batches).

No worker runs: an execution's first task run waits in its queue (sending it is part of
what a fire costs). Each execution is checked to be there once, with its tick as
``trigger.date``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from executor import Flow


def _flow(i: int, per_flow: int, when: datetime) -> str:
    cron = f"{when.second} {when.minute} {when.hour} {when.day} {when.month} *"
    triggers = "\n".join(
        f'  - id: t{j}\n    type: Schedule\n    cron: "{cron}"\n    withSeconds: true'
        for j in range(per_flow)
    )
    return (
        f"id: f{i}\nnamespace: bench.triggers\n"
        "tasks:\n  - id: hello\n    type: Log\n    message: hi\n"
        f"triggers:\n{triggers}\n"
    )


def _commandstats(r: Any) -> dict[str, int]:
    stats = r.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def _delta(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b.get(k, 0) - a.get(k, 0) for k in b if b.get(k, 0) - a.get(k, 0) > 0}


def _start(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OSTRA_REDIS_URL": url,
        "OSTRA_TRIGGER_INTERVAL": "0.05",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(harness.ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "executor.cli", "executor"],
            cwd=harness.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def run(schedules: int, flows: int, lead: float, logs: Path) -> dict[str, Any]:
    flows = max(1, min(flows, schedules))
    per_flow = schedules // flows
    schedules = per_flow * flows
    with harness.serve(nodes=0) as b:
        if not lead:  # time one flow's deploy (then drop it) to know how far ahead to go
            t0 = time.monotonic()
            probe = datetime.fromtimestamp(int(time.time() + 3600), UTC)
            b.client.deploy(Flow.from_yaml(_flow(0, per_flow, probe).replace("f0", "probe")))
            b.client.store.delete_flow("bench.triggers", "probe")
            lead = max(15.0, (time.monotonic() - t0) * flows * 1.5 + 10)
        began = time.monotonic()
        tick = datetime.fromtimestamp(int(time.time() + lead), UTC)
        for i in range(flows):
            b.client.deploy(Flow.from_yaml(_flow(i, per_flow, tick)))
        deploy_s = time.monotonic() - began
        if time.time() > tick.timestamp() - 3:
            raise SystemExit(f"deploying took {deploy_s:.1f}s: raise --lead")
        procs = [_start(b.url, logs / f"executor{i}.log") for i in range(2)]
        try:
            for i in range(2):
                log = logs / f"executor{i}.log"
                deadline = time.monotonic() + 60
                while "triggers: polling" not in log.read_text(errors="replace"):
                    if time.monotonic() > deadline or procs[i].poll() is not None:
                        raise SystemExit(f"executor {i} did not start: {log.read_text()[-2000:]}")
                    time.sleep(0.05)
            # Idle: the two processes polling with nothing due.
            idle_from = _commandstats(b.r)
            idle_t0 = time.time()
            wait = tick.timestamp() - time.time() - 0.3
            time.sleep(max(0.5, wait))
            idle = _delta(idle_from, _commandstats(b.r))
            idle_s = time.time() - idle_t0
            before = _commandstats(b.r)
            index = b.client.store.k.index_namespace("bench.triggers")
            while b.r.zcard(index) < schedules:
                if time.time() > tick.timestamp() + 300:
                    raise SystemExit("not all schedules fired within 300 s")
                time.sleep(0.01)
            seen_all = time.time()
            after = _commandstats(b.r)
            window_s = seen_all - (tick.timestamp() - 0.3)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        eids = [e.decode() for e in b.r.zrange(index, 0, -1)]
        store = b.client.store
        created = []
        ticks = set()
        for eid in eids:
            ex = store.get_execution(eid)
            created.append(ex.state.histories[0].date.timestamp())
            assert ex.trigger is not None
            ticks.add(ex.trigger.variables["date"])
        assert len(eids) == schedules, (len(eids), schedules)
        assert ticks == {tick.isoformat().replace("+00:00", "Z")}, ticks
        fired = _delta(before, after)
        idle_scaled = {k: v * window_s / idle_s for k, v in idle.items()}
        net = {k: v - idle_scaled.get(k, 0.0) for k, v in fired.items()}
        total = sum(net.values())
        shares = [
            (logs / f"executor{i}.log").read_text(errors="replace").count("started execution")
            for i in range(2)
        ]
        return {
            "schedules": schedules,
            "flows": flows,
            "deploy_s": harness._r(deploy_s),
            "fire_s_to_last_created": harness._r(max(created) - tick.timestamp()),
            "fire_s_to_first_created": harness._r(min(created) - tick.timestamp()),
            "fire_s_seen_all": harness._r(seen_all - tick.timestamp()),
            "ticks_per_s": harness._r(schedules / max(1e-6, max(created) - min(created))),
            "commands_per_tick": harness._r(total / schedules),
            "commands_per_tick_raw": harness._r(sum(fired.values()) / schedules),
            "idle_commands_per_s": harness._r(sum(idle.values()) / idle_s),
            "top_commands_per_tick": {
                k: harness._r(v / schedules)
                for k, v in sorted(net.items(), key=lambda kv: -kv[1])[:8]
            },
            "shares": shares,
        }


def print_table(res: dict[str, Any]) -> None:
    harness.print_env(res["env"])
    print(f"{res['schedules']} schedules in {res['flows']} flows, all due at the same second")
    print(f"  deploy:                       {res['deploy_s']:8.2f} s")
    print(f"  first execution created after {res['fire_s_to_first_created']:8.3f} s")
    print(f"  last execution created after  {res['fire_s_to_last_created']:8.3f} s")
    print(f"  all seen after                {res['fire_s_seen_all']:8.3f} s")
    print(f"  ticks fired per second        {res['ticks_per_s']:8.0f}")
    print(f"  Redis commands per tick       {res['commands_per_tick']:8.1f}  (idle subtracted)")
    print("  top:", ", ".join(f"{k} {v}" for k, v in res["top_commands_per_tick"].items()))
    print(f"  started by each process:      {res['shares']}")


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__)
    p.add_argument("--schedules", type=int, default=10_000, help="schedules due at once")
    p.add_argument("--flows", type=int, default=100, help="flows they are spread over")
    p.add_argument(
        "--lead", type=float, default=0.0, help="seconds from now to the tick (0: measured)"
    )
    args = harness.parse(p, argv)
    env = harness.environment(worker="none (2 ostra executor processes)")
    lead = args.lead  # 0: measured (deploying all the flows, starting the pollers)
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"ostra-bench-triggers-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    res = run(max(1, args.schedules), args.flows, lead, logs)
    res["env"] = env
    harness.report(res, args.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
