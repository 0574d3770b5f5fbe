"""Datasets: built-in generators, shipped real data, the split and train-only normalisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blockprop.engine.data import DataError, Dataset, list_datasets, load_dataset

NAMES = [d["name"] for d in list_datasets()]


def test_catalogue_lists_every_dataset_the_issue_asks_for():
    assert {
        "circle",
        "xor",
        "blobs",
        "spiral",
        "moons",
        "linear",
        "sine",
        "plane",
        "iris",
        "digits",
    } <= set(NAMES)
    for d in list_datasets():
        assert set(d) >= {"name", "title", "task", "features", "classes", "params", "description"}
        assert d["task"] in ("classification", "regression")
        assert (d["classes"] is None) == (d["task"] == "regression")
        assert {p["name"] for p in d["param_spec"]} == set(d["params"])
    json.dumps(list_datasets())
    real = {d["name"]: d for d in list_datasets() if "source" in d}
    assert set(real) == {"iris", "digits"}


@pytest.mark.parametrize("name", NAMES)
def test_each_dataset_loads_with_the_listed_shape(name):
    meta = next(d for d in list_datasets() if d["name"] == name)
    ds = load_dataset(name)
    assert isinstance(ds, Dataset)
    n = meta["params"]["n"]
    assert ds.n_train + ds.n_test == n
    assert ds.n_test == round(0.2 * n)
    assert ds.x_train.shape == (ds.n_train, meta["features"])
    assert ds.x_test.shape == (ds.n_test, meta["features"])
    assert ds.x_train.dtype == np.float64
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_test).all()
    if meta["task"] == "classification":
        assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (ds.n_train,)
        assert ds.n_classes == meta["classes"]
        assert set(np.unique(ds.y_train)) <= set(range(ds.n_classes))
        assert len(ds.class_names) == ds.n_classes
    else:
        assert ds.y_train.dtype == np.float64 and ds.y_train.shape == (ds.n_train, 1)
        assert ds.n_classes is None
    assert int(np.prod(ds.input_shape)) == meta["features"]
    json.dumps(ds.sample(50))


def test_generators_are_seeded():
    a, b = load_dataset("spiral", seed=3), load_dataset("spiral", seed=3)
    c = load_dataset("spiral", seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_normalisation_uses_training_statistics_only():
    raw = load_dataset("moons", seed=1, normalize=False)
    ds = load_dataset("moons", seed=1)
    assert not raw.normalizer.active and ds.normalizer.active
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    np.testing.assert_allclose(ds.normalizer.mean, mean)
    np.testing.assert_allclose(ds.normalizer.std, std)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-12)
    # the test split gets the train transform, so its own mean is not exactly 0
    np.testing.assert_allclose(ds.x_test, (raw.x_test - mean) / std)
    assert np.abs(ds.x_test.mean(axis=0)).max() > 1e-6
    np.testing.assert_allclose(ds.normalizer.invert(ds.x_test), raw.x_test)
    d = ds.normalizer.to_dict()
    assert d["active"] is True and len(d["mean"]) == len(d["std"]) == 2
    json.dumps(d)


def test_constant_features_get_unit_std():
    ds = load_dataset("digits")  # the corner pixels are always 0
    assert (ds.normalizer.std > 0).all()
    assert np.isfinite(ds.x_train).all()
    assert (ds.normalizer.std == 1.0).any()


def test_split_sizes_and_an_empty_test_split():
    ds = load_dataset("circle", n=50, test_fraction=0.3)
    assert (ds.n_train, ds.n_test) == (35, 15)
    ds = load_dataset("circle", n=50, test_fraction=0.0)
    assert (ds.n_train, ds.n_test) == (50, 0)
    assert ds.x_test.shape == (0, 2)


def test_linear_records_its_coefficients():
    ds = load_dataset("linear", n=500, noise=0.0, a=3.0, b=1.5, normalize=False)
    assert ds.info["a"] == 3.0 and ds.info["b"] == 1.5
    np.testing.assert_allclose(ds.y_train[:, 0], 3.0 * ds.x_train[:, 0] + 1.5)
    assert load_dataset("plane").info["w"] == [1.0, -2.0]


def test_xor_without_noise_is_the_truth_table():
    ds = load_dataset("xor", n=8, noise=0.0, test_fraction=0.0, normalize=False)
    for x, y in zip(ds.x_train, ds.y_train, strict=True):
        assert abs(x).tolist() == [1.0, 1.0]
        assert y == int((x[0] > 0) != (x[1] > 0))


def test_blobs_classes_parameter():
    ds = load_dataset("blobs", classes=5, n=100)
    assert ds.n_classes == 5 and set(np.unique(ds.y_train)) == set(range(5))


def test_real_datasets_are_shipped_and_complete():
    iris = load_dataset("iris", test_fraction=0.0, normalize=False)
    assert iris.x_train.shape == (150, 4) and iris.n_classes == 3
    assert np.bincount(iris.y_train).tolist() == [50, 50, 50]
    assert iris.class_names == ["setosa", "versicolor", "virginica"]
    assert iris.feature_names[0] == "sepal_length_cm"
    digits = load_dataset("digits", test_fraction=0.0, normalize=False)
    assert digits.x_train.shape == (1797, 64) and digits.n_classes == 10
    assert digits.x_train.min() == 0 and digits.x_train.max() == 16
    assert digits.input_shape == (8, 8)
    small = load_dataset("iris", n=30)
    assert small.n_train + small.n_test == 30


def test_images_have_the_notes_network_shape():
    ds = load_dataset("images", n=100)
    assert ds.input_shape == (3, 10, 20) and ds.n_features == 600 and ds.n_classes == 10


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"name": "nope"}, "unknown_dataset", "no dataset 'nope'"),
        ({"name": "spiral", "n": 1}, "bad_param", "n must be in"),
        ({"name": "spiral", "n": 2.5}, "bad_param", "integer"),
        ({"name": "spiral", "noise": -1.0}, "bad_param", "noise"),
        ({"name": "spiral", "test_fraction": 1.0}, "bad_param", "test_fraction"),
        ({"name": "spiral", "classes": 3}, "bad_param", "no parameter 'classes'"),
        ({"name": "iris", "noise": 0.1}, "bad_param", "no parameter 'noise'"),
        ({"name": "iris", "n": 151}, "bad_param", "n must be in"),
        ({"name": "spiral", "seed": -1}, "bad_param", "seed"),
    ],
)
def test_bad_requests_raise_data_errors(kwargs, code, words):
    with pytest.raises(DataError) as e:
        load_dataset(**kwargs)
    assert e.value.code == code
    assert words in str(e.value)


def test_sample_is_a_small_json_preview():
    ds = load_dataset("spiral", n=400)
    s = ds.sample(40)
    json.dumps(s)
    assert len(s["x"]) == len(s["y"]) == len(s["split"]) == 40
    assert s["split"].count("test") == 8
    assert s["task"] == "classification" and s["classes"] == 2
    r = load_dataset("linear").sample(10)
    assert all(isinstance(v, float) for v in r["y"])
