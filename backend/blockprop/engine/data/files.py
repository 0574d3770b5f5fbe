"""User data (CSV and .npz) with validation, and the small real datasets shipped as files.

Every problem raises `DataError` with a stable code and, where it applies, the row and the
column: for CSV `row` is the 1-based line number in the file (the header is line 1) and
`column` the column's name; for npz `row` is the 0-based sample index and `column` the
0-based (flattened) feature index.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from blockprop.engine.data.dataset import DataError, Dataset, split_and_normalize

#: a numeric target column with at most this many distinct integer values is read as labels
MAX_AUTO_CLASSES = 20

Source = bytes | bytearray | str | os.PathLike | BinaryIO


def _read_bytes(source: Source, max_bytes: int | None) -> bytes:
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read(None if max_bytes is None else max_bytes + 1)
    else:
        try:
            with open(source, "rb") as f:
                data = f.read(None if max_bytes is None else max_bytes + 1)
        except OSError as e:
            raise DataError("bad_file", f"cannot read {source}: {e.strerror or e}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise DataError("too_large", f"the file is larger than the limit of {max_bytes} bytes")
    return data


def _default_name(source: Source, fallback: str) -> str:
    if isinstance(source, str | os.PathLike):
        return Path(source).stem
    return getattr(source, "name", None) and Path(source.name).stem or fallback


def _parse_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _decide_task(task: str | None, values: np.ndarray | None, column: str) -> str:
    if task is not None:
        if task not in ("classification", "regression"):
            raise DataError(
                "bad_param", f"task must be 'classification' or 'regression', not {task!r}"
            )
        return task
    if values is None:  # non-numeric labels
        return "classification"
    if np.all(values == np.round(values)) and len(np.unique(values)) <= MAX_AUTO_CLASSES:
        return "classification"
    return "regression"


def _labels(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Map label values (numbers or strings) to 0..k-1 in sorted order."""
    classes, y = np.unique(raw, return_inverse=True)
    names = [
        str(int(c)) if isinstance(c, float | np.floating) and float(c).is_integer() else str(c)
        for c in classes.tolist()
    ]
    return y.astype(np.int64).reshape(-1), names


