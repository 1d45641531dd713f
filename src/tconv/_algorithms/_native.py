"""Compiled loops (numba, the optional extra ``tconv[fast]``).

Two implicit matrix products read their right-hand matrix as *shifted windows* of a few
flat planes instead of an im2col copy: column ``k`` of the virtual matrix is
``inp[src[k], off[k] : off[k] + L]``.

    igemm:  out[o, f]  = sum_k W[o, k] * inp[src[k], off[k] + f]       (product, no im2col)
    wdots:  out[a, t] += sum_f X[a, f] * G[src[t], off[t] + f]         (correlation sums)

``wtiles`` computes the same correlation sums as 4 x 4 tiles held in registers, reading
``x`` in place. ``col2im2d`` is the 2-D col2im of the ``gemm`` algorithm: each output
written once as the sum of the product's taps that reach it. ``depthwise2d`` is a whole
depthwise 2-D conv_transpose at column stride 2 with at most 2 x 2 terms an output, in one
pass that writes ``y``. ``resample2d`` is
:func:`tconv.interpolate`'s separable table resampling (linear and cubic modes at factors
the NumPy fast paths do not cover), in ATen's order and without fused multiply-adds.

``grid_copy`` and ``phase_sums`` are the ``phase`` algorithm's passes around its product:
a block's images copied onto the zero-gapped grid, and each phase's tap windows summed and
interleaved into the output rows (the pixel shuffle), every output written once.

With the planes laid out on a zero-gapped grid (see :mod:`tconv._algorithms.phase`), a
conv_transpose phase, the input gradient (a strided conv) and the weight gradient are each
one such loop. Output rows of one group read the same planes, so two rows share every
window load; four windows are summed per pass over an L1-sized chunk of the output.
Accumulation reassociates sums (``fastmath`` reassoc/contract only: NaN and inf propagate).

Nothing here is imported by ``import tconv``; :func:`kernels` compiles on first use and
caches the machine code next to this file.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

__all__ = ["available", "kernels"]

_KERNELS: dict[str, Any] = {}


def available() -> bool:
    """numba is installed and not switched off (``TCONV_NUMBA=0``)."""
    if os.environ.get("TCONV_NUMBA", "1").strip() == "0":
        return False
    return _installed()


@functools.lru_cache(maxsize=1)
def _installed() -> bool:
    # looked up once: with ``find_spec`` on every call, ``choose_algorithm`` took 34 us
    # (1.1-1.8 us without), a third of a small layer's whole call (c2)
    return importlib.util.find_spec("numba") is not None


def kernels() -> dict[str, Any]:
    """``{"igemm": ..., "wdots": ..., "wtiles": ..., "col2im2d": ..., "resample2d": ...,
    "depthwise2d": ..., "sgemm": ..., "phase_sums": ..., "grid_copy": ..., ...}``,
    compiled on the first call of each dtype."""
    if not _KERNELS:
        try:
            from . import _native_kernels as k
        except ImportError:  # pragma: no cover - guarded by available()
            raise ImportError('algorithm "direct" needs numba: pip install "tconv[fast]"'
                              ) from None
        _KERNELS.update(igemm=k.igemm, wdots=k.wdots, col2im2d=k.col2im2d, wtiles=k.wtiles,
                        resample2d=k.resample2d, depthwise2d=k.depthwise2d,
                        col2im_last2d=k.col2im_last2d, sgemm=k.sgemm,
                        pack_left=k.pack_left, pack_right=k.pack_right,
                        pack_right_table=k.pack_right_table,
                        phase_sums=k.phase_sums, grid_copy=k.grid_copy,
                        igemm_tiles=k.igemm_tiles, igemm_segs=k.igemm_segs)
    return _KERNELS
