"""Triggers: executions a flow starts by itself (Kestra's ``triggers`` property).

* ``fire``: the one way a trigger starts an execution, once per identity (a schedule's
  tick, a Flow trigger's upstream end, a webhook call);
* ``types`` and ``common``: the known kinds and their deploy-time checks (``common``: the
  properties every kind has, Kestra's ``AbstractTrigger``);
* ``webhook`` (``webhook_spec``: its deploy checks): Kestra's Webhook trigger, called by the API's
  ``/executions/webhook/{namespace}/{flowId}/{key}`` (``executor.api.routes.webhooks``);
* ``record``: what each trigger did last (fires, errors), shown by ``ostra trigger list``;
* ``runner``: the loop that polls every kind of trigger that needs polling. Any number of
  processes may run it (``ostra executor``, ``ostra server standalone``, workers asked to):
  each poller claims its work atomically in Redis, so nothing fires twice.
"""
