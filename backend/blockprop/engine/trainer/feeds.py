"""Mapping a dataset onto a graph: which input node takes x, which target node takes y (as
labels, one-hot rows, 0/1 or ±1, or values), which node holds the prediction, and the feed
buffers batches are gathered into.

The mapping is checked once, when the trainer is built, so that a graph that cannot take the
dataset fails with a `bad_feed` error naming the node before any step runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from blockprop.engine import registry
from blockprop.engine.graph import GraphError, Issue


def bad_feed(message: str, nodes: list[str]) -> GraphError:
    return GraphError(Issue("bad_feed", message, nodes, None))


def fmt_shape(shape: Any) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def wants_signs(op: registry.OpDef, port: str) -> bool:
    """Whether a cost declares its target port as taking ±1 (hinge): binary labels 0/1
    are then fed as -1/+1."""
    return any(p.name == port and p.binary_labels == "signs" for p in op.inputs)


class Feeds:
    """The dataset side of a `Trainer` (a mixin). `_map_nodes` sets `input_id`, `target_id`,
    `output_key` (the prediction), `input_shape`, `target_kind` and `target_shape` from the
    compiled `plan`; `_prepare_data` then lays the splits out in the trainer's dtype (`_x`,
    `_y`, `_labels`) and builds the feeds of a training step."""

    def _pick(self, kind: str, ids: list[str], explicit: str | None) -> str | None:
        if explicit is not None:
            if explicit not in ids:
                listed = ", ".join(f"'{i}'" for i in ids) or "none"
                raise bad_feed(
                    f"'{explicit}' is not {'an' if kind == 'input' else 'a'} {kind} node of this "
                    f"graph (its {kind} nodes: {listed})",
                    [explicit],
                )
            return explicit
        if len(ids) == 1:
            return ids[0]
        if not ids:
            return None
        listed = ", ".join(f"'{i}'" for i in ids)
        raise bad_feed(
            f"the graph has several {kind} nodes ({listed}); say which one the dataset's "
            f"{'x' if kind == 'input' else 'y'} feeds (training setting '{kind}')",
            list(ids),
        )

    def _map_nodes(self) -> None:
        plan, ds, cfg = self.plan, self.dataset, self.config
        inputs, targets = list(plan.input_ids), list(plan.target_ids)
        self.input_id = self._pick("input", inputs, cfg.input)
        if self.input_id is None:
            raise bad_feed("the graph has no input node for the dataset's x", [])
        self.target_id = self._pick("target", targets, cfg.target)
        for nid in inputs + targets:
            if nid not in (self.input_id, self.target_id):
                raise bad_feed(
                    f"node '{nid}' is not fed by the dataset: a graph trained on a dataset has "
                    "one input node (x) and at most one target node (y)",
                    [nid],
                )
        ishape = tuple(plan.shapes[self.input_id])
        if math.prod(ishape) != ds.n_features:
            raise bad_feed(
                f"input node '{self.input_id}' has shape {fmt_shape(ishape)} but dataset "
                f"'{ds.name}' has {ds.n_features} feature{'s' if ds.n_features != 1 else ''}"
                + (f" (shape {fmt_shape(ds.input_shape)})" if len(ds.input_shape) > 1 else ""),
                [self.input_id],
            )
        self.input_shape = ishape
        # the prediction: explicit, or the non-target input of the cost that reads the target
        self.output_key: str | None = None
        self._logits = False
        if cfg.output is not None:
            keys = [k for k in plan.shapes if k == cfg.output or k.split(":")[0] == cfg.output]
            if not keys:
                raise bad_feed(
                    f"there is no node '{cfg.output}' to read predictions from", [cfg.output]
                )
            self.output_key = keys[0]
        signs = False  # the cost wants targets in {-1, +1} (hinge)
        if self.target_id is not None:
            for nid in plan.order:
                node = self._node(nid)
                op = registry.get(node["op"])
                if op.category != "cost":
                    continue
                srcs = node.get("inputs") or {}
                tports = [p for p, s in srcs.items() if s.split(":")[0] == self.target_id]
                if not tports:
                    continue
                signs = wants_signs(op, tports[0])
                for port, src in srcs.items():
                    if src.split(":")[0] != self.target_id:
                        if self.output_key is None:
                            self.output_key = src
                        if src == self.output_key:
                            self._logits = port == "logits" or signs
                        break
                break
        # the target: labels, one-hot rows or real values
        self.target_kind = None
        if self.target_id is not None:
            tnode = self._node(self.target_id)
            tparams = tnode.get("params") or {}
            tshape = tuple(plan.shapes[self.target_id])
            tdtype = tparams.get("dtype", "float")
            size = math.prod(tshape)
            where = f"target node '{self.target_id}' (shape {fmt_shape(tshape)}, {tdtype})"
            if ds.task == "classification":
                k = ds.n_classes or 0
                if tdtype == "int":
                    if size != 1:
                        raise bad_feed(
                            f"{where} must have shape [] to take class labels", [self.target_id]
                        )
                    self.target_kind = "labels"
                elif size == k and k > 1:
                    self.target_kind = "onehot"
                elif size == 1 and k <= 2:
                    self.target_kind = "signs" if signs else "binary"
                else:
                    raise bad_feed(
                        f"{where} cannot take the labels of dataset '{ds.name}' ({k} classes): "
                        f"use dtype int with shape [], or float with shape [{k}] (one-hot)"
                        + (" or [] (0/1)" if k <= 2 else ""),
                        [self.target_id],
                    )
            else:
                if tdtype == "int":
                    raise bad_feed(
                        f"{where} takes class labels but dataset '{ds.name}' is a regression",
                        [self.target_id],
                    )
                if size != ds.n_outputs:
                    raise bad_feed(
                        f"{where} has {size} value(s) per sample but dataset '{ds.name}' has "
                        f"{ds.n_outputs} target(s)",
                        [self.target_id],
                    )
                self.target_kind = "values"
            self.target_shape = tshape
        if self.output_key is not None and ds.task == "classification":
            oshape = plan.shapes[self.output_key]
            k = math.prod(oshape)
            if k > 1 and (ds.n_classes or 0) > k:
                raise bad_feed(
                    f"output '{self.output_key}' has {k} values per sample but dataset "
                    f"'{ds.name}' has {ds.n_classes} classes",
                    [self.output_key.split(":")[0]],
                )

    def _targets(self, y: np.ndarray) -> np.ndarray | None:
        if self.target_kind is None:
            return None
        n = y.shape[0]
        if self.target_kind == "labels":
            return np.ascontiguousarray(y.reshape((n, *self.target_shape)), dtype=np.int64)
        if self.target_kind == "signs":
            return np.ascontiguousarray((2 * y - 1).reshape((n, *self.target_shape)), self.dtype)
        if self.target_kind == "onehot":
            out = np.zeros((n, self.dataset.n_classes), dtype=self.dtype)
            out[np.arange(n), y] = 1
            return out.reshape((n, *self.target_shape))
        return np.ascontiguousarray(y.reshape((n, *self.target_shape)), dtype=self.dtype)

    def _prepare_data(self) -> None:
        ds = self.dataset
        # an input of integer ids (an embedding's) takes the data as whole numbers
        dtype = self.plan.values[self.input_id].dtype
        if dtype.kind == "i":
            for x in (ds.x_train, ds.x_test):
                if not np.array_equal(x, np.round(x)) or (x.size and x.min() < 0):
                    raise bad_feed(
                        f"input node '{self.input_id}' takes integer ids, but dataset "
                        f"'{ds.name}' has other values (turn normalisation off for ids)",
                        [self.input_id],
                    )
        self._x = {
            "train": np.ascontiguousarray(
                ds.x_train.reshape((ds.n_train, *self.input_shape)),
                dtype=dtype if dtype.kind == "i" else self.dtype,
            ),
            "test": np.ascontiguousarray(
                ds.x_test.reshape((ds.n_test, *self.input_shape)),
                dtype=dtype if dtype.kind == "i" else self.dtype,
            ),
        }
        self._y = {"train": self._targets(ds.y_train), "test": self._targets(ds.y_test)}
        self._labels = {"train": ds.y_train, "test": ds.y_test}
        self._x_train, self._y_train = self._x["train"], self._y["train"]
        self._feed = self._make_feed(self.batch_size)
        self._full_feed = {self.input_id: self._x_train}
        if self.target_id is not None:
            self._full_feed[self.target_id] = self._y_train

    def _make_feed(self, b: int) -> dict[str, np.ndarray]:
        """Feeds for a batch of b: the plan's own input buffers, which batches are gathered
        into directly (feeding them back is then a no-op copy)."""
        plan = self._plan_for(b)
        feed = {self.input_id: plan.values[self.input_id]}
        if self.target_id is not None:
            feed[self.target_id] = plan.values[self.target_id]
        return feed
