"""Celery's key names (``celery-task-meta-<id>`` ...), with ``global_keyprefix``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .errors import InvalidTaskId

__all__ = ["Keyspace", "TASK_PREFIX", "GROUP_PREFIX", "CHORD_PREFIX", "RECORDS"]

TASK_PREFIX = "celery-task-meta-"
GROUP_PREFIX = "celery-taskset-meta-"
CHORD_PREFIX = "chord-unlock-"


def _check_id(value: object, what: str) -> str:
    if type(value) is str and value:
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if value is None or value == "":
        raise InvalidTaskId(f"{what} id must be a non-empty string, got {value!r}")
    return str(value)  # UUID objects are str()ed, as Celery


@dataclass(frozen=True)
class Keyspace:
    """Builds and parses keys; ``prefix`` is the normalized global key prefix."""

    prefix: str = ""

    @cached_property
    def task_prefix(self) -> str:
        return self.prefix + TASK_PREFIX

    @property
    def group_prefix(self) -> str:
        return self.prefix + GROUP_PREFIX

    def task(self, task_id: object) -> str:
        return self.task_prefix + _check_id(task_id, "task")

    def group(self, group_id: object, suffix: str = "") -> str:
        return self.group_prefix + _check_id(group_id, "group") + suffix

    def chord(self, group_id: object) -> str:
        return self.prefix + CHORD_PREFIX + _check_id(group_id, "group")

    def task_id_of(self, key: str) -> str | None:
        """The task id of a task key, ``None`` for other keys."""
        return key[len(self.task_prefix):] if key.startswith(self.task_prefix) else None


#: Record names without ``global_keyprefix``: what signatures are bound to
#: (:class:`resultstore.transforms.PayloadContext`), the same for every store shape.
RECORDS = Keyspace()
