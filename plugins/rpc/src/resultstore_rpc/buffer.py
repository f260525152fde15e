"""The client's local view of its reply queue: the latest state message per task.

RPC results are messages: once taken from the queue they exist only here.
The buffer keeps the latest state of each task (a received SUCCESS is never
replaced, as stored results elsewhere), bounded like Celery's
``_pending_messages`` buffer: past ``maxsize`` tasks the least recently
updated entry is dropped, with a warning.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from resultstore import states

from .messages import StateMessage

__all__ = ["ReplyBuffer", "DEFAULT_BUFFER_MAX"]

log = logging.getLogger("resultstore.rpc")

#: Celery's ``MESSAGE_BUFFER_MAX`` (``celery/backends/asynchronous.py``).
DEFAULT_BUFFER_MAX = 8192


class ReplyBuffer:
    """Thread-safe map ``task_id -> latest StateMessage``, bounded."""

    def __init__(self, maxsize: int = DEFAULT_BUFFER_MAX) -> None:
        if maxsize < 1:
            raise ValueError("the reply buffer must hold at least one task")
        self.maxsize = maxsize
        self.evicted = 0
        self._entries: OrderedDict[str, StateMessage] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, message: StateMessage) -> bool:
        """Record ``message`` unless a SUCCESS is already held; True if recorded."""
        with self._lock:
            held = self._entries.get(message.task_id)
            if held is not None and held.status == states.SUCCESS:
                return False
            self._entries[message.task_id] = message
            self._entries.move_to_end(message.task_id)
            while len(self._entries) > self.maxsize:
                dropped, _ = self._entries.popitem(last=False)
                self.evicted += 1
                if self.evicted == 1 or self.evicted % 1000 == 0:
                    log.warning("rpc: reply buffer full (%d tasks): dropped the state of %s "
                                "(%d dropped so far); read results you start, or raise "
                                "resultstore_rpc_buffer_max", self.maxsize, dropped, self.evicted)
            return True

    def get(self, task_id: str) -> StateMessage | None:
        with self._lock:
            return self._entries.get(task_id)

    def discard(self, task_id: str) -> None:
        with self._lock:
            self._entries.pop(task_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._entries
