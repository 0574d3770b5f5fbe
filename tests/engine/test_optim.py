"""Optimisers on plain arrays: the documented updates, PyTorch parity, and conditioning."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.engine.optim import SGD, Adam, Momentum, make_optimizer


def _pair(values, dtype=np.float64):
    p = np.array(values, dtype=dtype)
    return p, np.zeros_like(p)


def test_sgd_update():
    p, g = _pair([1.0, -2.0])
    opt = SGD([p], [g])
    g[:] = [0.5, 1.0]
    opt.step(0.1)
    np.testing.assert_allclose(p, [0.95, -2.1])
    assert opt.t == 1


def test_momentum_and_nesterov_updates_by_hand():
    for nesterov in (False, True):
        p, g = _pair([1.0])
        opt = Momentum([p], [g], momentum=0.5, nesterov=nesterov)
        v = 0.0
        x = 1.0
        for grad in (1.0, 2.0, -1.0):
            g[:] = grad
            opt.step(0.1)
            v = 0.5 * v + grad
            x -= 0.1 * ((grad + 0.5 * v) if nesterov else v)
            assert p[0] == pytest.approx(x, rel=1e-15)


def test_adam_first_step_moves_by_lr():
    p, g = _pair([1.0, 1.0])
    opt = Adam([p], [g])
    g[:] = [1e-3, -50.0]
    opt.step(0.01)
    np.testing.assert_allclose(p, [0.99, 1.01], rtol=1e-6)


def test_updates_are_in_place_and_keep_float32():
    p, g = _pair(np.ones((3, 4)), dtype=np.float32)
    for name in ("sgd", "momentum", "adam"):
        opt = make_optimizer(name, [p], [g])
        g[:] = 0.5
        before = p.ctypes.data
        opt.step(0.1)
        assert p.dtype == np.float32 and p.ctypes.data == before


def test_state_dict_round_trip():
    p, g = _pair([1.0, 2.0])
    opt = Adam([p], [g])
    g[:] = [0.3, -0.2]
    opt.step(0.1)
    opt.step(0.1)
    state = {k: v.copy() for k, v in opt.state_dict().items()}
    assert set(state) == {"m/0", "v/0", "t"}
    p2, g2 = _pair(p.copy())
    opt2 = Adam([p2], [g2])
    opt2.load_state_dict(state)
    g[:] = g2[:] = [0.1, 0.1]
    opt.step(0.1)
    opt2.step(0.1)
    np.testing.assert_array_equal(p, p2)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("rmsprop", [], [])


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="gradient of shape"):
        SGD([np.zeros(2)], [np.zeros(3)])


def _quadratic_loss(name, lr, steps=100, **kw):
    """f(x) = ½ xᵀ diag(1, 100) x from (1, 1): condition number 100."""
    h = np.array([1.0, 100.0])
    p, g = _pair([1.0, 1.0])
    opt = make_optimizer(name, [p], [g], **kw)
    for _ in range(steps):
        np.multiply(h, p, out=g)
        opt.step(lr)
    return 0.5 * float(h @ (p * p))


def test_momentum_and_adam_beat_sgd_on_an_ill_conditioned_quadratic():
    # SGD's best rate here is bounded by the stiff direction (lr < 2/100)
    sgd = min(_quadratic_loss("sgd", lr) for lr in (0.005, 0.01, 0.015, 0.019))
    momentum = _quadratic_loss("momentum", 0.01, momentum=0.9)
    nesterov = _quadratic_loss("momentum", 0.01, momentum=0.9, nesterov=True)
    adam = _quadratic_loss("adam", 0.05)
    assert sgd > 1e-2
    assert momentum < sgd / 10
    assert nesterov < sgd / 10
    assert adam < sgd / 10


def test_parity_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(5) for _ in range(6)]
    cases = [
        ("sgd", {}, lambda ps: torch.optim.SGD(ps, lr=0.1)),
        ("momentum", {"momentum": 0.8}, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8)),
        (
            "momentum",
            {"momentum": 0.8, "nesterov": True},
            lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True),
        ),
        (
            "adam",
            {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
            lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.8, 0.99), eps=1e-6),
        ),
    ]
    for name, kw, make in cases:
        p, g = _pair(np.linspace(-1, 1, 5))
        tp = torch.tensor(p.copy(), requires_grad=True)
        topt = make([tp])
        opt = make_optimizer(name, [p], [g], **kw)
        for grad in grads:
            g[:] = grad
            opt.step(0.1)
            tp.grad = torch.tensor(grad)
            topt.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
