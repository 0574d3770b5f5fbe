"""The run manager: admits training runs to the pool of worker processes, controls them,
records them.

- Runs train in a pool of worker processes started with the server (pool.py, worker:
  pool_worker.py), many runs per worker, interleaved in short time slices; never on the event
  loop, and creating a run spawns nothing. Admission is by capacity, with a queue
  (run_queue.py, admission.py).
- The pool's reader thread of each worker receives its messages (bytes only, no pickle), writes
  metric batches, statuses and checkpoints to the store (off the event loop) and hands them to
  the event loop, where the stream hub fans them out (run_events.py).
- Control (pause, resume, step, stop, set) goes down the worker's control pipe, naming the run.
  Stop is prompt; a run that has not stopped after `stop_grace_seconds` (a single long step) is
  recorded as stopped and let go by its worker.
- A run that diverges is held by its worker (status `diverged`, `finished_at` unset, live) with
  its last finite parameters until it is resumed or stepped (lr lowered, say) or stopped; stopped,
  it ends as `diverged`.
- On shutdown live runs are stopped and marked `interrupted`; so are runs found live or queued
  at start-up (the server died). An interrupted run resumes from its last checkpoint on `resume`.

The parts: this module (lifecycle, creating and controlling runs), run_queue.py (admission, the
queue, parking), run_events.py (the workers' messages), trained_state.py (trained parameters),
live_run.py (LiveRun).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from blockprop.service.admission import Demand, Policy, estimate_cost
from blockprop.service.errors import ServiceError, from_data_error, from_issues
from blockprop.service.framing import frame, start_payload
from blockprop.service.live_run import LiveRun, prime_finished, status_frame
from blockprop.service.pool import WorkerPool
from blockprop.service.pool_worker import build_dataset as worker_build_dataset
from blockprop.service.run_events import RunEvents
from blockprop.service.run_queue import RunQueue, Waiting
from blockprop.service.store import RunRow, Store
from blockprop.service.stream import Hub, Subscription
from blockprop.service.tokens import hash_token, new_edit_token, new_id
from blockprop.service.trained_state import TrainedStates
from blockprop.settings import Settings

log = logging.getLogger("blockprop.runs")


UPLOAD_PREFIX = "upload-"

__all__ = ["UPLOAD_PREFIX", "LiveRun", "Prepared", "RunManager", "status_frame"]


@dataclass(frozen=True)
class DataShape:
    """What admission needs to know of a run's dataset."""

    n_train: int
    n_test: int
    n_features: int
    nbytes: int


@dataclass
class Prepared:
    """A run's checked config and data, and what admission reckons with."""

    config: dict[str, Any]
    upload: dict[str, Any] | None
    csv: bytes | None
    demand: Demand
    graph_key: str
    total_steps: int


