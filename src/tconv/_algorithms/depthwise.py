"""Depthwise conv_transpose (one input and one output channel a group) and both gradients,
by sub-pixel phases, for any kernel, stride, dilation and padding in 1-3 spatial dims.

Per spatial dim, the output ``o = m*s + r`` (phase ``r < s``) receives exactly the taps
``t`` with ``t*d - lo == r (mod s)``, each reading the input at ``m + off_t``::

    y[n, c, m*s + r] = sum_{t in taps(r)} w[c, t] * x[n, c, m + off_t]
    off_t = (r_t + lo - t*d) / s,    r_t = (t*d - lo) mod s

(``lo`` the low crop; products per dim). The gradients are the same sums read the other way
(:mod:`tconv.grad`)::

    grad_x[n, c, i] = sum_t w[c, t] * gy[n, c, (i - off_t)*s + r_t]
    grad_w[c, t]    = sum_{n, i} x[n, c, i] * gy[n, c, (i - off_t)*s + r_t]

The compiled path (numba) runs one plane ``(n, c)`` at a time. Forward: each output row
sums its taps into a phase-major row buffer (``s`` runs of ``m`` outputs, contiguous and
vectorized), then interleaves it into ``y`` -- every output written once; where the
kernel is longer along the last dim than those runs, each input instead adds its weighted
kernel (a contiguous vector) to the plane of ``y``, held in cache. Where the runs are
short (small planes) and the layer has channels enough, the pass runs with the channels
innermost instead: ``x`` copied channels-last, each tap of an output pixel one multiply-add
of ``C`` numbers, each output row written out channel by channel. Backward: the
plane of ``grad_y`` is copied phase-major along its last dim, then one pass over the
input rows computes ``grad_x`` and the plane's share of ``grad_w`` from the same runs.

Without numba the gradients are one broadcast multiply-add and one ``einsum`` a tap, on
a window of ``x`` and the strided view of ``grad_y`` that tap reaches; the forward pass
is ``phase``'s depthwise runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from .._checks import ConvParams
from . import _native, _parallel

__all__ = ["applies", "preferred", "reason", "scatters", "channels_inner",
           "backward_preferred", "conv_transpose", "backward", "MIN_RUN", "MIN_BACKWARD_RUN",
           "NUMPY_MIN_TAP_NUMBERS", "LAST_MIN_CHANNELS", "LAST_MAX_TAPS", "LAST_SHORT_RUN",
           "LAST_MIN_VECTOR", "short_rows", "SHORT_ROW", "SHORT_ROW_CHANNELS",
           "SHORT_ROW_OUTPUTS"]

#: multiply-adds from which planes are shared among the pool's threads
PARALLEL_MACS = 1 << 18


#: the compiled forward pass from this many outputs a phase along the last dim (its
#: loops run over those runs; shorter ones cost more in loop overhead than the grid
#: loops of ``direct`` or the sub-pixel products of ``phase``)
MIN_RUN = 24
#: shorter runs take the channels-innermost pass (``dw_last``: one vector of channels a
#: tap) when the layer has at least this many channels and at most
#: :data:`LAST_MAX_TAPS` taps a phase (more taps: each costs a pass over the pixel's
#: channels, where the row loops keep their sums in registers) -- runs of at most
#: :data:`LAST_SHORT_RUN` outputs always; longer ones in 1-D and 2-D layers of at least
#: :data:`LAST_MIN_VECTOR` channels (a full vector register of float32) whose kernel is
#: not a stamp longer than the runs (:func:`scatters`: long contiguous adds). (In 3-D
#: the row loops and the per-tap multiplies keep up from runs of 13.)
LAST_MIN_CHANNELS = 8
LAST_MAX_TAPS = 16
LAST_SHORT_RUN = 12
LAST_MIN_VECTOR = 16
#: multiply-adds from which ``dw_last`` shares its output rows among the pool's threads
LAST_PARALLEL_MACS = 1 << 20
#: layers of ``direct``'s one-pass 2-D kernel (column stride 2, at most 2 x 2 taps an
#: output) take the channels-innermost pass instead (:func:`short_rows`) when a phase's row
#: holds at most this many outputs: the one-pass loop then fills at most one vector
#: register a row and pays its per-row set-up every few outputs, where ``dw_last``'s
#: vectors run along the channels ...
SHORT_ROW = 8
#: ... given this many channels (four float32 vectors; fewer, and each tap's vector work
#: is not worth its loop) ...
SHORT_ROW_CHANNELS = 32
#: ... and this many outputs (below, the channels-last copy's fixed cost decides)
SHORT_ROW_OUTPUTS = 8192
#: the compiled gradients of a stride-1 layer from this many input positions along the
#: last dim (shorter rows: ``direct``'s grid loops; any stride above 1 always)
MIN_BACKWARD_RUN = 8
#: the NumPy gradients (a few whole-array calls a kernel tap) from this many numbers in
#: ``x``; below, im2col and one product (``tconv.grad``) pay less call overhead
NUMPY_MIN_TAP_NUMBERS = 32768


def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams) -> bool:
    """The layer is depthwise: one input and one output channel a group."""
    return len(x_shape) > 2 and x_shape[1] == p.groups and w_shape[1] == 1


def run_length(x_shape: tuple[int, ...], p: ConvParams) -> int:
    """Outputs of the longest phase along the last dim."""
    return -(-p.transposed_size(x_shape[2:])[-1] // p.stride[-1])


def preferred(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams) -> bool:
    """The compiled forward pass of this module runs the layer: depthwise, numba
    available, at least :data:`MIN_RUN` outputs a phase along the last dim, a kernel
    longer than that (:func:`scatters`) or the channels-innermost pass
    (:func:`channels_inner`), and not a layer of ``direct``'s one-pass 2-D kernel
    (column stride 2, at most 2 x 2 taps an output), which is faster there, unless its
    rows are short (:func:`short_rows`)."""
    if not (applies(x_shape, w_shape, p) and _native.available()) or x_shape[0] == 0:
        return False
    return _preferred_shape(tuple(x_shape), p)


@_parallel.cached(maxsize=256)
def _preferred_shape(x_shape: tuple[int, ...], p: ConvParams) -> bool:
    """:func:`preferred`'s rules of shape, remembered: every call of the layer asks. A
    one-tap kernel with short rows is not this module's: ``conv_transpose``'s one-term
    path is one broadcast multiply, where the row loops pay their set-up a few outputs
    and the channels-innermost pass two transposes for nothing to sum."""
    if run_length(x_shape, p) < MIN_RUN and (_forward_pass(x_shape, p) == "rows"
                                             or math.prod(p.kernel) == 1):
        return False
    from . import direct

    out = p.transposed_size(x_shape[2:])
    return (direct._depthwise_tables(tuple(x_shape[2:]), out, p) is None
            or short_rows(x_shape, p))


@_parallel.cached(maxsize=256)
def _forward_pass(x_shape: tuple[int, ...], p: ConvParams) -> str:
    """The compiled forward pass of a depthwise layer: ``"last"`` (:func:`channels_inner`),
    ``"stamps"`` (:func:`scatters`) or ``"rows"``."""
    if channels_inner(x_shape, p):
        return "last"
    return "stamps" if scatters(x_shape, p) else "rows"


@_parallel.cached(maxsize=256)
def short_rows(x_shape: tuple[int, ...], p: ConvParams) -> bool:
    """A layer of ``direct``'s one-pass 2-D kernel that the channels-innermost pass runs
    faster: at most :data:`SHORT_ROW` outputs a phase along the last dim, at least
    :data:`SHORT_ROW_CHANNELS` channels and :data:`SHORT_ROW_OUTPUTS` outputs in all
    (remembered: every call of such a layer asks)."""
    n, c = x_shape[:2]
    return (run_length(x_shape, p) <= SHORT_ROW and c >= SHORT_ROW_CHANNELS
            and n * c * math.prod(p.transposed_size(x_shape[2:])) >= SHORT_ROW_OUTPUTS
            and channels_inner(x_shape, p))


def channels_inner(x_shape: tuple[int, ...], p: ConvParams) -> bool:
    """The forward pass runs with the channels innermost (``dw_last``): fewer than
    :data:`MIN_RUN` outputs a phase along the last dim (row loops that short run mostly
    overhead), at least :data:`LAST_MIN_CHANNELS` channels and at most
    :data:`LAST_MAX_TAPS` taps a phase; runs longer than :data:`LAST_SHORT_RUN` only in
    1-D and 2-D, with :data:`LAST_MIN_VECTOR` channels and no longer kernel stamp; never
    a layer with gaps between its stamps (:func:`gaps`)."""
    run = run_length(x_shape, p)
    if run >= MIN_RUN or x_shape[1] < LAST_MIN_CHANNELS or gaps(p):
        return False
    size = tuple(x_shape[2:])
    dims = _dims(size, p.transposed_size(size), p)
    if math.prod(dm.j for dm in dims) > LAST_MAX_TAPS:
        return False
    return run <= LAST_SHORT_RUN or (p.ndim <= 2 and x_shape[1] >= LAST_MIN_VECTOR
                                     and not scatters(x_shape, p))


def reason(x_shape: tuple[int, ...], p: ConvParams) -> str:
    """Why :func:`preferred` holds, for ``explain_algorithm``."""
    m = run_length(x_shape, p)
    if channels_inner(x_shape, p):
        return (f"depthwise, {m} outputs a phase along the last dim (< {MIN_RUN}) and "
                f"{x_shape[1]} channels: compiled loops with the channels innermost, one "
                "vector of channels a tap")
    if gaps(p) and m < MIN_RUN:
        return (f"depthwise, kernel {p.kernel} shorter than stride {p.stride} along every "
                "dim: compiled loops add each input's kernel to its outputs after one zero "
                "fill, never visiting the outputs no tap reaches")
    if scatters(x_shape, p):
        return (f"depthwise, a kernel of {p.kernel[-1]} along the last dim longer than a "
                f"phase's {m} outputs: compiled loops add each input's kernel to its "
                "outputs, a plane at a time in cache")
    return (f"depthwise, {m} outputs a phase along the last dim (>= {MIN_RUN}): compiled "
            "loops over planes, each output row summed phase by phase and written once")


def backward_preferred(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams
                       ) -> bool:
    """:func:`backward` computes the layer's gradients: depthwise, and with numba a
    stride above 1 in some dim or at least :data:`MIN_BACKWARD_RUN` input positions along
    the last dim; without it, at least :data:`NUMPY_MIN_TAP_NUMBERS` input numbers (its
    NumPy calls, a few a tap, then outweigh their overhead)."""
    return applies(x_shape, w_shape, p) and _backward_rule(x_shape, p.stride,
                                                           _native.available())


def _backward_rule(x_shape: tuple[int, ...], stride: tuple[int, ...], compiled: bool
                   ) -> bool:
    if not compiled:
        return x_shape[0] * x_shape[1] * math.prod(x_shape[2:]) >= NUMPY_MIN_TAP_NUMBERS
    return max(stride) > 1 or x_shape[-1] >= MIN_BACKWARD_RUN


def backward_text(batch: int, c_in: int, size: tuple[int, ...], stride: tuple[int, ...],
                  compiled: bool) -> str | None:
    """``explain_algorithm``'s backward line for a depthwise layer whose gradients
    :func:`backward` computes (None when it does not)."""
    if not _backward_rule((batch, c_in, *size), stride, compiled):
        return None
    if compiled:
        return ("backward: both gradients by the depthwise compiled loops, one pass over "
                "each plane of grad_out copied phase-major")
    return ("backward: both gradients by the depthwise NumPy path, one multiply-add and "
            "one einsum a kernel tap")


@dataclasses.dataclass(frozen=True)
class _Dim:
    """One spatial dim's phase tables.

    ``r[t]``, ``off[t]``: tap ``t``'s output phase and input offset. ``tap[r, j]``: the
    ``j``-th tap of phase ``r`` (``k``: none, a zero weight), ``toff[r, j]`` its offset.
    ``count[r]``: outputs of phase ``r``; ``m``: outputs of the longest phase."""

    size: int
    out: int
    k: int
    s: int
    r: np.ndarray
    off: np.ndarray
    tap: np.ndarray
    toff: np.ndarray
    count: np.ndarray
    m: int

    @property
    def j(self) -> int:
        return self.tap.shape[1]


def _dim(size: int, out: int, k: int, s: int, d: int, lo: int) -> _Dim:
    taps = np.arange(k)
    r = (taps * d - lo) % s
    off = (r + lo - taps * d) // s
    j = max(1, int(np.bincount(r, minlength=s).max()))
    tap = np.full((s, j), k, dtype=np.int64)
    toff = np.zeros((s, j), dtype=np.int64)
    fill = np.zeros(s, dtype=np.int64)
    for t in range(k):
        tap[r[t], fill[r[t]]], toff[r[t], fill[r[t]]] = t, off[t]
        fill[r[t]] += 1
    count = np.maximum(0, -(-(out - np.arange(s)) // s))
    return _Dim(size, out, k, s, r.astype(np.int64), off.astype(np.int64), tap, toff,
                count.astype(np.int64), -(-out // s))


@_parallel.cached(maxsize=64)
def _dims(size: tuple[int, ...], out: tuple[int, ...], p: ConvParams) -> tuple[_Dim, ...]:
    return tuple(_dim(i, o, k, s, d, lo) for i, o, k, s, d, lo
                 in zip(size, out, p.kernel, p.stride, p.dilation, p.pad_lo))


# -- NumPy ------------------------------------------------------------------------------------

def _numpy_conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                          ) -> np.ndarray:
    """The NumPy forward: ``phase``'s depthwise runs (channel blocks on the pool)."""
    from . import phase

    return phase.conv_transpose(x, w, p, out)


