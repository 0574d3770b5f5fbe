"""Running statistics (batch_norm buffers) of nodes inside module instances: addressed by
flat id (``b1/bn``) in state, checkpoints, explain and both exports; a tied instance shares
its owner's, as a reused nn.Module does."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from blockprop.engine import compile_graph
from blockprop.engine.data import load_dataset
from blockprop.engine.explain import explain
from blockprop.engine.trainer import Trainer

from .helpers import node
from .test_modules_export import inst, load

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)

STATS = ("running_mean", "running_var")


def graph(tie=None, width=4):
    """Two instances of a linear -> batch_norm -> tanh module, the second maybe tied."""
    return {
        "name": "normed",
        "modules": {
            "normed": {
                "inputs": ["x"],
                "outputs": {"y": "t"},
                "nodes": [
                    node("l", "linear", {"x": "x"}, out_features=width),
                    node("bn", "batch_norm", {"x": "l"}, momentum=0.3),
                    node("t", "tanh", {"x": "bn"}),
                ],
            }
        },
        "nodes": [
            node("x", "input", shape=[4]),
            inst("b1", "normed", x="x"),
            inst("b2", "normed", tie=tie, x="b1"),
            node("o", "linear", {"x": "b2"}, out_features=3),
            node("y", "target", shape=[], dtype="int"),
            node("c", "cross_entropy", {"logits": "o", "target": "y"}),
        ],
    }


def feeds(batch=6, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": 2.0 + 3.0 * rng.standard_normal((batch, 4)), "y": rng.integers(0, 3, batch)}


@pytest.mark.parametrize("tie", [None, "b1"])
def test_inner_running_statistics_are_state_by_flat_id(tie):
    plan = compile_graph(graph(tie), 6, dtype=np.float64, seed=2)
    owners = ["b1/bn"] if tie else ["b1/bn", "b2/bn"]
    assert sorted(plan.buffers) == owners
    start = {k: a.copy() for k, a in plan.buffers["b1/bn"].items()}
    plan.forward(feeds(), training=True)
    # b1's statistics moved once per instance that uses them: twice when b2 is tied to it
    one = compile_graph(graph(None), 6, dtype=np.float64, seed=2)
    one.forward(feeds(), training=True)
    moved = not np.allclose(plan.buffers["b1/bn"]["running_mean"], start["running_mean"])
    assert moved
    same = np.allclose(plan.buffers["b1/bn"]["running_mean"], one.buffers["b1/bn"]["running_mean"])
    assert same == (tie is None)
    state = plan.state_dict()
    assert {"gamma", "beta", *STATS} <= set(state["b1/bn"])
    assert ("b2/bn" in state) == (tie is None)
    back = compile_graph({**graph(tie), "state": state}, 3, dtype=np.float64)
    for k in STATS:
        np.testing.assert_array_equal(back.buffers["b1/bn"][k], plan.buffers["b1/bn"][k])
    if tie:  # the tied node's statistics are its owner's: named there, refused here
        with pytest.raises(Exception) as e:
            compile_graph({**graph(tie), "state": {"b2/bn": {"running_mean": [0.0] * 4}}}, 2)
        assert e.value.code == "bad_state" and "b1/bn" in str(e.value)


def test_checkpoints_and_explain_carry_inner_statistics():
    ds = load_dataset("iris", seed=0)
    cfg = {"epochs": 2, "batch_size": 16, "lr": 0.1, "optimizer": "sgd", "seed": 1}
    t = Trainer(graph(), ds, cfg)
    while t.step():
        pass
    rm = t.plan.buffers["b2/bn"]["running_mean"].copy()
    assert np.abs(rm).max() > 0
    back = Trainer.from_checkpoint(graph(), ds, cfg, t.save_checkpoint())
    np.testing.assert_array_equal(back.plan.buffers["b2/bn"]["running_mean"], rm)
    ex = explain({**graph(), "state": t.state()}, {"x": ds.x_test[:2], "y": ds.y_test[:2]})
    bn = next(n for n in ex["nodes"] if n["id"] == "b2/bn")
    np.testing.assert_allclose(bn["env"]["running_mean"], rm, rtol=1e-6)
    assert [b["id"] for b in ex["blocks"]] == ["b1", "b2"]


@needs_torch
@pytest.mark.parametrize("tie", [None, "b1"])
def test_pytorch_nested_modules_register_the_statistics(tie):
    import torch

    from blockprop.export.pytorch import to_pytorch

    plan = compile_graph(graph(tie), 6, dtype=np.float64, seed=3)
    top, subs = load(to_pytorch(graph(tie), seed=3))
    assert [c.MODULE_NAME for c in subs] == ["normed"]
    model = top(dtype=torch.float64)
    buffers = dict(model.named_buffers())
    assert len(buffers) == (2 if tie else 4)  # a tied instance is its owner's module
    f = feeds()
    torch_feeds = {"x": torch.tensor(f["x"]), "y": torch.tensor(f["y"])}
    model.train()
    loss, _ = model(**torch_feeds)
    assert loss.item() == pytest.approx(plan.forward(f, training=True), rel=1e-10)
    state = model.graph_state()
    assert state.keys() == plan.state_dict().keys()
    for nid, stats in plan.buffers.items():
        for k, a in stats.items():
            np.testing.assert_allclose(state[nid][k], a, rtol=1e-10)
    model.eval()  # evaluation reads the statistics both moved
    loss, values = model(**torch_feeds)
    assert loss.item() == pytest.approx(plan.forward(f), rel=1e-10)
    np.testing.assert_allclose(values["b2/bn"].detach().numpy(), plan.values["b2/bn"], rtol=1e-9)


def test_onnx_statistics_are_initializers_by_flat_id():
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    import onnx

    from blockprop.export.onnx import to_onnx_bytes

    for tie in (None, "b1"):
        plan = compile_graph(graph(tie), 6, dtype=np.float64, seed=4)
        f = feeds()
        plan.forward(f, training=True)  # statistics away from their fill values
        d = {**graph(tie), "state": plan.state_dict()}
        data = to_onnx_bytes(d)
        inits = {i.name for i in onnx.load_from_string(data).graph.initializer}
        assert {"b1/bn.running_mean", "b1/bn.running_var"} <= inits
        assert ("b2/bn.running_mean" in inits) == (tie is None)
        sess = ort.InferenceSession(data)
        outs = sess.run(None, {"x": f["x"].astype(np.float32), "y": f["y"].astype(np.int64)})
        named = dict(zip([o.name for o in sess.get_outputs()], outs, strict=True))
        loss = plan.forward(f)
        assert named["loss"] == pytest.approx(loss, rel=1e-4)
        np.testing.assert_allclose(named["b2/bn"], plan.values["b2/bn"], rtol=1e-4, atol=1e-5)
