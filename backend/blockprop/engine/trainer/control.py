"""Control of a training run from another thread while `run()` loops: pause, resume, a number
of steps, stop, live settings and speed; and the status changes it reports.

Control methods only set flags under the condition `_cond`; the training thread reads them
between steps, so a step is never interrupted halfway.

A trainer built with `hold_on_divergence` (the server's workers) does not end on divergence:
it is *held*, status `diverged` with the last finite state put back, and waits as when paused,
so that a person can lower the learning rate and go on. `resume()` (status `running`) and
`request_steps()` (status `paused`) leave the hold and clear `diverged_node`/`diverged_step`;
`stop()` ends the run as `diverged`, the reason unchanged: how it ended is the informative part.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from blockprop.engine.trainer.config import LIVE_SETTINGS, TERMINAL, Status, is_int


class Control:
    """The control side of a `Trainer` (a mixin): `run()`, `pause()`, `resume()`,
    `request_steps()`, `stop()`, `set()`, and the status (`status`, `reason`) they move
    through."""

    def _set_status(self, status: Status, reason: str | None = None) -> None:
        if status == self.status and reason == self.reason:
            return
        self.status, self.reason = status, reason
        if self._on_status is not None:
            self._on_status(status.value, reason)

    def _finish(self, status: Status, reason: str | None) -> None:
        self.held = False
        self._set_status(status, reason)
        with self._cond:
            self._cond.notify_all()

    @property
    def finished(self) -> bool:
        """Whether the run has ended (a held run has not: it waits for control)."""
        return self.status in TERMINAL and not self.held

    def _hold(self, reason: str) -> None:
        """Diverged under `hold_on_divergence`: wait for control as when paused (steps asked
        for before the divergence are dropped: they would diverge again)."""
        with self._cond:
            self.held = True
            self._paused = True
            self._steps_left = 0
        self._set_status(Status.DIVERGED, reason)

    def _leave_hold(self) -> None:
        """The next step starts from the last finite state: the divergence is history."""
        self.held = False
        self.diverged_node = self.diverged_step = None

    def pause(self) -> None:
        """Pause between steps (takes effect before the next step)."""
        with self._cond:
            self._paused = True
            self._steps_left = 0
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps_left = 0
            self._cond.notify_all()

    def request_steps(self, n: int = 1) -> None:
        """Run `n` more steps, then pause (from a paused run: single-stepping)."""
        if not is_int(n) or n < 1:
            raise ValueError(f"n must be an integer ≥ 1, got {n!r}")
        with self._cond:
            self._steps_left = (self._steps_left if self._paused else 0) + int(n)
            self._paused = True
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop after the current step; `run()` returns with status `stopped` (`diverged` when
        held after diverging)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def set(self, **settings: Any) -> dict[str, Any]:
        """Change live settings (applied before the next step): lr, momentum, l1, l2, speed,
        l1_start, l2_start, eval_every. Raises ValueError for others or bad values.
        Returns the settings as they will be."""
        unknown = sorted(set(settings) - set(LIVE_SETTINGS))
        if unknown:
            raise ValueError(
                f"cannot change {', '.join(map(repr, unknown))} while training "
                f"(live settings: {', '.join(LIVE_SETTINGS)})"
            )
        if "momentum" in settings and self.config.optimizer != "momentum":
            raise ValueError(
                f"momentum applies to optimizer 'momentum', not '{self.config.optimizer}'"
            )
        merged = {**self.settings, **self._pending, **settings}
        checked = self.config.replace(**merged)  # validates, naming the field
        new = {k: getattr(checked, k) for k in settings}
        with self._cond:
            self._pending.update(new)
        return {**self.settings, **self._pending}

    def run(
        self,
        on_points: Callable[[list[dict[str, Any]]], Any] | None = None,
        on_status: Callable[[str, str | None], Any] | None = None,
        should_continue: Callable[[], bool] | None = None,
    ) -> Status:
        """Train until done, stopped, diverged or failed, honouring pause/resume/step/stop
        (held on divergence, it returns only once stopped).

        `on_points(points)` receives every metric point (in order, none dropped),
        `on_status(status, reason)` every status change; `should_continue()` is asked before
        each step and stops the run when it returns False. Exceptions raised inside a step
        end the run with status `failed` (the exception is kept in `error`).
        """
        with self._cond:
            if self._running:
                raise RuntimeError("this trainer is already running")
            self._running = True
        self._on_status = on_status
        try:
            with np.errstate(all="ignore"):
                return self._run(on_points, should_continue)
        except Exception as e:  # a failing step (or callback) ends the run, visibly
            self.error = e
            self._finish(Status.FAILED, f"{type(e).__name__}: {e}")
            return self.status
        finally:
            self._on_status = None
            self._running = False

    def _run(self, on_points, should_continue) -> Status:
        while True:
            with self._cond:
                wait = self._due(should_continue)
                if wait > 0 and not self.finished:
                    # paused, held or slowed down to be watched: wait, still responsive
                    self._cond.wait(min(wait, 0.25))
                    continue
            if self.finished:
                return self.status
            self._one_step(on_points)
            if self.finished:
                return self.status

    def advance(
        self,
        budget: float,
        on_points: Callable[[list[dict[str, Any]]], Any] | None = None,
        on_status: Callable[[str, str | None], Any] | None = None,
        should_continue: Callable[[], bool] | None = None,
    ) -> float:
        """Cooperative training, for a worker that hosts many runs in one thread: take the
        steps that are due for at most `budget` seconds (at least one when one is due), never
        waiting, then return the seconds until this run wants the CPU again: 0 when it could
        go on at once, the time to its next step when slowed down (`speed`), `math.inf`
        while it waits for control (paused, held) or once it has ended (`finished`).
        Callbacks and control work as in `run()`; an exception in a step fails the run."""
        self._on_status = on_status
        self._running = True
        deadline = time.monotonic() + budget
        try:
            with np.errstate(all="ignore"):
                while True:
                    with self._cond:
                        wait = self._due(should_continue)
                    if wait > 0 or self.finished:
                        return math.inf if self.finished else wait
                    self._one_step(on_points)
                    if self.finished:
                        return math.inf
                    if time.monotonic() >= deadline:
                        return 0.0
        except Exception as e:  # a failing step (or callback) ends the run, visibly
            self.error = e
            self._finish(Status.FAILED, f"{type(e).__name__}: {e}")
            return math.inf

    def _one_step(self, on_points) -> None:
        points = self._guarded_step()
        if points and on_points is not None:
            on_points(points)

    def _due(self, should_continue) -> float:
        """What the control flags say now (call with `_cond` held): 0 to take a step now, the
        seconds to wait for the next paced step, or `math.inf` while paused or held. A stop
        (or `should_continue()` saying no) ends the run here."""
        if should_continue is not None and not should_continue():
            self._stop = True
        if self.finished:
            return math.inf
        if self._stop:
            if self.held:
                self._finish(Status.DIVERGED, self.reason)
            else:
                self._finish(Status.STOPPED, "stopped")
            return math.inf
        if not self._paused:
            if self.held:
                self._leave_hold()
            if self.status != Status.RUNNING:
                self._set_status(Status.RUNNING)
            return max(0.0, self._throttle())
        if self._steps_left > 0:
            self._steps_left -= 1
            if self.held:
                self._leave_hold()
                self._set_status(Status.PAUSED)
            return 0.0
        if self.status != Status.PAUSED and not self.held:
            self._set_status(Status.PAUSED)
        return math.inf

    def _throttle(self) -> float:
        """Seconds to wait before the next step to keep to `speed` steps per second. Steps
        are due on a fixed schedule, so time spent in a step (or its callbacks) is not added
        to the period; a late step is not made up for by more than one period."""
        speed = self._pending.get("speed", self.settings["speed"])
        if speed <= 0:
            return 0.0
        period = 1.0 / speed
        now = time.monotonic()
        if self._next_step_at > now + period:  # the speed went up: due sooner
            self._next_step_at = now + period
        delay = self._next_step_at - now
        if delay <= 0:
            self._next_step_at = max(self._next_step_at, now - period) + period
        return delay
