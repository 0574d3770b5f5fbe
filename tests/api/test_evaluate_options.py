"""/api/evaluate predicts without labels (backward false needs no targets), returns only the
`outputs` asked for, and computes in the `dtype` asked for."""

import numpy as np
import pytest

from blockprop.engine.executor import compile_graph

from .conftest import XOR_GRAPH, assert_error

X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y = [[0.0], [1.0], [1.0], [0.0]]


def _ids(kind: str) -> list[str]:
    from blockprop.engine import registry

    return [n["id"] for n in XOR_GRAPH["nodes"] if registry.get(n["op"]).source == kind]


def test_a_prediction_needs_no_targets(api):
    (x,) = _ids("input")
    (y,) = _ids("target")
    full = api.post("/api/evaluate", json={"graph": XOR_GRAPH, "inputs": {x: X, y: Y}}).json()
    body = {"graph": XOR_GRAPH, "inputs": {x: X}, "backward": False}
    r = api.post("/api/evaluate", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["loss"] is None and got["grads"] == {}
    # every node that does not need the labels has the value it has with them
    assert y not in got["values"] and set(got["values"]) < set(full["values"])
    for key, value in got["values"].items():
        np.testing.assert_allclose(value, full["values"][key])
    # with backward the targets are still needed
    body["backward"] = True
    assert_error(api.post("/api/evaluate", json=body), 422)


def test_outputs_narrow_the_answer_and_name_unknown_nodes(api):
    (x,) = _ids("input")
    (y,) = _ids("target")
    keys = [n["id"] for n in XOR_GRAPH["nodes"] if n["id"] not in (x, y)][:2]
    body = {"graph": XOR_GRAPH, "inputs": {x: X, y: Y}, "outputs": keys}
    got = api.post("/api/evaluate", json=body).json()
    assert list(got["values"]) == keys and list(got["grads"]) == keys
    err = assert_error(
        api.post("/api/evaluate", json={**body, "outputs": ["nope"]}), 422, "unknown_node"
    )
    assert err["nodes"] == ["nope"]
    no_labels = {"graph": XOR_GRAPH, "inputs": {x: X}, "backward": False, "outputs": [y]}
    assert_error(api.post("/api/evaluate", json=no_labels), 422, "missing_input")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_the_precision_computed_in(api, dtype):
    (x,) = _ids("input")
    body = {"graph": XOR_GRAPH, "inputs": {x: X}, "backward": False, "dtype": dtype}
    got = api.post("/api/evaluate", json=body).json()
    bare = {**XOR_GRAPH, "nodes": [n for n in XOR_GRAPH["nodes"] if n["id"] in got["values"]]}
    plan = compile_graph(bare, 4, dtype=np.dtype(dtype), seed=0)
    plan.forward({x: np.asarray(X)}, training=False)
    for key, value in got["values"].items():
        np.testing.assert_array_equal(np.asarray(value, dtype), plan.values[key])
    assert_error(api.post("/api/evaluate", json={**body, "dtype": "float16"}), 422)
