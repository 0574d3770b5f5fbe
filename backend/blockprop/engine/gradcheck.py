"""Check backward against central finite differences, in float64.

For every value of every node (and every trainable parameter) the gradient computed by
:meth:`Plan.backward` is compared with ``(L(z + ε) − L(z − ε)) / 2ε``, perturbing one
element at a time and rerunning only the nodes after it.

>>> import numpy as np
>>> from blockprop.engine import gradcheck
>>> doc = {"version": 1, "nodes": [
...     {"id": "x", "op": "input", "params": {"shape": [3]}},
...     {"id": "h", "op": "tanh", "inputs": {"x": "x"}},
...     {"id": "y", "op": "target", "params": {"shape": [3]}},
...     {"id": "c", "op": "mse", "inputs": {"y": "h", "target": "y"}}]}
>>> feeds = {"x": np.ones((2, 3)), "y": np.zeros((2, 3))}
>>> max(gradcheck(doc, feeds).values()) < 1e-6
True
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

import numpy as np

from .executor import Plan, compile_graph

#: gradients smaller than FLOOR × max(1, |loss|) are compared in absolute terms, so that the
#: rounding noise of finite differences (which grows with the loss) around a true zero does
#: not read as a large relative error
FLOOR = 1e-4


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = FLOOR) -> float:
    """``max |a − n| / max(|a|, |n|, floor)`` over the elements (0.0 when empty)."""
    if analytic.size == 0:
        return 0.0
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return float(np.max(np.abs(analytic - numeric) / scale))


def _numeric(plan: Plan, arr: np.ndarray, start: int, eps: float, idx=None, replay=None):
    """Central differences for every element of ``arr`` (or the flat indices ``idx``).
    ``replay`` (training mode) makes a fresh generator for each pass: the same dropout
    masks every time."""

    def loss():
        return plan._forward_from(start, None if replay is None else replay(start))

    flat = arr.reshape(-1)  # a view: the plan's own buffer
    which = range(flat.size) if idx is None else idx
    num = np.empty(len(which))
    for j, i in enumerate(which):
        old = flat[i]
        flat[i] = old + eps
        up = loss()
        flat[i] = old - eps
        down = loss()
        flat[i] = old
        num[j] = (up - down) / (2 * eps)
    loss()
    return num.reshape(arr.shape) if idx is None else num


def _replay(plan: Plan, seed: int):
    """For a training-mode check: ``start -> a generator in the state the first forward's
    generator had at step start``, so a rerun from any step draws the same dropout masks."""
    rng = np.random.default_rng(seed)
    plan._ctx.rng = rng
    states = []
    for step in plan._fsteps:  # the same pass again, recording the generator before each step
        states.append(copy.deepcopy(rng.bit_generator.state))
        step()
    states.append(copy.deepcopy(rng.bit_generator.state))

    def at(start: int) -> np.random.Generator:
        g = np.random.default_rng()
        g.bit_generator.state = states[start]
        return g

    return at


def _pick(size: int, limit: int | None, rng: np.random.Generator):
    """All flat indices (``None``) or ``limit`` of them drawn without replacement, sorted."""
    if limit is None or size <= limit:
        return None
    return np.sort(rng.choice(size, limit, replace=False))


def checked_count(size: int, per_item: int | None) -> int:
    """How many elements of an item of ``size`` elements are perturbed."""
    return size if per_item is None else min(size, per_item)


def gradcheck(
    doc: Mapping,
    feeds: Mapping[str, np.ndarray],
    *,
    seed: int = 0,
    state: Mapping | None = None,
    eps: float = 1e-6,
    keys: Iterable[str] | None = None,
    per_item: int | None = None,
    training: bool = False,
) -> dict[str, float]:
    """Max relative error between backward and central differences, per item:
    ``max |a − n| / max(|a|, |n|, FLOOR · max(1, |loss|))`` over the item's elements.
    With ``per_item``, items with more elements are checked on that many of them, drawn at
    random (seeded by ``seed``): the usual way to check a large weight matrix.

    Items are value keys (``"node"`` or ``"node:port"``, for every float value including
    inputs and float targets) and trainable parameters (``"node.param"``). Values of
    parameter and constant nodes are shared by the batch and are checked through their
    parameter instead. ``keys`` restricts the check to some items. The graph is compiled
    in float64 for the batch size of ``feeds``. By default the forward is in evaluation
    mode; ``training=True`` checks the training-mode forward (batch norm on batch
    statistics; dropout with masks drawn from ``seed``, the same on every pass).
    """
    batch = next((np.shape(v)[0] for v in feeds.values() if np.ndim(v) > 0), 1)
    plan = compile_graph(doc, batch, dtype=np.float64, seed=seed, state=state, grads="all")
    loss = plan.forward(feeds, training=training, rng=np.random.default_rng(seed))
    plan.backward()
    replay = _replay(plan, seed) if training else None
    floor = FLOOR * max(1.0, abs(loss)) if np.isfinite(loss) else FLOOR
    wanted = None if keys is None else set(keys)
    out: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    # a parameter is first read by its owner or by a node tied to it (module instances with
    # "tie"), whichever runs first: the numeric derivative reruns forward from there
    first_use: dict[str, int] = {}
    for node in plan._nodes:
        at = plan._step_at[node.id]
        first_use[node.owner] = min(first_use.get(node.owner, at), at)
    for node in plan._nodes:
        own_step = node.op.source is None  # fed and static nodes have no forward step
        start = plan._step_at[node.id] + (1 if own_step else 0)
        for k in node.keys:
            if k not in plan.grads or node.op.source == "static":
                continue
            if wanted is not None and k not in wanted:
                continue
            idx = _pick(plan.values[k].size, per_item, rng)
            analytic = plan.grads[k].reshape(-1) if idx is not None else plan.grads[k]
            analytic = (analytic[idx] if idx is not None else analytic).copy()
            numeric = _numeric(plan, plan.values[k], start, eps, idx, replay)
            out[k] = relative_error(analytic, numeric, floor)
        for name, arr in plan.params.get(node.id, {}).items():
            item = f"{node.id}.{name}"
            if wanted is not None and item not in wanted:
                continue
            idx = _pick(arr.size, per_item, rng)
            analytic = plan.param_grads[node.id][name]
            analytic = (analytic.reshape(-1)[idx] if idx is not None else analytic).copy()
            numeric = _numeric(plan, arr, first_use[node.id], eps, idx, replay)
            out[item] = relative_error(analytic, numeric, floor)
    return out
