"""Compile a validated graph once into a :class:`Plan`, then run it many times.

Compiling resolves everything that does not change between steps: the topological order,
every buffer (values, gradients, scratch; preallocated for the batch size), and for each
node a ready-to-call forward step and a list of backward steps whose arguments are already
bound (:mod:`blockprop.engine.registry` explains the binding by name). Running a step is
then a flat loop over those calls: no dict lookups, no recursion, no allocation beyond what
NumPy does inside a rule.

>>> import numpy as np
>>> from blockprop.engine import compile_graph
>>> doc = {"version": 1, "nodes": [
...     {"id": "x", "op": "input", "params": {"shape": [2]}},
...     {"id": "y", "op": "target", "params": {"shape": [1]}},
...     {"id": "l", "op": "linear", "params": {"out_features": 1}, "inputs": {"x": "x"}},
...     {"id": "c", "op": "squared_error", "inputs": {"y": "l", "target": "y"}}]}
>>> plan = compile_graph(doc, batch_size=4)
>>> loss = plan.forward({"x": np.ones((4, 2)), "y": np.zeros((4, 1))})
>>> plan.backward()
>>> sorted(plan.param_grads["l"])
['W', 'b']
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from .buffers import pack
from .graph import Analysis, GraphError, Issue, Node, analyse, paused_gc
from .registry import initialise

#: which gradients backward computes (and ``Plan.grads`` holds)
GRAD_MODES = ("params", "nodes", "all")


class _Context:
    """What a stochastic forward reads at run time (training flag, random generator)."""

    __slots__ = ("training", "rng")

    def __init__(self, rng):
        self.training = False
        self.rng = rng


def _post_write(dest, r):
    if r is None:
        dest.fill(0)
    else:
        np.copyto(dest, r)


def _post_add(dest, r):
    if r is not None:
        np.add(dest, r, out=dest)


# Broadcasting is undone here, and only here: a broadcasting op's VJP returns a gradient
# shaped like its output; these sum it over the axes where the input had size 1.


def _unbroadcast_write(axes, dest, r):
    if r is None:
        dest.fill(0)
    else:
        np.sum(r, axis=axes, keepdims=True, out=dest)


def _unbroadcast_add(axes, dest, r):
    if r is not None:
        np.add(dest, np.sum(r, axis=axes, keepdims=True), out=dest)


def _bad_feed(message: str, node: str | None = None) -> GraphError:
    return GraphError([Issue("bad_feed", message, [node] if node else [], None)])


def _bad_state(message: str, node: str | None = None) -> GraphError:
    return GraphError([Issue("bad_state", message, [node] if node else [], None)])


def _shape(s) -> str:
    return "[" + ", ".join(map(str, s)) + "]"


class Plan:
    """A graph compiled for one batch size and dtype. Build it with :func:`compile_graph`.

    Attributes: ``order`` (node ids, topological), ``shapes`` (per-sample shape per value
    key), ``batch_size``, ``dtype``, ``input_ids`` / ``target_ids`` (what must be fed),
    ``cost_ids``, ``params`` (node -> name -> live trainable array; optimisers update them
    in place; all are views of one flat buffer, see :mod:`.buffers`), ``param_grads`` (same
    layout, filled by :meth:`backward`), ``buffers`` (node -> name -> non-trainable state
    such as batch norm's running statistics: updated by a training forward, never by an
    optimiser; :meth:`state_arrays` gives both with the parameters), ``values`` and
    ``grads`` (value key -> array with the batch axis; ``"node"`` or ``"node:port"``).

    The arrays in ``values`` and ``grads`` are reused by every step: copy them to keep them.
    """

    def __init__(
        self,
        an: Analysis,
        batch_size: int,
        dtype: np.dtype,
        *,
        seed: int,
        params: dict,
        param_grads: dict,
        grads: str,
        family: dict | None = None,
        buffers: dict | None = None,
    ):
        self._an = an
        self._nodes: list[Node] = an.nodes
        self.batch_size = B = int(batch_size)
        self.dtype = dtype
        self.seed = seed
        self.grads_mode = grads
        self.order: list[str] = [n.id for n in an.nodes]
        self.shapes: dict[str, list[int]] = dict(an.result.shapes)
        self.params = params
        self.param_grads = param_grads
        self.buffers: dict[str, dict[str, np.ndarray]] = buffers if buffers is not None else {}
        self._family = family if family is not None else {}
        self._family.setdefault(B, self)
        self._rng = np.random.default_rng(seed)
        self._ones = np.ones(B, dtype)
        self._ones.flags.writeable = False
        self._ctx = _Context(self._rng)
        self.input_ids = [n.id for n in an.nodes if n.op.source == "input"]
        self.target_ids = [n.id for n in an.nodes if n.op.source == "target"]
        self.cost_ids = [n.id for n in an.nodes if n.op.category == "cost"]
        with paused_gc():
            self._build_values()
            self._build_grads()
            self._build_forward()
            self._build_backward()

    # ------------------------------------------------------------------ compile

    def _build_values(self) -> None:
        B, dt = self.batch_size, self.dtype
        values: dict[str, np.ndarray] = {}
        self._scratch: dict[str, dict[str, np.ndarray]] = {}
        for node in self._nodes:
            for k, s, d in zip(node.keys, node.shapes, node.dtypes, strict=True):
                values[k] = np.zeros((B, *s), dtype=np.int64 if d == "int" else dt)
            self._scratch[node.id] = {n: np.zeros((B, *s), dt) for n, s in node.scratch.items()}
        self.values = values
        self._feed_slots = [
            (n.id, values[n.id], n.dtypes[0] == "float")
            for n in self._nodes
            if n.op.source in ("input", "target")
        ]
        self._feeds = [
            (n.id, n.op.source, values[n.id], n.dtypes[0] == "int")
            for n in self._nodes
            if n.op.source in ("input", "target")
        ]
        self._cost_bufs = [values[n.keys[0]] for n in self._nodes if n.op.category == "cost"]

    def _env(self, node: Node, align: bool) -> dict:
        """Names a rule of ``node`` can bind (inputs aligned for broadcasting ops)."""
        env: dict[str, Any] = dict(node.params)
        env.update(self.params.get(node.owner, {}))  # a tied node reads its owner's
        env.update(self.buffers.get(node.owner, {}))  # and shares its running statistics
        for t in node.op.trainables:  # absent optional trainables bind as None
            env.setdefault(t.name, None)
        env.update(self._scratch.get(node.id, {}))
        env["batch"], env["float_dtype"], env["ones"] = self.batch_size, self.dtype, self._ones
        env["training"], env["rng"] = False, None  # stochastic steps read the run context
        for port, key in node.sources.items():
            env[port] = self._aligned(self.values[key], node, key) if align else self.values[key]
        return env

    def _rank(self, node: Node) -> int:
        return max([len(s) for s in node.in_shapes.values()] + [len(node.shapes[0])])

    def _aligned(self, arr: np.ndarray, node: Node, key: str) -> np.ndarray:
        """View ``arr`` with unit axes after the batch axis so per-sample shapes line up."""
        missing = self._rank(node) - (arr.ndim - 1)
        return arr[(slice(None),) + (None,) * missing] if missing > 0 else arr

    def _build_grads(self) -> None:
        """Decide which gradients exist and which backward computes, per value key."""
        mode = self.grads_mode
        nodes = self._nodes
        is_float = {k: d == "float" for n in nodes for k, d in zip(n.keys, n.dtypes, strict=True)}
        carries: dict[str, bool] = {}  # depends on a trainable through differentiable edges
        for n in nodes:
            c = bool(n.trainables) or any(
                carries[s] for p, s in n.sources.items() if n.op.vjp_rule(p) is not None
            )
            for k in n.keys:
                carries[k] = c and is_float[k]
        reaches = dict.fromkeys(is_float, False)  # a cost depends on it differentiably
        for n in reversed(nodes):
            if n.op.category == "cost":
                reaches[n.keys[0]] = True
            if any(reaches[k] for k in n.keys):
                for p, s in n.sources.items():
                    if n.op.vjp_rule(p) is not None and is_float[s]:
                        reaches[s] = True

        def included(n: Node, k: str) -> bool:
            if not is_float[k]:
                return False
            if mode == "all":
                return True
            if mode == "nodes":
                return bool(n.op.inputs or n.trainables)
            return carries[k]

        B, dt = self.batch_size, self.dtype
        self.grads: dict[str, np.ndarray] = {}
        self._computed: dict[str, bool] = {}
        for n in nodes:
            for k, s in zip(n.keys, n.shapes, strict=True):
                inc = included(n, k)
                self._computed[k] = inc and reaches[k]
                if inc:
                    self.grads[k] = np.zeros((B, *s), dt)

    def _build_forward(self) -> None:
        steps: list = []
        self._step_at: dict[str, int] = {}
        self._envs: dict[str, dict] = {}  # reused by _build_backward, then dropped
        self._stochastic = False
        for node in self._nodes:
            self._step_at[node.id] = len(steps)
            if node.op.source in ("input", "target"):
                continue  # fed
            env = self._envs[node.id] = self._env(node, node.op.broadcast)
            out = [self.values[k] for k in node.keys]
            env["out"] = tuple(out) if node.op.multi_output else out[0]
            rule = node.op.rules["forward"]
            args = rule.args(env)
            if "training" in rule.names or "rng" in rule.names:
                self._stochastic = True
                steps.append(self._stochastic_step(rule, args))
            elif node.op.source == "static":
                # Static values are filled once, here; a static node reading trainables
                # (an explicit parameter) is refilled every pass, as training changes them.
                rule.fn(*args)
                if node.trainables:
                    steps.append(partial(rule.fn, *args))
            else:
                steps.append(partial(rule.fn, *args))
        self._fsteps = steps

    def _bound(self, rule, env):
        """A rule with its arguments bound, as a call without arguments. A rule naming
        ``training`` (or ``rng``) reads the run context at call time instead."""
        args = rule.args(env)
        if "training" in rule.names or "rng" in rule.names:
            return self._stochastic_step(rule, args)
        return partial(rule.fn, *args)

    def _stochastic_step(self, rule, args):
        ctx, fn, names = self._ctx, rule.fn, rule.names
        it = names.index("training") if "training" in names else None
        ir = names.index("rng") if "rng" in names else None

        def step():
            if it is not None:
                args[it] = ctx.training
            if ir is not None:
                args[ir] = ctx.rng
            return fn(*args)

        return step

    def _build_backward(self) -> None:
        B, dt = self.batch_size, self.dtype
        computed, grads, values = self._computed, self.grads, self.values
        pool: dict[tuple, np.ndarray] = {}

        def scratch(shape):  # shared temporaries: each is consumed right after its rule
            buf = pool.get(shape)
            if buf is None:
                buf = pool[shape] = np.zeros(shape, dt)
            return buf

        # consumers that will send a gradient to each key
        senders: dict[str, int] = {}
        for n in self._nodes:
            if not any(computed[k] for k in n.keys):
                continue
            for p, s in n.sources.items():
                if computed[s] and n.op.vjp_rule(p) is not None:
                    senders[s] = senders.get(s, 0) + 1
        self._seeds = []
        written: set[str] = set()
        for n in self._nodes:  # each cost starts with dL/dC = 1/B per sample
            k = n.keys[0]
            if n.op.category == "cost" and computed[k]:
                grads[k].fill(1.0 / B)
                if senders.get(k):
                    self._seeds.append(grads[k])
                written.add(k)

        steps: list = []
        param_written: set[int] = set()  # tied nodes add into their owner's gradient
        for node in reversed(self._nodes):
            if not any(computed[k] for k in node.keys):
                continue
            op = node.op
            env = self._envs.get(node.id) or self._env(node, op.broadcast)
            g = [grads[k] if k in grads else np.zeros_like(values[k]) for k in node.keys]
            env["g"] = tuple(g) if op.multi_output else g[0]
            env["ans"] = (
                tuple(values[k] for k in node.keys) if op.multi_output else values[node.keys[0]]
            )
            for name, dest in self.param_grads.get(node.owner, {}).items():
                rule = op.vjp_rule(name)
                if id(dest) in param_written:
                    env["out"] = scratch(dest.shape)
                    steps.append((partial(rule.fn, *rule.args(env)), dest, _post_add))
                    continue
                param_written.add(id(dest))
                env["out"] = dest
                steps.append((self._bound(rule, env), dest, _post_write))
            for port in op.inputs:
                s = node.sources[port.name]
                rule = op.vjp_rule(port.name)
                if rule is None or not computed[s]:
                    continue
                dest = self._aligned(grads[s], node, s) if op.broadcast else grads[s]
                full = (B, *node.shapes[0])
                first = s not in written
                written.add(s)
                if op.broadcast and dest.shape != full:
                    axes = tuple(
                        i
                        for i, (m, n) in enumerate(zip(full, dest.shape, strict=True))
                        if n == 1 != m
                    )
                    env["out"] = scratch(full)
                    post = partial(_unbroadcast_write if first else _unbroadcast_add, axes)
                elif first:
                    env["out"], post = dest, _post_write
                else:
                    env["out"], post = scratch(dest.shape), _post_add
                steps.append((self._bound(rule, env), dest, post))
        # keys nobody writes keep their zeros (they do not reach a cost)
        self._bsteps = steps
        del self._envs

    # ------------------------------------------------------------------ run

    def _feed(self, feeds: Mapping[str, Any]) -> None:
        """Copy the fed arrays into the input buffers, checking them on the way."""
        try:
            for nid, buf, is_float in self._feed_slots:
                a = feeds[nid]
                if a is buf:  # the batch was written straight into values[nid]: no copy
                    continue
                # fast path: a float array of the right shape (the usual training step)
                if (
                    is_float
                    and a.__class__ is np.ndarray
                    and a.shape == buf.shape
                    and a.dtype.kind == "f"
                ):
                    buf[...] = a
                else:
                    self._feed_one(nid, a)
        except (KeyError, TypeError):  # not a mapping, or an entry is missing
            if not isinstance(feeds, Mapping):
                raise _bad_feed("feeds must map input and target ids to arrays") from None
            for nid, role, _, _ in self._feeds:
                if nid not in feeds:
                    raise _bad_feed(f"no value fed for {role} '{nid}'", nid) from None
            raise
        if len(feeds) != len(self._feeds):
            known = {f[0] for f in self._feeds}
            extra = sorted(str(k) for k in feeds if k not in known)
            which = "is not an input or target" if len(extra) == 1 else "are not inputs or targets"
            raise _bad_feed(
                f"fed {', '.join(map(repr, extra))}, which {which} of this graph", extra[0]
            )

    def _feed_one(self, nid: str, a: Any) -> None:
        _, role, buf, is_int = next(f for f in self._feeds if f[0] == nid)
        if a.__class__ is not np.ndarray:
            try:
                a = np.asarray(a)
            except (TypeError, ValueError) as e:
                raise _bad_feed(f"{role} '{nid}': cannot read the array ({e})", nid) from None
        if a.shape != buf.shape:
            if a.ndim == 0 or a.shape[0] != buf.shape[0]:
                lead = "nothing" if a.ndim == 0 else str(a.shape[0])
                raise _bad_feed(
                    f"{role} '{nid}' was fed an array of shape {_shape(a.shape)}; "
                    f"its leading (batch) axis must be {self.batch_size}, got "
                    f"{lead}",
                    nid,
                )
            raise _bad_feed(
                f"{role} '{nid}' expects shape {_shape(buf.shape)} (batch "
                f"{self.batch_size} × per-sample {_shape(buf.shape[1:])}); got "
                f"{_shape(a.shape)}",
                nid,
            )
        if is_int:
            integral = a.dtype.kind in "iub" or (
                a.dtype.kind == "f" and np.array_equal(a, np.round(a))
            )
            if not integral:
                raise _bad_feed(f"{role} '{nid}' holds class labels; got {a.dtype}", nid)
            if a.size and a.min() < 0:
                raise _bad_feed(f"{role} '{nid}': class labels must be ≥ 0", nid)
        elif a.dtype.kind not in "fiub":
            raise _bad_feed(f"{role} '{nid}' expects numbers; got {a.dtype}", nid)
        np.copyto(buf, a, casting="unsafe")

    def forward(
        self,
        feeds: Mapping[str, Any],
        *,
        training: bool = False,
        rng: np.random.Generator | None = None,
    ) -> float:
        """Run every node on a batch; return the loss (mean over the batch of the sum of
        all costs; 0.0 without costs). ``feeds`` maps each id in ``input_ids`` and
        ``target_ids`` to an array whose leading axis is ``batch_size``; it is copied into
        ``values[id]`` unless it *is* ``values[id]`` (write a batch there, e.g. with
        ``np.take(X, idx, axis=0, out=plan.values["x"])``, to skip the copy and the checks).
        ``training``
        switches dropout on, drawing from ``rng`` (the plan's own seeded generator by
        default), and makes batch norm use (and update) batch statistics. Non-finite losses
        are returned, not raised."""
        self._feed(feeds)
        ctx = self._ctx
        ctx.training = training  # also read by backward (batch statistics) and buffers
        if self._stochastic:
            ctx.rng = self._rng if rng is None else rng
        try:
            for step in self._fsteps:
                step()
        except IndexError as e:
            raise _bad_feed(
                f"a class label or an id is out of range for the scores or the table it "
                f"indexes ({e})"
            ) from None
        ones, total = self._ones, 0.0
        for c in self._cost_bufs:
            total += float(np.dot(c, ones))
        return total / self.batch_size

    def _loss(self) -> float:
        ones = self._ones
        total = 0.0
        for c in self._cost_bufs:
            total += float(np.dot(c, ones))
        return total / self.batch_size

    def _forward_from(self, start: int, rng: np.random.Generator | None = None) -> float:
        """Rerun forward from a step index without refeeding (used by gradcheck), in the
        mode of the last :meth:`forward`; stochastic steps draw from ``rng`` if given."""
        if rng is not None:
            self._ctx.rng = rng
        for step in self._fsteps[start:]:
            step()
        return self._loss()

    def backward(self) -> None:
        """Fill ``grads`` (dL/dz for each value, L the batch-mean loss) and ``param_grads``
        from the values of the last :meth:`forward`. Gradients meeting at a fan-out are
        summed; broadcasting is undone."""
        for buf in self._seeds:
            buf.fill(1.0 / self.batch_size)
        for call, dest, post in self._bsteps:
            r = call()
            if r is not dest:
                post(dest, r)

    # ------------------------------------------------------------------ helpers

    def clone(self, batch_size: int | None = None, *, grads: str | None = None) -> Plan:
        """A new plan (not cached) sharing ``params`` and ``param_grads`` but with buffers
        of its own: e.g. for evaluating without overwriting the last training step's
        values. ``grads`` defaults to this plan's mode."""
        n = self.batch_size if batch_size is None else batch_size
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"batch size must be a positive integer, got {n!r}")
        mode = self.grads_mode if grads is None else grads
        if mode not in GRAD_MODES:
            raise ValueError(f"grads must be one of {GRAD_MODES}, got {mode!r}")
        return Plan(
            self._an,
            int(n),
            self.dtype,
            seed=self.seed,
            params=self.params,
            param_grads=self.param_grads,
            grads=mode,
            family={},
            buffers=self.buffers,
        )

    def for_batch(self, n: int) -> Plan:
        """A plan for batch size ``n`` sharing this plan's ``params`` and ``param_grads``
        (cached: asking twice returns the same plan)."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"batch size must be a positive integer, got {n!r}")
        plan = self._family.get(int(n))
        if plan is None:
            plan = Plan(
                self._an,
                int(n),
                self.dtype,
                seed=self.seed,
                params=self.params,
                param_grads=self.param_grads,
                grads=self.grads_mode,
                family=self._family,
                buffers=self.buffers,
            )
        return plan

    def state_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        """The live trainable parameters and buffers (running statistics) by node and name:
        what a graph's ``state`` holds."""
        out = {nid: dict(p) for nid, p in self.params.items()}
        for nid, b in self.buffers.items():
            out.setdefault(nid, {}).update(b)
        return out

    def state_dict(self) -> dict[str, dict[str, list]]:
        """Trained parameters and buffers as nested lists: ``{node: {name: [...]}}``."""
        return {
            nid: {name: a.tolist() for name, a in p.items()}
            for nid, p in self.state_arrays().items()
        }

    def load_state(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        """Copy parameters in (shapes are checked first; raises ``GraphError`` bad_state)."""
        if not isinstance(state, Mapping):
            raise _bad_state("state must map node ids to {parameter: values}")
        staged = []
        owned = self.state_arrays()
        for nid, entries in state.items():
            if nid not in owned:
                owner = self.ties.get(nid)
                if owner is not None:
                    raise _bad_state(
                        f"state names '{nid}', which shares the parameters of '{owner}' "
                        f"(tie): give them as state['{owner}']",
                        nid,
                    )
                what = (
                    "no node"
                    if nid not in self._an.by_key and nid not in self.order
                    else "a node without trainable parameters"
                )
                raise _bad_state(f"state names '{nid}', but the graph has {what} '{nid}'", nid)
            if not isinstance(entries, Mapping):
                raise _bad_state(f"state for '{nid}' must map parameter names to values", nid)
            for name, value in entries.items():
                live = owned[nid].get(name)
                if live is None:
                    has = ", ".join(owned[nid])
                    raise _bad_state(f"node '{nid}' has no parameter '{name}' (it has {has})", nid)
                try:
                    arr = np.asarray(value, dtype=np.float64)
                except (TypeError, ValueError):
                    raise _bad_state(
                        f"state '{nid}.{name}' is not a regular array of numbers", nid
                    ) from None
                if arr.shape != live.shape:
                    raise _bad_state(
                        f"state '{nid}.{name}' has shape {_shape(arr.shape)}; "
                        f"the graph needs {_shape(live.shape)}",
                        nid,
                    )
                if not np.all(np.isfinite(arr)):
                    raise _bad_state(f"state '{nid}.{name}' holds non-finite numbers", nid)
                staged.append((live, arr))
        for live, arr in staged:
            np.copyto(live, arr, casting="unsafe")

    def first_nonfinite(self) -> str | None:
        """The first node (topological order) whose value, gradient or parameter holds a
        NaN or infinity; ``None`` if all are finite. For divergence reports."""
        for node in self._nodes:
            arrays = [self.values[k] for k in node.keys]
            arrays += [self.grads[k] for k in node.keys if k in self.grads]
            arrays += list(self.params.get(node.id, {}).values())
            arrays += list(self.buffers.get(node.id, {}).values())
            arrays += list(self.param_grads.get(node.id, {}).values())
            for a in arrays:
                if a.dtype.kind == "f" and not np.isfinite(a).all():
                    return node.id
        return None

    def node(self, node_id: str) -> Node:
        """The checked node ``node_id`` (op, sources, output keys and shapes); ``KeyError``
        when the graph has none."""
        for n in self._nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def rule_env(self, node_id: str, repeat: int = 1) -> dict:
        """What a rule of node ``node_id`` binds, from the last :meth:`forward`: its inputs
        (aligned for broadcasting ops), params, trainables, scratch, ``ans`` and ``out=None``
        (a rule then allocates). With ``repeat``, every per-sample array is repeated that many
        times along the batch axis (a batch of copies of the first sample: the Jacobian feeds
        it one basis vector per row). Copies: changing them leaves the plan alone."""
        node = self.node(node_id)
        env = self._env(node, node.op.broadcast)
        batched = {p for p in node.sources} | set(self._scratch.get(node_id, {}))
        ans = [self.values[k] for k in node.keys]
        env["ans"] = tuple(ans) if node.op.multi_output else ans[0]

        def rows(a):
            return np.repeat(a[:1], repeat, axis=0) if repeat != 1 else a[:1].copy()

        for name in batched:
            env[name] = rows(env[name])
        env["ans"] = tuple(map(rows, ans)) if node.op.multi_output else rows(ans[0])
        env["batch"], env["out"] = repeat, None
        env["ones"] = np.ones(repeat, self.dtype)
        return env

    @property
    def ties(self) -> dict[str, str]:
        """Tied nodes (of instances with ``tie``) -> the node whose parameters they use."""
        return {n.id: n.owner for n in self._nodes if n.owner != n.id and n.trainables}

    @property
    def instances(self) -> dict:
        """Module instances by flat id (:class:`~blockprop.engine.modules.Instance`)."""
        return self._an.instances

    @property
    def num_params(self) -> int:
        """Number of trainable scalars."""
        return sum(a.size for p in self.params.values() for a in p.values())

    def __repr__(self) -> str:
        return (
            f"<Plan {len(self.order)} nodes, batch {self.batch_size}, {self.dtype.name}, "
            f"{self.num_params} trainable values, costs: {', '.join(self.cost_ids) or 'none'}>"
        )


def _init_params(an: Analysis, seed: int, dtype: np.dtype) -> tuple[dict, dict]:
    """The trainable parameters and their gradients, initialised from ``seed``. Both are
    packed (:mod:`.buffers`) in the same layout, in topological order: an optimiser updates
    them all, and a trainer takes their norm or a copy, in one call over the flat buffer."""
    owners = [n for n in an.nodes if n.owner == n.id]  # tied nodes use their owner's
    keys = [
        (n.id, name, init, n.fan_in.get(name))
        for n in owners
        for name, (_, init) in n.trainables.items()
    ]
    shapes = [tuple(s) for n in owners for s, _ in n.trainables.values()]
    _, pviews = pack(shapes, dtype)
    _, gviews = pack(shapes, dtype)
    params: dict[str, dict[str, np.ndarray]] = {}
    grads: dict[str, dict[str, np.ndarray]] = {}
    for (nid, name, init, fan_in), p, g in zip(keys, pviews, gviews, strict=True):
        values = initialise(init, p.shape, seed=seed, node=nid, name=name, fan_in=fan_in)
        p[...] = values.astype(dtype)
        params.setdefault(nid, {})[name] = p
        grads.setdefault(nid, {})[name] = g
    return params, grads


def _init_buffers(an: Analysis, dtype: np.dtype) -> dict:
    """Non-trainable state (running statistics), each filled with its starting value."""
    return {  # tied nodes share their owner's (as a reused nn.Module does)
        n.id: {name: np.full(shape, fill, dtype) for name, (shape, fill) in n.buffers.items()}
        for n in an.nodes
        if n.buffers and n.owner == n.id
    }


def compile_graph(
    doc: Mapping,
    batch_size: int,
    *,
    dtype=np.float32,
    seed: int = 0,
    state: Mapping | None = None,
    max_bytes: int | None = None,
    grads: str = "nodes",
) -> Plan:
    """Validate ``doc`` and compile it into a :class:`Plan` for ``batch_size``.

    ``dtype`` is float32 (default) or float64. Parameters are initialised from ``seed``
    (per node and parameter), buffers to their fill value, then both overwritten by
    ``state`` (or the document's ``state``).
    ``max_bytes`` refuses graphs whose buffers would exceed it (``too_large``).

    ``grads`` chooses what :meth:`Plan.backward` computes besides parameter gradients:
    ``"nodes"`` (default) dL/dz for every node except data (inputs, targets, constants);
    ``"all"`` also for the data; ``"params"`` only what the parameter gradients need.

    Raises :class:`GraphError` listing every issue if the graph is invalid.
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    if (
        not isinstance(batch_size, (int, np.integer))
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if grads not in GRAD_MODES:
        raise ValueError(f"grads must be one of {GRAD_MODES}, got {grads!r}")
    with paused_gc():
        an = analyse(doc, max_bytes=max_bytes, batch_size=int(batch_size), itemsize=dt.itemsize)
        if not an.result.ok:
            raise GraphError(an.result.errors)
        params, param_grads = _init_params(an, seed, dt)
        plan = Plan(
            an,
            int(batch_size),
            dt,
            seed=seed,
            params=params,
            param_grads=param_grads,
            grads=grads,
            buffers=_init_buffers(an, dt),
        )
    if state is None and isinstance(doc, Mapping):
        state = doc.get("state") or None
    if state:
        plan.load_state(state)
    return plan


def eager(
    op,
    inputs: Mapping[str, np.ndarray],
    params: Mapping | None = None,
    trainables: Mapping | None = None,
    *,
    training: bool = False,
    rng=None,
    batch: int | None = None,
):
    """Run one op's forward rule directly on batched arrays (``out=None``: it allocates).
    ``trainables`` may also hold the op's buffers (else they start at their fill value).

    Returns ``(outputs, scratch)``. For tests and the REPL; plans never call this.
    """
    from .registry import get

    op = get(op) if isinstance(op, str) else op
    p = {q.name: q.default for q in op.params}
    p.update(params or {})
    shapes = {k: tuple(np.shape(v)[1:]) for k, v in inputs.items()}
    if batch is None:
        batch = next(iter(inputs.values())).shape[0] if inputs else 1
    env: dict[str, Any] = {**p, **shapes}
    floats = [v for v in inputs.values() if np.asarray(v).dtype.kind == "f"]
    dt = np.result_type(*floats) if floats else np.dtype(np.float64)
    scratch = {n: np.zeros((batch, *op.rules[f"scratch:{n}"](env)), dt) for n in op.scratch}
    buffers = {  # fresh state (running statistics) unless ``trainables`` holds it
        b.name: np.full(op.rules[f"buffer:{b.name}"](env), b.fill, dt) for b in op.buffers
    }
    if op.broadcast:  # line up per-sample ranks after the batch axis, as plans do
        rank = max(np.ndim(v) for v in inputs.values())
        inputs = {
            k: np.asarray(v)[(slice(None),) + (None,) * (rank - np.ndim(v))]
            for k, v in inputs.items()
        }
    env = {
        **p,
        **buffers,
        **(trainables or {}),
        **scratch,
        **inputs,
        "out": None,
        "training": training,
        "rng": rng,
        "batch": batch,
        "float_dtype": dt,
        "ones": np.ones(batch, dt),
    }
    for t in op.trainables:
        env.setdefault(t.name, None)
    out = op.rules["forward"](env)
    return out, scratch


__all__ = ["GRAD_MODES", "Plan", "compile_graph", "eager"]
