"""The WebSocket protocols are published as AsyncAPI 3 (/asyncapi.json), generated from the
models that validate the messages; control messages are acknowledged with the client's id,
and refused ones get an error frame carrying it. Every frame a server sends is one the
published models describe."""

import asyncio
import json
import re

import jsonschema
import pytest
import websockets
from pydantic import TypeAdapter

from blockprop.api.asyncapi import asyncapi
from blockprop.api.schemas.sessions import SessionClosedFrame, SessionHelloFrame, SessionStateFrame
from blockprop.api.schemas.stream import ServerFrame

from .conftest import XOR_GRAPH, connect, recv_json, recv_until

FRAMES = TypeAdapter(ServerFrame)
DOC = asyncapi()


def _valid(name: str, instance: dict) -> bool:
    schema = {"$ref": f"#/components/schemas/{name}", "components": DOC["components"]}
    try:
        jsonschema.validate(instance, schema)
    except jsonschema.ValidationError:
        return False
    return True


def test_the_document_is_asyncapi_3_and_every_reference_resolves(api):
    served = api.get("/asyncapi.json").json()
    assert served == json.loads(json.dumps(DOC))
    assert DOC["asyncapi"] == "3.0.0"
    text = json.dumps(DOC)
    for kind in ("schemas", "messages"):
        names = set(re.findall(rf"#/components/{kind}/(\w+)", text))
        assert names <= set(DOC["components"][kind]), names - set(DOC["components"][kind])
    for op in DOC["operations"].values():
        channel = DOC["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]
        for ref in op["messages"]:
            assert ref["$ref"].rsplit("/", 1)[1] in channel["messages"]
    assert DOC["components"]["schemas"]["StreamClientMessage"]["discriminator"] == "type"


@pytest.mark.parametrize(
    ("message", "ok"),
    [
        ({"type": "pause", "id": "1"}, True),
        ({"type": "step", "n": 3}, True),
        ({"type": "set", "lr": 0.1, "id": "a"}, True),
        ({"type": "subscribe", "nodes": ["h"], "rate": 5}, True),
        ({"type": "step", "n": 0}, False),
        ({"type": "set", "epochs": 3}, False),
        ({"type": "dance"}, False),
        ({"n": 1}, False),
    ],
)
def test_the_published_schema_takes_what_the_server_takes(message, ok):
    assert _valid("StreamClientMessage", message) is ok


def test_control_is_acknowledged_with_the_request_id_and_bad_messages_get_errors(runs_api):
    run = runs_api.start_run()

    async def go():
        async with connect(runs_api, run, f"?edit_token={run['edit_token']}&rate=0") as ws:
            frames = [await recv_json(ws)]
            await ws.send('{"type": "pause", "id": "p-1"}')
            frames += await recv_until(ws, lambda f: f["type"] in ("ack", "error"))
            assert frames[-1] == {"type": "ack", "of": "pause", "id": "p-1"}
            await ws.send('{"type": "step", "n": 0, "id": "s-1"}')
            frames += await recv_until(ws, lambda f: f["type"] == "error")
            err = frames[-1]
            assert err["id"] == "s-1" and err["of"] == "step" and "n" in err["error"]["message"]
            await ws.send('{"type": "dance", "id": "d"}')
            frames += await recv_until(ws, lambda f: f["type"] == "error")
            assert frames[-1]["id"] == "d" and "'dance'" in frames[-1]["error"]["message"]
            await ws.send('{"type": "set", "lr": 0.05, "id": "x"}')
            frames += await recv_until(ws, lambda f: f["type"] in ("ack", "error"))
            assert frames[-1] == {"type": "ack", "of": "set", "id": "x", "values": {"lr": 0.05}}
            await ws.send('{"type": "stop"}')
            frames += await recv_until(ws, lambda f: f.get("status") == "stopped")
        for frame in frames:  # every frame is one the published models describe
            FRAMES.validate_python(frame)
            assert _valid("StreamServerFrame", frame), frame

    asyncio.run(go())


def test_session_frames_are_the_published_ones(api):
    created = api.post("/api/sessions", json={"graph": XOR_GRAPH}).json()
    headers = {"X-Edit-Token": created["edit_token"]}
    url = api.ws_url(f"/api/sessions/{created['id']}/stream")

    async def go():
        async with websockets.connect(url) as ws:
            hello = await recv_json(ws)
            SessionHelloFrame.model_validate(hello)
            await ws.send('{"type": "pause"}')  # followers only listen: answered, not dropped
            refused = await recv_json(ws)
            assert refused["type"] == "error" and _valid("SessionFrame", refused)
            await asyncio.to_thread(
                api.patch,
                f"/api/sessions/{created['id']}",
                json={"graph": {**XOR_GRAPH, "name": "v2"}},
                headers=headers,
            )
            state = await recv_until(ws, lambda f: f["type"] == "state")
            SessionStateFrame.model_validate(state[-1])
            await asyncio.to_thread(api.delete, f"/api/sessions/{created['id']}", headers=headers)
            closed = await recv_until(ws, lambda f: f["type"] == "closed")
            SessionClosedFrame.model_validate(closed[-1])
            for frame in (hello, state[-1], closed[-1]):
                assert _valid("SessionFrame", frame), frame

    asyncio.run(go())
