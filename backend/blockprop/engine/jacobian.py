"""Both Jacobians of a block at one sample, built from its VJP rules (for the classroom).

The notes treat a module through two Jacobians, ∂z_out/∂z_in and ∂z_out/∂w, and the chain
rule as products of them; backward never builds them (it only multiplies g by them: a VJP).
To *show* them, this module asks the VJP rules for ``e_k^T J`` with each basis vector e_k of
the output space:

- input ports: one call with a batch of d_out copies of the sample and ``g`` the identity
  (row k of the batch carries e_k), so the rows of the answer are the rows of J;
- trainable parameters: their VJP rules sum over the batch, so each basis vector is one call
  on the single sample (d_out small calls).

Nothing here knows an op by name. Matrices are refused beyond :data:`MAX_ENTRIES` entries in
all (``too_large``, stating the sizes): that is the lecture's point, Jacobians are never built
in practice.

>>> doc = {"version": 1, "nodes": [
...     {"id": "x", "op": "input", "params": {"shape": [3]}},
...     {"id": "t", "op": "tanh", "inputs": {"x": "x"}}]}
>>> j = jacobian(doc, {"x": [[0.0, 1.0, -1.0]]}, "t")
>>> j["wrt"]["x"]["shape"], j["wrt"]["x"]["diagonal"]
([3, 3], True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .executor import Plan, compile_graph
from .explain import _check_trained, _normalized, default_feeds, feeds_of
from .graph import GraphError, Issue

#: the most entries (all matrices of one answer together) a Jacobian request may build
MAX_ENTRIES = 100_000


def _issue(code: str, message: str, node: str | None) -> GraphError:
    return GraphError([Issue(code, message, [node] if node else [], None)])


def _one_sample(doc: Mapping, feeds: Mapping | None, max_bytes: int | None) -> dict[str, Any]:
    """The feeds of one sample, defaults filled in (as explain does)."""
    needed = feeds_of(doc, max_bytes)
    given = dict(feeds or {})
    inputs = {**default_feeds([f for f in needed if f["id"] not in given]), **given}
    for nid, v in inputs.items():
        if np.ndim(v) == 0 or np.shape(v)[0] != 1:
            raise _issue(
                "bad_feed", f"a Jacobian is taken at one sample: feed '{nid}' a batch of 1", nid
            )
    return inputs


def _wrt(plan: Plan, node) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, "input" | "parameter", per-sample shape) of everything the block's output
    depends on differentiably: float input ports with a VJP rule, then trainables."""
    op = node.op
    out = []
    if op.source is not None or not op.differentiable:
        return out
    for port in op.inputs:
        src = node.sources[port.name]
        if op.vjp_rule(port.name) is not None and plan.values[src].dtype.kind == "f":
            out.append((port.name, "input", tuple(node.in_shapes[port.name])))
    for name, arr in plan.params.get(node.owner, {}).items():  # a tied node: its owner's
        out.append((name, "parameter", arr.shape))
    return out


def _basis(node, rows: np.ndarray) -> Any:
    """``rows`` (k × d_out) split over the block's outputs: g for each output, batch first."""
    parts, start = [], 0
    for shape in node.shapes:
        n = math.prod(shape)
        parts.append(rows[:, start : start + n].reshape(len(rows), *shape))
        start += n
    return tuple(parts) if node.op.multi_output else parts[0]


