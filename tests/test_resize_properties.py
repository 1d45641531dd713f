"""Properties every convention's resize keeps, over random configurations (hypothesis).

- a constant image stays constant (rows of ``R`` sum to 1; to float32 rounding for OpenCV's
  float32 coefficients and TF's float32 positions);
- ``resize`` is linear and separable: resizing an image equals applying
  :func:`resize_matrix` to its rows and then its columns (PIL's pass order aside, exact in
  float64);
- the output size follows each framework's rule for ``scale``.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tconv.resizing import METHODS, resize, resize_matrix

CHANNELS_LAST = ("tensorflow", "jax", "pil", "opencv")

configs = st.sampled_from([(c, m) for c in CHANNELS_LAST + ("onnx",) for m in METHODS[c]])
lengths = st.integers(1, 12)


def _options(convention: str, method: str, draw_bool: bool) -> dict:
    if convention in ("tensorflow", "jax") and method not in ("nearest", "area"):
        return {"antialias": draw_bool}
    if convention == "onnx" and method != "nearest":
        return {"antialias": draw_bool}
    return {}


@settings(max_examples=60, derandomize=True, deadline=None)
@given(configs, lengths, lengths, lengths, lengths, st.booleans(), st.floats(-3, 3))
def test_constant_and_separable(cfg, h, w, oh, ow, flag, value) -> None:
    convention, method = cfg
    opts = _options(convention, method, flag)
    img = np.random.default_rng(h * 100 + w).standard_normal((h, w))
    if convention == "onnx":
        run = lambda x: resize(x[None, None], (oh, ow), method=method,  # noqa: E731
                               convention="onnx", **opts)[0, 0]
    else:
        run = lambda x: resize(x, (oh, ow), method=method, convention=convention,  # noqa: E731
                               **opts)
    # OpenCV's coefficients and TF's positions are float32: their rows sum to 1 +- 1e-7
    tol = 1e-6 if convention in ("opencv", "tensorflow") else 1e-12
    np.testing.assert_allclose(run(np.full((h, w), value)), value, rtol=0,
                               atol=tol * max(1.0, abs(value)))
    R_rows = resize_matrix(h, oh, method, convention, **opts)
    R_cols = resize_matrix(w, ow, method, convention, **opts)
    np.testing.assert_allclose(run(img), R_rows @ img @ R_cols.T, rtol=0, atol=1e-12)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(configs, lengths, lengths, st.floats(0.2, 4.0))
def test_scale_sizes(cfg, h, w, s) -> None:
    convention, method = cfg
    n = (h, w)
    want = [math.floor(v * s) for v in n]
    if convention == "opencv":
        want = [int(np.rint(v * s)) for v in n]
    elif convention == "onnx":
        want = [int(v * float(np.float32(s))) for v in n]
    assume(min(want) >= 1)          # an empty output: not a valid draw
    x = np.ones((1, 1) + n) if convention == "onnx" else np.ones(n)
    y = resize(x, scale=(s, s), method=method, convention=convention)
    assert y.shape[-2:] == tuple(want)
