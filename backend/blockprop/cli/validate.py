"""`blockprop validate`: a graph's order and shapes, or its errors."""

from __future__ import annotations

import argparse
import sys

from blockprop.cli.common import _print_issues, _read_graph


def cmd_validate(args: argparse.Namespace) -> int:
    import json

    from blockprop.engine.graph import validate

    graph, _ = _read_graph(args.graph)
    result = validate(graph, batch_size=args.batch_size)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0 if result.ok else 1
    if not result.ok:
        _print_issues(result.errors)
        print(f"invalid: {len(result.errors)} error(s)", file=sys.stderr)
        return 1
    width = max((len(k) for k in result.shapes), default=4)
    print(f"ok: {len(result.order)} nodes")
    print("order: " + " → ".join(result.order))
    print(f"{'value':<{width}}  shape (per sample)")
    for key, shape in result.shapes.items():
        print(f"{key:<{width}}  [{', '.join(map(str, shape))}]")
    return 0
