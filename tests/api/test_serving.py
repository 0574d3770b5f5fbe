"""How the server holds up at the connection level (issue 12): half-sent requests are closed,
access tokens never reach the log."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import httpx
import websockets

from blockprop.api.serving import redact

from .conftest import Api


def _log_of(server) -> str:
    return (server.database.parent / f"server-{server.port}.log").read_text(errors="replace")


def _half_sent(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    s.settimeout(30)
    return s


def test_requests_whose_headers_never_finish_are_closed(private_server):
    server = private_server(env={"BLOCKPROP_HEADER_TIMEOUT_SECONDS": "1"})
    sockets = [_half_sent(server.port) for _ in range(100)]
    try:
        # the server still answers others meanwhile
        assert httpx.get(f"{server.url}/api/health", timeout=10).status_code == 200
        for s in sockets:  # each is closed by the server: recv gives EOF (or a reset)
            with contextlib.suppress(ConnectionResetError):
                assert s.recv(1024) == b""
        # a complete, slow-but-steady request is unaffected
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET /api/health HTTP/1.1\r\n")
        slow.sendall(b"Host: 127.0.0.1\r\n\r\n")
        slow.settimeout(10)
        assert slow.recv(64).startswith(b"HTTP/1.1 200")
        slow.close()
    finally:
        for s in sockets:
            s.close()


def test_access_tokens_are_redacted_from_the_log(private_server):
    server = private_server(env={"BLOCKPROP_TOKEN": "s3cret-access"})
    api = Api(server.url, token="s3cret-access")
    try:
        assert httpx.get(f"{server.url}/api/ops?token=s3cret-access").status_code == 200
        run = api.start_run(train={"epochs": 3})
        edit = run["edit_token"]
        url = api.ws_url(f"/api/runs/{run['id']}/stream?token=s3cret-access&edit_token={edit}")

        async def watch() -> None:
            async with websockets.connect(url) as ws:
                await asyncio.wait_for(ws.recv(), 10)

        asyncio.run(watch())
        deadline = time.monotonic() + 10
        while "WebSocket" not in _log_of(server) and time.monotonic() < deadline:
            time.sleep(0.05)  # the log line is written after the handshake; poll for it
        log = _log_of(server)
        assert "/api/ops?token=***" in log and "WebSocket" in log
        assert "s3cret-access" not in log and edit not in log
    finally:
        api.close()


def test_redact_keeps_the_rest_of_the_query():
    assert redact("/a?x=1&token=abc&edit_token=def&y=2") == "/a?x=1&token=***&edit_token=***&y=2"
    assert redact("/a?TOKEN=abc") == "/a?TOKEN=***"
    assert redact("/a?tokens=1") == "/a?tokens=1"
