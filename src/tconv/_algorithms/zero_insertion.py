"""conv_transpose as "insert zeros, pad, convolve" -- the article's equivalent form.

    x_up = x with (stride - 1) zeros between neighbours        (size (in-1)*s + 1)
    pad  = dilation*(k-1) - padding  on each side  (+ output_padding on the high side)
    y    = conv(x_up, flip(weight) with C_in/C_out swapped per group, dilation=d)

It multiplies every inserted zero: about stride**ndim times the useful work.
"""

from __future__ import annotations

import numpy as np

from .._checks import ConvParams
from ._im2col import conv_gemm


def flipped_conv_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """Transposed-conv weight ``(C_in, C_out/g, *K)`` -> conv weight ``(C_out, C_in/g, *K)``
    of the equivalent direct convolution: channels swapped within each group, taps flipped
    (the home of this flip-and-swap).

    Identity: ``conv_transpose(x, w) == conv(pad(insert_zeros(x)), flipped_conv_weight(w))``
    with the padding of :func:`zero_insertion_padding`.
    """
    c_in, cog, *k = w.shape
    wg = w.reshape(groups, c_in // groups, cog, *k).swapaxes(1, 2)  # (g, Cog, Cig, *K)
    wf = wg.reshape(groups * cog, c_in // groups, *k)
    return np.flip(wf, axis=tuple(range(2, wf.ndim)))


def inserted_zeros(x: np.ndarray, stride: tuple[int, ...]) -> np.ndarray:
    """``(N, C, *S) -> (N, C, *((S-1)*stride + 1))`` with zeros between the inputs."""
    nd = len(stride)
    size = x.shape[2:]
    up = np.zeros(x.shape[:2] + tuple((s - 1) * st + 1 for s, st in zip(size, stride)),
                  dtype=x.dtype)
    up[(Ellipsis, *(slice(None, None, st) for st in stride))] = x
    assert up.ndim == nd + 2
    return up


def zero_insertion_padding(p: ConvParams) -> tuple[tuple[int, int], ...]:
    """``(low, high)`` zeros around the zero-inserted input, per dim (the home of this
    formula): ``(d*(k-1) - lo, d*(k-1) - hi + output_padding)``; a negative amount crops."""
    op = p.output_padding or (0,) * p.ndim
    return tuple((d * (k - 1) - lo, d * (k - 1) - hi + o)
                 for k, d, (lo, hi), o in zip(p.kernel, p.dilation, p.pad, op))


def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    up = inserted_zeros(x, p.stride)
    return conv_gemm(up, flipped_conv_weight(w, p.groups), (1,) * p.ndim,
                     zero_insertion_padding(p), p.dilation, p.groups, out)


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Multiply-adds :func:`conv_transpose` performs: a dense conv over the whole output,
    ``N * C_out * C_in/g * prod(S_out) * prod(K)`` -- inserted zeros and padding included,
    about ``prod(stride)`` times the useful count."""
    n = x_shape[0]
    return n * x_shape[1] * w_shape[1] * int(np.prod(out)) * int(np.prod(w_shape[2:]))
