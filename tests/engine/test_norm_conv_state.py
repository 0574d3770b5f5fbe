"""Batch norm's running statistics (updated while training, used in evaluation, carried by
state, checkpoints, exports and explain), training-mode gradients against finite differences
and PyTorch, and convolution shape errors that name the port."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from blockprop.engine import compile_graph, gradcheck, registry, validate
from blockprop.engine.data import load_dataset
from blockprop.engine.explain import explain
from blockprop.engine.trainer import Trainer

from .graphs import all_samples, doc, node, op_graph

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")


def _reads(op, name: str) -> bool:
    """Whether the op's forward rule asks for ``name`` (fed ops have no forward)."""
    rule = op.rules.get("forward")
    return rule is not None and name in rule.names


#: ops whose forward differs between training and evaluation (it reads ``training``)
MODAL = [(op, i, s) for op, i, s in all_samples() if _reads(op, "training")]


def bn_graph(channels=3, spatial=(), momentum=0.1):
    return doc(
        node("x", "input", shape=[channels, *spatial]),
        node("bn", "batch_norm", {"x": "x"}, momentum=momentum),
        node("t", "target", shape=[channels, *spatial]),
        node("f", "flatten", {"x": "bn"}),
        node("ft", "flatten", {"x": "t"}),
        node("c", "squared_error", {"y": "f", "target": "ft"}),
    )


def _feeds(batch, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = 3.0 + 2.0 * rng.standard_normal((batch, *shape))
    return {"x": x, "t": rng.standard_normal((batch, *shape))}


# --------------------------------------------------------------------------- running stats


def test_training_updates_running_statistics_like_pytorch():
    plan = compile_graph(bn_graph(3, (2, 2), momentum=0.25), 5, dtype=np.float64)
    feeds = _feeds(5, (3, 2, 2))
    rm, rv = plan.buffers["bn"]["running_mean"], plan.buffers["bn"]["running_var"]
    assert rm.tolist() == [0.0] * 3 and rv.tolist() == [1.0] * 3
    plan.forward(feeds)  # evaluation: the statistics stay
    assert rm.tolist() == [0.0] * 3
    x = feeds["x"]
    for _ in range(2):
        plan.forward(feeds, training=True)
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3), ddof=1)  # unbiased, as torch keeps it
    want_mean = (1 - 0.75**2) * mean
    want_var = 0.75**2 + (1 - 0.75**2) * var
    np.testing.assert_allclose(rm, want_mean, rtol=1e-12)
    np.testing.assert_allclose(rv, want_var, rtol=1e-12)
    # batch statistics while training: each channel of the output has mean 0, variance 1
    y = plan.values["bn"]
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    # evaluation: running statistics, the same affine map for every sample
    plan.forward(feeds)
    want = (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5)
    np.testing.assert_allclose(plan.values["bn"], want, rtol=1e-12)


def test_running_statistics_are_state():
    """state_dict holds them; a new plan given that state normalises alike; a bad shape is
    refused naming the buffer; plans for other batch sizes share them."""
    d = bn_graph(2)
    plan = compile_graph(d, 4, dtype=np.float64)
    plan.forward(_feeds(4, (2,)), training=True)
    state = plan.state_dict()
    assert set(state["bn"]) == {"gamma", "beta", "running_mean", "running_var"}
    other = compile_graph({**d, "state": state}, 3, dtype=np.float64)
    np.testing.assert_array_equal(other.buffers["bn"]["running_var"], state["bn"]["running_var"])
    assert plan.for_batch(7).buffers is plan.buffers
    assert plan.clone(2).buffers is plan.buffers
    bad = {"bn": {"running_mean": [0.0, 0.0, 0.0]}}
    with pytest.raises(Exception) as e:
        compile_graph({**d, "state": bad}, 2)
    assert e.value.code == "bad_state" and "running_mean" in str(e.value)


def _trainer(epochs=3):
    ds = load_dataset("iris", seed=0)
    d = doc(
        node("x", "input", shape=[4]),
        node("l1", "linear", {"x": "x"}, out_features=8),
        node("bn", "batch_norm", {"x": "l1"}),
        node("h", "relu", {"x": "bn"}),
        node("l2", "linear", {"x": "h"}, out_features=3),
        node("y", "target", shape=[], dtype="int"),
        node("c", "cross_entropy", {"logits": "l2", "target": "y"}),
    )
    cfg = {"epochs": epochs, "batch_size": 16, "lr": 0.1, "optimizer": "sgd", "seed": 1}
    return d, ds, cfg, Trainer(d, ds, cfg)


