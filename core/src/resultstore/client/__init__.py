"""Result objects with Celery's API, on any resultstore backend, plus asyncio twins.

>>> import resultstore
>>> backend = resultstore.connect("memory://doctest-client")
>>> for i in range(3):
...     _ = backend.mark_as_done(f"t{i}", i * i)
>>> group = resultstore.GroupResult("g", [resultstore.AsyncResult(f"t{i}", backend) for i in range(3)])
>>> group.join(timeout=1)
[0, 1, 4]
"""

from ..connect import connect
from .blocking import allow_join_result, assert_will_not_block, denied_join_result, task_join_will_block
from .chords import achord_join, chord_join
from .eager import EagerResult
from .graph import DependencyGraph
from .result import AsyncResult, IncompleteStream, ResultBase
from .resultset import GroupResult, ResultSet
from .tuples import result_from_tuple

__all__ = [
    "connect", "ResultBase", "AsyncResult", "ResultSet", "GroupResult", "EagerResult",
    "result_from_tuple", "DependencyGraph", "IncompleteStream", "chord_join", "achord_join",
    "allow_join_result", "denied_join_result", "task_join_will_block", "assert_will_not_block",
]
