"""The run manager: starts training runs in worker processes, controls them, records them.

- Each run trains in its own process (`multiprocessing` spawn context, see worker.py), never on
  the event loop. At most `Settings.max_runs` are live (running, paused, or held after
  diverging) at once. When a run needs a slot (created, or an interrupted one resumed) and none
  is free, the run that has waited longest, paused or held, untouched and with no stream client
  for `Settings.idle_yield_seconds`, is *parked*: its worker checkpoints and exits, and it
  becomes `interrupted`, resumable exactly as after a restart. With none to park, the request
  is refused with `too_many_runs` (429).
- A reader thread per worker receives its messages (bytes only, no pickle), writes metric
  batches, statuses and checkpoints to the store (off the event loop) and hands them to the
  event loop, where the stream hub fans them out.
- Control (pause, resume, step, stop, set) goes down a control pipe. Stop is prompt: a worker
  that has not stopped after `stop_grace_seconds` is terminated (its last checkpoint stays).
- A run that diverges is held by its worker (status `diverged`, `finished_at` unset, live) with
  its last finite parameters until it is resumed or stepped (lr lowered, say) or stopped; stopped,
  it ends as `diverged`.
- On shutdown live runs are stopped and marked `interrupted`; so are runs found live at start-up
  (the server died). An interrupted run resumes from its last checkpoint on `resume`.

The parts: this module (lifecycle, creating and controlling runs), run_events.py (the
worker's messages), trained_state.py (trained parameters), live_run.py (LiveRun).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from blockprop.service.errors import ServiceError, from_data_error, from_issues
from blockprop.service.live_run import LiveRun, status_frame
from blockprop.service.run_events import WAITING, RunEvents
from blockprop.service.store import RunRow, Store
from blockprop.service.stream import Hub, Subscription
from blockprop.service.tokens import hash_token, new_edit_token, new_id
from blockprop.service.trained_state import TrainedStates
from blockprop.service.worker import build_dataset as worker_build_dataset
from blockprop.settings import Settings

log = logging.getLogger("blockprop.runs")


UPLOAD_PREFIX = "upload-"

__all__ = ["UPLOAD_PREFIX", "LiveRun", "RunManager", "status_frame"]


class RunManager(RunEvents, TrainedStates):
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self.live: dict[str, LiveRun] = {}
        self.hub = Hub(
            self._fetch_batches,
            settings.ws_ring_bytes,
            self._on_subscription,
            catch_up_bytes=settings.ws_catch_up_bytes,
        )
        self._ctx = multiprocessing.get_context("spawn")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Lock()
        self._req = 0
        self.shutting_down = False
        #: trained states served lately, by (run id, step): see `trained_state`
        self._kept: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._kept_sizes: dict[tuple[str, int], int] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ids = await asyncio.to_thread(self.store.interrupt_live_runs)
        if ids:
            log.info("%d run(s) were live when the server last stopped: interrupted", len(ids))

    async def shutdown(self) -> None:
        self.shutting_down = True
        runs = list(self.live.values())
        for live in runs:
            live.stop_requested = True
            self._send(live, {"type": "stop"})
        for live in runs:
            if live.exited is not None:
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(live.exited), 3.0)
            if live.process.is_alive():
                live.process.kill()
        for live in runs:
            if live.thread is not None:
                await asyncio.to_thread(live.thread.join, 5.0)
        await self.hub.close_all()

    # ------------------------------------------------------------------ creating

    def prepare(
        self, doc: dict[str, Any], dataset: dict[str, Any], train: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None, bytes | None]:
        """Check a run's config, data and graph before any worker starts (blocking: call it in
        a thread). Returns (config dict, upload info, CSV bytes) or raises ServiceError (422)."""
        from blockprop.engine.data import DataError
        from blockprop.engine.graph import validate
        from blockprop.engine.trainer import TrainConfig

        s = self.settings
        try:
            config = TrainConfig.from_dict(train)
        except (ValueError, TypeError) as e:
            raise ServiceError(422, "bad_config", f"training config: {e}") from None
        if config.max_steps is not None and config.max_steps > s.max_steps:
            raise ServiceError(
                422,
                "too_large",
                f"max_steps {config.max_steps} is above this server's limit of {s.max_steps} "
                "steps per run (BLOCKPROP_MAX_STEPS)",
            )
        if config.max_steps is None:
            config = config.replace(max_steps=s.max_steps)
        upload, csv = self.upload_for(dataset)
        try:
            ds = worker_build_dataset(dataset, upload, csv, s.max_upload_rows)
        except DataError as e:
            raise from_data_error(e) from None
        batch = config.batch_size or ds.n_train
        rows = min(batch, ds.n_train) + min(1024, max(ds.n_train, ds.n_test, s.boundary_grid**2))
        result = validate(doc, max_bytes=s.max_tensor_bytes, batch_size=rows)
        if not result.ok:
            raise from_issues(result.errors)
        return config.to_dict(), upload, csv

    def upload_for(self, dataset: dict[str, Any]) -> tuple[dict[str, Any] | None, bytes | None]:
        """The stored upload a dataset spec names, if it names one (blocking)."""
        name = dataset.get("name", "")
        if not name.startswith(UPLOAD_PREFIX):
            return None, None
        row = self.store.get_dataset(name)
        if row is None:
            raise ServiceError(
                422, "unknown_dataset", f"no uploaded dataset {name!r} (upload it first)"
            )
        upload = {"name": row.name, "target": row.info.get("target"), "task": row.info.get("task")}
        return upload, row.csv

    async def create(
        self,
        *,
        doc: dict[str, Any],
        graph_id: str | None,
        dataset: dict[str, Any],
        train: dict[str, Any],
        name: str,
        paused: bool,
    ) -> tuple[RunRow, str]:
        """Check, record and start a run. Returns its row and its edit token."""
        self._check_slot()  # refuse early; checked again when the slot is taken
        config, upload, csv = await asyncio.to_thread(self.prepare, doc, dataset, train)
        token = new_edit_token()
        run_id = new_id()
        row = await asyncio.to_thread(
            self.store.create_run,
            run_id,
            graph_id,
            name or doc.get("name") or "run",
            doc,
            dataset,
            config,
            "starting",
            hash_token(token),
        )
        try:
            await self.start_worker(row, paused=paused, upload=upload, csv=csv, resume=False)
        except BaseException:
            await asyncio.to_thread(self.store.delete_run, run_id)
            raise
        row = await asyncio.to_thread(self.store.get_run, run_id)
        assert row is not None
        return row, token

    async def resume(self, run: RunRow) -> None:
        """Resume a paused run, or restart an interrupted one from its last checkpoint."""
        live = self.live.get(run.id)
        if live is not None and live.parking:  # being parked: resume it once it is interrupted
            run = await self._after_parking(live, run)
            live = None
        if live is not None and live.final is None:
            await self.resume_live(live)
            return
        if run.status != "interrupted":
            raise ServiceError(
                409,
                "not_resumable",
                f"the run is {run.status}; only paused, held (diverged) or interrupted runs can "
                "be resumed",
            )
        upload, csv = await asyncio.to_thread(self.upload_for, run.dataset)
        await self.start_worker(run, paused=False, upload=upload, csv=csv, resume=True)

    async def stop_run(self, run: RunRow) -> None:
        live = self.live.get(run.id)
        if live is not None and live.parking:  # being parked: stop it once it is interrupted
            run = await self._after_parking(live, run)
        elif await self.stop(run.id):
            return
        if run.status == "interrupted":
            await asyncio.to_thread(
                self.store.update_run,
                run.id,
                status="stopped",
                reason="stopped while interrupted",
                finished_at=time.time(),
            )
            return
        # A run that has already ended is left as it is: stop is idempotent, so a client whose
        # Stop crosses the run's own finish (a race no client can avoid) gets the final state.

    async def _after_parking(self, live: LiveRun, run: RunRow) -> RunRow:
        """Wait until a run being parked has exited; its row then (`interrupted`)."""
        await self._end(live)
        return await asyncio.to_thread(self.store.get_run, run.id) or run

    def live_count(self) -> int:
        return len(self.live)

    def _check_slot(self) -> None:
        """Refuse early when every slot is taken and no run could yield its slot."""
        if len(self.live) >= self.settings.max_runs and self._idle_run() is None:
            raise self._no_slot()

    async def _free_slot(self) -> None:
        """Make room for one more live run (under `_slots`): park idle runs, the one that has
        waited longest first, or raise `too_many_runs`."""
        while len(self.live) >= self.settings.max_runs:
            live = self._idle_run()
            if live is None:
                raise self._no_slot()
            await self._park(live)

    def _no_slot(self) -> ServiceError:
        n, limit = len(self.live), self.settings.max_runs
        log.info(
            "refused a run: %d live, the limit is %d (BLOCKPROP_MAX_RUNS), none idle for "
            "%g s (BLOCKPROP_IDLE_YIELD_SECONDS)",
            n,
            limit,
            self.settings.idle_yield_seconds,
        )
        runs = f"{n} run{'s' if n != 1 else ''}"
        return ServiceError(
            429,
            "too_many_runs",
            f"The server is already training {runs}, its limit, and none of them is idle. "
            "Stop one of your runs, or try again when one finishes.",
        )

    def _idle_run(self) -> LiveRun | None:
        """The live run to park for a slot: paused or held after diverging, untouched and
        unwatched (no stream client) for `idle_yield_seconds`, the one waiting longest."""
        wait = self.settings.idle_yield_seconds
        if wait < 0:
            return None
        now = time.monotonic()
        best: LiveRun | None = None
        for live in self.live.values():
            since = live.waiting_since
            if (
                since is None
                or live.status not in WAITING
                or live.final is not None
                or live.stop_requested
                or live.parking
            ):
                continue
            ch = self.hub.get(live.id)
            if ch is not None and (ch.clients or now - ch.unwatched_since < wait):
                continue
            if now - since >= wait and (best is None or since < (best.waiting_since or 0)):
                best = live
        return best

    async def _park(self, live: LiveRun) -> None:
        """Stop an idle run so that it yields its slot: its worker checkpoints the state it
        waits in and exits, and the run becomes `interrupted` (see RunEvents._finish), to be
        resumed exactly as after a restart."""
        t0 = time.monotonic()
        live.parking = True
        await self._end(live)
        log.info(
            "run %s: parked at step %d to free a slot (idle, unwatched) in %.3f s",
            live.id,
            live.step,
            time.monotonic() - t0,
        )

    async def start_worker(
        self,
        run: RunRow,
        *,
        paused: bool,
        upload: dict[str, Any] | None,
        csv: bytes | None,
        resume: bool,
    ) -> LiveRun:
        """Spawn the worker of `run`, wait until it is ready, and return it (or raise)."""
        async with self._slots:
            if run.id in self.live:
                raise ServiceError(409, "conflict", "the run is already live")
            await self._free_slot()
            checkpoint = None
            if resume:
                cp = await asyncio.to_thread(self.store.get_checkpoint, run.id)
                checkpoint = cp[1] if cp else None
            ctrl_parent, ctrl_child = self._ctx.Pipe(duplex=False)  # (recv, send)
            out_parent, out_child = self._ctx.Pipe(duplex=False)
            from blockprop.service import worker

            process = self._ctx.Process(
                target=worker.main,
                args=(run.id, ctrl_parent, out_child),
                name=f"blockprop-run-{run.id[:8]}",
                daemon=True,
            )
            live = LiveRun(run.id, process, ctrl_child, out_parent)
            live.last_seq = run.last_seq
            # metrics up to run.step are stored; a resumed worker replays from its checkpoint
            live.last_step = run.step if resume else -1
            loop = asyncio.get_running_loop()
            live.ready = loop.create_future()
            live.exited = loop.create_future()
            self.live[run.id] = live
            channel = self.hub.pin(run.id, run.last_seq)
            try:
                await asyncio.to_thread(process.start)
            except Exception:
                self.live.pop(run.id, None)
                self.hub.unpin(run.id)
                raise
            ctrl_parent.close()
            out_child.close()
        s = self.settings
        init = {
            "type": "init",
            "run_id": run.id,
            "doc": run.doc,
            "dataset": run.dataset,
            "upload": upload,
            "config": run.config,
            "paused": paused,
            "flush_seconds": s.metrics_flush_seconds,
            "checkpoint_seconds": s.checkpoint_seconds,
            "max_seconds": s.max_run_seconds,
            "boundary_rate": s.boundary_rate,
            "boundary_grid": s.boundary_grid,
            "max_rows": s.max_upload_rows,
            "blas_threads": s.worker_blas_threads,
            "has_csv": csv is not None,
            "has_checkpoint": checkpoint is not None,
        }
        self._send(live, init)
        if csv is not None:
            self._send_raw(live, csv)
        if checkpoint is not None:
            self._send_raw(live, checkpoint)
        live.thread = threading.Thread(
            target=self._reader, args=(live,), name=f"run-{run.id[:8]}", daemon=True
        )
        live.thread.start()
        try:
            await asyncio.wait_for(asyncio.shield(live.ready), s.worker_start_seconds)
        except TimeoutError:
            process.kill()
            raise ServiceError(
                500, "internal", "the training worker did not start in time"
            ) from None
        result = live.ready.result()
        if "error" in result:
            if live.exited is not None:
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(live.exited), 5.0)
            e = result["error"]
            status = 500 if e["code"] == "internal" else 422
            raise ServiceError(status, e["code"], e["message"], e.get("nodes"), e.get("port"))
        if channel.subscription.rate > 0:
            self._on_subscription(run.id, channel.subscription)
        return live

    # ------------------------------------------------------------------ control

    def _send(self, live: LiveRun, msg: dict[str, Any]) -> None:
        self._send_raw(live, orjson.dumps(msg, option=orjson.OPT_SERIALIZE_NUMPY))

    def _send_raw(self, live: LiveRun, data: bytes) -> None:
        # If the worker is gone, its reader thread records how it ended.
        with live.ctrl_lock, contextlib.suppress(OSError, EOFError, BrokenPipeError):
            live.ctrl.send_bytes(data)

    async def _wait_status(
        self, live: LiveRun, pred: Callable[[str], bool], timeout: float
    ) -> bool:
        if pred(live.status) or live.final is not None:
            return True
        fut = asyncio.get_running_loop().create_future()
        live.waiters.append((pred, fut))
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with contextlib.suppress(ValueError):
                live.waiters.remove((pred, fut))

    async def _request(self, live: LiveRun, msg: dict[str, Any], timeout: float) -> dict:
        self._req += 1
        req = self._req
        fut = asyncio.get_running_loop().create_future()
        live.replies[req] = fut
        self._send(live, {**msg, "req": req})
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            live.replies.pop(req, None)

    async def pause(self, run_id: str) -> None:
        live = self._require_live(run_id, "pause")
        self._touch(live)
        self._send(live, {"type": "pause"})
        await self._wait_status(live, lambda s: s != "running", 2.0)

    async def resume_live(self, live: LiveRun) -> None:
        self._send(live, {"type": "resume"})
        await self._wait_status(live, lambda s: s not in ("paused", "diverged"), 2.0)

    async def step(self, run_id: str, n: int) -> None:
        live = self._require_live(run_id, "step")
        self._touch(live)
        held = live.status == "diverged"
        self._send(live, {"type": "step", "n": n})
        if held:  # it leaves the hold (status `paused`) before its steps: answer with that
            await self._wait_status(live, lambda s: s != "diverged", 2.0)

    async def stop(self, run_id: str) -> bool:
        """Stop a live run promptly; False if it was not live."""
        live = self.live.get(run_id)
        if live is None:
            return False
        await self._end(live)
        return True

    async def _end(self, live: LiveRun) -> None:
        """Tell the worker to stop and wait until it has exited (terminated after the grace
        time; its last checkpoint stays)."""
        live.stop_requested = True
        self._send(live, {"type": "stop"})
        grace = self.settings.stop_grace_seconds
        assert live.exited is not None
        try:
            await asyncio.wait_for(asyncio.shield(live.exited), grace)
        except TimeoutError:
            log.warning("run %s did not stop within %.1f s: terminating it", live.id, grace)
            live.process.kill()
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(live.exited), 5.0)

    async def set(self, run_id: str, values: dict[str, Any]) -> None:
        live = self._require_live(run_id, "change")
        self._touch(live)
        try:
            reply = await self._request(live, {"type": "set", "values": values}, 3.0)
        except TimeoutError:
            raise ServiceError(409, "not_live", "the run did not answer in time") from None
        if "error" in reply:
            e = reply["error"]
            raise ServiceError(422, e["code"], e["message"])

    @staticmethod
    def _touch(live: LiveRun) -> None:
        """Someone controls the run: a waiting run's idle time starts again."""
        if live.waiting_since is not None:
            live.waiting_since = time.monotonic()

    def _require_live(self, run_id: str, verb: str) -> LiveRun:
        live = self.live.get(run_id)
        if live is None or live.final is not None or live.parking:
            raise ServiceError(
                409,
                "not_live",
                f"cannot {verb} the run: it is not live (running, paused or held after diverging)",
            )
        return live

    # ------------------------------------------------------------------ subscriptions

    def _on_subscription(self, run_id: str, sub: Subscription) -> None:
        live = self.live.get(run_id)
        if live is not None and live.status != "starting":
            rate = min(sub.rate, self.settings.max_snapshot_rate)
            self._send(live, {"type": "subscribe", **sub.to_dict(), "rate": rate})

    async def _fetch_batches(self, run_id: str, after: int, until: int) -> list[tuple[int, bytes]]:
        budget = self.settings.ws_catch_up_bytes  # bytes, not batches: batches vary in size
        return await asyncio.to_thread(
            self.store.metric_batches, run_id, after, until, 10_000, budget
        )
