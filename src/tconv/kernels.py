"""Up-sampling kernels and initialisations for (transposed) convolutions -- NumPy only.

The identity behind :func:`interpolation_kernel`: with source coordinate
``src(o) = (o + 1/2)/s - 1/2`` (PyTorch's ``align_corners=False``), interpolation is

    out[o] = sum_i x[i] * W(src(o) - i)              W: nearest box, tent, or Keys cubic

and a stride-``s`` transposed convolution is ``out[o] = sum_i x[i] * w[o - i*s + p]``. The
two agree when ``w[t] = W((t - p + 1/2)/s - 1/2)``: a sampled interpolation kernel, centred
by the padding ``p``. They differ only where PyTorch clamps an out-of-range source index
to the edge (``x[-1] -> x[0]``) while the transposed convolution sees zeros: a band of
``border`` outputs on each side, computed here exactly with rational arithmetic.

ICNR (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution") sets the
``s**d`` sub-kernels that a pixel shuffle interleaves to one shared kernel, so that at
initialisation the layer is "conv, then nearest-neighbour up-sampling": no checkerboard.
:func:`icnr_transpose` is the same idea for a transposed convolution: every output phase
sees the same sub-kernel, so a constant input gives a constant (interior) output.

Two exact re-writings of a transposed convolution, used by ``tconv.nn.convert``::

    conv_transpose(x, w) == crop(pixel_shuffle(conv(pad(x), W_phase)))     subpixel_form
    conv_transpose(x, w) == conv(pad(insert_zeros(x)), flip(swap(w)))      zero_insertion_form

and :func:`interpolation_phases`, the sub-pixel form of the interpolation kernels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import _checks
from ._typing import Array, IntOrTuple
from .interpolate import CUBIC_A as _CUBIC_A
from .interpolate import keys_cubic

__all__ = [
    "INITS",
    "InterpolationKernel",
    "SubPixelForm",
    "ZeroInsertionForm",
    "bilinear_kernel",
    "icnr",
    "icnr_transpose",
    "init_weight",
    "interpolation_kernel",
    "interpolation_phases",
    "subpixel_form",
    "zero_insertion_form",
]

#: ``mode`` names accepted by :func:`interpolation_kernel`, mapped to the kernel family.
_MODES = {"nearest": "nearest", "linear": "linear", "bilinear": "linear",
          "trilinear": "linear", "bicubic": "cubic", "cubic": "cubic"}

#: PyTorch's cubic convolution coefficient (:data:`tconv.interpolate.CUBIC_A`), exact
CUBIC_A = Fraction(_CUBIC_A)


def _tent(u: Fraction) -> Fraction:
    u = abs(u)
    return 1 - u if u < 1 else Fraction(0)


def _cubic(u: Fraction, a: Fraction = CUBIC_A) -> Fraction:
    return Fraction(keys_cubic(u, a))


def _box(u: Fraction) -> Fraction:
    # nearest: out[o] = x[floor(o/s)], i.e. W(src - i) = 1 for -1/2 <= src - i < 1/2
    return Fraction(1) if Fraction(-1, 2) <= u < Fraction(1, 2) else Fraction(0)


_WEIGHT = {"nearest": _box, "linear": _tent, "cubic": _cubic}
_RADIUS = {"linear": 1, "cubic": 2}


def _src(o: int, s: int) -> Fraction:
    return Fraction(2 * o + 1, 2 * s) - Fraction(1, 2)


def _kernel_1d(family: str, s: int) -> tuple[list[Fraction], int]:
    """Taps and low padding of the transposed conv reproducing ``family`` at scale ``s``."""
    if family == "nearest":
        return [Fraction(1)] * s, 0
    radius = _RADIUS[family]
    # taps t with |t - p + 1/2 - s/2| < radius*s; a symmetric kernel of odd length for odd s
    size = 2 * radius * s - s % 2
    pad = (size - s) // 2
    weight = _WEIGHT[family]
    return [weight(Fraction(2 * (t - pad) + 1 - s, 2 * s)) for t in range(size)], pad


def _border(family: str, s: int) -> int:
    """Outputs per side whose PyTorch value uses a clamped (out-of-range) source index.

    By the symmetry ``src(s*n - 1 - o) = n - 1 - src(o)`` the high side mirrors the low one,
    so only the low side is scanned: output ``o`` differs when the taps ``i < 0`` carry a
    non-zero total weight.
    """
    if family == "nearest":
        return 0
    radius = _RADIUS[family]
    weight = _WEIGHT[family]
    last = -1
    for o in range(radius * s + s):       # beyond this, every tap index is >= 0
        src = _src(o, s)
        lo = math.floor(src) - radius + 1
        mass = sum((weight(src - i) for i in range(lo, 0)), Fraction(0))
        if mass != 0:
            last = o
    return last + 1


@dataclass(frozen=True)
class InterpolationKernel:
    """A transposed convolution performing fixed interpolation; see :func:`interpolation_kernel`.

    Attributes:
        mode: the kernel family, ``"nearest"``, ``"linear"`` or ``"cubic"``.
        scale: the integer up-sampling factor per spatial dim.
        kernel_1d: the 1-D taps per spatial dim (float64).
        kernel: their outer product, shape ``K`` (float64).
        stride: equal to ``scale``.
        padding: ``(low, high)`` crop per spatial dim (PyTorch ``padding``; symmetric here).
        output_padding: per spatial dim (always 0: the output is exactly ``scale * input``).
        border: outputs per side and spatial dim that differ from PyTorch's clamped edge.
    """

    mode: str
    scale: tuple[int, ...]
    kernel_1d: tuple[Array, ...]
    kernel: Array
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    border: tuple[int, ...]

    def weight(self, channels: int) -> Array:
        """The depthwise transposed-conv weight ``(channels, 1, *K)`` (use ``groups=channels``).

        Examples:
            >>> interpolation_kernel("nearest", 2, ndim=1).weight(3).shape
            (3, 1, 2)
        """
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"InterpolationKernel.weight: channels={channels!r} must be a "
                             "positive int")
        return np.broadcast_to(self.kernel, (channels, 1, *self.kernel.shape)).copy()

    @property
    def interior(self) -> tuple[slice, ...]:
        """Spatial slices of the output that equal PyTorch's interpolation exactly."""
        return tuple(slice(b, -b if b else None) for b in self.border)


