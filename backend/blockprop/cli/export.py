"""`blockprop export`: a graph as PyTorch source or an ONNX model."""

from __future__ import annotations

import argparse
import sys

from blockprop.cli.common import UsageError, _err, _print_issues, _read_graph


def _read_state(spec: str) -> dict:
    """Trained parameters from a `blockprop train --out` file: checkpoint.npz, state.json or
    graph.json (its `state`); also an .npz of arrays named "node/name"."""
    import json
    from pathlib import Path

    import numpy as np

    path = Path(spec)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            state: dict = {}
            checkpoint = "meta" in arrays
            for key, arr in arrays.items():
                kept = key.startswith(("param/", "buffer/"))  # buffers: running statistics
                if checkpoint and not kept:
                    continue  # optimiser state, counters, the shuffle order
                # the last "/": node ids of module instances hold "/" (b1/l), names never
                nid, _, name = key.removeprefix("param/").removeprefix("buffer/").rpartition("/")
                if not nid or not name:
                    raise UsageError(f"--state {spec}: array {key!r} is not named 'node/name'")
                state.setdefault(nid, {})[name] = arr
            return state
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UsageError:
        raise
    except (OSError, ValueError) as e:
        raise UsageError(f"--state {spec}: cannot read it ({e})") from None
    if isinstance(doc, dict) and isinstance(doc.get("nodes"), list):
        doc = doc.get("state") or {}  # a graph document with its state
    if not isinstance(doc, dict):
        raise UsageError(f"--state {spec}: expected {{node: {{parameter: values}}}}")
    return doc


def _run_document(run_id: str, graph: dict | None) -> dict:
    """`graph` (else the run's) with a stored run's last checkpointed parameters and input
    normalisation, read from the server's database."""
    from blockprop.service.store import Store
    from blockprop.service.trained_state import _read_checkpoint
    from blockprop.settings import Settings

    store = Store(Settings().database)
    try:
        row = store.get_run(run_id)
        if row is None:
            raise UsageError(f"--run {run_id}: no such run in {store._shown()}")
        cp = store.get_checkpoint(run_id)
    finally:
        store.close()
    if cp is None:
        raise UsageError(f"--run {run_id}: the run has no checkpoint yet (it is {row.status})")
    found, normalized = _read_checkpoint(*cp)
    doc = dict(graph if graph is not None else row.doc)
    doc["state"] = found["state"]
    if normalized is not None:
        doc["normalization"] = normalized
    return doc


def _default_output(spec: str, graph: dict, suffix: str) -> str:
    """`<stem><suffix>` in the current directory, the stem from the graph file's name (or the
    graph's name): ASCII letters, digits and '_' only, so never a path, a dot run or a
    hidden file, whatever the file or the graph is called."""
    from pathlib import Path

    from blockprop.export import file_stem

    name = graph.get("name") if isinstance(graph, dict) else None
    fallback = file_stem(name if isinstance(name, str) else "", "model")
    return file_stem(Path(spec).stem, fallback) + suffix


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from blockprop.engine.graph import GraphError

    if args.graph is None and args.run is None:
        raise UsageError("say what to export: GRAPH, --run RUN_ID or both")
    graph, _ = _read_graph(args.graph) if args.graph is not None else (None, None)
    if args.run is not None:
        graph = _run_document(args.run, graph)
    state = _read_state(args.state) if args.state else None
    kw = {"seed": args.seed, "state": state, "normalize": args.normalize}
    try:
        if args.to == "pytorch":
            from blockprop.export.pytorch import to_pytorch

            data: str | bytes = to_pytorch(graph, **kw)
        else:
            try:
                from blockprop.export.onnx import to_onnx_bytes
            except ImportError as e:
                _err(f"exporting to ONNX needs the onnx package ({e}): pip install onnx")
                return 1
            data = to_onnx_bytes(graph, targets=args.targets, **kw)
    except GraphError as e:
        _print_issues(e.issues)
        return 1
    out = args.output
    if out is None and args.to == "onnx":
        out = _default_output(args.graph or args.run, graph, ".onnx")
    if out is None or out == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            sys.stdout.write(data)
        return 0
    try:
        if isinstance(data, bytes):
            Path(out).write_bytes(data)
        else:
            Path(out).write_text(data, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e}") from None
    print(f"wrote {out} ({len(data):,} bytes)", file=sys.stderr)
    return 0
