"""POST /api/explain (one sample, node by node) and gradcheck's per-item sampling."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.examples import get_example, list_examples

from .conftest import assert_error

TWO_LAYER = {
    "version": 1,
    "name": "two-layer network",
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [3]}},
        {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
        {"id": "l1", "op": "linear", "params": {"out_features": 4}, "inputs": {"x": "x"}},
        {"id": "h", "op": "relu", "inputs": {"x": "l1"}},
        {"id": "l2", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "h"}},
        {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
    ],
}
SAMPLE = {"x": [[0.5, -1.0, 2.0]], "y": [1]}


def test_explain_matches_evaluate(api):
    ex = api.post("/api/explain", json={"graph": TWO_LAYER, "inputs": SAMPLE, "seed": 3})
    assert ex.status_code == 200, ex.text
    ex = ex.json()
    ev = api.post("/api/evaluate", json={"graph": TWO_LAYER, "inputs": SAMPLE, "seed": 3}).json()
    assert ex["loss"] == pytest.approx(ev["loss"])
    assert ex["order"] == ["x", "y", "l1", "h", "l2", "c"]
    for n in ex["nodes"]:
        out = n["outputs"][0]
        np.testing.assert_allclose(out["value"], ev["values"][n["id"]][0])
        if n["id"] in ev["grads"]:
            np.testing.assert_allclose(out["grad"], ev["grads"][n["id"]][0])
    for nid, p in ex["param_grads"].items():
        for name, g in p.items():
            np.testing.assert_allclose(g, ev["param_grads"][nid][name])
    l2 = next(n for n in ex["nodes"] if n["id"] == "l2")
    # the local rule of Linear with the numbers: dC/dx = W^T dC/dy
    W = np.array(ex["state"]["l2"]["W"])
    g = np.array(l2["outputs"][0]["grad"])
    np.testing.assert_allclose(l2["vjps"]["x"], W.T @ g)
    np.testing.assert_allclose(ex["param_grads"]["l2"]["W"], np.outer(g, l2["env"]["x"]))
    assert l2["outputs"][0]["consumers"] == [{"node": "c", "port": "logits"}]


def test_explain_fills_missing_feeds_and_says_what_to_feed(api):
    r = api.post("/api/explain", json={"graph": TWO_LAYER})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["feeds"] == [
        {"id": "x", "role": "input", "shape": [3], "dtype": "float"},
        {"id": "y", "role": "target", "shape": [], "dtype": "int"},
    ]
    assert np.shape(body["inputs"]["x"]) == (1, 3) and body["inputs"]["y"] == [0]


def test_explain_errors(api):
    rows = [[1, 2, 3]] * 17  # more than a mini-batch on the board (16)
    r = api.post("/api/explain", json={"graph": TWO_LAYER, "inputs": {"x": rows}})
    assert_error(r, 422, "bad_feed")
    bad = {**TWO_LAYER, "nodes": [*TWO_LAYER["nodes"][:2], {"id": "h", "op": "relu"}]}
    assert_error(api.post("/api/explain", json={"graph": bad}), 422, "missing_input")
    assert_error(api.post("/api/explain", json={"graph": TWO_LAYER, "extra": 1}), 422)


def test_ops_carry_their_explain_templates(api):
    ops = {o["name"]: o for o in api.get("/api/ops").json()}
    assert ops["linear"]["explain"]["vjp"]["x"] == r"@W^\top @g"
    assert ops["duplicate"]["explain"]["vjp"]["x"] == "@g.y1 + @g.y2"


@pytest.mark.parametrize("eid", [e["id"] for e in list_examples()])
def test_gradcheck_every_example_on_one_sample(api, eid):
    """What the classroom's one-click check sends: the explain sample, 32 entries per item."""
    graph = get_example(eid)["graph"]
    inputs = api.post("/api/explain", json={"graph": graph}).json()["inputs"]
    r = api.post("/api/gradcheck", json={"graph": graph, "inputs": inputs, "per_item": 32})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"], body
    assert set(body["checked"]) == set(body["errors"])
    assert all(body["checked"][k] == min(32, body["elements"][k]) for k in body["errors"])


def test_gradcheck_without_sampling_is_capped(api):
    graph = get_example("notes_network")["graph"]
    inputs = api.post("/api/explain", json={"graph": graph}).json()["inputs"]
    r = api.post("/api/gradcheck", json={"graph": graph, "inputs": inputs})
    err = assert_error(r, 413, "too_large")
    assert "per_item" in err["message"]


def test_explain_refuses_graphs_too_large_for_memory(api):
    huge = {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [20000, 20000]}},
            {"id": "h", "op": "tanh", "inputs": {"x": "x"}},
        ],
    }
    r = api.post("/api/explain", json={"graph": huge})
    assert_error(r, 413 if r.status_code == 413 else 422, "too_large")
