"""Walk the registry: every op's gradients, shapes and forward, on its own samples."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.engine import compile_graph, gradcheck, registry, validate
from blockprop.engine.executor import eager
from blockprop.engine.registry import SampleData, sample_array

from .graphs import all_samples, doc, node, op_graph

TOL = 1e-5
SAMPLES = all_samples()


def _id(case):
    op, i, _ = case
    return f"{op.name}-{i}"


DIFFERENTIABLE = [c for c in SAMPLES if c[0].differentiable]


def test_only_argmin_is_forward_only():
    assert {op.name for op, _, _ in SAMPLES if not op.differentiable} == {"argmin"}


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=[_id(c) for c in DIFFERENTIABLE])
@pytest.mark.parametrize("batch", [1, 3])
def test_gradcheck_every_op(case, batch):
    op, _, sample = case
    d, feeds = op_graph(op, sample, batch, seed=batch)
    errors = gradcheck(d, feeds)
    assert errors, "nothing was checked"
    trained = compile_graph(d, batch).params.get("op", {})
    assert {f"op.{name}" for name in trained} <= set(errors)
    bad = {k: v for k, v in errors.items() if v > TOL}
    assert not bad, f"{op.name} {sample}: {bad}"


def _shape(spec) -> tuple:
    return tuple(spec.shape if isinstance(spec, SampleData) else spec)


def test_every_op_has_samples_and_broadcasting_ops_sample_broadcasting():
    for op in registry.all_ops():
        assert op.samples, f"{op.name} has no samples"
        if op.broadcast:
            uneven = [s for s in op.samples if len({_shape(v) for v in s.inputs.values()}) > 1]
            assert uneven, f"{op.name} broadcasts but no sample has different input shapes"


def _inputs(op, sample, batch, rng):
    return {p.name: sample_array(sample.inputs[p.name], batch, rng) for p in op.inputs}


@pytest.mark.parametrize("case", SAMPLES, ids=[_id(c) for c in SAMPLES])
def test_shape_rule_matches_forward(case):
    """Shapes inferred before any array exists equal what forward produces, and the
    compiled plan (writing into preallocated buffers) computes the same values."""
    op, _, sample = case
    rng = np.random.default_rng(0)
    batch = 3
    d, feeds = op_graph(op, sample, batch)
    result = validate(d)
    assert result.ok, result.errors
    plan = compile_graph(d, batch, dtype=np.float64)
    plan.forward(feeds)
    keys = ["op"] if len(op.outputs) == 1 else [f"op:{o}" for o in op.outputs]
    inputs = {p.name: feeds[f"in_{p.name}"] for p in op.inputs}
    if op.source in ("input", "target"):
        return  # fed: nothing computes it
    outs, _ = eager(op, inputs, sample.params, plan.params.get("op"), rng=rng, batch=batch)
    outs = list(outs) if op.multi_output else [outs]
    for k, out in zip(keys, outs, strict=True):
        assert list(out.shape) == [batch, *result.shapes[k]], f"{op.name}: {k}"
        np.testing.assert_allclose(plan.values[k], out, rtol=1e-12, atol=1e-12)


def _run(nodes, feeds, batch, dtype=np.float64, **kw):
    plan = compile_graph(doc(*nodes), batch, dtype=dtype, **kw)
    loss = plan.forward(feeds)
    plan.backward()
    return plan, loss


def test_dropout_is_identity_unless_training():
    nodes = [
        node("x", "input", shape=[1000]),
        node("d", "dropout", {"x": "x"}, p=0.25),
        node("t", "target", shape=[1000]),
        node("c", "squared_error", {"y": "d", "target": "t"}),
    ]
    x = np.ones((2, 1000))
    feeds = {"x": x, "t": np.zeros((2, 1000))}
    plan, _ = _run(nodes, feeds, 2)
    np.testing.assert_array_equal(plan.values["d"], x)
    plan.forward(feeds, training=True, rng=np.random.default_rng(1))
    y = plan.values["d"]
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], 1 / 0.75)  # inverted dropout keeps the mean
    plan.backward()  # gradient flows only through the kept units, scaled the same way
    g = plan.grads["d"] * np.where(kept, 1 / 0.75, 0)
    plan2 = compile_graph(doc(*nodes), 2, dtype=np.float64, grads="all")
    plan2.forward(feeds, training=True, rng=np.random.default_rng(1))
    plan2.backward()
    np.testing.assert_allclose(plan2.grads["x"], g)
    again = plan.forward(feeds, training=True, rng=np.random.default_rng(1))
    assert again == plan2.forward(feeds, training=True, rng=np.random.default_rng(1))


def test_cross_entropy_labels_equal_one_hot():
    logits = np.random.default_rng(0).standard_normal((4, 3))
    labels = np.array([0, 2, 1, 2])
    with_int = [
        node("z", "input", shape=[3]),
        node("y", "target", shape=[], dtype="int"),
        node("c", "cross_entropy", {"logits": "z", "target": "y"}),
    ]
    with_hot = [
        node("z", "input", shape=[3]),
        node("y", "target", shape=[3]),
        node("c", "cross_entropy", {"logits": "z", "target": "y"}),
    ]
    a, la = _run(with_int, {"z": logits, "y": labels}, 4, grads="all")
    b, lb = _run(with_hot, {"z": logits, "y": np.eye(3)[labels]}, 4, grads="all")
    assert la == pytest.approx(lb, rel=1e-12)
    np.testing.assert_allclose(a.grads["z"], b.grads["z"], rtol=1e-12)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert la == pytest.approx(-logp[np.arange(4), labels].mean(), rel=1e-12)


def test_costs_are_stable_for_huge_scores():
    z = np.array([[1000.0, -1000.0, 0.0]])
    plan, loss = _run(
        [
            node("z", "input", shape=[3]),
            node("y", "target", shape=[], dtype="int"),
            node("c", "cross_entropy", {"logits": "z", "target": "y"}),
        ],
        {"z": z, "y": np.array([1])},
        1,
        dtype=np.float32,
        grads="all",
    )
    assert loss == pytest.approx(2000.0)
    assert np.isfinite(plan.grads["z"]).all()
    plan, loss = _run(
        [
            node("z", "input", shape=[2]),
            node("y", "target", shape=[2]),
            node("c", "binary_cross_entropy", {"logits": "z", "target": "y"}),
        ],
        {"z": np.array([[800.0, -800.0]]), "y": np.array([[0.0, 0.0]])},
        1,
        dtype=np.float32,
        grads="all",
    )
    assert loss == pytest.approx(800.0)
    np.testing.assert_allclose(plan.grads["z"], [[1.0, 0.0]])
    plan, _ = _run(
        [
            node("z", "input", shape=[3]),
            node("s", "softmax", {"x": "z"}),
            node("l", "log_softmax", {"x": "z"}),
            node("k", "sigmoid", {"x": "z"}),
        ],
        {"z": z},
        1,
        dtype=np.float32,
    )
    np.testing.assert_allclose(plan.values["s"], [[1, 0, 0]], atol=1e-7)
    assert np.isfinite(plan.values["l"]).all() and np.isfinite(plan.values["k"]).all()


def test_nearest_neighbour_model():
    """x -> sq_distance to prototypes -> argmin: the notes' nearest-neighbour classifier."""
    P = [[0.0, 0.0], [1.0, 1.0], [5.0, -1.0]]
    nodes = [
        node("x", "input", shape=[2]),
        node("d", "sq_distance", {"x": "x"}, rows=3),
        node("k", "argmin", {"x": "d"}),
    ]
    plan = compile_graph(doc(*nodes, state={"d": {"P": P}}), 3)
    x = np.array([[0.1, -0.2], [0.9, 1.4], [4.0, 0.0]])
    plan.forward({"x": x})
    np.testing.assert_allclose(
        plan.values["d"], ((x[:, None, :] - np.array(P)) ** 2).sum(-1), rtol=1e-6
    )
    assert plan.values["k"].dtype.kind == "i"
    assert plan.values["k"].tolist() == [0, 1, 2]
    assert "k" not in plan.grads  # integer labels carry no gradient
    assert not registry.get("argmin").differentiable


