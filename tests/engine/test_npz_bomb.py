"""An .npz that would inflate to far more than it weighs is refused before it is inflated
(issue 12: a 3 MB zip used 6.4 GB for two minutes, then printed a traceback)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from blockprop.engine.data import DataError, load_npz
from blockprop.engine.data.files import MAX_NPZ_INFLATED_BYTES


def _zeros_member(z: zipfile.ZipFile, name: str, n_bytes: int) -> None:
    """An .npy of `n_bytes` of zeros, written in chunks so the test itself stays small."""
    with z.open(name, "w", force_zip64=True) as f:
        header = {"descr": "<f8", "fortran_order": False, "shape": (n_bytes // 8,)}
        np.lib.format.write_array_header_1_0(f, header)
        chunk = bytes(8 << 20)
        for _ in range(n_bytes // len(chunk)):
            f.write(chunk)


def _bomb() -> bytes:
    """A real deflate bomb: about 1 MB that inflates past the limit."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        _zeros_member(z, "x.npy", MAX_NPZ_INFLATED_BYTES + (8 << 20))
        _zeros_member(z, "y.npy", 8 << 20)
    return buf.getvalue()


def _lying_header() -> bytes:
    """A tiny member whose .npy header claims 80 GB: numpy would allocate it before reading."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w") as f:
            header = {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
            np.lib.format.write_array_header_1_0(f, header)
            f.write(bytes(64))
        with z.open("y.npy", "w") as f:
            np.save(f, np.zeros(8))
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb()


def test_a_deflate_bomb_is_refused_by_its_declared_size(bomb):
    assert len(bomb) < MAX_NPZ_INFLATED_BYTES // 100
    with pytest.raises(DataError) as e:
        load_npz(bomb)
    assert e.value.code == "too_large" and "inflate" in e.value.message


def test_an_array_header_claiming_more_than_its_member_holds_is_refused():
    with pytest.raises(DataError) as e:
        load_npz(_lying_header())
    assert e.value.code == "bad_file" and "declares" in e.value.message


def test_an_honest_npz_still_loads():
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.arange(40.0).reshape(20, 2), y=np.arange(20) % 2)
    ds = load_npz(buf.getvalue())
    assert ds.n_features == 2


def test_the_cli_refuses_a_bomb_with_a_clear_error_and_exit_1(tmp_path, bomb):
    for name, data in (("bomb.npz", bomb), ("lie.npz", _lying_header())):
        path = tmp_path / name
        path.write_bytes(data)
        proc = subprocess.run(
            [sys.executable, "-m", "blockprop.cli", "train", "xor", "--data", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "too_large" in proc.stderr or "bad_file" in proc.stderr, proc.stderr
