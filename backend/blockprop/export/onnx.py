"""Export a graph's forward pass as an ONNX model (opset 17, float32, dynamic batch axis).

Graph inputs are the graph's input nodes and, unless ``targets=False``, its target nodes (int
labels as int64), each ``[batch, *shape]``. Outputs are the value of every function and cost
node, named by its value key (``"l1"``, ``"dup:y1"``), plus the loss (the mean over the batch
of the sum of the costs, a scalar named ``"loss"``) when the graph has costs and targets are
inputs. Input nodes take **raw** data: when the document (or the run it comes from) records
how the training data was scaled (``normalization``), the model's first step for that input
is ``(x - <node>.norm_mean) / <node>.norm_std`` (initializers; metadata ``normalization`` says so);
``normalize=False`` leaves it out. With ``targets=False`` the model is for inference:
targets, and every node that needs one, are left out. Trainable parameters and buffers
(running statistics) are initializers named ``"<node>.<name>"``, from the graph's state or the
engine's seeded initialisation; the model is the evaluation-mode forward (dropout off, batch
norm on running statistics). Each op's nodes come from its ``onnx`` rule in the registry; the
model is checked with
``onnx.checker``.

Text from the graph is plain data here: value names are node ids (checked against
:data:`~blockprop.export.NODE_PATH` by ``prepare``; inner nodes of module instances are
inlined with their flat ids, ``b1/l``) with the exporter's own suffixes after a ``#``, and the
graph's name goes into the graph name, doc strings and the ``graph`` metadata entry as one
line of printable text (:func:`~blockprop.export.plain_text`: no control characters, no line
breaks, no lone surrogates, which a protobuf string cannot hold).

>>> import onnx
>>> from blockprop.examples import get_example
>>> model = to_onnx(get_example("xor")["graph"])
>>> [o.name for o in model.graph.output]
['hidden', 'h', 'score', 'cost', 'loss']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from blockprop import __version__
from blockprop.export import Prepared, plain_text, prepare

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17: older runtimes read it too
FLOAT = np.float32
#: reductions whose axes are an input (not an attribute) at OPSET
_AXES_INPUT = {"ReduceSum"} if OPSET < 18 else {"ReduceSum", "ReduceMean", "ReduceMax"}


class OnnxHelper:
    """``ox`` in an op's ``onnx`` rule: adds nodes and constants to the model being built."""

    def __init__(self, builder: _Builder, node):
        self._b = builder
        self._node = node
        #: per-sample shape of each input port, and of the (first) output
        self.shapes: dict[str, tuple] = dict(node.in_shapes or {})
        self.out_shape: tuple = node.shapes[0]
        #: "float" or "int", per input port
        self.dtypes: dict[str, str] = {p: builder.dtype[k] for p, k in node.sources.items()}

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attrs: Any):
        """Add an ONNX node; returns its output name (a tuple of ``outputs`` names)."""
        names = [self._b.fresh(self._node.id) for _ in range(outputs)]
        self._b.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else tuple(names)

    def const(self, value: Any, name: str | None = None) -> str:
        """A float initializer (``name``: a readable suffix, e.g. the param it holds)."""
        return self._b.initializer(np.asarray(value, dtype=FLOAT), self._node.id, name)

    def ints(self, values: list[int]) -> str:
        """An int64 initializer (axes, shapes)."""
        return self._b.initializer(np.asarray(values, dtype=np.int64), None, None)

    @property
    def fed(self) -> str:
        """The graph input of an input or target node."""
        return self._b.graph_input(self._node)

    @property
    def batch(self) -> str:
        """An int64 tensor ``[batch]``: the batch size of the fed inputs."""
        return self._b.batch()

    @staticmethod
    def dim(axis: int) -> int:
        """The tensor axis of a per-sample axis (the batch axis comes first)."""
        return axis + 1 if axis >= 0 else axis

    def reduce(self, op_type: str, x: str, axes: list[int]) -> str:
        """``op_type`` (ReduceSum, ReduceMean...) over tensor ``axes``, dropping them."""
        if op_type in _AXES_INPUT:
            return self.op(op_type, x, self.ints(axes), keepdims=0)
        return self.op(op_type, x, axes=list(axes), keepdims=0)

    def sum_sample(self, x: str, like: str | int, mean: bool = False) -> str:
        """Sum (or mean) of ``x`` over each sample: ``like`` is the port whose per-sample
        shape ``x`` has (or its rank)."""
        rank = like if isinstance(like, int) else len(self.shapes[like])
        if rank == 0:
            return x
        return self.reduce("ReduceMean" if mean else "ReduceSum", x, list(range(1, rank + 1)))

    def expand(self, x: str) -> str:
        """``x`` (per-sample shape, no batch axis) repeated for every sample."""
        shape = self.op("Concat", self.batch, self.ints(list(self.out_shape)), axis=0)
        return self.op("Expand", x, shape)

    def reshape(self, x: str, shape) -> str:
        """Give each sample of ``x`` the per-sample ``shape``."""
        return self.op("Reshape", x, self.ints([-1, *shape]))


