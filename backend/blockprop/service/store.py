"""The store: graphs, runs, metric batches, checkpoints and uploaded datasets.

SQLite by default: one file, WAL journal, foreign keys on, created on first start. PostgreSQL
when the database is a `postgresql://` URL (psycopg 3, the `blockprop[scale]` extra): the same
schema, the same migrations and the same queries, so several API replicas can share one
database. The schema is versioned (`schema_version`) and upgraded by the ordered `MIGRATIONS`;
a database from a newer Blockprop is refused rather than touched. Every write is one
transaction, so a crash leaves either the old or the new state, never a torn one.

The SQL is written once, in SQLite's spelling with `?` parameters; on PostgreSQL `_pg_sql`
turns the parameters into psycopg's `%s` and, in table definitions, BLOB into BYTEA, REAL into
DOUBLE PRECISION (PostgreSQL's REAL is single precision), INTEGER into BIGINT (SQLite's are
64-bit) and drops WITHOUT ROWID. JSON columns hold orjson bytes (BLOB / BYTEA) on both.

The store is synchronous and thread-safe (one connection behind a lock; each call is short).
Async code calls it through a thread (`asyncio.to_thread`), never on the event loop.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

# Run statuses. `queued`: waiting for room in the worker pool. `interrupted`: the server (or
# the run's worker) stopped while the run was live or waiting; it can be resumed.
# `diverged` is final once `finished_at` is set; before that the run is *held*: its worker keeps
# the last finite parameters and waits to be resumed, stepped or stopped, so it is live.
LIVE_STATUSES = ("starting", "running", "paused")
FINAL_STATUSES = ("done", "stopped", "diverged", "failed")
RESUMABLE_STATUSES = ("interrupted",)
HELD_STATUS = "diverged"
QUEUED_STATUS = "queued"


def is_live(status: str, finished_at: float | None) -> bool:
    """Whether a worker holds the run: it can be paused, resumed, stepped and changed."""
    return status in LIVE_STATUSES or (status == HELD_STATUS and finished_at is None)


MIGRATIONS: list[list[str]] = [
    # 1: the first schema
    [
        """CREATE TABLE graphs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            doc BLOB NOT NULL,
            public INTEGER NOT NULL DEFAULT 0,
            revision INTEGER NOT NULL DEFAULT 1,
            forked_from TEXT,
            edit_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX graphs_public ON graphs(public, updated_at)",
        """CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            csv BLOB NOT NULL,
            target TEXT,
            info BLOB NOT NULL,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            graph_id TEXT REFERENCES graphs(id) ON DELETE SET NULL,
            name TEXT NOT NULL,
            doc BLOB NOT NULL,
            dataset BLOB NOT NULL,
            config BLOB NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            error BLOB,
            step INTEGER NOT NULL DEFAULT 0,
            epoch INTEGER NOT NULL DEFAULT 0,
            last_seq INTEGER NOT NULL DEFAULT 0,
            diverged_node TEXT,
            edit_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            updated_at REAL NOT NULL,
            last_snapshot BLOB,
            last_boundary BLOB
        )""",
        "CREATE INDEX runs_status ON runs(status)",
        """CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            first_step INTEGER NOT NULL,
            last_step INTEGER NOT NULL,
            points BLOB NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE checkpoints (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            created_at REAL NOT NULL,
            data BLOB NOT NULL,
            state BLOB NOT NULL
        )""",
    ],
    # 2: a graph's runs, newest first (GET /api/runs?graph_id=)
    ["CREATE INDEX runs_graph ON runs(graph_id, created_at)"],
]

SCHEMA_VERSION = len(MIGRATIONS)

# PostgreSQL: a session lock held while migrating, so replicas starting together migrate once
_MIGRATION_LOCK = 0x626C6F636B70  # "blockp"


def is_postgres(database: str | Path) -> bool:
    """Whether a `BLOCKPROP_DATABASE` value names a PostgreSQL database (else: an SQLite file,
    given as a path or as `sqlite:///path`)."""
    return str(database).startswith(("postgresql://", "postgres://"))


