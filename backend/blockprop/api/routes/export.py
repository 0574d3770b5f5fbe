"""POST /api/export/pytorch and /api/export/onnx: a graph (and its state) as PyTorch source or
an ONNX model. Stateless, like /api/evaluate; sized first, then built in the compute pool
(off the event loop) like the other heavy requests.

The request models live here (a section of the wire types of their own).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi import Request as FastApiRequest
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from blockprop.api.deps import SettingsDep, get_runs, get_store, graph_doc
from blockprop.api.errors import ApiError
from blockprop.api.routes.analysis import ComputeDep, HeavyRoute, prepare
from blockprop.api.routes.runs import load_run
from blockprop.api.schemas import SPIRAL_GRAPH, Graph, Request, errors
from blockprop.service import heavy

router = APIRouter(tags=["export"], route_class=HeavyRoute)

#: PyTorch source writes every parameter out (about 20 characters each): 2M numbers ≈ 45 MB
MAX_SOURCE_NUMBERS = 2_000_000


class ExportRequest(Request):
    """A graph to export (`graph`), or what a run trained (`run_id`), or both (the run's
    trained parameters in the given graph). Parameters come from the run, else the graph's
    `state`, else `seed`; the input normalisation from the run, else the graph's
    `normalization`."""

    graph: Graph | None = Field(
        default=None,
        description="the graph; its `state` (trained parameters) and `normalization` are used",
    )
    run_id: str | None = Field(
        default=None,
        max_length=100,
        description="a run: its graph (unless `graph` is given), its trained parameters and "
        "how it normalised its inputs",
    )
    step: int | None = Field(
        default=None,
        ge=0,
        description="with `run_id`: the parameters served earlier at this step again, while "
        "the server keeps them (else the run's latest)",
    )
    normalize: bool = Field(
        default=True,
        description="the model takes raw inputs and scales them first as the training data "
        "was; false: leave that step out (for callers who normalise themselves)",
    )
    seed: int = Field(
        default=0,
        ge=0,
        description="seed of the engine's initialisation, for parameters "
        "the graph's state does not give (the same numbers as /api/evaluate with this seed)",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"graph": SPIRAL_GRAPH, "seed": 0}]})


class OnnxExportRequest(ExportRequest):
    targets: bool = Field(
        default=True,
        description="targets are model inputs and the loss an output; false: an inference "
        "model without the targets and the nodes that need them",
    )


class PythonSource(Response):
    media_type = "text/x-python"


class OnnxModel(Response):
    media_type = "application/onnx"


PYTORCH_EXAMPLE = '''"""A Blockprop graph as a PyTorch module, exported from Blockprop. …"""

# Graph: Spiral classifier

import torch
import torch.nn.functional as F
from torch import nn


class SpiralClassifier(nn.Module):
    …
    GRAPH_NAME = "Spiral classifier"
    …
    def forward(self, **inputs):
        x = inputs["x"]  # x (input) [batch, 2]
        y = inputs["y"]  # y (target, int) [batch]
        l1 = F.linear(x, self.l1_W, self.l1_b)  # l1 (linear) [batch, 16]
        h1 = torch.relu(l1)  # h1 (relu) [batch, 16]
        l2 = F.linear(h1, self.l2_W, self.l2_b)  # l2 (linear) [batch, 2]
        c = F.cross_entropy(l2, y, reduction="none")  # c (cross_entropy) [batch]
        loss = c.mean()  # the mean over the batch of the sum of the costs
        values = {"x": x, "y": y, "l1": l1, "h1": h1, "l2": l2, "c": c}
        return loss, values
…
'''


def _json_errors(*statuses: int) -> dict[int | str, dict]:
    """`errors(...)` as JSON bodies: the route's own media type is for its 200 reply only."""
    ref = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    return {
        s: {"description": e["description"], "content": {"application/json": ref}}
        for s, e in errors(*statuses).items()
    }


async def exported_doc(
    body: ExportRequest, settings: Any, request: FastApiRequest
) -> dict[str, Any]:
    """The document to export: the body's graph and/or the run's, with the run's trained
    state and normalisation. 409 `no_state` for a run that has not trained yet."""
    if body.graph is None and body.run_id is None:
        raise ApiError(422, "invalid_request", "give `graph`, `run_id` or both")
    doc = graph_doc(body.graph, settings) if body.graph is not None else None
    if body.run_id is None:
        return doc  # type: ignore[return-value]
    # the store and the runs only when a run is named: a graph alone exports without them
    row = await load_run(get_store(request), body.run_id)
    trained = await get_runs(request).trained_state(row, body.step)
    if trained is None:
        raise ApiError(
            409,
            "no_state",
            f"run {body.run_id!r} has no trained parameters yet (it is {row.status})",
        )
    doc = dict(doc if doc is not None else row.doc)
    doc["state"] = trained["state"]
    doc["normalization"] = trained["normalized"]
    return doc


