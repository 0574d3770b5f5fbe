"""One sample, node by node: every value, every gradient and every local rule's result.

The classroom walks a graph forward in topological order and backward in reverse. For each
node it shows the value, dC/d(its output) and each local VJP rule with the numbers of one
sample plugged in. :func:`explain` computes all of it from the registry and the executor;
nothing here knows any op by name: the values a rule's template names (``@W``, ``@g``...)
are looked up by name like the rules' own arguments (:mod:`blockprop.engine.registry`).

>>> import numpy as np
>>> doc = {"version": 1, "nodes": [
...     {"id": "x", "op": "input", "params": {"shape": [2]}},
...     {"id": "y", "op": "target", "params": {"shape": [1]}},
...     {"id": "l", "op": "linear", "params": {"out_features": 1}, "inputs": {"x": "x"}},
...     {"id": "c", "op": "squared_error", "inputs": {"y": "l", "target": "y"}}]}
>>> ex = explain(doc, {"x": [[1.0, 2.0]], "y": [[0.5]]})
>>> [n["id"] for n in ex["nodes"]]
['x', 'y', 'l', 'c']
>>> l = ex["nodes"][2]
>>> l["vjps"]["x"].shape, l["env"]["g"].shape  # per sample: dC/dx = W^T g
((2,), (1,))

``blocks`` sees each module instance as one block (its ports' values and gradients and its
VJP per input port); ``nodes`` steps into it, inner node by inner node (``b1/l``...).

Per node: ``env`` (the values a template may name: input ports, op params, scratch, ``g``
and ``ans``, or ``g.<output>`` / ``ans.<output>`` for ops with several outputs; the
trainable parameters are in ``state``), ``outputs`` (value, total gradient dC/dz and the
consumers that sent it), ``vjps`` (each input port's local result: this node's contribution
to dC/d(input); fan-out sums these) and ``param_grads``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .executor import compile_graph
from .graph import GraphError, Issue, analyse
from .optim import FORMULAS, make_optimizer, method_of

#: where default sample values come from when a feed is not given
DEFAULT_SEED = 0


def feeds_of(doc: Mapping, max_bytes: int | None = None) -> list[dict[str, Any]]:
    """What must be fed to run ``doc``: ``[{id, role, shape, dtype}]`` in topological order
    (role ``input`` or ``target``; per-sample shape; dtype ``float`` or ``int``). With
    ``max_bytes``, a graph whose float64 buffers for one sample exceed it is refused first
    (``too_large``), before anything is allocated."""
    an = analyse(doc, max_bytes=max_bytes, batch_size=1, itemsize=8)
    if not an.result.ok:
        raise GraphError(an.result.errors)
    return [
        {"id": n.id, "role": n.op.source, "shape": list(n.shapes[0]), "dtype": n.dtypes[0]}
        for n in an.nodes
        if n.op.source in ("input", "target")
    ]


def default_feeds(feeds: list[dict[str, Any]], seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """One sample for each feed: inputs uniform in [-1, 1], float targets in [0, 1] and class
    labels 0, rounded to two decimals so they are easy to read and to type."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for f in feeds:
        shape = (1, *f["shape"])
        if f["dtype"] == "int":
            out[f["id"]] = np.zeros(shape, np.int64)
        elif f["role"] == "input":
            out[f["id"]] = np.round(rng.uniform(-1.0, 1.0, shape), 2)
        else:
            out[f["id"]] = np.round(rng.uniform(0.0, 1.0, shape), 2)
    return out


def _sample(a: Any) -> Any:
    """Drop the batch axis of a batch of one (arrays), pass plain values through."""
    if isinstance(a, np.ndarray):
        return a[0].copy() if a.ndim >= 1 and a.shape[0] == 1 else a.copy()
    return a


def _plain(a: np.ndarray) -> Any:
    """A 0-d array as a Python number (JSON encoders take arrays of one or more axes)."""
    return a.item() if a.ndim == 0 else a