def test_training_moves_running_statistics_and_checkpoints_keep_them():
    d, ds, cfg, t = _trainer()
    while t.step():
        pass
    rm = t.plan.buffers["bn"]["running_mean"].copy()
    assert np.abs(rm).max() > 0  # moved from zero by training
    state = t.state()
    np.testing.assert_allclose(state["bn"]["running_mean"], rm, rtol=1e-6)
    # a checkpoint round trip restores them (a trainer with fresh statistics otherwise)
    data = t.save_checkpoint()
    back = Trainer.from_checkpoint(d, ds, cfg, data)
    np.testing.assert_array_equal(back.plan.buffers["bn"]["running_mean"], rm)
    np.testing.assert_array_equal(
        back.plan.buffers["bn"]["running_var"], t.plan.buffers["bn"]["running_var"]
    )
    # evaluation uses them: the same accuracy as the trainer that made them
    assert back.evaluate()["accuracy"] == pytest.approx(t.evaluate()["accuracy"])
    # explain with the trained state uses the running statistics too
    x = ds.x_test[:1]
    ex = explain({**d, "state": state}, {"x": x, "y": np.zeros(1, int)})
    bn = next(n for n in ex["nodes"] if n["id"] == "bn")
    l1 = next(n for n in ex["nodes"] if n["id"] == "l1")["outputs"][0]["value"]
    rv = np.asarray(state["bn"]["running_var"])
    want = (np.asarray(l1) - rm) / np.sqrt(rv + 1e-5) * np.asarray(state["bn"]["gamma"])
    want += np.asarray(state["bn"]["beta"])
    np.testing.assert_allclose(bn["outputs"][0]["value"], want, rtol=1e-6)
    np.testing.assert_allclose(bn["env"]["running_mean"], rm, rtol=1e-6)
    assert set(ex["state"]["bn"]) == {"gamma", "beta"}  # the trainable parameters


# --------------------------------------------------------------------------- training mode


@pytest.mark.parametrize("case", MODAL, ids=[f"{op.name}-{i}" for op, i, _ in MODAL])
def test_training_mode_gradients_match_finite_differences(case):
    op, _, sample = case
    d, feeds = op_graph(op, sample, 4, seed=5)
    errors = gradcheck(d, feeds, training=True)
    assert errors
    bad = {k: v for k, v in errors.items() if v > 1e-5}
    assert not bad, f"{op.name} {sample}: {bad}"


#: of those, the deterministic ones (no random draws): PyTorch in train() mode must agree
DETERMINISTIC = [(op, i, s) for op, i, s in MODAL if not _reads(op, "rng")]


def test_the_modal_ops_are_covered():
    assert {op.name for op, _, _ in MODAL} >= {"batch_norm", "dropout"}
    assert {op.name for op, _, _ in DETERMINISTIC} >= {"batch_norm"}


@needs_torch
@pytest.mark.parametrize(
    "case", DETERMINISTIC, ids=[f"{op.name}-{i}" for op, i, _ in DETERMINISTIC]
)
def test_training_mode_matches_the_exported_module(case):
    """The engine's training forward and backward equal the exported module's in train()
    mode: values, gradients, parameter gradients and the running statistics it moved."""
    import torch

    from blockprop.export.pytorch import to_pytorch

    op, _, sample = case
    d, feeds = op_graph(op, sample, 4, seed=6)
    plan = compile_graph(d, 4, dtype=np.float64, grads="all")
    loss = plan.forward(feeds, training=True)
    plan.backward()
    ns: dict = {}
    exec(compile(to_pytorch(d), "<exported>", "exec"), ns)
    cls = next(v for v in ns.values() if isinstance(v, type) and issubclass(v, torch.nn.Module))
    model = cls(dtype=torch.float64)
    model.train()
    inputs = {k: torch.tensor(a, requires_grad=a.dtype.kind == "f") for k, a in feeds.items()}
    tloss, values = model(**inputs)
    values["op"].retain_grad()
    tloss.backward()
    assert tloss.item() == pytest.approx(loss, rel=1e-9)
    np.testing.assert_allclose(values["op"].detach().numpy(), plan.values["op"], rtol=1e-9)
    np.testing.assert_allclose(inputs["in_x"].grad.numpy(), plan.grads["in_x"], atol=1e-12)
    for attr, (nid, name) in model.PARAMETERS.items():
        g = getattr(model, attr).grad.numpy()
        np.testing.assert_allclose(g, plan.param_grads[nid][name], rtol=1e-9, atol=1e-12)
    state = model.graph_state()  # the buffers it moved (running statistics)
    for name, arr in plan.buffers.get("op", {}).items():
        np.testing.assert_allclose(state["op"][name], arr, rtol=1e-12)


