"""One place for every setting, each overridable by an environment variable BLOCKPROP_<NAME>.

Lists are given as JSON, e.g. ``BLOCKPROP_ALLOWED_ORIGINS='["http://localhost:5173"]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
# The built frontend: blockprop/static in an installed wheel (setup.py copies it there at
# build time), else frontend/dist at the repository root in a checkout (`make run`, `make dev`,
# editable installs). BLOCKPROP_STATIC_DIR overrides both.
PACKAGED_STATIC_DIR = PACKAGE_DIR / "static"
CHECKOUT_STATIC_DIR = PACKAGE_DIR.parent.parent / "frontend" / "dist"
DEFAULT_STATIC_DIR = (
    PACKAGED_STATIC_DIR if (PACKAGED_STATIC_DIR / "index.html").is_file() else CHECKOUT_STATIC_DIR
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BLOCKPROP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # An SQLite file (a path, or `sqlite:///path`), or a PostgreSQL database given as a
    # `postgresql://user:password@host:port/name` URL (needs the `blockprop[scale]` extra)
    database: str = "blockprop.sqlite"
    static_dir: Path = DEFAULT_STATIC_DIR
    # An access token every request must carry; required to listen beyond loopback.
    # Given as `Authorization: Bearer <token>`, `?token=<token>` (which also sets a cookie so
    # the browser app keeps working) or that cookie. `/api/health` stays open for probes.
    token: str | None = None
    # Extra origins allowed to change state or open WebSockets (the served origin always is),
    # e.g. the Vite dev server when it proxies with changeOrigin.
    allowed_origins: list[str] = []

    # Limits on requests
    max_body_bytes: int = 2_000_000
    max_json_depth: int = 64
    max_nodes: int = 2_000
    max_tensor_bytes: int = 512 * 1024 * 1024
    max_upload_rows: int = 100_000
    max_sample: int = 5_000
    max_gradcheck_elements: int = 20_000
    max_ws_message_bytes: int = 65_536
    max_response_bytes: int = 64_000_000  # answers estimated larger are refused (413 too_large)

    # Heavy requests (evaluate, explain, gradcheck, exports): sized, then computed in a pool
    compute_executor: Literal["process", "thread"] = "process"  # thread: in-process embedding
    compute_workers: int = 0  # computed at once (0: one per core but one, at least 1)
    compute_queue: int = 128  # waiting for a worker at most (a class asking at once); more: 429
    compute_memory_bytes: int = 1_000_000_000  # tensors and answers in flight, all requests
    compute_memory_wait: float = 2.0  # seconds to wait for that memory before 429 busy
    # Connections: a request whose headers have not all arrived after this long is closed
    # (slowloris); idle keep-alive connections close after keep_alive_seconds; beyond
    # max_connections (connections and tasks) uvicorn answers 503.
    header_timeout_seconds: float = 10.0
    keep_alive_seconds: float = 5.0
    max_connections: int = 2_000

    # Runs: a pool of worker processes, started with the server, hosts them all, many per
    # worker (0 workers: one per core). A run is admitted while a worker can keep its pace
    # (paced runs reserve pace x step cost of a core, unpaced ones at least min_unpaced_share;
    # at most worker_capacity of a core each) and hold its tensors (worker_memory_bytes);
    # otherwise it waits in a queue of at most max_queue runs (beyond: 429).
    workers: int = 0
    worker_capacity: float = 0.85
    min_unpaced_share: float = 0.05
    worker_memory_bytes: int = 4 * 1024**3
    # a worker whose memory grows past this is drained (no new runs) and replaced (0: never)
    worker_max_rss_bytes: int = 2 * 1024**3
    max_queue: int = 200
    # live or waiting runs one client (its X-Client-Id header, else its address) may have
    max_runs_per_client: int = 3
    # an optional cap on live runs (running, paused or held; 0: none): beyond it an idle run
    # is parked (next setting) or the new run waits in the queue
    max_runs: int = 0
    # A run paused (or held after diverging) with nobody watching its stream for this long
    # yields its place when a new run needs one: it is checkpointed and becomes `interrupted`,
    # resumable exactly. Negative: never.
    idle_yield_seconds: float = 60.0
    max_steps: int = 1_000_000
    max_run_seconds: float = 3600.0

    # Run plumbing
    checkpoint_seconds: float = 10.0  # periodic checkpoints of a running run
    metrics_flush_seconds: float = 0.04  # a worker batches metric points this long at most
    stop_grace_seconds: float = 0.8  # a run that has not stopped by then is let go
    worker_start_seconds: float = 60.0  # a worker (or a run) not ready by then has failed
    # BLAS threads per pool worker (0: the library's default). One suits small graphs and
    # several runs sharing a few cores; threaded BLAS was 20x slower on small products here.
    worker_blas_threads: int = 1

    # Stream
    snapshot_rate: float = 10.0  # default snapshots per second per client
    max_snapshot_rate: float = 30.0
    boundary_rate: float = 2.0  # decision-boundary grids per second at most
    boundary_grid: int = 48
    ws_send_timeout: float = 5.0  # a client whose socket accepts nothing this long is dropped
    max_ws_clients: int = 1000  # WebSocket stream clients, all runs together
    ws_ring_bytes: int = 8_000_000  # recent metric frames kept in memory per run (older: SQLite)
    ws_catch_up_bytes: int = 262_144  # metric history a catching-up client reads at a time
    # Classroom sessions (in memory): their JSON in all, and how long one may sit unchanged and
    # unfollowed before it expires
    max_session_bytes: int = 256 * 2**20
    session_idle_seconds: float = 2 * 3600.0
    # Redis (`redis://host:port/db`, needs the `blockprop[scale]` extra): classroom sessions are
    # stored there and their updates published, so any replica serves any session's followers
    # and a restart ends none; with the Ray executor, run streams go through it too. Unset: in
    # this server's memory.
    redis_url: str | None = None
    # Where runs train. `local`: this server's pool of worker processes. `ray`: a Ray cluster
    # (`ray_address`, needs the `blockprop[scale]` extra and `redis_url`): the run manager is a
    # detached actor there, each pool worker an actor, and every replica of the API serves every
    # run (its stream through Redis), so a run outlives the replica that created it.
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # host:port of the cluster's head (None: `RAY_ADDRESS`)
    ray_namespace: str = "blockprop"  # replicas of one deployment share it
    # permessage-deflate on WebSockets: off by default (on a loopback or LAN it costs far more
    # CPU than it saves); consider it when serving remote clients over slow links.
    ws_deflate: bool = False


def get_settings() -> Settings:
    return Settings()
