"""B-ui: time to first render of the web UI's pages, from the browser's navigation timing.

An execution page is opened for executions of 10, 1,000 and 10,000 task runs (a
``ForEach`` over N - 1 values, each child a ``Return``, run to its end by a real worker),
and the executions list with 100,000 executions stored (the rest seeded through the
store's own steps, as ``bench/search.py`` seeds them). The API is a real ``ostra server
api`` process; the browser is Debian's chromium driven by Playwright, a fresh context per
load (no cache).

Reported per page: the median over ``--reps`` loads of the first contentful paint (the
time to first render: what the target is about), the time to the first byte of the
answer and to ``DOMContentLoaded``, all in ms from the navigation's start. Target: under
1 s each on this machine. The benchmark reports; it does not assert.

Usage: ``python bench/ui.py [--runs 10,1000,10000] [--stored 100000] [--reps 5] [--json]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.harness import _med, environment, parse, parser, print_env, report, serve  # noqa: E402
from bench.search import _flows, _Seeder, seed  # noqa: E402
from executor.embedded import free_port  # noqa: E402
from executor.store.keys import Keys  # noqa: E402

CHROMIUM = os.environ.get("OSTRA_TEST_CHROMIUM", "/usr/bin/chromium")
NAMESPACE = "bench.ui"

TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {fcp: paint ? paint.startTime : null, ttfb: nav.responseStart,
          dcl: nav.domContentLoadedEventEnd};
}"""


def _flow(n: int) -> str:
    values = json.dumps([f"v{i}" for i in range(n - 1)])
    return f"""
id: runs{n}
namespace: {NAMESPACE}
tasks:
  - id: each
    type: ForEach
    concurrencyLimit: 0
    values: '{values}'
    tasks:
      - id: fetch
        type: Return
        format: "{{{{ taskrun.value }}}}"
"""


def _api(redis_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["OSTRA_REDIS_URL"] = redis_url
    out = open(log, "wb")  # inherited by the child; closed with this process
    return subprocess.Popen(
        [sys.executable, "-m", "executor.cli", "server", "api", "--port", str(port)]
        + ["--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ostra server api exited")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("ostra server api is not healthy")


def _loads(browser: Any, url: str, reps: int, ready: str) -> dict[str, Any]:
    samples: list[dict[str, float]] = []
    for _ in range(reps + 1):  # the first load warms the server's caches up: not counted
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url, wait_until="load", timeout=60_000)
        page.wait_for_selector(ready, timeout=60_000)
        samples.append(page.evaluate(TIMING))
        context.close()
    counted = samples[1:]
    return {
        key: _med([float(s[key]) for s in counted if s[key] is not None])
        for key in ("fcp", "ttfb", "dcl")
    } | {"reps_fcp": [round(float(s["fcp"] or 0), 1) for s in counted]}


def measure(runs: list[int], stored: int, reps: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    env = environment()
    pages: list[dict[str, Any]] = []
    with serve(concurrency=2) as bench:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(bench.worker.log_file or "/tmp").parent / "api.log"
        proc = _api(bench.url, port, log)
        try:
            _wait_healthy(url, proc)
            executions: dict[int, str] = {}
            for n in runs:
                bench.client.deploy(_flow(n))
                t0 = time.perf_counter()
                done = bench.client.wait(
                    bench.client.submit((NAMESPACE, f"runs{n}")).id, timeout=900
                )
                assert len(done.task_run_list) == n, (n, len(done.task_run_list))
                executions[n] = done.id
                print(f"ran {n} task runs in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            seeder = _Seeder(bench.client.store.r, Keys(bench.client.settings.prefix))
            flows = _flows()
            for flow in flows:
                bench.client.store.deploy_flow(flow)
            t0 = time.perf_counter()
            seed(seeder, flows, 0, max(0, stored - len(runs)))
            total = bench.client.search_page(size=1).total
            print(
                f"seeded to {total} executions in {time.perf_counter() - t0:.1f}s", file=sys.stderr
            )
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    for n, eid in executions.items():
                        page_url = f"{url}/ui/main/executions/{NAMESPACE}/runs{n}/{eid}"
                        point = _loads(browser, page_url, reps, "#execution-state")
                        pages.append({"page": f"execution of {n} task runs", **point})
                    point = _loads(browser, f"{url}/ui/main/executions", reps, "#rows tr")
                    pages.append({"page": f"list, {total} executions stored", **point})
                finally:
                    browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "benchmark": "B-ui time to first render",
        "reps": reps,
        "pages": pages,
        "target_ms": 1000,
        "within_target": all(p["fcp"] < 1000 for p in pages),
        "env": env,
    }


def print_table(res: dict[str, Any]) -> None:
    print(f"B-ui: median of {res['reps']} loads (ms from the navigation's start)")
    print_env(res["env"])
    print(f"{'page':<36}{'first paint':>12}{'first byte':>12}{'DOM ready':>12}   paints")
    for p in res["pages"]:
        print(
            f"{p['page']:<36}{p['fcp']:>12.1f}{p['ttfb']:>12.1f}{p['dcl']:>12.1f}   {p['reps_fcp']}"
        )
    print(f"target: first paint < {res['target_ms']} ms: {res['within_target']}")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--runs", default="10,1000,10000", help="task runs per execution shown")
    p.add_argument("--stored", type=int, default=100_000, help="executions stored for the list")
    p.add_argument("--reps", type=int, default=5, help="loads timed per page")
    args = parse(p, argv)
    runs = sorted({int(s) for s in args.runs.split(",") if s.strip()})
    res = measure(runs, max(0, args.stored), max(1, args.reps))
    report(res, args.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
