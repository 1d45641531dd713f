"""``algorithm="matrix"``: the sparse transposed convolution matrix."""

from __future__ import annotations

from algorithms._cases import AlgorithmContract


class TestConvTransposeMatrix(AlgorithmContract):
    ALGO = "matrix"
