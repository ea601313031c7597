"""B-search: one page of ``/executions/search`` at 1k, 10k and 100k stored executions.

The same page (``Client.search_page``: the store's page and its total, then the page's
executions read, as the API's ``GET /executions/search`` does) is timed for three searches:

* **unfiltered**: the newest executions;
* **namespace+state**: ``namespace=bench.t3`` and ``state=SUCCESS``;
* **label**: ``labels={"env": "prod"}``.

Executions are seeded through the store's own steps (``RedisStore.create_execution`` and
``transition_execution``: the same keys and Lua scripts), their script calls sent in
pipelines of 1,000 instead of one round trip each (``_Seeder``). Each size is reached by
adding executions to the previous one. A tenth of them per namespace ``bench.t0`` ..
``bench.t9``, five flows, 80% SUCCESS, 10% FAILED, 10% CREATED; half labelled
``env=prod``.

Reported per search and size: the median ms of ``--reps`` pages, and the ratio of the
largest size's to the smallest's (target: <= 1.5, flat). The benchmark reports; it does
not assert. No worker: nothing runs.

Usage: ``python bench/search.py [--sizes 1000,10000,100000] [--reps 30] [--size 25] [--json]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.harness import _med, environment, parse, parser, print_env, report  # noqa: E402
from executor import Client, StateType  # noqa: E402
from executor.embedded import EmbeddedRedis  # noqa: E402
from executor.flow import Flow  # noqa: E402
from executor.models import Label  # noqa: E402
from executor.store.keys import Keys  # noqa: E402
from executor.store.redis import RedisStore, _Step  # noqa: E402

NAMESPACES = 10
FLOWS = 5
SEARCHES: dict[str, dict[str, Any]] = {
    "unfiltered": {},
    "namespace+state": {"namespace": "bench.t3", "state": StateType.SUCCESS},
    "label": {"labels": {"env": "prod"}},
}


class _Seeder(RedisStore):
    """A ``RedisStore`` whose Lua steps are queued on a pipeline (sent by ``flush``)
    instead of run one round trip each; replies are not read (every step seeded is one
    that applies: a new execution, a legal move)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self.pipe = client.pipeline(transaction=False)
        self.queued = 0

    def _call(self, name: str, step: _Step) -> dict[str, Any]:
        self._scripts[name](keys=step.keys, args=step.argv(), client=self.pipe)
        self.queued += 1
        if self.queued >= 1000:
            self.flush()
        return {"status": "OK", "state": step.args.get("to", "")}

    def flush(self) -> None:
        if self.queued:
            self.pipe.execute()  # raises on the first error reply
            self.queued = 0


def _flows() -> list[Flow]:
    return [
        Flow.from_dict(
            {
                "id": f"f{j}",
                "namespace": f"bench.t{i}",
                "tasks": [{"id": "a", "type": "Log", "message": "a"}],
            }
        ).model_copy(update={"revision": 1})
        for i in range(NAMESPACES)
        for j in range(FLOWS)
    ]


def seed(seeder: _Seeder, flows: list[Flow], start: int, stop: int) -> None:
    """Executions ``start`` .. ``stop - 1``."""
    for i in range(start, stop):
        flow = flows[(i % NAMESPACES) * FLOWS + (i // NAMESPACES) % FLOWS]
        eid = f"bench{i:08d}"
        # (namespace: i % 10; the label and the end state vary independently of it)
        labels = [Label(key="env", value="prod" if (i // 3) % 2 else "dev")]
        seeder.create_execution(eid, flow, {}, labels, [], pending_deadline=0.0)
        end = (i // NAMESPACES) % 10
        if end < 9:
            seeder.transition_execution(eid, StateType.RUNNING)
            seeder.transition_execution(eid, StateType.SUCCESS if end < 8 else StateType.FAILED)
    seeder.flush()


def _page_ms(client: Client, filters: dict[str, Any], size: int) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    page = client.search_page(page=1, size=size, **filters)
    return (time.perf_counter() - t0) * 1000, len(page.results), page.total


def measure(sizes: list[int], reps: int, size: int) -> dict[str, Any]:
    env = environment(worker="none")
    server = EmbeddedRedis(appendonly=False)
    server.start()
    try:
        client = Client(server.url)
        r = redis.Redis.from_url(server.url)
        seeder = _Seeder(redis.Redis.from_url(server.url), Keys(client.settings.prefix))
        flows = _flows()
        for flow in flows:
            client.store.deploy_flow(flow)
        points: list[dict[str, Any]] = []
        stored = 0
        for n in sizes:
            t0 = time.perf_counter()
            seed(seeder, flows, stored, n)
            seed_s = time.perf_counter() - t0
            added, stored = n - stored, n
            point: dict[str, Any] = {
                "executions": n,
                "seed_s": round(seed_s, 2),
                "seeded_per_s": round(added / seed_s) if seed_s else None,
                "redis_used_mb": round(int(r.info("memory")["used_memory"]) / 2**20, 1),
                "ms": {},
                "results": {},
                "total": {},
            }
            for _ in range(5):  # warm-up (the seeding's pipelines just ended)
                for filters in SEARCHES.values():
                    _page_ms(client, filters, size)
            runs: dict[str, list[float]] = {name: [] for name in SEARCHES}
            for rep in range(reps):
                names = list(SEARCHES) if rep % 2 == 0 else list(reversed(SEARCHES))
                for name in names:
                    ms, count, total = _page_ms(client, SEARCHES[name], size)
                    runs[name].append(ms)
                    point["results"][name], point["total"][name] = count, total
            point["ms"] = {name: _med(v) for name, v in runs.items()}
            points.append(point)
        client.orchestrator.dispatcher.app.close()
        client.store.close()
        seeder.close()
        r.close()
    finally:
        server.close()
    first, last = points[0], points[-1]
    ratios = {
        name: round(last["ms"][name] / first["ms"][name], 3) if first["ms"][name] else None
        for name in SEARCHES
    }
    return {
        "benchmark": "B-search one search page",
        "sizes": sizes,
        "reps": reps,
        "page_size": size,
        "points": points,
        "ratio_last_first": ratios,
        "target_ratio": 1.5,
        "within_target": all(v is not None and v <= 1.5 for v in ratios.values()),
        "env": env,
    }


def print_table(res: dict[str, Any]) -> None:
    print(f"B-search: a page of {res['page_size']}, median of {res['reps']} pages (ms)")
    print_env(res["env"])
    names = list(SEARCHES)
    print(f"{'executions':>12}  " + "".join(f"{n:>18}" for n in names) + "   seeded/s  redis MB")
    for p in res["points"]:
        cells = "".join(f"{p['ms'][n]:>12.2f} ({p['total'][n]:>6})"[-18:] for n in names)
        print(f"{p['executions']:>12}  {cells}   {p['seeded_per_s']:>8}  {p['redis_used_mb']:>8}")
    ratios = "  ".join(f"{n} {v}" for n, v in res["ratio_last_first"].items())
    print(f"last/first: {ratios}  (target <= {res['target_ratio']})")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument(
        "--sizes", default="1000,10000,100000", help="stored executions, comma-separated"
    )
    p.add_argument("--reps", type=int, default=30, help="pages timed per search and size")
    p.add_argument("--size", type=int, default=25, help="executions per page")
    args = parse(p, argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    res = measure(sizes, max(1, args.reps), max(1, args.size))
    report(res, args.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
