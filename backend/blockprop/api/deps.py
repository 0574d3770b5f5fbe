"""Annotated dependencies (settings, store, run manager) that tests can override.

app.dependency_overrides[get_store] = lambda: my_store
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header
from starlette.requests import HTTPConnection

from blockprop.api.errors import ApiError
from blockprop.api.security import EDIT_HEADER
from blockprop.engine.modules import flat_node_count
from blockprop.service.runs import RunManager
from blockprop.service.store import Store
from blockprop.settings import Settings

# HTTPConnection: the same dependencies serve HTTP routes and the WebSocket route.


def get_settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def get_store(conn: HTTPConnection) -> Store:
    return conn.app.state.store


def get_runs(conn: HTTPConnection) -> RunManager:
    return conn.app.state.runs


def edit_token(
    x_edit_token: Annotated[
        str | None,
        Header(
            alias=EDIT_HEADER,
            description="the edit token returned when the graph or run was created",
        ),
    ] = None,
) -> str | None:
    return x_edit_token


_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def client_key(
    conn: HTTPConnection,
    x_client_id: Annotated[
        str | None,
        Header(
            alias="X-Client-Id",
            description="a random id the browser keeps (8-64 of A-Z a-z 0-9 _ -): the per-client "
            "cap on runs counts by it, else by the client's address",
        ),
    ] = None,
) -> str:
    """Who a run belongs to, for the per-client cap: the client's own id, else its address."""
    if x_client_id is not None and _CLIENT_ID.fullmatch(x_client_id):
        return "id:" + x_client_id
    return "ip:" + (conn.client.host if conn.client else "")


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
RunsDep = Annotated[RunManager, Depends(get_runs)]
EditToken = Annotated[str | None, Depends(edit_token)]
ClientKey = Annotated[str, Depends(client_key)]


def graph_doc(graph: Any, settings: Settings) -> dict[str, Any]:
    """A plain graph document from the wire model, refusing more nodes than allowed (413)."""
    if len(graph.nodes) > settings.max_nodes:
        raise ApiError(
            413,
            "too_large",
            f"the graph has {len(graph.nodes)} nodes; the limit is {settings.max_nodes}",
        )
    doc = graph.model_dump(exclude_unset=True)  # what the client sent, checked
    flat = flat_node_count(doc)  # modules multiply nodes: count them expanded (not built)
    if flat is not None and flat > settings.max_nodes:
        raise ApiError(
            413,
            "too_large",
            f"with its modules expanded the graph has {flat:,} nodes; the limit is "
            f"{settings.max_nodes:,}",
        )
    doc.setdefault("version", 1)
    return doc
