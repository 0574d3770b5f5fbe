"""Modules (blocks made of blocks): a module used twice is its hand-expanded graph (values,
gradients, training), nesting, cycles refused with their path, tied parameters, addressing."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockprop.engine import GraphError, compile_graph, gradcheck, validate
from blockprop.engine.data import load_dataset
from blockprop.engine.explain import explain
from blockprop.engine.graph import CODES
from blockprop.engine.modules import flat_node_count, flatten
from blockprop.engine.trainer import Trainer

from .graphs import node

BLOCK = {
    "inputs": ["x"],
    "outputs": {"y": "t"},
    "nodes": [
        node("l", "linear", {"x": "x"}, out_features=2),
        node("t", "tanh", {"x": "l"}),
    ],
}


def inst(nid, module, tie=None, **inputs):
    params = {"module": module} | ({"tie": tie} if tie else {})
    return {"id": nid, "op": "module", "params": params, "inputs": inputs}


def twice(tie=None):
    """x -> b1 -> b2 -> cross entropy, b1 and b2 instances of one module."""
    return {
        "version": 1,
        "modules": {"block": copy.deepcopy(BLOCK)},
        "nodes": [
            node("x", "input", shape=[2]),
            node("y", "target", shape=[], dtype="int"),
            inst("b1", "block", x="x"),
            inst("b2", "block", tie=tie, x="b1"),
            node("c", "cross_entropy", {"logits": "b2", "target": "y"}),
        ],
    }


def by_hand():
    """`twice()` expanded by hand (ids b1_l... as people may write them)."""
    return {
        "version": 1,
        "nodes": [
            node("x", "input", shape=[2]),
            node("y", "target", shape=[], dtype="int"),
            node("b1_l", "linear", {"x": "x"}, out_features=2),
            node("b1_t", "tanh", {"x": "b1_l"}),
            node("b2_l", "linear", {"x": "b1_t"}, out_features=2),
            node("b2_t", "tanh", {"x": "b2_l"}),
            node("c", "cross_entropy", {"logits": "b2_t", "target": "y"}),
        ],
    }


def hand(key: str) -> str:
    return key.replace("/", "_")


def feeds(batch=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((batch, 2)), "y": rng.integers(0, 2, batch)}


def renamed(state):
    return {hand(k): v for k, v in state.items()}


def test_a_module_used_twice_is_its_hand_expanded_graph():
    mod = compile_graph(twice(), 5, dtype=np.float64, seed=3)
    assert mod.order == ["x", "y", "b1/l", "b1/t", "b2/l", "b2/t", "c"]
    assert mod.params["b1/l"]["W"] is not mod.params["b2/l"]["W"]  # own parameters each
    ref = compile_graph(by_hand(), 5, dtype=np.float64, state=renamed(mod.state_dict()))
    f = feeds()
    assert mod.forward(f) == pytest.approx(ref.forward(f), abs=0)
    mod.backward()
    ref.backward()
    for k, v in mod.values.items():
        np.testing.assert_array_equal(v, ref.values[hand(k)])
    for k, g in mod.grads.items():
        np.testing.assert_array_equal(g, ref.grads[hand(k)])
    for nid, ps in mod.param_grads.items():
        for name, g in ps.items():
            np.testing.assert_array_equal(g, ref.param_grads[hand(nid)][name])


def test_training_follows_the_hand_expanded_trajectory():
    ds = load_dataset("moons", n=60, seed=1)
    cfg = {"epochs": 3, "batch_size": 16, "optimizer": "adam", "lr": 0.05, "seed": 2}
    a = Trainer(twice(), ds, cfg)
    b = Trainer(by_hand(), ds, cfg, state=renamed(a.plan.state_dict()))
    la: list[float] = []
    lb: list[float] = []
    assert a.run(on_points=lambda ps: la.extend(p["loss"] for p in ps)) == "done"
    assert b.run(on_points=lambda ps: lb.extend(p["loss"] for p in ps)) == "done"
    assert len(la) == len(lb) > 5
    np.testing.assert_allclose(la, lb, rtol=1e-6)
    got, want = renamed(a.plan.state_dict()), b.plan.state_dict()
    for nid, ps in want.items():
        for name, v in ps.items():
            np.testing.assert_allclose(got[nid][name], v, rtol=1e-6)


def test_state_is_addressed_by_instance_and_inner_id():
    d = twice()
    W = [[1.0, 2.0], [3.0, 4.0]]
    d["state"] = {"b1/l": {"W": W, "b": [0.5, -0.5]}}
    plan = compile_graph(d, 2, dtype=np.float64)
    np.testing.assert_array_equal(plan.params["b1/l"]["W"], W)
    assert set(plan.state_dict()) == {"b1/l", "b2/l"}
    r = validate(d)
    assert r.shapes["b1/t"] == [2] and "b1" not in r.shapes
    with pytest.raises(GraphError) as e:
        compile_graph(twice(), 2, state={"b1/nope": {"W": W}})
    assert e.value.code == "bad_state" and e.value.issues[0].nodes == ["b1/nope"]


def test_a_slash_is_only_for_flattened_ids():
    d = by_hand()
    d["nodes"][2]["id"] = "b1/l"
    d["nodes"][3]["inputs"] = {"x": "b1/l"}
    (e,) = [e for e in validate(d).errors if e.code == "bad_id"]
    assert e.nodes == ["b1/l"]
    m = twice()
    m["modules"]["block"]["nodes"][0]["id"] = "in/ner"
    assert "bad_id" in {e.code for e in validate(m).errors}


def nested():
    return {
        "modules": {
            "inner": copy.deepcopy(BLOCK),
            "outer": {
                "inputs": ["u"],
                "outputs": {"v": "i2", "skip": "u"},
                "nodes": [inst("i1", "inner", x="u"), inst("i2", "inner", x="i1")],
            },
        },
        "nodes": [
            node("x", "input", shape=[2]),
            node("y", "target", shape=[2]),
            inst("o", "outer", x="x") | {"inputs": {"u": "x"}},
            node("s", "add", {"a": "o:v", "b": "o:skip"}),
            node("c", "squared_error", {"y": "s", "target": "y"}),
        ],
    }


def test_modules_nest_and_pass_inputs_through():
    d = nested()
    r = validate(d)
    assert r.ok, r.errors
    assert r.order == ["x", "y", "o/i1/l", "o/i1/t", "o/i2/l", "o/i2/t", "s", "c"]
    flat = flatten(d)
    assert flat["nodes"][-2]["inputs"] == {"a": "o/i2/t", "b": "x"}
    o = flat.instances["o"]
    assert (o.children, o.outputs) == (["o/i1", "o/i2"], {"v": "o/i2/t", "skip": "x"})
    assert flat.instances["o/i2"].inputs == {"x": "o/i1/t"}
    assert flat_node_count(d) == len(flat["nodes"]) == 8
    rng = np.random.default_rng(0)
    f = {"x": rng.standard_normal((3, 2)), "y": rng.standard_normal((3, 2))}
    errs = gradcheck(d, f, seed=1)
    assert "o/i1/l.W" in errs and max(errs.values()) < 1e-6


def test_a_module_made_of_itself_is_refused_with_the_path():
    d = {
        "modules": {
            "a": {"inputs": ["x"], "outputs": {"y": "u"}, "nodes": [inst("u", "b", x="x")]},
            "b": {"inputs": ["x"], "outputs": {"y": "w"}, "nodes": [inst("w", "c", x="x")]},
            "c": {"inputs": ["x"], "outputs": {"y": "v"}, "nodes": [inst("v", "a", x="x")]},
        },
        "nodes": [node("x", "input", shape=[2]), inst("m", "a", x="x")],
    }
    (e,) = validate(d).errors
    assert e.code == "module_cycle"
    assert e.nodes == ["a", "b", "c", "a"]
    assert "a → b → c → a" in e.message
    with pytest.raises(GraphError) as exc:
        compile_graph(d, 1)
    assert exc.value.code == "module_cycle"
    d["modules"]["a"]["nodes"][0]["params"]["module"] = "a"  # directly
    (e,) = validate(d).errors
    assert (e.code, e.nodes) == ("module_cycle", ["a", "a"])


@pytest.mark.parametrize(
    ("change", "code", "nodes", "port"),
    [
        (lambda d: d["nodes"][2]["params"].update(module="blok"), "bad_param", ["b1"], "module"),
        (lambda d: d["nodes"][2]["params"].update(colour=1), "bad_param", ["b1"], "colour"),
        (lambda d: d["nodes"][2]["params"].update(module=["x"]), "bad_param", ["b1"], "module"),
        (lambda d: d["nodes"][2].update(params=None), "bad_param", ["b1"], None),
        (lambda d: d["nodes"][2].update(inputs={}), "missing_input", ["b1"], "x"),
        (lambda d: d["nodes"][2]["inputs"].update(z="x"), "extra_input", ["b1"], "z"),
        (lambda d: d["nodes"][4]["inputs"].update(logits="b2:nope"), "dangling_input", None, None),
        (lambda d: d["nodes"][3]["params"].update(tie="c"), "bad_param", ["b2"], "tie"),
        (
            lambda d: d["modules"]["block"]["nodes"][0]["params"].update(out_features=0),
            "bad_param",
            ["b1/l"],
            "out_features",
        ),
        (lambda d: d["modules"]["block"].update(outputs={"y": "q"}), "dangling_input", [], "y"),
        (lambda d: d.update(modules=[]), "bad_graph", [], None),
        (lambda d: d["modules"]["block"].update(nodes="l"), "bad_graph", [], None),
    ],
)
def test_errors_name_the_instance_and_the_inner_node(change, code, nodes, port):
    d = twice()
    change(d)
    errors = validate(d).errors
    assert {e.code for e in errors} == {code}, [e.to_dict() for e in errors]
    if nodes is not None:
        assert errors[0].nodes == nodes and errors[0].port == port


def test_an_instance_with_several_outputs_needs_a_port():
    d = twice()
    d["modules"]["block"]["outputs"] = {"y": "t", "pre": "l"}
    d["nodes"][3]["inputs"] = {"x": "b1:y"}
    (e,) = validate(d).errors
    assert e.code == "dangling_input" and "b2:y" in e.message and e.nodes == ["c", "b2"]
    d["nodes"][4]["inputs"]["logits"] = "b2:pre"
    assert validate(d).ok


def test_tied_instances_share_one_array_and_sum_its_gradient():
    tied = compile_graph(twice(tie="b1"), 5, dtype=np.float64, seed=3)
    assert list(tied.params) == ["b1/l"] and tied.ties == {"b2/l": "b1/l"}
    assert tied.num_params == 6
    state = tied.state_dict()
    untied = compile_graph(
        twice(), 5, dtype=np.float64, state={"b1/l": state["b1/l"], "b2/l": state["b1/l"]}
    )
    f = feeds()
    assert tied.forward(f) == pytest.approx(untied.forward(f), abs=0)
    tied.backward()
    untied.backward()
    for name in ("W", "b"):
        np.testing.assert_allclose(
            tied.param_grads["b1/l"][name],
            untied.param_grads["b1/l"][name] + untied.param_grads["b2/l"][name],
            rtol=1e-12,
        )
    errs = gradcheck(twice(tie="b1"), f, seed=3)
    assert max(errs.values()) < 1e-6 and "b1/l.W" in errs
    with pytest.raises(GraphError) as e:
        compile_graph(twice(tie="b1"), 1, state={"b2/l": state["b1/l"]})
    assert e.value.code == "bad_state" and "state['b1/l']" in str(e.value)


def test_a_tie_needs_parameters_of_the_same_shapes():
    d = twice(tie="b1")
    d["nodes"][0]["params"]["shape"] = [3]
    (e,) = validate(d).errors
    assert e.code == "shape_mismatch" and e.nodes == ["b2/l", "b1/l"]


def test_tie_written_before_its_owner_runs_is_still_checked():
    d = twice()
    d["nodes"][2]["params"]["tie"] = "b2"  # b1 (run first) uses b2's parameters
    f = feeds()
    errs = gradcheck(d, f, seed=0)
    assert set(errs) >= {"b2/l.W", "b2/l.b"} and max(errs.values()) < 1e-6


def test_explain_steps_into_instances():
    ex = explain(twice(), {"x": [[0.5, -1.0]], "y": [1]})
    assert [n["id"] for n in ex["nodes"]][2:6] == ["b1/l", "b1/t", "b2/l", "b2/t"]
    assert set(ex["state"]) == {"b1/l", "b2/l"}


def test_expansion_is_counted_before_it_is_built():
    mods = {"m0": copy.deepcopy(BLOCK)}
    for i in range(1, 12):  # each level uses the one below twice: 2**12 leaves
        mods[f"m{i}"] = {
            "inputs": ["x"],
            "outputs": {"y": "b"},
            "nodes": [inst("a", f"m{i - 1}", x="x"), inst("b", f"m{i - 1}", x="a")],
        }
    d = {"modules": mods, "nodes": [node("x", "input", shape=[2]), inst("top", "m11", x="x")]}
    assert flat_node_count(d) == 1 + 2 * 2**11
    flat = flatten(d, max_nodes=1000)
    assert flat["nodes"] == [] and flat.issues[0].code == "too_large"
    r = validate(d)
    assert r.ok and r.order[-1] == "top/b/b/b/b/b/b/b/b/b/b/b/t"


def test_explain_shows_an_instance_as_one_block_with_its_vjp():
    d = twice()
    ex = explain(d, {"x": [[0.5, -1.0]], "y": [1]})
    b1, b2 = ex["blocks"]
    assert (b1["id"], b1["module"], b1["nodes"]) == ("b1", "block", ["b1/l", "b1/t"])
    assert b2["inputs"]["x"]["key"] == "b1/t" and b2["outputs"]["y"]["key"] == "b2/t"
    # the block's VJP is what flows back into its input: dC/d(b1/t), b1's output
    np.testing.assert_allclose(b2["vjps"]["x"], b1["outputs"]["y"]["grad"], rtol=1e-12)
    np.testing.assert_allclose(b1["vjps"]["x"], ex["nodes"][0]["outputs"][0]["grad"])


def test_an_instances_vjp_is_per_port_when_two_ports_read_one_value():
    """b1(h=x, k=x): h's VJP is what h's readers send back, k's what k's send, their sum
    dC/dx; through a module nesting another (w/m reads w's input through both its ports)."""
    mix = {
        "inputs": ["h", "k"],
        "outputs": {"y": "s"},
        "nodes": [
            node("l", "linear", {"x": "h"}, out_features=2),
            node("r", "tanh", {"x": "l"}),
            node("s", "add", {"a": "r", "b": "k"}),
        ],
    }
    wrap = {"inputs": ["a"], "outputs": {"y": "m"}, "nodes": [inst("m", "mix", h="a", k="a")]}
    d = {
        "version": 1,
        "modules": {"mix": mix, "wrap": wrap},
        "nodes": [
            node("x", "input", shape=[2]),
            node("y", "target", shape=[2]),
            inst("b1", "mix", h="x", k="x"),
            inst("w", "wrap", a="b1"),
            node("c", "squared_error", {"y": "w", "target": "y"}),
        ],
    }
    ex = explain(d, {"x": [[0.5, -1.0]], "y": [[0.2, 0.4]]})
    by = {n["id"]: n for n in ex["nodes"]}
    blocks = {b["id"]: b for b in ex["blocks"]}
    b1, w, m = blocks["b1"], blocks["w"], blocks["w/m"]
    np.testing.assert_allclose(b1["vjps"]["h"], by["b1/l"]["vjps"]["x"], rtol=1e-12)
    np.testing.assert_allclose(b1["vjps"]["k"], by["b1/s"]["vjps"]["b"], rtol=1e-12)
    assert not np.allclose(b1["vjps"]["h"], b1["vjps"]["k"])
    dx = by["x"]["outputs"][0]["grad"]
    np.testing.assert_allclose(b1["vjps"]["h"] + b1["vjps"]["k"], dx, rtol=1e-12)
    np.testing.assert_allclose(m["vjps"]["h"], by["w/m/l"]["vjps"]["x"], rtol=1e-12)
    np.testing.assert_allclose(w["vjps"]["a"], m["vjps"]["h"] + m["vjps"]["k"], rtol=1e-12)
    np.testing.assert_allclose(w["vjps"]["a"], b1["outputs"]["y"]["grad"], rtol=1e-12)


_names = st.sampled_from(["a", "b", "x", "y", "l", "t", "b1", "m", "a/b", 3, None])
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | _names,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=6,
)
_node = st.fixed_dictionaries(
    {"id": _names, "op": st.sampled_from(["module", "tanh", "linear", "input", "add", 1])},
    optional={
        "params": st.dictionaries(
            st.sampled_from(["module", "tie", "out_features"]), _names | _json
        ),
        "inputs": st.dictionaries(st.sampled_from(["x", "a", "b", "h"]), _names | _json),
    },
)
_module = st.fixed_dictionaries(
    {},
    optional={
        "inputs": st.lists(_names, max_size=2) | _json,
        "outputs": st.dictionaries(st.sampled_from(["y", "z"]), _names) | _json,
        "nodes": st.lists(_node, max_size=4) | _json,
    },
)


@settings(max_examples=200, deadline=None)
@given(
    modules=st.dictionaries(
        st.sampled_from(["m", "n", "a", "bad name"]), _module | _json, max_size=3
    )
    | _json,
    nodes=st.lists(_node, max_size=5),
)
def test_any_document_with_modules_is_validated_without_raising(modules, nodes):
    d = {"version": 1, "modules": modules, "nodes": nodes}
    r = validate(d)
    for e in r.errors:
        assert e.code in CODES and e.message
    if r.ok:
        compile_graph(d, 2)
