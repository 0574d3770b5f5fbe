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
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        # Compressing every stream frame costs more CPU than training on a small machine.
        ws_per_message_deflate=settings.ws_deflate,
        ws_max_size=settings.max_ws_message_bytes,
    )
    return 0


# ---- shared helpers --------------------------------------------------------------------------


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


# ---- validate --------------------------------------------------------------------------------


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


# ---- datasets / examples ---------------------------------------------------------------------


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


# ---- train -----------------------------------------------------------------------------------

#: command-line flag -> TrainConfig field (given flags override an example's settings)
TRAIN_FLAGS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "nesterov",
    "schedule",
    "step_size",
    "gamma",
    "decay",
    "l1",
    "l1_start",
    "l2",
    "l2_start",
    "dropout",
    "seed",
    "max_steps",
    "eval_every",
    "dtype",
)
METRIC_COLUMNS = (
    "step",
    "epoch",
    "loss",
    "lr",
    "grad_norm",
    "train_loss",
    "test_loss",
    "accuracy",
)


def _batch_size(text: str) -> int | str:
    if text.lower() in ("full", "all"):
        return "full"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}")
    return value


def _load_data(args: argparse.Namespace, example: dict | None):
    from blockprop.engine.data import load_csv, load_dataset, load_npz

    common: dict = {}
    if args.test_fraction is not None:
        common["test_fraction"] = args.test_fraction
    if args.normalize is not None:
        common["normalize"] = args.normalize
    if args.data_seed is not None:
        common["seed"] = args.data_seed
    if args.data:
        if args.dataset or args.n is not None or args.noise is not None:
            raise UsageError("--data cannot be combined with --dataset, --n or --noise")
        suffix = args.data.lower().rsplit(".", 1)[-1]
        if suffix == "npz":
            return load_npz(args.data, **common)
        if suffix == "csv":
            return load_csv(args.data, target=args.target, **common)
        raise UsageError(f"--data {args.data}: expected a .csv or .npz file")
    spec: dict = {}
    if args.dataset:
        spec = {"name": args.dataset}
        if example and example.get("dataset", {}).get("name") == args.dataset:
            spec = dict(example["dataset"])
    elif example and example.get("dataset"):
        spec = dict(example["dataset"])
    else:
        raise UsageError("say what to train on: --dataset NAME or --data FILE")
    name = spec.pop("name")
    if args.n is not None:
        spec["n"] = args.n
    if args.noise is not None:
        spec["noise"] = args.noise
    spec.update(common)
    return load_dataset(name, **spec)


def _write_outputs(out_dir, trainer, points, summary) -> None:
    import csv
    import json
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "metrics.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(points)
    meta = {
        "summary": summary,
        "config": trainer.config.to_dict(),
        "dataset": trainer.dataset.describe(),
        "points": points,
    }
    (out / "metrics.json").write_text(json.dumps(meta), encoding="utf-8")
    state = trainer.state()
    (out / "state.json").write_text(json.dumps(state), encoding="utf-8")
    graph = dict(trainer.doc)
    graph["state"] = state
    (out / "graph.json").write_text(json.dumps(graph), encoding="utf-8")
    (out / "checkpoint.npz").write_bytes(trainer.save_checkpoint())


