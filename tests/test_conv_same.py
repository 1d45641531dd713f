"""``tconv.conv`` with ``padding="same"`` / ``"same_lower"`` at any stride, checked against
onnxruntime's ``Conv`` with ``auto_pad=SAME_UPPER`` / ``SAME_LOWER``, against the explicit
``(low, high)`` padding pairs they stand for, and against PyTorch's ``"same"`` at stride 1."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import onnx_model, onnx_run

import tconv
from tconv import grad
from tconv._checks import conv_string_padding


def _ort_conv(x: np.ndarray, w: np.ndarray, **attrs: object) -> np.ndarray:
    """One ONNX ``Conv`` node with ``attrs`` run by onnxruntime (float32)."""
    return onnx_run(x, w, "Conv", **attrs)


def _reference_conv(x: np.ndarray, w: np.ndarray, **attrs: object) -> np.ndarray:
    """One ONNX ``Conv`` node run by ONNX's reference evaluator (float64; unlike
    onnxruntime it accepts dilations with auto_pad)."""
    model = onnx_model("Conv", x, w, double=True, **attrs)
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, {"X": x, "W": w})[0]


def _configs(n: int, seed: int) -> list[dict]:
    """A seeded population of 1-3-D convolutions: odd and even kernels, strides 1-4 (also
    larger than the kernel), dilations 1-3, groups, input sizes from 1."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        nd = int(rng.integers(1, 4))
        g = int(rng.choice([1, 1, 2]))
        out.append(dict(
            size=tuple(int(v) for v in rng.integers(1, 10 if nd < 3 else 6, nd)),
            kernel=tuple(int(v) for v in rng.integers(1, 5, nd)),
            stride=tuple(int(v) for v in rng.integers(1, 5, nd)),
            dilation=tuple(int(v) for v in rng.integers(1, 4, nd)),
            groups=g, c_in=g * int(rng.integers(1, 3)), c_out=g * int(rng.integers(1, 3)),
            batch=int(rng.integers(1, 3)), seed=int(rng.integers(2**31))))
    return out


CONFIGS = _configs(80, 23)



