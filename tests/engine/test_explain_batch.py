"""Explain on a mini-batch: each sample's cost and gradient, their mean, and one update."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.engine import compile_graph
from blockprop.engine.explain import explain
from blockprop.engine.optim import FORMULAS

from .graphs import doc, node

TWO_LAYER = doc(
    node("x", "input", shape=[3]),
    node("y", "target", shape=[], dtype="int"),
    node("l1", "linear", {"x": "x"}, out_features=4),
    node("h", "tanh", {"x": "l1"}),
    node("l2", "linear", {"x": "h"}, out_features=2),
    node("c", "cross_entropy", {"logits": "l2", "target": "y"}),
)


def _batch(P, seed=1):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((P, 3)), "y": rng.integers(0, 2, P)}


def test_costs_loss_and_gradients_match_a_batch_step():
    feeds = _batch(5)
    ex = explain(TWO_LAYER, feeds, seed=2, sample=3)
    plan = compile_graph(TWO_LAYER, 5, dtype=np.float64, seed=2, grads="all")
    loss = plan.forward(feeds)
    plan.backward()
    np.testing.assert_allclose(ex["costs"], plan.values["c"])
    assert ex["loss"] == pytest.approx(loss)
    assert ex["batch"]["size"] == 5 and ex["batch"]["sample"] == 3
    for nid, grads in plan.param_grads.items():
        for k, g in grads.items():
            np.testing.assert_allclose(ex["param_grads"][nid][k], g, atol=1e-14)
            rows = ex["batch"]["param_grads"][nid][k]
            assert rows.shape == (5, *g.shape)
            np.testing.assert_allclose(rows.mean(axis=0), g, atol=1e-14)
    # the walk is sample 3's: its cost node holds C_3, and dC/dc = 1 for one sample
    c = next(n for n in ex["nodes"] if n["id"] == "c")
    assert c["outputs"][0]["value"] == pytest.approx(ex["costs"][3])
    assert c["outputs"][0]["grad"] == pytest.approx(1.0)


def test_one_sample_is_what_it_was():
    ex = explain(TWO_LAYER, _batch(1))
    assert ex["costs"] == [pytest.approx(ex["loss"])] and ex["batch"]["size"] == 1


@pytest.mark.parametrize(
    ("settings", "method"),
    [
        ({"optimizer": "sgd", "lr": 0.5}, "sgd"),
        ({"optimizer": "momentum", "lr": 0.5, "momentum": 0.8}, "momentum"),
        ({"optimizer": "momentum", "lr": 0.5, "momentum": 0.8, "nesterov": True}, "nesterov"),
        ({"optimizer": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8}, "adam"),
    ],
)
def test_one_update_is_the_optimisers_first_step(settings, method):
    ex = explain(TWO_LAYER, _batch(4), update=settings)
    up = ex["update"]
    assert up["method"] == method and up["formula"] == FORMULAS[method]
    lr = settings["lr"]
    for nid, params in up["params"].items():
        for k, p in params.items():
            w, g = np.asarray(p["before"]), np.asarray(p["grad"])
            np.testing.assert_allclose(g, ex["param_grads"][nid][k])
            if method == "sgd":
                want = w - lr * g
            elif method == "momentum":  # v = g on the first step
                want = w - lr * g
                np.testing.assert_allclose(p["state"]["v"], g)
            elif method == "nesterov":
                want = w - lr * (g + settings["momentum"] * g)
            else:  # m = (1-β1) g, v = (1-β2) g², bias-corrected: the step is lr·g/(|g| + ε')
                b1, b2, eps = settings["beta1"], settings["beta2"], settings["eps"]
                m, v = (1 - b1) * g, (1 - b2) * g * g
                want = w - lr / (1 - b1) * m / (np.sqrt(v) / np.sqrt(1 - b2) + eps)
                np.testing.assert_allclose(p["state"]["m"], m)
            np.testing.assert_allclose(p["after"], want, rtol=1e-12, atol=1e-15)


def test_dropout_shows_its_mask_in_training_mode():
    d = doc(
        node("x", "input", shape=[6]),
        node("d", "dropout", {"x": "x"}, p=0.5),
        node("t", "target", shape=[6]),
        node("c", "squared_error", {"y": "d", "target": "t"}),
    )
    feeds = {"x": np.ones((2, 6)), "t": np.zeros((2, 6))}
    masks = []
    for sample in (0, 1):
        ex = explain(d, feeds, training=True, sample=sample, seed=3)
        dn = next(n for n in ex["nodes"] if n["id"] == "d")
        mask = np.asarray(dn["env"]["mask"])
        assert set(mask.tolist()) <= {0.0, 2.0}
        np.testing.assert_allclose(dn["outputs"][0]["value"], mask)  # x = 1: z = m ⊙ x
        masks.append(mask)
    assert ex["batch"]["training"]
    off = explain(d, feeds)
    dn = next(n for n in off["nodes"] if n["id"] == "d")
    assert np.asarray(dn["env"]["mask"]).tolist() == [1.0] * 6  # evaluation: the identity


def test_a_graph_without_a_cost_has_no_loss():
    d = doc(node("x", "input", shape=[2]), node("t", "tanh", {"x": "x"}))
    ex = explain(d, {"x": np.ones((3, 2))})
    assert ex["loss"] is None and ex["costs"] == [None, None, None]
