"""Explain mode's engine side: templates declared by every op, and one sample walked through
a graph with every local result agreeing with the executor's backward pass."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from blockprop.engine import compile_graph, registry
from blockprop.engine.explain import default_feeds, explain, feeds_of
from blockprop.engine.graph import GraphError
from blockprop.engine.modules import flatten
from blockprop.engine.registry import PLACEHOLDER, OpDef, explain_names
from blockprop.examples import get_example, list_examples

from .dags import dags
from .graphs import all_samples, doc, node, op_graph

OPS = registry.all_ops()


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_every_op_declares_its_explain_templates(op: OpDef):
    """A forward template for every op that computes, one per VJP rule, names that exist."""
    if op.source not in ("input", "target"):
        assert op.explain.get("forward"), f"{op.name}: no explain forward template"
    for key in op.vjp:
        if op.vjp_rule(key) is not None:
            assert op.explain.get(key), f"{op.name}: no explain template for d/d{key}"
    names = explain_names(op)
    for key, tpl in op.explain.items():
        if key != "symbols":
            assert set(PLACEHOLDER.findall(tpl)) <= names
    spec = registry.op_spec(op)["explain"]
    assert spec["forward"] == op.explain.get("forward")
    assert set(spec["vjp"]) == set(op.explain) - {"forward", "symbols"}


def test_a_template_naming_an_unknown_value_is_refused():
    relu = registry.get("relu")
    with pytest.raises(ValueError, match="unknown value"):
        OpDef(
            name="bad",
            label="Bad",
            category="function",
            doc="",
            inputs=[("x", "")],
            shape=lambda x: x,
            forward=relu.forward,
            vjp={"x": relu.vjp["x"]},
            formula=relu.formula,
            explain={"forward": r"\max(0, @z)"},
        )
    with pytest.raises(ValueError, match="unknown key"):
        OpDef(
            name="bad2",
            label="Bad",
            category="function",
            doc="",
            inputs=[("x", "")],
            shape=lambda x: x,
            forward=relu.forward,
            vjp={"x": relu.vjp["x"]},
            formula=relu.formula,
            explain={"y": "@g"},
        )


def _check_against_backward(d, feeds):
    ex = explain(d, feeds)
    orjson.dumps(ex, option=orjson.OPT_SERIALIZE_NUMPY)  # what the API sends
    plan = compile_graph(d, 1, dtype=np.float64, grads="all")
    loss = plan.forward(feeds)
    plan.backward()
    # a graph without a cost has no loss (null), not a loss of 0
    assert ex["loss"] == (pytest.approx(loss) if plan.cost_ids else None)
    assert ex["order"] == plan.order
    sent: dict[str, np.ndarray] = {}
    for n in ex["nodes"]:
        for out in n["outputs"]:
            np.testing.assert_allclose(out["value"], plan.values[out["key"]][0])
            if out["key"] in plan.grads:
                np.testing.assert_allclose(out["grad"], plan.grads[out["key"]][0])
        for port, r in n["vjps"].items():
            key = n["sources"][port]
            sent[key] = sent.get(key, 0) + r
    # every value's gradient is the sum of what its consumers sent back (fan-out sums)
    for n in ex["nodes"]:
        for out in n["outputs"]:
            if out["key"] in sent:
                np.testing.assert_allclose(
                    sent[out["key"]], out["grad"], rtol=1e-10, atol=1e-12, err_msg=out["key"]
                )
    for nid, p in ex["param_grads"].items():
        for name, g in p.items():
            np.testing.assert_allclose(g, plan.param_grads[nid][name])
    return ex


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_local_results_sum_to_the_gradients_on_random_dags(case):
    d, feeds = case
    one = {k: v[:1] for k, v in feeds.items()}
    _check_against_backward(d, one)


@pytest.mark.parametrize(
    ("op", "i", "sample"), all_samples(), ids=lambda v: getattr(v, "name", str(v))
)
def test_every_op_sample_explains(op, i, sample):
    d, feeds = op_graph(op, sample, 1, seed=i)
    ex = _check_against_backward(d, feeds)
    n = next(n for n in ex["nodes"] if n["id"] == "op")
    # each name a template uses has a value (parameters come from state)
    have = set(n["env"]) | set(ex["state"].get("op", {}))
    for key, tpl in op.explain.items():
        if key == "symbols":
            continue
        for name in PLACEHOLDER.findall(tpl):
            optional = "@[" in tpl and name in tpl[tpl.index("@[") :]
            assert name in have or optional, (op.name, key, name)


def test_duplicate_sums_and_add_copies():
    d = doc(
        node("x", "input", shape=[2]),
        node("t", "target", shape=[2]),
        node("d", "duplicate", {"x": "x"}),
        node("a", "tanh", {"x": "d:y1"}),
        node("s", "add", {"a": "a", "b": "d:y2"}),
        node("c", "squared_error", {"y": "s", "target": "t"}),
    )
    ex = explain(d, {"x": [[0.3, -0.7]], "t": [[0.1, 0.2]]})
    by = {n["id"]: n for n in ex["nodes"]}
    g_s = by["s"]["outputs"][0]["grad"]
    np.testing.assert_allclose(by["s"]["vjps"]["a"], g_s)  # Add copies dC/dy to both inputs
    np.testing.assert_allclose(by["s"]["vjps"]["b"], g_s)
    g1, g2 = (o["grad"] for o in by["d"]["outputs"])
    np.testing.assert_allclose(by["d"]["vjps"]["x"], g1 + g2)  # Duplicate sums
    assert by["d"]["env"]["g.y1"] is not None and "g" not in by["d"]["env"]
    assert [c["node"] for c in by["d"]["outputs"][0]["consumers"]] == ["a"]


def test_defaults_and_feeds():
    d = get_example("spiral")["graph"]
    feeds = feeds_of(d)
    assert [(f["id"], f["role"], f["dtype"]) for f in feeds] == [
        ("x", "input", "float"),
        ("y", "target", "int"),
    ]
    vals = default_feeds(feeds)
    assert vals["x"].shape == (1, 2) and np.all(np.abs(vals["x"]) <= 1)
    assert vals["y"].tolist() == [0]
    ex = explain(d)
    assert ex["inputs"]["x"].tolist() == vals["x"].tolist()


def test_explain_takes_at_most_16_samples_of_one_size():
    d = get_example("xor")["graph"]
    with pytest.raises(GraphError) as e:
        explain(d, {"x": np.zeros((17, 2)), "y": np.zeros((17, 1))})
    assert e.value.issues[0].code == "bad_feed" and "1 to 16" in e.value.issues[0].message
    with pytest.raises(GraphError) as e:
        explain(d, {"x": np.zeros((3, 2)), "y": np.zeros((2, 1))})
    assert e.value.issues[0].code == "bad_feed"
    assert len(explain(d, {"x": np.zeros((2, 2)), "y": np.zeros((2, 1))})["costs"]) == 2


@pytest.mark.parametrize("eid", [e["id"] for e in list_examples()])
def test_every_example_explains(eid):
    graph = get_example(eid)["graph"]
    ex = explain(graph)
    assert len(ex["nodes"]) == len(flatten(graph)["nodes"])  # modules: their inner nodes
    assert len(ex["blocks"]) == sum(n["op"] == "module" for n in graph["nodes"])
