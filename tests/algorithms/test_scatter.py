"""``algorithm="scatter"``: the one-to-many reference."""

from __future__ import annotations

from algorithms._cases import AlgorithmContract


class TestConvTransposeScatter(AlgorithmContract):
    ALGO = "scatter"
    REFERENCE = "matrix"
