"""``tconv.conv_transpose`` with ``(low, high)`` padding pairs whose entries are negative:
zeros added before / after the output (JAX ``lax.conv_transpose`` paddings larger than
``dilation*(K-1)``). Checked against the zero-padded output of the non-negative crop, for
every algorithm, against :meth:`TransposedConvSpec.apply` and against JAX itself."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import grad
from tconv.conventions import TransposedConvSpec

ALGORITHMS = ["matrix", "scatter", "zero_insertion", "gemm", "phase", "direct"]


def _configs(n: int, seed: int) -> list[dict]:
    """A seeded population of 1-3-D transposed convolutions with crops in [-7, 2] (zeros
    beyond ``max(stride, dilation)`` at either end), output_padding, dilation and groups."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        nd = int(rng.integers(1, 4))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        cfg = dict(size=tuple(int(v) for v in rng.integers(1, 6, nd)),
                   kernel=tuple(int(v) for v in rng.integers(1, 5, nd)), stride=s, dilation=d,
                   output_padding=tuple(int(rng.integers(0, max(a, b))) for a, b in zip(s, d)),
                   pairs=tuple((int(rng.integers(-7, 3)), int(rng.integers(-7, 3)))
                               for _ in range(nd)),
                   groups=int(rng.choice([1, 2])), seed=int(rng.integers(2**31)))
        full = [(i - 1) * st + di * (k - 1) + o + 1 for i, st, di, k, o in
                zip(cfg["size"], s, d, cfg["kernel"], cfg["output_padding"])]
        if all(f - max(lo, 0) - max(hi, 0) >= 1 for f, (lo, hi) in zip(full, cfg["pairs"])):
            out.append(cfg)
    return out


CONFIGS = _configs(60, 23)


def _arrays(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg["seed"])
    g = cfg["groups"]
    return (rng.standard_normal((2, 2 * g, *cfg["size"])),
            rng.standard_normal((2 * g, 2, *cfg["kernel"])))


