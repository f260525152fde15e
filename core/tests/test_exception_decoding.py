"""Issue 14 items 4-6: exception decoding runs no module code, never ends the reader, stays bounded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import resultstore
from resultstore import states
from resultstore.codec import exception_to_python
from resultstore.codec import exceptions as excmod
from resultstore.errors import SecurityError


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("module", "names"), [
    ("concurrent.futures", ["ProcessPoolExecutor", "ThreadPoolExecutor", "Missing"]),
    ("celery", ["Celery", "Task", "shared_task", "Missing"]),
])
def test_lookup_runs_no_lazy_module_getattr(module: str, names: list[str]) -> None:
    pytest.importorskip(module)
    out = _run(f"""
        import sys, {module}
        from resultstore.codec import exception_to_python
        from resultstore.errors import ResultStoreError
        before = set(sys.modules)
        for name in {names!r}:
            try:
                exception_to_python({{"exc_module": {module!r}, "exc_type": name,
                                      "exc_message": []}})
            except ResultStoreError:
                pass
        print(sorted(set(sys.modules) - before))
    """)
    assert out == "[]", f"decoding exception names of {module} imported {out}"


def test_lazy_module_getattr_is_not_called(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls: list[str] = []
    lazy = types.ModuleType("rs_lazy_mod")
    lazy.__getattr__ = lambda name: calls.append(name) or ValueError  # type: ignore[method-assign]
    lazy.Real = KeyError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rs_lazy_mod", lazy)
    exc = exception_to_python({"exc_module": "rs_lazy_mod", "exc_type": "Lazy", "exc_message": ["x"]})
    assert calls == [] and type(exc).__name__ == "Lazy" and type(exc) is not ValueError
    assert type(exception_to_python({"exc_module": "rs_lazy_mod", "exc_type": "Real",
                                     "exc_message": ["k"]})) is KeyError


def test_descriptor_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[bool] = []

    class Holder:
        @property
        def Boom(self) -> type:
            ran.append(True)
            return ValueError

    import types

    mod = types.ModuleType("rs_holder_mod")
    mod.Holder = Holder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rs_holder_mod", mod)
    with pytest.raises(SecurityError):
        exception_to_python({"exc_module": "rs_holder_mod", "exc_type": "Holder.Boom",
                             "exc_message": []})
    assert ran == []


def test_nested_real_exception_class_still_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    class Outer:
        class Inner(Exception):
            pass

    mod = types.ModuleType("rs_nested_mod")
    mod.Outer = Outer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rs_nested_mod", mod)
    exc = exception_to_python({"exc_module": "rs_nested_mod", "exc_type": "Outer.Inner",
                               "exc_message": ["i"]})
    assert type(exc) is Outer.Inner and exc.args == ("i",)


@pytest.mark.parametrize("name", ["SystemExit", "KeyboardInterrupt", "GeneratorExit",
                                  "BaseException"])
def test_non_exception_classes_come_back_as_exception_standins(name: str) -> None:
    exc = exception_to_python({"exc_module": "builtins", "exc_type": name, "exc_message": [3]})
    assert isinstance(exc, Exception)
    assert type(exc).__name__ == name and type(exc).__module__ == "builtins"
    assert exc.args == (3,) and str(exc) == "3"


def test_stored_system_exit_does_not_end_the_reader() -> None:
    out = _run("""
        import resultstore
        from resultstore.client import AsyncResult
        backend = resultstore.connect("memory://")
        backend.store.set(backend.keys.task("t"), b'{"status": "FAILURE", "result": '
                          b'{"exc_type": "SystemExit", "exc_module": "builtins", '
                          b'"exc_message": [3]}, "traceback": null, "children": [], '
                          b'"date_done": null, "task_id": "t"}', None)
        try:
            AsyncResult("t", backend=backend).get(timeout=5)
        except Exception as exc:
            print("caught", type(exc).__module__, type(exc).__name__, exc)
    """)
    assert out == "caught builtins SystemExit 3"


def test_standin_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(excmod, "_STANDINS", type(excmod._STANDINS)())
    for i in range(excmod.MAX_STANDINS + 500):
        exception_to_python({"exc_module": "gone", "exc_type": f"E{i}", "exc_message": []})
    assert len(excmod._STANDINS) == excmod.MAX_STANDINS
    recent = exception_to_python({"exc_module": "gone", "exc_type": f"E{excmod.MAX_STANDINS + 499}",
                                  "exc_message": []})
    again = exception_to_python({"exc_module": "gone", "exc_type": f"E{excmod.MAX_STANDINS + 499}",
                                 "exc_message": []})
    assert type(recent) is type(again)


def test_backend_get_of_standin_failure_is_catchable() -> None:
    backend = resultstore.connect("memory://")
    backend.store_result("k", KeyboardInterrupt("stop"), states.FAILURE)
    exc = backend.get_task_meta("k")["result"]
    assert isinstance(exc, Exception) and type(exc).__name__ == "KeyboardInterrupt"