def load_csv(
    source: Source,
    target: str | int | None = None,
    *,
    task: str | None = None,
    name: str | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    normalize: bool = True,
    max_bytes: int | None = None,
    max_rows: int | None = None,
) -> Dataset:
    """Read a CSV (bytes, a path or a binary file object) into a `Dataset`.

    The first line is a header when any of its cells is not a number (otherwise columns are
    named c0, c1, ...). `target` is the target column's name or 0-based index (default: the
    last column); every other column is a numeric feature. The task is `task` if given,
    else classification when the target holds text or at most 20 distinct integers, else
    regression. Text labels are mapped to 0..k-1 in sorted order (`class_names`).
    """
    text_bytes = _read_bytes(source, max_bytes)
    try:
        text = text_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError("bad_file", f"the CSV is not UTF-8 text (byte {e.start})") from None
    if "\x00" in text:
        raise DataError("bad_file", "the CSV contains NUL bytes: is it a binary file?")
    name = name or _default_name(source, "upload")
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue  # blank lines are skipped
            rows.append((reader.line_num, [c.strip() for c in cells]))
            if max_rows is not None and len(rows) > max_rows + 1:
                raise DataError("too_large", f"more than {max_rows} data rows")
    except csv.Error as e:
        raise DataError("bad_file", f"line {reader.line_num}: {e}", row=reader.line_num) from None
    if not rows:
        raise DataError("empty", "the CSV has no rows")
    first_line, first = rows[0]
    has_header = any(_parse_float(c) is None for c in first)
    if has_header:
        header, data = first, rows[1:]
        if len(set(header)) != len(header):
            dup = next(h for h in header if header.count(h) > 1)
            raise DataError(
                "bad_file",
                f"line {first_line}: the header names column '{dup}' twice",
                first_line,
                dup,
            )
    else:
        header, data = [f"c{i}" for i in range(len(first))], rows
    ncols = len(header)
    if ncols < 2:
        raise DataError("missing_target", "the CSV needs at least one feature and a target column")
    if not data:
        raise DataError("empty", "the CSV has a header but no data rows")
    if target is None:
        t = ncols - 1
    elif isinstance(target, int) and not isinstance(target, bool):
        if not -ncols <= target < ncols:
            raise DataError(
                "missing_target", f"target column index {target} is out of range (0..{ncols - 1})"
            )
        t = target % ncols
    elif target in header:
        t = header.index(target)
    else:
        raise DataError(
            "missing_target",
            f"no target column '{target}': the columns are {', '.join(header)}",
            column=str(target),
        )
    tname = header[t]
    feat_idx = [i for i in range(ncols) if i != t]
    x = np.empty((len(data), ncols - 1), dtype=np.float64)
    raw_target: list[str] = []
    for r, (line, cells) in enumerate(data):
        if len(cells) != ncols:
            raise DataError(
                "ragged_row",
                f"line {line} has {len(cells)} cells but the "
                f"{'header' if has_header else 'first row'} has {ncols}",
                row=line,
            )
        for j, i in enumerate(feat_idx):
            cell = cells[i]
            if cell == "":
                raise DataError(
                    "missing_value",
                    f"line {line}, column '{header[i]}': the cell is empty",
                    line,
                    header[i],
                )
            v = _parse_float(cell)
            if v is None:
                raise DataError(
                    "not_numeric",
                    f"line {line}, column '{header[i]}': {cell!r} is not a number",
                    line,
                    header[i],
                )
            if not math.isfinite(v):
                raise DataError(
                    "not_finite",
                    f"line {line}, column '{header[i]}': {cell} is not finite",
                    line,
                    header[i],
                )
            x[r, j] = v
        cell = cells[t]
        if cell == "":
            raise DataError(
                "missing_value",
                f"line {line}, target column '{tname}': the cell is empty",
                line,
                tname,
            )
        raw_target.append(cell)
    numeric = [_parse_float(c) for c in raw_target]
    values = None if any(v is None for v in numeric) else np.array(numeric, dtype=np.float64)
    task = _decide_task(task, values, tname)
    if values is not None:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            line = data[bad[0]][0]
            raise DataError(
                "not_finite",
                f"line {line}, target column '{tname}': {raw_target[bad[0]]} is not finite",
                line,
                tname,
            )
    n_classes = class_names = target_names = None
    if task == "classification":
        y, class_names = _labels(values if values is not None else np.array(raw_target))
        n_classes = len(class_names)
        if n_classes < 2:
            raise DataError(
                "bad_param",
                f"target column '{tname}' has a single class: nothing to learn",
                column=tname,
            )
    else:
        if values is None:
            r = next(i for i, v in enumerate(numeric) if v is None)
            line = data[r][0]
            raise DataError(
                "not_numeric",
                f"line {line}, target column '{tname}': {raw_target[r]!r} is not a number "
                "(a regression target must be numeric)",
                line,
                tname,
            )
        y = values[:, None]
        target_names = [tname]
    return split_and_normalize(
        name,
        x,
        y,
        task=task,
        seed=seed,
        test_fraction=test_fraction,
        normalize=normalize,
        feature_names=[header[i] for i in feat_idx],
        n_classes=n_classes,
        class_names=class_names,
        target_names=target_names,
        info={"source": "csv", "target": tname},
    )


_X_KEYS = ("x", "X", "features", "inputs")
_Y_KEYS = ("y", "Y", "labels", "targets", "target")


#: an .npz whose arrays would take more than this once inflated is refused before loading
MAX_NPZ_INFLATED_BYTES = 512 * 1024 * 1024


