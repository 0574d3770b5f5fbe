"""A pool worker: one process (started with the `spawn` context by pool.py, with the server)
that hosts many training runs and interleaves them in short time slices.

It speaks to the server only in frames of bytes that name their run (framing.py), never pickle.

The scheduler, on the worker's one thread, repeats: apply every control message waiting on the
pipe; give the next run a slice of at most `SLICE` seconds; flush what waits. The next run is
the paced run (`speed` > 0) whose step is due soonest, else the unpaced run served least
recently: a paced run waits for at most one slice, so it keeps its pace, and unpaced runs
share what is left round-robin. A run costs nothing while it is paused or waits for its next
paced step. Control messages are read between slices, so they take effect within a slice.

One run's exception fails that run only (`Trainer.advance` keeps it). If the worker dies
(killed, out of memory), the server marks its runs `interrupted` and resumes them elsewhere
from their checkpoints. If the server goes away (the pipe closes), the runs stop.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import orjson

from blockprop.service.framing import dumps, frame, parse, parse_start
from blockprop.service.hosted_run import HostedRun, error_dict, load_report

#: seconds of training a run gets before the scheduler looks at the others
SLICE = 0.005
#: how often the worker tells the server its runs' step costs and its memory
LOAD_EVERY = 0.5


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


def build_trainer(init: dict[str, Any], csv: bytes | None, checkpoint: bytes | None) -> Any:
    """The trainer of a run: fresh, or from the checkpoint it resumes from."""
    from blockprop.engine.trainer import TrainConfig, Trainer

    dataset = build_dataset(init["dataset"], init.get("upload"), csv, init.get("max_rows"))
    config = TrainConfig.from_dict(init["config"])
    if checkpoint is None:
        return Trainer(init["doc"], dataset, config, hold_on_divergence=True)
    trainer = Trainer.from_checkpoint(
        init["doc"], dataset, config, checkpoint, hold_on_divergence=True
    )
    _apply_changed_settings(trainer, config)
    return trainer


def _rss() -> int:
    """This process's resident memory in bytes (its current size, from /proc where there is
    one; else the peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Scheduler:
    """The runs of one worker and the loop that interleaves them (see the module docstring)."""

    def __init__(self, ctrl: Any, out: Any, tick: float):
        self.ctrl = ctrl
        self.out = out
        self.tick_every = tick
        self.runs: dict[str, HostedRun] = {}
        self.parent_gone = False
        self.last_tick = 0.0
        self.last_load = 0.0

    def send(self, data: bytes) -> None:
        if self.parent_gone:
            return
        try:
            self.out.send_bytes(data)
        except (OSError, EOFError, BrokenPipeError):
            self._orphaned()

    def serve(self) -> None:
        while not (self.parent_gone and not self.runs):
            self._wait_for_work()
            self._read_control()
            run = self._next_run(time.monotonic())
            if run is not None:
                t0 = time.thread_time()
                run.slice(SLICE)
                run.account(time.thread_time() - t0, time.monotonic())
                if run.finished:
                    self._finish(run)
            now = time.monotonic()
            if now - self.last_tick >= min(self.tick_every, 0.01):
                self.last_tick = now
                for r in list(self.runs.values()):
                    t0 = time.thread_time()
                    r.tick(now)
                    r.account(time.thread_time() - t0, now)
            if now - self.last_load >= LOAD_EVERY and not self.parent_gone:
                self.last_load = now
                self.send(frame(b"J", "", dumps(load_report(self.runs, _rss()))))

    # -- scheduling --

    def _next_run(self, now: float) -> HostedRun | None:
        """The paced run due soonest, else the unpaced run served least recently."""
        paced: HostedRun | None = None
        unpaced: HostedRun | None = None
        for r in self.runs.values():
            if r.wake > now and not r.finished:
                continue
            if r.speed > 0:
                if paced is None or r.wake < paced.wake:
                    paced = r
            elif unpaced is None or r.served < unpaced.served:
                unpaced = r
        return paced or unpaced

    def _wait_for_work(self) -> None:
        """Sleep on the control pipe until a run is due, a message comes, or a tick is due."""
        if self.parent_gone:
            return
        now = time.monotonic()
        wake = min((r.wake for r in self.runs.values()), default=math.inf)
        timeout = max(0.0, min(wake - now, self.tick_every))
        try:
            self.ctrl.poll(timeout)
        except (OSError, EOFError):
            self._orphaned()

    def _read_control(self) -> None:
        while not self.parent_gone:
            try:
                if not self.ctrl.poll(0):
                    return
                data = self.ctrl.recv_bytes()
            except (OSError, EOFError):
                self._orphaned()
                return
            try:
                self._handle(data)
            except Exception:
                traceback.print_exc()

    def _handle(self, data: bytes) -> None:
        kind, run_id, payload = parse(data)
        if kind == b"N":
            self._start(run_id, payload)
            return
        run = self.runs.get(run_id)
        msg = orjson.loads(payload)
        if msg.get("type") == "drop":  # the server gave up waiting for it
            self.runs.pop(run_id, None)
        elif run is not None:
            t0 = time.thread_time()
            run.control(msg)
            run.account(time.thread_time() - t0, time.monotonic())

    def _start(self, run_id: str, payload: bytes) -> None:
        try:
            init, csv, checkpoint = parse_start(payload)
            trainer = build_trainer(init, csv, checkpoint)
        except Exception as e:
            traceback.print_exc()
            self.send(frame(b"J", run_id, dumps({"type": "failed", "error": error_dict(e)})))
            self.send(frame(b"J", run_id, dumps({"type": "exit"})))
            return
        run = HostedRun(run_id, init, trainer, self.send)
        self.runs[run_id] = run
        run.ready()

    def _finish(self, run: HostedRun) -> None:
        self.runs.pop(run.id, None)
        try:
            run.finish()
        except Exception:
            traceback.print_exc()

    def _orphaned(self) -> None:
        """The server is gone: stop every run (they end without a word) and exit."""
        if self.parent_gone:
            return
        self.parent_gone = True
        for r in self.runs.values():
            r.stop_orphaned()


def main(index: int, ctrl: Connection, out: Connection, blas_threads: int, tick: float) -> None:
    """Entry point of a pool worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which stops us
    if blas_threads > 0:  # before NumPy (and its BLAS) is first imported in this process
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(blas_threads)
    serve(index, ctrl, out, tick)
    out.close()
    os._exit(0)


def serve(index: int, ctrl: Any, out: Any, tick: float) -> None:
    """Host runs until the control channel closes and the last run has ended. `ctrl` and `out`
    are the two transports' ends: the pipes of a local worker process, or the in-actor queues
    of a Ray actor (ray_worker.py); each needs `poll(timeout)`, `recv_bytes()` and
    `send_bytes(data)` as a `multiprocessing.connection.Connection` has them."""
    import numpy  # noqa: F401  (loaded before the first run, so a start costs no import)

    from blockprop.engine import registry
    from blockprop.engine.trainer import Trainer  # noqa: F401

    registry.all_ops()
    scheduler = Scheduler(ctrl, out, tick)
    scheduler.send(frame(b"J", "", dumps({"type": "hello", "index": index, "pid": os.getpid()})))
    scheduler.serve()
