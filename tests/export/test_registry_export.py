"""Walk the registry: which ops export, and what happens to one that does not."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from blockprop import export as export_pkg
from blockprop.engine import registry
from blockprop.engine.registry import OpDef, Sample
from blockprop.export import TARGETS, ExportError, export, exportable

from .helpers import doc, node

EXPORT = Path(export_pkg.__file__).parent
#: the ops of the notation (issue list): every one of them exports to both targets
REQUIRED = {
    "input", "target", "parameter", "constant", "linear", "matmul", "add", "subtract",
    "multiply", "duplicate", "max", "relu", "leaky_relu", "tanh", "sigmoid", "exp", "log",
    "square", "softmax", "log_softmax", "sum", "mean", "concat", "flatten", "reshape",
    "dropout", "sq_distance", "argmin", "squared_error", "mse", "cross_entropy", "nll",
    "binary_cross_entropy", "hinge", "l1",
}  # fmt: skip


def coverage() -> dict[str, list[str]]:
    """target -> the ops that export to it."""
    return {to: [o.name for o in registry.all_ops() if exportable(o, to)] for to in TARGETS}


@pytest.mark.parametrize("to", list(TARGETS))
def test_which_ops_export(to):
    ops = coverage()[to]
    missing = sorted(set(registry.names()) - set(ops))
    print(f"\n{to}: {len(ops)} of {len(registry.names())} ops export: {', '.join(ops)}")
    assert not missing, f"ops without a {to} rule: {missing}"
    assert set(ops) >= REQUIRED


@pytest.mark.parametrize("op", registry.all_ops(), ids=lambda o: o.name)
def test_each_op_declares_its_export_rules(op):
    assert op.torch is not None and op.onnx is not None
    if not isinstance(op.torch, str):
        assert "torch" in op.rules
    assert "onnx" in op.rules


@pytest.fixture
def unexportable():
    """A temporary op (in the default registry) that declares no export rule."""
    op = OpDef(
        name="test_noexport",
        label="No export",
        category="function",
        doc="a test op without export rules",
        inputs=[("x", "in")],
        shape=lambda x: x,
        forward=lambda x, out: np.copyto(out, x) if out is not None else x.copy(),
        vjp={"x": lambda g: g},
        formula={"forward": "y = x", "backward": "g"},
        samples=[Sample({"x": (2,)})],
    )
    registry.register(op)
    yield op
    del registry.REGISTRY._ops[op.name]


@pytest.mark.parametrize("to", list(TARGETS))
def test_an_op_without_a_rule_is_not_exportable(unexportable, to):
    d = doc(
        node("x", "input", shape=[2]),
        node("odd", "test_noexport", {"x": "x"}),
        node("h", "tanh", {"x": "odd"}),
    )
    assert not exportable(unexportable, to)
    with pytest.raises(ExportError) as e:
        export(d, to)
    err = e.value.to_dict()["error"]
    assert err["code"] == "not_exportable" and err["nodes"] == ["odd"]
    assert "'odd'" in err["message"] and "test_noexport" in err["message"]
    assert TARGETS[to][1] in err["message"]


def _base(**kw):
    base = dict(
        name="tiny",
        label="Tiny",
        category="function",
        doc="test op",
        inputs=[("x", "in")],
        params=[registry.Param("k", "float", 1.0)],
        shape=lambda x: x,
        forward=lambda x, out: x,
        vjp={"x": lambda g: g},
        formula={"forward": "y = x", "backward": "g"},
    )
    base.update(kw)
    return OpDef(**base)


def test_export_declaration_mistakes_are_caught_at_registration():
    _base(torch="torch.mul({x}, {k})", onnx=lambda ox, x, k: ox.op("Identity", x))  # fine
    with pytest.raises(ValueError, match="torch template names unknown"):
        _base(torch="torch.relu({y})")
    with pytest.raises(ValueError, match="torch rule asks for unknown"):
        _base(torch=lambda pt, y: y)
    with pytest.raises(ValueError, match="onnx rule asks for unknown"):
        _base(onnx=lambda pt, x: x)  # the ONNX helper is `ox`
    with pytest.raises(TypeError, match="bound by name"):
        _base(onnx=lambda *args: None)


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


@pytest.mark.parametrize("module", sorted(p.name for p in EXPORT.glob("*.py")))
def test_no_op_names_in_the_exporters(module):
    # "input" and "target" are also the names of the two kinds of fed source (OpDef.source)
    names = set(registry.names()) - {"input", "target"}
    found = _string_constants(EXPORT / module) & names
    assert not found, f"export/{module} names ops {sorted(found)}: dispatch through the registry"


@pytest.mark.parametrize(
    "module", ["blockprop.export", "blockprop.export.pytorch", "blockprop.export.onnx"]
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
