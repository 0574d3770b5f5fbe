"""PyTorch export: readable source whose module computes what the engine computes.

The torch comparisons (values, loss, gradients, float64, rtol 1e-6) are skipped, visibly,
when torch is not installed (``pip install torch==2.13.0``, CPU wheel); the source checks
run without it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re

import numpy as np
import pytest

from blockprop.engine import GraphError
from blockprop.export import ExportError, export, file_stem
from blockprop.export.pytorch import MODULE_ATTRS, class_name, literal, to_pytorch

from .helpers import EXAMPLE_IDS, all_cases, doc, engine_run, example_graph, node, random_feeds

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="torch is not installed: PyTorch export oracle tests skipped"
)
RTOL, ATOL = 1e-6, 1e-9
CASES = all_cases()


def load(source: str):
    """Exec the source; return its nn.Module class."""
    import torch

    ns: dict = {}
    exec(compile(source, "<exported>", "exec"), ns)
    classes = [
        v
        for v in ns.values()
        if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ != "torch"
    ]
    classes = [c for c in classes if not c.__module__.startswith("torch.")]
    classes = [c for c in classes if hasattr(c, "GRAPH_NAME")]  # not the modules' classes
    assert len(classes) == 1, classes
    return classes[0]


def torch_run(source: str, feeds: dict, *, train: bool = False):
    """Run the exported module in float64 with autograd: (model, loss, values, inputs)."""
    import torch

    model = load(source)(dtype=torch.float64)
    model.train(train)
    inputs = {}
    for k, a in feeds.items():
        t = torch.tensor(a)
        if t.is_floating_point():
            t.requires_grad_(True)
        inputs[k] = t
    loss, values = model(**inputs)
    for v in values.values():
        if v.requires_grad and not v.is_leaf:
            v.retain_grad()
    if loss is not None:
        loss.backward()
    return model, loss, values, inputs


def compare(d: dict, feeds: dict, *, seed: int = 0) -> None:
    """The exported module and the engine agree on values, loss and every gradient."""
    import torch

    plan = engine_run(d, feeds, seed=seed)
    model, loss, values, _ = torch_run(to_pytorch(d, seed=seed), feeds)
    assert set(values) == set(plan.values)
    if plan.cost_ids:
        assert loss.item() == pytest.approx(plan.loss, rel=RTOL, abs=ATOL)
    else:
        assert loss is None
    for k, v in plan.values.items():
        t = values[k].detach().numpy()
        assert t.shape == v.shape, k
        np.testing.assert_allclose(t, v, rtol=RTOL, atol=ATOL, err_msg=f"value {k}")
    checked = 0
    for k, g in plan.grads.items():
        t = values[k]
        if not t.requires_grad:  # constants (buffers) and integer labels: no autograd
            continue
        tg = np.zeros_like(g) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(tg, g, rtol=RTOL, atol=ATOL, err_msg=f"grad {k}")
        checked += 1
    for attr, (nid, name) in model.PARAMETERS.items():
        p = getattr(model, attr)
        tg = torch.zeros_like(p) if p.grad is None else p.grad
        want = plan.param_grads[nid][name]
        np.testing.assert_allclose(tg.numpy(), want, rtol=RTOL, atol=ATOL, err_msg=attr)
        checked += 1
    assert checked or not plan.cost_ids


# --------------------------------------------------------------------------- the oracle


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_exported_module_matches_the_engine(case):
    _, d, feeds = case
    compare(d, feeds)


@needs_torch
@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_the_graphs_state_is_used(example):
    d = example_graph(example)
    plan = engine_run(d, random_feeds(d, 3), seed=5, backward=False)
    rng = np.random.default_rng(9)
    state = {
        n: {k: rng.standard_normal(a.shape).tolist() for k, a in p.items()}
        for n, p in plan.params.items()
    }
    for n, bufs in plan.buffers.items():  # running statistics: a variance is positive
        state[n].update({k: rng.uniform(0.5, 2.0, a.shape).tolist() for k, a in bufs.items()})
    with_state = {**d, "state": state}
    compare(with_state, random_feeds(d, 3, seed=4), seed=123)  # the seed does not matter
    model = load(to_pytorch(with_state))(dtype=__import__("torch").float64)
    assert model.graph_state() == state


@needs_torch
def test_seed_gives_the_engines_initialisation():
    d = example_graph("spiral")
    for seed in (0, 7):
        import torch

        plan = engine_run(d, random_feeds(d, 2), seed=seed, backward=False)
        model = load(to_pytorch(d, seed=seed))(dtype=torch.float64)
        for attr, (nid, name) in model.PARAMETERS.items():
            np.testing.assert_array_equal(
                getattr(model, attr).detach().numpy(), plan.params[nid][name]
            )


@needs_torch
def test_float32_by_default_and_dropout_in_train_mode():
    import torch

    d = doc(
        node("x", "input", shape=[50]),
        node("d", "dropout", {"x": "x"}, p=0.5),
        node("w", "parameter", shape=[50]),
        node("c", "constant", value=2.0),
        node("m", "multiply", {"a": "d", "b": "w"}),
        node("s", "multiply", {"a": "m", "b": "c"}),
    )
    model = load(to_pytorch(d))()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(b.dtype == torch.float32 for b in model.buffers())
    x = torch.ones(4, 50)
    model.eval()
    _, values = model(x=x)
    assert torch.equal(values["d"], x)
    model.train()
    _, values = model(x=x)
    kept = values["d"] != 0
    assert 0 < kept.sum() < x.numel()  # some dropped, the rest scaled by 1 / (1 - p)
    assert torch.allclose(values["d"][kept], torch.full_like(values["d"][kept], 2.0))
    assert model.double().c_value.dtype == torch.float64  # constants are buffers


@needs_torch
def test_ids_that_are_not_python_names():
    d = doc(
        node("1x", "input", shape=[2]),
        node("class", "linear", {"x": "1x"}, out_features=2),
        node("a-b", "tanh", {"x": "class"}),
        node("batch", "relu", {"x": "a-b"}),
        node("loss", "target", shape=[2]),
        node("self", "mse", {"y": "batch", "target": "loss"}),
    )
    src = to_pytorch(d)
    ast.parse(src)
    compare(d, random_feeds(d, 3))


def test_module_attrs_cover_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    names = {n for n in dir(torch.nn.Module) if "_" in n.strip("_") and not n.startswith("_")}
    assert names <= MODULE_ATTRS, sorted(names - MODULE_ATTRS)


# --------------------------------------------------------------------------- the source


def forward_lines(src: str) -> list[str]:
    body = src[src.index("    def forward(self, **inputs):") :]
    body = body[: body.index("        values =")]
    return [line.strip() for line in body.splitlines()[1:] if line.strip()]


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_one_line_per_node_in_topological_order(example):
    from blockprop.engine import validate

    d = example_graph(example)
    src = export(d, "pytorch")
    ast.parse(src)
    compile(src, "<exported>", "exec")
    # a module instance is one line (a call of its nn.Module) in the graph's forward
    order = list(dict.fromkeys(nid.split("/")[0] for nid in validate(d).order))
    lines = [line for line in forward_lines(src) if not line.startswith(("batch =", "loss ="))]
    assert [re.search(r"# (\S+) \(", line).group(1) for line in lines] == order
    assert f"class {class_name(d['name'])}(nn.Module):" in src
    assert "def forward(self, **inputs):" in src and "return loss, values" in src
    assert "import numpy" not in src and "blockprop" not in src.split('"""', 2)[2]


