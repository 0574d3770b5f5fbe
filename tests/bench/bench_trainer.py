"""Trainer overhead, end to end: steps/s of `blockprop train --json` against a hand-fused NumPy
training loop on the same data, batch and dtype, with the engine alone and PyTorch CPU alongside.

Run: ``python tests/bench/bench_trainer.py [--rounds R] [--seconds S] [--cases ab]``
(``make bench``). Not a test (pytest does not collect ``bench_*.py``); it never fails on speed.

Two nets, both plain SGD (lr 0.01), float32, one BLAS thread everywhere:

(a) 2-8-8-1 tanh, MSE against the 0/1 labels of ``moons`` (n 1000: 800 train = 25 batches
    of 32, 200 test);
(b) 784-256-128-10 ReLU, cross-entropy, batch 128, on synthetic 784-feature data with 10
    classes read from an .npz file (n 2560: 2048 train = 16 batches, 512 test).

Every side does the same work as the CLI with its default settings: each epoch shuffles the
training set, gathers each batch by index, takes a forward/backward/update step and reads its
loss, and at the end of the epoch evaluates the test split (loss and accuracy).

- ``fused``: that loop by hand, with explicit formulas and preallocated buffers (the reference:
  every other figure is printed as a ratio to it);
- ``engine``: the same loop around the engine alone (``plan.forward``/``backward`` and an
  in-place SGD update; batches gathered into the plan's input buffers; the test split on a
  second plan sharing the parameters);
- ``cli``: ``python -m blockprop.cli train GRAPH --json …`` in a subprocess; its own
  ``steps_per_second`` (the time of ``Trainer.run``: start-up, data loading and the final
  ``evaluate()`` are outside it, as they are outside the other loops' timing);
- ``run``: ``Trainer.run()`` in this process (the CLI without its process and callback);
- ``advance``: ``Trainer.advance(0.005)`` in a loop, as a server's pool worker drives a run;
- ``torch``: the same loop in PyTorch on the CPU (1 thread), when it is installed.

The machine may be shared: each round runs every side once, interleaved, and the ratios of
that round are taken; the medians over the rounds are printed.
"""

from __future__ import annotations

import os

# One BLAS thread for every side (the server's run workers default to one,
# BLOCKPROP_WORKER_BLAS_THREADS), set before NumPy loads; the CLI subprocess inherits it.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

try:
    import blockprop
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backend"))
    import blockprop
BACKEND = str(Path(blockprop.__file__).resolve().parents[1])  # the CLI runs the same code

from fused import FusedMLP, mlp_doc, torch_mlp  # noqa: E402  (beside this file)

from blockprop.engine.data import load_dataset, load_npz  # noqa: E402
from blockprop.engine.executor import compile_graph  # noqa: E402
from blockprop.engine.trainer import TrainConfig, Trainer  # noqa: E402

LR = 0.01
CASES = {
    "a": dict(sizes=[2, 8, 8, 1], act="tanh", loss="mse", batch=32, dataset="moons", n=1000),
    "b": dict(sizes=[784, 256, 128, 10], act="relu", loss="ce", batch=128, dataset=None, n=2560),
}
SIDES = ("fused", "engine", "cli", "run", "advance", "torch")


class Data:
    """The case's dataset, loaded as the CLI loads it, laid out for the loops."""

    def __init__(self, case, tmp: Path):
        if case["dataset"]:
            self.cli_args = ["--dataset", case["dataset"], "--n", str(case["n"])]
            ds = load_dataset(case["dataset"], n=case["n"])
        else:
            rng = np.random.default_rng(0)
            classes = case["sizes"][-1]
            centres = rng.standard_normal((classes, case["sizes"][0])).astype(np.float32)
            y = rng.integers(0, classes, case["n"])
            x = centres[y] + 2 * rng.standard_normal((case["n"], case["sizes"][0]))
            path = tmp / "data.npz"
            np.savez(path, x=x.astype(np.float32), y=y)
            self.cli_args = ["--data", str(path)]
            ds = load_npz(str(path))
        self.ds = ds
        self.x = np.ascontiguousarray(ds.x_train, dtype=np.float32)
        self.xt = np.ascontiguousarray(ds.x_test, dtype=np.float32)
        if case["loss"] == "mse":  # 0/1 labels as values, as the trainer feeds them to MSE
            self.y = ds.y_train.reshape(-1, 1).astype(np.float32)
            self.yt = ds.y_test.reshape(-1, 1).astype(np.float32)
        else:
            self.y = ds.y_train.astype(np.int64)
            self.yt = ds.y_test.astype(np.int64)
        self.labels_t = ds.y_test
        assert self.x.shape[0] % case["batch"] == 0, "a whole number of batches per epoch"


