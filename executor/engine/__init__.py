"""The engine: every rule of what runs next and how things end, in one pure place.

Nothing here does I/O: no Redis, no Celery, no store, no dispatcher, no clock (times
come in as arguments). The orchestrator (``executor/orchestrator.py``) and the workers
(``workers/attempt.py``) read a snapshot, ask the engine, and apply what it decided
through the store (``executor/store/base.py``); a Lua step may apply a decision made
here atomically, never make one of its own.

==========================  ==========================================================
module                      rules
==========================  ==========================================================
``vocabulary``              what ended, what to create, what to end
``sequencing``              start; what follows a task run in ``tasks`` / ``errors`` /
                            ``finally``; what a worker may apply in its finish step
``outcomes``                which retry applies (task, ancestor, flow); an
                            attempt's end -> the task run's end (retry,
                            ``allowFailure``, ``allowWarning``, ``warningOnRetry``);
                            a subflow's and a Pause's end; the execution's end (the
                            worst-state rank, exported to Lua)
``flowables``               every flowable's plan and decision after a child ends
                            (Sequential, Parallel, ForEach, Each*, Switch, If,
                            AllowFailure, Dag), Subflow and Pause: a registry by type
``control``                 what kill stops, what restart resets, what replay copies
==========================  ==========================================================
"""

from executor.engine.vocabulary import (
    END,
    AttemptOutcome,
    ChildDecision,
    Decision,
    Ended,
    NewTaskRun,
)

__all__ = ["END", "AttemptOutcome", "ChildDecision", "Decision", "Ended", "NewTaskRun"]
