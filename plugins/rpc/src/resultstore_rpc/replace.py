"""``Task.replace`` over rpc: the replacement answers the caller, not the worker.

``Task.replace`` freezes the replacement with the replaced task's id but sends
it from inside the worker, so Celery gives it the *worker's* reply queue
(``app.thread_oid``): its result never reaches the client waiting for that
id, and ``get()`` times out (Celery's own RPCBackend included).  A
``before_task_publish`` receiver fixes the message instead: a message whose
``replaced_task_nesting`` is deeper than the running task's is a replacement,
and every reply address it carries that is the worker's own (the default)
becomes the running task's ``reply_to`` — the message's, those of the chain it
embeds (a replacement chain's later tasks, the last of which has the awaited
id) and the chord body it embeds.  A replacement by a group becomes a chord
whose body has the awaited id: :func:`redirect_chord_body` gives that body the
same treatment when ``celery.chord_unlock`` is sent.  Only apps whose backend
is this plugin's are touched.
"""

from __future__ import annotations

from typing import Any

__all__ = ["connect_replace_receiver", "redirect_chord_body"]

_CONNECTED: list[bool] = []


def _redirect(options: Any, worker_oid: str, reply_to: str) -> None:
    if isinstance(options, dict) and options.get("reply_to") in (None, "", worker_oid):
        options["reply_to"] = reply_to


def _running(app: Any = None) -> tuple[Any, str, str] | None:
    """``(request, its reply_to, the worker's own oid)`` inside a task of an rpc app of ours."""
    from celery._state import get_current_task

    from .host import RPCBackend

    task = get_current_task()
    if task is None or (app is not None and task.app is not app):
        return None
    reply_to = getattr(task.request, "reply_to", None)
    if not reply_to or not isinstance(task.app.backend, RPCBackend):
        return None
    return task.request, str(reply_to), str(task.app.thread_oid)


def redirect_chord_body(app: Any, body: Any) -> None:
    """A chord body frozen with the running task's id (a group replacement) answers its caller."""
    running = _running(app)
    options = getattr(body, "options", None)
    if running is None or not isinstance(options, dict):
        return
    request, reply_to, worker_oid = running
    if options.get("task_id") == getattr(request, "id", None):
        _redirect(options, worker_oid, reply_to)


def _on_publish(sender: Any = None, headers: dict[str, Any] | None = None,
                properties: dict[str, Any] | None = None, body: Any = None,
                **_: Any) -> None:
    running = _running()
    if running is None or headers is None or properties is None:
        return
    request, reply_to, worker_oid = running
    nesting = headers.get("replaced_task_nesting") or 0
    if nesting <= (getattr(request, "replaced_task_nesting", None) or 0):
        return
    if properties.get("reply_to") in (None, "", worker_oid):
        properties["reply_to"] = reply_to
    embed = body[2] if isinstance(body, tuple) and len(body) == 3 else None
    if isinstance(embed, dict):
        for link in embed.get("chain") or ():
            _redirect(link.get("options") if isinstance(link, dict) else None, worker_oid, reply_to)
        chord = embed.get("chord")
        _redirect(chord.get("options") if isinstance(chord, dict) else None, worker_oid, reply_to)


def connect_replace_receiver() -> None:
    """Connect the receiver once per process (idempotent)."""
    if _CONNECTED:
        return
    from celery import signals

    signals.before_task_publish.connect(_on_publish, weak=False,
                                        dispatch_uid="resultstore_rpc.replace")
    _CONNECTED.append(True)
