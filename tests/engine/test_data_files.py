"""User data: CSV and .npz loaders, and every way a file can be bad."""

from __future__ import annotations

import io

import numpy as np
import pytest

from blockprop.engine.data import DataError, load_csv, load_npz

GOOD = b"""sepal,petal,kind
1.0,2.0,a
2.0,3.5,b
3.0,1.0,a
4.0,0.5,b
5.0,2.5,a
"""


def test_csv_with_header_and_text_labels():
    ds = load_csv(GOOD, test_fraction=0.0, normalize=False, name="flowers")
    assert ds.name == "flowers" and ds.task == "classification"
    assert ds.feature_names == ["sepal", "petal"]
    assert ds.class_names == ["a", "b"] and ds.n_classes == 2
    assert ds.x_train.shape == (5, 2)
    rows = {tuple(x): int(y) for x, y in zip(ds.x_train, ds.y_train, strict=True)}
    assert rows[(2.0, 3.5)] == 1 and rows[(1.0, 2.0)] == 0
    assert ds.info["target"] == "kind"


def test_csv_target_by_name_and_regression():
    data = b"a,b,y\n1,2,0.5\n2,3,1.5\n3,4,2.25\n4,5,3.0\n"
    ds = load_csv(data, target="a", test_fraction=0.0, normalize=False)
    assert ds.task == "classification"  # few distinct integers -> labels
    assert ds.feature_names == ["b", "y"]
    ds = load_csv(data, target="y", test_fraction=0.0)
    assert ds.task == "regression" and ds.y_train.shape == (4, 1) and ds.target_names == ["y"]
    ds = load_csv(data, target="a", task="regression", test_fraction=0.0)
    assert ds.task == "regression"


def test_csv_without_header_uses_the_last_column():
    ds = load_csv(b"1,2,0\n3,4,1\n5,6,0\n7,8,1\n", test_fraction=0.0)
    assert ds.feature_names == ["c0", "c1"] and ds.n_classes == 2
    ds = load_csv(b"1,2,0\n3,4,1\n5,6,0\n7,8,1\n", target=0, test_fraction=0.0)
    assert ds.feature_names == ["c1", "c2"]


def test_csv_from_a_path_and_a_file_object(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_bytes(GOOD)
    assert load_csv(p).name == "mine"
    assert load_csv(str(p)).n_train == 4
    assert load_csv(io.BytesIO(GOOD)).n_classes == 2


def test_csv_blank_lines_and_bom_are_fine():
    ds = load_csv(b"\xef\xbb\xbfx,y\n1,0\n\n2,1\n3,0\n\n", test_fraction=0.0)
    assert ds.feature_names == ["x"] and ds.n_train == 3


@pytest.mark.parametrize(
    ("data", "kwargs", "code", "row", "column", "words"),
    [
        (b"x,z,y\n1,2,0\n3,abc,1\n", {}, "not_numeric", 3, "z", "'abc' is not a number"),
        (b"x,z,y\n1,2,0\n3,4\n", {}, "ragged_row", 3, None, "2 cells"),
        (b"x,z,y\n1,2,0\n3,4,1,9\n", {}, "ragged_row", 3, None, "4 cells"),
        (b"x,z,y\n1,2,0\n", {"target": "label"}, "missing_target", None, "label", "no target"),
        (b"x,z,y\n1,2,0\n", {"target": 7}, "missing_target", None, None, "out of range"),
        (b"x,z,y\n1,nan,0\n3,4,1\n", {}, "not_finite", 2, "z", "not finite"),
        (b"x,z,y\n1,2,0\n3,inf,1\n", {}, "not_finite", 3, "z", "not finite"),
        (b"x,z,y\n1,2,0.5\n3,4,NaN\n", {}, "not_finite", 3, "y", "not finite"),
        (b"x,z,y\n1,,0\n", {}, "missing_value", 2, "z", "empty"),
        (b"x,z,y\n1,2,\n3,4,1\n", {}, "missing_value", 2, "y", "empty"),
        (b"x,y\n1,a\n2,b\n", {"task": "regression"}, "not_numeric", 2, "y", "regression"),
        (b"", {}, "empty", None, None, "no rows"),
        (b"x,y\n", {}, "empty", None, None, "no data rows"),
        (b"x\n1\n2\n", {}, "missing_target", None, None, "feature and a target"),
        (b"\xff\xfe\x00\x01", {}, "bad_file", None, None, "UTF-8"),
        (b"x,x,y\n1,2,0\n", {}, "bad_file", 1, "x", "twice"),
        (b"x,y\n1,0\n2,0\n", {}, "bad_param", None, "y", "single class"),
    ],
)
def test_every_bad_csv_names_the_row_and_column(data, kwargs, code, row, column, words):
    with pytest.raises(DataError) as e:
        load_csv(data, **kwargs)
    err = e.value
    assert err.code == code, err.message
    assert err.row == row and err.column == column
    assert words in err.message
    if row is not None:
        assert f"line {row}" in err.message
    if column is not None and code != "missing_target":
        assert f"'{column}'" in err.message
    assert err.to_dict()["code"] == code


def test_csv_size_caps():
    with pytest.raises(DataError) as e:
        load_csv(GOOD, max_bytes=10)
    assert e.value.code == "too_large"
    with pytest.raises(DataError) as e:
        load_csv(GOOD, max_rows=2)
    assert e.value.code == "too_large"


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError) as e:
        load_csv(tmp_path / "nope.csv")
    assert e.value.code == "bad_file"


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_npz_classification_regression_and_images():
    rng = np.random.default_rng(0)
    ds = load_npz(_npz(x=rng.normal(size=(20, 3)), y=np.arange(20) % 4), test_fraction=0.25)
    assert ds.task == "classification" and ds.n_classes == 4 and ds.n_train == 15
    ds = load_npz(_npz(X=rng.normal(size=(20, 2)), Y=rng.normal(size=(20, 2))))
    assert ds.task == "regression" and ds.y_train.shape == (16, 2)
    ds = load_npz(_npz(x=rng.normal(size=(10, 3, 4)), y=np.array(list("ababababab"))))
    assert ds.input_shape == (3, 4) and ds.n_features == 12 and ds.class_names == ["a", "b"]


@pytest.mark.parametrize(
    ("arrays", "code", "row", "column"),
    [
        ({"x": np.ones((4, 2))}, "missing_target", None, None),
        ({"y": np.ones(4)}, "bad_file", None, None),
        ({"x": np.ones((4, 2)), "y": np.ones(3)}, "shape_mismatch", None, None),
        ({"x": np.array([[1.0, 2.0], [3.0, np.nan]]), "y": np.ones(2)}, "not_finite", 1, 1),
        ({"x": np.ones((3, 2)), "y": np.array([0.5, np.inf, 1.0])}, "not_finite", 1, 0),
        ({"x": np.array([["a", "b"]]), "y": np.ones(1)}, "not_numeric", None, None),
        ({"x": np.array([[1, None]], dtype=object), "y": np.ones(1)}, "bad_file", None, None),
    ],
)
def test_bad_npz(arrays, code, row, column):
    with pytest.raises(DataError) as e:
        load_npz(_npz(**arrays))
    assert e.value.code == code, e.value.message
    assert (e.value.row, e.value.column) == (row, column)


def test_not_an_npz():
    with pytest.raises(DataError) as e:
        load_npz(b"hello")
    assert e.value.code == "bad_file"
