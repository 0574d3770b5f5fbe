"""Shared bases of the wire types (Request, Reply), the error body, and `errors()`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EDIT_HEADER = "X-Edit-Token"  # carries a graph's, run's or session's edit token

# Every integer the API takes (in a body or a query) fits in 64 bits, as NumPy's and SQLite's
# do: the Guard refuses larger ones in bodies, queries bound theirs with these.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Request(BaseModel):
    """Base of every request body: unknown fields are an error (422 invalid_request), and so is
    a value of another JSON type than the schema says (strict: no `0` for `false`, no `"3"` for
    `3`), so the API takes exactly what its OpenAPI document describes."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Reply(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(description="a stable word: cycle, unknown_op, shape_mismatch, too_large…")
    message: str = Field(description="what went wrong, naming the node and port")
    nodes: list[str] = Field(default_factory=list, description="the nodes involved, if any")
    port: str | None = Field(default=None, description="the input port involved, if any")


class ErrorBody(BaseModel):
    """The one error shape every endpoint answers with."""

    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "cycle",
                        "message": "the graph has a cycle: a → b → a",
                        "nodes": ["a", "b"],
                        "port": None,
                    }
                }
            ]
        }
    )


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting the error shape for these statuses."""
    words = {
        401: "access token missing or wrong",
        403: "edit token missing or wrong, or a refused Origin",
        404: "no such resource",
        409: "conflict with the resource's current state",
        413: "request too large (body size, JSON depth, node count, answer size)",
        422: "invalid request (unknown or bad fields, invalid graph, a body that is not UTF-8 "
        "JSON with finite numbers, 64-bit integers and no lone surrogates)",
        429: "the server is busy (too many live runs, sessions, clients or heavy requests): "
        "retry later",
    }
    out: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorBody, "description": words.get(s, "error")} for s in statuses
    }
    if 429 in out:
        out[429]["headers"] = {
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return out


def created(param: str, targets: dict[str, tuple[str, str, bool]]) -> dict[int | str, Any]:
    """The `responses` entry for a 201 that creates a resource: OpenAPI links from its `id`
    (into the path parameter `param`) and, for the operations that need it, its `edit_token`
    (into the X-Edit-Token header) to the operations on the new resource, so tools (and
    schemathesis' stateful tests) can chain them. `targets`: link name -> (method, path,
    needs the edit token)."""
    links = {}
    for name, (method, path, needs_token) in targets.items():
        pointer = path.replace("~", "~0").replace("/", "~1")
        parameters = {f"path.{param}": "$response.body#/id"}
        if needs_token:
            parameters[f"header.{EDIT_HEADER}"] = "$response.body#/edit_token"
        links[name] = {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters}
    return {201: {"links": links, "headers": LOCATION}}


#: the 201 answers' header naming what they created
LOCATION = {
    "Location": {
        "description": "the path of the created resource",
        "schema": {"type": "string"},
    }
}


def locate(response: Any, path: str) -> None:
    """Set a 201's `Location` to the created resource's `path`."""
    response.headers["Location"] = path
