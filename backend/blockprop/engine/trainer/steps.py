"""One optimisation step: gather the batch, forward, backward, check for divergence, keep the
finite state, regularise, update, and produce the step's metric point.

The step is the hot loop of training: it allocates nothing per step (batches are gathered into
the plan's own feed buffers, the gradient norm is taken on flat views of persistent buffers, the
learning rate and penalties are cached per epoch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from blockprop.engine import registry
from blockprop.engine.buffers import span
from blockprop.engine.executor import Plan
from blockprop.engine.trainer.config import Status


def is_weight(op: registry.OpDef, trainable: str) -> bool:
    """Whether L1/L2 regularisation applies: the op's declaration says (`regularize`)."""
    return any(t.name == trainable and t.regularize for t in op.trainables)


def flat_views(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """1-D views of persistent buffers (for cheap dot products): the one flat buffer that
    holds them all when they are packed (`engine.buffers`, as a plan packs its parameters'
    gradients), else one view per array."""
    packed = span(arrays)
    if packed is not None:
        return [packed]
    out = []
    for a in arrays:
        v = a.reshape(-1)
        if not np.shares_memory(v, a):
            raise ValueError("gradient buffers must be contiguous")
        out.append(v)
    return out


class Steps:
    """The stepping side of a `Trainer` (a mixin): `step()` and what it needs: the parameters
    and gradients (`_params`, `_grads_full`, `_flat_full`), the optimiser, the backup of the
    last finite state (`_backup_pairs`), the counters (`step_count`, `epoch`, `_pos`) and the
    live `settings` with the `_pending` changes applied before a step."""

    @property
    def done(self) -> bool:
        cfg = self.config
        return self.epoch >= cfg.epochs or (
            cfg.max_steps is not None and self.step_count >= cfg.max_steps
        )

    @property
    def lr(self) -> float:
        """The learning rate of the next step."""
        return self.settings["lr"] * self.schedule(self.epoch)

    def _apply_pending(self) -> None:
        with self._cond:
            pending, self._pending = self._pending, {}
        self.settings.update(pending)
        self._lr_epoch = -1
        if "momentum" in pending:
            self.optimizer.momentum = pending["momentum"]

    def step(self) -> list[dict[str, Any]]:
        """One optimisation step; returns the metric points it produced ([] when training is
        over or has diverged). Floating-point warnings are silenced: overflow is detected
        and reported as divergence instead. A trainer held on divergence continues from the
        last finite state (with the settings changed meanwhile)."""
        with np.errstate(all="ignore"):
            return self._guarded_step()

    def _guarded_step(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.finished:
                return []
            if self.held:  # stepped by hand while held (run() leaves the hold itself)
                self._leave_hold()
                self._set_status(Status.PAUSED if self._running else Status.IDLE)
            if not self.plan.cost_ids:
                self._finish(Status.DONE, "nothing to train: the graph has no cost node")
                return []
            if self.done:
                self._finish(Status.DONE, self._done_reason())
                return []
            if self._pending:
                self._apply_pending()
            return self._step()

    def _step(self) -> list[dict[str, Any]]:
        n = self.dataset.n_train
        pos = self._pos
        if self.full_batch:
            b = n
            plan, grads, flat, feed = self.plan, self._grads_full, self._flat_full, self._full_feed
        else:
            if pos == 0 and self.config.shuffle:
                self._shuffle_rng.shuffle(self._perm)
            b = min(self.batch_size, n - pos)
            if b == self.batch_size:
                plan, grads, flat, feed = self.plan, self._grads_full, self._flat_full, self._feed
            else:
                if self._partial is None or self._partial[0] != b:
                    pplan = self._plan_for(b)
                    pgrads = self._grads_of(pplan)
                    self._partial = (b, pplan, self._make_feed(b), pgrads, flat_views(pgrads))
                _, plan, feed, grads, flat = self._partial
            idx = self._perm[pos : pos + b]
            # the indices are a permutation, always in range: mode "clip" checks nothing and,
            # unlike the default "raise", writes straight into `out` without a temporary
            self._x_train.take(idx, 0, feed[self.input_id], "clip")
            if self._y_train is not None:
                self._y_train.take(idx, 0, feed[self.target_id], "clip")
        self._last_plan = plan
        loss = float(plan.forward(feed, training=True, rng=self._dropout_rng))
        if not math.isfinite(loss):
            return self._diverge(plan, f"the loss became {loss}")
        plan.backward()
        sq = 0.0
        dot = np.dot
        for gf in flat:
            sq += float(dot(gf, gf))
        grad_norm = math.sqrt(sq)
        if not math.isfinite(grad_norm):
            # the float32 sum of squares may overflow while every gradient is finite
            grad_norm = math.sqrt(
                sum(float(np.linalg.norm(g.astype(np.float64))) ** 2 for g in grads)
            )
            if not math.isfinite(grad_norm):
                return self._diverge(plan, "the gradient became non-finite")
        # keep this finite state, then regularise and update
        copyto = np.copyto
        for keep, p in self._backup_pairs:
            copyto(keep, p)
        self._backup_t = self.optimizer.t
        epoch = self.epoch
        if epoch != self._lr_epoch:
            self._set_epoch_rates(epoch)
        l1, l2, lr = self._l1_now, self._l2_now, self._lr_now
        if l1 or l2:
            scratch = self.optimizer.scratch
            for i in self._weights:
                w, g, t = self._params[i], grads[i], scratch[i]
                if l2:
                    np.multiply(w, l2, out=t)
                    g += t
                if l1:
                    np.sign(w, out=t)
                    t *= l1
                    g += t
        self.optimizer.step(lr, grads)
        self.step_count += 1
        pos += b
        self._epoch_loss += loss * b
        point: dict[str, Any] = {
            "step": self.step_count,
            "epoch": epoch + 1,
            "loss": loss,
            "lr": lr,
            "grad_norm": grad_norm,
        }
        max_steps = self.config.max_steps
        stop = max_steps is not None and self.step_count >= max_steps
        if pos >= n:  # end of the epoch
            point["train_loss"] = self._epoch_loss / n
            self._epoch_loss = 0.0
            pos = 0
            self.epoch = epoch = epoch + 1
            stop = stop or epoch >= self.config.epochs
            if stop or epoch % self.settings["eval_every"] == 0:
                self._add_eval(point)
        elif stop:
            self._add_eval(point)
        self._pos = pos
        if stop:
            self._finish(Status.DONE, self._done_reason())
        return [point]

    def _set_epoch_rates(self, epoch: int) -> None:
        """Learning rate and penalties for the steps of `epoch` (cached per epoch)."""
        s = self.settings
        self._lr_epoch = epoch
        self._lr_now = s["lr"] * self.schedule(epoch)
        self._l1_now = s["l1"] if epoch >= s["l1_start"] else 0.0
        self._l2_now = s["l2"] if epoch >= s["l2_start"] else 0.0

    def _done_reason(self) -> str:
        if self.config.max_steps is not None and self.step_count >= self.config.max_steps:
            return f"reached max_steps ({self.config.max_steps})"
        return f"finished {self.epoch} epoch{'s' if self.epoch != 1 else ''}"

    def _diverge(self, plan: Plan, what: str) -> list[dict[str, Any]]:
        node = plan.first_nonfinite()
        if node is None and plan.cost_ids:  # every value finite: the sum of costs overflowed
            node = plan.cost_ids[0]
            what += " (the sum over the batch overflowed)"
        self.diverged_node = node
        self.diverged_step = self.step_count + 1
        for keep, p in self._backup_pairs:
            np.copyto(p, keep)
        where = f"; first non-finite node: '{node}'" if node else ""
        reason = (
            f"{what} at step {self.diverged_step}{where}; the parameters of step "
            f"{self.step_count} were kept (try a smaller learning rate)"
        )
        if self.hold_on_divergence:
            self.optimizer.t = self._backup_t
            self._hold(reason)
        else:
            self._finish(Status.DIVERGED, reason)
        return []