def _unbroadcast(r: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a per-sample gradient shaped like an op's output down to an input's shape."""
    lead = r.ndim - len(shape)
    if lead > 0:
        r = r.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, (m, n) in enumerate(zip(r.shape, shape, strict=True)) if n == 1 != m)
    return r.sum(axis=axes, keepdims=True) if axes else r


#: the most samples explain walks at once (a mini-batch on the board)
MAX_SAMPLES = 16


def _rows(inputs: Mapping[str, Any], needed: list[dict[str, Any]]) -> int:
    """P, the number of samples fed (1 to :data:`MAX_SAMPLES`, the same for every feed)."""
    sizes = {nid: np.shape(v)[0] if np.ndim(v) else 0 for nid, v in inputs.items()}
    for nid, n in sizes.items():
        if not 1 <= n <= MAX_SAMPLES:
            raise GraphError(
                [
                    Issue(
                        "bad_feed",
                        f"explain walks 1 to {MAX_SAMPLES} samples: feed '{nid}' a batch of "
                        f"1 to {MAX_SAMPLES} rows, not {n}",
                        [nid],
                        None,
                    )
                ]
            )
    if len(set(sizes.values())) > 1:
        first = needed[0]["id"] if needed else next(iter(sizes))
        odd = next(k for k, n in sizes.items() if n != sizes.get(first, n))
        raise GraphError(
            [
                Issue(
                    "bad_feed",
                    f"feed '{odd}' has {sizes[odd]} samples but the others have {sizes.get(first)}",
                    [odd],
                    None,
                )
            ]
        )
    return next(iter(sizes.values()), 1)


def explain(
    doc: Mapping,
    feeds: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    state: Mapping | None = None,
    max_bytes: int | None = None,
    trained: Mapping | None = None,
    trained_by: str = "the run",
    sample: int = 0,
    training: bool = False,
    update: Mapping | None = None,
) -> dict[str, Any]:
    """Forward and backward on one sample, or on each of a mini-batch of P ≤ 16, with every
    node's local results (float64).

    ``feeds`` maps input and target ids to a batch of P samples (missing ones get
    :func:`default_feeds`, one sample). Returns ``{loss, costs, order, blocks, feeds, inputs,
    nodes, state, param_grads, batch, update}``: ``costs`` holds each sample's C_p and ``loss`` is
    L = (1/P) Σ_p C_p; ``param_grads`` is ∂L/∂w, the average of the per-sample gradients in
    ``batch.param_grads`` (P rows each); ``nodes`` walk sample ``sample`` node by node (arrays
    per sample, no batch axis). ``training`` runs dropout as in a training step (its mask is
    in the node's ``env``; seeded by ``seed`` and the sample). ``update`` (``{optimizer, lr,
    momentum, nesterov, beta1, beta2, eps}``, as the training settings) adds one step of that
    optimiser from a fresh state: before, gradient, after and the optimiser's state per
    parameter, with its formula (:data:`~.optim.FORMULAS`); L1/L2 are not part of it.
    ``max_bytes`` refuses graphs whose buffers would exceed it (``too_large``). Raises
    :class:`GraphError`.

    ``trained`` (``{state, normalized}``, as a training run records them) explains with
    trained parameters: ``state`` must hold exactly the graph's trainable parameters and
    buffers, in their shapes (else ``state_mismatch`` naming the node and the parameter;
    ``trained_by`` says whose in messages), and the feeds named in ``normalized``
    (``{id: {mean, std}}``) are taken as raw and normalised like the training data before
    they enter the graph.
    ``inputs`` in the answer stay as given; the input nodes' values are what the graph saw.
    """
    needed = feeds_of(doc, max_bytes)
    given = dict(feeds or {})
    P = _rows(given, needed) if given else 1
    defaults = default_feeds([f for f in needed if f["id"] not in given])
    inputs = {k: np.repeat(np.asarray(v), P, axis=0) for k, v in defaults.items()}
    inputs.update(given)
    if not 0 <= sample < P:
        raise GraphError(
            [Issue("bad_feed", f"sample {sample} is not one of the {P} samples fed", [], None)]
        )
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
        fed = _normalized(inputs, trained.get("normalized") or {}, needed, trained_by)
    costs: list[float | None] = []
    per_sample: dict[str, dict[str, list[np.ndarray]]] = {
        nid: {k: [] for k in p} for nid, p in plan.params.items()
    }
    nodes: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for p in range(P):
        row = {k: np.asarray(v)[p : p + 1] for k, v in fed.items()}
        rng = np.random.default_rng([seed, p]) if training else None
        cost = plan.forward(row, training=training, rng=rng)
        plan.backward()
        costs.append(float(cost) if plan.cost_ids and np.isfinite(cost) else None)
        for nid, grads in plan.param_grads.items():
            for k, g in grads.items():
                per_sample[nid][k].append(g.copy())
        if p == sample:  # blocks read the plan's values: while they are this sample's
            nodes = _walk(plan)
            blocks = _blocks(plan, nodes)
    known = [c for c in costs if c is not None]
    loss = sum(known) / P if plan.cost_ids and len(known) == P else None
    mean_grads = {
        nid: {k: np.mean(gs, axis=0) for k, gs in p.items()} for nid, p in per_sample.items()
    }
    params = {nid: {k: a.copy() for k, a in p.items()} for nid, p in plan.params.items()}
    return {
        "loss": loss,
        "costs": costs,
        "order": list(plan.order),
        "blocks": blocks,
        "feeds": needed,
        "inputs": {k: np.asarray(v) for k, v in inputs.items()},
        "nodes": nodes,
        "state": params,
        "param_grads": mean_grads,
        "batch": {
            "size": P,
            "sample": sample,
            "training": training,
            "param_grads": {
                nid: {k: np.stack(gs) for k, gs in p.items()} for nid, p in per_sample.items()
            },
        },
        "update": one_update(params, mean_grads, update) if update is not None else None,
    }


def one_update(params: Mapping, grads: Mapping, settings: Mapping) -> dict[str, Any]:
    """One step of the chosen optimiser from a fresh state, on copies of ``params``:
    ``{method, formula, lr, hyper, params: {node: {name: {before, grad, after, state}}}}``."""
    name = settings.get("optimizer", "sgd")
    lr = float(settings.get("lr", 0.1))
    hyper = {
        k: settings[k] for k in ("momentum", "nesterov", "beta1", "beta2", "eps") if k in settings
    }
    keys = [(nid, k) for nid, p in params.items() for k in p]
    after = [params[nid][k].copy() for nid, k in keys]
    opt = make_optimizer(name, after, [grads[nid][k] for nid, k in keys], **hyper)
    opt.step(lr)
    out: dict[str, dict[str, Any]] = {}
    for i, (nid, k) in enumerate(keys):
        out.setdefault(nid, {})[k] = {
            "before": params[nid][k],
            "grad": grads[nid][k],
            "after": after[i],
            "state": {slot: arrs[i].copy() for slot, arrs in opt.state.items()},
        }
    method = method_of(name, bool(hyper.get("nesterov", False)))
    return {"method": method, "formula": FORMULAS[method], "lr": lr, "hyper": hyper, "params": out}


def _walk(plan) -> list[dict[str, Any]]:
    """Every node of the last forward and backward of a batch-1 plan: values, gradients,
    the values its templates name and each local rule's result."""
    consumers: dict[str, list[dict[str, str]]] = {k: [] for k in plan.values}
    for node in plan._nodes:
        for port, key in node.sources.items():
            consumers[key].append({"node": node.id, "port": port})

    nodes = []
    for node in plan._nodes:
        op = node.op
        multi = op.multi_output
        outputs = [
            {
                "port": port,
                "key": key,
                "value": _sample(plan.values[key]),
                "grad": _sample(plan.grads[key]) if key in plan.grads else None,
                "consumers": consumers[key],
            }
            for port, key in zip(op.outputs, node.keys, strict=True)
        ]
        env: dict[str, Any] = dict(node.params)
        env.update({n: _sample(a) for n, a in plan._scratch.get(node.id, {}).items()})
        # buffers (running statistics): what this forward read, shown with the node
        env.update({n: a.copy() for n, a in plan.buffers.get(node.owner, {}).items()})
        env.update({p: _sample(plan.values[k]) for p, k in node.sources.items()})
        for o in outputs:
            if multi:
                env[f"ans.{o['port']}"] = o["value"]
                env[f"g.{o['port']}"] = o["grad"]
            else:
                env["ans"], env["g"] = o["value"], o["grad"]
        vjps: dict[str, Any] = {}
        if op.source is None and op.differentiable:
            rule_env = plan._env(node, op.broadcast)
            gs = [plan.grads.get(k) for k in node.keys]
            if all(g is not None for g in gs):
                rule_env["g"] = tuple(gs) if multi else gs[0]
                ans = [plan.values[k] for k in node.keys]
                rule_env["ans"] = tuple(ans) if multi else ans[0]
                rule_env["out"] = None
                for port in op.inputs:
                    rule = op.vjp_rule(port.name)
                    src = node.sources[port.name]
                    if rule is None or src not in plan.grads:  # no gradient (e.g. labels)
                        continue
                    r = rule(rule_env)
                    if r is None:
                        vjps[port.name] = _plain(np.zeros(plan.values[src].shape[1:]))
                    else:
                        r = _unbroadcast(np.asarray(r)[0], node.in_shapes[port.name])
                        vjps[port.name] = _plain(np.array(r, dtype=np.float64))
        nodes.append(
            {
                "id": node.id,
                "op": op.name,
                "category": op.category,
                "sources": dict(node.sources),
                "outputs": outputs,
                "env": env,
                "vjps": vjps,
            }
        )
    return nodes


