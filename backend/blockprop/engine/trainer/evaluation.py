"""Evaluation and prediction with dropout off, in chunks of at most `EVAL_BATCH` samples, on
plans of their own: evaluating never overwrites the values and gradients of the latest
training step, which snapshots show."""

from __future__ import annotations

from typing import Any

import numpy as np

from blockprop.engine.executor import Plan

EVAL_BATCH = 1024  # evaluation runs in chunks of at most this many samples


class Evaluation:
    """The evaluation side of a `Trainer` (a mixin): `evaluate()`, `predict()` and the test
    evaluation of metric points."""

    def _eval_plan(self, b: int) -> Plan:
        """A plan for evaluation sharing the parameters but none of the training plans'
        buffers, so evaluating never overwrites the values and gradients of the latest
        training step (which snapshots show)."""
        plan = self._eval_plans.get(b)
        if plan is None:
            plan = self._eval_plans[b] = self.plan.clone(b, grads="params")
        return plan

    def eval_plan(self, b: int) -> Plan:
        """A plan for ``b`` samples sharing the trained parameters but no training buffers
        (cached): e.g. to evaluate the loss at parameters set by hand (the landscape)."""
        return self._eval_plan(b)

    def training_split(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The training split as the graph is fed it: ``(x, y)``, normalised and shaped for
        the input and target nodes (``input_id``, ``target_id``; y is None without one)."""
        return self._x["train"], self._y["train"] if self.target_id is not None else None

    def _predict(self, values: np.ndarray) -> np.ndarray:
        """Class predictions from the output node's values (batch first)."""
        v = values.reshape(values.shape[0], -1)
        if v.shape[1] > 1:
            return np.argmax(v, axis=1)
        v = v[:, 0]
        if v.dtype.kind in "iu":
            return v.astype(np.int64)
        if self._logits:
            return (v > 0).astype(np.int64)
        return np.clip(np.rint(v), 0, (self.dataset.n_classes or 2) - 1).astype(np.int64)

    def _run_eval(
        self, x: np.ndarray, y: np.ndarray | None, collect: bool = False
    ) -> tuple[float, int, np.ndarray | None]:
        """Forward (no dropout) over x in chunks: (summed loss, samples, outputs)."""
        n = x.shape[0]
        total = 0.0
        outs = [] if collect and self.output_key is not None else None
        for start in range(0, n, EVAL_BATCH):
            stop = min(n, start + EVAL_BATCH)
            plan = self._eval_plan(stop - start)
            feed = {self.input_id: x[start:stop]}
            if self.target_id is not None:
                feed[self.target_id] = (
                    y[start:stop]
                    if y is not None
                    else np.zeros(
                        (stop - start, *self._y["train"].shape[1:]), dtype=self._y["train"].dtype
                    )
                )
            loss = float(plan.forward(feed, training=False))
            total += loss * (stop - start)
            if outs is not None:
                outs.append(np.array(plan.values[self.output_key]))
        return total, n, (np.concatenate(outs) if outs else None)

    def _evaluate_split(self, split: str) -> dict[str, Any]:
        x, y = self._x[split], self._y[split]
        if x.shape[0] == 0:
            return {}
        classify = self.dataset.task == "classification" and self.output_key is not None
        total, n, out = self._run_eval(x, y, collect=classify)
        res: dict[str, Any] = {"loss": total / n if self.plan.cost_ids else None}
        if classify:
            res["accuracy"] = float(np.mean(self._predict(out) == self._labels[split]))
        return res

    def _add_eval(self, point: dict[str, Any]) -> None:
        ev = self._evaluate_split("test" if self.dataset.n_test else "train")
        if self.dataset.n_test:
            point["test_loss"] = ev["loss"]
        if "accuracy" in ev:
            point["accuracy"] = ev["accuracy"]
        # L(S, w): the whole training split with the parameters as they are now, beside the
        # epoch's mean of batch losses (`train_loss`, taken while the parameters moved)
        train = ev if not self.dataset.n_test else self._evaluate_split("train")
        point["full_loss"] = train.get("loss")

    def evaluate(self) -> dict[str, Any]:
        """Loss (and accuracy for classification) on the train and test splits, with dropout
        off: `{"loss", "test_loss"?, "accuracy"?, "train_accuracy"?}` (`accuracy` is on
        the test split when there is one)."""
        with self._lock:
            tr = self._evaluate_split("train")
            te = self._evaluate_split("test")
        out: dict[str, Any] = {"loss": tr.get("loss")}
        if te:
            out["test_loss"] = te.get("loss")
        if "accuracy" in tr:
            out["train_accuracy"] = tr["accuracy"]
            out["accuracy"] = te.get("accuracy", tr["accuracy"])
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The output node's values for raw (already normalised) inputs x, batch first."""
        if self.output_key is None:
            raise ValueError("the graph has no prediction node: set the training setting 'output'")
        x = np.ascontiguousarray(np.asarray(x).reshape((-1, *self.input_shape)), dtype=self.dtype)
        with self._lock:
            _, _, out = self._run_eval(x, None, collect=True)
        return out