# --------------------------------------------------------------------------- conv shapes


def _conv_error(shape, **params):
    d = doc(node("x", "input", shape=shape), node("k", "conv2d", {"x": "x"}, **params))
    result = validate(d)
    assert not result.ok
    return result.errors[0]


def test_conv_shape_errors_name_the_port():
    e = _conv_error([8, 8], out_channels=4)
    assert e.code == "shape_mismatch" and e.port == "x" and e.nodes == ["k", "x"]
    assert "[channels, height, width]" in e.message and "[8, 8]" in e.message
    e = _conv_error([1, 2, 2], out_channels=4, kernel_size=5)
    assert e.port == "x" and "height, width of at least 5" in e.message
    e = _conv_error([3, 8, 8], out_channels=4, groups=2)
    assert e.port == "x" and "divisible by groups=2" in e.message
    e = _conv_error([4, 8, 8], out_channels=3, groups=2)
    assert "out_channels (3) divisible by groups (2)" in e.message
    ok = doc(node("x", "input", shape=[1, 8, 8]), node("k", "conv2d", {"x": "x"}, out_channels=4))
    assert validate(ok).shapes["k"] == [4, 6, 6]


def test_conv_weights_follow_torch_layout_and_init():
    d = doc(
        node("x", "input", shape=[4, 9, 9]),
        node("k", "conv2d", {"x": "x"}, out_channels=6, kernel_size=3, groups=2, padding=1),
    )
    plan = compile_graph(d, 1, dtype=np.float64)
    W = plan.params["k"]["W"]
    assert W.shape == (6, 2, 3, 3) and plan.params["k"]["b"].shape == (6,)
    bound = 1 / np.sqrt(2 * 9)  # PyTorch's default: U(±1/sqrt(fan_in)), the bias's too
    for p in (W, plan.params["k"]["b"]):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.5 * bound
    assert registry.get("conv2d").param("init").default == "uniform"


# --------------------------------------------------------------------------- embedding ids


def _ids_graph(length):
    return doc(
        node("x", "input", shape=[length], dtype="int"),
        node("y", "target", shape=[], dtype="int"),
        node("e", "embedding", {"x": "x"}, num_embeddings=6, dim=4),
        node("f", "flatten", {"x": "e"}),
        node("h", "linear", {"x": "f"}, out_features=16),
        node("r", "relu", {"x": "h"}),
        node("s", "linear", {"x": "r"}, out_features=2),
        node("c", "cross_entropy", {"logits": "s", "target": "y"}),
    )


def test_an_input_of_integer_ids_trains_an_embedding():
    from blockprop.engine.data import split_and_normalize

    onehot = load_dataset("order", normalize=False)
    x = np.concatenate([onehot.x_train, onehot.x_test]).reshape(-1, 8, 6).argmax(-1)
    y = np.concatenate([onehot.y_train, onehot.y_test])
    ids = split_and_normalize("ids", x.astype(float), y, task="classification", normalize=False)
    t = Trainer(_ids_graph(8), ids, {"epochs": 20, "batch_size": 32, "optimizer": "adam"})
    t.run()
    assert t.evaluate()["accuracy"] >= 0.95
    with pytest.raises(Exception) as e:  # normalised one-hot codes are not ids
        Trainer(_ids_graph(48), load_dataset("order"), {"epochs": 1})
    assert e.value.code == "bad_feed" and "integer ids" in str(e.value)