class RunManager(RunEvents, RunQueue, TrainedStates):
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
        pool_class = WorkerPool
        if settings.executor == "ray":
            from blockprop.service.ray_pool import RayPool as pool_class  # noqa: N813
        self.pool = pool_class(
            settings, self._on_frame, self._on_death, self._on_load, group=self._group_writes
        )
        self.policy = Policy(
            capacity=settings.worker_capacity,
            min_unpaced_share=settings.min_unpaced_share,
            memory_per_worker=settings.worker_memory_bytes,
        )
        self.queue: OrderedDict[str, Waiting] = OrderedDict()
        #: measured seconds per step, by graph key: the next run of the same graph is
        #: admitted with what its predecessors cost
        self.known_costs: dict[str, float] = {}
        #: and the share of a core a run of it took at a pace, all told
        self.known_shares: dict[tuple[str, float], float] = {}
        self._auto_resumed: dict[str, tuple[float, int]] = {}
        self._shapes: dict[bytes, DataShape] = {}  # by dataset spec, the latest 256
        self._pumping: asyncio.Task | None = None
        self._ticker: asyncio.Task | None = None
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
        await asyncio.to_thread(self.pool.start)
        self._ticker = self._loop.create_task(self._queue_ticker())

    async def _queue_ticker(self) -> None:
        """While runs wait, look again every second: a paused run may have become idle enough
        to park, or a measured cost lower than reckoned."""
        while not self.shutting_down:
            await asyncio.sleep(1.0)
            self._load_changed()

    async def shutdown(self) -> None:
        self.shutting_down = True
        if self._ticker is not None:
            self._ticker.cancel()
        runs = list(self.live.values())
        for live in runs:
            live.stop_requested = True
            self._send(live, {"type": "stop"})
        for live in runs:
            if live.exited is not None:
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(live.exited), 3.0)
        reason = "the server stopped while the run was waiting; resume it to start it"
        for run_id in list(self.queue):
            await asyncio.to_thread(
                self.store.update_run, run_id, status="interrupted", reason=reason
            )
        self.queue.clear()
        await asyncio.to_thread(self.pool.close)
        for live in list(self.live.values()):  # their worker is gone: record how they ended
            live.worker_died = True
            self._record_end(live)
        await self.hub.close_all()

    def _on_load(self, worker: Any) -> None:
        """A worker's load report (its reader thread): remember what each graph costs, per
        step and, at a pace, all told."""
        for run_id, report in list(worker.load.items()):
            live = self.live.get(run_id)
            if live is None:
                continue
            if report.get("cost"):
                self.known_costs[live.graph_key] = float(report["cost"])
            if report.get("cpu") and report.get("speed") and report.get("running"):
                self.known_shares[(live.graph_key, float(report["speed"]))] = report["cpu"]
        if self.queue:
            self._post(self._load_changed)

    # ------------------------------------------------------------------ creating

    def prepare(
        self, doc: dict[str, Any], dataset: dict[str, Any], train: dict[str, Any]
    ) -> Prepared:
        """Check a run's config, data and graph before it is admitted (blocking: call it in
        a thread), and reckon what it will ask of a worker. Raises ServiceError (422)."""
        from blockprop.engine.graph import analyse, estimate_bytes, node_sizes
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
        ds = self._dataset_shape(dataset, upload, csv)
        batch = min(config.batch_size or ds.n_train, ds.n_train)
        rows = batch + min(1024, max(ds.n_train, ds.n_test, s.boundary_grid**2))
        itemsize = 8 if config.dtype == "float64" else 4
        an = analyse(doc, max_bytes=s.max_tensor_bytes, batch_size=rows, itemsize=itemsize)
        if not an.result.ok:
            raise from_issues(an.result.errors)
        sizes = node_sizes(an.nodes).values()
        params = sum(n["params"] for n in sizes)
        numbers = sum(n["out"] + n["in"] for n in sizes)
        memory = estimate_bytes(an.nodes, rows, itemsize) + ds.nbytes * 2
        per_epoch = math.ceil(ds.n_train / batch)
        total = min(config.epochs * per_epoch, config.max_steps or math.inf)
        demand = Demand(
            speed=config.speed,
            cost=estimate_cost(len(an.nodes), params, numbers, batch),
            memory=int(memory),
        )
        key = hashlib.sha256(
            orjson.dumps([doc.get("nodes"), doc.get("modules"), batch, ds.n_features])
        ).hexdigest()
        return Prepared(config.to_dict(), upload, csv, demand, key[:32], int(total))

    def _dataset_shape(
        self, dataset: dict[str, Any], upload: dict[str, Any] | None, csv: bytes | None
    ) -> DataShape:
        """The sizes of the dataset a spec names (built once per spec: a class trains the same
        data, and the worker builds it again anyway). Raises ServiceError for bad data."""
        from blockprop.engine.data import DataError

        key = orjson.dumps([dataset, upload, hashlib.sha256(csv or b"").hexdigest()])
        shape = self._shapes.get(key)
        if shape is None:
            try:
                ds = worker_build_dataset(dataset, upload, csv, self.settings.max_upload_rows)
            except DataError as e:
                raise from_data_error(e) from None
            shape = DataShape(ds.n_train, ds.n_test, ds.n_features, ds.x_train.nbytes)
            if len(self._shapes) >= 256:
                self._shapes.pop(next(iter(self._shapes)))
            self._shapes[key] = shape
        return shape

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
        client: str = "",
    ) -> tuple[RunRow, str]:
        """Check, record and admit a run: started at once, or queued. Returns its row and its
        edit token."""
        self.check_client(client)
        prep = await asyncio.to_thread(self.prepare, doc, dataset, train)
        self.check_client(client)  # again: others may have come in meanwhile
        token = new_edit_token()
        run_id = new_id()
        row = await asyncio.to_thread(
            self.store.create_run,
            run_id,
            graph_id,
            name or doc.get("name") or "run",
            doc,
            dataset,
            prep.config,
            "starting",
            hash_token(token),
        )
        waiting = Waiting(
            row,
            client,
            prep.demand,
            prep.graph_key,
            prep.total_steps,
            paused,
            prep.upload,
            prep.csv,
            resume=False,
        )
        try:
            live = await self._admit(waiting)
            if live is not None:
                await self._until_ready(live)
        except BaseException:
            self.queue.pop(run_id, None)
            await asyncio.to_thread(self.store.delete_run, run_id)
            raise
        row = await asyncio.to_thread(self.store.get_run, run_id)
        assert row is not None
        return row, token

    async def resume(
        self, run: RunRow, *, paused: bool = False, client: str = "", automatic: bool = False
    ) -> None:
        """Resume a paused run, or restart an interrupted one from its last checkpoint (at
        once, or through the queue). `automatic`: its worker died under it; it is the same
        run going on, not a new one for the client's cap."""
        live = self.live.get(run.id)
        if live is not None and live.parking:  # being parked: resume it once it is interrupted
            run = await self._after_parking(live, run)
            live = None
        if live is not None and live.final is None:
            await self.resume_live(live)
            return
        if run.id in self.queue:
            return  # waiting already: it starts when there is room
        if run.status == "interrupted" and client and not automatic:  # restarted by hand
            self.check_client(client)
        if run.status != "interrupted":
            raise ServiceError(
                409,
                "not_resumable",
                f"the run is {run.status}; only paused, held (diverged) or interrupted runs can "
                "be resumed",
            )
        upload, csv = await asyncio.to_thread(self.upload_for, run.dataset)
        prep = await asyncio.to_thread(self.prepare, run.doc, run.dataset, run.config)
        waiting = Waiting(
            run,
            client,
            prep.demand,
            prep.graph_key,
            prep.total_steps,
            paused,
            upload,
            csv,
            resume=True,
        )
        live = await self._admit(waiting)
        if live is not None:
            await self._until_ready(live)

    async def stop_run(self, run: RunRow) -> None:
        if await self.cancel_queued(run.id):
            return
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

    async def _launch(self, w: Waiting, worker: Any) -> LiveRun:
        """Under `_slots`: hand run `w` to `worker` (its start message) and return it, live,
        starting."""
        run = w.run
        if run.id in self.live:
            raise ServiceError(409, "conflict", "the run is already live")
        checkpoint = None
        if w.resume:
            cp = await asyncio.to_thread(self.store.get_checkpoint, run.id)
            checkpoint = cp[1] if cp else None
        live = LiveRun(run.id, worker, client=w.client)
        live.demand, live.graph_key, live.total_steps = w.demand, w.graph_key, w.total_steps
        live.last_seq = run.last_seq
        live.step = run.step
        # metrics up to run.step are stored; a resumed run replays from its checkpoint
        live.last_step = run.step if w.resume else -1
        loop = asyncio.get_running_loop()
        live.ready = loop.create_future()
        live.exited = loop.create_future()
        self.live[run.id] = live
        worker.runs.add(run.id)
        self.hub.pin(run.id, run.last_seq)
        if w.resume or run.status == "queued":
            await asyncio.to_thread(self.store.update_run, run.id, status="starting", reason=None)
        s = self.settings
        init = {
            "type": "init",
            "run_id": run.id,
            "doc": run.doc,
            "dataset": run.dataset,
            "upload": w.upload,
            "config": run.config,
            "paused": w.paused,
            "flush_seconds": s.metrics_flush_seconds,
            "checkpoint_seconds": s.checkpoint_seconds,
            "max_seconds": s.max_run_seconds,
            "boundary_rate": s.boundary_rate,
            "boundary_grid": s.boundary_grid,
            "max_rows": s.max_upload_rows,
        }
        if not worker.send(frame(b"N", run.id, start_payload(init, w.csv, checkpoint))):
            live.worker_died = True  # its reader records the end once it sees the worker go
        return live

    async def _until_ready(self, live: LiveRun) -> None:
        """Wait until a launched run is training (or paused), or raise its error."""
        s = self.settings
        assert live.ready is not None
        try:
            await asyncio.wait_for(asyncio.shield(live.ready), s.worker_start_seconds)
        except TimeoutError:
            await self._end(live)
            raise ServiceError(500, "internal", "the run did not start in time") from None
        result = live.ready.result()
        if "error" in result:
            e = result["error"]
            status = 500 if e["code"] == "internal" else 422
            raise ServiceError(status, e["code"], e["message"], e.get("nodes"), e.get("port"))
        ch = self.hub.get(live.id)
        if ch is not None and ch.subscription.rate > 0:
            self._on_subscription(live.id, ch.subscription)

    # ------------------------------------------------------------------ control

    def _send(self, live: LiveRun, msg: dict[str, Any]) -> None:
        # If the worker is gone, its reader thread records how its runs ended.
        live.worker.send_json(live.id, msg)

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
        """Tell the worker to stop the run and wait until it has ended. One that has not
        after the grace time (a long step) is let go: its worker drops it after that step,
        and it is recorded as stopped (its last checkpoint stays)."""
        live.stop_requested = True
        self._send(live, {"type": "stop"})
        grace = self.settings.stop_grace_seconds
        assert live.exited is not None
        try:
            await asyncio.wait_for(asyncio.shield(live.exited), grace)
        except TimeoutError:
            log.warning("run %s did not stop within %.1f s: letting it go", live.id, grace)
            self._send(live, {"type": "drop"})
            await asyncio.to_thread(self._record_end, live)
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
        if "speed" in values:  # its reservation changes with its pace
            live.demand.speed = float(values["speed"])
            self._load_changed()

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

    async def prime(self, channel: Any, row: RunRow) -> None:
        """A new stream channel's latest-wins slots: a run that is not live gets its final
        status, snapshot and boundary (a live one's come from its worker)."""
        if row.id not in self.live:
            await prime_finished(channel, self.store, row)

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
