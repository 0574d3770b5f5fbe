"""How uvicorn serves the app: a header-read timeout, connection limits, redacted logs.

- uvicorn closes idle keep-alive connections but has no timeout for a request whose headers
  never finish arriving (slowloris: 1,000 half-sent requests stayed open 60 s+).
  `HeaderTimeoutProtocol` closes a connection whose request headers have not all arrived
  `header_timeout` seconds after the request began.
- Access tokens travel in query strings (`?token=`, `?edit_token=`: a WebSocket cannot send
  headers from a browser): `RedactTokens` blanks them in every log line uvicorn writes.

For exposure to the internet put a reverse proxy (nginx, Caddy) in front, as uvicorn's own
deployment guide advises: it buffers slow clients, terminates TLS and rate-limits.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_SECRET = re.compile(r"((?:^|[?&;])(?:edit_)?token=)[^&;\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """``/s?token=abc&x=1`` -> ``/s?token=***&x=1`` (and ``edit_token``)."""
    return _SECRET.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Blanks access tokens in a record's message and arguments (uvicorn's access formatter
    reads the arguments, so they are rewritten in place, keeping their order)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with `RedactTokens` on each of its handlers, and the
    `blockprop` loggers written like uvicorn's."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tokens")
    # the server's own news (runs interrupted, resumed, parked; workers replaced) beside uvicorn's
    config["loggers"]["blockprop"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing requests whose headers arrive too slowly."""

    header_timeout = 10.0  # set by `protocol_class`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._start_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol_class(header_timeout: float) -> type[HeaderTimeoutProtocol]:
    return type("HeaderTimeout", (HeaderTimeoutProtocol,), {"header_timeout": header_timeout})
