"""A process evaluating the stream of ends of Flow triggers, for the fault tests.

``python -m tests.helpers.flowtrig_consumer URL MODE N CLAIM_IDLE``:

* ``run``: the trigger loop's poller (``FlowEndsPoller``), every 50 ms, forever;
* ``stall``: reads entries as that poller does until it holds N of them, prints
  ``READ <ids>`` and then hangs without evaluating or acknowledging them: a process
  that dies between an end and its evaluation (the test SIGKILLs it);
* ``pause``: the same, then after two seconds (the test SIGSTOPs it meanwhile and
  SIGCONTs it later) evaluates what it holds as the poller does and prints ``DONE <n>``,
  n the executions it started: a process that was only stopped, resuming late.
"""

from __future__ import annotations

import sys
import time

from executor import Client
from executor.store.base import FlowEndEntry
from executor.triggers.flow_trigger import FlowEndsPoller


def main() -> None:
    url, mode, n, idle = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    client = Client(url)
    poller = FlowEndsPoller(client.orchestrator, claim_idle=idle)
    print("READY", flush=True)
    if mode == "run":
        while True:
            poller(time.time())
            time.sleep(0.05)
    held: list[FlowEndEntry] = []
    while len(held) < n:
        held += client.store.read_flow_ends(poller.consumer, n)
        time.sleep(0.02)
    print("READ " + " ".join(e.entry_id for e in held), flush=True)
    if mode == "pause":
        time.sleep(2)
        print(f"DONE {poller.evaluate(held, time.time())}", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
