"""Shared bases of the wire types (Request, Reply), the error body, and `errors()`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Request(BaseModel):
    """Base of every request body: unknown fields are an error (422 invalid_request)."""

    model_config = ConfigDict(extra="forbid")


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
        413: "request too large (body size, JSON depth, node count)",
        422: "invalid request (unknown or bad fields, invalid graph)",
        429: "too many live runs",
    }
    return {s: {"model": ErrorBody, "description": words.get(s, "error")} for s in statuses}
