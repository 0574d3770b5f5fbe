"""RunQueue: admission of runs to the pool's workers by capacity (admission.py), the queue of
runs waiting for room, the per-client cap, and parking idle runs.

- A run starts at once on the least-loaded worker with room for it; otherwise it is `queued`
  (first in, first out) and starts as soon as a worker has room — when a run ends, pauses or
  slows down, or a measured step cost turns out lower than reckoned. Its stream and REST row
  say where it stands (`queue: {position, ahead, eta_seconds}`). Only a full queue refuses
  (429 `too_many_runs`, with `Retry-After`).
- One client (its `X-Client-Id`, else its address) may have `max_runs_per_client` runs live or
  waiting at once, so one student cannot take the pool.
- With a cap on live runs (`max_runs`, 0 for none) a run that needs a place while the cap is
  reached first parks the run paused (or held) longest, untouched and unwatched for
  `idle_yield_seconds`: checkpointed and made `interrupted`, resumable exactly; else it waits.
- A run whose worker died is resumed on another worker from its checkpoint (once a minute at
  most: a run that kills its worker again stays `interrupted`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from blockprop.service.admission import Demand, Policy, WorkerLoad, wait_estimate
from blockprop.service.errors import ServiceError
from blockprop.service.live_run import LiveRun, status_frame
from blockprop.service.run_events import WAITING
from blockprop.service.store import RunRow

log = logging.getLogger("blockprop.runs")
#: a run whose worker died is resumed automatically at most this often
AUTO_RESUME_SECONDS = 60.0
#: ...but a resume whose new worker is lost before the run is ready there (it was placed on
#: a worker that was dying too) is retried at once, this many times in a row
START_RETRIES = 3


@dataclass(eq=False)
class Waiting:
    """A run waiting for room in the pool, with what it needs to start."""

    run: RunRow
    client: str
    demand: Demand
    graph_key: str
    total_steps: int
    paused: bool
    upload: dict[str, Any] | None
    csv: bytes | None
    resume: bool
    since: float = field(default_factory=time.monotonic)


class RunQueue:
    """Part of RunManager (runs.py)."""

    # provided by RunManager
    live: dict[str, LiveRun]
    queue: OrderedDict[str, Waiting]
    policy: Policy
    known_costs: dict[str, float]
    known_shares: dict[tuple[str, float], float]
    shutting_down: bool

    # ------------------------------------------------------------------ admitting

    def check_client(self, client: str) -> None:
        """429 when this client already has its share of runs live or waiting."""
        cap = self.settings.max_runs_per_client
        if cap <= 0:
            return
        mine = sum(1 for r in self.live.values() if r.client == client and not r.recorded)
        mine += sum(1 for w in self.queue.values() if w.client == client)
        if mine >= cap:
            raise ServiceError(
                429,
                "too_many_runs",
                f"You already have {mine} runs training or waiting, the most one person may "
                "have at once. Stop one of them to start another.",
                headers={"Retry-After": "10"},
            )

    async def _admit(self, w: Waiting) -> LiveRun | None:
        """Start `w` now if a worker has room (and nobody is waiting before it), else queue
        it. Returns the started run, or None when it was queued."""
        async with self._slots:
            if not self.queue:
                live = await self._try_start(w)
                if live is not None:
                    return live
            if len(self.queue) >= self.settings.max_queue:
                raise ServiceError(
                    429,
                    "too_many_runs",
                    f"The server is busy: {len(self.queue)} runs are already waiting for a "
                    "place. Try again in a minute.",
                    headers={"Retry-After": "30"},
                )
            self.queue[w.run.id] = w
            self.hub.pin(w.run.id, w.run.last_seq)
        await asyncio.to_thread(
            self.store.update_run, w.run.id, status="queued", reason=self._queued_reason(w)
        )
        self._publish_queue()
        return None

    async def _try_start(self, w: Waiting) -> LiveRun | None:
        """Under `_slots`: launch `w` on a worker with room, parking an idle run first if the
        cap on live runs is reached; None if there is no room."""
        cap = self.settings.max_runs
        while cap > 0 and len(self.live) >= cap:
            idle = self._idle_run()
            if idle is None:
                return None
            await self._park(idle)
        worker = self._place(w.demand)
        if worker is None:
            return None
        return await self._launch(w, worker)

    def _place(self, need: Demand) -> Any:
        workers = {w.index: w for w in self.pool.available()}
        key = self.policy.place(self._loads(workers.values()), need)
        return None if key is None else workers[key]

    def _loads(self, workers: Any) -> list[WorkerLoad]:
        by_worker: dict[int, WorkerLoad] = {w.index: WorkerLoad(w.index) for w in workers}
        for live in self.live.values():
            load = by_worker.get(live.worker.index)
            if load is not None and not live.recorded:
                load.demands.append(self._demand_of(live))
        return list(by_worker.values())

    def _demand_of(self, live: LiveRun) -> Demand:
        """A live run's demand now: its pace and running state as the manager knows them
        (fresher than the worker's report), its step cost as measured."""
        d: Demand = live.demand
        report = live.worker.load.get(live.id) or {}
        cost = report.get("cost") or self.known_costs.get(live.graph_key) or d.cost
        speed = report.get("speed", d.speed) if live.status != "starting" else d.speed
        measured = report.get("cpu") or self.known_shares.get((live.graph_key, float(speed)))
        running = live.status in ("starting", "running")
        return Demand(float(speed), float(cost), d.memory, running, measured)

    # ------------------------------------------------------------------ the queue moving

    def _load_changed(self) -> None:
        """Room may have freed: start waiting runs (one pass at a time)."""
        if not self.queue or self.shutting_down or self._loop is None:
            return
        if self._pumping is None or self._pumping.done():
            self._pumping = self._loop.create_task(self._pump())

    async def _pump(self) -> None:
        started = False
        async with self._slots:
            while self.queue and not self.shutting_down:
                w = next(iter(self.queue.values()))
                try:
                    live = await self._try_start(w)
                except Exception:
                    log.exception("run %s: could not start from the queue", w.run.id)
                    self.queue.pop(w.run.id, None)
                    continue
                if live is None:
                    break
                self.queue.pop(w.run.id, None)
                started = True
        if started:
            self._publish_queue()

    def _released(self, live: LiveRun, status: str) -> None:
        """A run has left its worker (on the loop)."""
        live.worker.runs.discard(live.id)
        self.pool.release(live.worker)
        if status == "interrupted" and live.worker_died and not self.shutting_down:
            self._loop.create_task(self._auto_resume(live))
        self._load_changed()

    async def _auto_resume(self, live: LiveRun) -> None:
        if not self._may_auto_resume(live):
            log.warning("run %s: its worker died again; it stays interrupted", live.id)
            return
        row = await asyncio.to_thread(self.store.get_run, live.id)
        if row is None or row.status != "interrupted":
            return
        log.info("run %s: its worker died; resuming it on another from its checkpoint", live.id)
        try:
            paused = live.ended_from in WAITING
            await self.resume(row, paused=paused, client=live.client, automatic=True)
        except ServiceError as e:  # it stays interrupted, resumable by hand: say why
            # repr: the message may quote the graph's own names (never raw into the log)
            log.warning(
                "run %s: not resumed (%s: %r); it stays interrupted", live.id, e.code, e.message
            )

    def _may_auto_resume(self, live: LiveRun) -> bool:
        """Once a minute for a run that was training when its worker died (it may be what
        kills them); at once, up to START_RETRIES times in a row, for one that was resuming."""
        now = time.monotonic()
        last, retries = self._auto_resumed.get(live.id, (now - AUTO_RESUME_SECONDS, 0))
        if live.ended_from == "starting":
            if retries >= START_RETRIES:
                return False
            self._auto_resumed[live.id] = (last, retries + 1)
            return True
        if now - last < AUTO_RESUME_SECONDS:
            return False
        self._auto_resumed[live.id] = (now, 0)
        return True

    async def cancel_queued(self, run_id: str) -> bool:
        """Stop a run that waits in the queue; False if it does not."""
        async with self._slots:
            w = self.queue.pop(run_id, None)
        if w is None:
            return False
        await asyncio.to_thread(
            self.store.update_run,
            run_id,
            status="stopped",
            reason="stopped while waiting for a place",
            finished_at=time.time(),
        )
        ch = self.hub.get(run_id)
        if ch is not None:
            ch.publish_status(
                status_frame("stopped", "stopped while waiting for a place", live=False, step=0)
            )
        self.hub.unpin(run_id)
        self._publish_queue()
        return True

    # ------------------------------------------------------------------ telling where it stands

    def queue_info(self, run_id: str) -> dict[str, Any] | None:
        """``{position, ahead, eta_seconds}`` of a waiting run (position 1: next), or None."""
        if run_id not in self.queue:
            return None
        position = list(self.queue).index(run_id) + 1
        return {
            "position": position,
            "ahead": position - 1,
            "eta_seconds": wait_estimate(position, self._finishing_in()),
        }

    def _finishing_in(self) -> list[float]:
        """Seconds until each running run is expected to end (paced runs by their pace, the
        others by their measured step cost)."""
        out = []
        for live in self.live.values():
            if live.status != "running" or not live.total_steps:
                continue
            d = self._demand_of(live)
            rate = d.speed if d.speed > 0 else 1.0 / max(d.cost, 1e-6)
            out.append(max(0, live.total_steps - live.step) / rate)
        return out

    def _queued_reason(self, w: Waiting) -> str:
        info = self.queue_info(w.run.id)
        if info is None:
            return "waiting for a place"
        ahead = info["ahead"]
        who = "nobody is ahead of you" if ahead == 0 else f"{ahead} ahead of you"
        return f"waiting for a free place to train: {who}"

    def _publish_queue(self) -> None:
        """Tell every waiting run's stream where it stands now."""
        for run_id, w in self.queue.items():
            ch = self.hub.get(run_id)
            if ch is not None:
                frame = status_frame(
                    "queued",
                    self._queued_reason(w),
                    live=False,
                    step=w.run.step,
                    queue=self.queue_info(run_id),
                )
                ch.publish_status(frame)

    def load_summary(self) -> dict[str, Any]:
        """What the teacher's status line shows: runs live, running and waiting, and the share
        of the pool's CPU they reserve."""
        workers = self.pool.available()
        return {
            "workers": len(workers),
            "live": len(self.live),
            "running": sum(1 for r in self.live.values() if r.status == "running"),
            "queued": len(self.queue),
            "cpu_share": round(self.policy.share(self._loads(workers)), 3),
        }

    # ------------------------------------------------------------------ parking idle runs

    def _idle_run(self) -> LiveRun | None:
        """The live run to park for a place: paused or held after diverging, untouched and
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
        """Stop an idle run so that it yields its place: its worker checkpoints the state it
        waits in and lets it go, and the run becomes `interrupted` (RunEvents._finish), to be
        resumed exactly as after a restart."""
        t0 = time.monotonic()
        live.parking = True
        await self._end(live)
        log.info(
            "run %s: parked at step %d to free a place (idle, unwatched) in %.3f s",
            live.id,
            live.step,
            time.monotonic() - t0,
        )
