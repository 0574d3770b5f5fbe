"""Engine benchmark: steps/s of forward + backward + SGD update, float32.

Run: ``python tests/bench/bench_engine.py [--seconds S] [--cases abc]`` (``make bench``).
Not a test (pytest does not collect ``bench_*.py``), and it never fails on speed.

Three networks, each trained by
- the engine (a graph document compiled with ``compile_graph``),
- a hand-written fused NumPy MLP (explicit formulas, preallocated buffers, ``out=``),
- PyTorch on the CPU with 2 threads, when it is installed;

Every side reads a fixed batch in place (the engine's from its input buffers, which
``forward`` then does not copy) and computes the loss value each step.

(a) 2-8-8-1 tanh, batch 32, MSE; (b) 2-64-64-2 ReLU, batch 256, cross-entropy;
(c) 784-256-128-10 ReLU, batch 128, cross-entropy. Figures are printed as steps/s and as
ratios to the fused NumPy reference measured in the same run; for (c) also the achieved
GFLOP/s against a float32 matmul peak measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

try:
    from blockprop.engine import compile_graph
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "backend"))
    from blockprop.engine import compile_graph

from fused import FusedMLP, mlp_doc, sgd, torch_mlp  # noqa: E402  (beside this file)

LR = 0.01
CASES = {
    "a": dict(sizes=[2, 8, 8, 1], act="tanh", loss="mse", batch=32),
    "b": dict(sizes=[2, 64, 64, 2], act="relu", loss="ce", batch=256),
    "c": dict(sizes=[784, 256, 128, 10], act="relu", loss="ce", batch=128),
}


def make_data(sizes, loss, batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if loss == "mse":
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    else:
        y = rng.integers(0, sizes[-1], batch)
    return x, y


def engine_runner(case):
    doc = mlp_doc(case["sizes"], case["act"], case["loss"])
    plan = compile_graph(doc, case["batch"])
    x, y = make_data(case["sizes"], case["loss"], case["batch"])
    # the batch sits in the plan's input buffers, as the fused net reads its x and y in place
    plan.values["x"][...], plan.values["y"][...] = x, y
    feeds = {"x": plan.values["x"], "y": plan.values["y"]}
    pairs = [(p, plan.param_grads[n][k]) for n, ps in plan.params.items() for k, p in ps.items()]
    forward, backward = plan.forward, plan.backward

    def step():
        loss = forward(feeds)
        backward()
        sgd(pairs, LR)
        return loss

    return step


def fused_runner(case):
    net = FusedMLP(case["sizes"], case["act"], case["loss"], case["batch"])
    x, y = make_data(case["sizes"], case["loss"], case["batch"])
    return lambda: net.step(x, y, LR)


def torch_runner(case):
    import torch

    torch.set_num_threads(2)
    sizes = case["sizes"]
    model = torch_mlp(sizes, case["act"])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = make_data(sizes, case["loss"], case["batch"])
    x = torch.from_numpy(x)
    if case["loss"] == "mse":
        y, lossfn = torch.from_numpy(y), torch.nn.functional.mse_loss
    else:
        y, lossfn = torch.from_numpy(y), torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossfn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def calibrate(step, target=0.01):
    """How many steps take about ``target`` seconds (after a short warm-up)."""
    for _ in range(3):
        step()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        if time.perf_counter() - t0 >= target or n >= 1 << 16:
            return n
        n *= 2


def best_rates(runners: dict, seconds: float) -> dict:
    """Steps/s of each runner: the fastest of many short interleaved chunks.

    Interleaving and keeping the best chunk makes the comparison robust to other work on
    the machine (the usual ``timeit`` advice: the minimum is the least disturbed figure).
    """
    chunks = {k: calibrate(step) for k, step in runners.items()}
    best = dict.fromkeys(runners, float("inf"))
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for k, step in runners.items():
            n = chunks[k]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            best[k] = min(best[k], (time.perf_counter() - t0) / n)
    return {k: 1.0 / t for k, t in best.items()}


PEAK_N = 1024


def matmul_runner(n=PEAK_N):
    """One float32 n×n matmul: the BLAS peak reference (2 n³ FLOPs a call)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b, c = a.copy(), np.empty_like(a)
    return lambda: np.dot(a, b, out=c)


def flops_per_step(case):
    """Matmul FLOPs of forward + backward (no input gradient for the first layer)."""
    sizes, B = case["sizes"], case["batch"]
    layers = list(zip(sizes[:-1], sizes[1:], strict=True))
    fwd = sum(2 * B * i * o for i, o in layers)
    dW = fwd
    dx = sum(2 * B * i * o for i, o in layers[1:])
    return fwd + dW + dx


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="timing budget per case")
    ap.add_argument("--cases", default="abc")
    args = ap.parse_args(argv)
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    print(
        f"numpy {np.__version__}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}; "
        f"torch {'(2 threads)' if have_torch else 'not installed'}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = os.cpu_count() or 1
    if load > cores / 2:
        print(
            f"note: load average {load:.1f} on {cores} cores: absolute figures are noisy; "
            "the ratios are measured side by side"
        )
    header = (
        f"{'case':<34} {'engine':>10} {'fused':>10} {'torch':>10} {'eng/fused':>10} "
        f"{'eng/torch':>10} {'fused/torch':>11}"
    )
    print(header)
    for name in args.cases:
        case = CASES[name]
        runners = {"engine": engine_runner(case), "fused": fused_runner(case)}
        if name == "c":  # the peak, measured under the same conditions as the work
            runners["peak"] = matmul_runner()
        best = best_rates(runners, args.seconds)
        if have_torch:
            # timed apart, with pauses: idle OpenMP/BLAS threads spin for a while after
            # their work and would slow whichever library ran next
            time.sleep(0.5)
            best.update(best_rates({"torch": torch_runner(case)}, args.seconds / 2))
            time.sleep(0.5)
        e, f, t = best["engine"], best["fused"], best.get("torch")
        label = (
            f"({name}) {'-'.join(map(str, case['sizes']))} {case['act']} B{case['batch']} "
            f"{case['loss']}"
        )
        tt = f"{t:10.0f}" if t else f"{'-':>10}"
        et = f"{e / t:10.2f}" if t else f"{'-':>10}"
        ft = f"{f / t:11.2f}" if t else f"{'-':>11}"
        print(f"{label:<34} {e:10.0f} {f:10.0f} {tt} {e / f:10.2f} {et} {ft}")
        if name == "c":
            fl = flops_per_step(case)
            peak = 2 * PEAK_N**3 * best["peak"] / 1e9
            print(f"    float32 matmul peak ({PEAK_N}²): {peak:.1f} GFLOP/s")
            print(
                f"    (c) matmul work {fl / 1e6:.1f} MFLOP/step: engine {e * fl / 1e9:.1f} "
                f"GFLOP/s = {e * fl / 1e9 / peak:.0%} of peak; fused {f * fl / 1e9:.1f} GFLOP/s"
            )


if __name__ == "__main__":
    main()
