"""`blockprop datasets` and `blockprop examples`: what ships with the package."""

from __future__ import annotations

import argparse


def cmd_datasets(args: argparse.Namespace) -> int:
    import json

    from blockprop.engine.data import list_datasets

    items = list_datasets()
    if args.json:
        print(json.dumps(items))
        return 0
    print(f"{'name':<8} {'task':<14} {'features':>8} {'classes':>7}  parameters (defaults)")
    for d in items:
        params = ", ".join(f"{k}={v}" for k, v in d["params"].items())
        classes = "-" if d["classes"] is None else str(d["classes"])
        print(f"{d['name']:<8} {d['task']:<14} {d['features']:>8} {classes:>7}  {params}")
    return 0


def cmd_examples(args: argparse.Namespace) -> int:
    import json

    from blockprop.examples import list_examples

    items = list_examples()
    if args.json:
        print(json.dumps(items))
        return 0
    width = max(len(e["id"]) for e in items)
    for e in items:
        print(f"{e['id']:<{width}}  {e['title']} (dataset: {e['dataset']})")
    return 0
