"""Ops, validate, evaluate and gradcheck."""

import numpy as np

from blockprop.engine import registry

from .conftest import XOR_GRAPH, assert_error, graph

FEEDS = {"x": [[0.5, -1.0], [1.0, 0.25], [-0.3, 0.8]], "y": [[1.0], [0.0], [1.0]]}


def test_ops_lists_the_registry(api):
    ops = api.get("/api/ops").json()
    assert [o["name"] for o in ops] == registry.names()
    linear = next(o for o in ops if o["name"] == "linear")
    assert linear["category"] == "function"
    assert {p["name"] for p in linear["parameters"]} >= {"W", "b"}
    assert linear["formula"]["forward"] and linear["formula"]["backward"]


def test_validate_a_good_graph(api):
    r = api.post("/api/validate", json=XOR_GRAPH)
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["errors"] == []
    assert body["order"][0] in ("x", "y") and body["shapes"]["hidden"] == [4]


def test_validate_reports_problems_with_200(api):
    doc = graph(
        nodes=[
            {"id": "a", "op": "tanh", "inputs": {"x": "b"}},
            {"id": "b", "op": "tanh", "inputs": {"x": "a"}},
        ]
    )
    r = api.post("/api/validate", json=doc)
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False
    cycle = next(e for e in body["errors"] if e["code"] == "cycle")
    assert set(cycle["nodes"]) == {"a", "b"}


def test_validate_names_node_and_port(api):
    doc = graph(
        nodes=[
            *XOR_GRAPH["nodes"][:-1],
            {
                "id": "cost",
                "op": "binary_cross_entropy",
                "inputs": {"logits": "score", "target": "zz"},
            },
        ]
    )
    errors = api.post("/api/validate", json=doc).json()["errors"]
    assert any(e["nodes"] == ["cost"] and e["port"] == "target" for e in errors), errors


def test_validate_refuses_graphs_too_large_for_memory(api):
    doc = graph(
        nodes=[
            {"id": "x", "op": "input", "params": {"shape": [100_000]}},
            {"id": "l", "op": "linear", "params": {"out_features": 100_000}, "inputs": {"x": "x"}},
        ]
    )
    body = api.post("/api/validate", json=doc).json()
    assert body["ok"] is False and body["errors"][0]["code"] == "too_large"
    r = api.post("/api/evaluate", json={"graph": doc, "inputs": {"x": [[0.0] * 3]}})
    assert_error(r, 422, "too_large")


def test_evaluate_returns_values_gradients_and_state(api):
    r = api.post("/api/evaluate", json={"graph": XOR_GRAPH, "inputs": FEEDS, "seed": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"loss", "values", "grads", "param_grads", "state"}
    assert np.asarray(body["values"]["hidden"]).shape == (3, 4)
    assert np.asarray(body["grads"]["score"]).shape == (3, 1)
    assert np.asarray(body["param_grads"]["hidden"]["W"]).shape == (4, 2)
    assert body["loss"] > 0
    # stateless and deterministic: the same seed gives the same numbers; state round-trips
    again = api.post("/api/evaluate", json={"graph": XOR_GRAPH, "inputs": FEEDS, "seed": 3})
    assert again.json()["loss"] == body["loss"]
    with_state = graph(state=body["state"])
    other = api.post("/api/evaluate", json={"graph": with_state, "inputs": FEEDS, "seed": 99})
    assert other.json()["loss"] == body["loss"]


def test_evaluate_gradients_match_finite_differences(api):
    body = api.post("/api/evaluate", json={"graph": XOR_GRAPH, "inputs": FEEDS}).json()
    state = body["state"]
    w = np.asarray(state["score"]["W"], dtype=float)
    eps = 1e-6

    def loss_with(delta):
        s = {k: dict(v) for k, v in state.items()}
        s["score"] = {**s["score"], "W": (w + delta).tolist()}
        r = api.post(
            "/api/evaluate", json={"graph": graph(state=s), "inputs": FEEDS, "backward": False}
        )
        return r.json()["loss"]

    d = np.zeros_like(w)
    d[0, 1] = eps
    numeric = (loss_with(d) - loss_with(-d)) / (2 * eps)
    assert abs(numeric - body["param_grads"]["score"]["W"][0][1]) < 1e-6


def test_evaluate_without_backward(api):
    body = api.post(
        "/api/evaluate", json={"graph": XOR_GRAPH, "inputs": FEEDS, "backward": False}
    ).json()
    assert body["grads"] == {} and body["param_grads"] == {}


def test_evaluate_bad_feeds_are_422_naming_the_node(api):
    r = api.post("/api/evaluate", json={"graph": XOR_GRAPH, "inputs": {"x": FEEDS["x"]}})
    assert assert_error(r, 422, "bad_feed")["nodes"] == ["y"]
    r = api.post(
        "/api/evaluate", json={"graph": XOR_GRAPH, "inputs": {"x": [[1, 2], [3]], "y": [[1], [0]]}}
    )
    assert assert_error(r, 422, "bad_feed")["nodes"] == ["x"]
    r = api.post(
        "/api/evaluate", json={"graph": XOR_GRAPH, "inputs": {"x": [[1, 2]], "y": [[1], [0]]}}
    )
    assert_error(r, 422, "bad_feed")
    r = api.post("/api/evaluate", json={"graph": XOR_GRAPH, "inputs": {"x": "abc", "y": [1]}})
    assert_error(r, 422, "bad_feed")


def test_evaluate_an_invalid_graph_is_422(api):
    doc = graph(nodes=[{"id": "a", "op": "no_such_op"}])
    err = assert_error(api.post("/api/evaluate", json={"graph": doc, "inputs": {"a": [1]}}), 422)
    assert err["code"] == "unknown_op" and err["nodes"] == ["a"]


def test_gradcheck(api):
    r = api.post("/api/gradcheck", json={"graph": XOR_GRAPH, "inputs": FEEDS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["max_error"] < 1e-4
    assert "hidden.W" in body["errors"] and "h" in body["errors"]
    only = api.post(
        "/api/gradcheck", json={"graph": XOR_GRAPH, "inputs": FEEDS, "keys": ["score.W"]}
    ).json()
    assert list(only["errors"]) == ["score.W"]


def test_gradcheck_is_capped(api):
    feeds = {"x": [[0.1, 0.2]] * 5000, "y": [[1.0]] * 5000}
    r = api.post("/api/gradcheck", json={"graph": XOR_GRAPH, "inputs": feeds})
    assert "keys" in assert_error(r, 413, "too_large")["message"]


def test_evaluate_in_training_mode_runs_batch_norm_on_the_batch(api):
    doc = graph(
        nodes=[
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {"id": "bn", "op": "batch_norm", "inputs": {"x": "x"}},
        ]
    )
    x = [[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]]
    body = {"graph": doc, "inputs": {"x": x}, "backward": False}
    evaluation = api.post("/api/evaluate", json=body).json()
    assert evaluation["state"]["bn"]["running_mean"] == [0.0, 0.0]  # running statistics
    np.testing.assert_allclose(evaluation["values"]["bn"], np.array(x) / np.sqrt(1 + 1e-5))
    training = api.post("/api/evaluate", json={**body, "training": True}).json()
    np.testing.assert_allclose(np.mean(training["values"]["bn"], axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(training["state"]["bn"]["running_mean"], [0.3, 3.0])
