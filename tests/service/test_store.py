"""The store: created on first use, versioned, transactional; every test that is not about
SQLite itself runs against both SQLite and a real PostgreSQL server (tests/pg.py)."""

import sys
from pathlib import Path

import orjson
import pytest

from blockprop.service.store import SCHEMA_VERSION, Store, StoreError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pg import pg_database, pg_server  # noqa: E402, F401  (fixtures)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """Where a store lives: an SQLite file, or a fresh PostgreSQL database (skipped, saying
    why, where PostgreSQL cannot be started)."""
    if request.param == "sqlite":
        return str(tmp_path / "sub" / "db.sqlite")
    return request.getfixturevalue("pg_database")


@pytest.fixture
def store(database):
    s = Store(database)
    yield s
    s.close()


def test_created_on_first_use_with_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "new" / "db.sqlite"
    s = Store(path)
    assert path.exists() and s.schema_version() == SCHEMA_VERSION
    assert s._query("PRAGMA journal_mode")[0][0] == "wal"
    assert s._query("PRAGMA foreign_keys")[0][0] == 1
    s.close()
    again = Store(path)  # reopening applies nothing twice
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_an_sqlite_url_names_a_file(tmp_path):
    path = tmp_path / "url" / "db.sqlite"
    s = Store(f"sqlite:///{path}")
    assert path.exists() and not s.postgres and s.schema_version() == SCHEMA_VERSION
    s.close()


def test_created_on_first_use_and_reopened(database):
    s = Store(database)
    assert s.schema_version() == SCHEMA_VERSION
    assert s.postgres == database.startswith("postgresql://")
    s.close()
    again = Store(database)  # reopening applies nothing twice
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_a_newer_database_is_refused_untouched(database):
    s = Store(database)
    s._db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    s.close()
    with pytest.raises(StoreError, match="newer"):
        Store(database)


def test_migrations_upgrade_an_older_database(database, monkeypatch):
    from blockprop.service import store as store_module

    Store(database).close()
    extra = ["CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT, body BLOB, at REAL)"]
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, extra])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    s = Store(database)
    assert s.schema_version() == SCHEMA_VERSION + 1
    assert s._query("SELECT count(*) FROM notes")[0][0] == 0
    with s._tx() as db:  # the types are translated: bytes and doubles come back as given
        db.execute("INSERT INTO notes VALUES (?, ?, ?, ?)", (1, "50% ?", b"\x00\xff", 0.1 + 0.2))
    assert s._query("SELECT text, body, at FROM notes") == [("50% ?", b"\x00\xff", 0.1 + 0.2)]
    s.close()


def test_a_failing_write_leaves_nothing_behind(store):
    store.create_graph("g1", "one", {"nodes": []}, "h")
    with pytest.raises(store.IntegrityError):
        store.create_graph("g1", "again", {"nodes": []}, "h")
    with pytest.raises(RuntimeError), store._tx() as db:
        db.execute("UPDATE graphs SET name = 'changed' WHERE id = 'g1'")
        raise RuntimeError("crash mid-transaction")
    assert store.get_graph("g1").name == "one"


def test_graph_revisions(store):
    store.create_graph("g", "a", {"nodes": []}, "h")
    assert store.update_graph("g", "b", {"nodes": [1]}, None, 1).revision == 2
    assert store.update_graph("g", "c", {"nodes": []}, None, 1) == 2  # clash: current is 2
    assert store.update_graph("missing", "c", {}, None, None) is None
    assert store.delete_graph("g") and not store.delete_graph("g")


def _run(store, run_id="r", status="running"):
    return store.create_run(run_id, None, "run", {"nodes": []}, {"name": "xor"}, {}, status, "h")


def test_live_runs_become_interrupted(store):
    _run(store, "a", "running")
    _run(store, "b", "paused")
    _run(store, "c", "done")
    assert sorted(store.interrupt_live_runs()) == ["a", "b"]
    assert store.get_run("a").status == "interrupted"
    assert store.get_run("c").status == "done"


def test_a_held_diverged_run_is_live_until_it_finishes(store):
    for run_id in ("held", "ended"):
        _run(store, run_id, "running")
        store.update_run(run_id, status="diverged", diverged_node="c", reason="the loss became inf")
    store.update_run("ended", finished_at=123.0)
    assert store.get_run("held").live and not store.get_run("ended").live
    assert store.interrupt_live_runs() == ["held"]
    held, ended = store.get_run("held"), store.get_run("ended")
    assert (held.status, held.live, held.finished_at) == ("interrupted", False, None)
    assert (ended.status, ended.reason) == ("diverged", "the loss became inf")


def test_runs_listed_by_graph_and_ids_newest_first(store, monkeypatch):
    import time as time_module

    store.create_graph("g", "g", {"nodes": []}, "h")
    clock = iter(range(100, 200))
    monkeypatch.setattr(time_module, "time", lambda: float(next(clock)))
    for run_id, graph_id in (("a", "g"), ("b", None), ("c", "g")):
        store.create_run(run_id, graph_id, "run", {"nodes": []}, {}, {}, "done", "h")
    assert [r.id for r in store.list_runs("g")] == ["c", "a"]
    assert [r.id for r in store.list_runs("g", ["b"])] == ["c", "b", "a"]
    assert [r.id for r in store.list_runs(None, ["b", "x"])] == ["b"]
    assert [r.id for r in store.list_runs("g", limit=1)] == ["c"]
    assert store.list_runs() == []


def test_metrics_batches_and_checkpoints(store):
    _run(store)
    for seq in range(1, 6):
        points = [{"step": 2 * seq - 1}, {"step": 2 * seq}]
        store.add_metrics("r", seq, 2 * seq - 1, 2 * seq, orjson.dumps(points), step=2 * seq)
    run = store.get_run("r")
    assert run.last_seq == 5 and run.step == 10
    assert [s for s, _ in store.metric_batches("r", 2)] == [3, 4, 5]
    assert [s for s, _ in store.metric_batches("r", 0, 2)] == [1, 2]
    assert store.get_run("r").checkpoint_step is None
    store.save_checkpoint("r", 7, b"npz", b"{}")
    store.save_checkpoint("r", 9, b"npz2", b'{"a": 1}')
    assert store.get_checkpoint("r") == (9, b"npz2", b'{"a": 1}')
    assert store.get_run("r").checkpoint_step == 9
    store.delete_run("r")  # cascades
    assert store.metric_batches("r", 0) == [] and store.get_checkpoint("r") is None


def test_times_and_bytes_round_trip_exactly(store):
    run = _run(store)
    store.update_run("r", finished_at=1_765_000_000.123456, last_snapshot={"a": [1.5]})
    again = store.get_run("r")
    assert again.created_at == run.created_at and again.finished_at == 1_765_000_000.123456
    assert store.last_snapshot("r") == (b'{"a":[1.5]}', None)
    csv = b"x,y\n1,2\n" + bytes(range(256))
    made = store.create_dataset("d", "data", csv, "y", {"rows": 1})
    assert store.get_dataset("d") == made


def test_a_group_commits_together_and_keeps_what_succeeded(store):
    _run(store)
    with store.group():
        store.add_metrics("r", 1, 1, 1, b'[{"step": 1}]', step=1)
        with pytest.raises(store.IntegrityError):  # no such run
            store.add_metrics("missing", 1, 1, 1, b"[]")
        store.add_metrics("r", 2, 2, 2, b'[{"step": 2}]', step=2)
        assert store.get_run("r").last_seq == 2  # seen inside the group
    assert [s for s, _ in store.metric_batches("r", 0)] == [1, 2]
    assert store.get_run("r").step == 2


def test_metric_batches_bounded_by_bytes_and_truncated(store):
    _run(store)
    for seq in range(1, 6):
        points = orjson.dumps([{"step": 2 * seq - 1}, {"step": 2 * seq}])
        store.add_metrics("r", seq, 2 * seq - 1, 2 * seq, points, step=2 * seq)
    size = len(store.metric_batches("r", 0)[0][1])
    assert [s for s, _ in store.metric_batches("r", 0, max_bytes=1)] == [1]  # one at least
    assert [s for s, _ in store.metric_batches("r", 0, max_bytes=2 * size)] == [1, 2]
    assert [s for s, _ in store.metric_batches("r", 0, max_bytes=2 * size + 1)] == [1, 2, 3]
    assert [s for s, _ in store.metric_batches("r", 1, 4, max_bytes=10**6)] == [2, 3, 4]
    assert store.truncate_metrics("r", 5) == 3  # batches 3 (steps 5, 6), 4 and 5
    assert [s for s, _ in store.metric_batches("r", 0)] == [1, 2, 3]
    assert orjson.loads(store.metric_batches("r", 2)[0][1]) == [{"step": 5}]


def test_graphs_listed_public_or_by_id(store):
    store.create_graph("a", "A", {"nodes": [1, 2]}, "h", public=True)
    store.create_graph("b", "B", {"nodes": []}, "h")
    assert [g["id"] for g in store.list_graphs(None)] == ["a"]
    listed = store.list_graphs(["a", "b"])
    assert sorted(g["id"] for g in listed) == ["a", "b"]
    assert {g["id"]: g["node_count"] for g in listed} == {"a": 2, "b": 0}
    assert store.update_graph("b", "B2", {"nodes": []}, True, None).public
    assert store.get_graph("b").revision == 2


def test_postgresql_connects_again_after_losing_its_connection(request):
    url = request.getfixturevalue("pg_database")  # skips where there is no PostgreSQL
    import psycopg

    store = Store(url)
    store.create_graph("g", "kept", {"nodes": []}, "h")
    pid = store._query("SELECT pg_backend_pid()")[0][0]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):  # the call that finds the connection gone
        store.get_graph("g")
    assert store.get_graph("g").name == "kept"
    with pytest.raises(psycopg.OperationalError), store.group():  # lost inside a group
        pid = store._query("SELECT pg_backend_pid()")[0][0]
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        store.update_graph("g", "lost", {"nodes": []}, None, None)
    store.update_graph("g", "changed", {"nodes": []}, None, None)
    assert store.get_graph("g").name == "changed"
    store.close()


def test_integers_are_64_bit(store):
    _run(store)
    store.update_run("r", step=2**40, epoch=2**62)
    run = store.get_run("r")
    assert (run.step, run.epoch) == (2**40, 2**62)
