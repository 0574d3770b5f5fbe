"""The loss landscape the notes draw for gradient descent: L(S, w) over two scalar parameters.

Two entries of the graph's trainable parameters (linear regression's w and b, or any two
entries of any parameters) span a plane; every other parameter stays where it starts. The
grid holds the average training loss L(S, w) = (1/P) Σ_p C(y_p, G(x_p, w)) at each point,
each point one forward pass of the whole training set through one plan (the samples are the
batch). Beside it, the paths of full-batch gradient descent, SGD (batch 1) and mini-batch SGD
from the same start, each the real :class:`~blockprop.engine.trainer.Trainer` taking
``steps`` steps (they move every parameter; for a model with only the two, the paths lie in
the plane exactly).

>>> from blockprop.engine.data import load_dataset
>>> from blockprop.examples import get_example
>>> ex = get_example("linear_regression")
>>> ds = load_dataset("linear", n=40, seed=0)
>>> axes = [{"param": "lin.W", "index": [0, 0], "range": [-2, 4]},
...         {"param": "lin.b", "index": [0], "range": [-3, 3]}]
>>> out = landscape(ex["graph"], ds, axes, (21, 11), steps=5)
>>> len(out["loss"]), len(out["loss"][0]), sorted(out["paths"])
(11, 21, ['gd', 'minibatch', 'sgd'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .graph import GraphError, Issue
from .trainer import Trainer

#: the finest grid, per axis
MAX_RESOLUTION = 101
#: the most steps a path takes
MAX_STEPS = 2000
#: the most sample evaluations a grid may cost (points × training samples)
MAX_WORK = 20_000_000
#: the paths drawn: name -> batch size (None: the whole training set)
METHODS = ("gd", "sgd", "minibatch")


def _bad(message: str, nodes: list[str] | None = None) -> GraphError:
    return GraphError([Issue("bad_param", message, nodes or [], None)])


def _entry(params: Mapping, axis: Mapping) -> tuple[str, str, tuple[int, ...]]:
    """(node, parameter, index) of an axis ``{"param": "node.name", "index": [...]}``."""
    key = str(axis.get("param", ""))
    nid, _, name = key.rpartition(".")
    if nid not in params or name not in params[nid]:
        known = ", ".join(f"{n}.{k}" for n, p in params.items() for k in p) or "none"
        raise _bad(f"no trainable parameter '{key}' (the graph's: {known})", [nid] if nid else [])
    shape = params[nid][name].shape
    index = tuple(int(i) for i in axis.get("index") or ())
    if len(index) != len(shape) or any(not 0 <= i < d for i, d in zip(index, shape, strict=True)):
        raise _bad(f"index {list(index)} is not an entry of '{key}', shaped {list(shape)}", [nid])
    return nid, name, index


def _grid(trainer: Trainer, entries, values: list[np.ndarray]) -> np.ndarray:
    """L(S, w) at every point of the grid: one forward of the training set per point, the
    data written into the plan's input buffers once."""
    x, y = trainer.training_split()
    plan = trainer.eval_plan(x.shape[0])
    feed = {trainer.input_id: plan.values[trainer.input_id]}
    np.copyto(feed[trainer.input_id], x, casting="unsafe")
    if y is not None:
        feed[trainer.target_id] = plan.values[trainer.target_id]
        np.copyto(feed[trainer.target_id], y, casting="unsafe")
    (n1, p1, i1), (n2, p2, i2) = entries
    w1, w2 = plan.params[n1][p1], plan.params[n2][p2]
    loss = np.empty((len(values[1]), len(values[0])))
    with np.errstate(all="ignore"):
        for r, b in enumerate(values[1]):
            w2[i2] = b
            for c, a in enumerate(values[0]):
                w1[i1] = a
                loss[r, c] = plan.forward(feed)
    return loss


def _path(doc, dataset, config: dict, state: dict, entries, steps: int) -> list[list[float]]:
    """The two entries after each of ``steps`` steps of a trainer from ``state``."""
    t = Trainer(
        doc, dataset, {**config, "epochs": 1_000_000, "max_steps": max(1, steps)}, state=state
    )
    points = []

    def here():
        return [float(t.plan.params[n][p][i]) for n, p, i in entries]

    points.append(here())
    for _ in range(steps):
        taken = t.step_count
        t.step()
        if t.step_count == taken:  # diverged or nothing to train: the path ends here
            break
        points.append(here())
    return points


