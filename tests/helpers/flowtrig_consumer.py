"""A process evaluating the stream of ends of Flow triggers, for the fault tests.

``python -m tests.helpers.flowtrig_consumer URL MODE N CLAIM_IDLE``:

* ``run``: the trigger loop's poller (``FlowEndsPoller``), every 50 ms, forever;
* ``stall``: reads entries as that poller does until it holds N of them, prints
  ``READ <ids>`` and then hangs without evaluating or acknowledging them: a process
  that dies between an end and its evaluation (the test SIGKILLs it).
"""

from __future__ import annotations

import sys
import time

from executor import Client
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
    held: list[str] = []
    while len(held) < n:
        held += [e.entry_id for e in client.store.read_flow_ends(poller.consumer, n)]
        time.sleep(0.02)
    print("READ " + " ".join(held), flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
