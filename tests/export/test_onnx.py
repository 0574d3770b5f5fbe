"""ONNX export: a checked model of the forward pass whose outputs equal the engine's
(onnxruntime, float32 tolerance), with a dynamic batch axis."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from blockprop.engine import GraphError
from blockprop.export import export
from blockprop.export.onnx import OPSET, to_onnx

from .helpers import EXAMPLE_IDS, all_cases, doc, engine_run, example_graph, node, random_feeds

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the test extra)")
RTOL, ATOL = 1e-4, 1e-5
CASES = all_cases()


def session(model: onnx.ModelProto):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def run(model: onnx.ModelProto, feeds: dict) -> dict[str, np.ndarray]:
    sess = session(model)
    names = [i.name for i in sess.get_inputs()]
    fed = {
        k: (a.astype(np.int64) if a.dtype.kind in "iu" else a.astype(np.float32))
        for k, a in feeds.items()
        if k in names
    }
    outs = sess.run(None, fed)
    return dict(zip([o.name for o in sess.get_outputs()], outs, strict=True))


def compare(d: dict, feeds: dict, *, seed: int = 0) -> dict[str, np.ndarray]:
    plan = engine_run(d, feeds, seed=seed, backward=False)
    got = run(to_onnx(d, seed=seed), feeds)
    for k in got:
        if k not in plan.values:  # the loss
            continue
        assert got[k].shape == plan.values[k].shape, k
        np.testing.assert_allclose(got[k], plan.values[k], rtol=RTOL, atol=ATOL, err_msg=k)
    if plan.cost_ids:
        assert got["loss"].shape == ()
        assert float(got["loss"]) == pytest.approx(plan.loss, rel=RTOL, abs=ATOL)
    return got


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_onnx_outputs_match_the_engine(case):
    _, d, feeds = case
    got = compare(d, feeds)
    from blockprop.engine.graph import analyse

    nodes = analyse(d).nodes
    want = [k for n in nodes if n.op.category != "variable" for k in n.keys]
    if any(n.op.category == "cost" for n in nodes):
        want.append("loss")
    assert list(got) == want


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_every_example_is_a_valid_model_with_a_dynamic_batch(example):
    d = example_graph(example)
    model = onnx.load_from_string(export(d, "onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == OPSET >= 17
    for value in model.graph.input:
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    for batch in (1, 7):
        compare(d, random_feeds(d, batch, seed=batch))


def test_inputs_outputs_and_initializers_are_named_after_the_graph():
    d = example_graph("xor")
    model = to_onnx(d, seed=3)
    assert [i.name for i in model.graph.input] == ["x", "y"]
    assert [o.name for o in model.graph.output] == ["hidden", "h", "score", "cost", "loss"]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    plan = engine_run(d, random_feeds(d, 2), seed=3, backward=False)
    for nid, params in plan.params.items():
        for name, value in params.items():
            np.testing.assert_allclose(inits[f"{nid}.{name}"], value, rtol=1e-7)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["loss"] == "loss" and props["parameters"] == "seed 3"
    assert model.graph.name == "XOR with one hidden layer"


def test_state_from_the_graph():
    d = example_graph("linear_regression")
    state = {"lin": {"W": [[2.5]], "b": [-1.0]}}
    got = run(
        to_onnx({**d, "state": state}), {"x": np.array([[0.0], [2.0]]), "y": np.zeros((2, 1))}
    )
    np.testing.assert_allclose(got["lin"], [[-1.0], [4.0]])
    np.testing.assert_allclose(got["loss"], (1 + 16) / 2)


def test_inference_model_without_targets():
    d = example_graph("iris")
    model = to_onnx(d, targets=False)
    assert [i.name for i in model.graph.input] == ["x"]
    assert [o.name for o in model.graph.output] == ["l1", "h", "logits"]
    feeds = random_feeds(d, 3)
    got = run(model, feeds)
    plan = engine_run(d, feeds, backward=False)
    np.testing.assert_allclose(got["logits"], plan.values["logits"], rtol=RTOL, atol=ATOL)


def test_parameters_and_constants_without_inputs():
    d = doc(
        node("w", "parameter", shape=[2]),
        node("c", "constant", value=[1.0, -2.0]),
        node("m", "multiply", {"a": "w", "b": "c"}),
    )
    got = compare(d, {})
    assert got["m"].shape == (1, 2)


def test_a_node_called_loss():
    d = doc(
        node("x", "input", shape=[2]),
        node("y", "target", shape=[2]),
        node("loss", "l1", {"y": "x", "target": "y"}),
    )
    model = to_onnx(d)
    assert [o.name for o in model.graph.output] == ["loss", "blockprop/loss"]
    assert {p.key: p.value for p in model.metadata_props}["loss"] == "blockprop/loss"
    got = run(model, random_feeds(d, 3))
    np.testing.assert_allclose(got["blockprop/loss"], got["loss"].mean(), rtol=1e-6)


def test_invalid_graph_raises_the_validation_error():
    with pytest.raises(GraphError) as e:
        to_onnx(doc(node("a", "tanh", {"x": "nowhere"})))
    assert e.value.code == "dangling_input"
