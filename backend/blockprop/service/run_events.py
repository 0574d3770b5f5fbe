"""RunEvents: the messages from the pool workers about their runs, read in the pool's threads,
recorded and published."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from blockprop.service.live_run import LiveRun, status_frame
from blockprop.service.store import Store
from blockprop.service.stream import Hub, Subscription, metrics_frame

log = logging.getLogger("blockprop.runs")

#: the statuses of a live run that waits for control: paused, or held after diverging
WAITING = ("paused", "diverged")


class RunEvents:
    """Part of RunManager (runs.py): the pool's reader thread of each worker records what the
    worker says of its runs in the store and posts it to the event loop, where it resolves
    futures and reaches the hub."""

    #: per reader thread: what its burst publishes, held until the burst's writes commit
    _held = threading.local()

    # provided by RunManager
    store: Store
    hub: Hub
    live: dict[str, LiveRun]
    shutting_down: bool
    _loop: asyncio.AbstractEventLoop | None
    _on_subscription: Callable[[str, Subscription], None]
    _released: Callable[[LiveRun, str], None]
    _load_changed: Callable[[], None]

    # ------------------------------------------------------------------ the pool's reader threads

    @contextlib.contextmanager
    def _group_writes(self) -> Iterator[None]:
        """One transaction for a burst of a worker's messages (see Store.group), and what the
        burst publishes held until it commits: nobody — another replica reading the store,
        say — hears of a status or a metrics batch before it can read it."""
        held: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._held.posts = held
        try:
            with self.store.group():
                yield
        finally:
            self._held.posts = None
            for fn, args in held:
                self._post(fn, *args)

    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        held = getattr(self._held, "posts", None)
        if held is not None:
            held.append((fn, args))
            return
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: we are shutting down
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_frame(self, worker: Any, kind: bytes, run_id: str, payload: bytes) -> None:
        """A frame from a pool worker about one of its runs (on that worker's reader thread).
        A run no longer held here (stopped by force, say) is ignored."""
        live = self.live.get(run_id)
        if live is None or live.worker is not worker:
            return
        try:
            self._handle(live, kind + payload)
        except Exception:
            log.exception("run %s: bad message from the worker", live.id)

    def _on_death(self, worker: Any) -> None:
        """A pool worker has exited: each run it still held ends as if its worker had been
        killed (`interrupted`, resumable), and is resumed elsewhere (see RunQueue)."""
        for live in [r for r in list(self.live.values()) if r.worker is worker]:
            live.worker_died = True
            self._record_end(live)

    def _record_end(self, live: LiveRun) -> None:
        with live.record_lock:
            if live.recorded:
                return
            live.recorded = True
        try:
            self._finish(live)
        except Exception:
            log.exception("run %s: could not record how it ended", live.id)

    def _handle(self, live: LiveRun, data: bytes) -> None:
        kind, body = data[:1], data[1:]
        if kind == b"P":
            self._on_points(live, body)
        elif kind == b"S":
            live.last_snapshot = body
            self._post(self._publish, live.id, "snapshot", body.decode())
        elif kind == b"B":
            live.last_boundary = body
            self._post(self._publish, live.id, "boundary", body.decode())
        elif kind == b"K":
            step, n = struct.unpack("<qq", body[:16])
            self.store.save_checkpoint(live.id, step, body[16 : 16 + n], body[16 + n :])
        elif kind == b"J":
            msg = orjson.loads(body)
            getattr(self, f"_msg_{msg['type']}", self._msg_unknown)(live, msg)

    def _on_points(self, live: LiveRun, data: bytes) -> None:
        first, last, epoch = struct.unpack("<qqq", data[:24])
        body = data[24:]  # forwarded as is: the server never parses metric points
        # Resumed from an older checkpoint: the steps up to the last stored one are replays
        # (training is deterministic), already recorded and streamed.
        if live.last_step >= 0:
            if last <= live.last_step:
                return
            if first <= live.last_step:
                points = [p for p in orjson.loads(body) if p.get("step", 0) > live.last_step]
                body = orjson.dumps(points)
                first = points[0]["step"]
            live.last_step = -1
        seq = live.last_seq + 1
        self.store.add_metrics(live.id, seq, first, last, body, step=last, epoch=epoch)
        live.last_seq = seq
        live.step, live.epoch = last, epoch
        self._post(self._publish, live.id, "metrics", metrics_frame(seq, body), seq)

    def _msg_ready(self, live: LiveRun, msg: dict[str, Any]) -> None:
        status = msg.get("status", "running")
        status = "running" if status == "idle" else status
        now = time.time()
        self.store.update_run(
            live.id,
            status=status,
            reason=None,
            error=None,
            started_at=now,
            finished_at=None,
            step=msg.get("step", 0),
            diverged_node=None,
        )
        self._post(self._became_ready, live, status, msg)

    def _msg_failed(self, live: LiveRun, msg: dict[str, Any]) -> None:
        live.final = {"status": "failed", "reason": msg["error"]["message"], **msg}
        self._post(self._resolve_ready, live, {"error": msg["error"]})

    def _msg_status(self, live: LiveRun, msg: dict[str, Any]) -> None:
        status = msg["status"]
        if msg.get("final"):
            live.final = msg
            return  # recorded by _finish once the process has exited
        # running, paused, or diverged and held (the worker still has it: not final)
        self.store.update_run(
            live.id,
            status=status,
            reason=msg.get("reason"),
            step=msg.get("step", live.step),
            diverged_node=msg.get("diverged_node"),
        )
        self._post(self._status_changed, live, status, msg)

    def _msg_reply(self, live: LiveRun, msg: dict[str, Any]) -> None:
        self._post(self._resolve_reply, live, msg)

    def _msg_exit(self, live: LiveRun, msg: dict[str, Any]) -> None:
        if live.final is None:
            live.final = {}  # it ended without a final status (failed before it was ready)
        self._record_end(live)

    def _msg_unknown(self, live: LiveRun, msg: dict[str, Any]) -> None:
        log.warning("run %s: unknown message %r", live.id, msg.get("type"))

    def _finish(self, live: LiveRun) -> None:
        final = live.final or {}
        code = live.worker.process.exitcode if live.worker_died else None
        if self.shutting_down:
            status, reason = (
                "interrupted",
                ("the server stopped while the run was live; resume it to continue"),
            )
        elif live.parking and final.get("status") != "failed":
            status = "interrupted"
            held = final.get("status", live.status) == "diverged"
            reason = (
                f"parked at step {final.get('step', live.step)} to free a training slot "
                f"({'held after diverging' if held else 'paused'} with nobody watching); "
                "resume continues from here"
            )
        elif final.get("status"):
            status, reason = final["status"], final.get("reason")
        elif live.stop_requested:
            status, reason = "stopped", "stopped on request (it did not stop in time)"
        elif live.worker_died and (live.status != "starting" or live.last_step >= 0):
            # Killed from outside (the OOM killer's SIGKILL) or crashed hard: the run itself did
            # nothing wrong, so it resumes from its last checkpoint, as after a server crash.
            # So does a resume whose new worker was lost before it was ready (placed on a
            # worker that was dying too: several killed at once). A new run that loses its
            # worker while starting fails: it may be what killed it.
            status, reason = "interrupted", _killed_reason(code, live.step)
        else:
            status, reason = "failed", f"the training worker exited unexpectedly (code {code})"
            if final.get("error"):
                reason = final["error"]["message"]
        error = final.get("error")
        if status == "failed" and error is None:
            error = {"code": "internal", "message": reason, "nodes": [], "port": None}
        fields: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "error": error,
            "diverged_node": final.get("diverged_node"),
        }
        if "step" in final:
            fields["step"] = final["step"]
        if status != "interrupted":
            fields["finished_at"] = time.time()
        if live.last_snapshot is not None:
            fields["last_snapshot"] = live.last_snapshot
        if live.last_boundary is not None:
            fields["last_boundary"] = live.last_boundary
        self.store.update_run(live.id, **fields)
        self._post(self._exited, live, status, reason, {**final, "error": error})

    # ------------------------------------------------------------------ on the event loop

    def _publish(self, run_id: str, kind: str, frame: str, seq: int = 0) -> None:
        ch = self.hub.get(run_id)
        if ch is None:
            return
        if kind == "metrics":
            ch.publish_metrics(seq, frame)
        elif kind == "snapshot":
            ch.publish_snapshot(frame)
        elif kind == "boundary":
            ch.publish_boundary(frame)

    def _resolve_ready(self, live: LiveRun, result: dict[str, Any]) -> None:
        if live.ready is not None and not live.ready.done():
            live.ready.set_result(result)

    def _became_ready(self, live: LiveRun, status: str, msg: dict[str, Any]) -> None:
        live.status = status
        live.step = msg.get("step", live.step)
        self._resolve_ready(live, {"status": status})
        self._status_changed(live, status, {"reason": None, "step": live.step})
        ch = self.hub.get(live.id)
        if ch is not None and ch.subscription.rate > 0:
            self._on_subscription(live.id, ch.subscription)

    def _status_changed(self, live: LiveRun, status: str, msg: dict[str, Any]) -> None:
        if status not in WAITING:
            live.waiting_since = None
        elif live.status != status or live.waiting_since is None:
            live.waiting_since = time.monotonic()
        live.status = status
        live.reason = msg.get("reason")
        ch = self.hub.get(live.id)
        if ch is not None:
            ch.publish_status(
                status_frame(
                    status,
                    live.reason,
                    live=True,
                    step=msg.get("step", live.step),
                    epoch=msg.get("epoch", live.epoch),
                    diverged_node=msg.get("diverged_node"),
                )
            )
        for pred, fut in list(live.waiters):
            if pred(status) and not fut.done():
                fut.set_result(status)
        self._load_changed()  # a paused run frees its CPU for a waiting one

    def _resolve_reply(self, live: LiveRun, msg: dict[str, Any]) -> None:
        fut = live.replies.get(msg.get("req", -1))
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _exited(self, live: LiveRun, status: str, reason: str | None, final: dict) -> None:
        live.ended_from, live.status = live.status, status
        if self.live.get(live.id) is live:
            del self.live[live.id]
        if final.get("error"):
            self._resolve_ready(live, {"error": final["error"]})
        else:
            message = f"the training worker exited before it was ready ({status})"
            error = {"code": "internal", "message": message, "nodes": [], "port": None}
            self._resolve_ready(live, {"error": error})
        ch = self.hub.get(live.id)
        if ch is not None:
            ch.publish_status(
                status_frame(
                    status,
                    reason,
                    live=False,
                    step=final.get("step", live.step),
                    epoch=final.get("epoch", live.epoch),
                    diverged_node=final.get("diverged_node"),
                    error=final.get("error"),
                )
            )
        self.hub.unpin(live.id)
        for _pred, fut in list(live.waiters):
            if not fut.done():
                fut.set_result(status)
        for fut in live.replies.values():
            if not fut.done():
                fut.set_exception(TimeoutError())
        if live.exited is not None and not live.exited.done():
            live.exited.set_result(status)
        self._released(live, status)


def _killed_reason(code: int | None, step: int) -> str:
    how = (
        f"was killed (signal {-code}{', perhaps out of memory' if code == -9 else ''})"
        if code is not None and code < 0
        else f"exited unexpectedly (code {code})"
    )
    return f"the training worker {how} at step {step}; resume continues from the last checkpoint"
