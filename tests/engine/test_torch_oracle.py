"""Values and gradients agree with PyTorch autograd (float64, same weights, rtol 1e-6).

Skipped, visibly, when torch is not installed (``pip install torch==2.13.0``, CPU wheel).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from blockprop.engine import compile_graph

from .dags import dags
from .graphs import doc, node

torch = pytest.importorskip("torch", reason="torch is not installed: oracle tests skipped")
F = torch.nn.functional
RTOL, ATOL = 1e-6, 1e-9

# how each op used in these tests reads in PyTorch (test-only table)
TORCH = {
    "flatten": lambda x: x.flatten(1),
    "linear": lambda x, W, b=None: F.linear(x, W, b),
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "square": torch.square,
    "exp": torch.exp,
    "add": torch.add,
    "subtract": torch.sub,
    "multiply": torch.mul,
    "max": torch.maximum,
    "duplicate": lambda x: (x.clone(), x.clone()),
    "squared_error": lambda y, t: ((y - t) ** 2).sum(-1),
    "mse": lambda y, t: ((y - t) ** 2).mean(-1),
    "cross_entropy": lambda z, t: F.cross_entropy(z, t, reduction="none"),
    "binary_cross_entropy": lambda z, t: F.binary_cross_entropy_with_logits(
        z, t, reduction="none"
    ).sum(-1),
    "l1": lambda y, t: (y - t).abs().sum(-1),
}


def torch_run(d, feeds, params):
    """Evaluate a graph document with torch autograd; return loss, values, grads, param grads."""
    vals, leaves = {}, {}
    for k, a in feeds.items():
        t = torch.tensor(a)
        if t.is_floating_point():
            t.requires_grad_(True)
        vals[k] = t
        leaves[k] = t
    tparams = {
        n: {k: torch.tensor(a, requires_grad=True) for k, a in p.items()} for n, p in params.items()
    }
    costs = []
    for n in d["nodes"]:
        if n["op"] in ("input", "target"):
            continue
        ins = [vals[s] for s in n.get("inputs", {}).values()]
        out = TORCH[n["op"]](*ins, **tparams.get(n["id"], {}))
        if isinstance(out, tuple):
            for name, o in zip(("y1", "y2"), out, strict=True):
                o.retain_grad()
                vals[f"{n['id']}:{name}"] = o
        else:
            out.retain_grad()
            vals[n["id"]] = out
        if n["op"] in ("squared_error", "mse", "cross_entropy", "binary_cross_entropy", "l1"):
            costs.append(out)
    loss = torch.stack(costs).sum(0).mean()
    loss.backward()
    grads = {k: v.grad for k, v in vals.items() if v.grad is not None}
    pgrads = {
        n: {k: torch.zeros_like(t) if t.grad is None else t.grad for k, t in p.items()}
        for n, p in tparams.items()
    }
    return loss.item(), vals, grads, pgrads


def compare(d, feeds):
    batch = len(next(iter(feeds.values())))
    plan = compile_graph(d, batch, dtype=np.float64, grads="all", seed=0)
    loss = plan.forward(feeds)
    plan.backward()
    tloss, tvals, tgrads, tpgrads = torch_run(d, feeds, plan.params)
    assert loss == pytest.approx(tloss, rel=RTOL, abs=ATOL)
    for k, v in plan.values.items():
        np.testing.assert_allclose(v, tvals[k].detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=k)
    for k, g in plan.grads.items():  # torch leaves .grad unset where nothing flows
        tg = tgrads[k].numpy() if k in tgrads else np.zeros_like(g)
        np.testing.assert_allclose(g, tg, rtol=RTOL, atol=ATOL, err_msg=k)
    for n, p in plan.param_grads.items():
        for k, g in p.items():
            np.testing.assert_allclose(
                g, tpgrads[n][k].numpy(), rtol=RTOL, atol=ATOL, err_msg=f"{n}.{k}"
            )
    return plan


@pytest.mark.parametrize("cost", ["cross_entropy", "mse"])
def test_notes_network_matches_torch(cost):
    """3×10×20 input, flattened -> Linear 60 -> ReLU -> Linear 40 -> ReLU -> Linear 10."""
    nodes = [
        node("x", "input", shape=[3, 10, 20]),
        node("f", "flatten", {"x": "x"}),
        node("l1", "linear", {"x": "f"}, out_features=60),
        node("r1", "relu", {"x": "l1"}),
        node("l2", "linear", {"x": "r1"}, out_features=40),
        node("r2", "relu", {"x": "l2"}),
        node("l3", "linear", {"x": "r2"}, out_features=10),
    ]
    rng = np.random.default_rng(3)
    batch = 8
    feeds = {"x": rng.standard_normal((batch, 3, 10, 20))}
    if cost == "cross_entropy":
        nodes += [
            node("y", "target", shape=[], dtype="int"),
            node("c", cost, {"logits": "l3", "target": "y"}),
        ]
        feeds["y"] = rng.integers(0, 10, batch)
    else:
        nodes += [node("y", "target", shape=[10]), node("c", cost, {"y": "l3", "target": "y"})]
        feeds["y"] = rng.standard_normal((batch, 10))
    plan = compare(doc(*nodes), feeds)
    assert plan.params["l1"]["W"].shape == (60, 600)


def test_torch_module_with_the_same_weights():
    """The same network as a torch.nn.Sequential, weights copied from the plan."""
    nodes = [
        node("x", "input", shape=[3, 10, 20]),
        node("f", "flatten", {"x": "x"}),
        node("l1", "linear", {"x": "f"}, out_features=60),
        node("r1", "relu", {"x": "l1"}),
        node("l2", "linear", {"x": "r1"}, out_features=40),
        node("r2", "relu", {"x": "l2"}),
        node("l3", "linear", {"x": "r2"}, out_features=10),
        node("y", "target", shape=[], dtype="int"),
        node("c", "cross_entropy", {"logits": "l3", "target": "y"}),
    ]
    rng = np.random.default_rng(4)
    feeds = {"x": rng.standard_normal((5, 3, 10, 20)), "y": rng.integers(0, 10, 5)}
    plan = compile_graph(doc(*nodes), 5, dtype=np.float64)
    loss = plan.forward(feeds)
    plan.backward()
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(600, 60),
        torch.nn.ReLU(),
        torch.nn.Linear(60, 40),
        torch.nn.ReLU(),
        torch.nn.Linear(40, 10),
    )
    net = net.double()
    with torch.no_grad():
        for i, name in [(1, "l1"), (3, "l2"), (5, "l3")]:
            net[i].weight.copy_(torch.tensor(plan.params[name]["W"]))
            net[i].bias.copy_(torch.tensor(plan.params[name]["b"]))
    tloss = F.cross_entropy(net(torch.tensor(feeds["x"])), torch.tensor(feeds["y"]))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=RTOL)
    for i, name in [(1, "l1"), (3, "l2"), (5, "l3")]:
        np.testing.assert_allclose(
            plan.param_grads[name]["W"], net[i].weight.grad.numpy(), rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(
            plan.param_grads[name]["b"], net[i].bias.grad.numpy(), rtol=RTOL, atol=ATOL
        )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(dags())
def test_random_dags_match_torch(case):
    d, feeds = case
    compare(d, feeds)