def interpolation_kernel(mode: str, scale: IntOrTuple, ndim: int = 2) -> InterpolationKernel:
    """The transposed convolution that performs nearest, (bi/tri)linear or bicubic up-sampling.

    A stride-``scale`` transposed convolution whose kernel is the sampled interpolation
    weight reproduces ``torch.nn.functional.interpolate(x, scale_factor=scale, mode=mode,
    align_corners=False)`` exactly, except in a band of ``border`` outputs at each edge where
    PyTorch repeats the edge sample and the transposed convolution sees zeros. Used
    depthwise (``groups=C``), it is FCN's bilinear initialisation of a learnable up-sampler.

    Args:
        mode: ``"nearest"``, ``"linear"`` / ``"bilinear"`` / ``"trilinear"`` (one family,
            any ``ndim``), or ``"bicubic"`` / ``"cubic"`` (cubic convolution, ``a=-0.75``).
        scale: integer up-sampling factor, an int or one int per spatial dim.
        ndim: number of spatial dims (1-3), used when ``scale`` is an int.

    Returns:
        An :class:`InterpolationKernel` with ``kernel``, ``stride``, ``padding``,
        ``output_padding`` and ``border``.

    Shape:
        ``K = scale`` (nearest), ``2*scale - scale % 2`` (linear), ``4*scale - scale % 2``
        (cubic); ``padding = (K - scale) // 2`` on both sides, so
        ``S_out = (S_in - 1)*scale - 2*padding + K = scale * S_in``.
        ``border = 0`` (nearest), ``scale // 2`` (linear), ``scale + scale // 2`` (cubic,
        for scale > 1 in the cases tested; computed exactly, not assumed).

    Convention:
        PyTorch's ``align_corners=False`` sample grid. The linear family equals FCN's
        ``upsample_filt``. Nearest is PyTorch's legacy ``"nearest"`` (``floor(o / s)``); for
        an integer scale it equals ``"nearest-exact"``.

    Raises:
        ValueError: for an unknown mode, ``ndim`` outside 1-3, or a scale below 1.
        TypeError: for a non-integer scale.

    Examples:
        >>> k = interpolation_kernel("bilinear", 2, ndim=1)
        >>> k.kernel_1d[0], k.stride, k.padding, k.output_padding, k.border
        (array([0.25, 0.75, 0.75, 0.25]), (2,), ((1, 1),), (0,), (1,))
        >>> interpolation_kernel("bicubic", 2).kernel.shape
        (8, 8)
    """
    fn = "interpolation_kernel"
    if not isinstance(mode, str) or mode.lower() not in _MODES:
        raise ValueError(f"{fn}: mode={mode!r} must be one of {tuple(_MODES)}")
    family = _MODES[mode.lower()]
    if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3:
        raise ValueError(f"{fn}: ndim={ndim!r} must be 1, 2 or 3")
    if isinstance(scale, tuple | list):
        ndim = len(scale)
        if not 1 <= ndim <= 3:
            raise ValueError(f"{fn}: scale={_checks.fmt(scale)} must have 1, 2 or 3 entries")
    s = _checks.as_int_tuple(fn, "scale", scale, ndim, minimum=1)
    # a cubic kernel has 4*scale taps a dim, the phase tables scale**ndim rows
    _checks.check_elements(fn, "a kernel", tuple(4 * v for v in s), {"scale": scale})
    _checks.check_elements(fn, "phase tables", (*s, 5), {"scale": scale})
    taps: list[np.ndarray] = []
    pads: list[int] = []
    for si in s:
        exact, p = _kernel_1d(family, si)
        taps.append(np.array([float(v) for v in exact]))
        pads.append(p)
    kernel = taps[0]
    for t in taps[1:]:
        kernel = np.multiply.outer(kernel, t)
    return InterpolationKernel(
        mode=family, scale=s, kernel_1d=tuple(taps), kernel=kernel, stride=s,
        padding=tuple((p, p) for p in pads), output_padding=(0,) * ndim,
        border=tuple(_border(family, si) for si in s))


