"""Per-hidden-unit activation grids over the input plane (issue 16): what the editor draws as
a thumbnail per unit, TensorFlow Playground style, alongside the decision boundary."""

from __future__ import annotations

import json

import numpy as np

from blockprop.engine.data import load_dataset
from blockprop.engine.trainer import TrainConfig, Trainer
from blockprop.engine.trainer.snapshots import UNIT_GRID


def mlp(hidden: int) -> dict:
    return {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
            {"id": "l1", "op": "linear", "params": {"out_features": hidden}, "inputs": {"x": "x"}},
            {"id": "h1", "op": "tanh", "inputs": {"x": "l1"}},
            {"id": "l2", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "h1"}},
            {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
        ],
    }


def test_each_hidden_unit_over_the_plane_matches_a_forward_pass():
    t = Trainer(mlp(4), load_dataset("moons", n=80), TrainConfig(epochs=2))
    t.run()
    b = t.boundary(grid=12)
    json.dumps(b)
    # only the nonlinearity's units: not the Linear blocks, the inputs or the prediction
    assert set(b["units"]) == {"h1"}
    grids = np.asarray(b["units"]["h1"])
    assert grids.shape == (4, UNIT_GRID, UNIT_GRID)
    # unit u at row i, column j is tanh(W x + b)[u] at the lattice point (x0[j], x1[i])
    span = t.boundary(grid=UNIT_GRID)
    state = t.state()
    W, bias = np.asarray(state["l1"]["W"]), np.asarray(state["l1"]["b"])
    i, j = 3, 7
    point = np.array([span["x0"][j], span["x1"][i]])
    want = np.tanh(W @ point + bias)
    np.testing.assert_allclose(grids[:, i, j], want, atol=2e-3)


def test_wide_layers_and_other_datasets_get_none():
    wide = Trainer(mlp(64), load_dataset("moons", n=40), TrainConfig(epochs=1))
    assert wide.unit_grids() == {}
    iris = Trainer(
        {
            "version": 1,
            "nodes": [
                {"id": "x", "op": "input", "params": {"shape": [4]}},
                {"id": "l", "op": "linear", "params": {"out_features": 3}, "inputs": {"x": "x"}},
                {"id": "h", "op": "relu", "inputs": {"x": "l"}},
            ],
        },
        load_dataset("iris"),
        TrainConfig(epochs=1),
    )
    assert iris.unit_grids() == {}
