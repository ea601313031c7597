"""The state store: the contract (``base.py``), Redis keys (``keys.py``), Lua scripts
(``*.lua``) and ``RedisStore``."""

from executor.store.base import StartResult, Status, Store
from executor.store.keys import Keys, identity
from executor.store.redis import RedisStore

__all__ = ["Keys", "RedisStore", "StartResult", "Status", "Store", "identity"]
