"""The Redis state store: keys (``keys.py``), Lua scripts (``*.lua``) and ``RedisStore``."""

from executor.store.keys import Keys, identity
from executor.store.redis import RedisStore, StartResult

__all__ = ["Keys", "RedisStore", "StartResult", "identity"]
