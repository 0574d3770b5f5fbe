"""The heavy requests' work: sized in the server first, then computed in a compute worker.

:func:`size` reads only the shapes validation infers (no array exists yet): the tensor memory
a request needs and the bytes of its answer, node by node, so that an answer over the limit
is refused (413 ``too_large``, naming the biggest node) before a worker spends anything on it,
and the pool (:mod:`blockprop.service.compute`) can budget its memory.

The jobs (:func:`evaluate`, :func:`gradcheck`, :func:`explain`, :func:`export_pytorch`,
:func:`export_onnx`) run in a worker process: plain functions of plain data returning the
encoded answer (bytes), so the JSON encoding of a large answer stays off the event loop too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from blockprop.service.errors import ServiceError, from_issues

#: bytes a float64 takes in JSON at most: "-1.2345678901234567e-308" and a comma
JSON_NUMBER = 24
#: bytes a parameter takes in an ONNX model (float32 initializers)
ONNX_NUMBER = 4
#: a gradcheck answer holds a few numbers per checked item: about this many bytes each
SUMMARY_ITEM = 128

# Bytes of each kind of answer about one node, from its sizes (graph.node_sizes) and the batch.
_ANSWERS: dict[str, Callable[[dict[str, int], int], int]] = {
    # values and gradients of its outputs for the batch; its parameters and their gradients
    "evaluate": lambda s, b: JSON_NUMBER * 2 * (b * s["out"] + s["params"]),
    "forward": lambda s, b: JSON_NUMBER * (b * s["out"] + s["params"]),
    # also the inputs it read, their local gradients and its scratch values; its parameters,
    # their mean gradient and each of the b samples' gradients (a mini-batch)
    "explain": lambda s, b: (
        JSON_NUMBER * (b * (2 * s["out"] + 2 * s["in"] + s["scratch"]) + (b + 2) * s["params"])
    ),
    # and one optimiser step: before, gradient, after and up to two state slots per parameter
    "explain_update": lambda s, b: (
        JSON_NUMBER * (b * (2 * s["out"] + 2 * s["in"] + s["scratch"]) + (b + 7) * s["params"])
    ),
    "gradcheck": lambda s, b: SUMMARY_ITEM * (1 + (s["params"] > 0)),
    "pytorch": lambda s, b: JSON_NUMBER * s["params"],
    "onnx": lambda s, b: ONNX_NUMBER * s["params"],
}

#: how many plans of the batch a job compiles (gradcheck: one to count, one to check)
_PLANS = {"gradcheck": 2}


@dataclass(frozen=True)
class Size:
    """What a request will take: ``tensor_bytes`` (its plans' buffers) and ``answer_bytes``
    (the encoded answer, ``by_node``)."""

    tensor_bytes: int
    answer_bytes: int
    by_node: dict[str, int]

    @property
    def cost(self) -> int:
        """The memory it holds while in flight: its tensors and its answer."""
        return self.tensor_bytes + self.answer_bytes

    def check(self, limit: int) -> None:
        """Refuse an answer over ``limit`` bytes (413 ``too_large``, naming the biggest node)."""
        if self.answer_bytes <= limit:
            return
        node = max(self.by_node, key=self.by_node.__getitem__)
        raise ServiceError(
            413,
            "too_large",
            f"the answer would be about {_mb(self.answer_bytes)}, over the server's limit of "
            f"{_mb(limit)}; the biggest part is node '{node}' (about "
            f"{_mb(self.by_node[node])}): use a smaller batch or smaller layers",
            [node],
        )


def size(doc: Mapping[str, Any], batch: int, answer: str, max_tensor_bytes: int) -> Size:
    """Size the ``answer`` ("evaluate", "forward", "explain", "explain_update", "gradcheck",
    "pytorch" or "onnx") about ``doc`` for ``batch`` samples; an invalid graph raises the validation
    codes (422), tensors over ``max_tensor_bytes`` ``too_large``."""
    from blockprop.engine.graph import analyse, estimate_bytes, node_sizes

    an = analyse(doc, max_bytes=max_tensor_bytes, batch_size=batch, itemsize=8)
    if not an.result.ok:
        raise from_issues(an.result.errors)
    rule = _ANSWERS[answer]
    by_node = {nid: rule(s, batch) for nid, s in node_sizes(an.nodes).items()}
    tensors = _PLANS.get(answer, 1) * estimate_bytes(an.nodes, batch, 8)
    return Size(tensors, sum(by_node.values()), by_node)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _array(obj: Any) -> Any:
    # orjson serialises C-contiguous arrays itself and hands the others (broadcast views) here
    if isinstance(obj, np.ndarray):
        return np.ascontiguousarray(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode(obj: Any) -> bytes:
    """JSON with NumPy arrays (non-finite numbers become null)."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=_array)


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


# --------------------------------------------------------------------------- jobs


def evaluate(
    doc: dict[str, Any],
    feeds: dict[str, np.ndarray],
    batch: int,
    seed: int,
    backward: bool,
    max_bytes: int,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """Values (and with ``backward`` gradients) of every node, encoded. ``options``:
    ``outputs`` (the value keys to return; None: all), ``dtype`` (default float64) and
    ``training`` (the training-mode forward: dropout masks drawn from ``seed``, batch norm on
    batch statistics; the returned state holds the running statistics it moved). Without
    ``backward``, targets that are not fed are left out with every node that needs one (a
    prediction needs no labels); the loss is then null."""
    from blockprop.engine.executor import compile_graph

    options = options or {}
    dtype = np.float32 if options.get("dtype") == "float32" else np.float64
    training = bool(options.get("training"))
    pruned: set[str] = set()
    lost_cost = False
    if not backward:
        doc, pruned, lost_cost = without_unfed_targets(doc, set(feeds))
    plan = compile_graph(doc, batch, dtype=dtype, seed=seed, max_bytes=max_bytes, grads="nodes")
    loss = plan.forward(feeds, training=training, rng=np.random.default_rng(seed))
    if backward:
        plan.backward()
    keep = _outputs(options.get("outputs"), plan.values, pruned)
    return encode(
        {
            # no cost (none drawn, or left out with the unfed targets): no loss
            "loss": None if lost_cost or not plan.cost_ids else _finite(float(loss)),
            "values": keep(plan.values),
            "grads": keep(plan.grads) if backward else {},
            "param_grads": plan.param_grads if backward else {},
            "state": plan.state_arrays(),
        }
    )


def without_unfed_targets(
    doc: dict[str, Any], fed: set[str]
) -> tuple[dict[str, Any], set[str], bool]:
    """``doc`` without its target nodes that are not in ``fed`` and every node depending on
    one (in topological order, so a chain is followed to its end); the ids left out; and
    whether a cost node was among them (the loss is then not the graph's loss)."""
    from blockprop.engine.graph import analyse
    from blockprop.engine.modules import FlatDoc, flatten

    doc = flatten(doc)  # nodes by flat id (b1/l): what is left out may sit inside a module
    an = analyse(doc, batch_size=1)
    if not an.result.ok:
        return doc, set(), False  # compile_graph reports it
    out: set[str] = set()
    lost_cost = False
    for node in an.nodes:  # topological order
        unfed = node.op.source == "target" and node.id not in fed
        if unfed or any(key.partition(":")[0] in out for key in node.sources.values()):
            out.add(node.id)
            lost_cost = lost_cost or node.op.category == "cost"
    if not out:
        return doc, out, False
    kept = {**doc, "nodes": [n for n in doc["nodes"] if n.get("id") not in out]}
    if isinstance(doc, FlatDoc):  # still flat: instances and ties go along
        kept = FlatDoc(kept)
        kept.instances, kept.issues = doc.instances, doc.issues
        kept.ties = {k: v for k, v in doc.ties.items() if k not in out}
    if isinstance(doc.get("state"), dict):  # the left-out nodes' parameters go with them
        kept["state"] = {k: v for k, v in doc["state"].items() if k not in out}
    return kept, out, lost_cost


def _outputs(
    wanted: list[str] | None, values: Mapping[str, Any], pruned: set[str]
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A filter of values (and gradients) down to the value keys asked for; an unknown key
    is 422 ``unknown_node``, one left out for want of a target 422 ``missing_input``."""
    if wanted is None:
        return dict
    for key in wanted:
        if key in values:
            continue
        nid = key.partition(":")[0]
        if nid in pruned:
            raise ServiceError(
                422,
                "missing_input",
                f"output '{key}' needs a target that was not fed (feed it, or ask for the "
                "prediction only)",
                [nid],
            )
        raise ServiceError(422, "unknown_node", f"no value '{key}' in the graph", [nid])
    chosen = list(dict.fromkeys(wanted))
    return lambda d: {k: d[k] for k in chosen if k in d}


def gradcheck(
    doc: dict[str, Any],
    feeds: dict[str, np.ndarray],
    batch: int,
    options: dict[str, Any],
    max_bytes: int,
    max_elements: int,
) -> bytes:
    """Backprop against central differences per item (``options``: seed, keys, per_item,
    tolerance), encoded; more than ``max_elements`` perturbations is 413 ``too_large``."""
    from blockprop.engine.executor import compile_graph
    from blockprop.engine.gradcheck import checked_count
    from blockprop.engine.gradcheck import gradcheck as run_gradcheck

    seed, keys, per_item = options["seed"], options["keys"], options["per_item"]
    plan = compile_graph(doc, batch, dtype=np.float64, seed=seed, max_bytes=max_bytes, grads="all")
    wanted = None if keys is None else set(keys)
    count = 0
    for key, arr in plan.values.items():
        if arr.dtype.kind == "f" and (wanted is None or key in wanted):
            count += checked_count(arr.size, per_item)
    for nid, params in plan.params.items():
        for name, arr in params.items():
            if wanted is None or f"{nid}.{name}" in wanted:
                count += checked_count(arr.size, per_item)
    if count > max_elements:
        raise ServiceError(
            413,
            "too_large",
            f"gradcheck would perturb {count} numbers one at a time; the limit is "
            f"{max_elements}: use a smaller batch, list the items to check in `keys` or sample "
            "them with `per_item`",
        )
    result = run_gradcheck(
        doc, feeds, seed=seed, keys=keys, per_item=per_item, training=options["training"]
    )
    errs = {k: float(v) for k, v in result.items()}
    worst = max(errs.values(), default=0.0)
    sizes = {k: a.size for k, a in plan.values.items()}
    sizes.update({f"{n}.{k}": a.size for n, p in plan.params.items() for k, a in p.items()})
    elements = {k: int(sizes[k]) for k in errs if k in sizes}
    return encode(
        {
            "errors": errs,
            "max_error": worst,
            "ok": worst <= options["tolerance"],
            "tolerance": options["tolerance"],
            "elements": elements,
            "checked": {k: checked_count(n, per_item) for k, n in elements.items()},
        }
    )


def explain(
    doc: dict[str, Any],
    feeds: dict[str, Any],
    seed: int,
    max_bytes: int,
    trained: dict[str, Any] | None,
    run: dict[str, Any] | None,
    options: dict[str, Any] | None = None,
) -> bytes:
    """One sample (or a mini-batch) node by node (engine ``explain``; ``options``: sample,
    training, update), with ``run`` (id, step, normalized) when the parameters are a run's,
    encoded."""
    from blockprop.engine.explain import explain as run_explain

    result = run_explain(
        doc,
        feeds,
        seed=seed,
        max_bytes=max_bytes,
        trained=trained,
        trained_by="the run",
        **(options or {}),
    )
    if run is not None:
        result["run"] = run
    return encode(result)


def jacobian(
    doc: dict[str, Any],
    feeds: dict[str, Any],
    node: str,
    seed: int,
    max_bytes: int,
    trained: dict[str, Any] | None,
    run: dict[str, Any] | None,
) -> bytes:
    """Both Jacobians of one block at one sample (engine ``jacobian``), encoded; over the
    entry limit is 413 ``too_large``."""
    from blockprop.engine.graph import GraphError
    from blockprop.engine.jacobian import jacobian as run_jacobian

    try:
        result = run_jacobian(doc, feeds, node, seed=seed, trained=trained, max_bytes=max_bytes)
    except GraphError as e:
        raise from_issues(e.issues, 413 if e.issues[0].code == "too_large" else 422) from None
    if run is not None:
        result["run"] = run
    return encode(result)


def landscape(
    doc: dict[str, Any],
    dataset: dict[str, Any],
    upload: dict[str, Any] | None,
    csv: bytes | None,
    max_rows: int | None,
    options: dict[str, Any],
) -> bytes:
    """The loss landscape over two parameter entries and the three descents' paths (engine
    ``landscape``), encoded; a resolution beyond the limit is 413 ``too_large``."""
    from blockprop.engine.data import DataError
    from blockprop.engine.graph import GraphError
    from blockprop.engine.landscape import landscape as run_landscape
    from blockprop.service.errors import from_data_error
    from blockprop.service.pool_worker import build_dataset

    try:
        data = build_dataset(dataset, upload, csv, max_rows)
        result = run_landscape(doc, data, **options)
    except DataError as e:
        raise from_data_error(e) from None
    except GraphError as e:
        raise from_issues(e.issues, 413 if e.issues[0].code == "too_large" else 422) from None
    except ValueError as e:  # the training settings (TrainConfig names the field)
        raise ServiceError(422, "bad_config", str(e)) from None
    return encode(result)


def export_pytorch(
    doc: dict[str, Any], seed: int, max_bytes: int, max_numbers: int, normalize: bool = True
) -> bytes:
    """PyTorch source (UTF-8); more than ``max_numbers`` parameter values is 413."""
    from blockprop.export.pytorch import SourceTooLarge, to_pytorch

    try:
        source = to_pytorch(
            doc, seed=seed, max_bytes=max_bytes, max_numbers=max_numbers, normalize=normalize
        )
    except SourceTooLarge as e:
        raise from_issues(e.issues, 413) from None
    return source.encode()


def export_onnx(
    doc: dict[str, Any], seed: int, targets: bool, max_bytes: int, normalize: bool = True
) -> bytes:
    """A serialised ONNX model."""
    from blockprop.export.onnx import to_onnx_bytes

    return to_onnx_bytes(doc, seed=seed, targets=targets, max_bytes=max_bytes, normalize=normalize)


__all__ = [
    "Size",
    "encode",
    "evaluate",
    "explain",
    "jacobian",
    "landscape",
    "export_onnx",
    "export_pytorch",
    "size",
]
