"""Constant and Parameter nodes at batch > 1: every op, fed from a constant or an explicit
parameter, gives at batch 3 what it gives at batch 1 (values repeated, the same loss and
parameter gradients, node gradients scaled by 1/B), agrees with finite differences, and
every value is a plain writable C-contiguous buffer (no zero-stride views: issue 12, where
`/api/evaluate` failed with "array is not C contiguous")."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from blockprop.engine import compile_graph, gradcheck, validate
from blockprop.engine.registry import sample_array

from .graphs import all_samples, doc, node

CASES = [
    (op, i, s, source)
    for op, i, s in all_samples()
    if op.category != "variable" and op.inputs
    for source in ("constant", "parameter")
]


def _id(case):
    op, i, _, source = case
    return f"{op.name}-{i}-{source}"


def _graph(op, sample, source):
    """The op with every float port fed by a `source` node holding one fixed sample; integer
    ports (class labels) and the targets of the added costs are fed (the same every sample).
    Returns (doc, per-sample feeds)."""
    rng = np.random.default_rng(7)
    nodes, feeds, state, inputs = [], {}, {}, {}
    for port in op.inputs:
        data = sample_array(sample.inputs[port.name], 1, rng)[0]
        pid = f"in_{port.name}"
        inputs[port.name] = pid
        if data.dtype.kind == "i":
            nodes.append(node(pid, "target", shape=list(data.shape), dtype="int"))
            feeds[pid] = data
        elif source == "constant":
            nodes.append(node(pid, "constant", value=data.tolist()))
        else:  # the same numbers, as a parameter's trained state
            nodes.append(node(pid, "parameter", shape=list(data.shape)))
            state[pid] = {"value": data.tolist()}
    nodes.append(node("op", op.name, inputs, **sample.params))
    if op.category != "cost" and op.dtype != "int":
        shapes = validate(doc(*nodes)).shapes
        keys = ["op"] if len(op.outputs) == 1 else [f"op:{o}" for o in op.outputs]
        for j, k in enumerate(keys):
            nodes.append(node(f"t{j}", "target", shape=shapes[k]))
            feeds[f"t{j}"] = rng.standard_normal(shapes[k])
            nodes.append(node(f"c{j}", "squared_error", {"y": k, "target": f"t{j}"}))
    return doc(*nodes, state=state or None), feeds


def _run(d, feeds, batch):
    plan = compile_graph(d, batch, dtype=np.float64, grads="all")
    batched = {k: np.repeat(v[None], batch, axis=0) for k, v in feeds.items()}
    loss = plan.forward(batched)
    plan.backward()
    return plan, loss, batched


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_batch_of_three_repeats_batch_of_one(case):
    op, _, sample, source = case
    d, feeds = _graph(op, sample, source)
    one, loss1, _ = _run(d, feeds, 1)
    three, loss3, _ = _run(d, feeds, 3)
    np.testing.assert_allclose(loss3, loss1, rtol=1e-12)
    for k, v in three.values.items():
        assert v.shape == (3, *one.values[k].shape[1:]), k
        assert v.flags.c_contiguous and v.flags.writeable, f"{k} is a view, not a buffer"
        np.testing.assert_allclose(v, np.repeat(one.values[k], 3, axis=0), rtol=1e-12, err_msg=k)
    for k, g in three.grads.items():  # L is the batch mean: each sample's share is 1/B
        expected = np.repeat(one.grads[k], 3, axis=0) / 3
        np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12, err_msg=k)
    for nid, grads in three.param_grads.items():
        for name, g in grads.items():
            ref = one.param_grads[nid][name]
            np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12, err_msg=f"{nid}.{name}")
    orjson.dumps(three.values, option=orjson.OPT_SERIALIZE_NUMPY)  # what /api/evaluate sends


DIFFERENTIABLE = [c for c in CASES if c[0].differentiable]


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=[_id(c) for c in DIFFERENTIABLE])
def test_gradients_match_finite_differences_at_batch_three(case):
    op, _, sample, source = case
    d, feeds = _graph(op, sample, source)
    batched = {k: np.repeat(v[None], 3, axis=0) for k, v in feeds.items()}
    if not batched:  # every port is a constant or a parameter: nothing fixes the batch
        d = {**d, "nodes": [*d["nodes"], node("pad", "input", shape=[1])]}
        batched = {"pad": np.zeros((3, 1))}
    errors = gradcheck(d, batched)
    bad = {k: v for k, v in errors.items() if v > 1e-5}
    assert not bad, bad
    if source == "parameter":
        state = d.get("state", {})  # none when every port takes integer labels
        assert {f"in_{p.name}.value" for p in op.inputs if f"in_{p.name}" in state} <= set(errors)


def test_a_parameter_value_follows_training_in_place():
    """The parameter's value buffer is refilled each pass from the live array that the
    optimisers update in place."""
    d = doc(
        node("x", "input", shape=[2]),
        node("w", "parameter", shape=[2], init="zeros"),
        node("m", "multiply", {"a": "x", "b": "w"}),
    )
    plan = compile_graph(d, 4, dtype=np.float64)
    x = np.arange(8.0).reshape(4, 2)
    plan.forward({"x": x})
    np.testing.assert_array_equal(plan.values["m"], 0)
    plan.params["w"]["value"] += [1.0, -2.0]  # as an optimiser step does
    plan.forward({"x": x})
    np.testing.assert_array_equal(plan.values["w"], np.tile([1.0, -2.0], (4, 1)))
    np.testing.assert_array_equal(plan.values["m"], x * [1.0, -2.0])