def _check_inflated_sizes(data: bytes, limit: int) -> None:
    """Refuse a zip bomb before inflating it: the members' declared sizes (zipfile never reads
    past them) and each array's declared shape (numpy allocates it before reading) must fit
    ``limit`` together, and an array may not claim more bytes than its member holds."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a zip: np.load says what it is
    with archive:
        infos = [i for i in archive.infolist() if i.filename.endswith(".npy")]
        total = sum(i.file_size for i in infos)
        if total > limit:
            raise DataError(
                "too_large",
                f"the .npz would inflate to {total:,} bytes; the limit is {limit:,} bytes",
            )
        for info in infos:
            declared = _npy_declared_bytes(archive, info)
            if declared > info.file_size:
                raise DataError(
                    "bad_file",
                    f"array {info.filename!r} declares {declared:,} bytes but holds "
                    f"{info.file_size:,}",
                )


def _npy_declared_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes of data an .npy member's header announces (0 if it has no readable header:
    np.load reports that)."""
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError):
        return 0
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def load_npz(
    source: Source,
    *,
    x_key: str | None = None,
    y_key: str | None = None,
    task: str | None = None,
    name: str | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    normalize: bool = True,
    max_bytes: int | None = None,
) -> Dataset:
    """Read an `.npz` with a features array (`x`/`X`) of shape (n, ...) and targets
    (`y`/`Y`) of shape (n,) or (n, k). Pickled (object) arrays are refused. A feature array
    with more than two axes is flattened and its per-sample shape kept as `input_shape`.
    String or integer targets (≤ 20 distinct values) are class labels unless `task` says
    otherwise."""
    data = _read_bytes(source, max_bytes)
    name = name or _default_name(source, "upload")
    _check_inflated_sizes(data, MAX_NPZ_INFLATED_BYTES)
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError("bad_file", f"not a readable .npz file: {e}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError("bad_file", "expected an .npz archive (np.savez), got a single .npy array")
    with npz:
        keys = list(npz.files)

        def pick(
            explicit: str | None, options: tuple[str, ...], what: str, code: str
        ) -> np.ndarray:
            key = (
                explicit if explicit is not None else next((k for k in options if k in keys), None)
            )
            if key is None or key not in keys:
                wanted = f"'{explicit}'" if explicit else " or ".join(f"'{k}'" for k in options[:2])
                raise DataError(
                    code,
                    f"the .npz has no {what} array {wanted} "
                    f"(it has: {', '.join(keys) or 'nothing'})",
                )
            try:
                return npz[key]
            except ValueError as e:
                raise DataError(
                    "bad_file", f"array '{key}' cannot be read without pickle: {e}"
                ) from None

        x = pick(x_key, _X_KEYS, "features", "bad_file")
        y = pick(y_key, _Y_KEYS, "target", "missing_target")
    if x.dtype.kind not in "biuf":
        raise DataError(
            "not_numeric", f"the features array has dtype {x.dtype}; numbers are needed"
        )
    if x.ndim == 0 or x.shape[0] == 0:
        raise DataError("empty", "the features array is empty")
    input_shape = tuple(int(s) for s in x.shape[1:]) or (1,)
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise DataError(
            "shape_mismatch",
            f"features have {x.shape[0]} samples but the target has {y.shape[0] if y.ndim else 0}",
        )
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        r, c = (int(v) for v in bad[0])
        raise DataError("not_finite", f"sample {r}, feature {c}: {x[r, c]} is not finite", r, c)
    if y.dtype.kind in "US":
        task = _decide_task(task, None, "y")
        if task == "regression":
            raise DataError(
                "not_numeric", "the target array holds text; a regression needs numbers"
            )
        values = None
    elif y.dtype.kind in "biuf":
        values = y.astype(np.float64)
        bad = np.argwhere(~np.isfinite(values.reshape(values.shape[0], -1)))
        if bad.size:
            r, c = (int(v) for v in bad[0])
            raise DataError("not_finite", f"target of sample {r} is not finite", r, c)
        if task is None:
            task = _decide_task(None, values, "y") if values.ndim == 1 else "regression"
        else:
            task = _decide_task(task, values, "y")
    else:
        raise DataError("not_numeric", f"the target array has dtype {y.dtype}")
    n_classes = class_names = target_names = None
    if task == "classification":
        raw = values if values is not None else y
        if raw.ndim != 1:
            raise DataError("shape_mismatch", f"class labels must have shape (n,), got {raw.shape}")
        yy, class_names = _labels(raw)
        n_classes = len(class_names)
    else:
        yy = values.reshape(values.shape[0], -1)
        target_names = [f"y{i}" for i in range(yy.shape[1])] if yy.shape[1] > 1 else ["y"]
    return split_and_normalize(
        name,
        x,
        yy,
        task=task,
        seed=seed,
        test_fraction=test_fraction,
        normalize=normalize,
        n_classes=n_classes,
        class_names=class_names,
        target_names=target_names,
        input_shape=input_shape,
        info={"source": "npz"},
    )


# ---- the real datasets shipped with the package -------------------------------------------


def _package_file(name: str) -> bytes:
    return (resources.files("blockprop.engine.data") / "files" / name).read_bytes()


@cache
def iris_arrays() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(x (150, 4), labels (150,), feature names, class names) from files/iris.csv."""
    text = _package_file("iris.csv").decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], [r for r in rows[1:] if r]
    x = np.array([[float(v) for v in r[:-1]] for r in body])
    y, names = _labels(np.array([r[-1] for r in body]))
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y, header[:-1], names


@cache
def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(x (1797, 64) grey levels 0..16, labels (1797,)) from files/digits8x8.csv.gz."""
    raw = gzip.decompress(_package_file("digits8x8.csv.gz"))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1, dtype=np.float64)
    x, y = table[:, :-1], table[:, -1].astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def subsample(n_total: int, n: int | None, rng: np.random.Generator) -> Any:
    return (
        slice(None) if n is None or n >= n_total else np.sort(rng.choice(n_total, n, replace=False))
    )
