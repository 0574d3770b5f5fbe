"""Issue 12's inputs that used to answer 500 (or a wrong answer), each a clear 4xx in the one
error shape now, on a real server: constants at batch > 1, integers beyond 64 bits, lone
surrogates, NaN/Infinity, non-UTF-8 bodies, `Content-Type` in any case, malformed Host and
Origin ports, odd SPA paths, `?since=` out of range; and `Retry-After` on every 429, `Allow`
on every 405 listing the path's real methods."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import XOR_GRAPH, Api, assert_error, connect, recv_json

BIG = 2**63  # one beyond int64
JSON = {"Content-Type": "application/json"}


def _post_raw(api: Api, path: str, text: str, **headers: str) -> httpx.Response:
    return api.post(path, content=text.encode(), headers={**JSON, **headers})


def _with_node(doc: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["nodes"][index].update(changes)
    return doc


# --- constants and parameters at batch > 1 --------------------------------------------------

CONST_GRAPH = {
    "version": 1,
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}},
        {"id": "k", "op": "constant", "params": {"value": [1.0, 2.0]}},
        {"id": "w", "op": "parameter", "params": {"shape": [2]}},
        {"id": "a", "op": "multiply", "inputs": {"a": "x", "b": "k"}},
        {"id": "b", "op": "multiply", "inputs": {"a": "a", "b": "w"}},
        {"id": "t", "op": "target", "params": {"shape": [2]}},
        {"id": "c", "op": "squared_error", "inputs": {"y": "b", "target": "t"}},
    ],
    "state": {"w": {"value": [0.5, -1.5]}},
}


def test_evaluate_with_a_constant_and_a_parameter_at_batch_three(api):
    """It answered 500 ("array is not C contiguous"); now batch 3 repeats batch 1."""

    def evaluate(batch: int) -> dict[str, Any]:
        inputs = {"x": [[1.0, -2.0]] * batch, "t": [[0.25, 0.5]] * batch}
        r = api.post("/api/evaluate", json={"graph": CONST_GRAPH, "inputs": inputs})
        assert r.status_code == 200, r.text
        return r.json()

    one, three = evaluate(1), evaluate(3)
    assert three["values"]["k"] == [[1.0, 2.0]] * 3
    assert three["values"]["w"] == [[0.5, -1.5]] * 3
    np.testing.assert_allclose(three["loss"], one["loss"])
    for key, value in one["values"].items():
        np.testing.assert_allclose(three["values"][key], np.repeat(value, 3, axis=0))
    for key, grad in one["grads"].items():  # the loss is a batch mean: 1/3 each
        np.testing.assert_allclose(three["grads"][key], np.repeat(grad, 3, axis=0) / 3)
    np.testing.assert_allclose(three["param_grads"]["w"]["value"], one["param_grads"]["w"]["value"])
    # by hand: C = ‖x·k·w − t‖² per sample, L its batch mean; every sample is the same
    x, k, w, t = map(np.array, ([1.0, -2.0], [1.0, 2.0], [0.5, -1.5], [0.25, 0.5]))
    np.testing.assert_allclose(three["loss"], np.sum((x * k * w - t) ** 2))
    np.testing.assert_allclose(three["param_grads"]["w"]["value"], 2 * (x * k * w - t) * x * k)


# --- integers beyond 64 bits ---------------------------------------------------------------------


def _raw(body: Any, number: str) -> str:
    """`body` as JSON text with every "N" string replaced by the literal `number`."""
    return json.dumps(body).replace('"N"', number)


def _big_cases() -> list[tuple[str, str, str]]:
    """(path, raw JSON body with an integer beyond int64, the field the error must name)."""
    wide = _with_node(XOR_GRAPH, 2, params={"out_features": "N"})
    tall = _with_node(XOR_GRAPH, 0, params={"shape": ["N"]})
    ui = _with_node(XOR_GRAPH, 0, ui={"x": "N"})
    big, small = str(BIG), str(-BIG - 1)
    return [
        ("/api/validate", _raw(wide, big), "nodes.2.params.out_features"),
        ("/api/validate", _raw(tall, small), "nodes.0.params.shape.0"),
        ("/api/evaluate", _raw({"graph": XOR_GRAPH, "inputs": {"x": [["N", 1]]}}, big), "x.0.0"),
        ("/api/evaluate", _raw({"graph": XOR_GRAPH, "inputs": {}, "seed": "N"}, big), "seed"),
        ("/api/graphs", _raw({"graph": ui}, big), "graph.nodes.0.ui.x"),
        (
            "/api/runs",
            _raw({"graph": XOR_GRAPH, "dataset": {"name": "xor", "seed": "N"}}, big),
            "seed",
        ),
        ("/api/sessions", _raw({"graph": ui}, small), "graph.nodes.0.ui.x"),
        ("/api/datasets", _raw({"name": "a", "csv": "a,b\n1,2\n", "target": "N"}, big), "target"),
    ]


@pytest.mark.parametrize(("path", "body", "field"), _big_cases())
def test_integers_beyond_64_bits_are_422_naming_the_field(api, path, body, field):
    err = assert_error(_post_raw(api, path, body), 422, "invalid_request")
    assert field in err["message"] and "64 bits" in err["message"], err


def test_the_largest_64_bit_integers_are_kept(api):
    doc = _with_node(XOR_GRAPH, 0, ui={"x": 2**63 - 1, "y": -(2**63)})
    created = api.post("/api/graphs", json={"graph": doc})
    assert created.status_code == 201, created.text
    stored = api.get(f"/api/graphs/{created.json()['id']}").json()["graph"]
    assert stored["nodes"][0]["ui"] == {"x": 2**63 - 1, "y": -(2**63)}


def test_a_node_with_a_bad_value_is_named(api):
    doc = _raw(_with_node(XOR_GRAPH, 2, params={"out_features": "N"}), str(BIG))
    err = assert_error(_post_raw(api, "/api/validate", doc), 422, "invalid_request")
    assert err["nodes"] == ["hidden"], err


# --- ?since= out of range -------------------------------------------------------------------


def test_metrics_since_beyond_int64_is_422(runs_api):
    run = runs_api.start_run(train={"epochs": 2})
    r = runs_api.get(f"/api/runs/{run['id']}/metrics", params={"since": str(BIG)})
    assert "since" in assert_error(r, 422, "invalid_request")["message"]
    ok = runs_api.get(f"/api/runs/{run['id']}/metrics", params={"since": str(BIG - 1)})
    assert ok.status_code == 200 and ok.json()["points"] == []


@pytest.mark.parametrize("since", [str(BIG), "abc", "-1", "1e3"])
def test_stream_since_that_is_not_a_seq_is_refused_with_422(runs_api, since):
    run = runs_api.start_run(train={"epochs": 2})

    async def go() -> None:
        with pytest.raises(websockets.InvalidStatus) as info:
            async with connect(runs_api, run, f"?since={since}"):
                pass
        response = info.value.response
        assert response.status_code == 422
        assert json.loads(response.body)["error"]["code"] == "invalid_request"
        async with connect(runs_api, run, f"?since={BIG - 1}") as ws:  # the largest: fine
            assert (await recv_json(ws))["type"] == "hello"

    asyncio.run(go())


# --- lone surrogates, NaN and Infinity, non-UTF-8 -------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/graphs", '{"graph": {"version": 1, "name": "\\ud800", "nodes": []}}', "graph.name"),
        ("/api/validate", '{"nodes": [{"id": "\\ud800", "op": "input"}]}', "nodes.0.id"),
        ("/api/validate", '{"nodes": [{"id": "a", "op": "\\udfff"}]}', "nodes.0.op"),
        (
            "/api/validate",
            '{"nodes": [{"id": "a", "op": "input", "params": {"dtype": "x\\ud800"}}]}',
            "nodes.0.params.dtype",
        ),
        ("/api/validate", '{"nodes": [{"id": "a", "op": "input", "params": {"\\ud800": 1}}]}', ""),
        (
            "/api/graphs",
            '{"graph": {"nodes": [{"id": "a", "op": "input", "ui": {"\\udc00": "\\ud800"}}]}}',
            "graph.nodes.0.ui",
        ),
        ("/api/sessions", '{"graph": {"nodes": [], "name": "\\ud83d"}}', "graph.name"),
    ],
)
def test_lone_surrogates_are_422_naming_the_field(api, path, body, field):
    r = _post_raw(api, path, body)
    err = assert_error(r, 422, "invalid_request")  # the answer is valid UTF-8 JSON itself
    assert field in err["message"] and "surrogate" in err["message"], err


def test_a_paired_surrogate_escape_is_an_ordinary_character(api):
    r = _post_raw(api, "/api/graphs", '{"graph": {"name": "\\ud83d\\ude00", "nodes": []}}')
    assert r.status_code == 201 and r.json()["name"] == "\N{GRINNING FACE}"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_422(api, literal):
    body = _raw({"graph": XOR_GRAPH, "inputs": {"x": [["N", 1]]}}, literal)
    err = assert_error(_post_raw(api, "/api/evaluate", body), 422, "invalid_request")
    assert "inputs.x.0.0" in err["message"], err
    doc = _raw(_with_node(XOR_GRAPH, 2, params={"out_features": "N"}), literal)
    err = assert_error(_post_raw(api, "/api/validate", doc), 422, "invalid_request")
    assert "out_features" in err["message"] and err["nodes"] == ["hidden"], err


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({**XOR_GRAPH, "name": "é"}, ensure_ascii=False).encode("latin-1"),
        json.dumps(XOR_GRAPH).encode("utf-16"),
        json.dumps(XOR_GRAPH).encode("utf-32-le"),
        b'{"version": 1, "name": "\xed\xa0\x80", "nodes": []}',  # an encoded surrogate
    ],
    ids=["latin-1", "utf-16", "utf-32", "cesu"],
)
def test_bodies_that_are_not_utf8_are_422(api, raw):
    r = api.post("/api/validate", content=raw, headers=JSON)
    assert "UTF-8" in assert_error(r, 422, "invalid_request")["message"]


def test_a_utf8_byte_order_mark_is_tolerated(api):
    raw = b"\xef\xbb\xbf" + json.dumps(XOR_GRAPH).encode()
    assert api.post("/api/validate", content=raw, headers=JSON).json()["ok"] is True


def test_no_body_with_a_json_content_type_is_no_body(api):
    r = api.post("/api/runs/nope/step", content=b"", headers=JSON)
    assert_error(r, 404, "not_found")  # not "the body is not valid JSON"


def test_syntax_errors_are_422_with_the_position(api):
    err = assert_error(_post_raw(api, "/api/validate", '{"nodes": [}'), 422, "invalid_request")
    assert "line 1" in err["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/graphs", {"graph": XOR_GRAPH, "public": 0}),
        ("/api/runs", {"graph": XOR_GRAPH, "dataset": {"name": "xor"}, "paused": 1}),
        ("/api/evaluate", {"graph": XOR_GRAPH, "inputs": {}, "seed": "3"}),
        ("/api/runs", {"graph": XOR_GRAPH, "dataset": {"name": "xor", "seed": 1.0}}),
    ],
)
def test_values_of_another_json_type_than_the_schema_says_are_422(api, path, body):
    """What the OpenAPI document says is what is taken: no `0` for `false` (schemathesis)."""
    assert_error(api.post(path, json=body), 422, "invalid_request")


# --- Content-Type in any case ------------------------------------------------------------------

DEEP = '{"version": 1, "nodes": [], "state": {"a": {"b": ' + "[" * 200 + "]" * 200 + "}}}"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/JSON",
        "Application/Json; charset=UTF-8",
        "application/vnd.blockprop+JSON",
        "text/plain",  # not parsed as JSON, but it starts like JSON: checked all the same
    ],
)
def test_the_depth_check_holds_whatever_the_content_type_says(api, content_type):
    r = api.post("/api/validate", content=DEEP, headers={"Content-Type": content_type})
    assert "nests" in assert_error(r, 413, "too_large")["message"]


def test_values_are_checked_whatever_the_case_of_the_content_type(api):
    body = _raw(_with_node(XOR_GRAPH, 2, params={"out_features": "N"}), "NaN")
    r = api.post("/api/validate", content=body, headers={"Content-Type": "APPLICATION/json"})
    assert_error(r, 422, "invalid_request")


# --- Host and Origin ---------------------------------------------------------------------------

BAD_HOSTS = ["127.0.0.1:99999", "127.0.0.1:abc", "[::1]:99999", "[::1", "[::1]x", "127.0.0.1:-1"]
BAD_ORIGINS = ["http://127.0.0.1:99999", "http://127.0.0.1:abc", "http://[::1", "http://[zz]:1"]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_a_malformed_host_is_400(live_server, host):
    assert_error(httpx.get(f"{live_server.url}/api/ops", headers={"Host": host}), 400, "bad_host")
    r = httpx.post(f"{live_server.url}/api/validate", json=XOR_GRAPH, headers={"Host": host})
    assert_error(r, 400, "bad_host")


@pytest.mark.parametrize("origin", BAD_ORIGINS)
def test_a_malformed_origin_is_403(api, origin):
    r = api.post("/api/validate", json=XOR_GRAPH, headers={"Origin": origin})
    assert "malformed" in assert_error(r, 403, "forbidden_origin")["message"]


def _ws_handshake(url: str, path: str, **headers: str) -> httpx.Response:
    """A WebSocket upgrade request, read as the plain HTTP answer a refused one gets."""
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    return httpx.get(url + path, headers={**upgrade, **headers}, timeout=10)


def test_websocket_handshakes_with_a_malformed_host_or_origin_are_refused(runs_api, runs_server):
    run = runs_api.start_run(train={"epochs": 2})
    path = f"/api/runs/{run['id']}/stream"
    for host in BAD_HOSTS:
        assert_error(_ws_handshake(runs_server.url, path, Host=host), 400, "bad_host")
    for origin in BAD_ORIGINS:
        r = _ws_handshake(runs_server.url, path, Origin=origin)
        assert_error(r, 403, "forbidden_origin")


# --- the SPA's static files ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/index.html%00.js", "/%00", "/a%00b/c.js", "/assets/%00"])
def test_paths_with_a_nul_byte_are_404(live_server, path):
    assert_error(httpx.get(live_server.url + path), 404, "not_found")


def test_a_path_too_long_for_the_file_system_is_no_file(live_server):
    r = httpx.get(live_server.url + "/" + "a" * 5000 + ".js")
    assert r.status_code in (200, 503)  # the app's page (or "not built"): a client route


# --- 429 and 405 -------------------------------------------------------------------------------


def test_every_429_carries_retry_after(private_server):
    server = private_server(
        env={
            "BLOCKPROP_MAX_RUNS_PER_CLIENT": "1",  # a second run of this client is refused
            "BLOCKPROP_MAX_WS_CLIENTS": "1",
        }
    )
    api = Api(server.url)
    try:
        run = api.start_run()
        r = api.post("/api/runs", json={"graph": XOR_GRAPH, "dataset": {"name": "xor"}})
        assert_error(r, 429, "too_many_runs")
        assert int(r.headers["Retry-After"]) > 0
        session = api.post("/api/sessions", json={"graph": XOR_GRAPH}).json()

        async def refused(url: str) -> httpx.Headers:
            with pytest.raises(websockets.InvalidStatus) as info:
                async with websockets.connect(url):
                    pass
            assert info.value.response.status_code == 429
            return info.value.response.headers

        async def go() -> None:
            async with connect(api, run) as ws:  # the one stream client allowed
                await recv_json(ws)
                headers = await refused(api.ws_url(f"/api/runs/{run['id']}/stream"))
                assert int(headers["Retry-After"]) > 0
            follow = api.ws_url(f"/api/sessions/{session['id']}/stream")
            async with websockets.connect(follow) as ws:  # the one follower allowed
                await recv_json(ws)
                assert int((await refused(follow))["Retry-After"]) > 0

        asyncio.run(go())
    finally:
        api.close()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/ops", "GET"),
        ("PUT", "/api/runs", "GET, POST"),
        ("PATCH", "/api/graphs/abc", "GET, PUT, DELETE"),
        ("GET", "/api/evaluate", "POST"),  # the SPA's GET route does not count under /api
        ("POST", "/api/runs/abc", "GET, PATCH"),
        ("DELETE", "/api/sessions", "POST"),
    ],
)
def test_405_lists_the_methods_the_path_really_has(api, method, path, allow):
    r = api.http.request(method, path)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == allow


def test_a_method_on_an_api_path_no_route_has_is_404(api):
    for method in ("POST", "PUT", "GET"):
        assert_error(api.http.request(method, "/api/no-such-thing"), 404, "not_found")


# --- a fuzz over graph documents ---------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def _graphs(draw: st.DrawFn, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Graphs of real ops whose params, wiring and state are anything JSON can hold."""
    ids = [f"n{i}" for i in range(draw(st.integers(1, 6)))]
    nodes = []
    for nid in ids:
        spec = draw(st.sampled_from(ops))
        params = {
            p["name"]: draw(st.one_of(_VALUES, st.lists(st.integers(-2, 2**40), max_size=3)))
            for p in spec["params"]
            if draw(st.booleans())
        }
        inputs = {
            port["name"]: draw(st.sampled_from(ids))
            + draw(st.sampled_from(["", ":y", ":y1", ":q"]))
            for port in spec["inputs"]
            if draw(st.integers(0, 4))
        }
        nodes.append({"id": nid, "op": spec["name"], "params": params, "inputs": inputs})
    state = draw(
        st.none()
        | st.dictionaries(st.sampled_from(ids), st.dictionaries(st.text(max_size=3), _VALUES))
    )
    return {"version": 1, "nodes": nodes, **({"state": state} if state is not None else {})}


def test_no_graph_document_makes_validate_fail(api):
    """A deterministic fuzz (hypothesis, derandomized): any graph of real ops with any params
    is 200 (valid or not) or a 413/422 in the error shape, never a server error."""
    ops = api.get("/api/ops").json()

    @settings(
        max_examples=60,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(doc=_graphs(ops))
    def check(doc: dict[str, Any]) -> None:
        r = api.post("/api/validate", json=doc)
        if r.status_code == 200:
            assert set(r.json()) >= {"ok", "order", "shapes", "errors"}
        else:
            assert_error(r, r.status_code)
            assert r.status_code in (413, 422), r.text

    check()
