"""Task states, the state sets and Celery's state precedence.

The names and the ordering are Celery's (``celery.states``) so that metas written
by either side mean the same thing.
"""

from __future__ import annotations

__all__ = [
    "PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED",
    "REJECTED", "IGNORED", "ALL_STATES", "READY_STATES", "UNREADY_STATES",
    "EXCEPTION_STATES", "PROPAGATE_STATES", "precedence", "State",
]

PENDING = "PENDING"
RECEIVED = "RECEIVED"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
REVOKED = "REVOKED"
REJECTED = "REJECTED"
RETRY = "RETRY"
IGNORED = "IGNORED"

#: Celery's precedence list: lower index means "more final".  ``None`` stands
#: for any custom state, which sorts between RETRY and PENDING.
PRECEDENCE = [SUCCESS, FAILURE, None, REVOKED, STARTED, RECEIVED, REJECTED, RETRY, PENDING]
_LOOKUP = {state: index for index, state in enumerate(PRECEDENCE)}
_CUSTOM = _LOOKUP[None]

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
UNREADY_STATES = frozenset({PENDING, RECEIVED, STARTED, REJECTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})
ALL_STATES = frozenset({PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED})


def precedence(state: str) -> int:
    """Return the precedence index of ``state`` (lower is more final), as Celery."""
    return _LOOKUP.get(state, _CUSTOM)


class State(str):
    """A state string that compares by precedence, as ``celery.states.state``.

    >>> State(SUCCESS) > State(PENDING)
    True
    """

    def __gt__(self, other: object) -> bool:
        return precedence(self) < precedence(str(other))

    def __ge__(self, other: object) -> bool:
        return precedence(self) <= precedence(str(other))

    def __lt__(self, other: object) -> bool:
        return precedence(self) > precedence(str(other))

    def __le__(self, other: object) -> bool:
        return precedence(self) >= precedence(str(other))

    __hash__ = str.__hash__
