"""POST /api/explain: one sample through a graph, node by node, for the classroom.

A thin handler over :func:`blockprop.engine.explain.explain`; like the other analysis
routes it runs in FastAPI's thread pool, off the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from blockprop.api.deps import SettingsDep, graph_doc
from blockprop.api.routes.analysis import _feeds, _json
from blockprop.api.schemas import ExplainRequest, ExplainResult, errors
from blockprop.service.errors import from_issues

router = APIRouter(tags=["classroom"])


@router.post("/explain", response_model=ExplainResult, responses=errors(413, 422))
def explain(body: ExplainRequest, settings: SettingsDep) -> Response:
    """Forward and backward on **one sample**, with what the classroom shows at each node:
    its value, dC/d(its output) and who sent it, the values its op's explain templates name
    (`GET /api/ops` → `explain`), and each local rule's result — a node's contribution to
    dC/d(input). Parameters come from the graph's `state` or from `seed`. Missing feeds get
    defaults, so `{"graph": ...}` alone works; `feeds` says what can be fed."""
    from blockprop.engine.explain import explain as run_explain
    from blockprop.engine.graph import GraphError

    doc = graph_doc(body.graph, settings)
    feeds: dict[str, Any] = {}
    if body.inputs:
        feeds, _ = _feeds(body.inputs)
    try:
        result = run_explain(doc, feeds, seed=body.seed, max_bytes=settings.max_tensor_bytes)
    except GraphError as e:
        raise from_issues(e.issues) from None
    return _json(result)
