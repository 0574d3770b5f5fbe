"""Training: gradient descent on a compiled graph, as the notes teach it.

    >>> from blockprop.engine.data import load_dataset
    >>> from blockprop.engine.trainer import Trainer, TrainConfig
    >>> t = Trainer(doc, load_dataset("spiral"), TrainConfig(epochs=200, optimizer="adam",
    ...             lr=0.01, batch_size=32))
    >>> t.run(on_points=print)            # or: while t.step(): ...
    >>> t.evaluate(), t.snapshot(), t.boundary()

One trainer serves the CLI, the server's run workers and notebooks:

- **Batch size decides the method**: `batch_size=None` is full-batch gradient descent (one
  step per epoch, no shuffling: the gradient does not depend on the order), 1 is SGD, k is
  mini-batch SGD (k ≥ the training set size is full batch). When k does not divide the
  training set, the last batch of each epoch is the remainder (smaller, run on a second
  plan sharing the parameters): every sample is used exactly once per epoch.
- **Loss** of a step is the engine's batch loss: the mean over the batch of the sum of all
  cost nodes. Regularisation is not included in it; it enters through the gradient:
  L1 adds `l1·sign(W)`, L2 adds `l2·W` (the gradient of `l1·Σ|W|` and `l2·½·Σ W²`), from the
  epochs `l1_start` / `l2_start` on (0-based), to the *weights* only: trainable parameters
  named `W` and explicit `parameter` nodes (not biases `b` nor prototypes `P`).
- **Learning rate** of a step: `lr · schedule(epoch)` (see `schedules`), epoch 0-based.
- **Metric points**: every step yields `{"step", "epoch", "loss", "lr", "grad_norm"}` where
  `step` counts steps from 1, `epoch` is the 1-based epoch the step belongs to and
  `grad_norm` is the L2 norm of the loss gradient over all trainable parameters (before
  regularisation). The last step of an epoch also carries `train_loss` (the mean of the
  epoch's batch losses) and, every `eval_every` epochs and at the end of training,
  `test_loss` and, for classification, `accuracy` on the test split (`test_loss` is absent
  when the test split is empty; `accuracy` is then measured on the training split).
- **Divergence**: a non-finite loss or gradient stops training with status `diverged`; the
  step is not counted, `diverged_node` is the first node in topological order holding a
  non-finite value or gradient, and the parameters of the last finite step are restored.
- **Determinism**: parameters are initialised from `seed`, batches are shuffled and dropout
  masks drawn from generators seeded by `seed`: the same graph, data, config and seed give
  the same loss sequence, bit for bit. `save_checkpoint()` / `from_checkpoint()` carry
  every piece of that state, so a resumed run continues exactly as if uninterrupted.
- **Control** from another thread while `run()` loops: `pause()`, `resume()`,
  `request_steps(n)`, `stop()`, `set(lr=..., l1=..., l2=..., momentum=..., ...)`; they
  take effect between steps.
- **Speed**: `speed=k` keeps `run()` to at most k steps per second (0: as fast as it goes),
  so a person can watch a small model learn; it can change while training (`set(speed=…)`).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from blockprop.engine import registry
from blockprop.engine.data import Dataset
from blockprop.engine.executor import Plan, compile_graph
from blockprop.engine.graph import GraphError, Issue
from blockprop.engine.optim import OPTIMIZERS, make_optimizer
from blockprop.engine.schedules import SCHEDULES, Schedule
from blockprop.engine.summary import summarize

CHECKPOINT_FORMAT = "blockprop-checkpoint"
CHECKPOINT_VERSION = 1
EVAL_BATCH = 1024  # evaluation runs in chunks of at most this many samples


class Status(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"


TERMINAL = frozenset({Status.DONE, Status.STOPPED, Status.DIVERGED, Status.FAILED})


# --------------------------------------------------------------------------- config


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float | np.floating)) and math.isfinite(float(v))


@dataclass
class TrainConfig:
    """Training settings. Invalid values raise `ValueError` naming the field.

    `input`, `target` and `output` name the graph's input node (fed the dataset's x), target
    node (fed y) and prediction node (used for accuracy and the decision boundary); each
    may be left out when the graph leaves no doubt (a single input / target node; the
    prediction is the non-target input of the cost reading the target).
    """

    epochs: int = 100
    batch_size: int | None = None  # None: full batch (GD); 1: SGD; k: mini-batch
    optimizer: str = "sgd"  # "sgd" | "momentum" | "adam"
    lr: float = 0.1
    momentum: float = 0.9  # optimizer "momentum"
    nesterov: bool = False  # optimizer "momentum"
    beta1: float = 0.9  # optimizer "adam"
    beta2: float = 0.999
    eps: float = 1e-8
    schedule: str = "constant"  # "constant" | "step" | "exponential" | "inv_t" | "cosine"
    step_size: int = 10  # schedule "step": epochs between decays
    gamma: float = 0.5  # schedules "step" and "exponential": decay factor
    decay: float = 0.01  # schedule "inv_t": lr / (1 + decay·epoch)
    l1: float = 0.0
    l1_start: int = 0  # first epoch (0-based) with L1 on
    l2: float = 0.0
    l2_start: int = 0
    dropout: float | None = None  # overrides every dropout node's rate when set
    shuffle: bool = True
    seed: int = 0
    max_steps: int | None = None  # stop (status done) after this many steps in total
    eval_every: int = 1  # epochs between test evaluations
    speed: float = 0.0  # steps per second at most while running (0: as fast as it goes)
    dtype: str = "float32"  # "float32" | "float64"
    input: str | None = None
    target: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise ValueError(f"{name} must be {what}, got {getattr(self, name)!r}")

        def integer(name: str, lo: int, hi: int | None = None, nullable: bool = False) -> None:
            v = getattr(self, name)
            if v is None and nullable:
                return
            if isinstance(v, float) and v.is_integer():
                v = int(v)
                setattr(self, name, v)
            rng = f"an integer ≥ {lo}" + (f" and ≤ {hi}" if hi is not None else "")
            need(_is_int(v) and v >= lo and (hi is None or v <= hi), name, rng)
            setattr(self, name, int(v))

        def number(
            name: str,
            lo: float,
            hi: float | None = None,
            lo_open: bool = False,
            hi_open: bool = False,
        ) -> None:
            v = getattr(self, name)
            ok = _is_num(v) and (v > lo if lo_open else v >= lo)
            if hi is not None:
                ok = ok and (v < hi if hi_open else v <= hi)
            lo_s = f"{'>' if lo_open else '≥'} {lo}"
            hi_s = f" and {'<' if hi_open else '≤'} {hi}" if hi is not None else ""
            need(ok, name, f"a number {lo_s}{hi_s}")
            setattr(self, name, float(v))

        def boolean(name: str) -> None:
            need(isinstance(getattr(self, name), bool), name, "true or false")

        def node_id(name: str) -> None:
            v = getattr(self, name)
            need(v is None or (isinstance(v, str) and 0 < len(v) <= 64), name, "a node id")

        integer("epochs", 0, 1_000_000)
        integer("batch_size", 1, None, nullable=True)
        need(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        number("lr", 0.0, lo_open=True)
        number("momentum", 0.0, 1.0, hi_open=True)
        boolean("nesterov")
        number("beta1", 0.0, 1.0, hi_open=True)
        number("beta2", 0.0, 1.0, hi_open=True)
        number("eps", 0.0, lo_open=True)
        need(self.schedule in SCHEDULES, "schedule", f"one of {', '.join(SCHEDULES)}")
        integer("step_size", 1)
        number("gamma", 0.0, 1.0, lo_open=True)
        number("decay", 0.0)
        number("l1", 0.0)
        integer("l1_start", 0)
        number("l2", 0.0)
        integer("l2_start", 0)
        if self.dropout is not None:
            number("dropout", 0.0, 1.0, hi_open=True)
        boolean("shuffle")
        integer("seed", 0, 2**63 - 1)
        integer("max_steps", 1, None, nullable=True)
        integer("eval_every", 1)
        number("speed", 0.0)
        need(self.dtype in ("float32", "float64"), "dtype", "float32 or float64")
        for name in ("input", "target", "output"):
            node_id(name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> TrainConfig:
        """Build from a JSON-like dict; unknown keys raise ValueError naming them."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ValueError(f"a training config must be an object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(
                f"unknown training setting {', '.join(map(repr, unknown))} "
                f"(the settings: {', '.join(sorted(names))})"
            )
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


