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
import math
import os
import sys
import time

import numpy as np

try:
    from blockprop.engine import compile_graph
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "backend"))
    from blockprop.engine import compile_graph

LR = 0.01
CASES = {
    "a": dict(sizes=[2, 8, 8, 1], act="tanh", loss="mse", batch=32),
    "b": dict(sizes=[2, 64, 64, 2], act="relu", loss="ce", batch=256),
    "c": dict(sizes=[784, 256, 128, 10], act="relu", loss="ce", batch=128),
}


def sgd(pairs, lr):
    """The same plain SGD update for the engine and the fused reference."""
    for p, g in pairs:
        g *= lr
        p -= g


def mlp_doc(sizes, act, loss):
    nodes = [{"id": "x", "op": "input", "params": {"shape": [sizes[0]]}}]
    if loss == "mse":
        nodes.append({"id": "y", "op": "target", "params": {"shape": [sizes[-1]]}})
    else:
        nodes.append({"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}})
    prev = "x"
    for i, n in enumerate(sizes[1:]):
        nodes.append(
            {"id": f"l{i}", "op": "linear", "params": {"out_features": n}, "inputs": {"x": prev}}
        )
        prev = f"l{i}"
        if i < len(sizes) - 2:
            nodes.append({"id": f"h{i}", "op": act, "inputs": {"x": prev}})
            prev = f"h{i}"
    cost = "mse" if loss == "mse" else "cross_entropy"
    ports = {"y": prev, "target": "y"} if loss == "mse" else {"logits": prev, "target": "y"}
    nodes.append({"id": "c", "op": cost, "inputs": ports})
    return {"version": 1, "name": "bench", "nodes": nodes}


def make_data(sizes, loss, batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if loss == "mse":
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    else:
        y = rng.integers(0, sizes[-1], batch)
    return x, y


class FusedMLP:
    """A hand-written NumPy MLP: explicit formulas, every buffer preallocated, ``out=``."""

    def __init__(self, sizes, act, loss, batch, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.act, self.loss, self.B = act, loss, batch
        self.W = [
            (rng.uniform(-1, 1, (o, i)) * math.sqrt(6 / (i + o))).astype(dtype)
            for i, o in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        self.b = [np.zeros(o, dtype) for o in sizes[1:]]
        self.z = [np.empty((batch, o), dtype) for o in sizes[1:]]  # pre-activations
        self.h = [np.empty((batch, o), dtype) for o in sizes[1:-1]]  # activations
        self.gz = [np.empty((batch, o), dtype) for o in sizes[1:]]
        self.gh = [np.empty((batch, o), dtype) for o in sizes[1:-1]]
        self.tmp = [np.empty((batch, o), dtype) for o in sizes[1:-1]]
        self.gW = [np.empty_like(w) for w in self.W]
        self.gb = [np.empty_like(b) for b in self.b]
        self.ones = np.ones(batch, dtype)
        self.rows = np.arange(batch)
        n = sizes[-1]
        self.d = np.empty((batch, n), dtype)
        self.e = np.empty((batch, n), dtype)
        self.pairs = list(zip(self.W + self.b, self.gW + self.gb, strict=True))

    def step(self, x, y, lr):
        W, b, z, h, gz, gh = self.W, self.b, self.z, self.h, self.gz, self.gh
        L, B = len(W), self.B
        a = x
        for i in range(L):
            np.dot(a, W[i].T, out=z[i])
            z[i] += b[i]
            if i < L - 1:
                if self.act == "tanh":
                    np.tanh(z[i], out=h[i])
                else:
                    np.maximum(z[i], 0, out=h[i])
                a = h[i]
        out, g = z[-1], gz[-1]
        if self.loss == "mse":  # mean over outputs, mean over batch
            d = np.subtract(out, y, out=self.d)
            loss = float(np.vdot(d, d)) / d.size
            np.multiply(d, 2.0 / d.size, out=g)
        else:  # softmax cross-entropy with integer labels, mean over batch
            s = np.subtract(out, out.max(axis=1, keepdims=True), out=self.d)
            e = np.exp(s, out=self.e)
            se = e.sum(axis=1, keepdims=True)
            loss = float(np.log(se).sum() - s[self.rows, y].sum()) / B
            np.divide(e, se, out=g)
            g[self.rows, y] -= 1.0
            g *= 1.0 / B
        for i in range(L - 1, -1, -1):
            a = x if i == 0 else h[i - 1]
            np.dot(g.T, a, out=self.gW[i])
            np.dot(self.ones, g, out=self.gb[i])
            if i > 0:
                np.dot(g, W[i], out=gh[i - 1])
                if self.act == "tanh":  # (1 - h^2) g
                    t = np.multiply(h[i - 1], h[i - 1], out=self.tmp[i - 1])
                    np.subtract(1.0, t, out=t)
                    np.multiply(gh[i - 1], t, out=gz[i - 1])
                else:
                    np.multiply(gh[i - 1], h[i - 1] > 0, out=gz[i - 1])
                g = gz[i - 1]
        sgd(self.pairs, lr)
        return loss


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
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh() if case["act"] == "tanh" else torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
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