class _Builder:
    def __init__(self, prep: Prepared, targets: bool):
        self.prep = prep
        self.targets = targets
        self.nodes: list = []
        self.inits: list = []
        self.inputs: list = []
        self.dtype: dict[str, str] = {}
        self.value: dict[str, str] = {}  # value key -> ONNX name
        self._count = 0
        self._params: dict[str, str] = {}  # "<node>.<name>" -> initializer
        self._batch: str | None = None

    def fresh(self, prefix: str | None) -> str:
        self._count += 1
        return f"{prefix or 'const'}#{self._count}"  # no node id holds a "#"

    def initializer(self, value: np.ndarray, node: str | None, name: str | None) -> str:
        init_name = f"{node}.{name}" if node and name else self.fresh(node and f"{node}#const")
        self.inits.append(numpy_helper.from_array(value, init_name))
        return init_name

    def graph_input(self, node) -> str:
        elem = TensorProto.INT64 if node.dtypes[0] == "int" else TensorProto.FLOAT
        shape = ["batch", *node.shapes[0]]
        self.inputs.append(helper.make_tensor_value_info(node.id, elem, shape))
        return node.id

    def batch(self) -> str:
        if self._batch is None:
            if self.inputs:  # Shape(start, end): ONNX opset 15 and later
                # a node may be called "batch"; no node id holds a "#"
                taken = any(n.id == "batch" for n in self.prep.nodes)
                self._batch = "blockprop#batch" if taken else "batch"
                first = self.inputs[0].name
                self.nodes.insert(
                    0, helper.make_node("Shape", [first], [self._batch], start=0, end=1)
                )
            else:  # nothing fed: one sample
                self._batch = self.initializer(np.asarray([1], np.int64), None, None)
        return self._batch

    def normalized(self, node_id: str, fed: str) -> str:
        """The first step for a raw input: ``(x - mean) / std`` with the training data's
        statistics (initializers ``<node>.norm_mean``, ``<node>.norm_std``); ``fed`` itself when the
        input is not normalised."""
        if node_id not in self.prep.normalization:
            return fed
        mean, std = self.prep.normalization[node_id]
        m = self.initializer(np.asarray(mean, FLOAT), node_id, "norm_mean")
        s = self.initializer(np.asarray(std, FLOAT), node_id, "norm_std")
        centred = self.fresh(node_id)
        scaled = self.fresh(node_id)
        self.nodes.append(helper.make_node("Sub", [fed, m], [centred]))
        self.nodes.append(helper.make_node("Div", [centred, s], [scaled]))
        return scaled

    def add(self, node) -> None:
        op = node.op
        env: dict[str, Any] = dict(node.params)
        for t in op.trainables:
            env[t.name] = None
        # a tied node (module instance with "tie") reads its owner's initializers: parameters
        # and buffers (running statistics) alike
        shared = (self.prep.params.get(node.owner, {}), self.prep.buffers.get(node.owner, {}))
        for arrays in shared:
            for name, arr in arrays.items():
                key = f"{node.owner}.{name}"
                if key not in self._params:
                    self._params[key] = self.initializer(np.asarray(arr, FLOAT), node.owner, name)
                env[name] = self._params[key]
        rank = max([len(s) for s in (node.in_shapes or {}).values()] + [len(node.shapes[0])])
        ox = OnnxHelper(self, node)
        for port, key in node.sources.items():
            name = self.value[key]
            missing = rank - len(node.in_shapes[port])
            if op.broadcast and missing > 0:  # line up per-sample axes, as the executor does
                name = ox.op("Unsqueeze", name, ox.ints(list(range(1, missing + 1))))
            env[port] = name
        start = len(self.nodes)
        result = op.rules["onnx"]({**env, "ox": ox})
        results = list(result) if op.multi_output else [result]
        ours = self.nodes[start:]
        produced = {o for n in ours for o in n.output}
        for key, dt, r in zip(node.keys, node.dtypes, results, strict=True):
            self.dtype[key] = dt
            if op.source in ("input", "target"):
                self.value[key] = self.normalized(node.id, r)
                continue
            if r in produced and r not in self.value.values():
                # rename this node's own last result to the value key
                for n in ours:
                    for seq in (n.output, n.input):
                        for i, v in enumerate(seq):
                            if v == r:
                                seq[i] = key
                produced.discard(r)
            else:  # the value of another node (or an initializer): name it by an Identity
                self.nodes.append(helper.make_node("Identity", [r], [key]))
            self.value[key] = key


