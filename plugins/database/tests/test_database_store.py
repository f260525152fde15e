"""DatabaseStore specifics: settings, table shapes, hostile rows, chords under contention."""

from __future__ import annotations

import functools
import pickle
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from celery import Celery
from celery.app.backends import by_url
from celery.backends.database import DatabaseBackend as CeleryDatabaseBackend
from sqlalchemy.pool import NullPool

import resultstore
from resultstore import states
from resultstore.codec import json_dumps
from resultstore.errors import BackendStoreError, DecodeError, InvalidTaskId, SecurityError
from resultstore.testing.races import chords_complete_once
from resultstore_database import DatabaseStore
from resultstore_database.host import DatabaseBackend
from resultstore_database.tables import build_tables

MakeBackend = Callable[..., resultstore.ResultBackend]


def _uid() -> str:
    return str(uuid.uuid4())


def _put_raw(backend: resultstore.ResultBackend, task_id: str, status: str, result: bytes) -> None:
    assert isinstance(backend.store, DatabaseStore)
    task = backend.store.tables.task
    with backend.store.engine.begin() as conn:
        conn.execute(sa.insert(task).values(task_id=task_id, status=status, result=result,
                                            date_done=datetime(2030, 1, 1)))


@pytest.fixture
def pg(open_backend: MakeBackend, pg_url: str) -> MakeBackend:
    return functools.partial(open_backend, f"db+{pg_url}")


# -- hostile or broken rows -----------------------------------------------------------
def test_hostile_exception_row_is_refused(pg: MakeBackend) -> None:
    backend, task_id = pg(), _uid()
    hostile = {"exc_type": "system", "exc_module": "os", "exc_message": ["touch /tmp/pwned"]}
    _put_raw(backend, task_id, states.FAILURE, json_dumps(hostile))
    with pytest.raises(SecurityError):
        backend.get_task_meta(task_id)


def test_row_with_unknown_exception_class_gets_standin(pg: MakeBackend) -> None:
    backend, task_id = pg(), _uid()
    gone = {"exc_type": "VanishedError", "exc_module": "no_such_module_xyz", "exc_message": ["x"]}
    _put_raw(backend, task_id, states.FAILURE, json_dumps(gone))
    exc = backend.get_task_meta(task_id)["result"]
    assert type(exc).__name__ == "VanishedError" and exc.args == ("x",)


def test_undecodable_row_is_decode_error(pg: MakeBackend) -> None:
    backend, task_id = pg(), _uid()
    _put_raw(backend, task_id, states.SUCCESS, b"\xff\xfe not json")
    with pytest.raises(DecodeError):
        backend.get_task_meta(task_id)


def test_signed_result_copied_to_another_row_is_refused(pg: MakeBackend) -> None:
    """Issue 14 item 3: column values are signed for their own task id."""
    backend = pg(resultstore_transforms=["hmac-sha256"], resultstore_signing_key="k")
    source, target = _uid(), _uid()
    backend.mark_as_failure(source, ValueError("for source only"))
    assert isinstance(backend.store, DatabaseStore)
    task = backend.store.tables.task
    with backend.store.engine.begin() as conn:
        stolen = conn.execute(sa.select(task.c.result).where(task.c.task_id == source)).scalar()
    _put_raw(backend, target, states.FAILURE, stolen)
    assert isinstance(backend.get_task_meta(source)["result"], ValueError)
    with pytest.raises(SecurityError):
        backend.get_task_meta(target)
    with pytest.raises(SecurityError):
        backend.get_many([target])


def test_legacy_pickle_rows_only_when_pickle_is_accepted(pg: MakeBackend) -> None:
    task_id = _uid()
    _put_raw(pg(), task_id, states.SUCCESS, pickle.dumps({"legacy": True}, protocol=2))
    with pytest.raises(DecodeError):
        pg().get_task_meta(task_id)
    reader = pg(accept_content=["json", "pickle"])
    assert reader.get_task_meta(task_id)["result"] == {"legacy": True}


def test_overlong_task_id_is_refused_clearly(pg: MakeBackend) -> None:
    with pytest.raises(InvalidTaskId, match="at most 155"):
        pg().mark_as_done("x" * 156, 1)


