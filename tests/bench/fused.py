"""The references the engine's and the trainer's benchmarks are measured against: a
hand-written NumPy MLP (explicit formulas, every buffer preallocated, `out=`) and the graph
document of the same network, shared by bench_engine.py and bench_trainer.py."""

from __future__ import annotations

import math

import numpy as np


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


def torch_mlp(sizes, act):
    """The same MLP in PyTorch (the CPU reference); torch is imported by the caller."""
    import torch

    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh() if act == "tanh" else torch.nn.ReLU())
    return torch.nn.Sequential(*layers)
