"""Checkerboard report for a (trained) up-sampling layer: weights -> :mod:`tconv.checkerboard`.

Two views of the same defect, both computed by the NumPy core:

- *phase sums*: with every input equal to 1, an interior output of phase ``r`` is the sum
  of the kernel taps that reach phase ``r`` (``tconv.checkerboard.phase_sums``); unequal
  sums across phases are a checkerboard;
- *artifact score*: the layer's actual response to a constant input, scored by
  ``tconv.checkerboard.artifact_score`` (share of non-DC energy on the stride lattice),
  0 for a checkerboard-free layer.

The response is computed in float64 on a copy of the layer. Weights stored in float32 are
already rounded, and rounding alone can make phases differ by a few units in the last
place; a channel whose relative ripple is within that rounding's bound -- ``eps(dtype)``
times the largest sum of ``|w|`` over the taps of one output, over the output's magnitude --
scores 0 rather than as a (scale-free) pattern.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import checkerboard

__all__ = ["LayerReport", "layer_report"]


@dataclass(frozen=True)
class LayerReport:
    """What :func:`layer_report` measured.

    Attributes:
        stride: up-sampling factor per spatial dim.
        phase_sums: ``(C_out, *stride)`` constant-input response per phase (bias included
            where it differs between phases), or None for methods without phases.
        phase_spread: ``(C_out,)`` ``max - min`` of ``phase_sums`` per channel, or None.
        overlap: ``tconv.checkerboard.overlap_map`` of a transposed layer, or None.
        artifact_score: ``(C_out,)`` artifact score of the response to a constant input:
            the *share* of its non-DC energy on the stride lattice (scale-free), 0 for a
            channel whose ripple is within ``noise_floor``.
        amplitude: ``(C_out,)`` ``max - min`` of the interior response over its largest
            magnitude -- the checkerboard's relative size (0 when free).
        input_size: spatial size of the constant probe input.
        border: output rows/cols dropped on each side before scoring (zero-padding edges).
        noise_floor: ``(C_out,)`` the relative ripple that rounding the weights to their
            dtype can cause; channels whose ``amplitude`` is within it score 0.
    """

    stride: tuple[int, ...]
    phase_sums: np.ndarray | None
    phase_spread: np.ndarray | None
    overlap: np.ndarray | None
    artifact_score: np.ndarray
    amplitude: np.ndarray
    input_size: tuple[int, ...]
    border: int
    noise_floor: np.ndarray | None = None

    @property
    def score(self) -> float:
        """The worst channel's artifact score."""
        return float(np.max(self.artifact_score))

    def checkerboard_free(self, tol: float = 1e-6) -> bool:
        """Whether every channel's relative checkerboard amplitude is at most ``tol``.

        The default tolerates float32 rounding of the weights (a bilinear layer at scale 3
        has taps 1/3 and 2/3, which float32 rounds unequally: amplitude ~3e-8); see also
        ``noise_floor``, the bound below which ``artifact_score`` is 0.
        """
        return bool(np.all(self.amplitude <= tol))


def _as_int_tuple(v: Any, nd: int) -> tuple[int, ...]:
    return tuple(int(a) for a in v) if isinstance(v, tuple | list) else (int(v),) * nd


def _describe(layer: Any) -> tuple[Any, ...]:
    """``(stride, phase_sums, overlap, ndim, C_in, border)`` of a supported layer."""
    from .upsample import Upsample

    if isinstance(layer, Upsample):
        if layer.method == "torch" or layer.ndim is None or layer.kernel_size is None:
            raise TypeError("layer_report: Upsample built with torch.nn.Upsample's keywords "
                            "is a fixed resize without weights; report a learnable layer")
        nd, s = layer.ndim, (layer.scale,) * layer.ndim
        if layer.method == "transposed":
            return _describe(layer.body.conv)
        sums = None
        if layer.method == "pixel_shuffle":
            conv: Any = layer.body.conv
            w = conv.weight.detach().to("cpu", torch.float64).numpy()
            total = w.reshape(w.shape[0], -1).sum(axis=1)
            if conv.bias is not None:
                total = total + conv.bias.detach().to("cpu", torch.float64).numpy()
            sums = total.reshape(layer.out_channels, *s)
        border = layer.scale * (layer.kernel_size + 1)
        return s, sums, None, nd, layer.in_channels, border
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        nd = len(layer.kernel_size)
        s, d = _as_int_tuple(layer.stride, nd), _as_int_tuple(layer.dilation, nd)
        w = layer.weight.detach().to("cpu", torch.float64).numpy()
        sums = checkerboard.phase_sums(w, s, d, layer.groups)
        overlap = checkerboard.overlap_map(tuple(layer.kernel_size), s, d, ndim=nd)
        border = max(di * (k - 1) for di, k in zip(d, layer.kernel_size, strict=True)) + 1
        return s, sums, overlap, nd, layer.in_channels, border
    raise TypeError(f"layer_report: layer must be an nn.ConvTranspose1d/2d/3d or a "
                    f"tconv.nn.Upsample, not {type(layer).__name__}")


