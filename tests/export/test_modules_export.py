"""Export of graphs with modules: nested nn.Modules (one class per module definition) and
inlined ONNX compute what the engine computes; tied instances share one nn.Module."""

from __future__ import annotations

import copy
import importlib.util
import re

import numpy as np
import pytest

from blockprop.engine import compile_graph
from blockprop.export import ExportError
from blockprop.export.pytorch import to_pytorch

from .helpers import node

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed: PyTorch export oracle tests skipped",
)

BLOCK = {
    "inputs": ["x"],
    "outputs": {"y": "t"},
    "nodes": [node("l", "linear", {"x": "x"}, out_features=2), node("t", "tanh", {"x": "l"})],
}


def inst(nid, module, tie=None, **inputs):
    return {
        "id": nid,
        "op": "module",
        "params": {"module": module} | ({"tie": tie} if tie else {}),
        "inputs": inputs,
    }


def graph(tie=None):
    """Two instances of "block" inside "pair" (one of them maybe tied), the pair used once,
    a cost inside the pair's second block's module output path, and one at the top."""
    return {
        "name": "pairs",
        "modules": {
            "block": copy.deepcopy(BLOCK),
            "pair": {
                "inputs": ["u"],
                "outputs": {"v": "b", "first": "a"},
                "nodes": [inst("a", "block", x="u"), inst("b", "block", tie=tie, x="a")],
            },
        },
        "nodes": [
            node("x", "input", shape=[2]),
            node("y", "target", shape=[2]),
            inst("p", "pair", u="x"),
            node("s", "add", {"a": "p:v", "b": "p:first"}),
            node("c", "squared_error", {"y": "s", "target": "y"}),
        ],
    }


def feeds(batch=4):
    rng = np.random.default_rng(1)
    return {"x": rng.standard_normal((batch, 2)), "y": rng.standard_normal((batch, 2))}


def load(src: str):
    import torch

    ns: dict = {}
    exec(compile(src, "<exported>", "exec"), ns)
    top = [v for v in ns.values() if isinstance(v, type) and hasattr(v, "GRAPH_NAME")]
    subs = [v for v in ns.values() if isinstance(v, type) and hasattr(v, "MODULE_NAME")]
    assert len(top) == 1 and all(issubclass(c, torch.nn.Module) for c in subs)
    return top[0], subs


def test_one_class_per_module_definition_and_no_graph_text_in_code():
    d = graph()
    d["modules"]["block"]["nodes"][0]["id"] = "import_os"
    d["modules"]["block"]["nodes"][1]["inputs"] = {"x": "import_os"}
    src = to_pytorch(d, seed=2)
    assert re.findall(r"^class (\w+)\(nn\.Module\):", src, re.M) == ["Block", "Pair", "Pairs"]
    assert 'MODULE_NAME = "block"' in src and 'MODULES = {\n        "p_block": "p/",' in src
    assert "self.a_block(batch, u)" in src


@needs_torch
@pytest.mark.parametrize("tie", [None, "a"])
def test_torch_module_computes_the_engines_values_and_gradients(tie):
    import torch

    d = graph(tie)
    plan = compile_graph(d, 4, dtype=np.float64, seed=5)
    f = feeds()
    loss = plan.forward(f)
    plan.backward()
    top, subs = load(to_pytorch(d, seed=5))
    assert sorted(c.MODULE_NAME for c in subs) == ["block", "pair"]
    model = top(dtype=torch.float64)
    tl, values = model(**{k: torch.tensor(v) for k, v in f.items()})
    tl.backward()
    assert tl.item() == pytest.approx(loss, rel=1e-12)
    assert set(values) == set(plan.values)
    for k, v in plan.values.items():
        np.testing.assert_allclose(values[k].detach().numpy(), v, rtol=1e-12, atol=1e-14)
    by_param = params_by_node(model)
    assert set(by_param) == {(n, k) for n, ps in plan.params.items() for k in ps}
    for (nid, name), p in by_param.items():
        np.testing.assert_allclose(p.grad.numpy(), plan.param_grads[nid][name], rtol=1e-10)
    assert model.graph_state().keys() == plan.state_dict().keys()
    if tie:  # one nn.Module under two names: one set of parameters
        assert model.p_block.b_block is model.p_block.a_block
        assert len(list(model.parameters())) == 2


def params_by_node(module, prefix=""):
    """Every nn.Parameter by (flat node id, name), walking the nested modules."""
    out = {(prefix + nid, name): getattr(module, a) for a, (nid, name) in module.PARAMETERS.items()}
    for attr, p in module.MODULES.items():
        out.update(params_by_node(getattr(module, attr), prefix + p))
    return out