def interpolation_phases(mode: str, scale: IntOrTuple, ndim: int = 2) -> Array:
    """Interpolation as a sub-pixel convolution: one small kernel per output phase.

    Output ``o = q*s + r`` of :func:`interpolation_kernel`'s up-sampler reads inputs
    ``q + j`` with weights ``W((r + 1/2)/s - 1/2 - j)``; since ``|(r + 1/2)/s - 1/2| < 1/2``
    only ``|j| <= R`` matter (``R = 0`` nearest, 1 linear, 2 cubic). So a "same"-padded conv
    with these ``2R+1``-tap kernels, one output channel per phase, followed by a pixel
    shuffle, *is* the interpolation -- with the same ``border`` as
    :func:`interpolation_kernel` (the sums are identical). It initialises
    ``Upsample(method="pixel_shuffle", init="bilinear")``.

    Args:
        mode, scale, ndim: as :func:`interpolation_kernel`.

    Returns:
        float64 array ``(prod(scale), *K)``; entry ``phase`` (row-major over the per-dim
        phases, PyTorch's pixel-shuffle order) is the correlation kernel of that phase.

    Shape:
        ``K = 2R + 1`` per dim; use conv padding ``R``.

    Convention:
        Correlation (PyTorch conv), ``align_corners=False``.

    Raises:
        ValueError, TypeError: as :func:`interpolation_kernel`.

    Examples:
        >>> interpolation_phases("bilinear", 2, ndim=1)
        array([[0.25, 0.75, 0.  ],
               [0.  , 0.75, 0.25]])
    """
    k = interpolation_kernel(mode, scale, ndim)      # validates
    radius = {"nearest": 0, "linear": 1, "cubic": 2}[k.mode]
    per_dim = []
    for s in k.scale:
        rows = []
        for r in range(s):
            u0 = Fraction(2 * r + 1, 2 * s) - Fraction(1, 2)
            rows.append([float(_WEIGHT[k.mode](u0 - j)) for j in range(-radius, radius + 1)])
        per_dim.append(np.array(rows))                  # (s, 2R+1)
    out = per_dim[0]
    for a in per_dim[1:]:
        # (P, *K) x (s, K') -> (P, s, *K, K') -> (P*s, *K, K')
        out = np.einsum("p...,qk->pq...k", out, a)
        out = out.reshape(-1, *out.shape[2:])
    return out