def predict_classes(out: np.ndarray) -> np.ndarray:
    if out.shape[1] > 1:
        return np.argmax(out, axis=1)
    return np.clip(np.rint(out[:, 0]), 0, 1).astype(np.int64)


def epochs_loop(step, evaluate, data: Data, batch: int, steps: int, gather) -> float:
    """Steps/s of the reference loop shape: shuffle, gather, step; evaluate each epoch."""
    n = data.x.shape[0]
    perm = np.arange(n)
    rng = np.random.default_rng(0)
    per_epoch = n // batch
    start = time.perf_counter()
    s = 0
    while s < steps:
        rng.shuffle(perm)
        total = 0.0
        for i in range(per_epoch):
            gather(perm[i * batch : (i + 1) * batch])
            total += step() * batch
            s += 1
        evaluate()
    return s / (time.perf_counter() - start)


# ---- (a) hand-fused NumPy ------------------------------------------------------------------


class GatheringMLP(FusedMLP):
    """The fused reference with a batch gathered into its own buffers each step, as the
    trainer does, and a forward pass for evaluating the test split once an epoch."""

    def __init__(self, sizes, act, loss, batch, seed=0, dtype=np.float32):
        super().__init__(sizes, act, loss, batch, seed, dtype)
        self.xb = np.empty((batch, sizes[0]), dtype)
        self.yb = np.empty((batch, 1), dtype) if loss == "mse" else np.empty(batch, np.int64)

    def forward(self, x):
        """Outputs for any batch (allocating: used once an epoch, for the test split)."""
        a = x
        for i, (w, b) in enumerate(zip(self.W, self.b, strict=True)):
            a = a @ w.T + b
            if i < len(self.W) - 1:
                a = np.tanh(a) if self.act == "tanh" else np.maximum(a, 0)
        return a

    def loss_of(self, out, y):
        if self.loss == "mse":
            return float(np.mean((out - y) ** 2))
        s = out - out.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(y)), y]))

    def step(self, lr=LR):
        return super().step(self.xb, self.yb, lr)


def fused(case, data: Data, steps: int) -> float:
    net = GatheringMLP(case["sizes"], case["act"], case["loss"], case["batch"])

    def gather(idx):  # mode "clip": no bounds check, no temporary (as the trainer gathers)
        data.x.take(idx, 0, net.xb, "clip")
        data.y.take(idx, 0, net.yb, "clip")

    def evaluate():
        out = net.forward(data.xt)
        net.loss_of(out, data.yt)
        float(np.mean(predict_classes(out) == data.labels_t))

    return epochs_loop(net.step, evaluate, data, case["batch"], steps, gather)


# ---- (b) the engine alone ------------------------------------------------------------------


def engine(case, data: Data, steps: int) -> float:
    doc = mlp_doc(case["sizes"], case["act"], case["loss"])
    plan = compile_graph(doc, case["batch"])
    test_plan = plan.clone(data.xt.shape[0], grads="params")
    feeds = {"x": plan.values["x"], "y": plan.values["y"]}
    pairs = [(p, plan.param_grads[n][k]) for n, ps in plan.params.items() for k, p in ps.items()]
    out_key = f"l{len(case['sizes']) - 2}"  # the last linear: the prediction
    forward, backward = plan.forward, plan.backward

    def gather(idx):
        data.x.take(idx, 0, feeds["x"], "clip")
        data.y.take(idx, 0, feeds["y"], "clip")

    def step():
        loss = forward(feeds, training=True)
        backward()
        for p, g in pairs:
            g *= LR
            p -= g
        return loss

    def evaluate():
        test_plan.forward({"x": data.xt, "y": data.yt})
        float(np.mean(predict_classes(test_plan.values[out_key]) == data.labels_t))

    return epochs_loop(step, evaluate, data, case["batch"], steps, gather)


# ---- (c) the CLI, Trainer.run, Trainer.advance ---------------------------------------------

TRAIN = dict(optimizer="sgd", lr=LR)


