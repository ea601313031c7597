"""Example flows and the Python functions they call (``function: examples.etl:extract``).

Run them from the repository root, e.g. ``ostra run examples/etl.yaml``: the local worker
runs in the caller's directory, so ``examples`` is importable there.
"""
