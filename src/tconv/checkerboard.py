"""Checkerboard diagnostics: kernel overlap, per-phase kernel sums, stride-periodic energy.

A transposed convolution with stride ``s`` paints one kernel footprint per input, ``s``
apart. Away from the borders, output index ``o`` (of the uncropped output, ``padding=0``)
is reached by exactly one input per kernel tap ``j`` with ``j*d = o (mod s)``, so the
output splits into ``s`` *phases* ``r = o mod s`` (``prod(s)`` phases in N-D), and::

    overlap(r)           = #{j in [0, k) : j*d = r (mod s)}                (taps per phase)
    response to x == 1   = sum_{j*d = r (mod s)} sum_{c_in} w[c_in, c_out, j]  (phase sum)

Odena, Dumoulin & Olah (Distill 2016): with ``d = 1`` the overlap is even iff ``s`` divides
``k``. With dilation the taps ``j*d mod s`` only visit multiples of ``g = gcd(d, s)``; when
``g = 1`` they cycle through all ``s`` residues, so::

    even overlap  <=>  s == 1  or  (gcd(d, s) == 1 and k % s == 0)

(``s > 1`` and ``gcd(d, s) > 1`` always leaves phases with no tap at all). In N-D the
overlap map is the outer product of the per-dim maps, so it is even iff every dim is. A layer
is free of checkerboard on constant input iff its phase sums are equal across phases --
even overlap is necessary for that with generic weights, never sufficient.

Images are measured with :func:`artifact_score` (the share of non-DC spectral energy on
the stride lattice) and :func:`phase_means` (the mean of each output phase).
"""

from __future__ import annotations

from math import gcd as _gcd

import numpy as np

from . import _checks
from ._typing import Array, ArrayLike, IntOrTuple

__all__ = [
    "artifact_score",
    "is_uneven",
    "overlap_map",
    "overlap_ratio",
    "phase_means",
    "phase_sums",
    "pixel_shuffle",
    "upsampler_responses",
]

#: below this share of the windowed image's energy, the non-DC energy counts as zero
_ENERGY_FLOOR = 1e-24


def _ndim_of(ndim: int | None, *values: object) -> int:
    """Spatial dims: ``ndim`` if given, else the longest tuple argument, else 2 (images)."""
    if ndim is not None:
        return int(ndim)
    lengths = [len(v) for v in values if isinstance(v, (tuple, list))]
    return max(lengths) if lengths else 2


def _geometry(fn: str, kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple,
              ndim: int | None) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    nd = _ndim_of(ndim, kernel_size, stride, dilation)
    if not 1 <= nd <= 3:
        raise ValueError(f"{fn}: ndim={nd} must be 1, 2 or 3")
    k = _checks.as_int_tuple(fn, "kernel_size", kernel_size, nd, minimum=1)
    s = _checks.as_int_tuple(fn, "stride", stride, nd, minimum=1)
    d = _checks.as_int_tuple(fn, "dilation", dilation, nd, minimum=1)
    # the (stride, kernel) phase tables and the overlap map of one period
    _checks.check_elements(fn, "a phase table", (*s, max(k)),
                           {"stride": stride, "kernel_size": kernel_size})
    return k, s, d


def _phase_matrix(k: int, s: int, d: int) -> np.ndarray:
    """``(s, k)`` one-hot matrix: entry ``[r, j]`` is 1 when tap ``j`` lands on phase ``r``."""
    m = np.zeros((s, k), dtype=np.int64)
    m[(np.arange(k) * d) % s, np.arange(k)] = 1
    return m


def overlap_map(kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple = 1,
                ndim: int | None = None) -> np.ndarray:
    """How many kernel taps reach each output phase of a transposed convolution.

    One-to-many: each input paints a ``kernel_size`` footprint ``stride`` apart; where the
    footprints overlap unevenly the output of a constant input is a checkerboard.

    Args:
        kernel_size: kernel size ``k``, an int or one int per spatial dim.
        stride: stride ``s``.
        dilation: spacing ``d`` between kernel taps.
        ndim: number of spatial dims; by default the length of the longest tuple argument,
            else 2 (images).

    Returns:
        int64 array of shape ``stride`` (one entry per dim): entry ``[r_1, ..., r_n]`` is the
        number of (input, tap) pairs that reach an interior output index ``o`` with
        ``o_i mod s_i = r_i`` -- the outer product of the per-dim counts.

    Shape:
        ``(s_1, ..., s_n)``; the entries sum to ``prod(k)``.

    Convention:
        Phases are counted on the uncropped output (``padding=0``); a crop of ``lo`` rows
        shifts them: output row ``o`` is phase ``(o + lo) mod s``. Interior means at least
        ``d*(k-1)`` from either border.

    Raises:
        ValueError, TypeError: for non-positive or non-integer sizes.

    Examples:
        >>> overlap_map(3, 2, ndim=1)             # Distill: k=3, s=2 is uneven
        array([2, 1])
        >>> overlap_map(3, 2)                     # the 2-D checkerboard, ratio 4
        array([[4, 2],
               [2, 1]])
        >>> overlap_map(4, 2, dilation=2, ndim=1) # k % s == 0 but gcd(d, s) = 2: a hole
        array([4, 0])
    """
    k, s, d = _geometry("overlap_map", kernel_size, stride, dilation, ndim)
    out = np.ones((), dtype=np.int64)
    for kk, ss, dd in zip(k, s, d):
        counts = _phase_matrix(kk, ss, dd).sum(axis=1)
        out = np.multiply.outer(out, counts)
    return out


