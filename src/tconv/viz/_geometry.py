"""What every picture shows, computed by the library (NumPy only, no matplotlib).

A (transposed) convolution of one channel is a linear map, so it is a matrix ``M`` with
``op(x).ravel() == M @ x.ravel()``: ``M = C`` for ``conv`` and ``M = C.T`` for
``conv_transpose``. Column ``i`` of ``M`` is ``op(e_i)`` for the one-hot input ``e_i``, so
one batched call of the library's own op on the identity gives the whole matrix::

    eye(n_in) -> reshape (n_in, 1, *S_in) -> op -> (n_in, 1, *S_out) -> reshape -> M.T

Run with the kernel ``1..prod(K)`` the same call labels every non-zero of ``M`` with the
kernel tap that put it there (one input and one output meet through at most one tap).
From ``M`` every picture follows: the footprint of input cell ``i`` (one-to-many) is column
``i``, the receptive field of output cell ``o`` (many-to-one) is row ``o``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .. import _checks
from .._typing import IntOrTuple, PaddingArg
from ..conv import conv, conv_transpose, transposed_params
from ..shapes import conv_output_size, conv_transpose_output_size

__all__ = ["Geometry", "geometry", "zero_insertion_view", "ZeroInsertionView"]


def _pair(fn: str, name: str, value: object, minimum: int | None = None) -> tuple[int, int]:
    return _checks.as_int_tuple(fn, name, value, 2, minimum=minimum)  # type: ignore[return-value]


@dataclass(frozen=True)
class Geometry:
    """One 2-D, one-channel (transposed) convolution with everything the pictures need.

    Attributes:
        transposed: ``False`` for ``conv``, ``True`` for ``conv_transpose``.
        in_size, out_size: spatial sizes ``(rows, columns)``.
        kernel_size, stride, dilation, output_padding: per-dim ints.
        pad: ``(low, high)`` pairs as the library resolved them (for a transposed conv: the
            crop of the full output; may be negative for ``padding="same"``).
        x: input values ``S_in``; weight: kernel values ``K``; y: output ``op(x, weight)``.
        matrix: ``M`` of shape ``(prod(S_out), prod(S_in))`` with ``y.ravel() == M @ x.ravel()``.
        taps: same shape, the raveled kernel tap linking output row and input column, or -1.
        padding, label: the ``padding`` argument as given, and a one-line description.
    """

    transposed: bool
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    output_padding: tuple[int, int]
    x: np.ndarray
    weight: np.ndarray
    y: np.ndarray
    matrix: np.ndarray
    taps: np.ndarray
    padding: object = 0
    label: str = field(default="")

    @property
    def op_name(self) -> str:
        return "conv_transpose" if self.transposed else "conv"

    @property
    def matrix_name(self) -> str:
        """``"C"`` for conv, ``"Cᵀ"`` for conv_transpose."""
        return "C\u1d40" if self.transposed else "C"

    def footprint(self, index: tuple[int, int]) -> np.ndarray:
        """Output cells input cell ``index`` reaches (one-to-many): tap per output, or -1."""
        col = self.taps[:, int(np.ravel_multi_index(index, self.in_size))]
        return col.reshape(self.out_size)

    def receptive_field(self, index: tuple[int, int]) -> np.ndarray:
        """Input cells output cell ``index`` reads (many-to-one): tap per input, or -1."""
        row = self.taps[int(np.ravel_multi_index(index, self.out_size))]
        return row.reshape(self.in_size)

    def tap_label(self, tap: int) -> str:
        """``"w(r,c)"`` for the raveled tap index."""
        r, c = np.unravel_index(int(tap), self.kernel_size)
        return f"w{int(r)}{int(c)}" if max(self.kernel_size) <= 10 else f"w{int(r)},{int(c)}"


def _op_matrix(op: Callable[..., np.ndarray], weight: np.ndarray, in_size: tuple[int, ...],
               **kw: Any) -> np.ndarray:
    n_in = int(np.prod(in_size))
    eye = np.eye(n_in).reshape(n_in, 1, *in_size)          # one one-hot input per batch item
    cols = op(eye, weight[None, None].astype(np.float64), **kw)   # (n_in, 1, *S_out)
    return cols.reshape(n_in, -1).T                         # column i = op(e_i)


def geometry(input_size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
             padding: PaddingArg = 0, dilation: IntOrTuple = 1, output_padding: IntOrTuple = 0,
             *, transposed: bool = False,
             x: np.ndarray | None = None, weight: np.ndarray | None = None,
             seed: int = 0) -> Geometry:
    """Compute a 2-D one-channel (transposed) convolution and its matrix with the library.

    Args:
        input_size: ``(rows, columns)`` or one int for a square input.
        kernel_size, stride, padding, dilation: as :func:`tconv.conv` /
            :func:`tconv.conv_transpose`.
        output_padding: transposed convolution only.
        transposed: draw ``conv_transpose`` instead of ``conv``.
        x: input values (default: seeded integers ``1..4``: no zero cells, so no
            output row is empty by chance).
        weight: kernel values (default: ``1..prod(K)``, like the article's kernel).
        seed: seed of the default input.

    Returns:
        A :class:`Geometry`.

    Shape:
        ``matrix``: ``(prod(out_size), prod(in_size))`` with ``out_size`` from
        :func:`tconv.conv_output_size` / :func:`tconv.conv_transpose_output_size`.

    Raises:
        ValueError, TypeError: with the library's messages for invalid combinations.

    Examples:
        >>> g = geometry(4, 3)                           # the article: 4x4 * 3x3 -> 2x2
        >>> g.matrix.shape, g.matrix_name
        ((4, 16), 'C')
        >>> g.matrix[0].astype(int)                      # row 0: the kernel laid over x
        array([1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0])
        >>> t = geometry(2, 3, transposed=True)          # and back: 2x2 -> 4x4
        >>> t.matrix_name, t.out_size, bool((t.matrix == g.matrix.T).all())
        ('Cᵀ', (4, 4), True)
        >>> (t.footprint((0, 0)) >= 0).astype(int)       # one input reaches 9 outputs
        array([[1, 1, 1, 0],
               [1, 1, 1, 0],
               [1, 1, 1, 0],
               [0, 0, 0, 0]])
    """
    fn = "geometry"
    size = _pair(fn, "input_size", input_size, minimum=1)
    k = _pair(fn, "kernel_size", kernel_size, minimum=1)
    if transposed:
        out = conv_transpose_output_size(size, k, stride, padding, output_padding, dilation)
        p, _ = transposed_params("conv_transpose", (1, 1, *size), (1, 1, *k), None, stride,
                                 padding, output_padding, 1, dilation, None)
    else:
        if output_padding not in (0, (0, 0)):
            raise ValueError(f"{fn}: output_padding={_checks.fmt(output_padding)} applies to "
                             "the transposed convolution only")
        out = conv_output_size(size, k, stride, padding, dilation)
        p = _checks.conv_params("conv", x_shape=(1, 1, *size), weight_shape=(1, 1, *k),
                                bias_shape=None, stride=stride, padding=padding,
                                dilation=dilation, groups=1, transposed=False)
    rng = np.random.default_rng(seed)
    xv = rng.integers(1, 5, size).astype(np.float64) if x is None else np.asarray(x, float)
    wv = (np.arange(1, k[0] * k[1] + 1, dtype=np.float64).reshape(k) if weight is None
          else np.asarray(weight, dtype=np.float64))
    if xv.shape != size:
        raise ValueError(f"{fn}: x of shape {xv.shape} must have the input_size {size}")
    if wv.shape != k:
        raise ValueError(f"{fn}: weight of shape {wv.shape} must have the kernel_size {k}")
    kw: dict[str, Any] = dict(stride=stride, padding=padding, dilation=dilation)
    op: Callable[..., np.ndarray] = conv
    if transposed:
        kw["output_padding"] = output_padding
        op = conv_transpose
    y = op(xv[None, None], wv[None, None], **kw)[0, 0]
    matrix = _op_matrix(op, wv, size, **kw)
    ramp = np.arange(1, k[0] * k[1] + 1, dtype=np.float64).reshape(k)
    taps = np.rint(_op_matrix(op, ramp, size, **kw)).astype(np.int64) - 1
    assert y.shape == tuple(out)
    label = (f"{op.__name__}: input {size[0]}x{size[1]}, kernel {k[0]}x{k[1]}, stride "
             f"{_checks.fmt(stride)}, padding {_checks.fmt(padding)}, dilation "
             f"{_checks.fmt(dilation)}")
    if transposed:
        label += f", output_padding {_checks.fmt(output_padding)}"
    label += f" -> output {out[0]}x{out[1]}"
    pair = cast(tuple[int, int], out)
    return Geometry(transposed, size, pair, k, cast(tuple[int, int], p.stride),
                    cast(tuple[tuple[int, int], tuple[int, int]], p.pad),
                    cast(tuple[int, int], p.dilation),
                    cast(tuple[int, int], p.output_padding or (0, 0)), xv, wv, y, matrix, taps,
                    padding, label)


@dataclass(frozen=True)
class ZeroInsertionView:
    """The transposed convolution as a direct convolution over a zero-inserted input.

    Attributes:
        grid: the conv input: zero-inserted input, padded (or cropped) on each side.
        kind: same shape; 0 = input value, 1 = inserted zero, 2 = padding zero.
        origin: ``grid`` index of input cell ``(0, 0)`` (may lie outside when cropped).
        pad: per dim ``(low, high)``: ``dilation*(k-1) - crop_low``,
            ``dilation*(k-1) - crop_high + output_padding``; negative means cropped.
        flipped: the kernel flipped in both dims.
        y: ``conv(grid, flipped, dilation)`` -- equal to the geometry's ``y``.
    """

    grid: np.ndarray
    kind: np.ndarray
    origin: tuple[int, int]
    pad: tuple[tuple[int, int], tuple[int, int]]
    flipped: np.ndarray
    y: np.ndarray


def zero_insertion_view(g: Geometry) -> ZeroInsertionView:
    """Insert ``stride-1`` zeros between inputs, pad, convolve with the flipped kernel.

    This is the article's closing remark ("insert zeros between the input elements, then a
    normal convolution gives the same result") and ``conv_transpose(algorithm="zero_insertion")``.

    Raises:
        ValueError: for a direct (not transposed) convolution.

    Examples:
        >>> v = zero_insertion_view(geometry(2, 3, stride=2, padding=1, transposed=True))
        >>> v.kind          # 0 input, 1 inserted zero, 2 padding
        array([[2, 2, 2, 2, 2],
               [2, 0, 1, 0, 2],
               [2, 1, 1, 1, 2],
               [2, 0, 1, 0, 2],
               [2, 2, 2, 2, 2]], dtype=int8)
        >>> v.y.shape
        (3, 3)
    """
    if not g.transposed:
        raise ValueError("zero_insertion_view: geometry is a direct convolution; the "
                         "zero-insertion view is of a transposed convolution (transposed=True)")
    up_size = tuple((n - 1) * s + 1 for n, s in zip(g.in_size, g.stride))
    up = np.zeros(up_size)
    kind = np.ones(up_size, dtype=np.int8)
    up[:: g.stride[0], :: g.stride[1]] = g.x
    kind[:: g.stride[0], :: g.stride[1]] = 0
    pad = tuple((d * (k - 1) - lo, d * (k - 1) - hi + op)
                for k, d, (lo, hi), op in zip(g.kernel_size, g.dilation, g.pad,
                                              g.output_padding))
    # pad with zeros where positive, crop where negative  (in -> [pad_lo | in | pad_hi])
    grow = tuple((max(a, 0), max(b, 0)) for a, b in pad)
    grid = np.pad(up, grow)
    kind = np.pad(kind, grow, constant_values=2)
    crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(pad, grid.shape))
    grid, kind = grid[crop], kind[crop]
    flipped = g.weight[::-1, ::-1].copy()
    y = conv(grid[None, None], flipped[None, None], dilation=g.dilation)[0, 0]
    origin = (pad[0][0], pad[1][0])
    return ZeroInsertionView(grid, kind, origin, pad, flipped, y)  # type: ignore[arg-type]
