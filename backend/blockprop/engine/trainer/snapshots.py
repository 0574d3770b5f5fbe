"""What a person watching training sees: summaries of every node's value and gradient from the
latest step, the decision boundary (or fitted curve) over the data, and the trained
parameters. All are read under the trainer's lock, so another thread may ask mid-run."""

from __future__ import annotations

from typing import Any

import numpy as np

from blockprop.engine import registry
from blockprop.engine.executor import Plan
from blockprop.engine.summary import summarize
from blockprop.engine.trainer.config import is_int

#: per-hidden-unit thumbnails: a coarse lattice, and layers narrow enough to show unit by unit
UNIT_GRID = 10
MAX_UNITS = 32


class Snapshots:
    """The observation side of a `Trainer` (a mixin): `snapshot()`, `boundary()`, `state()`."""

    def _ensure_values(self) -> Plan:
        """The plan holding the latest values; before any step, a forward + backward of the
        first batch with dropout off (parameters unchanged)."""
        if self._last_plan is not None:
            return self._last_plan
        b = self.batch_size
        feed = {self.input_id: self._x["train"][:b]}
        if self.target_id is not None:
            feed[self.target_id] = self._y["train"][:b]
        self.plan.forward(feed, training=False)
        if self.plan.cost_ids:
            self.plan.backward()
        self._last_plan = self.plan
        return self.plan

    def snapshot(self, nodes: list[str] | None = None) -> dict[str, Any]:
        """Summaries (engine/summary.py) of every node's value and gradient dC/dz from the
        latest step (its batch), and of the parameters and their gradients:
        `{"step", "epoch", "nodes": {key: {"value", "grad"}}, "params": {node: {name: …}},
        "param_grads": {node: {name: …}}}`. `nodes` limits it to those node ids."""
        want = None if nodes is None else set(nodes)
        with self._lock:
            plan = self._ensure_values()
            out_nodes: dict[str, Any] = {}
            for key, value in plan.values.items():
                if want is not None and key.split(":")[0] not in want:
                    continue
                grad = plan.grads.get(key) if plan.grads else None
                out_nodes[key] = {
                    "value": summarize(value, batched=True),
                    "grad": None if grad is None else summarize(grad, batched=True),
                }
            params: dict[str, Any] = {}
            pgrads: dict[str, Any] = {}
            for nid, name in self.param_keys:
                if want is not None and nid not in want:
                    continue
                params.setdefault(nid, {})[name] = summarize(plan.params[nid][name])
                g = plan.param_grads.get(nid, {}).get(name)
                if g is not None:
                    pgrads.setdefault(nid, {})[name] = summarize(g)
            return {
                "step": self.step_count,
                "epoch": self.epoch,
                "nodes": out_nodes,
                "params": params,
                "param_grads": pgrads,
            }

    def boundary(self, grid: int = 48) -> dict[str, Any] | None:
        """The model's prediction over a grid x grid lattice covering the (normalised) data,
        for datasets with 2 features: `{"x0", "x1", "z", "kind", "points"}` where `z[i][j]`
        is the prediction at (x0[j], x1[i]) — a class for classification ("kind": "class"),
        the output value for regression ("kind": "value") — and `points` holds up to 200
        train and 100 test samples as `[x0, x1, y]`. For a regression on one feature it is the
        fitted curve instead ("kind": "curve"): `z[0][j]` is the prediction at `x0[j]`, `x1` is
        empty and `points` are `[x0, y]`. None otherwise (or without a prediction node)."""
        if self.output_key is None:
            return None
        if self.dataset.n_features == 1 and self.dataset.task == "regression":
            return self._curve(grid)
        if self.dataset.n_features != 2:
            return None
        if not is_int(grid) or not 2 <= grid <= 256:
            raise ValueError(f"grid must be an integer in [2, 256], got {grid!r}")
        frame, mesh = self._boundary_frame(grid)
        out = self.predict(mesh)
        if self.dataset.task == "classification":
            z = self._predict(out).reshape(grid, grid).tolist()
            kind = "class"
        else:
            z = np.round(out.reshape(grid * grid, -1)[:, 0], 5).reshape(grid, grid).tolist()
            kind = "value"
        return {**frame, "z": z, "kind": kind, "units": self.unit_grids()}

    def unit_grids(self, grid: int = UNIT_GRID) -> dict[str, list[list[list[float]]]]:
        """Each hidden unit's activation over a coarse lattice of the input plane (datasets
        with 2 features), as TensorFlow Playground shows its neurons: node -> unit -> rows,
        `[u][i][j]` at (x0[j], x1[i]) of the same span as the boundary. Hidden units are the
        outputs of parameter-free functions (the nonlinearities) with at most MAX_UNITS
        values per sample, other than the prediction."""
        if self.dataset.n_features != 2:
            return {}
        nodes = self._unit_nodes()
        if not nodes:
            return {}
        _, mesh = self._boundary_frame(grid)
        n = grid * grid
        x = np.ascontiguousarray(mesh.reshape((n, *self.input_shape)), dtype=self.dtype)
        feed = {self.input_id: x}
        if self.target_id is not None:
            y = self._y["train"]
            feed[self.target_id] = np.zeros((n, *y.shape[1:]), dtype=y.dtype)
        with self._lock:
            plan = self._eval_plan(n)
            plan.forward(feed, training=False)
            return {
                nid: np.round(
                    np.asarray(plan.values[nid], dtype=np.float64)
                    .reshape(grid, grid, -1)
                    .transpose(2, 0, 1),
                    3,
                ).tolist()
                for nid in nodes
            }

    def _unit_nodes(self) -> list[str]:
        if getattr(self, "_unit_ids", None) is None:
            ids = []
            fed = {self.input_id, self.target_id}
            out = self.output_key.split(":")[0] if self.output_key else None
            for nid in self.plan.order:
                node = self._nodes_by_id.get(nid)
                shape = self.plan.shapes.get(nid)
                if node is None or nid in fed or nid == out or shape is None:
                    continue
                op = registry.get(node["op"])
                if op.category != "function" or op.trainables or len(shape) != 1:
                    continue
                if 1 <= shape[0] <= MAX_UNITS:
                    ids.append(nid)
            self._unit_ids = ids
        return self._unit_ids

    def _boundary_frame(self, grid: int) -> tuple[dict[str, Any], np.ndarray]:
        """What a boundary grid shows besides the prediction — the axes and the samples, which
        the data fixes — and the lattice to predict on: made once per grid size (a watched run
        asks for its boundary twice a second)."""
        cache = self._boundary_frames
        if grid in cache:
            return cache[grid]
        xs = np.concatenate([self._x["train"].reshape(-1, 2), self._x["test"].reshape(-1, 2)])
        lo, hi = xs.min(axis=0), xs.max(axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-6)
        lo, hi = lo - pad, hi + pad
        g0 = np.linspace(lo[0], hi[0], grid)
        g1 = np.linspace(lo[1], hi[1], grid)
        mesh = np.stack(np.meshgrid(g0, g1), axis=-1).reshape(-1, 2)
        pts: dict[str, list] = {}
        for split, cap in (("train", 200), ("test", 100)):
            x = self._x[split].reshape(-1, 2)
            lab = self._labels[split]
            idx = np.unique(np.linspace(0, len(x) - 1, min(cap, len(x))).astype(np.int64))
            yv = lab[idx] if lab.ndim == 1 else lab[idx, 0]
            pts[split] = (
                [
                    [
                        round(float(a), 5),
                        round(float(b), 5),
                        (int(c) if lab.ndim == 1 else round(float(c), 5)),
                    ]
                    for (a, b), c in zip(x[idx], yv, strict=True)
                ]
                if len(x)
                else []
            )
        frame = {"x0": np.round(g0, 5).tolist(), "x1": np.round(g1, 5).tolist(), "points": pts}
        cache[grid] = (frame, mesh)
        return cache[grid]

    def _curve(self, grid: int) -> dict[str, Any]:
        if not is_int(grid) or not 2 <= grid <= 256:
            raise ValueError(f"grid must be an integer in [2, 256], got {grid!r}")
        xs = np.concatenate([self._x["train"].reshape(-1), self._x["test"].reshape(-1)])
        lo, hi = float(xs.min()), float(xs.max())
        pad = 0.1 * max(hi - lo, 1e-6)
        g0 = np.linspace(lo - pad, hi + pad, 4 * grid)
        out = self.predict(g0.reshape(-1, 1))
        z = np.round(out.reshape(len(g0), -1)[:, 0].astype(np.float64), 5)
        pts: dict[str, list] = {}
        for split, cap in (("train", 200), ("test", 100)):
            x = self._x[split].reshape(-1)
            lab = self._labels[split].reshape(len(x), -1)[:, 0] if len(x) else x
            idx = np.unique(np.linspace(0, len(x) - 1, min(cap, len(x))).astype(np.int64))
            pts[split] = (
                [
                    [round(float(a), 5), round(float(c), 5)]
                    for a, c in zip(x[idx], lab[idx], strict=True)
                ]
                if len(x)
                else []
            )
        return {
            "x0": np.round(g0, 5).tolist(),
            "x1": [],
            "z": [np.where(np.isfinite(z), z, 0.0).tolist()],
            "kind": "curve",
            "points": pts,
        }

    def input_normalization(self) -> dict[str, dict[str, list[float]]]:
        """How the input node's feed was normalised: ``{input_id: {mean, std}}`` (per feature,
        training-split statistics, `(x - mean) / std`), or ``{}`` when the dataset was not
        normalised. A raw sample must be transformed alike before it meets the parameters."""
        norm = self.dataset.normalizer
        if not norm.active:
            return {}
        return {self.input_id: {"mean": norm.mean.tolist(), "std": norm.std.tolist()}}

    def state(self) -> dict[str, dict[str, list]]:
        """Trained parameters and buffers (running statistics) as nested lists, for a graph
        document's "state"."""
        with self._lock:
            out: dict[str, dict[str, list]] = {}
            for (nid, name), arr in zip(self.param_keys, self._params, strict=True):
                out.setdefault(nid, {})[name] = arr.astype(np.float64).tolist()
            for nid, bufs in self.plan.buffers.items():
                for name, arr in bufs.items():
                    out.setdefault(nid, {})[name] = arr.astype(np.float64).tolist()
            return out