def cli(case, data: Data, steps: int, graph: Path) -> float:
    cmd = [sys.executable, "-m", "blockprop.cli", "train", str(graph), *data.cli_args]
    cmd += ["--batch-size", str(case["batch"]), "--optimizer", "sgd", "--lr", str(LR)]
    cmd += ["--epochs", "1000000", "--max-steps", str(steps), "--json"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([BACKEND, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "done" and summary["steps"] == steps, summary
    return summary["steps_per_second"]


def _trainer(case, data: Data, steps: int) -> Trainer:
    cfg = TrainConfig(epochs=1_000_000, batch_size=case["batch"], max_steps=steps, **TRAIN)
    return Trainer(mlp_doc(case["sizes"], case["act"], case["loss"]), data.ds, cfg)


def run(case, data: Data, steps: int) -> float:
    t = _trainer(case, data, steps)
    points: list = []
    start = time.perf_counter()
    t.run(on_points=points.extend)
    return t.step_count / (time.perf_counter() - start)


def advance(case, data: Data, steps: int) -> float:
    t = _trainer(case, data, steps)
    points: list = []
    start = time.perf_counter()
    while t.advance(0.005, points.extend) == 0.0:
        pass
    return t.step_count / (time.perf_counter() - start)


# ---- (d) PyTorch -------------------------------------------------------------------------


def torch_side(case, data: Data, steps: int) -> float:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    sizes = case["sizes"]
    model = torch_mlp(sizes, case["act"])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    lossfn = (
        torch.nn.functional.mse_loss if case["loss"] == "mse" else torch.nn.functional.cross_entropy
    )
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    xt, yt = torch.from_numpy(data.xt), torch.from_numpy(data.yt)
    xb = torch.empty((case["batch"], *x.shape[1:]), dtype=x.dtype)
    yb = torch.empty((case["batch"], *y.shape[1:]), dtype=y.dtype)

    def gather(idx):
        i = torch.from_numpy(idx)
        torch.index_select(x, 0, i, out=xb)
        torch.index_select(y, 0, i, out=yb)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossfn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.item()

    def evaluate():
        with torch.no_grad():
            out = model(xt)
            lossfn(out, yt).item()
            float(np.mean(predict_classes(out.numpy()) == data.labels_t))

    return epochs_loop(step, evaluate, data, case["batch"], steps, gather)


# ---- main ----------------------------------------------------------------------------------


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.5, help="length of each measured loop")
    ap.add_argument("--cases", default="ab")
    ap.add_argument("--sides", default=",".join(SIDES))
    args = ap.parse_args(argv)
    sides = [s for s in args.sides.split(",") if s]
    try:
        import torch  # noqa: F401
    except ImportError:
        sides = [s for s in sides if s != "torch"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(
        f"numpy {np.__version__}; 1 BLAS thread; {args.rounds} interleaved rounds of "
        f"~{args.seconds:g} s loops; load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'case':<36}" + "".join(f"{s:>9}" for s in sides if s != "fused") + "    (× fused)")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for name in args.cases:
            case = CASES[name]
            data = Data(case, tmp)
            graph = tmp / f"graph_{name}.json"
            graph.write_text(json.dumps(mlp_doc(case["sizes"], case["act"], case["loss"])))
            per_epoch = data.x.shape[0] // case["batch"]
            probe = fused(case, data, 3 * per_epoch)
            steps = max(per_epoch, round(probe * args.seconds / per_epoch) * per_epoch)
            fns = {
                "fused": fused,
                "engine": engine,
                "cli": lambda c, d, s, g=graph: cli(c, d, s, g),
                "run": run,
                "advance": advance,
                "torch": torch_side,
            }
            rates: dict[str, list[float]] = {s: [] for s in sides}
            ratios: dict[str, list[float]] = {s: [] for s in sides}
            for _ in range(args.rounds):
                f = fns["fused"](case, data, steps)
                got = {s: fns[s](case, data, steps) for s in sides if s != "fused"}
                f = (f + fns["fused"](case, data, steps)) / 2  # fused before and after
                rates["fused"].append(f)
                for s, r in got.items():
                    rates[s].append(r)
                    ratios[s].append(r / f)
            label = (
                f"({name}) {'-'.join(map(str, case['sizes']))} {case['act']} B{case['batch']} "
                f"{case['loss']}"
            )
            print(
                f"{label:<36}"
                + "".join(f"{statistics.median(ratios[s]):9.2f}" for s in sides if s != "fused")
            )
            print(
                "    steps/s (median): "
                + ", ".join(f"{s} {statistics.median(rates[s]):,.0f}" for s in sides)
                + f"; {steps} steps a loop"
            )
            if "cli" in sides:
                print(f"    cli ratio per round: {', '.join(f'{r:.2f}' for r in ratios['cli'])}")


if __name__ == "__main__":
    main()