_PG_TYPES = [
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),  # SQLite's integers are 64-bit
    (re.compile(r"\s*\bWITHOUT ROWID\b"), ""),
]


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str, has_args: bool) -> str:
    """A statement in SQLite's spelling, for PostgreSQL (see the module's docstring)."""
    if re.match(r"\s*(CREATE|ALTER)\s+TABLE\b", sql, re.IGNORECASE):
        for pattern, replacement in _PG_TYPES:
            sql = pattern.sub(replacement, sql)
    if has_args:  # psycopg reads `%` only when there are parameters
        sql = sql.replace("%", "%%").replace("?", "%s")
    return sql


class _PgConnection:
    """A psycopg connection called like sqlite3's: `execute(sql, args)` with `?` parameters,
    returning a cursor (fetchone, fetchall, rowcount, iteration). Autocommit, like sqlite3's
    `isolation_level=None`: a statement outside BEGIN ... COMMIT commits by itself.

    A connection lost (the server restarted, a network cut) fails the statement and the
    transaction it was in; the next statement outside a transaction connects again."""

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "a postgresql:// database needs psycopg: pip install 'blockprop[scale]'"
            ) from None
        self._psycopg = psycopg
        self.IntegrityError = psycopg.IntegrityError
        self._url = url
        self._in_tx = False
        self._conn = psycopg.connect(url, autocommit=True)

    def execute(self, sql: str, args: tuple | list = ()) -> Any:
        if sql in ("COMMIT", "ROLLBACK"):
            self._in_tx = False
            if sql == "ROLLBACK" and self._conn.closed:
                return None  # the server dropped the transaction with the connection
        elif self._conn.closed and (sql == "BEGIN" or not self._in_tx):
            self._conn.close()
            self._conn = self._psycopg.connect(self._url, autocommit=True)
            self._in_tx = False
        cursor = self._conn.execute(_pg_sql(sql, bool(args)), tuple(args) if args else None)
        if sql == "BEGIN":
            self._in_tx = True
        return cursor

    def close(self) -> None:
        self._conn.close()


class StoreError(Exception):
    pass


@dataclass
class GraphRow:
    id: str
    name: str
    doc: dict[str, Any]
    public: bool
    revision: int
    forked_from: str | None
    edit_hash: str
    created_at: float
    updated_at: float


@dataclass
class RunRow:
    id: str
    graph_id: str | None
    name: str
    doc: dict[str, Any]
    dataset: dict[str, Any]
    config: dict[str, Any]
    status: str
    reason: str | None
    error: dict[str, Any] | None
    step: int
    epoch: int
    last_seq: int
    diverged_node: str | None
    edit_hash: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    checkpoint_step: int | None = None

    @property
    def live(self) -> bool:
        return is_live(self.status, self.finished_at)


@dataclass
class DatasetRow:
    id: str
    name: str
    csv: bytes
    target: str | None
    info: dict[str, Any]
    created_at: float


_RUN_COLUMNS = (
    "id, graph_id, name, doc, dataset, config, status, reason, error, step, epoch, last_seq, "
    "diverged_node, edit_hash, created_at, started_at, finished_at, updated_at"
)


def _loads(b: bytes | None) -> Any:
    return None if b is None else orjson.loads(b)