def _needs_target(prep: Prepared) -> set[str]:
    """Value keys that depend on a target node."""
    out: set[str] = set()
    for n in prep.nodes:
        if n.op.source == "target" or any(k in out for k in n.sources.values()):
            out.update(n.keys)
    return out


def to_onnx(
    doc: Mapping[str, Any],
    *,
    seed: int = 0,
    state: Mapping | None = None,
    targets: bool = True,
    max_bytes: int | None = None,
    normalization: Mapping | None = None,
    normalize: bool = True,
) -> onnx.ModelProto:
    """An ONNX model of ``doc``'s forward pass (see the module docstring), checked with
    ``onnx.checker``. Raises ``GraphError`` for an invalid graph, ``ExportError``
    (``not_exportable``) for a node whose op has no ONNX rule."""
    prep = prepare(
        doc,
        "onnx",
        seed=seed,
        state=state,
        max_bytes=max_bytes,
        normalization=normalization,
        normalize=normalize,
    )
    b = _Builder(prep, targets)
    skip = set() if targets else _needs_target(prep)
    nodes = [n for n in prep.nodes if n.keys[0] not in skip]
    # the fed nodes first: their graph inputs, then the batch size, then everything else
    for n in sorted(nodes, key=lambda n: n.op.source not in ("input", "target")):
        b.add(n)
    outputs = []
    for n in nodes:
        if n.op.category == "variable":
            continue
        for key, shape, dt in zip(n.keys, n.shapes, n.dtypes, strict=True):
            elem = TensorProto.INT64 if dt == "int" else TensorProto.FLOAT
            outputs.append(helper.make_tensor_value_info(key, elem, ["batch", *shape]))
    costs = [n.id for n in nodes if n.op.category == "cost"]
    loss = None
    if costs:
        loss = "loss" if "loss" not in b.value else "blockprop/loss"
        total = costs[0]
        if len(costs) > 1:
            total = b.fresh("loss")
            b.nodes.append(helper.make_node("Sum", costs, [total]))
        b.nodes.append(helper.make_node("ReduceMean", [total], [loss], axes=[0], keepdims=0))
        outputs.append(helper.make_tensor_value_info(loss, TensorProto.FLOAT, []))
    title = plain_text(prep.name) or "Blockprop graph"
    graph = helper.make_graph(
        b.nodes,
        title,
        b.inputs,
        outputs,
        initializer=b.inits,
        doc_string=f"{title}: the forward pass, exported from Blockprop {__version__}",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="blockprop",
        producer_version=__version__,
        doc_string="Outputs: every function and cost node's value by node id"
        + (f"; {loss!r}: the mean over the batch of the sum of the costs" if loss else ""),
    )
    meta = {"graph": title, "parameters": "from state" if prep.from_state else f"seed {seed}"}
    if prep.normalization:  # say so: the model takes raw inputs
        meta["normalization"] = ", ".join(
            f"{nid}: (raw - {nid}.norm_mean) / {nid}.norm_std" for nid in prep.normalization
        )
    if loss:
        meta["loss"] = loss
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    return model


def to_onnx_bytes(doc: Mapping[str, Any], **kw: Any) -> bytes:
    """:func:`to_onnx`, serialised."""
    return to_onnx(doc, **kw).SerializeToString()


__all__ = ["OPSET", "OnnxHelper", "to_onnx", "to_onnx_bytes"]
