"""POST /api/landscape: the grid of L(S, w) and the three descents, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.examples import get_example

from .conftest import assert_error

EX = get_example("linear_regression")
AXES = [
    {"param": "lin.W", "index": [0, 0], "range": [0.0, 3.0]},
    {"param": "lin.b", "index": [0], "range": [-1.0, 1.0]},
]


def _body(**extra):
    return {
        "graph": EX["graph"],
        "dataset": {**EX["dataset"], "n": 50},
        "axes": AXES,
        "resolution": [7, 5],
        "train": {"lr": 0.2},
        "steps": 10,
        **extra,
    }


def test_grid_matches_evaluate_at_a_point(api):
    r = api.post("/api/landscape", json=_body())
    assert r.status_code == 200, r.text
    land = r.json()
    assert len(land["loss"]) == 5 and len(land["loss"][0]) == 7
    assert {k: len(v) for k, v in land["paths"].items()} == {"gd": 11, "sgd": 11, "minibatch": 11}
    # the same point by /api/evaluate on the training split (normalize: false in the example)
    from blockprop.engine.data import load_dataset

    ds = load_dataset(**{**EX["dataset"], "n": 50})
    w, b = land["a"][4], land["b"][2]
    graph = {**EX["graph"], "state": {"lin": {"W": [[w]], "b": [b]}}}
    inputs = {"x": ds.x_train.tolist(), "y": ds.y_train.reshape(-1, 1).tolist()}
    ev = api.post("/api/evaluate", json={"graph": graph, "inputs": inputs}).json()
    assert land["loss"][2][4] == pytest.approx(ev["loss"], rel=1e-10)
    assert np.isfinite(land["start_loss"])


def test_refusals(api):
    r = api.post("/api/landscape", json=_body(resolution=[200, 5]))
    assert "101" in assert_error(r, 413, "too_large")["message"]
    r = api.post("/api/landscape", json=_body(axes=[{**AXES[0], "param": "lin.Z"}, AXES[1]]))
    err = assert_error(r, 422, "bad_param")
    assert "lin.W" in err["message"]
    r = api.post("/api/landscape", json=_body(train={"optimizer": "rmsprop"}))
    assert_error(r, 422, "bad_config")
