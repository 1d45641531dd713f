"""conv_transpose algorithms; each module's ``conv_transpose(x, w, params, out)`` computes
the bias-free transposed convolution of batched ``x`` with the same result."""

from __future__ import annotations

from . import gemm, phase, scatter, zero_insertion

__all__ = ["gemm", "phase", "scatter", "zero_insertion"]
