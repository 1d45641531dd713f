"""``algorithm="gemm"``: one matrix product + blocked col2im."""

from __future__ import annotations

from algorithms._cases import AlgorithmContract


class TestConvTransposeGemm(AlgorithmContract):
    ALGO = "gemm"