#: settings `Trainer.set` may change while training runs
LIVE_SETTINGS = ("lr", "momentum", "l1", "l2", "l1_start", "l2_start", "eval_every", "speed")


# --------------------------------------------------------------------------- helpers


def _bad_feed(message: str, nodes: list[str]) -> GraphError:
    return GraphError(Issue("bad_feed", message, nodes, None))


def _fmt(shape: Any) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def _is_weight(op: registry.OpDef, trainable: str) -> bool:
    """Whether L1/L2 regularisation applies: the op's declaration says (`regularize`)."""
    return any(t.name == trainable and t.regularize for t in op.trainables)


def _flat(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """1-D views of persistent buffers (for cheap dot products)."""
    out = []
    for a in arrays:
        v = a.reshape(-1)
        if not np.shares_memory(v, a):
            raise ValueError("gradient buffers must be contiguous")
        out.append(v)
    return out


def _wants_signs(op: registry.OpDef, port: str) -> bool:
    """Whether a cost declares its target port as taking ±1 (hinge): binary labels 0/1
    are then fed as -1/+1."""
    return any(p.name == port and p.binary_labels == "signs" for p in op.inputs)


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Train a graph document on a dataset. See the module docstring."""

    def __init__(
        self,
        doc: dict,
        dataset: Dataset,
        config: TrainConfig | dict | None = None,
        state: dict | None = None,
    ) -> None:
        if not isinstance(config, TrainConfig):
            config = TrainConfig.from_dict(config)
        self.config = cfg = config
        self.dataset = dataset
        self.doc = self._prepare_doc(doc, cfg)
        self.dtype = np.dtype(cfg.dtype)
        n = dataset.n_train
        if n < 1:
            raise _bad_feed(f"dataset '{dataset.name}' has no training samples", [])
        self.batch_size = n if cfg.batch_size is None else min(cfg.batch_size, n)
        self.full_batch = self.batch_size == n
        self.plan: Plan = compile_graph(
            self.doc, self.batch_size, dtype=self.dtype, seed=cfg.seed, state=state
        )
        self._plans: dict[int, Plan] = {self.batch_size: self.plan}
        self._eval_plans: dict[int, Plan] = {}
        self._nodes_by_id = {n["id"]: n for n in self.doc["nodes"]}
        self._map_nodes()
        self._prepare_data()

        # trainable parameters, in topological order, as parallel lists
        self.param_keys: list[tuple[str, str]] = []
        self._params: list[np.ndarray] = []
        weights: list[int] = []
        for nid in self.plan.order:
            for name, arr in self.plan.params.get(nid, {}).items():
                if _is_weight(registry.get(self._node(nid)["op"]), name):
                    weights.append(len(self._params))
                self.param_keys.append((nid, name))
                self._params.append(arr)
        self._weights = weights
        self._grads_full = self._grads_of(self.plan)
        self.optimizer = make_optimizer(
            cfg.optimizer,
            self._params,
            self._grads_full,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            beta1=cfg.beta1,
            beta2=cfg.beta2,
            eps=cfg.eps,
        )
        self._flat_full = _flat(self._grads_full)
        self._backup = [p.copy() for p in self._params]
        self._backup_pairs = list(zip(self._backup, self._params, strict=True))
        self._lr_epoch = -1  # epoch whose rates are cached in _lr_now, _l1_now, _l2_now
        self.schedule = Schedule(
            cfg.schedule,
            epochs=max(1, cfg.epochs),
            step_size=cfg.step_size,
            gamma=cfg.gamma,
            decay=cfg.decay,
        )
        # live settings (changed by set(); saved in checkpoints)
        self.settings: dict[str, Any] = {k: getattr(cfg, k) for k in LIVE_SETTINGS}
        self._pending: dict[str, Any] = {}

        # counters and generators
        self.step_count = 0
        self.epoch = 0  # completed epochs
        self._pos = 0  # index of the next sample of the current epoch
        self._perm = np.arange(n, dtype=np.int64)
        self._epoch_loss = 0.0  # sum over the epoch's batches of loss · batch size
        ss = np.random.SeedSequence(cfg.seed)
        shuffle_seed, dropout_seed = ss.spawn(2)
        self._shuffle_rng = np.random.default_rng(shuffle_seed)
        self._dropout_rng = np.random.default_rng(dropout_seed)

        # plans for other batch sizes, sharing the parameters
        self._last_plan: Plan | None = None
        self._partial: tuple | None = None  # (size, plan, feed, grads, flat grads)

        # status and control
        self.status: Status = Status.IDLE
        self.reason: str | None = None
        self.diverged_node: str | None = None
        self.diverged_step: int | None = None
        self.error: BaseException | None = None
        self._lock = threading.RLock()  # held during a step (and snapshot, checkpoint...)
        self._cond = threading.Condition()  # control flags below
        self._paused = False
        self._stop = False
        self._steps_left = 0
        self._running = False
        self._next_step_at = 0.0  # monotonic time the next step is due at (`speed`)
        self._on_status: Callable[[str, str | None], Any] | None = None

    # ---- setup ----------------------------------------------------------------------------

    @staticmethod
    def _prepare_doc(doc: dict, cfg: TrainConfig) -> dict:
        if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
            return doc  # compile_graph reports it
        if cfg.dropout is None:
            return doc
        doc = copy.deepcopy(doc)
        for node in doc["nodes"]:
            try:
                op = registry.get(node["op"])
            except (GraphError, KeyError, TypeError):
                continue  # compile_graph reports it
            rate = op.rate_param
            if rate is not None:
                params = node.get("params")
                if not isinstance(params, dict):
                    params = node["params"] = {}
                params[rate] = cfg.dropout
        return doc

    def _node(self, nid: str) -> dict:
        return self._nodes_by_id[nid]

    def _pick(self, kind: str, ids: list[str], explicit: str | None) -> str | None:
        if explicit is not None:
            if explicit not in ids:
                listed = ", ".join(f"'{i}'" for i in ids) or "none"
                raise _bad_feed(
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
        raise _bad_feed(
            f"the graph has several {kind} nodes ({listed}); say which one the dataset's "
            f"{'x' if kind == 'input' else 'y'} feeds (training setting '{kind}')",
            list(ids),
        )

    def _map_nodes(self) -> None:
        plan, ds, cfg = self.plan, self.dataset, self.config
        inputs, targets = list(plan.input_ids), list(plan.target_ids)
        self.input_id = self._pick("input", inputs, cfg.input)
        if self.input_id is None:
            raise _bad_feed("the graph has no input node for the dataset's x", [])
        self.target_id = self._pick("target", targets, cfg.target)
        for nid in inputs + targets:
            if nid not in (self.input_id, self.target_id):
                raise _bad_feed(
                    f"node '{nid}' is not fed by the dataset: a graph trained on a dataset has "
                    "one input node (x) and at most one target node (y)",
                    [nid],
                )
        ishape = tuple(plan.shapes[self.input_id])
        if math.prod(ishape) != ds.n_features:
            raise _bad_feed(
                f"input node '{self.input_id}' has shape {_fmt(ishape)} but dataset "
                f"'{ds.name}' has {ds.n_features} feature{'s' if ds.n_features != 1 else ''}"
                + (f" (shape {_fmt(ds.input_shape)})" if len(ds.input_shape) > 1 else ""),
                [self.input_id],
            )
        self.input_shape = ishape
        # the prediction: explicit, or the non-target input of the cost that reads the target
        self.output_key: str | None = None
        self._logits = False
        if cfg.output is not None:
            keys = [k for k in plan.shapes if k == cfg.output or k.split(":")[0] == cfg.output]
            if not keys:
                raise _bad_feed(
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
                signs = _wants_signs(op, tports[0])
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
            where = f"target node '{self.target_id}' (shape {_fmt(tshape)}, {tdtype})"
            if ds.task == "classification":
                k = ds.n_classes or 0
                if tdtype == "int":
                    if size != 1:
                        raise _bad_feed(
                            f"{where} must have shape [] to take class labels", [self.target_id]
                        )
                    self.target_kind = "labels"
                elif size == k and k > 1:
                    self.target_kind = "onehot"
                elif size == 1 and k <= 2:
                    self.target_kind = "signs" if signs else "binary"
                else:
                    raise _bad_feed(
                        f"{where} cannot take the labels of dataset '{ds.name}' ({k} classes): "
                        f"use dtype int with shape [], or float with shape [{k}] (one-hot)"
                        + (" or [] (0/1)" if k <= 2 else ""),
                        [self.target_id],
                    )
            else:
                if tdtype == "int":
                    raise _bad_feed(
                        f"{where} takes class labels but dataset '{ds.name}' is a regression",
                        [self.target_id],
                    )
                if size != ds.n_outputs:
                    raise _bad_feed(
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
                raise _bad_feed(
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
        self._x = {
            "train": np.ascontiguousarray(
                ds.x_train.reshape((ds.n_train, *self.input_shape)), dtype=self.dtype
            ),
            "test": np.ascontiguousarray(
                ds.x_test.reshape((ds.n_test, *self.input_shape)), dtype=self.dtype
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

    def _grads_of(self, plan: Plan) -> list[np.ndarray]:
        return [plan.param_grads[nid][name] for nid, name in self.param_keys]

    def _plan_for(self, b: int) -> Plan:
        plan = self._plans.get(b)
        if plan is None:
            plan = self._plans[b] = self.plan.for_batch(b)
        return plan

    def _eval_plan(self, b: int) -> Plan:
        """A plan for evaluation sharing the parameters but none of the training plans'
        buffers, so evaluating never overwrites the values and gradients of the latest
        training step (which snapshots show)."""
        plan = self._eval_plans.get(b)
        if plan is None:
            plan = self._eval_plans[b] = self.plan.clone(b, grads="params")
        return plan

    # ---- one step -------------------------------------------------------------------------

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
        and reported as divergence instead."""
        with np.errstate(all="ignore"):
            return self._guarded_step()

    def _guarded_step(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.status in TERMINAL:
                return []
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
                    self._partial = (b, pplan, self._make_feed(b), pgrads, _flat(pgrads))
                _, plan, feed, grads, flat = self._partial
            idx = self._perm[pos : pos + b]
            np.take(self._x_train, idx, axis=0, out=feed[self.input_id])
            if self._y_train is not None:
                np.take(self._y_train, idx, axis=0, out=feed[self.target_id])
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

    def _add_eval(self, point: dict[str, Any]) -> None:
        ev = self._evaluate_split("test" if self.dataset.n_test else "train")
        if self.dataset.n_test:
            point["test_loss"] = ev["loss"]
        if "accuracy" in ev:
            point["accuracy"] = ev["accuracy"]

    def _diverge(self, plan: Plan, what: str) -> list[dict[str, Any]]:
        node = plan.first_nonfinite()
        if node is None and plan.cost_ids:  # every value finite: the sum of costs overflowed
            node = plan.cost_ids[0]
            what += " (the sum over the batch overflowed)"
        self.diverged_node = node
        self.diverged_step = self.step_count + 1
        for p, keep in zip(self._params, self._backup, strict=True):
            np.copyto(p, keep)
        where = f"; first non-finite node: '{node}'" if node else ""
        self._finish(
            Status.DIVERGED,
            f"{what} at step {self.diverged_step}{where}; the parameters of step "
            f"{self.step_count} were kept (try a smaller learning rate)",
        )
        return []

    # ---- evaluation -----------------------------------------------------------------------

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

    # ---- control --------------------------------------------------------------------------

    def _set_status(self, status: Status, reason: str | None = None) -> None:
        if status == self.status and reason == self.reason:
            return
        self.status, self.reason = status, reason
        if self._on_status is not None:
            self._on_status(status.value, reason)

    def _finish(self, status: Status, reason: str | None) -> None:
        self._set_status(status, reason)
        with self._cond:
            self._cond.notify_all()

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
        if not _is_int(n) or n < 1:
            raise ValueError(f"n must be an integer ≥ 1, got {n!r}")
        with self._cond:
            self._steps_left = (self._steps_left if self._paused else 0) + int(n)
            self._paused = True
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop after the current step; `run()` returns with status `stopped`."""
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
        """Train until done, stopped, diverged or failed, honouring pause/resume/step/stop.

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
        if self.status in TERMINAL:
            return self.status
        while True:
            with self._cond:
                while True:
                    if self._stop:
                        self._finish(Status.STOPPED, "stopped")
                        return self.status
                    if not self._paused:
                        if self.status != Status.RUNNING:
                            self._set_status(Status.RUNNING)
                        delay = self._throttle()
                        if delay > 0:  # slowed down to be watched: wait, still responsive
                            self._cond.wait(min(delay, 0.25))
                            continue
                        break
                    if self._steps_left > 0:
                        self._steps_left -= 1
                        break
                    if self.status != Status.PAUSED:
                        self._set_status(Status.PAUSED)
                    self._cond.wait(0.25)
                    if should_continue is not None and not should_continue():
                        self._stop = True
            if should_continue is not None and not should_continue():
                with self._cond:
                    self._stop = True
                continue
            points = self._guarded_step()
            if points and on_points is not None:
                on_points(points)
            if self.status in TERMINAL:
                return self.status

    # ---- observation ----------------------------------------------------------------------

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
        if not _is_int(grid) or not 2 <= grid <= 256:
            raise ValueError(f"grid must be an integer in [2, 256], got {grid!r}")
        xs = np.concatenate([self._x["train"].reshape(-1, 2), self._x["test"].reshape(-1, 2)])
        lo, hi = xs.min(axis=0), xs.max(axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-6)
        lo, hi = lo - pad, hi + pad
        g0 = np.linspace(lo[0], hi[0], grid)
        g1 = np.linspace(lo[1], hi[1], grid)
        mesh = np.stack(np.meshgrid(g0, g1), axis=-1).reshape(-1, 2)
        out = self.predict(mesh)
        if self.dataset.task == "classification":
            z = self._predict(out).reshape(grid, grid).tolist()
            kind = "class"
        else:
            z = np.round(out.reshape(grid * grid, -1)[:, 0], 5).reshape(grid, grid).tolist()
            kind = "value"
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
        return {
            "x0": np.round(g0, 5).tolist(),
            "x1": np.round(g1, 5).tolist(),
            "z": z,
            "kind": kind,
            "points": pts,
        }

    def _curve(self, grid: int) -> dict[str, Any]:
        if not _is_int(grid) or not 2 <= grid <= 256:
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

    def state(self) -> dict[str, dict[str, list]]:
        """Trained parameters as nested lists, for a graph document's "state"."""
        with self._lock:
            out: dict[str, dict[str, list]] = {}
            for (nid, name), arr in zip(self.param_keys, self._params, strict=True):
                out.setdefault(nid, {})[name] = arr.astype(np.float64).tolist()
            return out

    # ---- checkpoints ----------------------------------------------------------------------

    def save_checkpoint(self) -> bytes:
        """Parameters, optimiser state, counters, live settings and generator states as an
        .npz (no pickle: `np.load(allow_pickle=False)` reads it)."""
        with self._lock:
            meta = {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "config": self.config.to_dict(),
                "step": self.step_count,
                "epoch": self.epoch,
                "pos": self._pos,
                "epoch_loss": self._epoch_loss,
                "settings": {**self.settings, **self._pending},
                "shuffle_rng": self._shuffle_rng.bit_generator.state,
                "dropout_rng": self._dropout_rng.bit_generator.state,
                "params": [f"{nid}/{name}" for nid, name in self.param_keys],
                "status": self.status.value,
            }
            arrays: dict[str, np.ndarray] = {
                "meta": np.array(json.dumps(meta)),
                "perm": self._perm,
            }
            for (nid, name), arr in zip(self.param_keys, self._params, strict=True):
                arrays[f"param/{nid}/{name}"] = arr
            for k, v in self.optimizer.state_dict().items():
                arrays[f"optim/{k}"] = v
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            return buf.getvalue()

    @classmethod
    def from_checkpoint(
        cls,
        doc: dict,
        dataset: Dataset,
        config: TrainConfig | dict | None,
        data: bytes,
    ) -> Trainer:
        """A trainer that continues a checkpointed run exactly (same steps, same losses).
        `config` may differ from the saved one only in how long to train (epochs,
        max_steps); the live settings saved in the checkpoint (lr, l1, ...) are restored."""
        try:
            npz = np.load(io.BytesIO(data), allow_pickle=False)
            arrays = {k: npz[k] for k in npz.files}
            meta = json.loads(str(arrays.pop("meta")))
        except Exception as e:
            raise ValueError(f"not a Blockprop checkpoint: {e}") from None
        if meta.get("format") != CHECKPOINT_FORMAT or meta.get("version") != CHECKPOINT_VERSION:
            raise ValueError("not a Blockprop checkpoint (or an unsupported version)")
        if not isinstance(config, TrainConfig):
            config = TrainConfig.from_dict(config)
        saved = meta["config"]
        for key in ("optimizer", "batch_size", "seed", "dtype", "shuffle"):
            if saved.get(key) != getattr(config, key):
                raise ValueError(
                    f"the checkpoint was made with {key}={saved.get(key)!r}, not "
                    f"{getattr(config, key)!r}: resuming exactly needs the same value"
                )
        state: dict[str, dict[str, np.ndarray]] = {}
        for key in meta["params"]:
            nid, name = key.split("/", 1)
            state.setdefault(nid, {})[name] = arrays[f"param/{key}"]
        t = cls(doc, dataset, config, state=state)
        if [f"{nid}/{name}" for nid, name in t.param_keys] != meta["params"]:
            raise ValueError("the checkpoint's parameters do not match this graph")
        if t.dataset.n_train != len(arrays["perm"]):
            raise ValueError("the checkpoint was made with a different training set size")
        for p, key in zip(t._params, meta["params"], strict=True):
            np.copyto(p, arrays[f"param/{key}"])
            # copyto casts if the dtype differs
        for keep, p in t._backup_pairs:
            np.copyto(keep, p)
        t.optimizer.load_state_dict(
            {k[len("optim/") :]: v for k, v in arrays.items() if k.startswith("optim/")}
        )
        t.step_count = int(meta["step"])
        t.epoch = int(meta["epoch"])
        t._pos = int(meta["pos"])
        t._epoch_loss = float(meta["epoch_loss"])
        t._perm[...] = arrays["perm"]
        t.settings.update(meta["settings"])
        t.optimizer.momentum = t.settings["momentum"]
        t._shuffle_rng.bit_generator.state = meta["shuffle_rng"]
        t._dropout_rng.bit_generator.state = meta["dropout_rng"]
        return t