# -- settings -------------------------------------------------------------------------
def test_table_names_and_schemas(open_backend: MakeBackend, fresh_pg_url: str) -> None:
    engine = sa.create_engine(fresh_pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA results"))
    names = {"task": "my_tasks", "group": "my_groups", "chord": "my_chords",
             "chord_part": "my_parts"}
    backend = open_backend(f"db+{fresh_pg_url}", database_table_names=names,
                           database_table_schemas={"task": "results", "group": "results"})
    task_id = _uid()
    backend.mark_as_done(task_id, 3)
    backend.save_group("g1", [["g1", None], []])
    backend.set_chord_size("g2", 1)
    tables = set(sa.inspect(engine).get_table_names(schema="results"))
    engine.dispose()
    assert {"my_tasks", "my_groups", "my_chords", "my_parts"} <= tables
    app = Celery("names", set_as_current=False)
    app.conf.update(database_table_names=names,
                    database_table_schemas={"task": "results", "group": "results"})
    celery = CeleryDatabaseBackend(app=app, url=fresh_pg_url)
    try:
        assert celery.get_task_meta(task_id)["result"] == 3
    finally:
        celery.session_manager.invalidate(celery.url)
        app.conf.update(database_table_names={}, database_table_schemas={})
        CeleryDatabaseBackend(app=app, url=fresh_pg_url)  # restores Celery's class-level names


def test_tables_created_lazily_when_not_at_setup(open_backend: MakeBackend,
                                                 fresh_pg_url: str) -> None:
    backend = open_backend(f"db+{fresh_pg_url}", database_create_tables_at_setup=False)
    engine = sa.create_engine(fresh_pg_url)
    try:
        assert not sa.inspect(engine).has_table("celery_taskmeta")
        backend.mark_as_done("t", 1)
        assert sa.inspect(engine).has_table("celery_taskmeta")
    finally:
        engine.dispose()


def test_adds_its_columns_to_a_table_celery_created(open_backend: MakeBackend,
                                                    fresh_pg_url: str) -> None:
    engine = sa.create_engine(fresh_pg_url)
    with engine.begin() as conn:  # Celery < 5.5 shape: no children/stamps, no resultstore columns
        conn.execute(sa.text(
            "CREATE SEQUENCE task_id_sequence; CREATE TABLE celery_taskmeta (id INTEGER NOT NULL "
            "DEFAULT nextval('task_id_sequence') PRIMARY KEY, task_id VARCHAR(155) UNIQUE, "
            "status VARCHAR(50), result BYTEA, date_done TIMESTAMP, traceback TEXT)"))
    backend = open_backend(f"db+{fresh_pg_url}")
    backend.mark_as_done("t", 1, request=type("R", (), {"parent_id": "p", "group": None})())
    columns = {c["name"] for c in sa.inspect(engine).get_columns("celery_taskmeta")}
    engine.dispose()
    assert {"children", "stamps", "group_id", "parent_id"} <= columns
    assert backend.get_task_meta("t")["parent_id"] == "p"


def test_without_alter_permission_it_works_without_its_columns(
        open_backend: MakeBackend, fresh_pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    role = f"limited_{uuid.uuid4().hex[:8]}"
    celery = CeleryDatabaseBackend(app=Celery("owner", set_as_current=False), url=fresh_pg_url)
    celery.mark_as_done("by-celery", 1)  # Celery's tables, owned by postgres
    celery.session_manager.invalidate(celery.url)
    engine = sa.create_engine(fresh_pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            f"CREATE ROLE {role} LOGIN; GRANT USAGE, CREATE ON SCHEMA public TO {role}; "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; "
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    engine.dispose()
    limited = fresh_pg_url.replace("postgres@", f"{role}@", 1)
    backend = open_backend(f"db+{limited}")
    assert "Cannot add column group_id" in caplog.text
    backend.mark_as_done("ours", 2, request=type("R", (), {"parent_id": "p", "group": "g"})())
    assert backend.get_task_meta("ours")["result"] == 2
    assert "parent_id" not in backend.get_task_meta("ours", cache=False)
    assert backend.get_task_meta("by-celery")["result"] == 1


def test_short_lived_sessions_use_no_pool_and_callback_runs(pg_url: str) -> None:
    seen: list[sa.Engine] = []
    backend = resultstore.connect(f"db+{pg_url}", database_short_lived_sessions=True,
                                  database_engine_callback=seen.append)
    try:
        assert isinstance(backend.store, DatabaseStore)
        assert isinstance(backend.store.engine.pool, NullPool)
        assert seen == [backend.store.engine]
        backend.mark_as_done("short", 1)
        assert backend.get_task_meta("short")["result"] == 1
    finally:
        backend.close()


def test_password_is_masked() -> None:
    backend = resultstore.connect("db+postgresql+psycopg://bob:s3cret@127.0.0.1:1/x",
                                  database_create_tables_at_setup=False)
    assert "s3cret" not in backend.as_uri() and "s3cret" not in repr(backend.store)
    assert "s3cret" in backend.as_uri(include_password=True)
    backend.close()


def test_unreachable_server_is_retried_then_reported(unused_port: int) -> None:
    backend = resultstore.connect(
        f"db+postgresql+psycopg://postgres@127.0.0.1:{unused_port}/x",
        database_engine_options={"connect_args": {"connect_timeout": 1}},
        result_backend_always_retry=True, result_backend_max_retries=2,
        result_backend_base_sleep_between_retries_ms=1)
    retried: list[int] = []
    backend._on_retry = lambda op, attempt, delay, exc: retried.append(attempt)  # type: ignore[method-assign]
    with pytest.raises(BackendStoreError, match="gave up after 2 retries"):
        backend.mark_as_done("t", 1)
    assert retried == [1, 2]
    backend.close()


@pytest.fixture
def unused_port() -> int:
    from resultstore.testing.servers import free_port

    return free_port()


# -- Celery host ------------------------------------------------------------------------
def test_celery_loads_the_host_class_for_db_urls(sqlite_url: str) -> None:
    app = Celery("hosted", set_as_current=False)
    for alias in ("db", "database"):
        cls, url = by_url(f"{alias}+{sqlite_url}", app.loader)
        assert cls is DatabaseBackend and url == sqlite_url
    host = DatabaseBackend(app=app, url=sqlite_url)
    assert isinstance(host.backend.store, DatabaseStore)
    host.backend.close()


# -- chords -------------------------------------------------------------------------------
@pytest.mark.parametrize("native", [True, False], ids=["on-conflict", "portable"])
def test_chords_exactly_once_with_duplicates_under_contention(pg: MakeBackend,
                                                              native: bool) -> None:
    backends = [pg() for _ in range(6)]
    for backend in backends:
        assert isinstance(backend.store, DatabaseStore)
        backend.store.native = native
    # every part delivered twice (broker redelivery), from different connections
    chords_complete_once(backends, groups=8, size=12, copies=2, threads=12)


def test_chord_grow_and_guarded_portable_write(pg: MakeBackend) -> None:
    backend = pg()
    assert isinstance(backend.store, DatabaseStore)
    backend.store.native = False
    group_id = _uid()
    backend.set_chord_size(group_id, 1)
    backend.add_to_chord(group_id)
    assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1) is None
    assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2) is not None
    backend.chord_done(group_id)
    assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2) is None  # late copy
    task_id = _uid()
    backend.mark_as_done(task_id, 1)
    backend.mark_as_failure(task_id, ValueError("late"))
    assert backend.get_task_meta(task_id)["result"] == 1


