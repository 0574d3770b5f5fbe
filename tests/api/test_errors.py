"""One error shape everywhere, including FastAPI's own 404/405/422 and unexpected failures."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from blockprop.api.app import create_app
from blockprop.api.deps import get_store
from blockprop.settings import Settings

from .conftest import XOR_GRAPH, assert_error


def test_unknown_endpoint_is_404_in_the_error_shape(api):
    err = assert_error(api.get("/api/no-such-thing"), 404, "not_found")
    assert "/api/no-such-thing" in err["message"]


def test_wrong_method_is_405_in_the_error_shape(api):
    assert_error(api.delete("/api/ops"), 405, "method_not_allowed")


def test_unknown_field_is_422_naming_it(api):
    r = api.post("/api/graphs", json={"graph": XOR_GRAPH, "owner": "me"})
    err = assert_error(r, 422, "invalid_request")
    assert "owner" in err["message"]


def test_unknown_field_inside_a_node_names_the_node(api):
    doc = {**XOR_GRAPH, "nodes": [*XOR_GRAPH["nodes"][:2], {**XOR_GRAPH["nodes"][2], "x": 1}]}
    err = assert_error(api.post("/api/validate", json=doc), 422, "invalid_request")
    assert err["nodes"] == ["hidden"]
    assert "nodes.2.x" in err["message"]


def test_missing_field_and_bad_types_are_422(api):
    assert_error(api.post("/api/graphs", json={}), 422, "invalid_request")
    r = api.post("/api/evaluate", json={"graph": XOR_GRAPH, "inputs": {}, "seed": "x"})
    assert "seed" in assert_error(r, 422, "invalid_request")["message"]


def test_malformed_json_is_422(api):
    r = api.post(
        "/api/validate", content=b'{"nodes": [', headers={"Content-Type": "application/json"}
    )
    assert_error(r, 422, "invalid_request")


@pytest.mark.parametrize(
    "field", [{"id": "mine"}, {"edit_token": "x"}, {"created_at": 1.0}, {"revision": 7}]
)
def test_server_owned_fields_cannot_be_set(api, field):
    assert_error(api.post("/api/graphs", json={"graph": XOR_GRAPH, **field}), 422)


def test_an_unexpected_failure_is_500_internal_without_internals():
    """Dependencies are overridable: a store that explodes gives a clean 500."""

    class Exploding:
        def get_graph(self, graph_id):
            raise RuntimeError("secret detail /etc/passwd")

    app: FastAPI = create_app(Settings(_env_file=None))
    app.dependency_overrides[get_store] = lambda: Exploding()

    async def get():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get("/api/graphs/abc")

    r = asyncio.run(get())
    err = assert_error(r, 500, "internal")
    assert "secret" not in r.text and "Traceback" not in r.text
    assert "passwd" not in err["message"]
