"""``algorithm="zero_insertion"``: insert zeros, then a dense convolution."""

from __future__ import annotations

from algorithms._cases import AlgorithmContract


class TestConvTransposeZeroInsertion(AlgorithmContract):
    ALGO = "zero_insertion"
