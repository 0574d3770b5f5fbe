"""What the commands share: usage and invalid-input errors, reading a graph, printing issues."""

from __future__ import annotations

import sys


class UsageError(Exception):
    """Bad command-line usage: exit code 2."""


def _err(message: str) -> None:
    print(f"blockprop: {message}", file=sys.stderr)


def _read_graph(spec: str) -> tuple[dict, dict | None]:
    """`(graph document, example or None)` from a path to a graph or example JSON file, or
    from the id of a shipped example."""
    import json
    from pathlib import Path

    path = Path(spec)
    if not path.exists():
        from blockprop.examples import UnknownExample, get_example

        if not spec.endswith(".json"):
            try:
                ex = get_example(spec)
                return ex["graph"], ex
            except UnknownExample:
                pass
        raise UsageError(f"{spec}: no such file (nor a shipped example id)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{spec}: cannot read it ({e})") from None
    except json.JSONDecodeError as e:
        raise _Invalid(f"{spec}: not valid JSON ({e})") from None
    if isinstance(doc, dict) and isinstance(doc.get("graph"), dict):
        return doc["graph"], doc  # an example file: the graph plus its suggested settings
    if isinstance(doc, dict) and ("dataset" in doc or "train" in doc):
        return doc, doc  # a graph document that carries its experiment
    return doc, None


class _Invalid(Exception):
    """Invalid graph or data: exit code 1."""


def _print_issues(issues) -> None:
    for issue in issues:
        where = ""
        if issue.nodes:
            where += " [nodes: " + ", ".join(issue.nodes) + "]"
        if issue.port:
            where += f" [port: {issue.port}]"
        print(f"error {issue.code}: {issue.message}{where}", file=sys.stderr)
