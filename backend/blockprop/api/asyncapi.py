"""The WebSocket protocols as an AsyncAPI 3 document (GET /asyncapi.json), generated from
the pydantic models that validate the messages (`schemas/stream.py`, `schemas/sessions.py`):
the run stream (frames both ways; client messages acknowledged with their `id`) and the
classroom follow stream (server frames only). Each direction's messages form a union told
apart by `type` (AsyncAPI's `discriminator`).

python -m blockprop.api.asyncapi > asyncapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from blockprop import __version__

REF = "#/components/schemas/{model}"


def _message(model: type[BaseModel]) -> dict[str, Any]:
    doc = (model.__doc__ or "").strip()
    # a model without a docstring of its own inherits pydantic's: say nothing then
    summary = (
        doc.split("\n\n")[0].replace("\n", " ")
        if doc and model.__doc__ != BaseModel.__doc__
        else ""
    )
    out: dict[str, Any] = {
        "name": model.__name__,
        "title": model.__name__,
        "contentType": "application/json",
        "payload": {"$ref": REF.format(model=model.__name__)},
    }
    if summary:
        out["summary"] = summary
    return out


def asyncapi() -> dict[str, Any]:
    from blockprop.api.app import _graph_refs
    from blockprop.api.schemas import STREAM_MODELS, Graph, Request, StreamError
    from blockprop.api.schemas.sessions import SESSION_FRAMES

    server = [m for m in STREAM_MODELS if m.__name__.startswith("Stream")]
    client = [m for m in STREAM_MODELS if m.__name__.startswith("Client")]
    session = [*SESSION_FRAMES, StreamError]  # followers only listen: what they send is refused
    models = [Graph, *server, *client, *SESSION_FRAMES]
    _, defs = models_json_schema(
        [(m, "validation" if issubclass(m, Request) else "serialization") for m in models],
        ref_template=REF,
    )
    schemas = defs.get("$defs", {})
    for union, members in (
        ("StreamServerFrame", server),
        ("StreamClientMessage", client),
        ("SessionFrame", session),
    ):
        schemas[union] = {
            "oneOf": [{"$ref": REF.format(model=m.__name__)} for m in members],
            "discriminator": "type",
        }
    messages = {m.__name__: _message(m) for m in [*server, *client, *SESSION_FRAMES]}

    def refs(members: list[type[BaseModel]]) -> dict[str, Any]:
        return {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in members}

    def op_messages(channel: str, members: list[type[BaseModel]]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{channel}/messages/{m.__name__}"} for m in members]

    doc: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Blockprop streams",
            "version": __version__,
            "description": "The WebSocket protocols of the Blockprop server: JSON text "
            "frames, one object each, told apart by `type`. A run's stream carries its "
            "metrics (no point dropped, `seq` without gaps), snapshots and decision "
            "boundaries (latest wins) and status; its client messages control the run "
            "(with the edit token) and are answered by an `ack` or `error` frame carrying "
            "their `id`. A classroom session's stream mirrors the teacher's graph and view.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "runStream": {
                "address": "/api/runs/{run_id}/stream",
                "title": "A training run's live stream",
                "description": "Query: `since` (replay metrics after this seq), `rate` "
                "(snapshots per second), `edit_token` (allows control), `token` (the "
                "server's access token, when it has one).",
                "parameters": {"run_id": {"description": "the run's id"}},
                "messages": refs(server + client),
            },
            "sessionStream": {
                "address": "/api/sessions/{session_id}/stream",
                "title": "A classroom session, followed",
                "parameters": {"session_id": {"description": "the session's id"}},
                "messages": refs(session),
            },
        },
        "operations": {
            "sendRunFrames": {
                "action": "send",
                "channel": {"$ref": "#/channels/runStream"},
                "summary": "The server's frames: hello, metrics, snapshot, boundary, status, "
                "ack, auth, error",
                "messages": op_messages("runStream", server),
            },
            "receiveRunMessages": {
                "action": "receive",
                "channel": {"$ref": "#/channels/runStream"},
                "summary": "The client's messages: hello, subscribe, auth, pause, resume, "
                "step, stop, set",
                "messages": op_messages("runStream", client),
            },
            "sendSessionFrames": {
                "action": "send",
                "channel": {"$ref": "#/channels/sessionStream"},
                "summary": "The session's frames: hello, state, closed (and error, answering "
                "anything a follower sends)",
                "messages": op_messages("sessionStream", session),
            },
        },
        "components": {"schemas": schemas, "messages": messages},
    }
    _graph_refs(doc)
    return doc


def main() -> None:
    sys.stdout.write(json.dumps(asyncapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
