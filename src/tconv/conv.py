"""``conv`` and ``conv_transpose``: validate, pick an algorithm, dispatch.

The identity tying them together (see :mod:`tconv.matrix` and :mod:`tconv.grad`)::

    conv(x, w).ravel()           == C(w) @ x.ravel()        many-to-one
    conv_transpose(y, w).ravel() == C(w).T @ y.ravel()      one-to-many

so ``<conv(x, w), y> == <x, conv_transpose(y, w)>`` for one weight array, and the gradient
of either op with respect to its input is the other op.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from . import _checks
from ._algorithms import _cost, _native, _parallel, direct, gemm, phase, scatter, zero_insertion
from ._algorithms._im2col import conv_gemm
from ._algorithms._matmul import matmul
from ._checks import ConvParams
from ._typing import Array, ArrayLike, IntOrTuple, PaddingArg
from .matrix import build_matrix

__all__ = ["ALGORITHMS", "conv", "conv_transpose", "choose_algorithm"]

#: The ``algorithm=`` values of :func:`conv_transpose`: ``"auto"`` (the implementation
#: :func:`choose_algorithm` picks) and the implementations themselves.
ALGORITHMS = ("auto", "matrix", "scatter", "zero_insertion", "gemm", "phase", "direct")


def _matrix_conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams,
                           out: tuple[int, ...]) -> np.ndarray:
    # C maps the transposed conv's output (as a conv input) to its input; y = C.T @ x
    size = x.shape[2:]
    C = build_matrix(w, out, size, p.stride, p.pad_lo, p.dilation, p.groups, sparse=True)
    cols = x.reshape(x.shape[0], -1).T                          # (C_in*prodS_in, N)
    y = np.asarray(C.T @ cols).T                                # (N, C_out*prodS_out)
    return y.reshape(x.shape[0], -1, *out)


#: multiply-adds of a single-product call from which its products are shared among tconv's
#: threads (about 0.5 ms of one core's work; below it the pool costs more than it saves)
SINGLE_PRODUCT_PARALLEL_MACS = 1 << 24

#: outputs of a single-term or single-product call from which its multiplies or tap copies
#: are shared among tconv's threads by channel ranges (below it the pool costs more than
#: it saves)
SINGLE_TERM_PARALLEL = 1 << 18


def _multiply(products: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    # on tconv's pool threads ``matmul`` cuts a product BLAS would thread into pieces
    for a, b, out in products:
        matmul(a, b, out=out)


def _tap_slices(t: int, s: int, d: int, lo: int, size: int, out: int,
                ) -> tuple[slice, slice] | None:
    """Input positions ``i`` of kernel tap ``t`` along one dim whose output
    ``i*s + t*d - lo`` lies in ``[0, out)``, and those outputs, as slices; None if none."""
    base = t * d - lo
    first = max(0, -(base // s))                # ceil(-base / s)
    last = min(size - 1, (out - 1 - base) // s)
    if last < first:
        return None
    start = first * s + base
    return slice(first, last + 1), slice(start, start + (last - first) * s + 1, s)


def _in_place(size: Sequence[int], out: tuple[int, ...], p: ConvParams) -> bool:
    """The taps' product is the output itself: along every dim either a 1x1 kernel at
    stride 1 or one input position at dilation 1, nothing cropped or added, and the
    kernel dims of the product ``(C_out, *K, *S_in)`` in output order (no input dim
    longer than 1 before a kernel dim longer than 1)."""
    last_input = -1
    for d, (i, k, o) in enumerate(zip(size, p.kernel, out)):
        step = p.stride[d] if k == 1 else p.dilation[d]
        if min(i, k) > 1 or p.pad_lo[d] != 0 or o != i * k or (step != 1 and max(i, k) > 1):
            return False
        if i > 1:
            last_input = d
        elif k > 1 and last_input >= 0:
            return False
    return True


def _single_product(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...],
                    ) -> np.ndarray:
    """The transposed convolution of a layer ``_cost.single_product`` accepts: along every
    dim the kernel fits in the stride (``dilation*(K-1) < stride``: 1x1 kernels, 2x2 at
    stride 2) or the input has one position, so that every output receives at most one
    term. Per group, the taps are one product::

        1x1 input:  taps[N, C_out/g * prod(K)] = x[N, C_in/g] @ w[C_in/g, C_out/g * prod(K)]
        otherwise:  taps[n, C_out/g * prod(K), prod(S_in)] = w.T @ x[n, C_in/g, prod(S_in)]

    and tap ``t`` of input ``i`` is copied to output ``i*stride + t*dilation - pad_lo``
    (one strided copy a tap; outputs no tap reaches are zero). Every multiply-add is a
    useful one and nothing is added afterwards."""
    n, c_in, *size = x.shape
    g, cog = p.groups, w.shape[1]
    cig = c_in // g
    kernel = p.kernel
    taps, positions = math.prod(kernel), math.prod(size)
    in_place = _in_place(tuple(size), out, p)
    # the output itself where the taps land in place, else a kept scratch buffer (a fresh
    # temporary beside the output each call would cost its page faults every call)
    numbers = n * g * cog * taps * positions
    full: np.ndarray = (np.empty(numbers, dtype=x.dtype) if in_place
                        else _parallel.scratch("single_full", numbers, x.dtype)
                        ).reshape(n, numbers // max(n, 1))
    macs = n * c_in * cog * taps * positions
    blas_macs = (_parallel.blas_product(n, cig, cog * taps) if positions == 1
                 else _parallel.blas_product(cog * taps, cig, positions))
    # a task a thread, unless the products run in order anyway (BLAS threads each)
    tasks = (_parallel.num_threads() if macs >= SINGLE_PRODUCT_PARALLEL_MACS
             and not _parallel.in_order(blas_macs) else 1)
    products = []
    if positions == 1:
        x2, w2 = x.reshape(n, c_in), w.reshape(c_in, cog * taps)
        f3 = full.reshape(n, g, cog * taps)
        for gi in range(g):
            products.append((x2[:, gi * cig:(gi + 1) * cig], w2[gi * cig:(gi + 1) * cig],
                             f3[:, gi]))
    else:
        x4 = x.reshape(n, g, cig, positions)
        wt = w.reshape(g, cig, cog * taps).transpose(0, 2, 1)
        f4 = full.reshape(n, g, cog * taps, positions)
        if tasks == 1:
            # a small call: every image and group in one batched product (one NumPy call,
            # not one a product from Python)
            products = [(wt[None], x4, f4)]
        else:
            products = [(wt[gi], x4[i, gi], f4[i, gi]) for i in range(n) for gi in range(g)]
    # one task of consecutive products a thread, in order on this thread for small calls
    step = -(-len(products) // tasks)
    _parallel.for_each(_multiply,
                       [products[i:i + step] for i in range(0, len(products), step)],
                       blas_macs=blas_macs)
    if in_place:
        return full.reshape(n, g * cog, *out)
    full = full.reshape(n, g * cog, *kernel, *size)
    covered, copies = _tap_copies(tuple(size), out, p)
    y = (np.empty if covered else np.zeros)((n, g * cog, *out), dtype=x.dtype)

    def run(c0: int, c1: int) -> None:
        for n0, n1, a, b in _cache_chunks(n, c0, c1, math.prod(out), y.itemsize, y.nbytes):
            for src, dst in copies:
                y[(slice(n0, n1), slice(a, b), *dst[2:])] = \
                    full[(slice(n0, n1), slice(a, b), *src[2:])]

    _channel_ranges(run, g * cog, y.size)
    return y


#: outputs of more than ``CHUNK_FROM_BYTES`` (the whole output: the threads' shares meet in
#: one last-level cache) have their tap copies or multiplies written in
#: chunks of images and channels of about ``CHUNK_BYTES`` (at least a plane): every tap
#: writes a strided share of the whole output, and past the last-level cache each such
#: pass goes to memory; a chunk's lines stay in cache until its last tap. A 128 MiB float32
#: output took 112 ms whole and 80 ms in 1 MiB chunks; a single-image 3-D float64 output
#: of 8 MiB lost (2.6 -> 3.9 ms: more NumPy calls), hence the bound
#: (``python benchmarks/tap_chunks.py``, one thread)
CHUNK_BYTES = 1 << 20
CHUNK_FROM_BYTES = 1 << 24


def _cache_chunks(n: int, c0: int, c1: int, plane: int, itemsize: int, total: int
                  ) -> list[tuple[int, int, int, int]]:
    """``(n0, n1, a, b)``: images ``n0:n1`` and channels ``a:b`` (within ``c0:c1``) whose
    output planes of ``plane`` numbers hold about :data:`CHUNK_BYTES` (at least one plane),
    images outermost; one chunk of everything where the whole output (``total`` bytes, all
    threads' shares: the last-level cache is shared) is at most :data:`CHUNK_FROM_BYTES`."""
    if total <= CHUNK_FROM_BYTES:
        return [(0, n, c0, c1)]
    planes = max(1, CHUNK_BYTES // max(1, plane * itemsize))
    cb = min(c1 - c0, planes)
    nb = max(1, min(n, planes // max(1, c1 - c0))) if cb == c1 - c0 else 1
    return [(n0, min(n, n0 + nb), a, min(c1, a + cb)) for n0 in range(0, n, nb)
            for a in range(c0, c1, cb)]


def _channel_ranges(run: Callable[[int, int], object], channels: int, outputs: int) -> None:
    """``run(c0, c1)`` over ranges of the output channels, shared among tconv's threads
    when the output has :data:`SINGLE_TERM_PARALLEL` numbers or more (strided copies and
    multiplies run at memory speed: a thread a range)."""
    pieces = min(channels, _parallel.num_threads()) if outputs >= SINGLE_TERM_PARALLEL else 1
    step = -(-channels // max(pieces, 1))
    _parallel.for_each(lambda r: run(*r),
                       [(a, min(channels, a + step)) for a in range(0, channels, step)],
                       parallel=pieces > 1)


def _single_term(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...],
                 ) -> np.ndarray:
    """A depthwise layer ``_cost.single_term`` accepts (every output at most one term): per
    kernel tap ``t``, ``y[n, c, i*stride + t*dilation - pad_lo] = x[n, c, i] * w[c, 0, t]``,
    one broadcast multiply into a strided view of ``y`` (outputs no tap reaches are zero);
    ranges of channels on the pool when large."""
    n, c, *size = x.shape
    nd = p.ndim
    covered, copies = _tap_copies(tuple(size), out, p)
    y = (np.empty if covered else np.zeros)((n, c, *out), dtype=x.dtype)
    wk = w.reshape(c, *p.kernel)
    bshape = (1,) * nd

    def run(c0: int, c1: int) -> None:
        for n0, n1, a, b in _cache_chunks(n, c0, c1, math.prod(out), y.itemsize, y.nbytes):
            for src, dst in copies:
                xs = (slice(n0, n1), slice(a, b), *src[2 + nd:])
                wt = wk[(slice(a, b), *src[2:2 + nd])].reshape(b - a, *bshape)
                np.multiply(x[xs], wt, out=y[(slice(n0, n1), slice(a, b), *dst[2:])])

    _channel_ranges(run, c, y.size)
    return y


@_parallel.cached(maxsize=256)
def _tap_copies(size: tuple[int, ...], out: tuple[int, ...], p: ConvParams
                ) -> tuple[bool, tuple[tuple[tuple[Any, ...], tuple[Any, ...]], ...]]:
    """The tap copies of :func:`_single_product` and :func:`_single_term`, remembered per
    shape (a small layer would spend more on planning them than on its product): whether
    the taps cover every output (no zero fill needed), and ``(source, destination)`` index
    tuples of ``full (N, C_out, *K, *S_in)`` and ``y`` per tap that reaches an output (a
    source's last ``ndim`` entries index the input)."""
    nd = p.ndim
    # where each tap lands, per dim; the output needs no zeros when the taps cover it
    lands = [[_tap_slices(t, p.stride[d], p.dilation[d], p.pad_lo[d], size[d], out[d])
              for t in range(p.kernel[d])] for d in range(nd)]
    covered = all(sum(0 if sl is None else len(range(out[d])[sl[1]]) for sl in lands[d])
                  == out[d] for d in range(nd))
    copies = []
    for tap in itertools.product(*(range(k) for k in p.kernel)):
        where = [sl for d, t in enumerate(tap) if (sl := lands[d][t]) is not None]
        if len(where) < nd:                     # this tap reaches no output
            continue
        src: tuple[Any, ...] = (slice(None), slice(None), *tap, *(a for a, _ in where))
        dst: tuple[Any, ...] = (slice(None), slice(None), *(b for _, b in where))
        copies.append((src, dst))
    return covered, tuple(copies)


_IMPL = {
    "matrix": _matrix_conv_transpose,
    "scatter": scatter.conv_transpose,
    "zero_insertion": zero_insertion.conv_transpose,
    "gemm": gemm.conv_transpose,
    "phase": phase.conv_transpose,
    "direct": direct.conv_transpose,
}


def choose_algorithm(x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                     p: ConvParams, *, dtype: np.typing.DTypeLike | None = None) -> str:
    """The algorithm ``"auto"`` runs for a batched input shape, validated parameters and the
    computation's dtype (``None``: rules for one dtype do not apply).

    The choice is the cost model's (:mod:`tconv._algorithms._cost`): shape features
    (multiply-adds, taps per phase, channels per group, spatial sizes, dtype, stride, the
    compiled kernels available) against calibrated constants. ``tconv.explain_algorithm``
    prints the rule that fired. ``zero_insertion``, ``scatter`` and ``matrix`` are
    references and never chosen; without numba neither is ``direct``.
    """
    return _cost.decide(x_shape, weight_shape, p, dtype).algorithm


def _prepare(fn: str, x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool, np.dtype, np.dtype]:
    xa = _checks.as_array(fn, "input", x)
    wa = _checks.as_array(fn, "weight", weight)
    ba = None if bias is None else _checks.as_array(fn, "bias", bias)
    dtype = _checks.result_dtype(fn, ("input", xa), ("weight", wa), ("bias", ba))
    out_dtype = np.dtype(np.float16) if (xa.dtype == np.float16 and wa.dtype == np.float16) \
        else dtype
    xb, batched = _checks.split_batch(fn, xa, wa)
    return xb, wa, ba, batched, dtype, out_dtype


def _finish(y: np.ndarray, bias: np.ndarray | None, batched: bool, dtype: np.dtype,
            out_dtype: np.dtype) -> np.ndarray:
    if bias is not None:
        y = y + bias.astype(dtype).reshape(1, -1, *([1] * (y.ndim - 2)))
    y = y.astype(out_dtype, copy=False)
    return y if batched else y[0]


def conv(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
         stride: IntOrTuple = 1, padding: PaddingArg = 0, dilation: IntOrTuple = 1,
         groups: int = 1) -> Array:
    """N-d convolution (cross-correlation), exactly ``torch.nn.functional.conv{1,2,3}d``.

    Many-to-one: each output element is the sum of ``prod(K)`` input elements times the
    kernel -- the article's 4x4 input and 3x3 kernel give a 2x2 output.

    Args:
        x: input ``(N, C_in, *S_in)`` or unbatched ``(C_in, *S_in)``; 1-3 spatial dims.
        weight: ``(C_out, C_in/groups, *K)``.
        bias: optional ``(C_out,)``.
        stride: window step, an int or one per spatial dim.
        padding: zeros on both sides (int or per dim), ``(low, high)`` pairs, ``"valid"``,
            ``"same"`` or ``"same_lower"`` (see Convention).
        dilation: spacing between kernel taps.
        groups: split channels into ``groups`` independent convolutions.

    Returns:
        ``(N, C_out, *S_out)`` (unbatched in, unbatched out). float32/float64 keep their
        dtype; integer and bool inputs compute in float64.

    Shape:
        ``S_out = floor((S_in + low + high - dilation*(K-1) - 1) / stride) + 1``.

    Convention:
        Cross-correlation (no kernel flip), as PyTorch, JAX and TF. ``"same"`` gives
        ``S_out = ceil(S_in / stride)`` with total padding
        ``max((S_out - 1)*stride + dilation*(K-1) + 1 - S_in, 0)``, the odd extra on the high
        side: ONNX ``auto_pad=SAME_UPPER`` and TF/Keras/JAX ``"SAME"`` for every stride, and
        PyTorch's ``"same"`` at stride 1 (PyTorch refuses it for a stride > 1).
        ``"same_lower"`` is ONNX ``SAME_LOWER`` (the odd extra on the low side).

    Raises:
        ValueError, TypeError: for every configuration PyTorch rejects (except ``"same"``
            with a stride > 1, defined as above), naming the argument;
            ValueError for an output (or padded or uncropped intermediate) of more than
            ``tconv.MAX_ELEMENTS`` numbers, before anything is allocated.

    Examples:
        >>> import numpy as np
        >>> x = np.arange(16).reshape(1, 1, 4, 4)
        >>> w = np.ones((1, 1, 3, 3))
        >>> conv(x, w)
        array([[[[45., 54.],
                 [81., 90.]]]])
    """
    fn = "conv"
    xb, wa, ba, batched, dtype, out_dtype = _prepare(fn, x, weight, bias)
    p = _checks.conv_params(fn, x_shape=xb.shape, weight_shape=tuple(wa.shape),
                            bias_shape=None if ba is None else ba.shape, stride=stride,
                            padding=padding, dilation=dilation, groups=groups, transposed=False)
    out = p.conv_size(xb.shape[2:])
    y = conv_gemm(xb.astype(dtype, copy=False), wa.astype(dtype, copy=False), p.stride, p.pad,
                  p.dilation, p.groups, out)
    return _finish(y, ba, batched, dtype, out_dtype)


def _plain(value: object) -> bool:
    """``value`` is an int, str or None, or a tuple of them -- exactly those types (not bool,
    not NumPy scalars), so that equal values were validated the same way."""
    kind = type(value)
    if kind is int or kind is str or value is None:
        return True
    if kind is not tuple:
        return False
    for v in cast(tuple, value):    # a loop: every call checks its arguments this way
        if not _plain(v):
            return False
    return True


def transposed_params(fn: str, x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                      bias_shape: tuple[int, ...] | None, stride: IntOrTuple,
                      padding: PaddingArg, output_padding: IntOrTuple, groups: int,
                      dilation: IntOrTuple, output_size: IntOrTuple | None,
                      ) -> tuple[ConvParams, tuple[int, ...]]:
    """Validated parameters and spatial output size of a transposed convolution.

    Plain arguments (ints, strings, tuples of them) are looked up in a cache of the last
    256 validated layers: the checks took 9 us of a 0.11 ms layer (FCN x2, c2). A
    configuration that raises is never cached, so it raises again."""
    args = (fn, x_shape, weight_shape, bias_shape, stride, padding, output_padding, groups,
            dilation, output_size)
    # the shapes are ndarray shapes (tuples of ints); the user's arguments are checked
    if _plain((stride, padding, output_padding, groups, dilation, output_size)):
        return _transposed_params_cached(*args)
    return _transposed_params(*args)


@_parallel.cached(maxsize=256)
def _transposed_params_cached(*args: Any) -> tuple[ConvParams, tuple[int, ...]]:
    return _transposed_params(*args)


def _transposed_params(fn: str, x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                       bias_shape: tuple[int, ...] | None, stride: IntOrTuple,
                       padding: PaddingArg, output_padding: IntOrTuple, groups: int,
                       dilation: IntOrTuple, output_size: IntOrTuple | None,
                       ) -> tuple[ConvParams, tuple[int, ...]]:
    p = _checks.conv_params(fn, x_shape=x_shape, weight_shape=weight_shape,
                            bias_shape=bias_shape, stride=stride, padding=padding,
                            dilation=dilation, groups=groups, transposed=True,
                            output_padding=output_padding, check_empty=output_size is None)
    size = x_shape[2:]
    if output_size is not None:
        if any(p.output_padding):
            raise ValueError(f"{fn}: give output_padding={p.output_padding} or "
                             f"output_size={output_size}, not both")
        want = _checks.int_sequence(fn, "output_size", output_size)
        if len(want) in (p.ndim + 1, p.ndim + 2):
            want = want[-p.ndim:]
        if len(want) != p.ndim:
            raise ValueError(f"{fn}: output_size={output_size} must have {p.ndim} spatial "
                             "entries (optionally preceded by batch and channel sizes)")
        p = ConvParams(p.kernel, p.stride, p.pad, p.dilation, p.groups,
                       p.output_padding_for(fn, size, want))
        _checks.check_elements(fn, "an output", (x_shape[0], weight_shape[1] * p.groups,
                                                 *p.transposed_size(size)),
                               {"output_size": output_size})
    p = _checks.effective_transposed(p, size)
    return p, p.transposed_size(size)


def conv_transpose(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
                   stride: IntOrTuple = 1, padding: PaddingArg = 0,
                   output_padding: IntOrTuple = 0, groups: int = 1, dilation: IntOrTuple = 1,
                   *, output_size: IntOrTuple | None = None, algorithm: str = "auto") -> Array:
    """N-d transposed convolution, exactly ``torch.nn.functional.conv_transpose{1,2,3}d``.

    One-to-many: each input element adds a copy of the kernel, scaled by its value, into the
    output, ``stride`` apart -- a 2x2 input and a 3x3 kernel give a 4x4 output. It equals
    multiplying by the transposed convolution matrix ``C.T`` and equals "insert zeros between
    the inputs, then convolve with the flipped kernel"; its weights are learned.

    Args:
        x: input ``(N, C_in, *S_in)`` or unbatched ``(C_in, *S_in)``; 1-3 spatial dims.
        weight: ``(C_in, C_out/groups, *K)`` (PyTorch's transposed layout).
        bias: optional ``(C_out,)``.
        stride: spacing of the footprints in the output (the up-sampling factor).
        padding: cropped from both sides of the full output (PyTorch: the padding of the
            direct conv being transposed); also per-dim ``(low, high)`` pairs (JAX/ONNX;
            negative entries add zeros, see Convention),
            ``"valid"`` (no crop: ``(in - 1) * stride + dilation * (K - 1) + 1``; Keras and
            JAX's "VALID" give ``in * stride`` when that dilated kernel is shorter than the
            stride -- add ``output_padding = stride - dilation * (K - 1) - 1`` for theirs),
            ``"same"`` (output = input * stride, extra crop on the high
            side: ONNX SAME_UPPER / Keras) and ``"same_lower"`` (ONNX SAME_LOWER).
        output_padding: extra size on the high side, ``< max(stride, dilation)``.
        groups: independent groups of channels.
        dilation: spacing between kernel taps.
        output_size: keyword-only; wanted spatial size (optionally with N, C in front);
            solves ``output_padding``, as PyTorch's module ``forward(x, output_size)``.
        algorithm: keyword-only; ``"auto"`` or one of ``"matrix"``, ``"scatter"``,
            ``"zero_insertion"``, ``"gemm"``, ``"phase"``, ``"direct"`` (compiled loops,
            needs the ``tconv[fast]`` extra) -- all give the same result.

    Returns:
        ``(N, C_out, *S_out)`` (unbatched in, unbatched out), dtype as :func:`conv`.

    Shape:
        ``S_out = (S_in - 1)*stride - low - high + dilation*(K-1) + output_padding + 1``.

    Convention:
        No kernel flip and weight ``(C_in, C_out/g, *K)``, as PyTorch. JAX's
        ``lax.conv_transpose`` needs ``transpose_kernel=True`` and padding
        ``dilation*(K-1) - padding`` to agree; TF/Keras store kernels ``(*K, C_out, C_in)``.
        A negative entry of a ``(low, high)`` pair adds that many zeros before (``low``) or
        after (``high``) the output instead of cropping, as JAX paddings larger than
        ``dilation*(K-1)`` do; with them any size is reachable (``output_padding`` stays
        below ``max(stride, dilation)``; integer and symmetric padding stay non-negative,
        as PyTorch's).
        ``zero_insertion`` multiplies inserted zeros, so an ``inf`` input there yields NaN
        where PyTorch yields 0; the other algorithms match PyTorch on NaN/inf inputs. An
        ``inf`` *weight* meets the zero padding at the borders in ``phase`` and ``direct``
        (NaN there, where PyTorch has inf); ``gemm``, ``scatter`` and ``matrix`` match.

    Raises:
        ValueError, TypeError: for every configuration PyTorch rejects, naming the argument;
            ValueError for an output (or padded or uncropped intermediate) of more than
            ``tconv.MAX_ELEMENTS`` numbers, before anything is allocated.

    Examples:
        >>> import numpy as np
        >>> y = np.arange(1, 5).reshape(1, 1, 2, 2)          # 2x2 input
        >>> w = np.ones((1, 1, 3, 3))                        # 3x3 kernel
        >>> conv_transpose(y, w)                             # 4x4 output
        array([[[[ 1.,  3.,  3.,  2.],
                 [ 4., 10., 10.,  6.],
                 [ 4., 10., 10.,  6.],
                 [ 3.,  7.,  7.,  4.]]]])
        >>> conv_transpose(y, w, stride=2, padding=1, output_padding=1).shape
        (1, 1, 4, 4)
    """
    key = _call_key(x, weight, bias, stride, padding, output_padding, groups, dilation,
                    output_size, algorithm)
    if key is not None:                     # float32/64 arrays and plain arguments
        call = _planned_call(*key)
        xa = cast(np.ndarray, x)
        return call.run(xa if call.batched else xa[None], cast(np.ndarray, weight),
                        cast("np.ndarray | None", bias))
    fn = "conv_transpose"
    if not isinstance(algorithm, str) or (algorithm != "auto" and algorithm not in _IMPL):
        raise ValueError(f"{fn}: algorithm={algorithm!r} is not one of {ALGORITHMS}")
    xb, wa, ba, batched, dtype, out_dtype = _prepare(fn, x, weight, bias)
    call = _make_call(xb.shape, wa.shape, None if ba is None else ba.shape, dtype, out_dtype,
                      batched, stride, padding, output_padding, groups, dilation, output_size,
                      algorithm, _cost.constants(), _native.available())
    return call.run(xb, wa, ba)


@dataclass(frozen=True)
class _Call:
    """A checked ``conv_transpose`` call: its parameters, output size and the path that
    runs it (the cost model's decision for ``"auto"``, made once)."""

    p: ConvParams
    out: tuple[int, ...]
    batched: bool
    dtype: np.dtype
    out_dtype: np.dtype
    #: ``"empty"`` (no images), ``"scatter"``, ``"single_term"``, ``"single_product"``
    #: or ``"impl"`` (:data:`_IMPL`'s ``algorithm``)
    route: str
    algorithm: str

    def run(self, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        """The call's result for the batched input ``x``."""
        p, out, dtype = self.p, self.out, self.dtype
        xb = x.astype(dtype, copy=False)
        wa = w.astype(dtype, copy=False)
        route = self.route
        if route == "empty":
            y = np.zeros((0, wa.shape[1] * p.groups, *out), dtype=dtype)
        elif route == "scatter":
            # a small layer: one batched product and a one-call col2im
            y = gemm._scatter_sum(xb, wa, p, out)
        elif route == "single_term":
            # depthwise with one term an output: a multiply a tap
            y = _single_term(xb, wa, p, out)
        elif route == "single_product":
            # gemm with nothing for col2im to add: its product alone
            y = _single_product(xb, wa, p, out)
        else:
            y = _IMPL[self.algorithm](xb, wa, p, out)
        return _finish(y, bias, self.batched, dtype, self.out_dtype)


def _call_key(x: object, weight: object, bias: object, *args: object) -> tuple | None:
    """The arguments of :func:`_planned_call` for float32/64 arrays of one dtype (``bias``
    too, or None) and ranks that fit, and plain arguments (``args``: stride ... algorithm),
    else None: those calls are checked on every call."""
    if type(x) is not np.ndarray or type(weight) is not np.ndarray:
        return None
    dtype = x.dtype
    if (dtype not in (_checks._F32, _checks._F64) or weight.dtype != dtype
            or weight.ndim not in (3, 4, 5) or x.ndim not in (weight.ndim - 1, weight.ndim)
            or not _plain(args)):
        return None
    if bias is None:
        bias_shape = None
    elif type(bias) is np.ndarray and bias.dtype == dtype:
        bias_shape = bias.shape
    else:
        return None
    return (x.shape, weight.shape, bias_shape, dtype, *args, _cost.constants(),
            _native.available())


@_parallel.cached(maxsize=256)
def _planned_call(x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                  bias_shape: tuple[int, ...] | None, dtype: np.dtype, stride: Any,
                  padding: Any, output_padding: Any, groups: Any, dilation: Any,
                  output_size: Any, algorithm: Any, c: _cost.Constants, compiled: bool
                  ) -> _Call:
    """:func:`_make_call` of arrays of these shapes and one float dtype, remembered (a model
    runs the same layers call after call); an invalid call raises and is not remembered."""
    fn = "conv_transpose"
    if algorithm != "auto" and algorithm not in _IMPL:
        raise ValueError(f"{fn}: algorithm={algorithm!r} is not one of {ALGORITHMS}")
    batched = len(x_shape) == len(w_shape)
    return _make_call(x_shape if batched else (1, *x_shape), w_shape, bias_shape, dtype, dtype,
                      batched, stride, padding, output_padding, groups, dilation, output_size,
                      algorithm, c, compiled)


_cost._DEPENDENT_CACHES.append(_planned_call)


def _make_call(x_shape: tuple[int, ...], w_shape: tuple[int, ...],
               bias_shape: tuple[int, ...] | None, dtype: np.dtype, out_dtype: np.dtype,
               batched: bool, stride: Any, padding: Any, output_padding: Any, groups: Any,
               dilation: Any, output_size: Any, algorithm: str, c: _cost.Constants,
               compiled: bool) -> _Call:
    """Check a call with a batched input of ``x_shape`` and plan its path (``c`` and
    ``compiled``: the cost model's constants and whether the compiled kernels may run)."""
    fn = "conv_transpose"
    p, out = transposed_params(fn, tuple(x_shape), tuple(w_shape), bias_shape, stride,
                               padding, output_padding, groups, dilation, output_size)
    if algorithm == "auto":
        decision = _cost.decide(x_shape, w_shape, p, dtype, c, compiled)
        algo = decision.algorithm
    else:
        decision, algo = None, algorithm
    if x_shape[0] == 0:
        route = "empty"
    elif decision is not None and decision.scatter:
        route = "scatter"
    elif decision is not None and algo == "gemm" and _cost.single_term(x_shape, w_shape, p):
        route = "single_term"
    elif decision is not None and algo == "gemm" and _cost.single_product(x_shape, w_shape,
                                                                          p):
        route = "single_product"
    else:
        route = "impl"
    return _Call(p, out, batched, dtype, out_dtype, route, algo)
