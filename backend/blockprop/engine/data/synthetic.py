"""Seeded toy datasets: each generator is `f(n, noise, rng, **params) -> (x, y, info)`.

Classification generators return integer labels, balanced (label = index mod classes);
regression generators return float targets and record the true coefficients in `info`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Rng = np.random.Generator


def _labels(n: int, k: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) % k


def circle(n: int, noise: float, rng: Rng) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Class 0 fills the disc r ≤ 0.5, class 1 the ring 0.7 ≤ r ≤ 1; Gaussian noise added."""
    y = _labels(n, 2)
    r = np.where(y == 0, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    t = rng.uniform(0.0, 2 * np.pi, n)
    x = np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + noise * rng.standard_normal((n, 2))
    return x, y, {}


def xor(n: int, noise: float, rng: Rng) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Points around the four corners (±1, ±1); label 1 when exactly one coordinate is
    positive (the XOR truth table). With noise 0 these are the four corners themselves."""
    corners = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    c = np.arange(n) % 4
    x = corners[c] + noise * rng.standard_normal((n, 2))
    y = np.array([0, 1, 1, 0], dtype=np.int64)[c]
    return x, y, {}


def blobs(
    n: int, noise: float, rng: Rng, classes: int = 3
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Isotropic Gaussian blobs (std = noise) centred on a circle of radius 2."""
    y = _labels(n, classes)
    ang = 2 * np.pi * np.arange(classes) / classes + np.pi / 2
    centers = 2.0 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    x = centers[y] + noise * rng.standard_normal((n, 2))
    return x, y, {"centers": centers.tolist()}


def spiral(
    n: int, noise: float, rng: Rng, turns: float = 1.25
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Two interleaved spirals: radius r ∈ [0.05, 1], angle 2π·turns·r, class 1 rotated by π."""
    y = _labels(n, 2)
    r = 0.05 + 0.95 * np.sqrt(rng.uniform(0.0, 1.0, n))
    t = 2 * np.pi * turns * r + np.pi * y
    x = np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + noise * rng.standard_normal((n, 2))
    return x, y, {}


def moons(n: int, noise: float, rng: Rng) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Two interleaving half circles (as scikit-learn's make_moons)."""
    y = _labels(n, 2)
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(
        (y == 0)[:, None],
        np.stack([np.cos(t), np.sin(t)], axis=1),
        np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1),
    )
    return x + noise * rng.standard_normal((n, 2)), y, {}


def linear(
    n: int, noise: float, rng: Rng, a: float = 2.0, b: float = -0.5
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """y = a·x + b + noise·ε, x uniform in [-1, 1], ε standard normal."""
    x = rng.uniform(-1.0, 1.0, (n, 1))
    y = a * x + b + noise * rng.standard_normal((n, 1))
    return x, y, {"a": a, "b": b}


def sine(n: int, noise: float, rng: Rng) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """y = sin(x) + noise·ε, x uniform in [-π, π]."""
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    y = np.sin(x) + noise * rng.standard_normal((n, 1))
    return x, y, {}


def plane(
    n: int, noise: float, rng: Rng, w0: float = 1.0, w1: float = -2.0, c: float = 0.5
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """y = w0·x0 + w1·x1 + c + noise·ε, x uniform in [-1, 1]²."""
    x = rng.uniform(-1.0, 1.0, (n, 2))
    y = x @ np.array([[w0], [w1]]) + c + noise * rng.standard_normal((n, 1))
    return x, y, {"w": [w0, w1], "c": c}


IMAGE_SHAPE = (3, 10, 20)


def _image_prototypes(classes: int) -> np.ndarray:
    """Fixed (seed-independent) smooth colour patterns, one per class: a few random plane
    waves per channel, scaled to unit RMS."""
    rng = np.random.default_rng(20240612)
    c, h, w = IMAGE_SHAPE
    yy, xx = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    protos = np.zeros((classes, c, h, w))
    for k in range(classes):
        for ch in range(c):
            for _ in range(3):
                fy, fx = rng.uniform(-3.0, 3.0, 2)
                phase = rng.uniform(0.0, 2 * np.pi)
                protos[k, ch] += rng.standard_normal() * np.cos(
                    2 * np.pi * (fy * yy + fx * xx) + phase
                )
        protos[k] /= np.sqrt((protos[k] ** 2).mean())
    return protos


def images(
    n: int, noise: float, rng: Rng, classes: int = 10
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Synthetic 3×10×20 colour images (the notes' network input), flattened to 600
    features: each class is a fixed smooth pattern, scaled by 1 ± 0.2 and buried in
    per-pixel Gaussian noise of std `noise`."""
    y = _labels(n, classes)
    protos = _image_prototypes(classes).reshape(classes, -1)
    scale = 1.0 + 0.2 * rng.standard_normal((n, 1))
    x = protos[y] * scale + noise * rng.standard_normal((n, protos.shape[1]))
    return x, y, {}


#: the "A before B" sequences: their length, vocabulary size and the two marked tokens
SEQ_LEN, SEQ_VOCAB, TOKEN_A, TOKEN_B = 8, 6, 0, 1


def order(n: int, noise: float, rng: Rng) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Sequences of SEQ_LEN one-hot tokens (features: SEQ_LEN × SEQ_VOCAB): one token A, one
    token B, the rest random fillers; label 1 when A comes before B. Only the order of two
    tokens decides, which a bag of tokens cannot see: a toy task for attention (with a
    causal mask). ``noise`` flips that fraction of the labels."""
    y = _labels(n, 2)
    tokens = rng.integers(2, SEQ_VOCAB, (n, SEQ_LEN))
    first = rng.integers(0, SEQ_LEN - 1, n)  # two distinct positions, first < second
    second = first + 1 + (rng.random(n) * (SEQ_LEN - 1 - first)).astype(np.int64)
    rows = np.arange(n)
    tokens[rows, first] = np.where(y == 1, TOKEN_A, TOKEN_B)
    tokens[rows, second] = np.where(y == 1, TOKEN_B, TOKEN_A)
    x = np.eye(SEQ_VOCAB)[tokens].reshape(n, SEQ_LEN * SEQ_VOCAB)
    if noise > 0:
        flip = rng.random(n) < noise
        y = np.where(flip, 1 - y, y)
    return x, y, {}
