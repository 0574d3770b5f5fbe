"""Both Jacobians of a block, built from VJPs of basis vectors, against PyTorch autograd.

Every op's registry samples: the block's Jacobian with respect to each float input and each
trainable parameter equals ``torch.autograd.functional.jacobian`` of the same block exported to
PyTorch (float64), and g·J equals the VJP backward computes. Skipped, visibly, without torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from blockprop.engine import GraphError, registry
from blockprop.engine.jacobian import jacobian

from .graphs import doc, node, op_graph

CASES = [(op, i, s) for op in registry.all_ops() for i, s in enumerate(op.samples)]
IDS = [f"{op.name}-{i}" for op, i, _ in CASES]
RTOL, ATOL = 1e-7, 1e-10


def _one(op, sample, seed=5):
    d, feeds = op_graph(op, sample, 1, seed=seed)
    return d, feeds


@pytest.mark.parametrize(("op", "i", "sample"), CASES, ids=IDS)
def test_g_times_the_jacobian_is_the_vjp(op, i, sample):
    d, feeds = _one(op, sample)
    j = jacobian(d, feeds, "op")
    assert j["d_out"] == sum(math.prod(s) for s in _out_shapes(j))
    for name, w in j["wrt"].items():
        J = np.asarray(w["value"])
        assert J.shape == tuple(w["shape"]) == (j["d_out"], math.prod(w["in_shape"])), name
        np.testing.assert_allclose(j["g"] @ J, w["vjp"], rtol=RTOL, atol=ATOL, err_msg=name)


def _out_shapes(j):
    s = j["out_shape"]
    return s if s and isinstance(s[0], list) else [s]


try:
    import torch
except ImportError:  # the oracle tests below are skipped, visibly
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed: oracle skipped")


def _module(d):
    from blockprop.export.pytorch import to_pytorch

    ns: dict = {}
    exec(compile(to_pytorch(d, seed=0), "<exported>", "exec"), ns)
    cls = next(
        v
        for v in ns.values()
        if isinstance(v, type) and issubclass(v, torch.nn.Module) and hasattr(v, "PARAMETERS")
    )
    model = cls(dtype=torch.float64)
    model.eval()
    return model


def _torch_jacobians(d, feeds, op) -> dict[str, np.ndarray]:
    """name -> (d_out, d_in) Jacobian of the node "op" by torch autograd."""
    model = _module(d)
    tensors = {k: torch.tensor(v) for k, v in feeds.items()}
    attrs = {name: attr for attr, (nid, name) in model.PARAMETERS.items() if nid == "op"}
    params = {attr: p.detach().clone() for attr, p in model.named_parameters()}
    keys = ["op"] if len(op.outputs) == 1 else [f"op:{o}" for o in op.outputs]
    ports = {p.name: f"in_{p.name}" for p in op.inputs}

    def out(feed_over=None, param_over=None):
        ins = {**tensors, **(feed_over or {})}
        ps = {**params, **(param_over or {})}
        _, values = torch.func.functional_call(model, ps, args=(), kwargs=ins)
        return torch.cat([values[k].reshape(-1) for k in keys])

    result = {}
    for port, fid in ports.items():
        if not tensors[fid].is_floating_point():
            continue
        J = torch.autograd.functional.jacobian(lambda t, fid=fid: out({fid: t}), tensors[fid])
        result[port] = J.reshape(J.shape[0], -1).numpy()
    for name, attr in attrs.items():
        J = torch.autograd.functional.jacobian(lambda t, a=attr: out(None, {a: t}), params[attr])
        result[name] = J.reshape(J.shape[0], -1).numpy()
    return result


@needs_torch
@pytest.mark.parametrize(("op", "i", "sample"), CASES, ids=IDS)
def test_jacobians_match_torch(op, i, sample):
    d, feeds = _one(op, sample)
    j = jacobian(d, feeds, "op")
    if op.source is not None or not op.differentiable:
        assert j["wrt"] == {}
        return
    ref = _torch_jacobians(d, feeds, op)
    assert ref and set(j["wrt"]) == set(ref)
    for name, w in j["wrt"].items():
        np.testing.assert_allclose(w["value"], ref[name], rtol=RTOL, atol=ATOL, err_msg=name)


def test_pointwise_blocks_are_diagonal_and_linear_is_not():
    d = doc(
        node("x", "input", shape=[3]),
        node("l", "linear", {"x": "x"}, out_features=2),
        node("s", "sigmoid", {"x": "l"}),
    )
    feeds = {"x": np.array([[0.5, -1.0, 2.0]])}
    j = jacobian(d, feeds, "s")
    s = j["wrt"]["x"]
    assert s["diagonal"] and s["shape"] == [2, 2]
    lin = jacobian(d, feeds, "l")
    z = lin["wrt"]["x"]["value"] @ feeds["x"][0]  # no bias yet: z = W x
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(np.diag(s["value"]), sig * (1 - sig))  # σ′ on the diagonal
    assert not lin["wrt"]["x"]["diagonal"] and lin["wrt"]["W"]["shape"] == [2, 6]
    assert j["g"].tolist() == [0.0, 0.0]  # no cost: nothing flows back


def test_too_large_states_the_sizes():
    d = doc(node("x", "input", shape=[400]), node("l", "linear", {"x": "x"}, out_features=300))
    with pytest.raises(GraphError) as e:
        jacobian(d, None, "l")
    issue = e.value.issues[0]
    assert issue.code == "too_large" and issue.nodes == ["l"]
    assert "300 × 400" in issue.message and "300 × 120000" in issue.message
    assert "limit is 100,000" in issue.message


def test_unknown_node_and_a_batch_are_refused():
    d = doc(node("x", "input", shape=[2]), node("t", "tanh", {"x": "x"}))
    with pytest.raises(GraphError) as e:
        jacobian(d, None, "nope")
    assert e.value.issues[0].code == "unknown_node"
    with pytest.raises(GraphError) as e:
        jacobian(d, {"x": np.zeros((2, 2))}, "t")
    assert e.value.issues[0].code == "bad_feed"
