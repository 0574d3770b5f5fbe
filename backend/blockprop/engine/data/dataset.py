"""The `Dataset` a trainer consumes: a seeded train/test split, normalised with train statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Stable error codes (callers and the API match on these words, not on messages).
ERROR_CODES = (
    "unknown_dataset",  # load_dataset(name) with a name list_datasets() does not have
    "bad_param",  # n, noise, test_fraction ... out of range or not applicable
    "bad_file",  # unreadable file: not UTF-8 text / not an .npz / pickled arrays
    "empty",  # no data rows (or fewer than two samples)
    "too_large",  # above the byte or row cap the caller asked for
    "ragged_row",  # a CSV row with a different number of cells than the header
    "not_numeric",  # a feature cell that is not a number
    "missing_value",  # an empty feature or target cell
    "not_finite",  # NaN or ±inf in a feature or target
    "missing_target",  # the target column (or the npz `y` array) is absent
    "shape_mismatch",  # npz x and y disagree on the number of samples, or x is not 2-D
)


class DataError(ValueError):
    """Bad dataset request or bad user data.

    `code` is one of `ERROR_CODES`; `row` is the 1-based line number in a CSV file (the
    header is line 1) or the 0-based sample index in an npz array; `column` is the column's
    name (CSV) or its 0-based index (npz).
    """

    def __init__(
        self, code: str, message: str, row: int | None = None, column: str | int | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row
        self.column = column

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "row": self.row, "column": self.column}


@dataclass
class Normalizer:
    """x ↦ (x − mean) / std, per feature, with statistics from the training split only.

    Constant features get std 1 (they become 0). `active=False` is the identity transform
    (mean 0, std 1), used when a dataset is loaded with `normalize=False`.
    """

    mean: np.ndarray
    std: np.ndarray
    active: bool = True

    @classmethod
    def fit(cls, x: np.ndarray) -> Normalizer:
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        return cls(mean, std, True)

    @classmethod
    def identity(cls, features: int) -> Normalizer:
        return cls(np.zeros(features), np.ones(features), False)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std if self.active else np.array(x, dtype=np.float64)

    def invert(self, x: np.ndarray) -> np.ndarray:
        return x * self.std + self.mean if self.active else np.array(x, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"active": self.active, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        return cls(
            np.asarray(d["mean"], dtype=np.float64),
            np.asarray(d["std"], dtype=np.float64),
            bool(d.get("active", True)),
        )


@dataclass
class Dataset:
    """A train/test split ready for training.

    - `x_train`, `x_test`: float64, shape (samples, features), already normalised.
    - `y_train`, `y_test`: int64 class labels, shape (samples,), for classification;
      float64, shape (samples, outputs), for regression (targets are never normalised).
    - `input_shape`: the per-sample shape of x before flattening (e.g. (3, 10, 20) for
      images); a graph's input node may use it or the flat (features,) shape.
    - `info`: how it was made (n, noise, seed, test_fraction and any generator parameters,
      e.g. the true `a` and `b` of `linear`).
    """

    name: str
    task: str  # "classification" | "regression"
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    normalizer: Normalizer
    n_classes: int | None = None
    class_names: list[str] | None = None
    target_names: list[str] | None = None
    input_shape: tuple[int, ...] = ()
    title: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.input_shape:
            self.input_shape = (self.n_features,)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Number of regression outputs (1 for classification labels)."""
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    def describe(self) -> dict[str, Any]:
        """JSON-able metadata (no arrays)."""
        return {
            "name": self.name,
            "title": self.title or self.name,
            "task": self.task,
            "features": self.n_features,
            "input_shape": list(self.input_shape),
            "classes": self.n_classes,
            "class_names": self.class_names,
            "outputs": self.n_outputs,
            "feature_names": self.feature_names,
            "target_names": self.target_names,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "normalizer": self.normalizer.to_dict(),
            "info": _jsonable(self.info),
        }

    def sample(self, k: int = 200) -> dict[str, Any]:
        """A JSON-able preview: `describe()` plus up to `k` rows spread evenly over the train
        and test splits (in proportion), in the normalised space the model sees.

        `x` holds rows of features, `y` the labels (int) or targets (float, or a list per
        row when there are several outputs), `split` "train" or "test" per row.
        """
        out = self.describe()
        k = max(0, int(k))
        total = self.n_train + self.n_test
        k_test = min(self.n_test, round(k * self.n_test / total)) if total else 0
        k_train = min(self.n_train, k - k_test)
        xs, ys, split = [], [], []
        for name, x, y, m in (
            ("train", self.x_train, self.y_train, k_train),
            ("test", self.x_test, self.y_test, k_test),
        ):
            if m <= 0:
                continue
            idx = np.unique(np.linspace(0, x.shape[0] - 1, m).round().astype(np.int64))
            xs.extend(np.round(x[idx], 6).tolist())
            yy = y[idx]
            if yy.ndim == 2 and yy.shape[1] == 1:
                yy = yy[:, 0]
            ys.extend(yy.round(6).tolist() if yy.dtype.kind == "f" else yy.tolist())
            split.extend([name] * len(idx))
        out.update({"x": xs, "y": ys, "split": split})
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def split_and_normalize(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    seed: int = 0,
    test_fraction: float = 0.2,
    normalize: bool = True,
    feature_names: list[str] | None = None,
    n_classes: int | None = None,
    class_names: list[str] | None = None,
    target_names: list[str] | None = None,
    input_shape: tuple[int, ...] = (),
    title: str = "",
    info: dict[str, Any] | None = None,
) -> Dataset:
    """Shuffle with `seed`, hold out round(n · test_fraction) samples (at least one train
    sample is kept), fit the normaliser on the train part only and apply it to both."""
    if not (isinstance(test_fraction, int | float) and 0.0 <= test_fraction < 1.0):
        raise DataError("bad_param", f"test_fraction must be in [0, 1), got {test_fraction!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    if n < 2:
        raise DataError("empty", f"dataset '{name}' has {n} sample(s); at least 2 are needed")
    if task == "classification":
        y = np.asarray(y, dtype=np.int64).reshape(n)
    else:
        y = np.asarray(y, dtype=np.float64).reshape(n, -1)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = min(n - 1, int(round(n * float(test_fraction))))
    test, train = perm[:n_test], perm[n_test:]
    x_train, x_test = x[train], x[test]
    norm = Normalizer.fit(x_train) if normalize else Normalizer.identity(x.shape[1])
    info = dict(info or {})
    info.update({"n": n, "seed": seed, "test_fraction": float(test_fraction)})
    return Dataset(
        name=name,
        task=task,
        x_train=norm.apply(x_train),
        y_train=y[train],
        x_test=norm.apply(x_test),
        y_test=y[test],
        feature_names=feature_names or [f"x{i}" for i in range(x.shape[1])],
        normalizer=norm,
        n_classes=n_classes,
        class_names=class_names,
        target_names=target_names,
        input_shape=tuple(input_shape),
        title=title,
        info=info,
    )
