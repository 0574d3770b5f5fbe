"""The `Trainer`: a graph compiled for a dataset and a config, its parameters, optimiser,
counters and generators. What it does is split by concern into the mixins it is made of:
`Feeds` (the dataset onto the graph), `Steps` (one optimisation step), `Control` (run, pause,
resume, stop, live settings), `Evaluation`, `Snapshots` and `Checkpoints`."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from blockprop.engine import registry
from blockprop.engine.data import Dataset
from blockprop.engine.executor import Plan, compile_graph
from blockprop.engine.graph import GraphError
from blockprop.engine.modules import flatten
from blockprop.engine.optim import make_optimizer
from blockprop.engine.schedules import Schedule
from blockprop.engine.trainer.checkpoints import Checkpoints
from blockprop.engine.trainer.config import LIVE_SETTINGS, Status, TrainConfig
from blockprop.engine.trainer.control import Control
from blockprop.engine.trainer.evaluation import Evaluation
from blockprop.engine.trainer.feeds import Feeds, bad_feed
from blockprop.engine.trainer.snapshots import Snapshots
from blockprop.engine.trainer.steps import Steps, flat_views, is_weight


class Trainer(Feeds, Steps, Control, Evaluation, Snapshots, Checkpoints):
    """Train a graph document on a dataset. See the package docstring
    (`blockprop.engine.trainer`)."""

    def __init__(
        self,
        doc: dict,
        dataset: Dataset,
        config: TrainConfig | dict | None = None,
        state: dict | None = None,
        *,
        hold_on_divergence: bool = False,
    ) -> None:
        if not isinstance(config, TrainConfig):
            config = TrainConfig.from_dict(config)
        self.config = cfg = config
        self.dataset = dataset
        self.doc = self._prepare_doc(doc, cfg)
        self.dtype = np.dtype(cfg.dtype)
        n = dataset.n_train
        if n < 1:
            raise bad_feed(f"dataset '{dataset.name}' has no training samples", [])
        self.batch_size = n if cfg.batch_size is None else min(cfg.batch_size, n)
        self.full_batch = self.batch_size == n
        self.plan: Plan = compile_graph(
            self.doc, self.batch_size, dtype=self.dtype, seed=cfg.seed, state=state
        )
        self._plans: dict[int, Plan] = {self.batch_size: self.plan}
        self._eval_plans: dict[int, Plan] = {}
        self._nodes_by_id = {n["id"]: n for n in self.doc["nodes"]}
        self._boundary_frames: dict[int, tuple[dict[str, Any], np.ndarray]] = {}
        self._map_nodes()
        self._prepare_data()

        # trainable parameters, in topological order, as parallel lists
        self.param_keys: list[tuple[str, str]] = []
        self._params: list[np.ndarray] = []
        weights: list[int] = []
        for nid in self.plan.order:
            for name, arr in self.plan.params.get(nid, {}).items():
                if is_weight(registry.get(self._node(nid)["op"]), name):
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
        self._grads_full = self.optimizer.grads  # the same arrays: step() passes it back as is
        self._flat_full = flat_views(self._grads_full)
        # The state of the last finite step, put back when a step diverges: the parameters,
        # and for a trainer held on divergence (which continues from it) the optimiser's
        # state as well, so that its next update is the one a smaller lr would have made.
        self.hold_on_divergence = hold_on_divergence
        self.held = False  # diverged and held: waiting for resume, steps or stop
        # Packed parameters (and optimiser state) are kept with one copy each per step.
        live = flat_views(self._params)
        if hold_on_divergence:
            flat_state = self.optimizer.flat_state
            if flat_state is not None and len(live) == 1:
                live += list(flat_state.values())
            else:
                live += [a for arrs in self.optimizer.state.values() for a in arrs]
        # running statistics move with the parameters: a diverged step puts them back too
        live += [a for bufs in self.plan.buffers.values() for a in bufs.values()]
        self._backup_pairs = [(a.copy(), a) for a in live]
        self._backup_t = self.optimizer.t
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

    @staticmethod
    def _prepare_doc(doc: dict, cfg: TrainConfig) -> dict:
        """The document to compile: its modules expanded (nodes by flat id, ``b1/l``), with
        every dropout rate set to `cfg.dropout` when the config overrides it (the caller's
        document is left alone)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
            return doc  # compile_graph reports it
        doc = flatten(doc)
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

    def _grads_of(self, plan: Plan) -> list[np.ndarray]:
        return [plan.param_grads[nid][name] for nid, name in self.param_keys]

    def _plan_for(self, b: int) -> Plan:
        """The training plan for batches of b (the remainder batch of an epoch), sharing the
        parameters with `plan`."""
        plan = self._plans.get(b)
        if plan is None:
            plan = self._plans[b] = self.plan.for_batch(b)
        return plan