def landscape(
    doc: Mapping,
    dataset: Any,
    axes: Sequence[Mapping],
    resolution: Sequence[int] = (51, 51),
    *,
    config: Mapping | None = None,
    start: Sequence[float] | None = None,
    steps: int = 50,
    batch_size: int = 8,
) -> dict[str, Any]:
    """The grid of L(S, w) over two parameter entries and the three descents' paths.

    ``axes``: two ``{"param": "node.name", "index": [...], "range": [lo, hi]}``;
    ``resolution``: points per axis (2 to :data:`MAX_RESOLUTION`). ``config``: training
    settings for the paths (optimizer, lr, seed…; the batch size is each method's).
    ``start``: the two entries' starting values (default: the graph's initial ones).
    Returns ``{axes, a, b, loss (rows over b, columns over a), start, start_loss, paths:
    {gd, sgd, minibatch: [[a, b], …]}, batch_sizes}``. Raises :class:`GraphError`
    (``bad_param`` for a wrong axis, ``too_large`` for a grid or path beyond the limits).
    """
    if len(axes) != 2:
        raise _bad(f"a landscape has two axes, not {len(axes)}")
    res = [int(r) for r in resolution]
    if len(res) != 2 or any(not 2 <= r <= MAX_RESOLUTION for r in res):
        raise GraphError(
            [
                Issue(
                    "too_large",
                    f"resolution {res} is not 2 to {MAX_RESOLUTION} points per axis",
                    [],
                    None,
                )
            ]
        )
    if not 0 <= steps <= MAX_STEPS:
        raise GraphError(
            [Issue("too_large", f"{steps} steps: the paths take 0 to {MAX_STEPS}", [], None)]
        )
    cfg = {k: v for k, v in dict(config or {}).items() if k not in ("epochs", "max_steps")}
    cfg["batch_size"] = None
    cfg.setdefault("dtype", "float64")
    trainer = Trainer(dict(doc), dataset, cfg)
    if not trainer.plan.cost_ids:
        raise GraphError([Issue("no_cost", "the graph has no cost: there is no loss", [], None)])
    work = res[0] * res[1] * dataset.n_train
    if work > MAX_WORK:
        raise GraphError(
            [
                Issue(
                    "too_large",
                    f"a {res[0]} × {res[1]} grid over {dataset.n_train} training samples is "
                    f"{work:,} sample evaluations; the limit is {MAX_WORK:,}: use a coarser "
                    "grid or fewer samples",
                    [],
                    None,
                )
            ]
        )
    entries = [_entry(trainer.plan.params, a) for a in axes]
    if entries[0] == entries[1]:
        raise _bad("the two axes name the same entry", [entries[0][0]])
    ranges = []
    for a in axes:
        lo, hi = (float(v) for v in a.get("range", (-1.0, 1.0)))
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise _bad(f"range [{lo}, {hi}] of '{a.get('param')}' must be finite, low to high")
        ranges.append((lo, hi))
    params = trainer.plan.params
    if start is not None:
        for (n, p, i), v in zip(entries, start, strict=True):
            params[n][p][i] = float(v)
    origin = trainer.plan.state_dict()
    values = [np.linspace(lo, hi, r) for (lo, hi), r in zip(ranges, res, strict=True)]
    loss = _grid(trainer, entries, values)
    trainer.plan.load_state(origin)
    start_loss = trainer.evaluate()["loss"]
    sizes = {"gd": None, "sgd": 1, "minibatch": max(1, int(batch_size))}
    paths = {
        m: _path(dict(doc), dataset, {**cfg, "batch_size": sizes[m]}, origin, entries, steps)
        for m in METHODS
    }
    return {
        "axes": [
            {"param": a["param"], "index": list(e[2]), "range": list(r)}
            for a, e, r in zip(axes, entries, ranges, strict=True)
        ],
        "a": values[0],
        "b": values[1],
        "loss": np.where(np.isfinite(loss), loss, np.nan),
        "start": [float(params[n][p][i]) for n, p, i in entries],
        "start_loss": start_loss,
        "paths": paths,
        "batch_sizes": {m: sizes[m] or dataset.n_train for m in METHODS},
    }


__all__ = ["MAX_RESOLUTION", "METHODS", "landscape"]
