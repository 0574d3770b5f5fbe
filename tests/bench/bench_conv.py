"""Convolution benchmark: conv2d forward + backward, the engine against PyTorch CPU.

Run: ``python tests/bench/bench_conv.py [--seconds S]`` (``make bench``). Not a test, and it
never fails on speed.

Two layers, batch 64, float32, 3×3 kernels with padding 1 (issue 18):
(a) 1×8×8 -> 16 channels; (b) 16×8×8 -> 32 channels. Each side runs the layer's forward,
flatten and a squared-error cost, then the gradients of the input, the weights and the
bias (the engine: one compiled plan, its input fed in place; PyTorch: `nn.Conv2d` and
`torch.autograd.grad`). Both sides use one thread by default (``--threads N`` sets both):
the training workers run with one BLAS thread each (``worker_blas_threads``), one run per
core. Printed: milliseconds per forward + backward (the fastest call, and the median) and
the ratio of the fastest calls, engine / PyTorch (target ≤ 1.5). With two threads the
engine's layout copies stay on one thread while PyTorch's kernels use both: compare
``--threads 2``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _threads_from_argv(argv: list[str]) -> int | None:
    """--threads N, read before NumPy loads: OpenBLAS takes its thread count at import."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return None


THREADS = _threads_from_argv(sys.argv) or 1
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(THREADS)

import numpy as np  # noqa: E402

try:
    from blockprop.engine import compile_graph
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "backend"))
    from blockprop.engine import compile_graph

BATCH = 64
CASES = {"a": (1, 16), "b": (16, 32)}  # (in channels, out channels), 8×8 images


def conv_doc(cin: int, cout: int) -> dict:
    return {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [cin, 8, 8]}},
            {
                "id": "conv",
                "op": "conv2d",
                "params": {"out_channels": cout, "kernel_size": 3, "padding": 1},
                "inputs": {"x": "x"},
            },
            # a cost, so that backward runs: the same on both sides
            {"id": "f", "op": "flatten", "inputs": {"x": "conv"}},
            {"id": "t", "op": "target", "params": {"shape": [cout * 64]}},
            {"id": "cost", "op": "squared_error", "inputs": {"y": "f", "target": "t"}},
        ],
    }


def timed(fn, seconds: float) -> tuple[float, float]:
    """(fastest, median) seconds per call over about ``seconds`` of calls. The fastest is the
    headline: on a machine shared with other work it is the least disturbed by it."""
    fn()
    times = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 20:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[0], times[len(times) // 2]


def engine_step(cin: int, cout: int):
    doc = conv_doc(cin, cout)
    plan = compile_graph(doc, BATCH, grads="all")
    plan.values["x"][...] = np.random.default_rng(0).standard_normal((BATCH, cin, 8, 8))
    feeds = {"x": plan.values["x"], "t": plan.values["t"]}

    def step():
        plan.forward(feeds)
        plan.backward()

    return step


def torch_step(cin: int, cout: int):
    import torch

    torch.set_num_threads(THREADS)
    x = torch.randn(BATCH, cin, 8, 8, requires_grad=True)
    conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
    t = torch.zeros(BATCH, cout * 64)
    params = [x, conv.weight, conv.bias]

    def step():
        y = conv(x).flatten(1)
        loss = ((y - t) ** 2).sum(1).mean()
        torch.autograd.grad(loss, params)

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per side and case")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for both sides (BLAS and torch); default 1, like a training worker",
    )
    args = ap.parse_args()
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
        print("torch is not installed: engine figures only")
    for key, (cin, cout) in CASES.items():
        eng, eng_med = timed(engine_step(cin, cout), args.seconds)
        line = (
            f"({key}) conv2d {cin}x8x8 -> {cout} 3x3, batch {BATCH}: "
            f"engine {eng * 1e3:.3f} ms (median {eng_med * 1e3:.3f})"
        )
        if has_torch:
            ref, ref_med = timed(torch_step(cin, cout), args.seconds)
            line += (
                f", torch {ref * 1e3:.3f} ms (median {ref_med * 1e3:.3f}), "
                f"ratio {eng / ref:.2f} (target <= 1.5)"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
