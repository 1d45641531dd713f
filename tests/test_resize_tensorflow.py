"""``resize(..., convention="tensorflow")`` against ``tf.image.resize`` (skipped without TF).

TensorFlow is not in the dev extra (it is large); with it installed this compares every
method with and without antialias over up- and down-sampling at integer and fractional
factors, unchanged axes included (TF filters them too: ``gaussian`` and ``mitchellcubic``
blur them). TF computes in float32: agreement to float32 rounding.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tconv.resizing import METHODS, resize

tf = pytest.importorskip("tensorflow")

SIZES = [((5, 7), (3, 4)), ((5, 7), (10, 14)), ((16, 9), (17, 5)), ((1, 4), (1, 1)),
         ((13, 13), (13, 31)), ((12, 12), (6, 6)), ((4, 4), (24, 24)), ((9, 16), (40, 3)),
         ((8, 8), (13, 13)), ((13, 13), (8, 8)), ((20, 20), (7, 9))]


@pytest.mark.parametrize("method,antialias",
                         list(itertools.product(METHODS["tensorflow"], (False, True))))
def test_oracle(method: str, antialias: bool) -> None:
    rng = np.random.default_rng(0)
    for shape, out in SIZES:
        x = rng.random((2,) + shape + (3,)).astype(np.float32)
        want = tf.image.resize(x, out, method=method, antialias=antialias).numpy()
        got = resize(x, out, method=method, convention="tensorflow", antialias=antialias)
        np.testing.assert_allclose(got, want, rtol=0, atol=5e-6, err_msg=f"{shape} -> {out}")