def bilinear_kernel(kernel_size: IntOrTuple, ndim: int = 2) -> Array:
    """FCN's bilinear up-sampling filter (``upsample_filt``) of any size.

    The tent ``1 - |t - centre| / factor`` with ``factor = (K + 1) // 2``, separable over the
    spatial dims. With ``K = 2*s - s % 2``, stride ``s`` and padding ``(K - s) // 2`` (what FCN
    uses: ``ceil((s - 1) / 2)``) it is :func:`interpolation_kernel` ``("bilinear", s)``.

    Args:
        kernel_size: an int or one int per spatial dim.
        ndim: number of spatial dims when ``kernel_size`` is an int.

    Returns:
        A float64 array of shape ``K``.

    Shape:
        ``K``.

    Convention:
        Same numbers as FCN (Long et al. 2015, ``surgery.py``) and Caffe's ``bilinear``
        filler.

    Raises:
        ValueError, TypeError: for a non-positive or non-integer kernel size.

    Examples:
        >>> bilinear_kernel(4, ndim=1)
        array([0.25, 0.75, 0.75, 0.25])
        >>> bilinear_kernel(3)
        array([[0.25, 0.5 , 0.25],
               [0.5 , 1.  , 0.5 ],
               [0.25, 0.5 , 0.25]])
    """
    fn = "bilinear_kernel"
    if isinstance(kernel_size, tuple | list):
        ndim = len(kernel_size)
    if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3:
        raise ValueError(f"{fn}: ndim={ndim!r} must be 1, 2 or 3")
    ks = _checks.as_int_tuple(fn, "kernel_size", kernel_size, ndim, minimum=1)
    _checks.check_elements(fn, "a kernel", ks, {"kernel_size": kernel_size})
    out = np.ones(())
    for k in ks:
        factor = (k + 1) // 2
        centre = factor - 1 if k % 2 == 1 else factor - 0.5
        out = np.multiply.outer(out, 1 - np.abs(np.arange(k) - centre) / factor)
    return out


#: Base initialisers for :func:`icnr` / :func:`icnr_transpose`, named as in ``torch.nn.init``.
#: ``fan_in = shape[1] * prod(K)`` and ``fan_out = shape[0] * prod(K)``, PyTorch's rule.
INITS = ("default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform",
         "normal")

Init = str | Callable[[tuple[int, ...], np.random.Generator], np.ndarray]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    rf = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