def _attachment(name: str | None, suffix: str) -> dict[str, str]:
    """The download's name: never a quote, control character or path from the graph's name
    (an ASCII `filename`, and an RFC 5987 `filename*` for names beyond ASCII)."""
    from blockprop.export import content_disposition

    return {"Content-Disposition": content_disposition(name or "", suffix)}


@router.post(
    "/export/pytorch",
    response_class=PythonSource,
    responses={
        200: {
            "description": "Python source of one `torch.nn.Module`, as a download",
            "content": {
                "text/x-python": {"schema": {"type": "string"}, "example": PYTORCH_EXAMPLE}
            },
        },
        **_json_errors(404, 409, 413, 422, 429),
    },
)
async def export_pytorch(
    body: ExportRequest, settings: SettingsDep, pool: ComputeDep, request: FastApiRequest
) -> PythonSource:
    """The graph as readable, self-contained PyTorch source: an `nn.Module` named after the
    graph, an `nn.Parameter` per trainable (from the graph's `state`, else the engine's
    initialisation for `seed`), and `forward(**inputs)` with one line per node in topological
    order returning `(loss, values)`: the mean over the batch of the sum of the costs (None
    without costs) and every node's value. With `run_id` (or a graph with `normalization`)
    the parameters are the trained ones and the module takes raw inputs: its first line for
    a normalised input is `(raw - mean) / std`, with the training data's statistics as
    buffers (`normalize: false` leaves it out). Invalid graphs give the /api/validate codes
    (422); a node whose op has no PyTorch rule gives 422 `not_exportable` naming it; more than
    2,000,000 parameter values give 413 `too_large` (export to ONNX instead); a run without
    trained parameters yet 409 `no_state`."""
    doc = await exported_doc(body, settings, request)
    _, _, cost = await asyncio.to_thread(prepare, doc, None, "pytorch", settings)
    args = (doc, body.seed, settings.max_tensor_bytes, MAX_SOURCE_NUMBERS, body.normalize)
    source = await pool.run(heavy.export_pytorch, *args, cost=cost)
    return PythonSource(source, headers=_attachment(doc.get("name"), ".py"))


@router.post(
    "/export/onnx",
    response_class=OnnxModel,
    responses={
        200: {
            "description": "a serialised ONNX model (protobuf), as a download",
            "content": {
                "application/onnx": {"schema": {"type": "string", "format": "binary"}},
                # the same bytes for clients that ask for (or only know) a plain download
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **_json_errors(404, 409, 413, 422, 429),
    },
)
async def export_onnx(
    body: OnnxExportRequest,
    settings: SettingsDep,
    pool: ComputeDep,
    request: FastApiRequest,
) -> OnnxModel:
    """The graph's forward pass as an ONNX model (opset 17, float32, checked with
    `onnx.checker`). Inputs: the input nodes and (with `targets`) the target nodes, by node
    id, `[batch, ...]` with a dynamic batch axis (labels int64). Outputs: every function and
    cost node's value by node id (`"node:port"` for several outputs) and, with costs and
    targets, the scalar `loss` (named in the model's metadata). Parameters are initializers
    `"<node>.<name>"` from the graph's `state`, else the engine's initialisation for `seed`.
    With `run_id` (or a graph with `normalization`) the parameters are the trained ones and
    the model takes raw inputs: `(x - <node>.norm_mean) / <node>.norm_std` is its first step
    (`normalize: false` leaves it out). Ask for `application/octet-stream` to get the same
    bytes under that type. Invalid graphs give the /api/validate codes (422); a node whose op
    has no ONNX rule gives 422 `not_exportable` naming it; a run without trained parameters
    yet 409 `no_state`."""
    doc = await exported_doc(body, settings, request)
    _, _, cost = await asyncio.to_thread(prepare, doc, None, "onnx", settings)
    args = (doc, body.seed, body.targets, settings.max_tensor_bytes, body.normalize)
    data = await pool.run(heavy.export_onnx, *args, cost=cost)
    media = _onnx_media_type(request.headers.get("accept", ""))
    return OnnxModel(data, media_type=media, headers=_attachment(doc.get("name"), ".onnx"))


def _onnx_media_type(accept: str) -> str:
    """application/onnx, unless the client asks for application/octet-stream and not it."""
    wanted = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if "application/octet-stream" in wanted and "application/onnx" not in wanted:
        return "application/octet-stream"
    return OnnxModel.media_type
