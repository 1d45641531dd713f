"""The convolution matrix C of the article, built in O(nnz).

A convolution is a linear map, so it is a matrix: with ``x`` flattened (C_in, *S_in) in
row-major order and ``y`` flattened (C_out, *S_out),

    conv(x, weight).ravel()           == C @ x.ravel()       C: (C_out*prod(S_out), C_in*prod(S_in))
    conv_transpose(y, weight).ravel() == C.T @ y.ravel()     (same weight array)

Row ``(c_out, o)`` of C holds ``weight[c_out, c_in, t]`` in column ``(c_in, o*stride +
t*dilation - pad_low)`` -- each row is the kernel laid out over the input, zeros elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from . import _checks
from ._typing import ArrayLike, IntOrTuple, PaddingArg

__all__ = ["conv_matrix"]


def _pairs_1d(n_in: int, n_out: int, k: int, s: int, d: int, lo: int,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid (output, tap, input) index triples of one spatial dim."""
    o = np.arange(n_out)[:, None]
    t = np.arange(k)[None, :]
    i = o * s + t * d - lo
    keep = (i >= 0) & (i < n_in)
    oo, tt = np.broadcast_to(o, i.shape)[keep], np.broadcast_to(t, i.shape)[keep]
    return oo, tt, i[keep]


def build_matrix(weight: np.ndarray, in_spatial: Sequence[int], out_spatial: Sequence[int],
                 stride: Sequence[int], pad_lo: Sequence[int], dilation: Sequence[int],
                 groups: int, sparse: bool = True) -> sp.csr_array | np.ndarray:
    """C for conv weight ``(C_out, C_in/groups, *K)`` mapping ``in_spatial -> out_spatial``.

    No validation; ``pad_lo`` may be negative. Used by :func:`conv_matrix` and by the
    ``"matrix"`` conv_transpose algorithm (which reads its transposed-conv weight as the
    weight of the direct convolution it transposes).
    """
    c_out, cig, *kernel = weight.shape
    cog = c_out // groups
    trip = [_pairs_1d(ni, no, k, s, d, lo) for ni, no, k, s, d, lo
            in zip(in_spatial, out_spatial, kernel, stride, dilation, pad_lo)]
    # cartesian product over spatial dims of the per-dim valid triples
    grids = np.meshgrid(*(np.arange(len(tr[0])) for tr in trip), indexing="ij")
    sel = [g.ravel() for g in grids]
    o_idx = tuple(tr[0][s_] for tr, s_ in zip(trip, sel))
    t_idx = tuple(tr[1][s_] for tr, s_ in zip(trip, sel))
    i_idx = tuple(tr[2][s_] for tr, s_ in zip(trip, sel))
    p_out, p_in = int(np.prod(out_spatial)), int(np.prod(in_spatial))
    itype = np.int64 if c_out * p_out >= 2**31 or cig * groups * p_in >= 2**31 else np.int32
    row_sp: np.ndarray = np.ravel_multi_index(o_idx, tuple(out_spatial)).astype(itype)
    col_sp: np.ndarray = np.ravel_multi_index(i_idx, tuple(in_spatial)).astype(itype)
    tap = np.ravel_multi_index(t_idx, tuple(kernel))
    co: np.ndarray = np.arange(c_out, dtype=itype)[:, None, None]
    ci: np.ndarray = np.arange(cig, dtype=itype)[None, :, None]
    rows: np.ndarray = co * p_out + row_sp[None, None, :]
    cols: np.ndarray = ((co // cog) * cig + ci) * p_in + col_sp[None, None, :]
    vals = weight.reshape(c_out, cig, -1)[:, :, tap]
    shape = (c_out * p_out, cig * groups * p_in)
    rows, cols = np.broadcast_arrays(rows, cols)
    if not sparse:
        dense = np.zeros(shape, dtype=weight.dtype)
        dense[rows.ravel(), cols.ravel()] = vals.ravel()
        return dense
    # every (row, col) pair is distinct, so COO -> CSR is a counting sort, O(nnz)
    return sp.coo_array((vals.ravel(), (rows.ravel(), cols.ravel())), shape=shape).tocsr()


def conv_matrix(weight: ArrayLike, input_shape: IntOrTuple, stride: IntOrTuple = 1,
                padding: PaddingArg = 0, dilation: IntOrTuple = 1, groups: int = 1,
                sparse: bool = True) -> sp.csr_array | np.ndarray:
    """The convolution matrix C: ``conv`` as a matrix product, ``conv_transpose`` as ``C.T``.

    The article's 4x4 input and 3x3 kernel give a 4x16 C whose rows are the kernel shifted
    across the flattened input; its transpose (16x4) maps 4 values to 16 -- one-to-many.

    Args:
        weight: conv weight ``(C_out, C_in/groups, *K)``. The *same array* read as a
            transposed-conv weight ``(C_in', C_out'/groups, *K)`` gives ``conv_transpose``
            through ``C.T``.
        input_shape: spatial size of the conv input (channels follow from weight, groups).
        stride, padding, dilation, groups: as in :func:`tconv.conv`.
        sparse: return a ``scipy.sparse.csr_array`` (default) or a dense ndarray.

    Returns:
        C with ``conv(x, weight)[n].ravel() == C @ x[n].ravel()``.

    Shape:
        ``(C_out * prod(S_out), C_in * prod(S_in))`` with ``S_out = conv_output_size(...)``.
        Built in O(nnz) time and memory; ``nnz <= C_out * C_in/groups * prod(S_out) * prod(K)``.

    Convention:
        Rows and columns are row-major flattenings of ``(C, *S)``, as ``ndarray.ravel()``.

    Raises:
        ValueError, TypeError: for the arguments :func:`tconv.conv` rejects.

    Examples:
        >>> import numpy as np
        >>> C = conv_matrix(np.arange(1, 10).reshape(1, 1, 3, 3), (4, 4), sparse=False)
        >>> C.shape
        (4, 16)
        >>> C[0].astype(int)
        array([1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0])
        >>> C[3].astype(int)
        array([0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9])
    """
    fn = "conv_matrix"
    w = _checks.as_array(fn, "weight", weight)
    dtype = _checks.result_dtype(fn, ("weight", w))
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"{fn}: weight of shape {tuple(w.shape)} must have 3, 4 or 5 dims "
                         "(C_out, C_in/groups, *K)")
    nd = w.ndim - 2
    size = _checks.as_int_tuple(fn, "input_shape", input_shape, nd, minimum=1)
    g = _checks.check_groups(fn, groups)
    p = _checks.conv_params(fn, x_shape=(1, w.shape[1] * g, *size), weight_shape=tuple(w.shape),
                            bias_shape=None, stride=stride, padding=padding, dilation=dilation,
                            groups=g, transposed=False)
    out = p.conv_size(size)
    rows, cols = w.shape[0] * math.prod(out), w.shape[1] * g * math.prod(size)
    args = {"input_shape": input_shape, "padding": padding, "stride": stride,
            "dilation": dilation}
    if sparse:   # its nonzeros: at most one per (row, input channel of the group, tap)
        _checks.check_elements(fn, "the nonzeros (rows, taps) of a matrix",
                               (rows, w.shape[1] * math.prod(p.kernel)), args)
    else:
        _checks.check_elements(fn, "a dense matrix", (rows, cols), args)
    return build_matrix(w.astype(dtype, copy=False), size, out, p.stride, p.pad_lo, p.dilation,
                        g, sparse=sparse)
