"""One training run hosted by a pool worker (worker.py): its trainer and what it owes the
server — metric batches, snapshots, boundary grids, checkpoints, statuses — sent as frames
naming the run (framing.py).

Everything here runs on the worker's one thread, between other runs' time slices: `slice()`
trains for a few milliseconds (`Trainer.advance`), `tick()` flushes what waits, `control()`
applies a message. Nothing blocks.

Checkpoints are taken between steps, right after the points up to their step have been sent,
so the store never holds a checkpoint ahead of its metrics. The trainer is built with
`hold_on_divergence`: a run that diverges is held (status `diverged`, not final) with its last
finite state, checkpointed then as on pause, so the person watching can lower the learning rate
and resume, or step, or stop it.
"""

from __future__ import annotations

import math
import struct
import time
import traceback
from collections.abc import Callable
from typing import Any

from blockprop.service.framing import dumps, frame

#: weight of the newest measurement in the step-cost average
COST_SMOOTHING = 0.2


def error_dict(e: BaseException) -> dict[str, Any]:
    """The shared error shape for an exception from the engine or the trainer."""
    issues = getattr(e, "issues", None)
    if issues:
        d = issues[0].to_dict()
        return {"code": d["code"], "message": d["message"], "nodes": d["nodes"], "port": d["port"]}
    code = getattr(e, "code", None)
    if isinstance(code, str):
        message = getattr(e, "message", None) or str(e)
        return {"code": code, "message": message, "nodes": [], "port": None}
    if isinstance(e, ValueError):
        return {"code": "bad_config", "message": str(e), "nodes": [], "port": None}
    if isinstance(e, MemoryError):
        message = "the run ran out of memory"
        return {"code": "too_large", "message": message, "nodes": [], "port": None}
    message = f"the trainer failed: {type(e).__name__}: {e}"
    return {"code": "internal", "message": message, "nodes": [], "port": None}


Send = Callable[[bytes], None]


