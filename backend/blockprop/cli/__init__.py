"""The `blockprop` command line."""

from __future__ import annotations

import argparse

from blockprop import __version__
from blockprop.cli.common import UsageError, _err, _Invalid
from blockprop.cli.export import cmd_export
from blockprop.cli.listings import cmd_datasets, cmd_examples
from blockprop.cli.serve import cmd_serve
from blockprop.cli.train import add_training_flags, cmd_train
from blockprop.cli.validate import cmd_validate


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
    add_training_flags(train.add_argument_group("training"))
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
        "--seed. A document's `normalization` (or the run's) makes the model take raw inputs. "
        "Exit codes: 0 written, 1 invalid or not exportable graph, 2 usage.",
    )
    exp.add_argument(
        "graph",
        metavar="GRAPH",
        nargs="?",
        help="graph JSON, example JSON or example id (with --run: the run's graph if left out)",
    )
    exp.add_argument(
        "--run",
        metavar="RUN_ID",
        help="a run in the server's database (BLOCKPROP_DATABASE): its graph, the parameters "
        "of its last checkpoint and how it normalised its inputs",
    )
    exp.add_argument(
        "--no-normalize",
        dest="normalize",
        action="store_false",
        help="leave out the first step that scales raw inputs as the training data was "
        "(for callers who normalise themselves)",
    )
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