def is_uneven(kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple = 1) -> bool:
    """Whether a transposed convolution's kernel footprints overlap unevenly (checkerboard).

    Closed form, per spatial dim: even iff ``s == 1`` or (``gcd(d, s) == 1`` and
    ``k % s == 0``); uneven if any dim is uneven. With ``d = 1`` this is Distill's "k not
    divisible by s".

    Args:
        kernel_size, stride, dilation: as in :func:`overlap_map`.

    Returns:
        ``True`` when :func:`overlap_map` is not constant.

    Examples:
        >>> is_uneven(3, 2), is_uneven(4, 2), is_uneven(4, 2, dilation=3)
        (True, False, False)
        >>> is_uneven((4, 3), 2)                  # uneven in the second dim
        True
    """
    k, s, d = _geometry("is_uneven", kernel_size, stride, dilation, None)
    return any(ss > 1 and (_gcd(dd, ss) > 1 or kk % ss) for kk, ss, dd in zip(k, s, d))


def overlap_ratio(kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple = 1,
                  ndim: int | None = None) -> float:
    """``max / min`` of :func:`overlap_map`: 1 when even, ``inf`` when a phase gets no tap.

    Examples:
        >>> overlap_ratio(3, 2, ndim=1), overlap_ratio(3, 2), overlap_ratio(2, 3)
        (2.0, 4.0, inf)
    """
    m = overlap_map(kernel_size, stride, dilation, ndim)
    lo = int(m.min())
    return float("inf") if lo == 0 else float(m.max()) / lo