def init_weight(shape: tuple[int, ...], init: Init = "default",
                rng: np.random.Generator | int | None = None) -> Array:
    """Draw a (transposed-)conv weight of ``shape`` with a named initialiser.

    Args:
        shape: weight shape, at least 2 dims.
        init: one of :data:`INITS` or a callable ``(shape, rng) -> array``. ``"default"`` is
            PyTorch's conv default, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``;
            ``"kaiming_*"`` use gain ``sqrt(2)``; ``"normal"`` is ``N(0, 0.02**2)`` (DCGAN).
        rng: a ``numpy.random.Generator`` or a seed.

    Returns:
        A float64 array of ``shape``.

    Shape:
        ``shape``.

    Raises:
        ValueError: for an unknown ``init`` or a callable returning the wrong shape.

    Examples:
        >>> w = init_weight((4, 2, 3, 3), "default", rng=0)
        >>> w.shape, bool(np.abs(w).max() <= 1 / np.sqrt(18))
        ((4, 2, 3, 3), True)
    """
    fn = "init_weight"
    shape = tuple(int(v) for v in shape)
    _checks.check_elements(fn, "a weight", shape, {"shape": shape})
    if len(shape) < 2 or any(v < 1 for v in shape):
        raise ValueError(f"{fn}: shape={shape} must have at least 2 positive dims")
    gen = np.random.default_rng(rng)
    fan_in, fan_out = _fans(shape)
    if callable(init):
        w = np.asarray(init(shape, gen), dtype=np.float64)
        if w.shape != shape:
            raise ValueError(f"{fn}: init returned shape {w.shape}, expected {shape}")
        return w
    if init == "default":
        bound = 1 / math.sqrt(fan_in)
        return gen.uniform(-bound, bound, shape)
    if init == "kaiming_normal":
        return gen.normal(0.0, math.sqrt(2 / fan_in), shape)
    if init == "kaiming_uniform":
        bound = math.sqrt(6 / fan_in)
        return gen.uniform(-bound, bound, shape)
    if init == "xavier_normal":
        return gen.normal(0.0, math.sqrt(2 / (fan_in + fan_out)), shape)
    if init == "xavier_uniform":
        bound = math.sqrt(6 / (fan_in + fan_out))
        return gen.uniform(-bound, bound, shape)
    if init == "normal":
        return gen.normal(0.0, 0.02, shape)
    raise ValueError(f"{fn}: init={init!r} must be one of {INITS} or a callable "
                     "(shape, rng) -> array")


