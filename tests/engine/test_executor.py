"""Compiled plans: values, gradients, fan-out, batches, state, modes, deep graphs."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import blockprop.engine as engine
from blockprop.engine import GraphError, compile_graph, gradcheck

from .graphs import doc, node
from .test_graph import mlp


def _feeds(batch, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((batch, 2)), "y": rng.integers(0, 2, batch)}


def test_package_exports():
    for name in ("validate", "compile_graph", "gradcheck", "registry", "GraphError"):
        assert hasattr(engine, name)
    for mod in ("fastapi", "pydantic", "starlette"):
        for m in list(sys.modules):
            if m.startswith("blockprop.engine"):
                src = getattr(sys.modules[m], "__file__", "") or ""
                if src.endswith(".py"):
                    with open(src) as f:
                        assert f"import {mod}" not in f.read(), f"{m} imports {mod}"


def test_mlp_matches_plain_numpy():
    plan = compile_graph(mlp(), 5, dtype=np.float64)
    f = _feeds(5)
    loss = plan.forward(f)
    p = plan.params
    h = np.maximum(f["x"] @ p["l1"]["W"].T + p["l1"]["b"], 0)
    z = h @ p["l2"]["W"].T + p["l2"]["b"]
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(5), f["y"]].mean(), rel=1e-12)
    np.testing.assert_allclose(plan.values["h1"], h)
    plan.backward()
    gz = (np.exp(logp) - np.eye(2)[f["y"]]) / 5
    np.testing.assert_allclose(plan.grads["l2"], gz, atol=1e-15)
    np.testing.assert_allclose(plan.param_grads["l2"]["W"], gz.T @ h, atol=1e-15)
    np.testing.assert_allclose(plan.param_grads["l2"]["b"], gz.sum(0), atol=1e-15)
    np.testing.assert_allclose(plan.grads["c"], np.full(5, 1 / 5))
    assert plan.state_dict()["l1"]["W"] == DESIGN_W  # the document's state was loaded


DESIGN_W = [[0.1, -0.2]] * 16


def test_plan_attributes_and_repr():
    plan = compile_graph(mlp(), 8)
    assert plan.order == ["x", "y", "l1", "h1", "l2", "c"]
    assert plan.input_ids == ["x"] and plan.target_ids == ["y"] and plan.cost_ids == ["c"]
    assert plan.batch_size == 8 and plan.dtype == np.float32
    assert plan.values["l1"].shape == (8, 16) and plan.values["l1"].dtype == np.float32
    assert plan.values["y"].dtype.kind == "i"
    assert set(plan.params) == {"l1", "l2"} and plan.params["l2"]["W"].shape == (2, 16)
    assert plan.shapes["l2"] == [2]
    assert "batch 8" in repr(plan) and "float32" in repr(plan)
    assert plan.num_params == 16 * 2 + 16 + 2 * 16 + 2


def test_loss_is_mean_over_batch_of_sum_of_costs():
    nodes = [
        node("x", "input", shape=[2]),
        node("t", "target", shape=[2]),
        node("c1", "squared_error", {"y": "x", "target": "t"}),
        node("c2", "l1", {"y": "x", "target": "t"}),
    ]
    x, t = np.array([[1.0, 2.0], [0.0, -1.0]]), np.zeros((2, 2))
    plan = compile_graph(doc(*nodes), 2, dtype=np.float64, grads="all")
    loss = plan.forward({"x": x, "t": t})
    assert loss == pytest.approx(((x**2).sum(1) + np.abs(x).sum(1)).mean())
    plan.backward()
    np.testing.assert_allclose(plan.grads["x"], (2 * x + np.sign(x)) / 2)


def test_no_cost_graph_is_a_pure_function():
    d = doc(
        node("x", "input", shape=[3]),
        node("l", "linear", {"x": "x"}, out_features=2),
        node("s", "sigmoid", {"x": "l"}),
    )
    assert engine.validate(d).ok
    plan = compile_graph(d, 4)
    assert plan.forward({"x": np.ones((4, 3))}) == 0.0
    plan.backward()
    assert all(not g.any() for g in plan.grads.values())
    assert all(not g.any() for p in plan.param_grads.values() for g in p.values())
    assert plan.values["s"].min() > 0


def _fanout_doc(explicit: bool):
    nodes = [node("x", "input", shape=[3]), node("l", "linear", {"x": "x"}, out_features=3)]
    if explicit:  # the teaching block: Duplicate
        nodes.append(node("d", "duplicate", {"x": "l"}))
        a, b = "d:y1", "d:y2"
    else:  # plain fan-out: the same output used twice
        a = b = "l"
    nodes += [
        node("p", "tanh", {"x": a}),
        node("q", "square", {"x": b}),
        node("m", "multiply", {"a": "p", "b": "q"}),
        node("t", "target", shape=[3]),
        node("c", "mse", {"y": "m", "target": "t"}),
    ]
    return doc(*nodes)


def test_fan_out_gradients_are_summed():
    feeds = {"x": np.random.default_rng(1).standard_normal((4, 3)), "t": np.ones((4, 3))}
    a = compile_graph(_fanout_doc(False), 4, dtype=np.float64)
    b = compile_graph(_fanout_doc(True), 4, dtype=np.float64)
    assert a.forward(feeds) == b.forward(feeds)
    a.backward()
    b.backward()
    np.testing.assert_allclose(a.param_grads["l"]["W"], b.param_grads["l"]["W"])
    np.testing.assert_allclose(b.grads["l"], b.grads["d:y1"] + b.grads["d:y2"])
    for d in (_fanout_doc(False), _fanout_doc(True)):
        assert max(gradcheck(d, feeds).values()) < 1e-6


def test_same_source_on_both_ports():
    d = doc(
        node("x", "input", shape=[2]),
        node("m", "multiply", {"a": "x", "b": "x"}),
        node("s", "sum", {"x": "m"}),
        node("t", "target", shape=[]),
        node("c", "squared_error", {"y": "s", "target": "t"}),
    )
    f = {"x": np.array([[1.0, 2.0]]), "t": np.array([0.0])}
    plan = compile_graph(d, 1, dtype=np.float64, grads="all")
    plan.forward(f)
    plan.backward()
    np.testing.assert_allclose(plan.grads["x"], 2 * 5 * 2 * f["x"])  # d(|x|^2)^2 / dx
    assert max(gradcheck(d, f).values()) < 1e-6


def test_cost_that_feeds_another_node():
    d = doc(
        node("x", "input", shape=[2]),
        node("t", "target", shape=[2]),
        node("c", "squared_error", {"y": "x", "target": "t"}),
        node("k", "constant", value=3.0),
        node("m", "multiply", {"a": "c", "b": "k"}),
        node("t2", "target", shape=[]),
        node("c2", "l1", {"y": "m", "target": "t2"}),
    )
    f = {"x": np.array([[1.0, 2.0], [0.5, 0.0]]), "t": np.zeros((2, 2)), "t2": np.zeros(2)}
    plan = compile_graph(d, 2, dtype=np.float64)
    for _ in range(2):  # the seeded dL/dc is restored every step
        plan.forward(f)
        plan.backward()
        np.testing.assert_allclose(plan.grads["c"], [0.5 + 1.5, 0.5 + 1.5])
    assert max(gradcheck(d, f).values()) < 1e-6


def test_grad_modes():
    d = doc(
        node("x", "input", shape=[3]),
        node("f", "flatten", {"x": "x"}),
        node("l", "linear", {"x": "f"}, out_features=2),
        node("t", "target", shape=[2]),
        node("c", "mse", {"y": "l", "target": "t"}),
    )
    assert set(compile_graph(d, 2).grads) == {"f", "l", "c"}
    assert set(compile_graph(d, 2, grads="all").grads) == {"x", "f", "l", "t", "c"}
    assert set(compile_graph(d, 2, grads="params").grads) == {"l", "c"}
    f = {"x": np.ones((2, 3)), "t": np.zeros((2, 2))}
    results = []
    for mode in ("params", "nodes", "all"):
        plan = compile_graph(d, 2, grads=mode, dtype=np.float64)
        plan.forward(f)
        plan.backward()
        results.append(plan.param_grads["l"]["W"].copy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    with pytest.raises(ValueError):
        compile_graph(d, 2, grads="some")


def test_for_batch_shares_parameters():
    plan = compile_graph(mlp(), 8)
    small = plan.for_batch(3)
    assert small is plan.for_batch(3) and plan.for_batch(8) is plan
    assert small.for_batch(8) is plan
    assert small.params["l1"]["W"] is plan.params["l1"]["W"]
    assert small.param_grads["l1"]["W"] is plan.param_grads["l1"]["W"]
    small.forward(_feeds(3))
    small.backward()
    ref = compile_graph(mlp(), 3)
    ref.forward(_feeds(3))
    ref.backward()
    np.testing.assert_allclose(plan.param_grads["l2"]["W"], ref.param_grads["l2"]["W"])
    plan.params["l2"]["W"] *= 2.0  # an optimiser step on one is seen by the other
    assert small.forward(_feeds(3)) != ref.forward(_feeds(3))


def test_clone_shares_parameters_not_buffers():
    plan = compile_graph(mlp(), 4)
    ev = plan.clone(6, grads="params")
    assert ev is not plan.for_batch(6) and ev.batch_size == 6 and ev.grads_mode == "params"
    assert ev.params["l1"]["W"] is plan.params["l1"]["W"]
    plan.forward(_feeds(4))
    kept = plan.values["h1"].copy()
    ev.forward(_feeds(6, seed=3))
    np.testing.assert_array_equal(plan.values["h1"], kept)
    assert plan.clone().batch_size == 4


def test_state_round_trip_and_seeded_init():
    a = compile_graph(mlp(), 2, seed=7)
    b = compile_graph(mlp(), 2, seed=7)
    assert a.state_dict() == b.state_dict()
    d = mlp()
    del d["state"]
    c = compile_graph(d, 2, seed=7)
    e = compile_graph(d, 2, seed=8)
    assert c.state_dict()["l2"] != e.state_dict()["l2"]
    assert not np.any(c.params["l1"]["b"])  # biases start at zero
    # initial values depend on (seed, node, name), not on the rest of the graph
    d2 = mlp()
    del d2["state"]
    d2["nodes"].insert(2, node("extra", "linear", {"x": "x"}, out_features=5))
    assert compile_graph(d2, 2, seed=7).state_dict()["l2"] == c.state_dict()["l2"]
    c.load_state(a.state_dict())
    assert c.state_dict() == a.state_dict()
    w = c.params["l1"]["W"]
    c.load_state({"l1": {"W": np.zeros((16, 2))}})
    assert w is c.params["l1"]["W"] and not w.any()  # loaded in place
    assert compile_graph(mlp(), 2, state={"l1": {"b": [1.0] * 16}}).params["l1"]["b"][0] == 1.0


def test_initialisers_have_the_right_scale():
    fan_in, out = 400, 300
    for init, std in [
        ("uniform", 1 / np.sqrt(3 * fan_in)),
        ("xavier", np.sqrt(2 / (fan_in + out))),
        ("he", np.sqrt(2 / fan_in)),
    ]:
        d = doc(
            node("x", "input", shape=[fan_in]),
            node("l", "linear", {"x": "x"}, out_features=out, init=init),
        )
        W = compile_graph(d, 1, dtype=np.float64).params["l"]["W"]
        assert W.std() == pytest.approx(std, rel=0.03), init
    d = doc(node("w", "parameter", shape=[3, 4], init="zeros"))
    assert not compile_graph(d, 1).params["w"]["value"].any()


def test_float64_on_request():
    plan = compile_graph(mlp(), 2, dtype=np.float64)
    assert plan.values["l1"].dtype == np.float64 and plan.params["l1"]["W"].dtype == np.float64
    with pytest.raises(ValueError):
        compile_graph(mlp(), 2, dtype=np.int32)
    with pytest.raises(ValueError):
        compile_graph(mlp(), 0)


def test_non_finite_values_come_out_and_are_located():
    d = doc(
        node("x", "input", shape=[2]),
        node("l", "log", {"x": "x"}),
        node("e", "exp", {"x": "l"}),
        node("t", "target", shape=[2]),
        node("c", "mse", {"y": "e", "target": "t"}),
    )
    plan = compile_graph(d, 1)
    ok = plan.forward({"x": np.array([[1.0, 2.0]]), "t": np.zeros((1, 2))})
    assert np.isfinite(ok) and plan.first_nonfinite() is None
    with np.errstate(all="ignore"):
        loss = plan.forward({"x": np.array([[-1.0, 2.0]]), "t": np.zeros((1, 2))})
        plan.backward()
    assert np.isnan(loss)
    assert plan.first_nonfinite() == "l"


def test_feeding_the_input_buffers_in_place():
    plan = compile_graph(mlp(), 4)
    f = _feeds(4, seed=2)
    expected = plan.forward(f)
    plan.values["x"][...] = 0.0
    np.take(f["x"], np.arange(4), axis=0, out=plan.values["x"])  # a batch written in place
    plan.values["y"][...] = f["y"]
    assert plan.forward({"x": plan.values["x"], "y": plan.values["y"]}) == expected


def test_values_are_reused_between_steps():
    plan = compile_graph(mlp(), 2)
    before = plan.values["h1"]
    plan.forward(_feeds(2, seed=1))
    first = before.copy()
    plan.forward(_feeds(2, seed=2))
    assert plan.values["h1"] is before and not np.array_equal(first, before)


def _chain(n):
    nodes = [node("x", "input", shape=[2]), node("l", "linear", {"x": "x"}, out_features=2)]
    prev = "l"
    for i in range(n):
        nodes.append(node(f"r{i}", "relu", {"x": prev}))
        prev = f"r{i}"
    nodes += [
        node("t", "target", shape=[2]),
        node("c", "squared_error", {"y": prev, "target": "t"}),
    ]
    return doc(*nodes)


def _run_chain(n):
    d = _chain(n)
    # CPU time of this process: linearity is about the engine, not about what else the
    # machine runs meanwhile (wall time on a busy 2-core machine made the ratio noisy)
    t0 = time.process_time()
    plan = compile_graph(d, 2, dtype=np.float64, state={"l": {"W": [[1, 0], [0, 1]], "b": [1, 1]}})
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    loss = plan.forward({"x": x, "t": np.zeros((2, 2))})
    plan.backward()
    took = time.process_time() - t0
    assert loss == pytest.approx(((x + 1) ** 2).sum(1).mean())
    np.testing.assert_allclose(plan.grads["r0"], (x + 1))  # 2 (y - 0) / batch of 2
    np.testing.assert_allclose(plan.param_grads["l"]["b"], (x + 1).sum(0))
    return took


def test_100k_node_chain_without_recursion():
    limit = sys.getrecursionlimit()
    assert limit <= 1000 * 3  # the default (pytest may raise it a little), not a raised one
    t_small = _run_chain(10_000)
    t_big = _run_chain(100_000)
    assert t_big < 60
    assert t_big / t_small < 30, (t_small, t_big)  # about 10 for linear time
    assert sys.getrecursionlimit() == limit


def test_plan_errors_are_graph_errors():
    with pytest.raises(GraphError) as e:
        compile_graph({"nodes": "x"}, 1)
    assert e.value.code == "bad_graph"


def test_float32_agrees_with_float64():
    f = _feeds(6, seed=5)
    p32 = compile_graph(mlp(), 6, seed=3)
    p64 = compile_graph(mlp(), 6, seed=3, dtype=np.float64)
    assert p32.forward(f) == pytest.approx(p64.forward(f), rel=1e-5)
    p32.backward()
    p64.backward()
    for n, p in p64.param_grads.items():
        for k, g in p.items():
            np.testing.assert_allclose(p32.param_grads[n][k], g, rtol=1e-4, atol=1e-6)


def test_training_forward_is_seeded():
    d = doc(node("x", "input", shape=[50]), node("d", "dropout", {"x": "x"}, p=0.5))
    x = {"x": np.ones((2, 50))}
    a, b = compile_graph(d, 2, seed=4), compile_graph(d, 2, seed=4)
    a.forward(x, training=True)
    b.forward(x, training=True)
    np.testing.assert_array_equal(a.values["d"], b.values["d"])
    a.forward(x, training=True)  # the generator moves on
    assert not np.array_equal(a.values["d"], b.values["d"])
