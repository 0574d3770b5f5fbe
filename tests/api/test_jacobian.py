"""POST /api/jacobian: both Jacobians of a block at one sample, and its refusals."""

from __future__ import annotations

import numpy as np

from blockprop.examples import get_example

from .conftest import assert_error

LINREG = get_example("linear_regression")["graph"]


def _chain(width: int, out: int) -> dict:
    return {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [width]}},
            {"id": "l", "op": "linear", "params": {"out_features": out}, "inputs": {"x": "x"}},
            {"id": "h", "op": "tanh", "inputs": {"x": "l"}},
        ],
    }


def test_linear_and_tanh_at_one_sample(api):
    body = {"graph": _chain(3, 2), "inputs": {"x": [[0.5, -1.0, 2.0]]}, "node": "l", "seed": 4}
    r = api.post("/api/jacobian", json=body)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["node"] == "l" and j["d_out"] == 2 and j["out_shape"] == [2]
    state = api.post(
        "/api/evaluate", json={"graph": _chain(3, 2), "inputs": body["inputs"], "seed": 4}
    ).json()["state"]["l"]
    np.testing.assert_allclose(j["wrt"]["x"]["value"], state["W"])  # ∂(Wx + b)/∂x = W
    assert j["wrt"]["W"]["shape"] == [2, 6] and j["wrt"]["b"]["value"] == [[1, 0], [0, 1]]
    h = api.post("/api/jacobian", json={**body, "node": "h"}).json()["wrt"]["x"]
    assert h["diagonal"] and h["shape"] == [2, 2]


def test_g_times_j_is_the_vjp_at_every_block_of_linear_regression(api):
    x = {"x": [[0.3]], "y": [[1.2]]}
    ids = [n["id"] for n in LINREG["nodes"] if n["op"] not in ("input", "target")]
    for nid in ids:
        r = api.post("/api/jacobian", json={"graph": LINREG, "inputs": x, "node": nid})
        assert r.status_code == 200, r.text
        j = r.json()
        for w in j["wrt"].values():
            np.testing.assert_allclose(np.asarray(j["g"]) @ np.asarray(w["value"]), w["vjp"])


def test_too_large_and_unknown_node(api):
    r = api.post("/api/jacobian", json={"graph": _chain(400, 300), "node": "l"})
    err = assert_error(r, 413, "too_large")
    assert "300 × 400" in err["message"] and err["nodes"] == ["l"]
    r = api.post("/api/jacobian", json={"graph": _chain(2, 2), "node": "zz"})
    assert_error(r, 422, "unknown_node")


def test_a_trained_runs_jacobians(runs_api):
    """With `run_id`, the run's trained parameters: ∂(W x + b)/∂x is the trained W."""
    from .conftest import XOR_GRAPH

    run = runs_api.start_run(train={"epochs": 40, "optimizer": "adam", "lr": 0.05})
    assert runs_api.wait_status(run, {"done"})["status"] == "done"
    st = runs_api.get(f"/api/runs/{run['id']}/state").json()
    lin = next(n["id"] for n in XOR_GRAPH["nodes"] if n["op"] == "linear")
    body = {"graph": XOR_GRAPH, "inputs": {"x": [[0.7, -0.4]]}, "node": lin, "run_id": run["id"]}
    r = runs_api.post("/api/jacobian", json=body)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["run"]["id"] == run["id"] and j["run"]["step"] == st["step"]
    np.testing.assert_allclose(j["wrt"]["x"]["value"], st["state"][lin]["W"], rtol=1e-12)
    r = runs_api.post("/api/jacobian", json={**body, "run_id": "nosuchrun"})
    assert_error(r, 404)
