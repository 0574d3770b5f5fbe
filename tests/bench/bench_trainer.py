"""Trainer overhead: steps/s of Trainer.step() against a bare engine loop (forward, backward,
in-place SGD) on the same graphs and batches. Not a timed test; run with `make bench`.

Prints, per case, the bare loop's steps/s, the trainer's, and their ratio (1.0 = no
overhead). The trainer does more per step by design: it gathers a shuffled batch, keeps the
last finite parameters (divergence), computes the gradient norm and emits a metric point.
"""

from __future__ import annotations

import time

import numpy as np

from blockprop.engine.data import Normalizer, split_and_normalize
from blockprop.engine.executor import compile_graph
from blockprop.engine.trainer import TrainConfig, Trainer

CASES = [
    # (name, input size, hidden sizes, classes or 0 for regression, activation, batch)
    ("a) 2-8-8-1 tanh, batch 32, MSE", 2, (8, 8), 0, "tanh", 32),
    ("b) 2-64-64-2 ReLU, batch 256, CE", 2, (64, 64), 2, "relu", 256),
    ("c) 784-256-128-10 ReLU, batch 128, CE", 784, (256, 128), 10, "relu", 128),
]


def mlp(inputs: int, hidden: tuple[int, ...], classes: int, act: str) -> dict:
    nodes = [{"id": "x", "op": "input", "params": {"shape": [inputs]}}]
    if classes:
        nodes.append({"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}})
    else:
        nodes.append({"id": "y", "op": "target", "params": {"shape": [1]}})
    prev = "x"
    for i, h in enumerate(hidden):
        nodes.append(
            {"id": f"l{i}", "op": "linear", "params": {"out_features": h}, "inputs": {"x": prev}}
        )
        nodes.append({"id": f"a{i}", "op": act, "inputs": {"x": f"l{i}"}})
        prev = f"a{i}"
    nodes.append(
        {
            "id": "out",
            "op": "linear",
            "params": {"out_features": classes or 1},
            "inputs": {"x": prev},
        }
    )
    cost = (
        {"id": "c", "op": "cross_entropy", "inputs": {"logits": "out", "target": "y"}}
        if classes
        else {"id": "c", "op": "mse", "inputs": {"y": "out", "target": "y"}}
    )
    nodes.append(cost)
    return {"version": 1, "nodes": nodes}


def dataset(inputs: int, classes: int, n: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, inputs))
    y = rng.integers(0, classes, n) if classes else rng.standard_normal((n, 1))
    task = "classification" if classes else "regression"
    ds = split_and_normalize(
        "bench", x, y, task=task, test_fraction=0.0, normalize=False, n_classes=classes or None
    )
    assert isinstance(ds.normalizer, Normalizer)
    return ds


def bare(doc, ds, batch: int, steps: int) -> float:
    plan = compile_graph(doc, batch)
    x = ds.x_train.astype(np.float32)
    y = ds.y_train if ds.task == "classification" else ds.y_train.astype(np.float32)
    params = [a for p in plan.params.values() for a in p.values()]
    grads = [a for p in plan.param_grads.values() for a in p.values()]
    n = x.shape[0] // batch
    feeds = [
        {"x": x[i * batch : (i + 1) * batch], "y": y[i * batch : (i + 1) * batch]} for i in range(n)
    ]
    start = time.perf_counter()
    for s in range(steps):
        plan.forward(feeds[s % n], training=True)
        plan.backward()
        for p, g in zip(params, grads, strict=True):
            p -= 0.01 * g
    return steps / (time.perf_counter() - start)


def trainer(doc, ds, batch: int, steps: int) -> float:
    # per-step cost only: test evaluations (every epoch by default) are left out
    t = Trainer(doc, ds, TrainConfig(epochs=10**6, batch_size=batch, lr=0.01, eval_every=10**6))
    t.step()
    start = time.perf_counter()
    for _ in range(steps):
        t.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    print(f"{'case':<40} {'bare steps/s':>13} {'trainer steps/s':>16} {'ratio':>6}")
    for name, inputs, hidden, classes, act, batch in CASES:
        doc = mlp(inputs, hidden, classes, act)
        ds = dataset(inputs, classes, batch * 16)
        probe = bare(doc, ds, batch, 20)
        steps = max(20, int(probe / 4))  # about a quarter of a second per measurement
        b = t = 0.0
        for _ in range(5):  # interleaved, best of five: robust to a busy machine
            b = max(b, bare(doc, ds, batch, steps))
            t = max(t, trainer(doc, ds, batch, steps))
        print(f"{name:<40} {b:>13.0f} {t:>16.0f} {t / b:>6.2f}")


if __name__ == "__main__":
    main()