def test_readable_source_for_a_small_graph():
    src = to_pytorch(example_graph("xor"))
    assert forward_lines(src) == [
        'x = inputs["x"]  # x (input) [batch, 2]',
        'y = inputs["y"]  # y (target) [batch, 1]',
        "hidden = F.linear(x, self.hidden_W, self.hidden_b)  # hidden (linear) [batch, 4]",
        "h = torch.tanh(hidden)  # h (tanh) [batch, 4]",
        "score = F.linear(h, self.score_W, self.score_b)  # score (linear) [batch, 1]",
        'cost = F.binary_cross_entropy_with_logits(score, y, reduction="none").sum(1)'
        "  # cost (binary_cross_entropy) [batch]",
        "loss = cost.mean()  # the mean over the batch of the sum of the costs",
    ]
    assert "class XORWithOneHiddenLayer(nn.Module):" in src
    assert 'self.hidden_W = nn.Parameter(torch.tensor(STATE["hidden"]["W"], dtype=dtype))' in src


def test_broadcasting_lines_up_per_sample_axes():
    d = doc(
        node("a", "input", shape=[3]),
        node("b", "input", shape=[2, 3]),
        node("s", "add", {"a": "a", "b": "b"}),
    )
    assert "s = a[:, None] + b  # s (add) [batch, 2, 3]" in to_pytorch(d)


def test_no_costs_no_loss():
    src = to_pytorch(example_graph("nearest_neighbour"))
    assert "loss = None  # the graph has no cost node" in src
    assert "nearest = torch.argmin(dist, dim=-1)  # nearest (argmin, int) [batch]" in src


def test_parameters_are_exact():
    d = example_graph("linear_regression")
    state = {"lin": {"W": [[1 / 3]], "b": [2.0**-40]}}
    src = to_pytorch({**d, "state": state})
    ns: dict = {}
    tree = ast.parse(src)
    stmt = next(s for s in tree.body if isinstance(s, ast.Assign) and s.targets[0].id == "STATE")
    exec(compile(ast.Module([stmt], []), "<state>", "exec"), ns)
    assert ns["STATE"] == {"lin": {"W": [[1 / 3]], "b": [2.0**-40]}}
    assert "parameters start from the graph's trained state" in src


def test_literal_wraps_long_rows():
    text = literal(np.arange(60, dtype=float) / 7, 4)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert json.loads(text.replace(",\n    ]", "\n    ]")) == (np.arange(60) / 7).tolist()


def test_class_names_and_file_stems():
    assert class_name("Two-spiral classifier") == "TwoSpiralClassifier"
    assert class_name("") == "BlockpropModel"
    assert class_name("3 layers") == "Model3Layers"
    assert file_stem("Two-spiral classifier") == "two_spiral_classifier"
    assert file_stem("") == "model"


def test_invalid_graph_raises_the_validation_error():
    d = doc(node("a", "tanh", {"x": "b"}), node("b", "tanh", {"x": "a"}))
    with pytest.raises(GraphError) as e:
        to_pytorch(d)
    assert e.value.code == "cycle" and not isinstance(e.value, ExportError)
    with pytest.raises(GraphError) as e:
        to_pytorch({**example_graph("xor"), "state": {"hidden": {"W": [[1.0]]}}})
    assert e.value.code == "bad_state"