class HostedRun:
    def __init__(self, run_id: str, init: dict[str, Any], trainer: Any, send: Send):
        self.id = run_id
        self.init = init
        self.trainer = trainer
        self._send_frame = send
        self.flush_every = float(init["flush_seconds"])
        self.checkpoint_every = float(init["checkpoint_seconds"])
        self.max_seconds = float(init["max_seconds"])
        self.boundary_every = 1.0 / max(1e-3, float(init["boundary_rate"]))
        self.grid = int(init["boundary_grid"])
        self.buffer: list[dict[str, Any]] = []
        self.snapshot_step = -1
        self.sub_rate = 0.0
        self.sub_nodes: list[str] | None = None
        self.sub_boundary = False
        now = time.monotonic()
        self.started = now
        self.last_flush = now
        self.last_snapshot = 0.0
        self.last_boundary = 0.0
        self.last_checkpoint = now
        self.checkpoint_step = -1
        self.limit_reason: str | None = None
        self.parent_gone = False
        self.has_boundary = True
        #: monotonic time this run wants the CPU next (inf: it waits for control)
        self.wake = now
        #: when it last had a time slice (the scheduler serves the least recent first)
        self.served = 0.0
        #: seconds of CPU per step, measured (None until it has stepped)
        self.cost: float | None = None
        #: the share of a core it takes, all told (steps, snapshots, boundaries, checkpoints),
        #: averaged over windows of about a second (None until the first window closes)
        self.cpu: float | None = None
        self._cpu_spent = 0.0
        self._cpu_since = now
        if init.get("paused"):
            trainer.pause()

    # -- what the scheduler calls --

    @property
    def finished(self) -> bool:
        return self.trainer.finished

    @property
    def speed(self) -> float:
        """Steps per second it is paced at (0: as fast as it goes)."""
        t = self.trainer
        return float(t._pending.get("speed", t.settings["speed"]))

    @property
    def running(self) -> bool:
        return self.trainer.status == "running"

    def account(self, seconds: float, now: float) -> None:
        """`seconds` of CPU spent on this run (by the scheduler, around whatever it did)."""
        self._cpu_spent += seconds
        elapsed = now - self._cpu_since
        if elapsed >= 1.0:
            share = self._cpu_spent / elapsed
            c = self.cpu
            self.cpu = share if c is None else c + 0.5 * (share - c)
            self._cpu_spent, self._cpu_since = 0.0, now

    def ready(self) -> None:
        t = self.trainer
        status = "paused" if self.init.get("paused") else "running"
        self._json({"type": "ready", "status": status, "step": t.step_count, "epoch": t.epoch})

    def slice(self, budget: float) -> None:
        """Train for at most `budget` seconds (the steps that are due), then note when this
        run wants the CPU again and what a step cost."""
        steps = self.trainer.step_count
        t0 = time.perf_counter()
        wait = self.trainer.advance(budget, self._on_points, self._on_status, self._should_continue)
        spent = time.perf_counter() - t0
        n = self.trainer.step_count - steps
        if n > 0:
            per_step = spent / n
            c = self.cost
            self.cost = per_step if c is None else c + COST_SMOOTHING * (per_step - c)
        now = time.monotonic()
        self.served = now
        # waiting for control, it is still looked at when its time limit comes (then it ends)
        limit = self.started + self.max_seconds if self.max_seconds else math.inf
        self.wake = min(now + wait, max(limit, now))

    def tick(self, now: float) -> None:
        """Between slices: flush the points that wait, and show the latest values once
        training pauses (after `step {n}`, say)."""
        if self.buffer and now - self.last_flush >= self.flush_every:
            self._flush(now)
        t = self.trainer
        if (
            self.sub_rate > 0
            and t.status != "running"
            and t.step_count != self.snapshot_step
            and now - self.last_snapshot >= 1.0 / self.sub_rate
        ):
            self._snapshot(now=now)
            if self.sub_boundary:
                self._boundary(now=now)

    def finish(self) -> None:
        """The run has ended: send what is left, its final status, and `exit`."""
        t = self.trainer
        error = None
        if t.status == "failed":
            error = error_dict(t.error) if t.error is not None else None
            if t.error is not None:
                traceback.print_exception(t.error)
        self._flush()
        if not self.parent_gone:
            self._checkpoint(force=True)
            self._snapshot(force=True)
            self._boundary(force=True)
        status = "failed" if error else str(t.status)
        reason = error["message"] if error else self._reason()
        self._send_status(status, reason, error=error, final=True)
        self._json({"type": "exit"})

    def control(self, msg: dict[str, Any]) -> None:
        """A control message from the server; the run is looked at again at once."""
        t = self.trainer
        kind = msg.get("type")
        self.wake = min(self.wake, time.monotonic())
        try:
            if kind == "pause":
                t.pause()
            elif kind == "resume":
                t.resume()
            elif kind == "step":
                t.request_steps(int(msg.get("n", 1)))
            elif kind == "stop":
                t.stop()
            elif kind == "set":
                self._set(msg)
            elif kind == "subscribe":
                self._subscribe(msg)
            elif kind == "state":
                self._answer(msg)
        except Exception:
            traceback.print_exc()

    def stop_orphaned(self) -> None:
        """The server is gone: stop without sending anything more."""
        self.parent_gone = True
        self.trainer.stop()
        self.wake = 0.0

    # -- control --

    def _set(self, msg: dict[str, Any]) -> None:
        try:
            self.trainer.set(**msg["values"])
            reply: dict[str, Any] = {"ok": True}
        except (ValueError, TypeError) as e:
            reply = {"error": error_dict(ValueError(str(e)))}
        self._json({"type": "reply", "req": msg.get("req"), **reply})

    def _subscribe(self, msg: dict[str, Any]) -> None:
        self.sub_rate = float(msg.get("rate") or 0)
        self.sub_nodes = msg.get("nodes")
        self.sub_boundary = bool(msg.get("boundary"))
        if self.trainer.status != "running" and self.sub_rate > 0:
            self._snapshot(force=True)
            if self.sub_boundary:
                self._boundary(force=True)

    def _answer(self, req: dict[str, Any]) -> None:
        try:
            reply = {
                "state": self.trainer.state(),
                "step": self.trainer.step_count,
                "normalized": self.trainer.input_normalization(),
            }
        except Exception as e:
            reply = {"error": error_dict(e)}
        self._json({"type": "reply", "req": req.get("req"), **reply})

    # -- the trainer's callbacks --

    def _reason(self) -> str | None:
        if self.limit_reason and self.trainer.status == "stopped":
            return self.limit_reason
        return self.trainer.reason

    def _on_points(self, points: list[dict[str, Any]]) -> None:
        now_wall = time.time()
        for p in points:
            p.setdefault("t", now_wall)
        self.buffer.extend(points)
        now = time.monotonic()
        if now - self.last_flush >= self.flush_every:
            self._flush(now)
        if self.sub_rate > 0 and now - self.last_snapshot >= 1.0 / self.sub_rate:
            self._snapshot(now=now)
        if (
            self.sub_boundary
            and self.has_boundary
            and now - self.last_boundary >= (self.boundary_every)
        ):
            self._boundary(now=now)
        if now - self.last_checkpoint >= self.checkpoint_every:
            self._checkpoint(now=now)

    def _should_continue(self) -> bool:
        if self.max_seconds and time.monotonic() - self.started > self.max_seconds:
            if self.limit_reason is None:
                self.limit_reason = (
                    f"time limit reached: the run trained for {self.max_seconds:g} s "
                    "(BLOCKPROP_MAX_RUN_SECONDS)"
                )
            return False
        return not self.parent_gone

    def _on_status(self, status: str, reason: str | None) -> None:
        self._flush()
        held = status == "diverged" and self.trainer.held
        if status == "paused" or held:
            self._snapshot(force=True)  # held: the values of the diverging step, non-finite
            self._boundary(force=True)
            # Held, the parameters were put back after the last checkpoint may have been taken
            # at this step: replace it, so a restart resumes from the state that was kept.
            self._checkpoint(force=held)
        if status in ("running", "paused") or held:
            self._send_status(status, reason)

    # -- what it sends --

    def _send(self, kind: bytes, payload: bytes) -> None:
        self._send_frame(frame(kind, self.id, payload))

    def _json(self, msg: dict[str, Any]) -> None:
        self._send(b"J", dumps(msg))

    def _send_status(
        self,
        status: str,
        reason: str | None,
        error: dict[str, Any] | None = None,
        final: bool = False,
    ) -> None:
        t = self.trainer
        self._json(
            {
                "type": "status",
                "status": status,
                "reason": reason,
                "step": t.step_count,
                "epoch": t.epoch,
                "diverged_node": getattr(t, "diverged_node", None),
                "error": error,
                "final": final,
            }
        )

    def _flush(self, now: float | None = None) -> None:
        self.last_flush = now or time.monotonic()
        if not self.buffer:
            return
        points, self.buffer = self.buffer, []
        head = struct.pack(
            "<qqq",
            int(points[0].get("step", 0)),
            int(points[-1].get("step", 0)),
            int(points[-1].get("epoch", 0)),
        )
        self._send(b"P", head + dumps(points))

    def _snapshot(self, now: float | None = None, force: bool = False) -> None:
        if self.sub_rate <= 0 and not force:
            return
        self.last_snapshot = now or time.monotonic()
        self.snapshot_step = self.trainer.step_count
        try:
            snap = dict(self.trainer.snapshot(nodes=self.sub_nodes))
        except Exception:
            traceback.print_exc()
            return
        snap["type"] = "snapshot"
        snap.setdefault("step", self.trainer.step_count)
        self._send(b"S", dumps(snap))

    def _boundary(self, now: float | None = None, force: bool = False) -> None:
        if not self.has_boundary or (not self.sub_boundary and not force):
            return
        self.last_boundary = now or time.monotonic()
        try:
            grid = self.trainer.boundary(grid=self.grid)
        except Exception:
            traceback.print_exc()
            grid = None
        if grid is None:
            self.has_boundary = False
            return
        out = dict(grid)
        out["type"] = "boundary"
        out.setdefault("step", self.trainer.step_count)
        self._send(b"B", dumps(out))

    def _checkpoint(self, now: float | None = None, force: bool = False) -> None:
        """Between steps only: the points up to this step are sent first, so the store never
        holds a checkpoint ahead of its metrics."""
        self.last_checkpoint = now or time.monotonic()
        step = self.trainer.step_count
        if step == self.checkpoint_step and not force:
            return
        self._flush()
        try:
            data = self.trainer.save_checkpoint()
            state = dumps(self.trainer.state())
        except Exception:
            traceback.print_exc()
            return
        self.checkpoint_step = step
        self._send(b"K", struct.pack("<qq", step, len(data)) + data + state)


def load_report(runs: dict[str, HostedRun], rss: int) -> dict[str, Any]:
    """The worker's `load` message: each run's measured step cost, CPU share and pace, and the
    worker's memory."""
    return {
        "type": "load",
        "rss": rss,
        "runs": {
            rid: {"cost": r.cost, "cpu": r.cpu, "speed": r.speed, "running": r.running}
            for rid, r in runs.items()
        },
    }
