"""The worker process of one training run (started with the `spawn` context by runs.py).

It speaks to the server only in bytes, never pickle: JSON (orjson) for messages and `.npz`
for checkpoints, framed by a one-byte kind.

Server → worker (control pipe): first an ``init`` JSON message, then the uploaded CSV and the
checkpoint to resume from (raw bytes, when the init says so); then any number of
``pause | resume | step {n} | stop | set {req, values} | subscribe {rate, nodes, boundary} |
state {req}``.

Worker → server (output pipe), by first byte:
``J`` a JSON message (``ready``, ``status``, ``reply``, ``failed``, ``exit``),
``P`` metric points: first step, last step and epoch (3 × 8 bytes), then a JSON list,
``S`` a snapshot frame, ``B`` a boundary frame,
``K`` a checkpoint: 8-byte step, 8-byte npz length, the npz, then the state as JSON.

The trainer runs on the main thread; a control thread reads the control pipe and drives it
through its thread-safe methods (the trainer's own lock makes `snapshot` and `state` safe to
call from that thread). Checkpoints are taken on the training thread only, right after the
points up to their step have been sent. If the server goes away (the pipe closes) the run
stops.

The trainer is built with `hold_on_divergence`: a run that diverges is held (status `diverged`,
not final) with its last finite state, which is checkpointed then as on pause, so the person
watching can lower the learning rate and resume, or step, or stop it.
"""

from __future__ import annotations

import os
import signal
import struct
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import orjson

_DUMP = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_DUMP, default=_default)


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple | set):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


class Out:
    """The output pipe, shared by the training and control threads."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.lock = threading.Lock()
        self.broken = False

    def send(self, kind: bytes, payload: bytes) -> None:
        if self.broken:
            return
        with self.lock:
            try:
                self.conn.send_bytes(kind + payload)
            except (OSError, EOFError, BrokenPipeError):
                self.broken = True

    def json(self, msg: dict[str, Any]) -> None:
        self.send(b"J", dumps(msg))


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
        return {
            "code": "too_large",
            "message": "the run ran out of memory",
            "nodes": [],
            "port": None,
        }
    return {
        "code": "internal",
        "message": f"the trainer failed: {type(e).__name__}: {e}",
        "nodes": [],
        "port": None,
    }


def build_dataset(
    spec: dict[str, Any], upload: dict[str, Any] | None, csv: bytes | None, max_rows: int | None
):
    """The Dataset a run's spec names: a built-in one, or an upload (its CSV bytes)."""
    from blockprop.engine.data import load_csv, load_dataset

    common = {
        "seed": spec.get("seed", 0),
        "test_fraction": spec.get("test_fraction", 0.2),
        "normalize": spec.get("normalize", True),
    }
    if csv is not None:
        upload = upload or {}
        return load_csv(
            csv,
            upload.get("target"),
            task=upload.get("task"),
            name=upload.get("name") or "upload",
            max_rows=max_rows,
            **common,
        )
    own = {k: v for k, v in spec.items() if k not in _SPEC_FIELDS}
    return load_dataset(spec["name"], n=spec.get("n"), noise=spec.get("noise"), **common, **own)


_SPEC_FIELDS = {"name", "n", "noise", "seed", "test_fraction", "normalize"}


