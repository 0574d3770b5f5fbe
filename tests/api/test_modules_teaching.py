"""Graphs with modules in the teaching routes: mini-batch explain (blocks of the walked
sample), Jacobians of inner and tied nodes, the landscape over an inner parameter, and a
cost made from primitives (``as_cost``) inside a module."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.examples import get_example

# a residual-style block: l = linear(x), y = x + tanh(l)
BLOCK = {
    "inputs": ["x"],
    "outputs": {"y": "s"},
    "nodes": [
        {"id": "l", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "x"}},
        {"id": "t", "op": "tanh", "inputs": {"x": "l"}},
        {"id": "s", "op": "add", "inputs": {"a": "x", "b": "t"}},
    ],
}
# a squared error written from primitives and marked as the cost
SQUARED = {
    "inputs": ["y", "target"],
    "outputs": {"c": "c"},
    "nodes": [
        {"id": "d", "op": "subtract", "inputs": {"a": "y", "b": "target"}},
        {"id": "q", "op": "multiply", "inputs": {"a": "d", "b": "d"}},
        {"id": "s", "op": "sum", "inputs": {"x": "q"}},
        {"id": "c", "op": "as_cost", "inputs": {"x": "s"}},
    ],
}


def doc(tie=None):
    def inst(nid, module, **inputs):
        params = {"module": module} | ({"tie": tie} if tie and nid == "b2" else {})
        return {"id": nid, "op": "module", "params": params, "inputs": inputs}

    return {
        "version": 1,
        "modules": {"block": BLOCK, "squared": SQUARED},
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {"id": "y", "op": "target", "params": {"shape": [2]}},
            inst("b1", "block", x="x"),
            inst("b2", "block", x="b1"),
            inst("cost", "squared", y="b2", target="y"),
        ],
    }


BATCH = {"x": [[0.5, -1.0], [2.0, 0.1], [-0.3, 0.7]], "y": [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]}


def test_mini_batch_explain_with_modules_matches_evaluate(api):
    body = {"graph": doc(), "inputs": BATCH, "seed": 3}
    ex = api.post("/api/explain", json={**body, "sample": 1})
    assert ex.status_code == 200, ex.text
    ex = ex.json()
    ev = api.post("/api/evaluate", json=body).json()
    assert ex["loss"] == pytest.approx(ev["loss"])
    np.testing.assert_allclose(ex["costs"], ev["values"]["cost/c"])
    for nid, grads in ev["param_grads"].items():
        for k, g in grads.items():
            np.testing.assert_allclose(ex["param_grads"][nid][k], g, atol=1e-12)
    blocks = {b["id"]: b for b in ex["blocks"]}
    assert list(blocks) == ["b1", "b2", "cost"]
    # the blocks show the walked sample (1), not the last one fed
    np.testing.assert_allclose(blocks["b2"]["outputs"]["y"]["value"], ev["values"]["b2/s"][1])
    assert blocks["cost"]["outputs"]["c"]["value"] == pytest.approx(ev["values"]["cost/c"][1])


@pytest.mark.parametrize("tie", [None, "b1"])
def test_jacobian_of_inner_and_tied_nodes(api, tie):
    body = {"graph": doc(tie), "inputs": {"x": [[0.5, -1.0]], "y": [[1.0, 0.0]]}, "seed": 2}
    r = api.post("/api/jacobian", json={**body, "node": "b2/l"})
    assert r.status_code == 200, r.text
    j = r.json()
    state = api.post("/api/evaluate", json=body).json()["state"]
    owner = "b1/l" if tie else "b2/l"
    assert set(state) == ({"b1/l"} if tie else {"b1/l", "b2/l"})
    np.testing.assert_allclose(j["wrt"]["x"]["value"], state[owner]["W"])  # ∂(Wx + b)/∂x
    assert j["wrt"]["W"]["shape"] == [2, 4]  # a tied node's parameters are its owner's
    for w in j["wrt"].values():
        np.testing.assert_allclose(np.asarray(j["g"]) @ np.asarray(w["value"]), w["vjp"])


def test_landscape_over_an_inner_parameter():
    from blockprop.engine.data import load_dataset
    from blockprop.engine.landscape import landscape

    ex = get_example("linear_regression")
    ds = load_dataset(**{**ex["dataset"], "n": 30})
    graph = {
        "version": 1,
        "modules": {
            "line": {
                "inputs": ["x"],
                "outputs": {"y": "l"},
                "nodes": [
                    {"id": "l", "op": "linear", "params": {"out_features": 1}, "inputs": {"x": "x"}}
                ],
            }
        },
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [1]}},
            {"id": "m", "op": "module", "params": {"module": "line"}, "inputs": {"x": "x"}},
            {"id": "y", "op": "target", "params": {"shape": [1]}},
            {"id": "c", "op": "squared_error", "inputs": {"y": "m", "target": "y"}},
        ],
    }
    axes = [
        {"param": "m/l.W", "index": [0, 0], "range": [-1.0, 3.0]},
        {"param": "m/l.b", "index": [0], "range": [-1.0, 1.0]},
    ]
    flat = {**ex["graph"]}  # the same model without the module
    flat_axes = [{**a, "param": a["param"].replace("m/l", "lin")} for a in axes]
    kw = {"steps": 3, "config": {"lr": 0.2}, "start": (1.0, 0.0)}  # (inits differ by node id)
    out = landscape(graph, ds, axes, (5, 4), **kw)
    ref = landscape(flat, ds, flat_axes, (5, 4), **kw)
    np.testing.assert_allclose(out["loss"], ref["loss"], rtol=1e-10)
    for method, path in ref["paths"].items():  # the descents move the inner parameters alike
        np.testing.assert_allclose(out["paths"][method], path, rtol=1e-8)


def test_a_prediction_leaves_out_a_cost_module_that_needs_the_unfed_target(api):
    body = {"graph": doc("b1"), "inputs": {"x": BATCH["x"]}, "backward": False, "seed": 1}
    r = api.post("/api/evaluate", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["loss"] is None and "b2/s" in out["values"]
    assert not any(k.startswith("cost/") for k in out["values"])
    full = api.post("/api/evaluate", json={**body, "inputs": BATCH}).json()
    np.testing.assert_allclose(out["values"]["b2/s"], full["values"]["b2/s"])
    assert set(out["state"]) == {"b1/l"}  # b2 is tied to b1: one set of parameters
