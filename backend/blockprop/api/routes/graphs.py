"""Stored graphs: create (returns an edit token), list, read, update, delete, fork.

Reading needs only the (unguessable) id, so a link can be shared read-only; changing or
deleting needs the graph's edit token in the X-Edit-Token header.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from blockprop.api.deps import EditToken, SettingsDep, StoreDep, graph_doc
from blockprop.api.errors import ApiError, not_found
from blockprop.api.schemas import (
    GraphCreate,
    GraphCreated,
    GraphFork,
    GraphRead,
    GraphSummary,
    GraphUpdate,
    errors,
)
from blockprop.api.schemas.common import created, locate
from blockprop.api.security import check_edit_token
from blockprop.service.store import GraphRow, Store
from blockprop.service.tokens import hash_token, new_edit_token, new_id

router = APIRouter(tags=["graphs"])

_ONE = "/api/graphs/{graph_id}"
# From a created graph (or fork) to what can be done with it: documented as OpenAPI links.
_CREATED = created(
    "graph_id",
    {
        "read": ("get", _ONE, False),
        "update": ("put", _ONE, True),
        "delete": ("delete", _ONE, True),
        "fork": ("post", _ONE + "/fork", False),
    },
)


def _read(row: GraphRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "public": row.public,
        "revision": row.revision,
        "forked_from": row.forked_from,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "graph": row.doc,
    }


def _get(store: Store, graph_id: str) -> GraphRow:
    row = store.get_graph(graph_id)
    if row is None:
        raise not_found("graph", graph_id)
    return row


@router.post(
    "/graphs",
    status_code=201,
    response_model=GraphCreated,
    responses={**errors(413, 422), **_CREATED},
)
def create_graph(
    body: GraphCreate, store: StoreDep, settings: SettingsDep, response: Response
) -> dict[str, Any]:
    """Store a graph. The answer carries its `edit_token`: keep it, it is shown only once.
    The graph need not be valid (drafts are fine); validate it with POST /api/validate."""
    doc = graph_doc(body.graph, settings)
    token = new_edit_token()
    row = store.create_graph(
        new_id(), doc.get("name") or "untitled", doc, hash_token(token), public=body.public
    )
    locate(response, f"/api/graphs/{row.id}")
    return {**_read(row), "edit_token": token}


@router.get("/graphs", response_model=list[GraphSummary])
def list_graphs(
    store: StoreDep,
    ids: str | None = Query(
        None, description="comma-separated graph ids to summarise (e.g. the ones you saved)"
    ),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Summaries of the graphs whose ids are given, or else of the public graphs. Private
    graphs are never listed: their ids are the capability to read them."""
    wanted = [i for i in (ids or "").split(",") if i][:limit]
    return store.list_graphs(wanted or None, limit)


@router.get("/graphs/{graph_id}", response_model=GraphRead, responses=errors(404))
def read_graph(graph_id: str, store: StoreDep) -> dict[str, Any]:
    """A stored graph (no token needed: the id is the capability to read it)."""
    return _read(_get(store, graph_id))


@router.put(
    "/graphs/{graph_id}",
    response_model=GraphRead,
    responses=errors(403, 404, 409, 413, 422),
)
def update_graph(
    graph_id: str, body: GraphUpdate, store: StoreDep, settings: SettingsDep, token: EditToken
) -> dict[str, Any]:
    """Replace a graph (needs its edit token). With `revision`, refuses (409) if someone
    saved a newer revision meanwhile."""
    row = _get(store, graph_id)
    check_edit_token(token, row.edit_hash, "graph")
    doc = graph_doc(body.graph, settings)
    result = store.update_graph(
        graph_id, doc.get("name") or row.name, doc, body.public, body.revision
    )
    if result is None:
        raise not_found("graph", graph_id)
    if isinstance(result, int):
        raise ApiError(
            409,
            "conflict",
            f"the graph is at revision {result}, not {body.revision}: reload it and edit again",
        )
    return _read(result)


@router.delete("/graphs/{graph_id}", status_code=204, responses=errors(403, 404))
def delete_graph(graph_id: str, store: StoreDep, token: EditToken) -> Response:
    """Delete a graph (needs its edit token). Runs made from it keep their own copy."""
    row = _get(store, graph_id)
    check_edit_token(token, row.edit_hash, "graph")
    store.delete_graph(graph_id)
    return Response(status_code=204)


@router.post(
    "/graphs/{graph_id}/fork",
    status_code=201,
    response_model=GraphCreated,
    responses={**errors(404, 422), **_CREATED},
)
def fork_graph(
    graph_id: str, store: StoreDep, response: Response, body: GraphFork | None = None
) -> dict[str, Any]:
    """Copy a graph (anyone who can read it can fork it); the copy has its own edit token."""
    row = _get(store, graph_id)
    doc = dict(row.doc)
    # a document's name holds 200 characters at most: a long one loses its end, not its mark
    name = (body.name if body and body.name else None) or f"{row.name[:193]} (fork)"
    doc["name"] = name
    token = new_edit_token()
    new = store.create_graph(new_id(), name, doc, hash_token(token), forked_from=row.id)
    locate(response, f"/api/graphs/{new.id}")
    return {**_read(new), "edit_token": token}
