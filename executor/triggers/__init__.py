"""Triggers: executions a flow starts by itself (Kestra's ``triggers`` property).

* ``fire``: the one way a trigger starts an execution, once per identity (a schedule's
  tick, a Flow trigger's upstream end, a webhook call);
* ``record``: what each trigger did last (fires, errors), shown by ``ostra trigger list``;
* ``runner``: the loop that polls every kind of trigger that needs polling. Any number of
  processes may run it (``ostra executor``, ``ostra server standalone``, workers asked to):
  each poller claims its work atomically in Redis, so nothing fires twice.
"""
