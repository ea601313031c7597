"""Runners of the built-in task types.

Each runner is a plain function ``run(props, ctx) -> outputs | None`` taking the validated
property model from ``executor.builtin_types`` and a ``RunContext``. Nothing here imports
Celery: the worker task calls these functions, tests call them directly.
"""