def cmd_train(args: argparse.Namespace) -> int:
    import json
    import math
    import time

    from blockprop.engine.data import DataError
    from blockprop.engine.graph import GraphError
    from blockprop.engine.trainer import TrainConfig, Trainer

    graph, example = _read_graph(args.graph)
    settings = dict(example.get("train", {})) if example else {}
    for name in TRAIN_FLAGS:
        value = getattr(args, name)
        if value is not None:
            settings[name] = None if value == "full" else value
    try:
        config = TrainConfig.from_dict(settings)
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        dataset = _load_data(args, example)
    except DataError as e:
        where = "".join(
            f", {k} {v}" for k, v in (("line", e.row), ("column", e.column)) if v is not None
        )
        _err(f"bad data ({e.code}{where}): {e.message}")
        return 1
    try:
        trainer = Trainer(graph, dataset, config)
    except GraphError as e:
        _print_issues(e.issues)
        return 1

    points: list[dict] = []
    n, b = dataset.n_train, trainer.batch_size
    total = config.epochs * math.ceil(n / b)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    bar = None
    if not (args.json or args.quiet):
        from tqdm import tqdm

        bar = tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr, leave=True)
    last_post = [0.0]

    def on_points(ps: list[dict]) -> None:
        points.extend(ps)
        if bar is not None:
            bar.update(len(ps))
            now = time.monotonic()
            if now - last_post[0] > 0.2:
                last_post[0] = now
                p = ps[-1]
                post = {"epoch": p["epoch"], "loss": f"{p['loss']:.4g}"}
                acc = next((q["accuracy"] for q in reversed(points) if "accuracy" in q), None)
                if acc is not None:
                    post["acc"] = f"{acc:.3f}"
                bar.set_postfix(post, refresh=False)

    start = time.perf_counter()
    try:
        status = trainer.run(on_points=on_points)
    except KeyboardInterrupt:
        status = "stopped"
        trainer.reason = "interrupted"
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    ev = trainer.evaluate() if status != "failed" else {}
    summary = {
        "status": str(status),
        "reason": trainer.reason,
        "steps": trainer.step_count,
        "epochs": trainer.epoch,
        "seconds": round(seconds, 4),
        "steps_per_second": round(trainer.step_count / seconds, 2) if seconds > 0 else None,
        "train_loss": ev.get("loss"),
        "test_loss": ev.get("test_loss"),
        "accuracy": ev.get("accuracy"),
    }
    if trainer.diverged_node is not None or status == "diverged":
        summary["diverged_step"] = trainer.diverged_step
        summary["diverged_node"] = trainer.diverged_node
    if args.out:
        _write_outputs(args.out, trainer, points, summary)
    if args.json:
        print(json.dumps(summary))
    else:
        line = f"{summary['status']}: {summary['steps']} steps, {summary['epochs']} epochs in "
        line += f"{seconds:.2f} s"
        if summary["train_loss"] is not None:
            line += f"; train loss {summary['train_loss']:.4g}"
        if summary["test_loss"] is not None:
            line += f", test loss {summary['test_loss']:.4g}"
        if summary["accuracy"] is not None:
            line += f", accuracy {summary['accuracy']:.3f}"
        print(line)
        if status != "done" and trainer.reason:
            print(trainer.reason, file=sys.stderr)
        if args.out:
            print(
                f"wrote metrics.csv, metrics.json, state.json, graph.json, checkpoint.npz "
                f"to {args.out}"
            )
    if status == "done":
        return 0
    if status == "stopped":
        return 130
    return 1