def phase_sums(weight: ArrayLike, stride: IntOrTuple, dilation: IntOrTuple = 1,
               groups: int = 1) -> Array:
    """Per-phase kernel sums of a transposed-convolution weight: its constant-input response.

    With every input channel equal to 1, an interior output element of channel ``c_out`` at
    phase ``r`` equals ``sum over the taps j with j*d = r (mod s), and over the input
    channels of c_out's group, of weight[c_in, c_out, j]`` (plus the bias). The layer is
    free of checkerboard on constant input iff each channel's sums are equal across phases.
    This is what ``tconv.nn``'s layer report calls; it needs only NumPy.

    Args:
        weight: ``(C_in, C_out/groups, *K)``, PyTorch's transposed layout; 1-3 spatial dims.
        stride: stride, an int or one per spatial dim.
        dilation: spacing between kernel taps.
        groups: channel groups of the layer.

    Returns:
        float64 array ``(C_out, *stride)``; entry ``[c_out, r_1, ..., r_n]`` is the interior
        output at rows ``o_i = r_i (mod s_i)`` of the uncropped output.

    Shape:
        ``(C_out, s_1, ..., s_n)`` with ``C_out = groups * weight.shape[1]``.

    Convention:
        Phases as in :func:`overlap_map`; ``phase_sums(ones((1, 1, *K)), s)`` equals
        ``overlap_map(K, s)[None]``.

    Raises:
        ValueError, TypeError: for a weight that is not 3-5-D, a ``groups`` that does not
            divide ``C_in``, or invalid stride/dilation.

    Examples:
        >>> import numpy as np
        >>> w = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3)
        >>> phase_sums(w, 2)        # rows 0, 2 of w meet on even rows, row 1 on odd rows
        array([[[20., 10.],
                [10.,  5.]]])
        >>> float(np.ptp(phase_sums(np.ones((1, 1, 4, 4)), 2)))   # even overlap, equal sums
        0.0
    """
    fn = "phase_sums"
    w = _checks.as_array(fn, "weight", weight).astype(np.float64)
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"{fn}: weight of shape {tuple(w.shape)} must have 3, 4 or 5 dims "
                         "(C_in, C_out/groups, *K) for 1, 2 or 3 spatial dims")
    g = _checks.check_groups(fn, groups)
    c_in, c_out_g, *kernel = w.shape
    if c_in % g:
        raise ValueError(f"{fn}: groups={g} must divide the input channels C_in={c_in} "
                         f"(weight of shape {tuple(w.shape)})")
    nd = len(kernel)
    s = _checks.as_int_tuple(fn, "stride", stride, nd, minimum=1)
    d = _checks.as_int_tuple(fn, "dilation", dilation, nd, minimum=1)
    _checks.check_elements(fn, "phase sums", (g * c_out_g, *s), {"stride": stride})
    # (C_in, C_out/g, *K) -> (g, C_in/g, C_out/g, *K) -> sum inputs of a group -> (C_out, *K)
    summed = w.reshape(g, c_in // g, c_out_g, *kernel).sum(axis=1).reshape(g * c_out_g, *kernel)
    for axis, (kk, ss, dd) in enumerate(zip(kernel, s, d), start=1):
        # contract the tap axis with the (s, k) one-hot phase matrix; the phase axis goes last
        summed = np.tensordot(summed, _phase_matrix(kk, ss, dd).astype(np.float64),
                              axes=([axis], [1]))
        summed = np.moveaxis(summed, -1, axis)
    return summed


def _spatial(fn: str, x: ArrayLike, stride: IntOrTuple, ndim: int,
             ) -> tuple[np.ndarray, tuple[int, ...]]:
    if ndim not in (1, 2, 3):
        raise ValueError(f"{fn}: ndim={ndim} must be 1, 2 or 3")
    arr = _checks.as_array(fn, "image", x).astype(np.float64)
    if arr.ndim < ndim:
        raise ValueError(f"{fn}: image of shape {tuple(arr.shape)} must have at least "
                         f"ndim={ndim} dims (the last {ndim} are spatial)")
    s = _checks.as_int_tuple(fn, "stride", stride, ndim, minimum=1)
    return arr, s


def phase_means(image: ArrayLike, stride: IntOrTuple, *, ndim: int = 2) -> Array:
    """Mean of each output phase: ``[..., r_1, r_2]`` averages rows ``= r_1 (mod s_1)`` and
    columns ``= r_2 (mod s_2)``.

    On a flat region the phase means of an artifact-free up-sampler agree; their spread
    (``max - min``) is the "phase bias" of a checkerboard.

    Args:
        image: array whose last ``ndim`` axes are spatial (leading axes: batch, channels).
        stride: the up-sampling factor, an int or one per spatial dim.
        ndim: number of trailing spatial axes.

    Returns:
        float64 array ``(*leading, *stride)``. Each spatial size is first cut to a multiple
        of the stride (trailing remainder dropped) so every phase has the same count.

    Shape:
        ``image.shape[:-ndim] + stride``.

    Raises:
        ValueError: when a spatial size is smaller than its stride.

    Examples:
        >>> import numpy as np
        >>> phase_means(np.tile([[4., 2.], [2., 1.]], (3, 3)), 2)
        array([[4., 2.],
               [2., 1.]])
    """
    fn = "phase_means"
    arr, s = _spatial(fn, image, stride, ndim)
    lead, sizes = arr.shape[:-ndim], arr.shape[-ndim:]
    if any(n < st for n, st in zip(sizes, s)):
        raise ValueError(f"{fn}: spatial size {tuple(sizes)} must be at least stride={s} in "
                         "every spatial dim")
    arr = arr[(...,) + tuple(slice(0, n - n % st) for n, st in zip(sizes, s))]
    # (..., n_1, n_2) -> (..., n_1/s_1, s_1, n_2/s_2, s_2): average the block axes
    shape = list(lead)
    for n, st in zip(arr.shape[-ndim:], s):
        shape += [n // st, st]
    blocks = arr.reshape(shape)
    block_axes = tuple(len(lead) + 2 * i for i in range(ndim))
    return blocks.mean(axis=block_axes)


def _periodic_hann(n: int) -> np.ndarray:
    # periodic (DFT-even) Hann: its DFT is exactly 3 non-zero bins (0, +-1)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _near(bins: np.ndarray, centres: np.ndarray, n: int) -> np.ndarray:
    """Bins within one (circular) bin of any centre."""
    dist = np.abs(bins[:, None] - centres[None, :]) % n
    return (np.minimum(dist, n - dist) <= 1).any(axis=1)


def artifact_score(image: ArrayLike, stride: IntOrTuple, *, ndim: int = 2,
                   border: int = 0) -> float | Array:
    """Share of an image's non-DC spectral energy at the stride's frequencies (0 to 1).

    A stride-``s`` checkerboard is periodic with period ``s``, so its spectrum lives on the
    lattice of frequencies ``m * N / s`` (``m = 0 .. s-1`` per dim). The score is::

        E(lattice bins, excluding the DC bin) / E(all bins except the DC bin)

    of the periodic-Hann-windowed, mean-subtracted image. The periodic Hann window's DFT
    has exactly three bins, so "bin" here means the 3-bin neighbourhood of a frequency (a
    ``3**ndim`` block in N-D) and a purely stride-periodic image scores exactly 1; a
    constant image scores 0; smooth images score near 0.

    Args:
        image: array whose last ``ndim`` axes are spatial; leading axes are scored
            separately.
        stride: the up-sampling factor, an int or one per spatial dim.
        ndim: number of trailing spatial axes.
        border: rows/columns dropped on every side first (zero-padding edge effects).

    Returns:
        A float for a single image, else a float64 array of shape ``image.shape[:-ndim]``.
        The score is 0 when the non-DC energy is below ``1e-24`` of the windowed image's.

    Shape:
        Each spatial size, after the border crop, is cut to a multiple ``n`` of its stride
        (trailing remainder dropped, so the lattice falls on exact bins); ``n >= 4*s`` is
        required so that the lattice does not cover every bin.

    Convention:
        Independent of the phase (a shifted checkerboard scores the same) and of scale.

    Raises:
        ValueError: for too small an image, a negative border or invalid stride/ndim.

    Examples:
        >>> import numpy as np
        >>> artifact_score(np.full((16, 16), 3.0), 2)
        0.0
        >>> round(artifact_score(np.tile([[4., 2.], [2., 1.]], (8, 8)), 2), 12)
        1.0
        >>> rows = np.arange(32.0)[:, None] + np.zeros(32)          # a smooth ramp
        >>> artifact_score(rows, 2) < 0.01
        True
    """
    fn = "artifact_score"
    arr, s = _spatial(fn, image, stride, ndim)
    b = _checks.as_int_tuple(fn, "border", border, 1, minimum=0)[0]
    sizes = arr.shape[-ndim:]
    cut = tuple((n - 2 * b) // st * st for n, st in zip(sizes, s))
    if any(c < 4 * st for c, st in zip(cut, s)):
        raise ValueError(
            f"{fn}: spatial size {tuple(sizes)} (after border={b} on each side) must hold at "
            f"least 4 periods of stride={s} in every spatial dim, i.e. >= "
            f"{tuple(4 * st + 2 * b for st in s)}")
    arr = arr[(...,) + tuple(slice(b, b + c) for c in cut)]
    axes = tuple(range(arr.ndim - ndim, arr.ndim))
    window = np.ones(())
    for c in cut:
        window = np.multiply.outer(window, _periodic_hann(c))
    windowed = (arr - arr.mean(axis=axes, keepdims=True)) * window
    power = np.abs(np.fft.fftn(windowed, axes=axes)) ** 2
    lattice = np.ones((), dtype=bool)
    dc = np.ones((), dtype=bool)
    for c, st in zip(cut, s):
        bins = np.arange(c)
        lattice = np.logical_and.outer(lattice, _near(bins, np.arange(st) * (c // st), c))
        dc = np.logical_and.outer(dc, _near(bins, np.zeros(1, dtype=int), c))
    non_dc = power[..., ~dc].sum(axis=-1)
    periodic = power[..., lattice & ~dc].sum(axis=-1)
    reference = np.prod(cut) * ((arr * window) ** 2).sum(axis=axes)   # Parseval
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(non_dc > _ENERGY_FLOOR * reference, periodic / non_dc, 0.0)
    return float(score) if score.ndim == 0 else score


def pixel_shuffle(x: ArrayLike, upscale_factor: int) -> Array:
    """Rearrange ``(*, C*r*r, H, W)`` into ``(*, C, H*r, W*r)``, exactly ``torch.pixel_shuffle``.

    Channel ``c*r*r + i*r + j`` becomes the sub-pixel ``(i, j)`` of every ``r x r`` block.

    Examples:
        >>> import numpy as np
        >>> pixel_shuffle(np.arange(4.0).reshape(4, 1, 1), 2)
        array([[[0., 1.],
                [2., 3.]]])
    """
    fn = "pixel_shuffle"
    a = _checks.as_array(fn, "input", x)
    r = _checks.as_int_tuple(fn, "upscale_factor", upscale_factor, 1, minimum=1)[0]
    if a.ndim < 3 or a.shape[-3] % (r * r):
        raise ValueError(f"{fn}: input of shape {tuple(a.shape)} must be (*, C*r*r, H, W) with "
                         f"channels divisible by upscale_factor**2={r * r}")
    *lead, c, h, w = a.shape
    # (*, C, r, r, H, W) -> (*, C, H, r, W, r) -> (*, C, H*r, W*r)
    a = a.reshape(*lead, c // (r * r), r, r, h, w)
    a = np.moveaxis(a, (-4, -3), (-3, -1))
    return a.reshape(*lead, c // (r * r), h * r, w * r)


def upsampler_responses(image: ArrayLike, stride: int = 2, kernel_size: int = 3, *,
                        seed: int = 0) -> dict[str, Array]:
    """Outputs of four random-weight up-samplers on one image (2-D), in NumPy.

    The Distill comparison, computed with :func:`tconv.conv` / :func:`tconv.conv_transpose`:

    - ``"transposed"``: ``conv_transpose`` with a random ``k x k`` kernel, stride ``s``,
      ``padding="same"`` -- its phase sums differ, so a constant image becomes a
      checkerboard (already at initialisation);
    - ``"pixel_shuffle"``: a stride-1 ``k x k`` conv to ``s*s`` channels with independent
      random kernels, then :func:`pixel_shuffle` -- also periodic;
    - ``"pixel_shuffle_icnr"``: the same with ICNR initialisation (:func:`tconv.kernels.icnr`,
      Aitken et al. 2017): one random kernel copied to all ``s*s`` sub-pixel channels, so it
      starts as a conv followed by nearest up-sampling -- flat on flat input;
    - ``"resize_conv"``: nearest up-sampling by ``s`` then a stride-1 ``k x k`` conv.

    Args:
        image: ``(H, W)`` array.
        stride: up-sampling factor ``s``.
        kernel_size: kernel size ``k`` of every conv.
        seed: seed of the ``N(0, 1/k**2)`` weights (one generator, drawn in the order above;
            the ICNR base kernel is drawn by :func:`tconv.kernels.icnr` from it).

    Returns:
        dict name -> float64 ``(H*s, W*s)`` array, in the order above.

    Shape:
        ``(H, W) -> (H*s, W*s)`` for every method (zero padding, ``"same"`` crops).

    Examples:
        >>> import numpy as np
        >>> out = upsampler_responses(np.ones((12, 12)), 2, 3)
        >>> {name: round(float(artifact_score(y, 2, border=3)), 3) for name, y in out.items()}
        {'transposed': 1.0, 'pixel_shuffle': 1.0, 'pixel_shuffle_icnr': 0.0, 'resize_conv': 0.0}
    """
    from .conv import conv, conv_transpose
    from .kernels import icnr

    fn = "upsampler_responses"
    x = _checks.as_array(fn, "image", image).astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f"{fn}: image of shape {tuple(x.shape)} must be 2-D (H, W)")
    s = _checks.as_int_tuple(fn, "stride", stride, 1, minimum=1)[0]
    k = _checks.as_int_tuple(fn, "kernel_size", kernel_size, 1, minimum=1)[0]
    _checks.check_elements(fn, "an up-sampled image", (x.shape[0] * s + k, x.shape[1] * s + k),
                           {"stride": stride, "kernel_size": kernel_size})
    _checks.check_elements(fn, "a weight", (s * s, k, k),
                           {"stride": stride, "kernel_size": kernel_size})
    rng = np.random.default_rng(seed)
    scale = 1.0 / k
    w_t = rng.standard_normal((1, 1, k, k)) * scale
    w_ps = rng.standard_normal((s * s, 1, k, k)) * scale
    w_icnr = icnr((s * s, 1, k, k), s, init=lambda shape, g: g.standard_normal(shape) * scale,
                  rng=rng)
    w_rc = rng.standard_normal((1, 1, k, k)) * scale
    x4 = x[None, None]
    up = np.repeat(np.repeat(x4, s, axis=2), s, axis=3)
    # "same" for an even kernel puts the odd extra zero on the high side, as PyTorch
    return {
        "transposed": conv_transpose(x4, w_t, stride=s, padding="same")[0, 0],
        "pixel_shuffle": pixel_shuffle(conv(x4, w_ps, padding="same"), s)[0, 0],
        "pixel_shuffle_icnr": pixel_shuffle(conv(x4, w_icnr, padding="same"), s)[0, 0],
        "resize_conv": conv(up, w_rc, padding="same")[0, 0],
    }
