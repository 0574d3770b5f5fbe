"""The `blockprop` command line."""

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
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blockprop", description=__doc__)
    parser.add_argument("--version", action="version", version=f"blockprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API and the built frontend")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or BLOCKPROP_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, or BLOCKPROP_PORT)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
