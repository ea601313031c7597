"""Kestra's expression language on top of the sandboxed renderer in :mod:`executor.templating`.

* :mod:`executor.pebble.registry`: the filters, functions and tests a template may call,
  registered by name (Kestra's names) from the modules that implement them;
* :mod:`executor.pebble.runtime`: what a render may reach besides its context (the store,
  the execution, the secret provider), set by the process that renders.
"""

from executor.pebble import registry

registry.MODULES.append("executor.pebble.kv")
