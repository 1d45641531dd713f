"""conv_transpose algorithms; each module's ``conv_transpose(x, w, params, out)`` computes
the bias-free transposed convolution of batched ``x`` with the same result, and its
``macs(x_shape, w_shape, params, out)`` counts the multiply-adds that code performs (derived
from the same loops and matrix shapes, not timed), so a test can hold the fast algorithms to
the useful count without a clock."""

from __future__ import annotations

from .._checks import ConvParams
from . import direct, gemm, phase, scatter, zero_insertion

__all__ = ["direct", "gemm", "phase", "scatter", "zero_insertion", "macs", "useful_macs"]

useful_macs = scatter.useful_macs


def macs(algorithm: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Multiply-adds ``algorithm`` performs for one call (``"matrix"``: one per stored
    nonzero of ``C``, i.e. the useful count)."""
    if algorithm == "matrix":
        return useful_macs(x_shape, w_shape, p, out)
    module = {"direct": direct, "gemm": gemm, "phase": phase, "scatter": scatter,
              "zero_insertion": zero_insertion}[algorithm]
    return int(module.macs(x_shape, w_shape, p, out))