def _unbroadcast(r: np.ndarray, aligned: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """A VJP in the output's shape summed down to the input's (broadcasting ops), per row."""
    axes = tuple(
        i for i, (m, n) in enumerate(zip(r.shape, aligned.shape, strict=True)) if i and n == 1 != m
    )
    if axes:
        r = r.sum(axis=axes, keepdims=True)
    return r.reshape(len(r), *in_shape)


def _input_jacobian(plan: Plan, node, port: str, d_out: int, in_shape) -> np.ndarray:
    env = plan.rule_env(node.id, repeat=d_out)
    env["g"] = _basis(node, np.eye(d_out, dtype=plan.dtype))
    r = node.op.vjp_rule(port)(env)
    if r is None:
        return np.zeros((d_out, math.prod(in_shape)))
    r = np.asarray(r)
    if node.op.broadcast:
        r = _unbroadcast(r, env[port], in_shape)
    return r.reshape(d_out, -1)


def _param_jacobian(plan: Plan, node, name: str, d_out: int, size: int) -> np.ndarray:
    env = plan.rule_env(node.id)
    rule = node.op.vjp_rule(name)
    J = np.zeros((d_out, size))
    eye = np.eye(d_out, dtype=plan.dtype)
    for k in range(d_out):  # parameter VJPs sum over the batch: one basis vector per call
        env["g"] = _basis(node, eye[k : k + 1])
        r = rule(env)
        if r is not None:
            J[k] = np.asarray(r).reshape(-1)
    return J


def _vjp(plan: Plan, node, name: str, kind: str, g: np.ndarray) -> np.ndarray:
    """What the backward step computes for this port or parameter: g's VJP, flattened."""
    env = plan.rule_env(node.id)
    env["g"] = _basis(node, g[None, :])
    r = node.op.vjp_rule(name)(env)
    if r is None:
        return np.zeros(0)
    r = np.asarray(r)
    if kind == "input" and node.op.broadcast:
        r = _unbroadcast(r, env[name], tuple(node.in_shapes[name]))
    return r.reshape(-1)


def _is_diagonal(J: np.ndarray) -> bool:
    """Square with nothing off the diagonal: a pointwise block."""
    return J.shape[0] == J.shape[1] and not np.any(J - np.diag(np.diag(J)))


def jacobian(
    doc: Mapping,
    feeds: Mapping[str, Any] | None,
    node: str,
    *,
    seed: int = 0,
    state: Mapping | None = None,
    trained: Mapping | None = None,
    trained_by: str = "the run",
    max_bytes: int | None = None,
    max_entries: int = MAX_ENTRIES,
) -> dict[str, Any]:
    """The Jacobians of ``node``'s output(s) at one sample, with respect to each of its float
    input ports and each of its trainable parameters (float64).

    Returns ``{node, out_shape, d_out, g, wrt: {name: {kind, in_shape, shape: [d_out, d_in],
    value, diagonal, vjp}}}``: rows index the flattened output (outputs one after another for
    a block with several), columns the flattened input or parameter. ``g`` is dC/d(output) of
    the sample (flattened) and ``vjp`` what backward computes from it, so ``g @ value == vjp``.
    ``feeds``, ``seed``, ``state`` and ``trained`` are as for :func:`~.explain.explain`.
    Raises :class:`GraphError`: ``unknown_node``, ``bad_feed``, ``too_large`` (over
    ``max_entries`` entries, with the sizes).
    """
    inputs = _one_sample(doc, feeds, max_bytes)
    plan = compile_graph(
        doc,
        1,
        dtype=np.float64,
        seed=seed,
        state=state if trained is None else None,
        grads="all",
        max_bytes=max_bytes,
    )
    fed = inputs
    if trained is not None:
        _check_trained(plan.state_arrays(), trained.get("state") or {}, trained_by)
        plan.load_state(trained.get("state") or {})
        fed = _normalized(inputs, trained.get("normalized") or {}, feeds_of(doc), trained_by)
    try:
        n = plan.node(node)
    except KeyError:
        raise _issue("unknown_node", f"the graph has no node '{node}'", None) from None
    plan.forward(fed, training=False)
    plan.backward()
    d_out = sum(math.prod(s) for s in n.shapes)
    wrt = _wrt(plan, n)
    sizes = {name: math.prod(shape) for name, _, shape in wrt}
    total = d_out * sum(sizes.values())
    if total > max_entries:
        parts = ", ".join(f"∂z/∂{name}: {d_out} × {d}" for name, d in sizes.items())
        raise _issue(
            "too_large",
            f"the Jacobians of '{node}' would have {total:,} entries ({parts}); the limit is "
            f"{max_entries:,}. Backprop never builds them: it multiplies g by them (a VJP)",
            node,
        )
    g = np.concatenate(
        [
            (plan.grads[k][0] if k in plan.grads else np.zeros(s)).reshape(-1)
            for k, s in zip(n.keys, n.shapes, strict=True)
        ]
    )
    out: dict[str, Any] = {}
    for name, kind, shape in wrt:
        if kind == "input":
            J = _input_jacobian(plan, n, name, d_out, shape)
        else:
            J = _param_jacobian(plan, n, name, d_out, sizes[name])
        out[name] = {
            "kind": kind,
            "in_shape": list(shape),
            "shape": [d_out, sizes[name]],
            "value": J,
            "diagonal": _is_diagonal(J),
            "vjp": _vjp(plan, n, name, kind, g),
        }
    return {
        "node": node,
        "op": n.op.name,
        "out_shape": [list(s) for s in n.shapes] if n.op.multi_output else list(n.shapes[0]),
        "d_out": d_out,
        "g": g,
        "wrt": out,
    }


__all__ = ["MAX_ENTRIES", "jacobian"]