def _abs_tap_sums(layer: Any) -> tuple[np.ndarray | None, float]:
    """Per output channel, the largest sum of ``|w|`` (and ``|bias|``) feeding one output,
    and the machine epsilon of the layer's parameters (0 without parameters)."""
    params = [p for p in layer.parameters() if p.is_floating_point()]
    if not params:
        return None, 0.0
    eps = float(torch.finfo(params[0].dtype).eps)
    from .upsample import Upsample

    conv: Any = layer.body.conv if isinstance(layer, Upsample) else layer
    if conv is None:
        return None, eps
    w = np.abs(conv.weight.detach().to("cpu", torch.float64).numpy())
    b = 0.0 if conv.bias is None else np.abs(conv.bias.detach().to("cpu", torch.float64)
                                             .numpy())
    if isinstance(conv, nn.modules.conv._ConvTransposeNd):
        nd = len(conv.kernel_size)
        sums = checkerboard.phase_sums(w, _as_int_tuple(conv.stride, nd),
                                       _as_int_tuple(conv.dilation, nd), conv.groups)
        per_channel = sums.reshape(sums.shape[0], -1).max(axis=1) + b
    else:                                           # a forward conv: all taps reach one output
        per_channel = w.reshape(w.shape[0], -1).sum(axis=1) + b
        if isinstance(layer, Upsample) and layer.method == "pixel_shuffle":
            per_channel = per_channel.reshape(layer.out_channels, -1).max(axis=1)
    return np.asarray(per_channel, dtype=np.float64), eps


def layer_report(layer: nn.Module) -> LayerReport:
    """Per-phase kernel sums and artifact score of an up-sampling layer's constant response.

    A transposed convolution (or :class:`~tconv.nn.Upsample`) is fed a constant input of
    ones; an ideal up-sampler returns a constant. Its output phases -- the ``stride**d``
    sub-pixel positions -- get the sums of different kernel taps; where those sums differ
    the output is a checkerboard (Odena et al., Distill 2016).

    Args:
        layer: ``nn.ConvTranspose{1,2,3}d`` or :class:`~tconv.nn.Upsample` (phase sums for
            ``"transposed"`` and ``"pixel_shuffle"``; the score for every method).

    Returns:
        A :class:`LayerReport`; ``report.score`` and ``report.amplitude`` are 0 for an
        exactly checkerboard-free layer.

    Shape:
        ``phase_sums``: ``(C_out, *stride)``; ``artifact_score``: ``(C_out,)``.

    Convention:
        Phase sums are indexed on the uncropped output, as ``tconv.checkerboard``; the bias
        of a transposed conv adds the same constant to every phase and is left out, the
        per-channel bias of a pixel-shuffle conv differs by phase and is included.

    Raises:
        TypeError: for a layer that is not a transposed conv or an ``Upsample``.

    Examples:
        >>> torch.manual_seed(0) and None
        >>> bad = nn.ConvTranspose2d(1, 1, 3, stride=2)          # uneven overlap
        >>> layer_report(bad).score > 0.5
        True
        >>> from tconv.nn import Upsample
        >>> good = Upsample(2, 2, 2, method="transposed", init="bilinear")
        >>> layer_report(good).score, layer_report(good).phase_spread
        (0.0, array([0., 0.]))
    """
    stride, sums, overlap, nd, c_in, border = _describe(layer)
    n = 2 * max(math.ceil(border / s) for s in stride) + 8
    probe = copy.deepcopy(layer).to("cpu", torch.float64).eval()
    with torch.no_grad():
        y = probe(torch.ones(1, c_in, *(n,) * nd, dtype=torch.float64))[0].numpy()
    score = np.atleast_1d(checkerboard.artifact_score(y, stride, ndim=nd, border=border))
    inner = y[(slice(None), *(slice(border, -border),) * nd)].reshape(y.shape[0], -1)
    peak = np.abs(inner).max(axis=1)
    amplitude = np.divide(np.ptp(inner, axis=1), peak, out=np.zeros_like(peak),
                          where=peak > 0)
    abs_sums, eps = _abs_tap_sums(layer)
    noise = None
    if abs_sums is not None and abs_sums.shape == peak.shape:
        # each stored weight is off by at most eps/2 of itself: a phase's sum by
        # eps/2 * sum|w|, two phases apart by eps * sum|w| (doubled for safety)
        noise = np.divide(2 * eps * abs_sums, peak, out=np.full_like(peak, np.inf),
                          where=peak > 0)
        score = np.where(amplitude <= noise, 0.0, score)
    spread = None
    if sums is not None:
        flat = sums.reshape(sums.shape[0], -1)
        spread = flat.max(axis=1) - flat.min(axis=1)
    return LayerReport(stride=tuple(stride), phase_sums=sums, phase_spread=spread,
                       overlap=overlap, artifact_score=score, amplitude=amplitude,
                       input_size=(n,) * nd, border=border, noise_floor=noise)
