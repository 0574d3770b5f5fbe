"""The SQLite store: created on first use, versioned, transactional."""

import sqlite3

import orjson
import pytest

from blockprop.service.store import SCHEMA_VERSION, Store, StoreError


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "sub" / "db.sqlite")
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


def test_a_newer_database_is_refused_untouched(tmp_path):
    path = tmp_path / "db.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_migrations_upgrade_an_older_database(tmp_path, monkeypatch):
    from blockprop.service import store as store_module

    path = tmp_path / "db.sqlite"
    Store(path).close()
    extra = ["CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"]
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, extra])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION + 1
    assert s._query("SELECT count(*) FROM notes")[0][0] == 0
    s.close()


def test_a_failing_write_leaves_nothing_behind(store):
    store.create_graph("g1", "one", {"nodes": []}, "h")
    with pytest.raises(sqlite3.IntegrityError):
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