def _arrays(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["batch"], cfg["c_in"], *cfg["size"]))
    w = rng.standard_normal((cfg["c_out"], cfg["c_in"] // cfg["groups"], *cfg["kernel"]))
    return x, w


@pytest.mark.parametrize("mode,auto_pad", [("same", "SAME_UPPER"), ("same_lower", "SAME_LOWER")])
def test_matches_onnxruntime(mode: str, auto_pad: str) -> None:
    """Every configuration of the population equals onnxruntime's auto_pad, in values and
    shape (``ceil(size / stride)``), and equals the explicit padding pairs it resolves to."""
    for cfg in CONFIGS:
        x, w = _arrays(cfg)
        kw = dict(stride=cfg["stride"], dilation=cfg["dilation"], groups=cfg["groups"])
        y = tconv.conv(x, w, padding=mode, **kw)
        want = tuple(-(-i // s) for i, s in zip(cfg["size"], cfg["stride"]))
        assert y.shape == (cfg["batch"], cfg["c_out"], *want), cfg
        attrs = dict(auto_pad=auto_pad, strides=list(cfg["stride"]), group=cfg["groups"],
                     dilations=list(cfg["dilation"]))
        np.testing.assert_allclose(y, _reference_conv(x, w, **attrs), rtol=1e-12, atol=1e-12,
                                   err_msg=str(cfg))
        if set(cfg["dilation"]) == {1}:    # onnxruntime refuses dilations with auto_pad
            np.testing.assert_allclose(y, _ort_conv(x, w, **attrs), rtol=1e-4, atol=1e-4,
                                       err_msg=str(cfg))
        pairs = conv_string_padding(mode, cfg["size"], cfg["kernel"], cfg["stride"],
                                    cfg["dilation"])
        np.testing.assert_array_equal(y, tconv.conv(x, w, padding=pairs, **kw))


def test_same_matches_jax() -> None:
    """"same" is JAX's ``"SAME"`` (TensorFlow's rule) with strides and dilations."""
    pytest.importorskip("jax")
    from jax import lax

    for cfg in CONFIGS[:20]:
        x, w = _arrays(cfg)
        ref = lax.conv_general_dilated(x.astype(np.float32), w.astype(np.float32),
                                       cfg["stride"], "SAME", rhs_dilation=cfg["dilation"],
                                       feature_group_count=cfg["groups"])
        y = tconv.conv(x, w, stride=cfg["stride"], padding="same", dilation=cfg["dilation"],
                       groups=cfg["groups"])
        np.testing.assert_allclose(y, np.asarray(ref), rtol=1e-4, atol=1e-4, err_msg=str(cfg))


def test_pairs_by_hand() -> None:
    """The resolved pairs on hand-worked cases: the odd extra at the end for "same", at the
    start for "same_lower", none when the strided windows already cover the input."""
    # size 7, kernel 3, stride 2: out 4, total (4-1)*2 + 3 - 7 = 2
    assert conv_string_padding("same", (7,), (3,), (2,), (1,)) == ((1, 1),)
    # size 8, kernel 3, stride 2: out 4, total 6 + 3 - 8 = 1
    assert conv_string_padding("same", (8,), (3,), (2,), (1,)) == ((0, 1),)
    assert conv_string_padding("same_lower", (8,), (3,), (2,), (1,)) == ((1, 0),)
    # size 6, kernel 1, stride 4: out 2, total max(4 + 1 - 6, 0) = 0
    assert conv_string_padding("same", (6,), (1,), (4,), (1,)) == ((0, 0),)
    # dilation 2 kernel 3 (reach 5), size 5, stride 3: out 2, total 3 + 5 - 5 = 3
    assert conv_string_padding("same", (5,), (3,), (3,), (2,)) == ((1, 2),)
    assert conv_string_padding("same_lower", (5,), (3,), (3,), (2,)) == ((2, 1),)


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_stride_one_is_torch_same() -> None:
    """At stride 1 "same" is still exactly PyTorch's ``padding="same"``."""
    torch = pytest.importorskip("torch")
    fns = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
           3: torch.nn.functional.conv3d}
    for cfg in CONFIGS[:30]:
        x, w = _arrays(cfg)
        kw = dict(dilation=cfg["dilation"], groups=cfg["groups"])
        ref = fns[x.ndim - 2](torch.from_numpy(x), torch.from_numpy(w), padding="same", **kw)
        np.testing.assert_allclose(tconv.conv(x, w, padding="same", **kw), ref.numpy(),
                                   rtol=1e-12, atol=1e-12, err_msg=str(cfg))


@pytest.mark.parametrize("mode", ["same", "same_lower"])
def test_conv_backward_same(mode: str) -> None:
    """``conv_backward`` accepts the same strings and equals its explicit-pairs gradients,
    which keep the input's shape (the rows a strided conv skipped get 0)."""
    for cfg in CONFIGS[:30]:
        x, w = _arrays(cfg)
        kw = dict(stride=cfg["stride"], dilation=cfg["dilation"], groups=cfg["groups"])
        gy = np.random.default_rng(cfg["seed"] + 1).standard_normal(
            tconv.conv(x, w, padding=mode, **kw).shape)
        pairs = conv_string_padding(mode, cfg["size"], cfg["kernel"], cfg["stride"],
                                    cfg["dilation"])
        got = grad.conv_backward(gy, x, w, padding=mode, **kw)
        want = grad.conv_backward(gy, x, w, padding=pairs, **kw)
        assert got[0].shape == x.shape and got[1].shape == w.shape
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_unknown_string_refused() -> None:
    with pytest.raises(ValueError, match=r"conv: padding='full' .*allowed strings: 'valid', "
                                         r"'same', 'same_lower'"):
        tconv.conv(np.zeros((1, 1, 5)), np.zeros((1, 1, 3)), padding="full")