def test_argmin_labels_feed_a_cost():
    nodes = [
        node("x", "input", shape=[3]),
        node("k", "argmin", {"x": "x"}),
        node("z", "input", shape=[3]),
        node("c", "nll", {"logp": "z", "target": "k"}),
    ]
    x = np.array([[3.0, 1.0, 2.0]])
    z = np.log(np.array([[0.2, 0.5, 0.3]]))
    plan, loss = _run(nodes, {"x": x, "z": z}, 1, grads="all")
    assert loss == pytest.approx(-np.log(0.5))
    np.testing.assert_allclose(plan.grads["z"], [[0, -1, 0]])


def test_parameter_node_is_shared_by_the_batch():
    nodes = [
        node("w", "parameter", shape=[2], init="zeros"),
        node("x", "input", shape=[2]),
        node("m", "multiply", {"a": "w", "b": "x"}),
        node("t", "target", shape=[2]),
        node("c", "squared_error", {"y": "m", "target": "t"}),
    ]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = np.array([[1.0, 1.0], [1.0, 1.0]])
    plan, _ = _run(nodes, {"x": x, "t": t}, 2, state={"w": {"value": [0.5, -1.0]}})
    w = np.array([0.5, -1.0])
    per_sample = 2 * (w * x - t) * x  # d C_p / d w
    np.testing.assert_allclose(plan.param_grads["w"]["value"], per_sample.mean(0))
    np.testing.assert_allclose(plan.grads["w"], per_sample / 2)  # dL/dw^(p), L a batch mean
    plan.params["w"]["value"][:] = [1.0, 1.0]  # trained in place: the node sees it at once
    plan.forward({"x": x, "t": t})
    np.testing.assert_allclose(plan.values["m"], x)


def test_constant_and_broadcasting_add():
    nodes = [
        node("x", "input", shape=[2, 3]),
        node("k", "constant", value=[1.0, 2.0, 3.0]),
        node("s", "add", {"a": "x", "b": "k"}),
        node("b", "constant", value=10.0),
        node("u", "multiply", {"a": "b", "b": "s"}),
        node("m", "sum", {"x": "u"}),
    ]
    x = np.arange(12.0).reshape(2, 2, 3)
    plan, _ = _run(nodes, {"x": x}, 2)
    np.testing.assert_allclose(plan.values["m"], ((x + [1, 2, 3]) * 10).sum((1, 2)))
    assert plan.shapes["s"] == [2, 3] and plan.shapes["m"] == []


def test_linear_on_stacks_and_without_bias():
    nodes = [
        node("x", "input", shape=[4, 3]),
        node("l", "linear", {"x": "x"}, out_features=2, bias=False),
    ]
    plan = compile_graph(doc(*nodes), 5, dtype=np.float64)
    assert set(plan.params["l"]) == {"W"}
    x = np.random.default_rng(0).standard_normal((5, 4, 3))
    plan.forward({"x": x})
    np.testing.assert_allclose(plan.values["l"], x @ plan.params["l"]["W"].T)
