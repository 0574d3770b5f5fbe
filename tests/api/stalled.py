"""A WebSocket client that stops reading, for the stream tests and
tests/bench/bench_stalled_client.py: a raw socket with a small receive buffer that completes
the handshake and then reads nothing until told to drain."""

from __future__ import annotations

import base64
import os
import socket
import time


def stalled_socket(port: int, path: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def send_text(s: socket.socket, text: str) -> None:
    """A masked text frame (clients must mask; a zero key leaves the payload as is)."""
    data = text.encode()
    assert len(data) < 126
    s.sendall(bytes([0x81, 0x80 | len(data)]) + b"\0\0\0\0" + data)


def read_until_closed(s: socket.socket, within: float) -> tuple[int, str] | None:
    """Read what the server queued for the client until its close frame or the end of the
    connection: (close code, reason), (1006, "") when the connection just ended, or None when
    neither came within `within` seconds."""
    s.settimeout(0.5)
    buf = bytearray()
    pos = 0
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(1 << 16)
        except TimeoutError:
            continue
        except OSError:
            return 1006, ""
        if not chunk:
            return 1006, ""
        buf += chunk
        while len(buf) - pos >= 2:  # walk the (unmasked) server frames
            opcode, n, head = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if len(buf) - pos < head + n:
                break
            if opcode == 0x8:
                body = bytes(buf[pos + head : pos + head + n])
                code = int.from_bytes(body[:2], "big") if len(body) >= 2 else 1005
                return code, body[2:].decode(errors="replace")
            pos += head + n
        del buf[:pos]  # frames walked: keep only the unfinished one
        pos = 0
    return None
