"""Datasets for training: seeded toy generators, two small real datasets shipped with the
package (Iris, 8×8 digits), and validated CSV / .npz loaders for user data.

    >>> from blockprop.engine.data import load_dataset
    >>> ds = load_dataset("spiral", n=400, noise=0.05, seed=1)
    >>> ds.x_train.shape, ds.y_train[:5], ds.normalizer.to_dict()["active"]

Every dataset is split with a seed (`test_fraction` held out) and, unless
`normalize=False`, its inputs are shifted and scaled to zero mean and unit variance using
the statistics of the training split only; the same transform is applied to the test split
and recorded in `Dataset.normalizer` so new inputs can be treated alike. Targets are never
normalised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blockprop.engine.data import synthetic
from blockprop.engine.data.dataset import (
    ERROR_CODES,
    DataError,
    Dataset,
    Normalizer,
    split_and_normalize,
)
from blockprop.engine.data.files import digits_arrays, iris_arrays, load_csv, load_npz, subsample

__all__ = [
    "ERROR_CODES",
    "DataError",
    "Dataset",
    "Normalizer",
    "list_datasets",
    "load_csv",
    "load_dataset",
    "load_npz",
    "split_and_normalize",
]

MAX_SAMPLES = 100_000


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "int" | "float"
    default: Any
    min: float
    max: float
    doc: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "doc": self.doc,
        }


@dataclass(frozen=True)
class Builtin:
    name: str
    title: str
    task: str
    features: int
    classes: int | None
    description: str
    params: tuple[Param, ...]
    make: Callable[..., tuple[np.ndarray, np.ndarray, dict[str, Any]]]
    source: str | None = None
    input_shape: tuple[int, ...] = ()
    feature_names: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _n(default: int, max_: int = MAX_SAMPLES) -> Param:
    return Param("n", "int", default, 2, max_, "number of samples (train + test)")


def _noise(default: float, doc: str = "standard deviation of the Gaussian noise") -> Param:
    return Param("noise", "float", default, 0.0, 10.0, doc)


def _real(
    loader: Callable[[], tuple], n: int | None, noise: float | None, rng: np.random.Generator
):
    arrays = loader()
    x, y = arrays[0], arrays[1]
    idx = subsample(x.shape[0], n, rng)
    return np.array(x[idx]), np.array(y[idx]), {}


_BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        Builtin(
            "circle",
            "Circle",
            "classification",
            2,
            2,
            "A disc of class 0 (radius ≤ 0.5) inside a ring of class 1 (0.7 ≤ r ≤ 1): "
            "not linearly separable, one hidden layer suffices.",
            (_n(200), _noise(0.1)),
            synthetic.circle,
        ),
        Builtin(
            "xor",
            "XOR",
            "classification",
            2,
            2,
            "Clusters around the corners (±1, ±1) labelled by XOR of the signs: the classic "
            "problem a single linear unit cannot solve. noise=0 gives the four corners.",
            (_n(200), _noise(0.2)),
            synthetic.xor,
        ),
        Builtin(
            "blobs",
            "Gaussian blobs",
            "classification",
            2,
            3,
            "Isotropic Gaussian clusters centred on a circle of radius 2; linearly separable.",
            (_n(300), _noise(0.5), Param("classes", "int", 3, 2, 10, "number of blobs")),
            synthetic.blobs,
        ),
        Builtin(
            "spiral",
            "Two spirals",
            "classification",
            2,
            2,
            "Two interleaved spirals (class 1 is class 0 rotated by π); needs a non-linear "
            "boundary that winds around the origin.",
            (
                _n(400),
                _noise(0.05),
                Param("turns", "float", 1.25, 0.25, 4.0, "turns of each spiral"),
            ),
            synthetic.spiral,
        ),
        Builtin(
            "moons",
            "Two moons",
            "classification",
            2,
            2,
            "Two interleaving half circles (as scikit-learn's make_moons).",
            (_n(200), _noise(0.1)),
            synthetic.moons,
        ),
        Builtin(
            "linear",
            "Linear (1-D regression)",
            "regression",
            1,
            None,
            "y = a·x + b + noise·ε with x uniform in [-1, 1]: the notes' first example. The "
            "true a and b are recorded in the dataset's info.",
            (
                _n(200),
                _noise(0.1),
                Param("a", "float", 2.0, -100.0, 100.0, "slope"),
                Param("b", "float", -0.5, -100.0, 100.0, "intercept"),
            ),
            synthetic.linear,
        ),
        Builtin(
            "sine",
            "Sine (1-D regression)",
            "regression",
            1,
            None,
            "y = sin(x) + noise·ε with x uniform in [-π, π]: needs a hidden layer.",
            (_n(200), _noise(0.1)),
            synthetic.sine,
        ),
        Builtin(
            "plane",
            "Plane (2-D regression)",
            "regression",
            2,
            None,
            "y = w0·x0 + w1·x1 + c + noise·ε with x uniform in [-1, 1]².",
            (
                _n(200),
                _noise(0.1),
                Param("w0", "float", 1.0, -100.0, 100.0, "weight of x0"),
                Param("w1", "float", -2.0, -100.0, 100.0, "weight of x1"),
                Param("c", "float", 0.5, -100.0, 100.0, "intercept"),
            ),
            synthetic.plane,
        ),
        Builtin(
            "order",
            "A before B (sequences)",
            "classification",
            synthetic.SEQ_LEN * synthetic.SEQ_VOCAB,
            2,
            f"Sequences of {synthetic.SEQ_LEN} one-hot tokens out of {synthetic.SEQ_VOCAB}, "
            "holding one token A and one token B among random fillers: class 1 when A comes "
            "before B. Order decides, not which tokens occur: a toy task for attention "
            "(use normalize: false to keep the one-hot codes).",
            (
                _n(1000, 20_000),
                Param("noise", "float", 0.0, 0.0, 0.5, "fraction of flipped labels"),
            ),
            synthetic.order,
            input_shape=(synthetic.SEQ_LEN, synthetic.SEQ_VOCAB),
        ),
        Builtin(
            "images",
            "Tiny images 3×10×20",
            "classification",
            600,
            10,
            "Synthetic 3×10×20 colour images in 10 classes (the input of the notes' network, "
            "flattened to 600 features): each class is a fixed smooth pattern, scaled by "
            "1 ± 0.2 and buried in per-pixel Gaussian noise.",
            (_n(600, 20_000), _noise(3.0, "per-pixel noise standard deviation")),
            synthetic.images,
            input_shape=synthetic.IMAGE_SHAPE,
        ),
        Builtin(
            "iris",
            "Iris",
            "classification",
            4,
            3,
            "Fisher's Iris flowers: 150 samples, 4 measurements in cm, 3 species.",
            (_n(150, 150),),
            lambda n, noise, rng: _real(iris_arrays, n, noise, rng),
            source="R. A. Fisher (1936), UCI Machine Learning Repository; shipped in the package",
            feature_names=[
                "sepal_length_cm",
                "sepal_width_cm",
                "petal_length_cm",
                "petal_width_cm",
            ],
            extra={"class_names": ["setosa", "versicolor", "virginica"]},
        ),
        Builtin(
            "digits",
            "Handwritten digits 8×8",
            "classification",
            64,
            10,
            "1,797 handwritten digits as 8×8 images of grey levels 0..16, 10 classes.",
            (_n(1797, 1797),),
            lambda n, noise, rng: _real(digits_arrays, n, noise, rng),
            source="UCI Optical Recognition of Handwritten Digits (test set, as in "
            "scikit-learn's load_digits); shipped in the package",
            input_shape=(8, 8),
            feature_names=[f"p{i}" for i in range(64)],
            extra={"class_names": [str(i) for i in range(10)]},
        ),
    ]
}


def list_datasets() -> list[dict[str, Any]]:
    """The built-in datasets: name, title, task, features, classes, params (defaults),
    param_spec (bounds and docs), description, input_shape and, for real data, source."""
    out = []
    for b in _BUILTINS.values():
        d: dict[str, Any] = {
            "name": b.name,
            "title": b.title,
            "task": b.task,
            "features": b.features,
            "classes": b.classes,
            "params": {p.name: p.default for p in b.params},
            "param_spec": [p.to_dict() for p in b.params],
            "description": b.description,
            "input_shape": list(b.input_shape or (b.features,)),
        }
        if b.source:
            d["source"] = b.source
        out.append(d)
    return out


def _check(p: Param, value: Any, dataset: str) -> Any:
    kind = int if p.type == "int" else float
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError("bad_param", f"{dataset}: {p.name} must be a number, got {value!r}")
    if kind is int and isinstance(value, float) and not value.is_integer():  # big ints too
        raise DataError("bad_param", f"{dataset}: {p.name} must be an integer, got {value!r}")
    if not (p.min <= value <= p.max):
        raise DataError(
            "bad_param", f"{dataset}: {p.name} must be in [{p.min}, {p.max}], got {value!r}"
        )
    return kind(value)


def load_dataset(
    name: str,
    *,
    n: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    normalize: bool = True,
    **params: Any,
) -> Dataset:
    """Make a built-in dataset, split it with `seed` and normalise it with train statistics.

    `n`, `noise` and the dataset's own parameters (see `list_datasets()[i]["params"]`, e.g.
    `classes` for blobs, `turns` for spiral, `a`/`b` for linear) default to the listed
    values; a parameter the dataset does not have is a `DataError("bad_param")`. For the real
    datasets (iris, digits) `n` draws a seeded subsample.
    """
    b = _BUILTINS.get(name)
    if b is None:
        raise DataError(
            "unknown_dataset", f"no dataset '{name}'; the datasets are {', '.join(_BUILTINS)}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError("bad_param", f"seed must be a non-negative integer, got {seed!r}")
    spec = {p.name: p for p in b.params}
    given = dict(params)
    if n is not None:
        given["n"] = n
    if noise is not None:
        given["noise"] = noise
    unknown = sorted(set(given) - set(spec))
    if unknown:
        accepted = ", ".join(spec) or "none"
        raise DataError(
            "bad_param",
            f"dataset '{name}' has no parameter {', '.join(map(repr, unknown))} "
            f"(its parameters: {accepted})",
        )
    values = {k: _check(spec[k], v, name) for k, v in given.items()}
    full = {p.name: values.get(p.name, p.default) for p in b.params}
    rng = np.random.default_rng([seed, 0xB10C])
    if b.source:  # real data: only n applies (a subsample)
        x, y, info = b.make(full.get("n"), None, rng)
    else:
        extra = {k: v for k, v in full.items() if k not in ("n", "noise")}
        x, y, info = b.make(full["n"], full["noise"], rng, **extra)
    n_classes = full.get("classes", b.classes)
    class_names = b.extra.get("class_names") or (
        [str(i) for i in range(n_classes)] if n_classes else None
    )
    info = {**full, **info}
    return split_and_normalize(
        b.name,
        x,
        y,
        task=b.task,
        seed=seed,
        test_fraction=test_fraction,
        normalize=normalize,
        feature_names=b.feature_names,
        n_classes=n_classes,
        class_names=class_names,
        target_names=["y"] if b.task == "regression" else None,
        input_shape=b.input_shape,
        title=b.title,
        info=info,
    )