def _blocks(plan, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each module instance seen as one block: its inputs' and outputs' values, dC/d(output),
    and its VJP per input port, the sum of what its inner nodes send back to that input
    (what the block as a whole contributes to dC/d(input); ``readers`` names those inner
    ports; parents before children)."""
    by_id = {n["id"]: n for n in nodes}
    out = []
    for inst in plan.instances.values():
        inner = [nid for nid in plan.order if nid.startswith(inst.id + "/")]
        vjps: dict[str, Any] = {}
        for port in inst.inputs:
            # by who reads the port, not by the value fed to it: two ports fed one value
            # (b1(h=x, k=x)) each get their own VJP
            parts = [
                np.asarray(by_id[nid]["vjps"][p])
                for nid, p in inst.readers.get(port, [])
                if nid in by_id and p in by_id[nid]["vjps"]
            ]
            if parts:
                vjps[port] = _plain(np.sum(parts, axis=0))

        def side(keys: dict[str, str]) -> dict[str, Any]:
            return {
                q: {
                    "key": k,
                    "value": _sample(plan.values[k]),
                    "grad": _sample(plan.grads[k]) if k in plan.grads else None,
                }
                for q, k in keys.items()
            }

        out.append(
            {
                "id": inst.id,
                "module": inst.module,
                "tie": inst.tie,
                "nodes": inner,
                "inputs": side(inst.inputs),
                "outputs": side(inst.outputs),
                "vjps": vjps,
                "readers": {
                    q: [{"node": nid, "port": p} for nid, p in rs] for q, rs in inst.readers.items()
                },
            }
        )
    return out


def _fmt(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape else "scalar"


def _check_trained(params: Mapping, state: Mapping, who: str) -> None:
    """Trained parameters must be exactly the graph's: every one there, each in its shape,
    none for a node the graph lacks (``state_mismatch``, naming the node and the parameter)."""
    issues: list[Issue] = []
    for nid, own in params.items():
        got = state.get(nid)
        for name, arr in own.items():
            if got is None or name not in got:
                issues.append(
                    Issue(
                        "state_mismatch",
                        f"{who} has no trained '{nid}.{name}': node '{nid}' was added or "
                        "changed since it trained",
                        [nid],
                        None,
                    )
                )
                continue
            shape = tuple(np.shape(got[name]))
            if shape != arr.shape:
                issues.append(
                    Issue(
                        "state_mismatch",
                        f"'{nid}.{name}' is {_fmt(shape)} in {who} but {_fmt(arr.shape)} in "
                        "the graph: it changed since the run trained",
                        [nid],
                        None,
                    )
                )
    for nid, got in state.items():
        own = params.get(nid, {})
        for name in got:
            if name not in own:
                issues.append(
                    Issue(
                        "state_mismatch",
                        f"{who} trained '{nid}.{name}', which the graph no longer has",
                        [nid] if nid in params else [],
                        None,
                    )
                )
    if issues:
        raise GraphError(issues)


def _normalized(
    inputs: Mapping[str, Any], normalized: Mapping[str, Any], needed: list, who: str
) -> dict[str, Any]:
    """The raw feeds with the trained run's input transform applied (per flattened feature)."""
    out = dict(inputs)
    roles = {f["id"]: f["role"] for f in needed}
    for nid, t in normalized.items():
        if roles.get(nid) != "input":
            raise GraphError(
                [
                    Issue(
                        "state_mismatch",
                        f"{who} fed its data to input '{nid}', which the graph does not have",
                        [],
                        None,
                    )
                ]
            )
        x = np.asarray(inputs[nid], dtype=np.float64)
        mean = np.asarray(t["mean"], dtype=np.float64)
        std = np.asarray(t["std"], dtype=np.float64)
        flat = x.reshape(1, -1)
        if flat.shape[1] != mean.size:
            raise GraphError(
                [
                    Issue(
                        "state_mismatch",
                        f"input '{nid}' takes {flat.shape[1]} values but {who} normalised "
                        f"{mean.size} features",
                        [nid],
                        None,
                    )
                ]
            )
        out[nid] = ((flat - mean) / std).reshape(x.shape)
    return out


__all__ = ["MAX_SAMPLES", "default_feeds", "explain", "feeds_of", "one_update"]
