"""Seeded random small transposed-conv layers for the test populations."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SmallLayer(NamedTuple):
    nd: int
    stride: int
    dilation: int
    kernel: int
    groups: int
    cig: int
    cog: int
    size: tuple[int, ...]
    padding: int
    output_padding: int


def small_layer(rng: np.random.Generator, stride_hi: int, kernel_extra: int, cig_hi: int,
                cog_hi: int, size_hi: tuple[int, int, int]) -> SmallLayer | None:
    """One layer drawn from ``rng``: 1-3 spatial dims, stride below ``stride_hi``, dilation
    1 or 2, a kernel below ``2 * stride + kernel_extra``, 1-3 groups, channels a group below
    ``cig_hi`` / ``cog_hi``, sizes below ``size_hi[nd - 1]``, padding and output_padding in
    their valid ranges; ``None`` when the output would be empty."""
    nd = int(rng.integers(1, 4))
    s, d = int(rng.integers(1, stride_hi)), int(rng.choice([1, 1, 2]))
    k = int(rng.integers(1, 2 * s + kernel_extra))
    g, cig, cog = int(rng.choice([1, 1, 2, 3])), int(rng.integers(1, cig_hi)), \
        int(rng.integers(1, cog_hi))
    size = tuple(int(v) for v in rng.integers(1, size_hi[nd - 1], nd))
    pad = int(rng.integers(0, d * (k - 1) // 2 + 2))
    op = int(rng.integers(0, max(s, d))) if max(s, d) > 1 else 0
    if min((v - 1) * s - 2 * pad + d * (k - 1) + op + 1 for v in size) < 1:
        return None
    return SmallLayer(nd, s, d, k, g, cig, cog, size, pad, op)