def _numpy_backward(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Both gradients one tap at a time: the tap's window of ``x`` and the block of
    ``gy``'s phase it reaches (``gy[.., (i - off)*s + r]``) give ``grad_x += w[c, t] *
    block`` and ``grad_w[c, t] = sum(x_window * block)``. ``gy`` is first copied
    phase-major, ``(N, C, s_0, s_1, .., m_0, m_1, ..)``, so every block is a dense window
    (a strided view would read a cache line an element at large strides)."""
    n, c, *size = x.shape
    out = tuple(gy.shape[2:])
    dims = _dims(tuple(size), out, p)
    nd = len(dims)
    wr = w.reshape(c, *p.kernel)
    bshape = (c,) + (1,) * nd
    gx = np.zeros(x.shape, dtype=x.dtype)
    gw = np.zeros((c, *p.kernel), dtype=x.dtype)
    # (N, C, m_0, s_0, m_1, s_1, ..) -> (N, C, s_0, s_1, .., m_0, m_1, ..)
    full = np.zeros((n, c, *(dm.m * dm.s for dm in dims)), dtype=gy.dtype)
    full[(slice(None), slice(None), *(slice(0, o) for o in out))] = gy
    split = full.reshape(n, c, *itertools.chain.from_iterable((dm.m, dm.s) for dm in dims))
    order = (0, 1, *(3 + 2 * a for a in range(nd)), *(2 + 2 * a for a in range(nd)))
    phases = np.ascontiguousarray(split.transpose(order))
    sub = "nc" + "abdefg"[:nd]
    for taps in itertools.product(*(range(k) for k in p.kernel)):
        spans = []
        for dm, t in zip(dims, taps):
            r, off = int(dm.r[t]), int(dm.off[t])
            # inputs i = m + off for the phase's outputs m < count[r]
            lo, hi = max(0, off), min(dm.size, int(dm.count[r]) + off)
            if hi <= lo:
                break
            spans.append((lo, hi, off, r))
        else:
            xi = (slice(None), slice(None), *(slice(lo, hi) for lo, hi, _, _ in spans))
            gi = (slice(None), slice(None), *(r for _, _, _, r in spans),
                  *(slice(lo - off, hi - off) for lo, hi, off, _ in spans))
            block = phases[gi]
            gx[xi] += block * wr[(slice(None), *taps)].reshape(bshape)
            gw[(slice(None), *taps)] = np.einsum(f"{sub},{sub}->c", x[xi], block)
    return gx, gw.reshape(w.shape)


def _numpy_gradients(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams
                     ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_numpy_backward` on ranges of channels, one a thread when worth sharing."""
    c = x.shape[1]
    pieces = min(c, _parallel.num_threads()) if gy.size >= PARALLEL_MACS else 1
    if pieces <= 1:
        return _numpy_backward(gy, x, w, p)
    gx, gw = np.empty(x.shape, dtype=x.dtype), np.empty(w.shape, dtype=x.dtype)

    def run(b: tuple[int, int]) -> None:
        c0, c1 = b
        gx[:, c0:c1], gw[c0:c1] = _numpy_backward(gy[:, c0:c1], x[:, c0:c1], w[c0:c1], p)

    _parallel.for_each(run, _ranges(c, pieces))
    return gx, gw


# -- compiled ---------------------------------------------------------------------------------

@_parallel.cached(maxsize=1)
def _unit_dim() -> _Dim:
    """A unit dim (size 1, kernel 1, stride 1), remembered: its tables cost as much to build
    as a small layer's whole pass."""
    return _dim(1, 1, 1, 1, 1, 0)


def _as3(dims: tuple[_Dim, ...]) -> tuple[_Dim, ...]:
    """Dims padded in front with unit dims (kernel 1, stride 1) to three."""
    return (_unit_dim(),) * (3 - len(dims)) + tuple(dims)


@_parallel.cached(maxsize=64)
def _tables(size: tuple[int, ...], out: tuple[int, ...], p: ConvParams
            ) -> tuple[np.ndarray, ...]:
    """The compiled kernels' tables: the two outer dims' per-phase taps and offsets, the
    last dim's per-tap phase and offset, and its phase counts."""
    d0, d1, d2 = _as3(_dims(size, out, p))
    return (np.where(d0.tap == d0.k, -1, d0.tap), d0.toff,
            np.where(d1.tap == d1.k, -1, d1.tap), d1.toff,
            d2.r, d2.off, d2.count)


def _ranges(total: int, pieces: int) -> list[tuple[int, int]]:
    step = -(-total // max(1, pieces))
    return [(a, min(a + step, total)) for a in range(0, total, step)]


def _shape3(a: np.ndarray) -> np.ndarray:
    """``(N*C, *spatial)`` with unit dims in front to three spatial dims (a view)."""
    spatial = a.shape[2:]
    return a.reshape(a.shape[0] * a.shape[1], *((1,) * (3 - len(spatial))), *spatial)


def scatters(x_shape: tuple[int, ...], p: ConvParams) -> bool:
    """The forward pass adds each input's kernel to its outputs (``dw_scatter``): the
    kernel's last dim is longer than a phase's run of outputs along it (then the stamps
    are the longer vectors), or the layer has gaps (:func:`gaps`) and its rows are short
    (fewer than :data:`MIN_RUN` outputs a phase along the last dim: on longer rows the row
    loops write each output once, where the stamps add a zero fill of the output)."""
    run = run_length(x_shape, p)
    return p.kernel[-1] > run or (run < MIN_RUN and gaps(p))


def gaps(p: ConvParams) -> bool:
    """A 2-D or 3-D layer whose dilated kernel is shorter than the stride along every dim:
    outputs between the stamps that no tap reaches. The stamps pass writes those with one
    zero fill and each input's few terms once; the row loops and the channels-innermost
    pass visit every output, each a table walk (the channels-innermost pass also a vector
    of ``C`` numbers, zero or not)."""
    return p.ndim > 1 and all(d * (k - 1) + 1 < s
                              for k, s, d in zip(p.kernel, p.stride, p.dilation))


def _as3t(values: tuple[int, ...], fill: int) -> tuple[int, ...]:
    return (fill,) * (3 - len(values)) + tuple(values)


def _compiled_forward(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...],
                      scatter: bool | None = None) -> np.ndarray:
    n, c = x.shape[:2]
    kind = _forward_pass(x.shape, p) if scatter is None else "stamps" if scatter else "rows"
    if kind == "last":
        return _channels_last_forward(x, w, p, out)
    y = np.empty((n, c, *out), dtype=x.dtype)
    planes = n * c
    if planes == 0 or math.prod(out) == 0:
        return y
    tables = _tables(tuple(x.shape[2:]), out, p)
    d0, d1, d2 = _as3(_dims(tuple(x.shape[2:]), out, p))
    x3, y3 = _shape3(np.ascontiguousarray(x)), _shape3(y)
    w3 = np.ascontiguousarray(w.reshape(c, *((1,) * (3 - p.ndim)), *p.kernel))
    work = planes * math.prod(out) * d0.j * d1.j * d2.j
    pieces = min(planes, _parallel.num_threads()) if work >= PARALLEL_MACS else 1
    if kind == "stamps":
        kernel = _native.kernels()["dw_scatter"]
        geo = [np.array(v, dtype=np.int64) for v in (
            (d0.s, d1.s, d2.s), _as3t(p.dilation, 1), _as3t(p.pad_lo, 0))]
        _parallel.for_each(lambda r: kernel(x3, w3, y3, *geo, c, r[0], r[1]),
                           _ranges(planes, pieces), parallel=pieces > 1)
        return y
    kernel = _native.kernels()["dw_forward"]
    _parallel.for_each(
        lambda r: kernel(x3, w3, y3, *tables, c, r[0], r[1],
                         _parallel.scratch("dw_row", d2.s * d2.m, x.dtype)),
        _ranges(planes, pieces), parallel=pieces > 1)
    return y


@_parallel.cached(maxsize=64)
def _last_tables(p: ConvParams) -> tuple[object, ...]:
    """``dw_last``'s per-dim phase tables (:func:`.phase.all_phase_taps`; unit dims in
    front to three) and strides."""
    from .phase import all_phase_taps

    k, s = _as3t(p.kernel, 1), _as3t(p.stride, 1)
    d, lo = _as3t(p.dilation, 1), _as3t(p.pad_lo, 0)
    tabs = [t for a in range(3) for t in all_phase_taps(k[a], s[a], d[a], lo[a])]
    return (*tabs, *s)


def _channels_last_forward(x: np.ndarray, w: np.ndarray, p: ConvParams,
                           out: tuple[int, ...]) -> np.ndarray:
    """The forward pass with the channels innermost (``dw_last``): ``x`` copied
    channels-last once, then every tap of an output pixel is one multiply-add of ``C``
    numbers -- vectors as long as the layer has channels, however small its planes."""
    n, c, *size = x.shape
    y = np.empty((n, c, *out), dtype=x.dtype)
    if n * c == 0 or math.prod(out) == 0:
        return y
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(n, *_as3t(tuple(size), 1), c)
    wl = np.ascontiguousarray(w.reshape(c, -1).T).reshape(*_as3t(p.kernel, 1), c)
    o3 = _as3t(out, 1)
    rows = n * o3[0] * o3[1]
    work = n * c * math.prod(out) * math.prod(p.kernel) // math.prod(p.stride)
    pieces = min(rows, _parallel.num_threads()) if work >= LAST_PARALLEL_MACS else 1
    kernel = _native.kernels()["dw_last"]
    y3 = y.reshape(n, c, *o3)
    pairs = math.prod(_as3t(p.kernel, 1)[:2])
    _parallel.for_each(
        lambda r: kernel(xl, wl, *_last_tables(p), y3, r[0], r[1],
                         _parallel.scratch("dw_tile", o3[2] * c, x.dtype).reshape(o3[2], c),
                         _parallel.scratch("dw_pairs", 2 * pairs, np.int64).reshape(pairs, 2)),
        _ranges(rows, pieces), parallel=pieces > 1)
    return y


def _compiled_backward(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams
                       ) -> tuple[np.ndarray, np.ndarray]:
    n, c, *size = x.shape
    out = tuple(gy.shape[2:])
    gx = np.zeros(x.shape, dtype=x.dtype)
    if n * c == 0 or math.prod(out) == 0 or math.prod(size) == 0:
        return gx, np.zeros(w.shape, dtype=x.dtype)
    tables = _tables(tuple(size), out, p)
    d0, d1, d2 = _as3(_dims(tuple(size), out, p))
    kernel = _native.kernels()["dw_backward"]
    x3, g3, gx3 = _shape3(np.ascontiguousarray(x)), _shape3(np.ascontiguousarray(gy)), \
        _shape3(gx)
    w3 = np.ascontiguousarray(w.reshape(c, *((1,) * (3 - p.ndim)), *p.kernel))
    ntap = math.prod(p.kernel)
    work = n * c * math.prod(size) * ntap
    threads = _parallel.num_threads() if work >= PARALLEL_MACS else 1
    # split channels among the threads where there are enough, else images (each range
    # of images sums its own partial weight gradient)
    if c >= threads or n == 1:
        items = [(0, n, c0, c1) for c0, c1 in _ranges(c, min(c, threads))]
    else:
        items = [(n0, n1, 0, c) for n0, n1 in _ranges(n, min(n, threads))]
    parts = np.zeros((len({it[0] for it in items}), c, ntap), dtype=x.dtype)
    starts = sorted({it[0] for it in items})
    plane = d0.out * d1.out * d2.s * d2.m

    def run(item: tuple[int, int, int, int]) -> None:
        n0, n1, c0, c1 = item
        kernel(x3, g3, w3, gx3, parts[starts.index(n0)], *tables, c, n0, n1, c0, c1,
               _parallel.scratch("dw_gy", plane, x.dtype).reshape(d0.out, d1.out, -1),
               x.dtype.type(0))

    _parallel.for_each(run, items, parallel=len(items) > 1)
    return gx, parts.sum(axis=0).reshape(w.shape)


# -- entry points -----------------------------------------------------------------------------

def _compiled(dtype: np.dtype) -> bool:
    return _native.available() and dtype in (np.float32, np.float64)


@_native.guarded(_numpy_conv_transpose)
def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    """``y (N, C, *out)`` of a depthwise layer (``C`` groups of one channel)."""
    if _compiled(x.dtype):
        return _compiled_forward(x, w, p, out)
    return _numpy_conv_transpose(x, w, p, out)


@_native.guarded(_numpy_gradients)
def backward(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams
             ) -> tuple[np.ndarray, np.ndarray]:
    """``(grad_x, grad_w)`` of a depthwise ``y = conv_transpose(x, w)`` given ``gy``."""
    if _compiled(x.dtype):
        return _compiled_backward(gy, x, w, p)
    return _numpy_gradients(gy, x, w, p)
