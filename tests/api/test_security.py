"""Safe by default: body caps, JSON depth, node count, Origin and Host checks, access token."""

import asyncio

import httpx
import pytest
import websockets

from .conftest import XOR_GRAPH, Api, assert_error, connect, recv_json


def test_oversized_body_is_413_by_content_length(api):
    big = b"[" + b"0," * 1_100_000 + b"0]"
    r = api.post("/api/validate", content=big, headers={"Content-Type": "application/json"})
    err = assert_error(r, 413, "too_large")
    assert "2000000" in err["message"]


def test_oversized_body_is_413_when_streamed_without_length(api, live_server):
    """A chunked body carries no Content-Length: the streamed length is counted."""

    def chunks():
        for _ in range(300):
            yield b" " * 10_000

    r = httpx.post(
        f"{live_server.url}/api/validate",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "too_large")


def test_deeply_nested_json_is_413(api):
    deep = '{"version": 1, "nodes": [], "state": {"a": {"b": ' + "[" * 200 + "]" * 200 + "}}}"
    r = api.post("/api/validate", content=deep, headers={"Content-Type": "application/json"})
    err = assert_error(r, 413, "too_large")
    assert "nests" in err["message"]


def test_depth_counting_ignores_brackets_inside_strings(api):
    doc = {**XOR_GRAPH, "description": '[{"\\' * 500}
    assert api.post("/api/validate", json=doc).json()["ok"] is True


def test_too_many_nodes_is_413(api):
    nodes = [{"id": f"n{i}", "op": "input", "params": {"shape": [1]}} for i in range(2001)]
    err = assert_error(api.post("/api/validate", json={"version": 1, "nodes": nodes}), 413)
    assert "2001 nodes" in err["message"]


def test_foreign_and_null_origins_cannot_change_state(api, live_server):
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{live_server.port + 1}"):
        r = api.post("/api/graphs", json={"graph": XOR_GRAPH}, headers={"Origin": origin})
        assert_error(r, 403, "forbidden_origin")


def test_the_served_origin_and_no_origin_may_change_state(api, live_server):
    r = api.post("/api/graphs", json={"graph": XOR_GRAPH}, headers={"Origin": live_server.url})
    assert r.status_code == 201
    assert api.post("/api/graphs", json={"graph": XOR_GRAPH}).status_code == 201


def test_reads_are_not_origin_checked(api):
    assert api.get("/api/ops", headers={"Origin": "http://evil.example"}).status_code == 200


def test_a_foreign_host_header_is_refused_against_dns_rebinding(live_server):
    r = httpx.get(
        f"{live_server.url}/api/ops", headers={"Host": f"evil.example:{live_server.port}"}
    )
    assert_error(r, 403, "forbidden_host")
    r = httpx.get(f"{live_server.url}/api/ops", headers={"Host": f"localhost:{live_server.port}"})
    assert r.status_code == 200


def test_websocket_with_a_foreign_origin_is_refused(runs_api):
    run = runs_api.start_run()

    async def go():
        for origin in ("http://evil.example", "null"):
            with pytest.raises(websockets.InvalidStatus) as info:
                async with connect(runs_api, run, origin=origin):
                    pass
            assert info.value.response.status_code == 403
        async with connect(runs_api, run, origin=runs_api.url) as ws:
            assert (await recv_json(ws))["type"] == "hello"

    asyncio.run(go())


def test_websocket_to_an_unknown_run_is_refused_with_404(api):
    async def go():
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(api.ws_url("/api/runs/nope/stream")):
                pass
        assert info.value.response.status_code == 404

    asyncio.run(go())


def test_an_access_token_is_required_everywhere_when_set(private_server):
    server = private_server(env={"BLOCKPROP_TOKEN": "s3cret"})
    url = server.url
    assert httpx.get(f"{url}/api/health").status_code == 200  # open for probes
    assert_error(httpx.get(f"{url}/api/ops"), 401, "unauthorized")
    assert_error(httpx.get(f"{url}/api/ops", headers={"Authorization": "Bearer nope"}), 401)
    assert_error(httpx.get(f"{url}/"), 401)
    assert httpx.get(f"{url}/api/ops", headers={"Authorization": "Bearer s3cret"}).is_success
    # ?token= works and sets an HttpOnly cookie the browser app then carries
    r = httpx.get(f"{url}/api/ops?token=s3cret")
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert httpx.get(f"{url}/api/ops", cookies={"blockprop_token": "s3cret"}).is_success

    authed = Api(url, token="s3cret")
    try:
        run = authed.start_run(train={"epochs": 5})

        async def go():
            ws_url = authed.ws_url(f"/api/runs/{run['id']}/stream")
            with pytest.raises(websockets.InvalidStatus) as info:
                async with websockets.connect(ws_url):
                    pass
            assert info.value.response.status_code == 401
            async with websockets.connect(ws_url + "?token=s3cret") as ws:
                assert (await recv_json(ws))["type"] == "hello"

        asyncio.run(go())
    finally:
        authed.close()


def test_ids_and_edit_tokens_are_unguessable(api):
    a = api.post("/api/graphs", json={"graph": XOR_GRAPH}).json()
    b = api.post("/api/graphs", json={"graph": XOR_GRAPH}).json()
    assert len(a["id"]) >= 22 and len(a["edit_token"]) >= 32
    assert a["id"] != b["id"] and a["edit_token"] != b["edit_token"]
    assert "edit_token" not in api.get(f"/api/graphs/{a['id']}").json()