def icnr(weight_shape: tuple[int, ...], scale: IntOrTuple, init: Init = "kaiming_normal",
         rng: np.random.Generator | int | None = None) -> Array:
    """ICNR: a sub-pixel conv weight whose pixel-shuffled output is nearest up-sampling.

    The conv before a pixel shuffle has ``C_out * r**d`` output channels; the shuffle sends
    channel ``c*r**d + phase`` to sub-pixel ``phase`` of output channel ``c``. ICNR draws a
    base weight for ``C_out`` channels and repeats each base filter ``r**d`` times, so all
    sub-pixels of an output pixel block get the same value: conv then nearest up-sampling,
    free of checkerboard artifacts at initialisation (Aitken et al. 2017).

    Args:
        weight_shape: ``(C_out * prod(scale), C_in/groups, *K)``, the conv weight to fill.
        scale: the pixel-shuffle factor ``r``, an int or one per spatial dim.
        init: initialiser of the base ``(C_out, C_in/groups, *K)`` weight, see
            :func:`init_weight`.
        rng: a ``numpy.random.Generator`` or a seed.

    Returns:
        A float64 array of ``weight_shape``.

    Shape:
        ``weight[c * prod(scale) + phase] == base[c]`` for every ``phase``.

    Convention:
        PyTorch's ``pixel_shuffle`` channel order (phase fastest), as fastai's ``icnr_init``.

    Raises:
        ValueError: when ``weight_shape[0]`` is not a multiple of ``prod(scale)``.

    Examples:
        >>> w = icnr((8, 1, 1, 1), 2, rng=0)
        >>> bool(np.all(w[:4] == w[0])), bool(np.all(w[4:] == w[4])), bool(w[0, 0] != w[4, 0])
        (True, True, True)
    """
    fn = "icnr"
    shape = tuple(int(v) for v in weight_shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"{fn}: weight_shape={shape} must have 3, 4 or 5 dims "
                         "(C_out * r**d, C_in/groups, *K)")
    nd = len(shape) - 2
    r = _checks.as_int_tuple(fn, "scale", scale, nd, minimum=1)
    phases = int(np.prod(r))
    if shape[0] % phases:
        raise ValueError(f"{fn}: weight_shape[0]={shape[0]} must be a multiple of "
                         f"prod(scale)={phases} (C_out * r**d channels feed the pixel shuffle)")
    base = init_weight((shape[0] // phases, *shape[1:]), init, rng)
    return np.repeat(base, phases, axis=0)


def icnr_transpose(weight_shape: tuple[int, ...], stride: IntOrTuple,
                   init: Init = "kaiming_normal",
                   rng: np.random.Generator | int | None = None) -> Array:
    """ICNR for a transposed convolution: every output phase gets the same sub-kernel.

    A stride-``s`` transposed convolution splits into ``s**d`` phases, each a correlation
    with the taps ``t = phase, phase + s, ...`` (shifted by the padding). Drawing a base
    kernel of size ``K / s`` and repeating every tap ``s`` times along each kernel axis
    (``w[t] = base[t // s]``) gives all phases the same sub-kernel. The layer is then
    "stride-1 transposed conv with ``base``, then nearest up-sampling": a constant input
    gives a constant output away from the borders, the overlap map is flat.

    Args:
        weight_shape: ``(C_in, C_out/groups, *K)`` with every ``K`` a multiple of ``stride``.
        stride: the layer's stride, an int or one per spatial dim.
        init: initialiser of the base ``(C_in, C_out/groups, *K/stride)`` weight, see
            :func:`init_weight`.
        rng: a ``numpy.random.Generator`` or a seed.

    Returns:
        A float64 array of ``weight_shape``.

    Shape:
        ``weight[..., t] == base[..., t // stride]`` along each kernel axis.

    Convention:
        PyTorch's transposed layout ``(C_in, C_out/groups, *K)``, no kernel flip.

    Raises:
        ValueError: when a kernel size is not a multiple of the stride.

    Examples:
        >>> w = icnr_transpose((1, 1, 4), 2, rng=0)
        >>> bool(w[0, 0, 0] == w[0, 0, 1]), bool(w[0, 0, 2] == w[0, 0, 3])
        (True, True)
    """
    fn = "icnr_transpose"
    shape = tuple(int(v) for v in weight_shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"{fn}: weight_shape={shape} must have 3, 4 or 5 dims "
                         "(C_in, C_out/groups, *K)")
    nd = len(shape) - 2
    s = _checks.as_int_tuple(fn, "stride", stride, nd, minimum=1)
    k = shape[2:]
    if any(kk % ss for kk, ss in zip(k, s, strict=True)):
        raise ValueError(f"{fn}: kernel size {k} must be a multiple of stride={s} in every "
                         "spatial dim, so that every phase gets the same number of taps")
    base = init_weight((*shape[:2], *(kk // ss for kk, ss in zip(k, s, strict=True))), init, rng)
    for axis, ss in enumerate(s):
        base = np.repeat(base, ss, axis=2 + axis)
    return base


# --- exact re-writings of a transposed convolution ------------------------------------------


@dataclass(frozen=True)
class SubPixelForm:
    """A transposed convolution rewritten as pad -> conv -> pixel shuffle -> crop.

    Attributes:
        weight: conv weight ``(C_out * prod(scale), C_in/groups, *Kc)``.
        bias: ``(C_out * prod(scale),)`` or None.
        groups: conv groups (unchanged).
        scale: pixel-shuffle factor per spatial dim (the stride).
        pad: ``(low, high)`` added to the conv input per spatial dim; negative crops.
        crop: ``(low, high)`` removed from the shuffled output per spatial dim.
    """

    weight: Array
    bias: Array | None
    groups: int
    scale: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    crop: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ZeroInsertionForm:
    """A transposed convolution rewritten as insert zeros -> pad -> conv (stride 1).

    Attributes:
        weight: conv weight ``(C_out, C_in/groups, *K)``: channels swapped, kernel flipped.
        bias: ``(C_out,)`` or None.
        groups: conv groups (unchanged).
        stride: ``stride - 1`` zeros go between neighbouring input samples.
        pad: ``(low, high)`` added after zero insertion per spatial dim; negative crops.
        dilation: conv dilation (unchanged).
    """

    weight: Array
    bias: Array | None
    groups: int
    stride: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]


def _transposed_layer(fn: str, weight: object, bias: object, stride: object, padding: object,
                      output_padding: object, groups: object, dilation: object):
    w = _checks.as_array(fn, "weight", weight).astype(np.float64, copy=False)
    b = None if bias is None else _checks.as_array(fn, "bias", bias).astype(np.float64)
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"{fn}: weight of shape {w.shape} must have 3, 4 or 5 dims "
                         "(C_in, C_out/groups, *K)")
    p = _checks.conv_params(fn, x_shape=(1, w.shape[0], *(64,) * (w.ndim - 2)),
                            weight_shape=tuple(w.shape),
                            bias_shape=None if b is None else b.shape, stride=stride,
                            padding=padding, dilation=dilation, groups=groups,
                            transposed=True, output_padding=output_padding)
    return w, b, p


def subpixel_form(weight: object, bias: object = None, stride: IntOrTuple = 1,
                  padding: object = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                  dilation: IntOrTuple = 1) -> SubPixelForm:
    """Rewrite ``conv_transpose`` as one stride-1 conv to ``C_out * s**d`` channels + shuffle.

    Output position ``o = q*s + r`` reads tap ``t`` of input ``q + c_t`` with
    ``c_t = (r + pad_low - t*dilation) / s`` for the taps where that is an integer (see
    :mod:`tconv._algorithms.phase`). So phase ``r`` is a correlation of the input with the
    taps of ``weight`` placed at offsets ``c_t``; stacking all phases as output channels
    (``channel = c * s**d + phase``, PyTorch's pixel-shuffle order) gives one conv whose
    kernel spans ``[min c_t, max c_t]``. Pad the input by ``-min c_t`` / the high side,
    convolve, pixel-shuffle, crop the few extra outputs of the last block -- exactly
    ``conv_transpose`` for every input size. The output grid may be computed shifted by
    ``0 <= shift < s`` samples (cropped again at the end); the shift giving the narrowest
    kernel is chosen, so DCGAN's ``K=4, s=2, padding=1`` needs a 2-tap, not a 3-tap, conv.

    Args:
        weight: ``(C_in, C_out/groups, *K)``, PyTorch's transposed layout.
        bias: optional ``(C_out,)``.
        stride, padding, output_padding, groups, dilation: as :func:`tconv.conv_transpose`
            (``padding`` may be ``(low, high)`` pairs or a string).

    Returns:
        A :class:`SubPixelForm`.

    Shape:
        ``Kc = max c_t - min c_t + 1`` (``K=4, s=2, padding=1`` gives ``Kc=2``; FSRCNN's
        ``K=9, s=2, padding=4`` gives ``Kc=5``); the conv output has
        ``S_in + ceil((e + shift) / s)`` samples per dim where ``S_out = s*S_in + e``, and
        ``crop = (shift, s*ceil((e + shift)/s) - e - shift)``.

    Convention:
        Weights are rearranged, never recomputed: a float32 layer converts exactly.

    Raises:
        ValueError, TypeError: for arguments :func:`tconv.conv_transpose` rejects.

    Examples:
        >>> f = subpixel_form(np.arange(4.0).reshape(1, 1, 4), stride=2, padding=1)
        >>> f.weight[:, 0], f.pad, f.crop     # y[2q-1] = 2x[q-1] + 0x[q]; y[2q] = 3x[q-1] + 1x[q]
        (array([[2., 0.],
               [3., 1.]]), ((1, 1),), ((1, 1),))
    """
    fn = "subpixel_form"
    w, b, p = _transposed_layer(fn, weight, bias, stride, padding, output_padding, groups,
                                dilation)
    nd, g = p.ndim, p.groups
    cig, cog = w.shape[0] // g, w.shape[1]
    per_dim = []       # per dim: list over phases of (taps, offsets)
    pads, crops = [], []
    # S_out = s*S_in + e per dim: e is the output size of one input sample less the stride
    extra = tuple(o - st for o, st in zip(p.transposed_size((1,) * nd), p.stride))
    for a in range(nd):
        s, k, d, lo = p.stride[a], p.kernel[a], p.dilation[a], p.pad_lo[a]
        e = extra[a]
        # compute the output shifted by `shift` samples (cropped again after the shuffle):
        # the phase alignment that gives the narrowest conv kernel (ties: no shift)
        candidates = []
        for shift in range(s):
            phases = [_phase_taps(r, k, s, d, lo - shift) for r in range(s)]
            offs = np.concatenate([o for _, o in phases])
            candidates.append((int(offs.max()) - int(offs.min()), shift, phases,
                               int(offs.min()), int(offs.max())))
        _, shift, phases, jmin, jmax = min(candidates, key=lambda c: (c[0], c[1]))
        qe = -(-(e + shift) // s)            # conv output: S_in + qe samples per phase
        per_dim.append((phases, jmin, jmax - jmin + 1))
        pads.append((-jmin, qe + jmax))
        crops.append((shift, s * qe - e - shift))
    phases_total = int(np.prod(p.stride))
    kc = tuple(size for _, _, size in per_dim)
    v = np.zeros((g * cog * phases_total, cig, *kc))
    vv = v.reshape(g, cog, *p.stride, cig, *kc)          # channel = (g*cog + co)*S + phase
    wg = w.reshape(g, cig, cog, *p.kernel)
    for combo in np.ndindex(*p.stride):
        for taps in np.ndindex(*p.kernel):
            pos = []
            for a, (r, t) in enumerate(zip(combo, taps, strict=True)):
                phases, jmin, _ = per_dim[a]
                tp, of = phases[r]
                hit = np.nonzero(tp == t)[0]
                if hit.size == 0:
                    break
                pos.append(int(of[hit[0]]) - jmin)
            else:
                # vv[g, co, *r, ci, *j] = w[g, ci, co, *t]
                idx = (slice(None), slice(None), *combo, slice(None), *pos)
                vv[idx] = wg[(slice(None), slice(None), slice(None), *taps)].transpose(0, 2, 1)
    bias_out = None if b is None else np.repeat(b, phases_total)
    return SubPixelForm(weight=v, bias=bias_out, groups=g, scale=p.stride,
                        pad=tuple(pads), crop=tuple(crops))


def _phase_taps(r: int, k: int, s: int, d: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
    from ._algorithms.phase import phase_taps
    return phase_taps(r, k, s, d, lo)


def zero_insertion_form(weight: object, bias: object = None, stride: IntOrTuple = 1,
                        padding: object = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                        dilation: IntOrTuple = 1) -> ZeroInsertionForm:
    """Rewrite ``conv_transpose`` as zero insertion + padding + a stride-1 convolution.

    The seed's equivalent form: put ``stride - 1`` zeros between input samples, pad each side
    by ``dilation*(K-1) - padding`` (plus ``output_padding`` on the high side; a negative
    amount crops), and correlate with the kernel flipped in every spatial dim and with its
    two channel axes swapped (per group).

    Args:
        weight: ``(C_in, C_out/groups, *K)``, PyTorch's transposed layout.
        bias: optional ``(C_out,)``.
        stride, padding, output_padding, groups, dilation: as :func:`tconv.conv_transpose`.

    Returns:
        A :class:`ZeroInsertionForm`.

    Shape:
        zero-inserted size ``(S_in - 1)*stride + 1``; padded by ``dilation*(K-1) - low`` and
        ``dilation*(K-1) - high + output_padding``.

    Convention:
        ``conv_transpose(x, w) == conv(pad(insert_zeros(x)), flip(swap(w)))``; PyTorch's
        transposed layout in, its direct layout ``(C_out, C_in/groups, *K)`` out.

    Raises:
        ValueError, TypeError: for arguments :func:`tconv.conv_transpose` rejects.

    Examples:
        >>> f = zero_insertion_form(np.arange(3.0).reshape(1, 1, 3), stride=2, padding=1,
        ...                         output_padding=1)
        >>> f.weight, f.pad
        (array([[[2., 1., 0.]]]), ((1, 2),))
    """
    fn = "zero_insertion_form"
    w, b, p = _transposed_layer(fn, weight, bias, stride, padding, output_padding, groups,
                                dilation)
    from ._algorithms.zero_insertion import flipped_conv_weight, zero_insertion_padding

    v = flipped_conv_weight(w, p.groups)
    return ZeroInsertionForm(weight=np.ascontiguousarray(v), bias=b, groups=p.groups,
                             stride=p.stride, pad=zero_insertion_padding(p),
                             dilation=p.dilation)
