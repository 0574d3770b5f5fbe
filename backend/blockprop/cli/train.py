"""`blockprop train`: train a graph headless, with a progress bar, and write the results."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from blockprop.cli.common import UsageError, _err, _print_issues, _read_graph
from blockprop.engine.trainer.config import SettingField, check_setting, setting_fields

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


def flag_of(sf: SettingField) -> str:
    """The command-line flag of a training setting: `--the-name` unless its declaration says."""
    return sf.meta.flag or "--" + sf.name.replace("_", "-")


def _parser(sf: SettingField) -> Any:
    """An argparse `type` for a setting: its type, checked against its declared bounds (and
    the setting's word for null, e.g. `full` for batch_size, when it may be null)."""
    word = _NULL_WORDS.get(sf.name, "none")

    def parse(text: str) -> Any:
        if sf.nullable and text.lower() == word:
            return NULL
        try:
            return check_setting(sf.name, sf.type(text))
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = sf.type.__name__
    return parse


#: what a nullable setting's flag says for null (the setting's own word, else "none")
NULL = object()
_NULL_WORDS = {"batch_size": "full", "dropout": "none", "max_steps": "none"}


def add_training_flags(group: Any) -> None:
    """One flag per training setting, generated from its declaration (TrainConfig): its type,
    choices, doc and default are the ones the API and the settings form show."""
    for sf in setting_fields():
        if sf.meta.flag is None:
            continue
        m = sf.meta
        default = "null" if sf.default is None else str(sf.default).lower()
        help_text = f"{m.doc} (default {default})".replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f"train_{sf.name}", "default": None, "help": help_text}
        if sf.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif m.choices is not None:
            kwargs["choices"] = m.choices
        else:
            if sf.nullable and sf.type is not str:
                kwargs["help"] = help_text + f"; '{_NULL_WORDS.get(sf.name, 'none')}' for null"
            kwargs["type"] = _parser(sf)
            kwargs["metavar"] = sf.name.upper()
        group.add_argument(flag_of(sf), **kwargs)


def training_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The training settings given as flags (they override an example's or a graph's)."""
    out: dict[str, Any] = {}
    for sf in setting_fields():
        value = getattr(args, f"train_{sf.name}", None)
        if value is not None:
            out[sf.name] = None if value is NULL else value
    return out


def _load_data(args: argparse.Namespace, example: dict | None):
    """`(dataset, its spec)`: the spec (as a run's `dataset`) is None for a file of one's own."""
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
            return load_npz(args.data, **common), None
        if suffix == "csv":
            return load_csv(args.data, target=args.target, **common), None
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
    return load_dataset(name, **spec), {"name": name, **spec}


def trained_config(config: Any) -> dict[str, Any]:
    """A config as a document's `train`: the settings that differ from their defaults."""
    return {
        sf.name: getattr(config, sf.name)
        for sf in setting_fields()
        if getattr(config, sf.name) != sf.default
    }


def _write_outputs(out_dir, trainer, points, summary, spec) -> None:
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
    # the document travels whole: what it trained on, how, and how its inputs were scaled
    graph = {k: v for k, v in trainer.doc.items() if k != "normalization"}
    graph.update(state=state, train=trained_config(trainer.config))
    if spec is not None:
        graph["dataset"] = spec
    if trainer.input_normalization():
        graph["normalization"] = trainer.input_normalization()
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
    settings = dict(example.get("train") or {}) if example else {}
    settings.update(training_settings(args))
    try:
        config = TrainConfig.from_dict(settings)
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        dataset, spec = _load_data(args, example)
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

    # the metric points are kept only to be written out (--out); the progress bar needs the
    # latest accuracy alone
    points: list[dict] = []
    n, b = dataset.n_train, trainer.batch_size
    total = config.epochs * math.ceil(n / b)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    bar = None
    if not (args.json or args.quiet):
        from tqdm import tqdm

        bar = tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr, leave=True)
    on_points = points.extend if args.out else None
    if bar is not None:
        last_post = 0.0
        acc = None
        keep = on_points

        def on_points(ps: list[dict]) -> None:
            nonlocal last_post, acc
            if keep is not None:
                keep(ps)
            for p in ps:
                if "accuracy" in p:
                    acc = p["accuracy"]
            bar.update(len(ps))
            now = time.monotonic()
            if now - last_post > 0.2:
                last_post = now
                p = ps[-1]
                post = {"epoch": p["epoch"], "loss": f"{p['loss']:.4g}"}
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
        _write_outputs(args.out, trainer, points, summary, spec)
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
