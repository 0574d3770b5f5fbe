"""POST /api/explain on a mini-batch, checked against POST /api/evaluate on the same batch."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.examples import get_example

from .conftest import assert_error

LINREG = get_example("linear_regression")["graph"]
BATCH = {"x": [[0.5], [-1.0], [2.0], [0.1]], "y": [[1.0], [0.0], [3.5], [0.2]]}


def test_mini_batch_explain_matches_evaluate(api):
    body = {"graph": LINREG, "inputs": BATCH, "seed": 7}
    ex = api.post("/api/explain", json={**body, "sample": 2}).json()
    ev = api.post("/api/evaluate", json=body).json()
    cost = next(n["id"] for n in LINREG["nodes"] if n["op"] == "squared_error")
    np.testing.assert_allclose(ex["costs"], ev["values"][cost])
    assert ex["loss"] == pytest.approx(ev["loss"])
    for nid, grads in ev["param_grads"].items():
        for k, g in grads.items():
            np.testing.assert_allclose(ex["param_grads"][nid][k], g, atol=1e-12)
            rows = np.asarray(ex["batch"]["param_grads"][nid][k])
            assert rows.shape[0] == 4
            np.testing.assert_allclose(rows.mean(axis=0), g, atol=1e-12)
    walked = next(n for n in ex["nodes"] if n["id"] == cost)
    assert walked["outputs"][0]["value"] == pytest.approx(ev["values"][cost][2])


def test_mini_batch_update_uses_the_mean_gradient(api):
    body = {
        "graph": LINREG,
        "inputs": BATCH,
        "update": {"optimizer": "momentum", "lr": 0.1, "momentum": 0.9, "nesterov": True},
    }
    ex = api.post("/api/explain", json=body).json()
    up = ex["update"]
    assert up["method"] == "nesterov" and r"\mu v" in up["formula"]
    for params in up["params"].values():
        for p in params.values():
            w, g = np.asarray(p["before"]), np.asarray(p["grad"])
            np.testing.assert_allclose(p["after"], w - 0.1 * (g + 0.9 * g))


def test_no_cost_means_no_loss(api):
    graph = {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {"id": "t", "op": "tanh", "inputs": {"x": "x"}},
        ],
    }
    inputs = {"x": [[1.0, 2.0]]}
    assert api.post("/api/evaluate", json={"graph": graph, "inputs": inputs}).json()["loss"] is None
    ex = api.post("/api/explain", json={"graph": graph, "inputs": inputs}).json()
    assert ex["loss"] is None and ex["costs"] == [None]


def test_a_bad_update_or_sample_is_refused(api):
    r = api.post("/api/explain", json={"graph": LINREG, "update": {"optimizer": "rmsprop"}})
    assert_error(r, 422)
    r = api.post("/api/explain", json={"graph": LINREG, "inputs": BATCH, "sample": 9})
    assert_error(r, 422, "bad_feed")