@needs_torch
def test_an_instance_tied_to_one_that_runs_later_shares_its_module():
    import torch

    d = graph()
    d["modules"]["pair"]["nodes"][0]["params"]["tie"] = "b"  # a (run first) uses b's
    top, _ = load(to_pytorch(d, seed=4))
    model = top(dtype=torch.float64)
    assert model.p_block.a_block is model.p_block.b_block
    plan = compile_graph(d, 4, dtype=np.float64, seed=4)
    f = feeds()
    tl, _ = model(**{k: torch.tensor(v) for k, v in f.items()})
    tl.backward()
    assert tl.item() == pytest.approx(plan.forward(f), rel=1e-12)
    plan.backward()
    grads = {k: p.grad.numpy() for k, p in params_by_node(model).items()}
    assert set(grads) == {("p/b/l", "W"), ("p/b/l", "b")}
    np.testing.assert_allclose(grads["p/b/l", "W"], plan.param_grads["p/b/l"]["W"], rtol=1e-10)


@needs_torch
def test_graph_state_round_trips_into_the_engine():
    import torch

    d = graph()
    top, _ = load(to_pytorch(d, seed=7))
    model = top(dtype=torch.float64)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
    state = model.graph_state()
    plan = compile_graph(d, 4, dtype=np.float64, state=state)
    f = feeds()
    tl, _ = model(**{k: torch.tensor(v) for k, v in f.items()})
    assert plan.forward(f) == pytest.approx(tl.item(), rel=1e-12)


def test_onnx_inlines_modules_and_matches_the_engine():
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    import onnx

    from blockprop.export.onnx import to_onnx_bytes

    for tie in (None, "a"):
        d = graph(tie)
        sess = ort.InferenceSession(to_onnx_bytes(d, seed=3))
        plan = compile_graph(d, 4, dtype=np.float64, seed=3)
        f = feeds()
        loss = plan.forward(f)
        outs = sess.run(None, {k: v.astype(np.float32) for k, v in f.items()})
        named = dict(zip([o.name for o in sess.get_outputs()], outs, strict=True))
        assert named["loss"] == pytest.approx(loss, rel=1e-5)
        np.testing.assert_allclose(named["p/b/t"], plan.values["p/b/t"], rtol=1e-5, atol=1e-6)
        model = onnx.load_from_string(to_onnx_bytes(d, seed=3))
        inits = {i.name for i in model.graph.initializer}
        assert ("p/b/l.W" in inits) == (tie is None)


def test_a_tied_instance_fed_other_shapes_is_refused_by_the_validator_first():
    d = graph("a")
    d["modules"]["pair"]["nodes"][1]["inputs"] = {"x": "u"}
    d["nodes"][0]["params"]["shape"] = [2]
    src = to_pytorch(d)  # same shapes: fine
    assert "self.b_block = self.a_block" in src
    d["modules"]["block"]["nodes"][0]["params"]["out_features"] = 3
    with pytest.raises(Exception) as e:  # b reads a's 3 outputs: W shapes differ
        d["modules"]["pair"]["nodes"][1]["inputs"] = {"x": "a"}
        to_pytorch(d)
    assert getattr(e.value, "code", None) in ("shape_mismatch",)
    assert not isinstance(e.value, ExportError)


@needs_torch
def test_python_words_as_module_port_and_node_names_stay_data():
    import torch

    d = {
        "name": "import os",
        "modules": {
            "class": {
                "inputs": ["lambda", "batch"],
                "outputs": {"return": "self", "values": "batch"},
                "nodes": [
                    node("self", "add", {"a": "lambda", "b": "batch"}),
                ],
            }
        },
        "nodes": [
            node("x", "input", shape=[2]),
            inst("None", "class", **{"lambda": "x", "batch": "x"}),
            node("state", "add", {"a": "None:return", "b": "None:values"}),
        ],
    }
    src = to_pytorch(d)
    assert "\nimport os" not in src  # the name is a literal and a comment, never a line
    top, (sub,) = load(src)
    assert sub.MODULE_NAME == "class" and sub.INPUTS == ("lambda", "batch")
    x = np.arange(6.0).reshape(3, 2)
    _, values = top(dtype=torch.float64)(x=torch.tensor(x))
    np.testing.assert_allclose(values["state"].numpy(), 3 * x)
    assert set(values) == {"x", "None/self", "state"}
