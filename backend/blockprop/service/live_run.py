"""LiveRun, the manager's record of a run its worker holds, and the stream `status` frame."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(eq=False)
class LiveRun:
    """A run a pool worker holds (running, paused or held after diverging), or is starting."""

    id: str
    worker: Any  # the pool's WorkerHandle
    #: who started it (X-Client-Id or address): the per-client cap counts by it
    client: str = ""
    status: str = "starting"
    reason: str | None = None
    step: int = 0
    epoch: int = 0
    last_seq: int = 0
    last_step: int = -1
    ready: asyncio.Future | None = None
    exited: asyncio.Future | None = None
    waiters: list[tuple[Callable[[str], bool], asyncio.Future]] = field(default_factory=list)
    replies: dict[int, asyncio.Future] = field(default_factory=dict)
    final: dict[str, Any] | None = None
    stop_requested: bool = False
    #: since when (monotonic) the run has waited for control, paused or held after diverging,
    #: untouched (a step or a change restarts the clock); None while it trains
    waiting_since: float | None = None
    #: being parked to free its slot (see RunQueue._park): it ends `interrupted`
    parking: bool = False
    last_snapshot: bytes | None = None
    last_boundary: bytes | None = None
    #: what admission reckons with (see admission.py): pace, estimated step cost, memory,
    #: the graph's key (its measured cost is remembered for the next run of it), total steps
    demand: Any = None
    graph_key: str = ""
    total_steps: int = 0
    #: its worker died under it (exit code in the worker's process)
    worker_died: bool = False
    #: the status it had when it left its worker (`status` is then how it ended)
    ended_from: str = ""
    #: how it ended has been recorded (by the worker's `exit`, its death, or a stop that
    #: gave up waiting): recorded once
    recorded: bool = False
    record_lock: threading.Lock = field(default_factory=threading.Lock)


def status_frame(status: str, reason: str | None, *, live: bool, **extra: Any) -> str:
    """A stream `status` frame; `live`: a worker holds the run (it can be controlled)."""
    frame = {"type": "status", "status": status, "reason": reason, "live": live, **extra}
    return orjson.dumps(frame).decode()


async def prime_finished(channel: Any, store: Any, row: Any) -> None:
    """A channel for a run that is not live: its final status, snapshot and boundary."""
    if channel.status_frame is None:
        channel.publish_status(
            orjson.dumps(
                {
                    "type": "status",
                    "status": row.status,
                    "live": row.live,
                    "reason": row.reason,
                    "step": row.step,
                    "epoch": row.epoch,
                    "diverged_node": row.diverged_node,
                    "error": row.error,
                }
            ).decode()
        )
    if channel.snapshot is None:
        snap, boundary = await asyncio.to_thread(store.last_snapshot, row.id)
        if snap:
            channel.publish_snapshot(snap.decode())
        if boundary:
            channel.publish_boundary(boundary.decode())
