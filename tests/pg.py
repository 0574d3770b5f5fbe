"""A real PostgreSQL server for the tests: started once per session on a free loopback port,
in a temporary directory, from Debian's `postgresql` binaries; stopped at the end.

Tests ask for it through the fixtures below, imported into their module:

    from pg import pg_database, pg_server  # noqa: F401  (fixtures)

`pg_database` is the URL of a fresh, empty database (dropped after the test). Where the server
cannot be started (no PostgreSQL binaries, no psycopg, root without a `postgres` user) the
tests that need it skip, saying why; `.ci/run` installs PostgreSQL so in CI they run.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindir() -> Path | None:
    """Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/<version>/bin."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()],
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PostgresServer:
    def __init__(self) -> None:
        self.dir: Path | None = None
        self.port = 0
        self.bindir: Path | None = None
        self.user: pwd.struct_passwd | None = None
        self.skip_reason: str | None = None
        self.running = False

    def _run(self, *args: str | Path) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.user is not None:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")

    def start(self) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            self.skip_reason = "psycopg is not installed (pip install 'blockprop[scale]')"
            return
        self.bindir = _bindir()
        if self.bindir is None:
            self.skip_reason = "PostgreSQL server binaries not found (apt-get install postgresql)"
            return
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                self.skip_reason = "running as root and there is no `postgres` user to run as"
                return
            if shutil.which("runuser") is None:
                self.skip_reason = "running as root without `runuser` to start PostgreSQL"
                return
        # not under pytest's tmp dirs: those are private to root, the server's user can't enter
        self.dir = Path(tempfile.mkdtemp(prefix="blockprop-pg-"))
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        data = self.dir / "data"
        init = self._run(
            self.bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        if init.returncode != 0:
            self.skip_reason = f"initdb failed: {init.stderr.strip()[-500:]}"
            return
        for _ in range(3):  # a port picked beforehand may be taken meanwhile: try another
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            started = self._run(
                self.bindir / "pg_ctl", "-D", data, "-l", self.dir / "server.log", "-w",
                "-t", "60", "-o", options, "start",
            )  # fmt: skip
            if started.returncode == 0:
                self.running = True
                atexit.register(self.stop)
                return
        log = (self.dir / "server.log").read_text(errors="replace")[-800:]
        self.skip_reason = f"PostgreSQL did not start: {started.stderr.strip()} {log}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.running and self.bindir is not None and self.dir is not None:
            self._run(self.bindir / "pg_ctl", "-D", self.dir / "data", "-m", "fast", "-w", "stop")
            self.running = False
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


_server: PostgresServer | None = None


def server() -> PostgresServer:
    """The session's server, started on first use (one for every module that asks)."""
    global _server
    if _server is None:
        _server = PostgresServer()
        _server.start()
    return _server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server (the test skips, saying why, where there can be none)."""
    s = server()
    if not s.running:
        s.stop()  # its temporary directory
        pytest.skip(f"PostgreSQL is not available: {s.skip_reason}")
    yield s
    s.stop()  # the session's end; a second module's finalizer finds it stopped


@pytest.fixture
def pg_database(pg_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    with contextlib.suppress(Exception):
        pg_server.drop_database(name)
