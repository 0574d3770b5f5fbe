"""A real local Ray cluster for the tests: `ray start --head` on a free loopback port with two
CPUs, in a temporary directory; stopped (every process of it) at the end.

    from ray_cluster import ray_cluster  # noqa: F401  (fixture)

`ray_cluster` is the head's `127.0.0.1:<port>`. Where Ray is not installed the tests that need
it skip, saying why; `.ci/run` installs it (the `test` extra) so in CI they run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_binary() -> str | None:
    beside = Path(sys.executable).with_name("ray")  # the venv's, when it is not on PATH
    return str(beside) if beside.exists() else shutil.which("ray")


def _processes_under(folder: str) -> list[int]:
    """Every process whose command line names the cluster's folder (Ray's own processes all
    do: their sockets and logs live there)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if folder.encode() in cmdline:
                pids.append(int(entry))
    return pids


def _stop(proc: subprocess.Popen, folder: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        for pid in _processes_under(folder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while _processes_under(folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _processes_under(folder):
            break
    proc.wait()


#: the folder of each cluster these helpers started, by address
FOLDERS: dict[str, str] = {}


def worker_pids(address: str, title: bytes) -> list[int]:
    """The processes of the cluster at `address` whose title starts with `title` (Ray names an
    actor's process after its class, `ray::RayWorker`): children of that cluster's raylet only,
    so another cluster on the same machine (another test session) is never counted."""
    folder = FOLDERS[address]
    raylets = {p for p in _processes_under(folder) if b"raylet" in _cmdline(p)[:200]}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _cmdline(int(entry)).startswith(title):
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in raylets:
                found.append(int(entry))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def kill_runs_actor(address: str, namespace: str) -> None:
    """Kill a deployment's runs actor (its worker actors go with it), from a separate driver,
    so the caller never becomes a Ray driver itself."""
    code = (
        "import ray\n"
        f"ray.init(address={address!r}, namespace={namespace!r}, logging_level='ERROR')\n"
        "try:\n"
        "    ray.kill(ray.get_actor('runs'))\n"
        "except ValueError:\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", code], timeout=60, check=False, capture_output=True)


def start_ray(folder: str) -> tuple[subprocess.Popen, str]:
    """Start a Ray head (two CPUs, on loopback) keeping its files in `folder`: its process and
    address. Raises RuntimeError when it does not start."""
    binary = _ray_binary()
    if binary is None:
        raise RuntimeError("no `ray` command here (pip install 'blockprop[scale]')")
    port = _free_port()
    args = [binary, "start", "--head", "--port", str(port), "--num-cpus", "2"]
    args += ["--node-ip-address", "127.0.0.1", "--temp-dir", folder, "--block"]
    args += ["--include-dashboard=false", "--disable-usage-stats"]
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    Path(folder).mkdir(parents=True, exist_ok=True)
    log_path = Path(folder) / "ray-start.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while "Ray runtime started" not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_ray(proc, folder)
            raise RuntimeError(f"ray did not start: {log_path.read_text()}")
        time.sleep(0.2)
    FOLDERS[f"127.0.0.1:{port}"] = folder
    return proc, f"127.0.0.1:{port}"


def stop_ray(proc: subprocess.Popen, folder: str) -> None:
    """Stop the head and every process of its cluster."""
    _stop(proc, folder)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory) -> Iterator[str]:
    """The address of a Ray head started for the test session."""
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.skip("Ray is not installed (pip install 'blockprop[scale]')")
    folder = str(tmp_path_factory.mktemp("ray"))
    try:
        proc, address = start_ray(folder)
    except RuntimeError as e:
        pytest.skip(str(e))
    try:
        yield address
    finally:
        stop_ray(proc, folder)
