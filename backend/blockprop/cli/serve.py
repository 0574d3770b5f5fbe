"""`blockprop serve`: the API and the built frontend under uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from blockprop import __version__


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from blockprop.api.app import create_app
    from blockprop.api.serving import log_config, protocol_class
    from blockprop.settings import Settings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    if not _is_loopback(settings.host) and not settings.token:
        print(
            f"refusing to listen on {settings.host}: set BLOCKPROP_TOKEN to an access token "
            "first (every request will then need it), or bind 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    print(f"Blockprop {__version__} at http://{settings.host}:{settings.port}/", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=log_config(),
        http=protocol_class(settings.header_timeout_seconds),
        # beyond this many connections and tasks uvicorn answers 503 instead of piling up
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_seconds,
        # Compressing every stream frame costs more CPU than training on a small machine.
        ws_per_message_deflate=settings.ws_deflate,
        ws_max_size=settings.max_ws_message_bytes,
    )
    return 0
