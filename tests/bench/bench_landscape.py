"""The loss landscape of linear regression at 101 × 101 (issue 17: under 2 s on this machine).

Prints the grid's time and, as a ratio, the time of the same number of loss evaluations done
the plain way (a NumPy expression of the model per grid point, measured in the same run), and
the whole request's time (grid plus the three descents' paths). Run with
`python tests/bench/bench_landscape.py` (or `make bench`); not collected by pytest.
"""

from __future__ import annotations

import time

import numpy as np

from blockprop.engine.data import load_dataset
from blockprop.engine.landscape import landscape
from blockprop.examples import get_example

EX = get_example("linear_regression")
AXES = [
    {"param": "lin.W", "index": [0, 0], "range": [-1.0, 5.0]},
    {"param": "lin.b", "index": [0], "range": [-3.0, 2.0]},
]
RES = (101, 101)


def reference(x: np.ndarray, y: np.ndarray) -> float:
    """The same grid by hand: C = (w x + b − y)² averaged, one NumPy expression per point."""
    ws, bs = np.linspace(-1, 5, RES[0]), np.linspace(-3, 2, RES[1])
    t = time.perf_counter()
    for b in bs:
        for w in ws:
            float(np.mean((w * x + b - y) ** 2))
    return time.perf_counter() - t


def main() -> None:
    data = load_dataset(**EX["dataset"])
    x, y = data.x_train[:, 0], data.y_train.reshape(-1)
    t = time.perf_counter()
    landscape(EX["graph"], data, AXES, RES, steps=0)
    grid = time.perf_counter() - t
    t = time.perf_counter()
    landscape(EX["graph"], data, AXES, RES, steps=100)
    whole = time.perf_counter() - t
    ref = reference(x, y)
    print(f"linear regression, {data.n_train} samples, {RES[0]}×{RES[1]} grid")
    print(f"  grid: {grid:.3f} s (target < 2 s); {grid / ref:.2f}× the hand-written NumPy grid")
    print(f"  with the three paths of 100 steps: {whole:.3f} s")


if __name__ == "__main__":
    main()