class Worker:
    def __init__(self, init: dict[str, Any], trainer: Any, out: Out, ctrl: Connection):
        self.init = init
        self.trainer = trainer
        self.out = out
        self.ctrl = ctrl
        self.flush_every = float(init["flush_seconds"])
        self.checkpoint_every = float(init["checkpoint_seconds"])
        self.max_seconds = float(init["max_seconds"])
        self.boundary_every = 1.0 / max(1e-3, float(init["boundary_rate"]))
        self.grid = int(init["boundary_grid"])
        self.buffer: list[dict[str, Any]] = []
        self.buffer_lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self.finished = False
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

    # -- the training thread --

    def run(self) -> None:
        threading.Thread(target=self._control, name="control", daemon=True).start()
        threading.Thread(target=self._ticker, name="ticker", daemon=True).start()
        if self.init.get("paused"):
            self.trainer.pause()
        self.out.json(self._ready())
        error = None
        try:
            self.trainer.run(
                on_points=self._on_points,
                on_status=self._on_status,
                should_continue=self._should_continue,
            )
        except Exception as e:  # run() keeps step errors itself; this is a safety net
            traceback.print_exc()
            error = error_dict(e)
        self.finished = True
        if error is None and self.trainer.status == "failed":
            failure = getattr(self.trainer, "error", None)
            error = error_dict(failure) if failure is not None else None
        self._flush()
        if not self.parent_gone:
            self._checkpoint(force=True)
            self._snapshot(force=True)
            self._boundary(force=True)
        status = "failed" if error else str(self.trainer.status)
        reason = error["message"] if error else self._reason()
        self._send_status(status, reason, error=error, final=True)
        self.out.json({"type": "exit"})

    def _ready(self) -> dict[str, Any]:
        t = self.trainer
        status = "paused" if self.init.get("paused") else "running"
        return {"type": "ready", "status": status, "step": t.step_count, "epoch": t.epoch}

    def _reason(self) -> str | None:
        if self.limit_reason and self.trainer.status == "stopped":
            return self.limit_reason
        return self.trainer.reason

    def _on_points(self, points: list[dict[str, Any]]) -> None:
        now_wall = time.time()
        for p in points:
            p.setdefault("t", now_wall)
        with self.buffer_lock:
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

    def _send_status(
        self,
        status: str,
        reason: str | None,
        error: dict[str, Any] | None = None,
        final: bool = False,
    ) -> None:
        t = self.trainer
        self.out.json(
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
        # flush_lock keeps batches in order; buffer_lock is held only to swap the list, so
        # the training thread never waits for a send.
        with self.flush_lock:
            with self.buffer_lock:
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
            self.out.send(b"P", head + dumps(points))

    def _ticker(self) -> None:
        """Between steps nothing calls back: flush what waits, and show the latest values
        once training pauses (after `step {n}`, say)."""
        while not self.finished:
            time.sleep(self.flush_every)
            now = time.monotonic()
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

    def _snapshot(self, now: float | None = None, force: bool = False) -> None:
        if self.sub_rate <= 0 and not force:
            return
        self.last_snapshot = now or time.monotonic()
        self.snapshot_step = self.trainer.step_count
        try:
            snap = self.trainer.snapshot(nodes=self.sub_nodes)
        except Exception:
            traceback.print_exc()
            return
        snap = dict(snap)
        snap["type"] = "snapshot"
        snap.setdefault("step", self.trainer.step_count)
        self.out.send(b"S", dumps(snap))

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
        frame = dict(grid)
        frame["type"] = "boundary"
        frame.setdefault("step", self.trainer.step_count)
        self.out.send(b"B", dumps(frame))

    def _checkpoint(self, now: float | None = None, force: bool = False) -> None:
        """Only on the training thread, between steps: the points up to this step are sent
        first, so the store never holds a checkpoint ahead of its metrics."""
        self.last_checkpoint = now or time.monotonic()
        step = self.trainer.step_count
        if step == self.checkpoint_step and not force:
            return
        self._flush()
        try:
            data = self.trainer.save_checkpoint()
            state = dumps(self._state())
        except Exception:
            traceback.print_exc()
            return
        self.checkpoint_step = step
        self.out.send(b"K", struct.pack("<qq", step, len(data)) + data + state)

    def _state(self) -> dict[str, Any]:
        return self.trainer.state()

    def _answer(self, req: dict[str, Any]) -> None:
        if req["type"] == "state":
            try:
                reply = {
                    "state": self._state(),
                    "step": self.trainer.step_count,
                    "normalized": self.trainer.input_normalization(),
                }
            except Exception as e:
                reply = {"error": error_dict(e)}
        else:
            reply = {}
        self.out.json({"type": "reply", "req": req.get("req"), **reply})

    # -- the control thread --

    def _idle(self) -> bool:
        return self.trainer.status != "running"

    def _control(self) -> None:
        t = self.trainer
        while True:
            try:
                msg = orjson.loads(self.ctrl.recv_bytes())
            except (EOFError, OSError):
                self.parent_gone = True
                t.stop()
                return
            kind = msg.get("type")
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
                    try:
                        t.set(**msg["values"])
                        reply: dict[str, Any] = {"ok": True}
                    except (ValueError, TypeError) as e:
                        reply = {"error": error_dict(ValueError(str(e)))}
                    self.out.json({"type": "reply", "req": msg.get("req"), **reply})
                elif kind == "subscribe":
                    self.sub_rate = float(msg.get("rate") or 0)
                    self.sub_nodes = msg.get("nodes")
                    self.sub_boundary = bool(msg.get("boundary"))
                    if self._idle() and self.sub_rate > 0:
                        self._snapshot(force=True)
                        if self.sub_boundary:
                            self._boundary(force=True)
                elif kind == "state":
                    self._answer(msg)  # the trainer's lock makes this safe mid-run
            except Exception:
                traceback.print_exc()


#: the settings a client may change while a run is live (PATCH /api/runs/{id}); the stored config
#: records them
CHANGEABLE = ("lr", "momentum", "l1", "l2", "speed")


def _apply_changed_settings(trainer: Any, config: Any) -> None:
    """A checkpoint restores the live settings of its moment; settings changed after it (say, a
    smaller lr while held after diverging, then the server restarted) are in the stored config,
    and apply from the next step on as they would have without the restart."""
    changed = {
        k: getattr(config, k)
        for k in CHANGEABLE
        if trainer.settings[k] != getattr(config, k)
        and (k != "momentum" or config.optimizer == "momentum")
    }
    if changed:
        trainer.set(**changed)


def main(run_id: str, ctrl: Connection, out_conn: Connection) -> None:
    """Entry point of the worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which stops us
    out = Out(out_conn)
    try:
        init = orjson.loads(ctrl.recv_bytes())
        threads = int(init.get("blas_threads") or 0)
        if threads > 0:  # before NumPy (and its BLAS) is first imported in this process
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = str(threads)
        csv = ctrl.recv_bytes() if init.get("has_csv") else None
        checkpoint = ctrl.recv_bytes() if init.get("has_checkpoint") else None
        from blockprop.engine.trainer import TrainConfig, Trainer

        dataset = build_dataset(init["dataset"], init.get("upload"), csv, init.get("max_rows"))
        config = TrainConfig.from_dict(init["config"])
        if checkpoint is not None:
            trainer = Trainer.from_checkpoint(
                init["doc"], dataset, config, checkpoint, hold_on_divergence=True
            )
            _apply_changed_settings(trainer, config)
        else:
            trainer = Trainer(init["doc"], dataset, config, hold_on_divergence=True)
    except Exception as e:
        traceback.print_exc()
        out.json({"type": "failed", "error": error_dict(e)})
        out.json({"type": "exit"})
        return
    Worker(init, trainer, out, ctrl).run()
    out_conn.close()
    os._exit(0)
