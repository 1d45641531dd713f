"""``algorithm="phase"``: sub-pixel phases summed inside BLAS on a zero-gapped grid."""

from __future__ import annotations

from algorithms._cases import AlgorithmContract


class TestConvTransposePhase(AlgorithmContract):
    ALGO = "phase"