class Store:
    """`database`: an SQLite file (a path, `:memory:` or `sqlite:///path`) or a
    `postgresql://user@host:port/name` URL."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self.postgres = is_postgres(self.path)
        self._lock = threading.RLock()
        self._grouped = False  # a `group()` transaction is open (by the thread holding _lock)
        self._db: Any
        if self.postgres:
            self._db = _PgConnection(self.path)
            self.IntegrityError: type[Exception] = self._db.IntegrityError
            self._begin = "BEGIN"
            self._for_update = " FOR UPDATE"  # other replicas may write the same row meanwhile
        else:
            if self.path.startswith("sqlite:///"):
                self.path = self.path[len("sqlite:///") :]
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            self.IntegrityError = sqlite3.IntegrityError
            self._begin = "BEGIN IMMEDIATE"
            self._for_update = ""  # BEGIN IMMEDIATE already holds the write lock
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _shown(self) -> str:
        """The database for messages: a URL without its password."""
        return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1@", self.path)

    # -- plumbing --

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            if self._grouped:  # inside `group()` on this thread: its transaction holds this
                if not self.postgres:
                    yield self._db
                    return
                # PostgreSQL aborts the whole transaction on a failed statement (SQLite undoes
                # just that statement): a savepoint keeps the group's other writes
                self._db.execute("SAVEPOINT tx")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK TO SAVEPOINT tx")
                    raise
                self._db.execute("RELEASE SAVEPOINT tx")
                return
            self._db.execute(self._begin)
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def group(self) -> Iterator[None]:
        """Every write made inside, on this thread, in one transaction: a pool worker's reader
        records the burst of messages that waited for it (metric batches of many runs) with
        one commit instead of one each — at a classroom's thousand batches a second, the
        commits were what the server spent its time on."""
        with self._lock:
            if self._grouped:
                yield
                return
            self._db.execute(self._begin)
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False
                self._db.execute("COMMIT")  # what was written stays, even after an error

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _migrate(self) -> None:
        if not self.postgres:
            return self._migrate_locked()
        self._db.execute("SELECT pg_advisory_lock(?)", (_MIGRATION_LOCK,))
        try:
            self._migrate_locked()
        finally:
            self._db.execute("SELECT pg_advisory_unlock(?)", (_MIGRATION_LOCK,))

    def _migrate_locked(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (0)")
                version = 0
            else:
                version = row[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self._shown()} has schema version {version}, newer than this Blockprop "
                f"understands ({SCHEMA_VERSION}); upgrade Blockprop or use another database"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx() as db:
                for statement in MIGRATIONS[target - 1]:
                    db.execute(statement)
                db.execute("UPDATE schema_version SET version = ?", (target,))

    def schema_version(self) -> int:
        return self._query("SELECT version FROM schema_version")[0][0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- graphs --

    def create_graph(
        self,
        id: str,
        name: str,
        doc: dict[str, Any],
        edit_hash: str,
        public: bool = False,
        forked_from: str | None = None,
    ) -> GraphRow:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO graphs (id, name, doc, public, revision, forked_from, edit_hash, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)",
                (id, name, orjson.dumps(doc), int(public), forked_from, edit_hash, now, now),
            )
        return GraphRow(id, name, doc, public, 1, forked_from, edit_hash, now, now)

    def get_graph(self, id: str) -> GraphRow | None:
        rows = self._query(
            "SELECT id, name, doc, public, revision, forked_from, edit_hash, created_at, "
            "updated_at FROM graphs WHERE id = ?",
            (id,),
        )
        if not rows:
            return None
        r = rows[0]
        return GraphRow(r[0], r[1], orjson.loads(r[2]), bool(r[3]), *r[4:])

    def list_graphs(self, ids: list[str] | None, limit: int = 100) -> list[dict[str, Any]]:
        """Summaries of the given graphs, or of the public ones when no ids are given."""
        cols = "id, name, public, revision, forked_from, created_at, updated_at, doc"
        if ids:
            marks = ",".join("?" * len(ids))
            rows = self._query(
                f"SELECT {cols} FROM graphs WHERE id IN ({marks}) ORDER BY updated_at DESC",
                tuple(ids),
            )
        else:
            rows = self._query(
                f"SELECT {cols} FROM graphs WHERE public = 1 ORDER BY updated_at DESC LIMIT ?",
                (limit,),
            )
        out = []
        for r in rows:
            doc = orjson.loads(r[7])
            out.append(
                {
                    "id": r[0],
                    "name": r[1],
                    "public": bool(r[2]),
                    "revision": r[3],
                    "forked_from": r[4],
                    "created_at": r[5],
                    "updated_at": r[6],
                    "node_count": len(doc.get("nodes", [])),
                }
            )
        return out

    def update_graph(
        self,
        id: str,
        name: str,
        doc: dict[str, Any],
        public: bool | None,
        expected_revision: int | None,
    ) -> GraphRow | None | int:
        """The updated row; None if missing; the current revision (int) on a revision clash."""
        now = time.time()
        with self._tx() as db:
            row = db.execute(
                f"SELECT revision, public FROM graphs WHERE id = ?{self._for_update}", (id,)
            ).fetchone()
            if row is None:
                return None
            revision, old_public = row
            if expected_revision is not None and expected_revision != revision:
                return int(revision)
            pub = bool(old_public) if public is None else public
            db.execute(
                "UPDATE graphs SET name = ?, doc = ?, public = ?, revision = revision + 1, "
                "updated_at = ? WHERE id = ?",
                (name, orjson.dumps(doc), int(pub), now, id),
            )
        return self.get_graph(id)

    def delete_graph(self, id: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM graphs WHERE id = ?", (id,)).rowcount > 0

    # -- datasets --

    def create_dataset(
        self, id: str, name: str, csv: bytes, target: str | None, info: dict[str, Any]
    ) -> DatasetRow:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO datasets (id, name, csv, target, info, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (id, name, csv, target, orjson.dumps(info), now),
            )
        return DatasetRow(id, name, csv, target, info, now)

    def get_dataset(self, id: str) -> DatasetRow | None:
        rows = self._query(
            "SELECT id, name, csv, target, info, created_at FROM datasets WHERE id = ?", (id,)
        )
        if not rows:
            return None
        r = rows[0]
        return DatasetRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5])

    # -- runs --

    def create_run(
        self,
        id: str,
        graph_id: str | None,
        name: str,
        doc: dict[str, Any],
        dataset: dict[str, Any],
        config: dict[str, Any],
        status: str,
        edit_hash: str,
    ) -> RunRow:
        now = time.time()
        with self._tx() as db:
            db.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, 0, 0, NULL, ?, ?, ?, NULL, ?)",
                (
                    id,
                    graph_id,
                    name,
                    orjson.dumps(doc),
                    orjson.dumps(dataset),
                    orjson.dumps(config),
                    status,
                    edit_hash,
                    now,
                    now,
                    now,
                ),
            )
        return self.get_run(id)  # type: ignore[return-value]

    def get_run(self, id: str) -> RunRow | None:
        rows = self._query(
            f"SELECT {_RUN_COLUMNS}, (SELECT step FROM checkpoints c WHERE c.run_id = runs.id) "
            "FROM runs WHERE id = ?",
            (id,),
        )
        if not rows:
            return None
        r = list(rows[0])
        for i in (3, 4, 5, 8):
            r[i] = _loads(r[i])
        return RunRow(*r)

    def list_runs(
        self, graph_id: str | None = None, ids: list[str] | None = None, limit: int = 50
    ) -> list[RunRow]:
        """Runs filed under a stored graph and/or with the given ids, newest first."""
        where, args = [], []
        if graph_id is not None:
            where.append("graph_id = ?")
            args.append(graph_id)
        if ids:
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if not where:
            return []
        rows = self._query(
            f"SELECT {_RUN_COLUMNS}, (SELECT step FROM checkpoints c WHERE c.run_id = runs.id) "
            f"FROM runs WHERE {' OR '.join(where)} ORDER BY created_at DESC LIMIT ?",
            (*args, limit),
        )
        out = []
        for row in rows:
            r = list(row)
            for i in (3, 4, 5, 8):
                r[i] = _loads(r[i])
            out.append(RunRow(*r))
        return out

    def delete_run(self, id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM runs WHERE id = ?", (id,))

    def update_run(self, id: str, **fields: Any) -> None:
        if not fields:
            return
        fields["updated_at"] = time.time()
        for key in ("config", "error", "dataset", "last_snapshot", "last_boundary"):
            if key in fields and fields[key] is not None and not isinstance(fields[key], bytes):
                fields[key] = orjson.dumps(fields[key])
        assigns = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE runs SET {assigns} WHERE id = ?", (*fields.values(), id))

    def interrupt_live_runs(self) -> list[str]:
        """Mark runs left live or waiting by a previous server process as `interrupted` (at
        start-up), held diverged runs included: they resume from the checkpoint taken when they
        diverged; queued ones start from the beginning."""
        now = time.time()
        marks = ",".join("?" * (len(LIVE_STATUSES) + 1))
        live = f"status IN ({marks}) OR (status = ? AND finished_at IS NULL)"
        args = (*LIVE_STATUSES, QUEUED_STATUS, HELD_STATUS)
        with self._tx() as db:
            ids = [r[0] for r in db.execute(f"SELECT id FROM runs WHERE {live}", args).fetchall()]
            db.execute(
                f"UPDATE runs SET status = 'interrupted', reason = ?, updated_at = ? WHERE {live}",
                ("the server stopped while the run was live; resume it to continue", now, *args),
            )
        return ids

    def last_snapshot(self, id: str) -> tuple[bytes | None, bytes | None]:
        rows = self._query("SELECT last_snapshot, last_boundary FROM runs WHERE id = ?", (id,))
        return rows[0] if rows else (None, None)

    # -- metrics --

    def add_metrics(
        self, run_id: str, seq: int, first_step: int, last_step: int, points: bytes, **run: Any
    ) -> None:
        """One batch of points under `seq`, with the run's progress, in one transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO metrics (run_id, seq, first_step, last_step, points) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, seq, first_step, last_step, points),
            )
            assigns = ", ".join(f"{k} = ?" for k in ("last_seq", *run))
            db.execute(
                f"UPDATE runs SET {assigns}, updated_at = ? WHERE id = ?",
                (seq, *run.values(), time.time(), run_id),
            )

    def metric_batches(
        self,
        run_id: str,
        after: int,
        until: int | None = None,
        limit: int = 10_000,
        max_bytes: int | None = None,
    ) -> list[tuple[int, bytes]]:
        """(seq, points JSON) for after < seq <= until, in order: `limit` batches at most and,
        given `max_bytes`, no more batches than it takes to reach that many bytes (one at
        least), so a reader's memory is bounded however large the batches are."""
        until = 2**62 if until is None else until
        sql = (
            "SELECT seq, points FROM metrics WHERE run_id = ? AND seq > ? AND seq <= ? "
            "ORDER BY seq LIMIT ?"
        )
        args = (run_id, after, until, limit)
        if max_bytes is None:
            return self._query(sql, args)
        if self.postgres:  # the server counts the bytes (psycopg would fetch every row first)
            return self._query(
                "SELECT seq, points FROM (SELECT seq, points, "
                "SUM(length(points)) OVER (ORDER BY seq) - length(points) AS before "
                f"FROM ({sql}) AS batches) AS counted WHERE before < ? ORDER BY seq",
                (*args, max_bytes),
            )
        rows, used = [], 0
        with self._lock:
            # rows are stepped one by one, so SQLite reads no more than is kept
            for row in self._db.execute(sql, args):
                rows.append(row)
                used += len(row[1])
                if used >= max_bytes:
                    break
        return rows

    def truncate_metrics(self, run_id: str, after_step: int) -> int:
        """Drop the points past `after_step` (before resuming from an older checkpoint)."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT seq, points FROM metrics WHERE run_id = ? AND last_step > ? ORDER BY seq",
                (run_id, after_step),
            ).fetchall()
            for seq, points in rows:
                kept = [p for p in orjson.loads(points) if p.get("step", 0) <= after_step]
                if kept:
                    db.execute(
                        "UPDATE metrics SET points = ?, last_step = ? WHERE run_id = ? AND seq = ?",
                        (orjson.dumps(kept), kept[-1].get("step", 0), run_id, seq),
                    )
                else:
                    db.execute("DELETE FROM metrics WHERE run_id = ? AND seq = ?", (run_id, seq))
            return len(rows)

    # -- checkpoints --

    def save_checkpoint(self, run_id: str, step: int, data: bytes, state: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO checkpoints (run_id, step, created_at, data, state) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET step = excluded.step, "
                "created_at = excluded.created_at, data = excluded.data, state = excluded.state",
                (run_id, step, time.time(), data, state),
            )

    def get_checkpoint(self, run_id: str) -> tuple[int, bytes, bytes] | None:
        rows = self._query("SELECT step, data, state FROM checkpoints WHERE run_id = ?", (run_id,))
        return tuple(rows[0]) if rows else None  # type: ignore[return-value]
