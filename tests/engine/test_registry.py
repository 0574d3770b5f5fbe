"""The op registry: declarations, the op spec, duplicate names, no op names elsewhere."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from blockprop.engine import GraphError, registry
from blockprop.engine.registry import OpDef, Param, Registry, Sample

ENGINE = Path(registry.__file__).parent
SPEC_KEYS = {
    "name",
    "label",
    "category",
    "doc",
    "inputs",
    "outputs",
    "params",
    "parameters",
    "buffers",
    "differentiable",
    "formula",
    "explain",
    "notation",
    "source",
}
REQUIRED_OPS = [
    "input",
    "target",
    "parameter",
    "constant",
    "linear",
    "matmul",
    "add",
    "subtract",
    "multiply",
    "duplicate",
    "max",
    "relu",
    "leaky_relu",
    "tanh",
    "sigmoid",
    "exp",
    "log",
    "square",
    "softmax",
    "log_softmax",
    "sum",
    "mean",
    "concat",
    "flatten",
    "reshape",
    "dropout",
    "sq_distance",
    "argmin",
    "squared_error",
    "mse",
    "cross_entropy",
    "nll",
    "binary_cross_entropy",
    "hinge",
    "l1",
]


def _tiny(name="tiny", **kw):
    base = dict(
        name=name,
        label="Tiny",
        category="function",
        doc="test op",
        inputs=[("x", "in")],
        shape=lambda x: x,
        forward=lambda x, out: np.copyto(out, x),
        vjp={"x": lambda g: g},
        formula={"forward": "y = x", "backward": "g"},
        samples=[Sample({"x": (2,)})],
    )
    base.update(kw)
    return OpDef(**base)


def test_every_required_op_is_registered():
    missing = [n for n in REQUIRED_OPS if n not in registry.names()]
    assert not missing


def test_all_ops_sorted_by_category_then_name():
    ops = registry.all_ops()
    cats = ["variable", "function", "cost"]
    assert ops == sorted(ops, key=lambda o: (cats.index(o.category), o.name))
    assert {o.category for o in ops} == set(cats)


@pytest.mark.parametrize("op", registry.all_ops(), ids=lambda o: o.name)
def test_op_declaration_is_complete(op):
    assert op.label and op.doc and op.category in ("variable", "function", "cost")
    assert op.formula["forward"] and op.formula["backward"]
    assert op.samples, f"{op.name} has no sample inputs: the registry walk cannot test it"
    for s in op.samples:
        assert set(s.inputs) == {p.name for p in op.inputs}, f"{op.name}: sample ports"
    if op.category == "cost":
        assert op.outputs == ("y",)


@pytest.mark.parametrize("op", registry.all_ops(), ids=lambda o: o.name)
def test_op_spec_matches_the_contract(op):
    spec = registry.op_spec(op)
    assert set(spec) == SPEC_KEYS
    assert spec == registry.op_spec(op.name)
    json.dumps(spec)  # JSON-able
    assert [i["name"] for i in spec["inputs"]] == [p.name for p in op.inputs]
    for p in spec["params"]:
        assert {"name", "type", "default", "min", "max", "choices", "doc"} <= set(p)
        if p["required"]:
            assert p["default"] is None
    for t in spec["parameters"]:
        assert set(t) == {"name", "shape_rule"} and t["shape_rule"]
    assert [b["name"] for b in spec["buffers"]] == [b.name for b in op.buffers]
    for b in spec["buffers"]:
        assert set(b) == {"name", "shape_rule", "fill", "doc"} and b["shape_rule"]
    assert set(spec["formula"]) == {"forward", "backward"}


def test_linear_spec_example():
    spec = registry.op_spec(registry.get("linear"))
    assert [t["name"] for t in spec["parameters"]] == ["W", "b"]
    out = next(p for p in spec["params"] if p["name"] == "out_features")
    assert out["type"] == "int" and out["min"] == 1 and out["required"]
    init = next(p for p in spec["params"] if p["name"] == "init")
    assert set(init["choices"]) == {"zeros", "uniform", "xavier", "he"}


def test_unknown_op_is_a_graph_error():
    with pytest.raises(GraphError) as e:
        registry.get("no_such_op")
    assert e.value.code == "unknown_op"
    assert str(e.value) == "there is no op called 'no_such_op'"
    with pytest.raises(KeyError):  # also a KeyError, like a dict lookup
        registry.get("no_such_op")


def test_registering_a_name_twice_raises():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get("relu"))
    r = Registry()
    r.register(_tiny())
    with pytest.raises(ValueError, match="already registered"):
        r.register(_tiny())
    assert len(r) == 1


def test_declaration_mistakes_are_caught_at_registration():
    with pytest.raises(ValueError, match="unknown name"):
        _tiny(forward=lambda x, weights, out: x)  # asks for something that does not exist
    with pytest.raises(ValueError, match="needs a vjp"):
        _tiny(vjp={})
    with pytest.raises(ValueError, match="category"):
        _tiny(category="layer")
    with pytest.raises(ValueError, match="distinct"):
        _tiny(params=[Param("x", "int", 1)])
    with pytest.raises(ValueError, match="formula"):
        _tiny(formula={"forward": "y"})
    with pytest.raises(TypeError, match="bound by name"):
        _tiny(forward=lambda *args: None)
    _tiny(differentiable=False, vjp={})  # fine: forward only


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    docstrings = set()  # (and dict keys such as a param spec's "max")
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            docstrings.update(id(k) for k in node.keys if k is not None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    }


@pytest.mark.parametrize("module", ["registry.py", "graph.py", "executor.py", "gradcheck.py"])
def test_no_op_names_outside_the_op_declarations(module):
    # "input" and "target" are also the names of the two kinds of fed source (OpDef.source)
    allowed = {"input", "target"}
    names = set(registry.names()) - allowed
    found = _string_constants(ENGINE / module) & names
    assert not found, f"{module} names ops {sorted(found)}: dispatch through the registry"


@pytest.mark.parametrize(
    "module",
    [
        "blockprop.engine",
        "blockprop.engine.registry",
        "blockprop.engine.graph",
        "blockprop.engine.executor",
        "blockprop.engine.gradcheck",
        "blockprop.engine.modules",
    ],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
