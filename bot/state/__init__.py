"""What the app remembers beyond one request, behind one small interface (`Store`), in one of
three places: the process's memory (tests and tools), an SQLite file (the default: survives
restarts), or Redis (`REDIS_URL`: shared by every replica, with the process's memory standing in
while Redis is unreachable).

Kinds of state: claims (an event id, a request signature: the first to claim it answers), leases
(background work one replica does at a time, until it lapses), followed cards, and small shared
values with an expiry (the Qualys rate budget).
"""

from __future__ import annotations

from .base import StateError, Store
from .memory import MemoryStore

__all__ = ["MemoryStore", "StateError", "Store"]