# ---- export ----------------------------------------------------------------------------------


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
                if checkpoint and not key.startswith("param/"):
                    continue  # optimiser state, counters, the shuffle order
                nid, _, name = key.removeprefix("param/").partition("/")
                if not name:
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


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from blockprop.engine.graph import GraphError

    graph, _ = _read_graph(args.graph)
    state = _read_state(args.state) if args.state else None
    kw = {"seed": args.seed, "state": state}
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
        out = Path(args.graph).stem + ".onnx"
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blockprop", description=__doc__)
    parser.add_argument("--version", action="version", version=f"blockprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API and the built frontend")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or BLOCKPROP_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, or BLOCKPROP_PORT)")
    serve.set_defaults(func=cmd_serve)

    train = sub.add_parser(
        "train",
        help="train a graph on a dataset, headless, with a progress bar",
        description="Train GRAPH (a graph document, an example file or a shipped example id) "
        "on a built-in dataset or a CSV/npz file. An example's suggested dataset and settings "
        "apply unless overridden. Exit codes: 0 done, 1 invalid graph or data or diverged, "
        "2 usage, 130 interrupted.",
    )
    train.add_argument("graph", metavar="GRAPH", help="graph JSON, example JSON or example id")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", help="built-in dataset (see `blockprop datasets`)")
    data.add_argument("--n", type=int, help="number of samples to generate")
    data.add_argument("--noise", type=float, help="noise level of a generated dataset")
    data.add_argument("--data", metavar="FILE", help="a .csv or .npz file of your own")
    data.add_argument("--target", help="CSV target column (default: the last)")
    data.add_argument("--test-fraction", type=float, help="held-out fraction (default 0.2)")
    data.add_argument("--data-seed", type=int, help="seed of the data and split (default 0)")
    data.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="standardise inputs with training statistics (default on)",
    )
    opt = train.add_argument_group("training")
    opt.add_argument("--epochs", type=int)
    opt.add_argument(
        "--batch-size",
        type=_batch_size,
        help="samples per step: 1 = SGD, k = mini-batch, 'full' = full-batch GD (default)",
    )
    opt.add_argument("--optimizer", choices=("sgd", "momentum", "adam"))
    opt.add_argument("--lr", type=float, help="learning rate")
    opt.add_argument("--momentum", type=float)
    opt.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    opt.add_argument("--schedule", choices=("constant", "step", "exponential", "inv_t", "cosine"))
    opt.add_argument("--step-size", type=int, help="epochs between decays (schedule step)")
    opt.add_argument("--gamma", type=float, help="decay factor (schedules step, exponential)")
    opt.add_argument("--decay", type=float, help="schedule inv_t: lr / (1 + decay·epoch)")
    opt.add_argument("--l1", type=float, help="L1 penalty on the weights")
    opt.add_argument("--l1-start", type=int, help="first epoch with L1 (0-based)")
    opt.add_argument("--l2", type=float, help="L2 penalty on the weights")
    opt.add_argument("--l2-start", type=int, help="first epoch with L2 (0-based)")
    opt.add_argument("--dropout", type=float, help="override every dropout node's rate")
    opt.add_argument("--seed", type=int, help="seed of initialisation, shuffling, dropout")
    opt.add_argument("--max-steps", type=int, help="stop after this many steps")
    opt.add_argument("--eval-every", type=int, help="epochs between test evaluations")
    opt.add_argument("--dtype", choices=("float32", "float64"))
    out = train.add_argument_group("output")
    out.add_argument(
        "--out",
        metavar="DIR",
        help="write metrics.csv, metrics.json, state.json, graph.json and checkpoint.npz here",
    )
    out.add_argument("--json", action="store_true", help="print one final JSON object")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    val = sub.add_parser(
        "validate",
        help="check a graph: print its order and shapes, or the errors (exit 1)",
    )
    val.add_argument("graph", metavar="GRAPH", help="graph JSON, example JSON or example id")
    val.add_argument("--batch-size", type=int, default=1, help=argparse.SUPPRESS)
    val.add_argument("--json", action="store_true", help="print the result as JSON")
    val.set_defaults(func=cmd_validate)

    exp = sub.add_parser(
        "export",
        help="export a graph to PyTorch source or an ONNX model",
        description="Export GRAPH (a graph document, an example file or a shipped example id) "
        "as PyTorch source (an nn.Module; to stdout unless -o) or an ONNX model of its forward "
        "pass (to -o FILE, by default GRAPH's name with .onnx; '-o -' for stdout). Parameters "
        "come from --state, else the graph's own state, else the engine's initialisation for "
        "--seed. Exit codes: 0 written, 1 invalid or not exportable graph, 2 usage.",
    )
    exp.add_argument("graph", metavar="GRAPH", help="graph JSON, example JSON or example id")
    exp.add_argument("--to", required=True, choices=("pytorch", "onnx"), help="the format")
    exp.add_argument("-o", "--output", metavar="FILE", help="where to write ('-': stdout)")
    exp.add_argument("--seed", type=int, default=0, help="seed of the initialisation (default 0)")
    exp.add_argument(
        "--state",
        metavar="FILE",
        help="trained parameters: checkpoint.npz, state.json or graph.json from "
        "`blockprop train --out`",
    )
    exp.add_argument(
        "--no-targets",
        dest="targets",
        action="store_false",
        help="ONNX: an inference model without the targets and what needs them (no loss)",
    )
    exp.set_defaults(func=cmd_export)

    ds = sub.add_parser("datasets", help="list the built-in datasets")
    ds.add_argument("--json", action="store_true")
    ds.set_defaults(func=cmd_datasets)

    ex = sub.add_parser("examples", help="list the worked examples shipped with the package")
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(func=cmd_examples)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        _err(str(e))
        return 2
    except _Invalid as e:
        _err(str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
