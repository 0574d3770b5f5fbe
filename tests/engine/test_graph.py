"""Validation: every error code from a case that should produce it, and only from those."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockprop.engine import GraphError, compile_graph, validate
from blockprop.engine.graph import CODES, Issue

from .graphs import doc, node

DESIGN_EXAMPLE = {
    "version": 1,
    "name": "spiral classifier",
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}, "ui": {"x": 40, "y": 120}},
        {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
        {"id": "l1", "op": "linear", "params": {"out_features": 16}, "inputs": {"x": "x"}},
        {"id": "h1", "op": "relu", "inputs": {"x": "l1"}},
        {"id": "l2", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "h1"}},
        {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
    ],
    "state": {"l1": {"W": [[0.1, -0.2]] * 16, "b": [0.0] * 16}},
}


def mlp():
    return copy.deepcopy(DESIGN_EXAMPLE)


def codes(d, **kw):
    return [e.code for e in validate(d, **kw).errors]


def test_design_example_is_valid():
    r = validate(DESIGN_EXAMPLE)
    assert r.ok and r.errors == []
    assert r.order == ["x", "y", "l1", "h1", "l2", "c"]
    assert r.shapes == {"x": [2], "y": [], "l1": [16], "h1": [16], "l2": [2], "c": []}
    assert r.to_dict()["ok"] is True


def test_order_is_topological_with_document_order_ties():
    d = doc(
        node("c", "add", {"a": "a", "b": "b"}),
        node("b", "input", shape=[1]),
        node("a", "input", shape=[1]),
        node("d", "tanh", {"x": "a"}),
    )
    assert validate(d).order == ["b", "a", "c", "d"]


def test_multi_output_shapes_use_node_port_keys():
    d = doc(
        node("x", "input", shape=[3]),
        node("d", "duplicate", {"x": "x"}),
        node("s", "add", {"a": "d:y1", "b": "d:y2"}),
    )
    r = validate(d)
    assert r.ok
    assert r.shapes == {"x": [3], "d:y1": [3], "d:y2": [3], "s": [3]}


def one_cycle():
    return doc(
        node("x", "input", shape=[2]),
        node("a", "add", {"a": "x", "b": "c"}),
        node("b", "tanh", {"x": "a"}),
        node("c", "tanh", {"x": "b"}),
        node("after", "tanh", {"x": "c"}),
    )


# code -> graph builders that must produce exactly that code (and nothing else)
CASES = {
    "bad_graph": [
        lambda: [],
        lambda: {"version": 1},
        lambda: {"version": 2, "nodes": []},
        lambda: {"nodes": [3]},
        lambda: doc({"id": "x", "op": "input", "inputs": ["nope"]}),
    ],
    "bad_id": [
        lambda: doc({"id": "has space", "op": "input"}),
        lambda: doc({"op": "input"}),
        lambda: doc({"id": "x" * 65, "op": "input"}),
        lambda: doc({"id": "a:b", "op": "input"}),
    ],
    "duplicate_id": [lambda: doc(node("x", "input"), node("x", "input"))],
    "unknown_op": [
        lambda: doc(node("x", "convolution")),
        lambda: doc({"id": "x"}),
        lambda: doc(
            node("x", "input"), node("y", "frobnicate", {"q": "x"}), node("z", "tanh", {"x": "y"})
        ),
    ],
    "bad_param": [
        lambda: doc(node("x", "input", shape=[2]), node("l", "linear", {"x": "x"})),
        lambda: doc(node("x", "input", shape=[2]), node("l", "linear", {"x": "x"}, out_features=0)),
        lambda: doc(
            node("x", "input", shape=[2]), node("l", "linear", {"x": "x"}, out_features=2.5)
        ),
        lambda: doc(
            node("x", "input", shape=[2]),
            node("l", "linear", {"x": "x"}, out_features=2, init="magic"),
        ),
        lambda: doc(
            node("x", "input", shape=[2]),
            node("l", "linear", {"x": "x"}, out_features=2, colour="red"),
        ),
        lambda: doc(node("x", "input", shape=[2, 0])),
        lambda: doc(node("x", "input", shape="big")),
        lambda: doc(node("x", "input", shape=[2]), node("d", "dropout", {"x": "x"}, p=1.5)),
        lambda: doc(node("k", "constant", value=[[1, 2], [3]])),
        lambda: doc({"id": "x", "op": "input", "params": [1]}),
    ],
    "missing_input": [
        lambda: doc(node("x", "input", shape=[2]), node("a", "add", {"a": "x"})),
        lambda: doc(node("t", "tanh")),
    ],
    "extra_input": [
        lambda: doc(node("x", "input", shape=[2]), node("h", "tanh", {"x": "x", "z": "x"})),
    ],
    "dangling_input": [
        lambda: doc(node("x", "input", shape=[2]), node("h", "tanh", {"x": "nowhere"})),
        lambda: doc(node("x", "input", shape=[2]), node("h", "tanh", {"x": "x:nope"})),
        lambda: doc(
            node("x", "input", shape=[2]),
            node("d", "duplicate", {"x": "x"}),
            node("h", "tanh", {"x": "d"}),
        ),
        lambda: doc(node("x", "input", shape=[2]), node("h", "tanh", {"x": 7})),
    ],
    "cycle": [
        one_cycle,
        lambda: doc(node("a", "tanh", {"x": "a"})),
    ],
    "shape_mismatch": [
        lambda: doc(
            node("a", "input", shape=[2]),
            node("b", "input", shape=[3]),
            node("s", "add", {"a": "a", "b": "b"}),
        ),
        lambda: doc(
            node("y", "input", shape=[2]),
            node("t", "target", shape=[3]),
            node("c", "mse", {"y": "y", "target": "t"}),
        ),
        lambda: doc(
            node("y", "input", shape=[3]),
            node("t", "target", shape=[], dtype="int"),
            node("c", "mse", {"y": "y", "target": "t"}),
        ),
        lambda: doc(node("x", "input", shape=[]), node("s", "softmax", {"x": "x"})),
        lambda: doc(node("x", "input", shape=[5]), node("r", "reshape", {"x": "x"}, shape=[2, 2])),
        lambda: doc(
            node("z", "input", shape=[3]),
            node("t", "target", shape=[2]),
            node("c", "cross_entropy", {"logits": "z", "target": "t"}),
        ),
    ],
    "not_differentiable": [
        lambda: doc(
            node("x", "input", shape=[2]),
            node("l", "linear", {"x": "x"}, out_features=3),
            node("k", "argmin", {"x": "l"}),
            node("z", "input", shape=[3]),
            node("c", "cross_entropy", {"logits": "z", "target": "k"}),
        ),
    ],
    "too_large": [],  # needs max_bytes: see test_too_large
    "module_cycle": [
        lambda: {
            "modules": {
                "a": {"inputs": ["x"], "outputs": {"y": "u"}, "nodes": [instance("u", "b")]},
                "b": {"inputs": ["x"], "outputs": {"y": "v"}, "nodes": [instance("v", "a")]},
            },
            "nodes": [node("x", "input", shape=[2]), instance("m", "a", "x")],
        },
    ],
}


def instance(nid, module, src="x"):
    return {"id": nid, "op": "module", "params": {"module": module}, "inputs": {"x": src}}


def _cases():
    return [(code, i) for code, builders in CASES.items() for i in range(len(builders))]


@pytest.mark.parametrize(("code", "i"), _cases())
def test_each_code_from_its_case_only(code, i):
    d = CASES[code][i]()
    r = validate(d)
    assert not r.ok
    assert {e.code for e in r.errors} == {code}, [e.to_dict() for e in r.errors]
    for e in r.errors:
        assert e.message and isinstance(e.nodes, list)
    if isinstance(d, dict) and code not in ("bad_graph",):
        with pytest.raises(GraphError) as exc:
            compile_graph(d, 2)
        assert exc.value.code == code


def test_every_code_is_covered():
    assert set(CASES) | {"bad_feed", "bad_state"} == set(CODES)


def test_valid_graphs_produce_no_issue():
    for d in [DESIGN_EXAMPLE, one_cycle_fixed()]:
        assert validate(d).errors == []


def one_cycle_fixed():
    d = one_cycle()
    d["nodes"][1]["inputs"]["b"] = "x"
    return d


def test_cycle_reports_the_nodes_of_one_cycle_in_order():
    (issue,) = validate(one_cycle()).errors
    assert issue.code == "cycle"
    assert issue.nodes == ["a", "b", "c"]  # a -> b -> c -> a; "after" is not on it
    assert "a → b → c → a" in issue.message
    (self_loop,) = validate(doc(node("a", "tanh", {"x": "a"}))).errors
    assert self_loop.nodes == ["a"]


def test_cycle_found_in_a_deep_graph_without_recursion():
    n = 50_000
    nodes = [node("n0", "tanh", {"x": f"n{n - 1}"})]
    nodes += [node(f"n{i}", "tanh", {"x": f"n{i - 1}"}) for i in range(1, n)]
    (issue,) = validate(doc(*nodes)).errors
    assert issue.code == "cycle" and len(issue.nodes) == n and issue.nodes[0] == "n0"


def test_messages_name_node_port_and_expectation():
    r = validate(CASES["shape_mismatch"][0]())
    (e,) = r.errors
    assert e.nodes[0] == "s" and e.port == "b"
    assert "[3]" in e.message and "[2]" in e.message
    (e,) = validate(CASES["missing_input"][0]()).errors
    assert e.nodes == ["a"] and e.port == "b" and "'b'" in e.message
    (e,) = validate(CASES["bad_param"][0]()).errors
    assert e.port == "out_features" and "required" in e.message
    (e,) = validate(CASES["dangling_input"][0]()).errors
    assert e.port == "x" and "nowhere" in e.message
    (e,) = validate(CASES["shape_mismatch"][2]()).errors
    assert e.port == "target" and "integer" in e.message
    (e,) = validate(CASES["not_differentiable"][0]()).errors
    assert e.nodes == ["c", "k"] and "argmin" in e.message
    assert e.to_dict() == {"code": e.code, "message": e.message, "nodes": e.nodes, "port": None}


def test_all_issues_are_collected():
    d = doc(
        node("x", "input", shape=[2]),
        node("x", "input"),
        node("h", "tanh", {"x": "q"}),
        node("l", "linear", {"x": "x"}),
        node("w", "warp", {"x": "x"}),
        node("m", "mse", {"y": "x", "target": "x", "extra": "x"}),
    )
    assert sorted(codes(d)) == sorted(
        ["duplicate_id", "dangling_input", "bad_param", "unknown_op", "extra_input"]
    )


def test_downstream_of_a_broken_node_stays_quiet():
    d = doc(
        node("x", "input", shape=[2]),
        node("w", "warp", {"x": "x"}),
        node("h", "tanh", {"x": "w"}),
        node("s", "add", {"a": "h", "b": "x"}),
    )
    assert codes(d) == ["unknown_op"]


def test_too_large_is_refused_before_allocating():
    huge = doc(
        node("x", "input", shape=[100_000]), node("l", "linear", {"x": "x"}, out_features=100_000)
    )  # W alone: 40 GB
    r = validate(huge, max_bytes=10**9)
    assert [e.code for e in r.errors] == ["too_large"]
    assert "GB" in r.errors[0].message
    assert validate(huge).ok  # no cap, no complaint
    with pytest.raises(GraphError) as e:
        compile_graph(huge, 1, max_bytes=10**9)
    assert e.value.code == "too_large"
    small = mlp()
    assert validate(small, max_bytes=10**6, batch_size=32).ok
    assert not validate(small, max_bytes=10**6, batch_size=100_000).ok
    assert codes(small, max_bytes=10**6, batch_size=100_000) == ["too_large"]


def _feeds(batch=4):
    return {"x": np.zeros((batch, 2)), "y": np.zeros(batch, dtype=int)}


@pytest.mark.parametrize(
    ("change", "who"),
    [
        (lambda f: f.pop("y"), "y"),
        (lambda f: f.update(x=np.zeros((3, 2))), "x"),
        (lambda f: f.update(x=np.zeros((4, 3))), "x"),
        (lambda f: f.update(x=np.zeros(4)), "x"),
        (lambda f: f.update(y=np.array([0, 1, -1, 0])), "y"),
        (lambda f: f.update(y=np.array([0.5, 1, 1, 0])), "y"),
        (lambda f: f.update(y=np.array([0, 1, 7, 0])), None),  # out of range for 2 classes
        (lambda f: f.update(x=np.array([["a", "b"]] * 4)), "x"),
        (lambda f: f.update(z=np.zeros(4)), "z"),
    ],
)
def test_bad_feed(change, who):
    plan = compile_graph(mlp(), 4)
    f = _feeds()
    change(f)
    with pytest.raises(GraphError) as e:
        plan.forward(f)
    assert e.value.code == "bad_feed"
    if who:
        assert e.value.issues[0].nodes == [who] and f"'{who}'" in str(e.value)
    plan.forward(_feeds())  # still usable


def test_bad_feed_message_names_the_batch_axis():
    plan = compile_graph(mlp(), 4)
    with pytest.raises(GraphError, match="leading .batch. axis must be 4, got 3"):
        plan.forward({"x": np.zeros((3, 2)), "y": np.zeros(3, int)})
    with pytest.raises(GraphError, match="feeds must map"):
        plan.forward([1, 2])
    plan.forward({"x": [[0, 1]] * 4, "y": [0, 1, 1, 0]})  # lists and ints are fine


@pytest.mark.parametrize(
    "state",
    [
        {"nope": {"W": [[1.0]]}},
        {"l1": {"Q": [1.0]}},
        {"l1": {"W": [[1.0, 2.0]]}},
        {"h1": {"W": [1.0]}},
        {"l1": {"b": [float("nan")] * 16}},
        {"l1": [1, 2]},
        {"l1": {"b": "zeros"}},
    ],
)
def test_bad_state(state):
    with pytest.raises(GraphError) as e:
        compile_graph(mlp(), 2, state=state)
    assert e.value.code == "bad_state"
    plan = compile_graph(mlp(), 2)
    before = plan.state_dict()
    with pytest.raises(GraphError):
        plan.load_state(state)
    assert plan.state_dict() == before  # nothing half-loaded


def test_graph_error_shape():
    e = GraphError([Issue("cycle", "a cycle", ["a", "b"], None), Issue("bad_id", "x")])
    assert e.code == "cycle" and str(e) == "a cycle"
    assert e.to_dict() == {
        "error": {"code": "cycle", "message": "a cycle", "nodes": ["a", "b"], "port": None}
    }
    assert "+1 more" in repr(e)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=True)
    | st.sampled_from(["x", "y", "x:y1", "input", "linear", "add", "tanh", "duplicate", "d:y2"]),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "op",
                    "params",
                    "inputs",
                    "shape",
                    "x",
                    "a",
                    "b",
                    "nodes",
                    "version",
                    "out_features",
                    "value",
                ]
            ),
            kids,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        json_values,
        st.builds(lambda ns: {"version": 1, "nodes": ns}, st.lists(json_values, max_size=6)),
    )
)
def test_validate_never_raises_on_garbage(d):
    r = validate(d)
    assert r.ok or r.errors
    assert all(e.code in CODES for e in r.errors)