def _zero_padded(cfg: dict, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The non-negative part of the crop, then the negative part as explicit zeros."""
    pos = tuple((max(lo, 0), max(hi, 0)) for lo, hi in cfg["pairs"])
    y = tconv.conv_transpose(x, w, stride=cfg["stride"], padding=pos,
                             output_padding=cfg["output_padding"], groups=cfg["groups"],
                             dilation=cfg["dilation"])
    return np.pad(y, [(0, 0), (0, 0)] + [(max(-lo, 0), max(-hi, 0)) for lo, hi in cfg["pairs"]])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_equals_zero_padded_output(algorithm: str) -> None:
    if algorithm == "direct":
        pytest.importorskip("numba")
    for cfg in CONFIGS:
        x, w = _arrays(cfg)
        y = tconv.conv_transpose(x, w, stride=cfg["stride"], padding=cfg["pairs"],
                                 output_padding=cfg["output_padding"], groups=cfg["groups"],
                                 dilation=cfg["dilation"], algorithm=algorithm)
        ref = _zero_padded(cfg, x, w)
        assert y.shape == ref.shape, cfg
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12, err_msg=str(cfg))


def test_equals_spec_apply() -> None:
    """The spec with the same crop (``high`` less ``output_padding``) computes the same array,
    and its ``to_tconv`` arguments reproduce it."""
    for cfg in CONFIGS:
        x, w = _arrays(cfg)
        if cfg["groups"] != 1:
            continue
        crop = tuple((lo, hi - o) for (lo, hi), o in zip(cfg["pairs"], cfg["output_padding"]))
        spec = TransposedConvSpec(cfg["kernel"], cfg["stride"], cfg["dilation"], crop)
        y = tconv.conv_transpose(x, w, stride=cfg["stride"], padding=cfg["pairs"],
                                 output_padding=cfg["output_padding"], dilation=cfg["dilation"])
        np.testing.assert_allclose(y, spec.apply(x, w), rtol=1e-12, atol=1e-12, err_msg=str(cfg))
        np.testing.assert_allclose(tconv.conv_transpose(x, w, **spec.to_tconv()), y,
                                   rtol=1e-12, atol=1e-12, err_msg=str(cfg))
        assert TransposedConvSpec.from_tconv(cfg["kernel"], cfg["stride"], cfg["pairs"],
                                             cfg["output_padding"], cfg["dilation"]) == spec


def test_matches_jax_paddings() -> None:
    """JAX paddings that put zeros before the output or append >= max(stride, dilation)
    zeros, read by ``TransposedConvSpec.from_jax`` and run by ``lax.conv_transpose``."""
    pytest.importorskip("jax")
    from jax import lax

    rng = np.random.default_rng(5)
    for k, s, d, lo, hi in [(3, 2, 1, 4, 1), (2, 3, 1, 1, 6), (3, 2, 2, 7, 9), (1, 3, 1, 2, 5),
                            (4, 1, 1, 5, 3)]:
        x, w = rng.standard_normal((1, 1, 5)), rng.standard_normal((1, 1, k))
        spec = TransposedConvSpec.from_jax(k, s, [(lo, hi)], d, ndim=1)
        assert min(min(c) for c in spec.crop) < 0 or -spec.crop[0][1] >= max(s, d)
        ref = lax.conv_transpose(x.astype(np.float32), w.astype(np.float32), (s,), [(lo, hi)],
                                 rhs_dilation=(d,), dimension_numbers=("NCH", "IOH", "NCH"),
                                 transpose_kernel=True)
        y = tconv.conv_transpose(x, w, **spec.to_tconv())
        np.testing.assert_allclose(y, np.asarray(ref), rtol=1e-5, atol=1e-5,
                                   err_msg=str((k, s, d, lo, hi)))


def test_backward() -> None:
    """The input and weight gradients with negative pairs are those of the non-negative
    crop fed the part of grad_out that is not added zeros; the bias reaches every output
    position (the added zeros too), so its gradient sums all of grad_out."""
    for cfg in CONFIGS[:25]:
        x, w = _arrays(cfg)
        kw = dict(stride=cfg["stride"], output_padding=cfg["output_padding"],
                  groups=cfg["groups"], dilation=cfg["dilation"])
        gy = np.random.default_rng(cfg["seed"] + 1).standard_normal(_zero_padded(cfg, x, w).shape)
        inner = gy[(..., *(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n
                           in zip(cfg["pairs"], gy.shape[2:])))]
        pos = tuple((max(lo, 0), max(hi, 0)) for lo, hi in cfg["pairs"])
        got = grad.conv_transpose_backward(gy, x, w, padding=cfg["pairs"], **kw)
        want = grad.conv_transpose_backward(inner, x, w, padding=pos, **kw)
        for a, b in zip(got[:2], want[:2]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=str(cfg))
        np.testing.assert_allclose(got[2], gy.sum(axis=(0, *range(2, gy.ndim))), rtol=1e-12)


def test_validation() -> None:
    """Negative values stay refused as ints and symmetric tuples (PyTorch's padding), and a
    negative crop that would need more than MAX_ELEMENTS numbers is refused before
    allocating."""
    x, w = np.ones((1, 1, 4)), np.ones((1, 1, 3))
    with pytest.raises(ValueError, match=r"conv_transpose: padding=-1 must be non-negative"):
        tconv.conv_transpose(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"conv_transpose: padding=\(-1,\) must be non-negative"):
        tconv.conv_transpose(x, w, padding=(-1,))
    with pytest.raises(ValueError, match=r"conv_transpose: .*MAX_ELEMENTS|conv_transpose: .*"
                                         r"output"):
        tconv.conv_transpose(x, w, padding=((-10**15, 0),))
    with pytest.raises(ValueError, match=r"conv: padding=\(\(-1, 0\),\) must be non-negative"):
        tconv.conv(x, w, padding=((-1, 0),))
    b = np.array([0.5])
    y = tconv.conv_transpose(x, w, b, padding=((-2, -1),))
    np.testing.assert_array_equal(y[0, 0, [0, 1, -1]], 0.5)   # the bias reaches added zeros
    y = tconv.conv_transpose(x, w, stride=2, padding=((-2, -1),), output_size=(13,))
    assert y.shape == (1, 1, 13)       # (4-1)*2 + 3 + 2 + 1 = 12, output_padding 1
    np.testing.assert_array_equal(y[0, 0, :2], 0)