def test_cleanup_expires_chords_and_keeps_unready(pg: MakeBackend) -> None:
    backend = pg(result_expires=60)
    store = backend.store
    assert isinstance(store, DatabaseStore)
    group_id, started = _uid(), _uid()
    backend.set_chord_size(group_id, 2)
    backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1)
    backend.mark_as_started(started)
    chord, part = store.tables.chord, store.tables.chord_part
    key = backend.keys.group(group_id)
    old = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1)
    with store.engine.begin() as conn:
        conn.execute(sa.update(chord).where(chord.c.group_key == key).values(date_done=old))
    backend.cleanup()
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(chord.c.group_key == key)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).where(part.c.group_key == key)).scalar() == 0
    assert backend.get_task_meta(started)["status"] == states.STARTED


def test_sqlite_chords_under_threads(open_backend: MakeBackend, sqlite_url: str) -> None:
    backends = [open_backend(f"db+{sqlite_url}") for _ in range(4)]
    group_id, size = _uid(), 30
    backends[0].set_chord_size(group_id, size)

    def part(index: int) -> bool:
        return backends[index % 4].chord_part_return(group_id, f"p{index}", index,
                                                     states.SUCCESS, index) is not None

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(part, range(size))) == 1


def test_tables_match_celerys_ddl() -> None:
    from celery.backends.database.models import Task, TaskSet
    from sqlalchemy.dialects import postgresql

    ours = build_tables()
    for celery_table, our_table in ((Task.__table__, ours.task), (TaskSet.__table__, ours.group)):
        theirs = {c.name: str(c.type.compile(postgresql.dialect())) for c in celery_table.columns}
        mine = {c.name: str(c.type.compile(postgresql.dialect())) for c in our_table.columns}
        assert {k: mine[k] for k in theirs} == theirs


def test_expires_none_cleanup_keeps_old_results(pg: MakeBackend) -> None:
    """``result_expires=None``: ``cleanup`` never deletes a result, however old (as Celery)."""
    backend = pg(result_expires=None)
    store = backend.store
    assert isinstance(store, DatabaseStore)
    task_id = _uid()
    backend.mark_as_done(task_id, 1)
    task = store.tables.task
    old = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=30)
    with store.engine.begin() as conn:
        conn.execute(sa.update(task).where(task.c.task_id == task_id).values(date_done=old))
    backend.cleanup()
    assert backend.get_task_meta(task_id)["status"] == states.SUCCESS
