"""In-place initialisers for torch weights, built from :mod:`tconv.kernels`.

The numbers are computed once, in NumPy (one source of truth), and copied into the tensor
under ``torch.no_grad()``; nothing here runs during ``forward``. Named like
``torch.nn.init``: a trailing underscore fills in place and returns the tensor.

- :func:`bilinear_` -- FCN: a transposed conv that starts as bilinear interpolation.
- :func:`icnr_` -- ICNR for the conv before a pixel shuffle (starts as conv + nearest).
- :func:`icnr_transpose_` -- the same idea for a transposed conv (equal phase sub-kernels).
- :func:`interpolation_subpixel_` -- the conv before a pixel shuffle starts as bilinear
  (or nearest / bicubic) interpolation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .. import kernels
from ..kernels import Init

__all__ = ["bilinear_", "icnr_", "icnr_transpose_", "interpolation_subpixel_", "numpy_rng"]


def numpy_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A NumPy generator; ``None`` draws its seed from torch's RNG (``torch.manual_seed``)."""
    if rng is None:
        rng = int(torch.randint(0, 2**62, (1,)).item())
    return np.random.default_rng(rng)


def _copy_(tensor: Tensor, values: np.ndarray) -> Tensor:
    with torch.no_grad():
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(values)).to(tensor.dtype))
    return tensor


def bilinear_(weight: Tensor, groups: int = 1) -> Tensor:
    """Fill a transposed-conv weight with FCN's bilinear filter, one per channel.

    Channel ``c`` of each group is up-sampled on its own (the weight is the identity over
    channels times :func:`tconv.kernels.bilinear_kernel`). With kernel ``2*s - s % 2`` and
    padding ``(K - s) // 2`` the layer equals bilinear interpolation
    (:func:`tconv.kernels.interpolation_kernel`) away from a ``s // 2`` border.

    Args:
        weight: ``(C_in, C_out/groups, *K)``, a ConvTranspose weight.
        groups: the layer's groups; each group needs ``C_in/groups == C_out/groups``.

    Returns:
        ``weight``, filled in place.

    Shape:
        ``weight[g*C + c, c] = bilinear_kernel(K)``, zero elsewhere.

    Raises:
        ValueError: when a group's input and output channel counts differ.

    Examples:
        >>> w = bilinear_(torch.empty(2, 2, 4))
        >>> w[0]
        tensor([[0.2500, 0.7500, 0.7500, 0.2500],
                [0.0000, 0.0000, 0.0000, 0.0000]])
    """
    fn = "bilinear_"
    if weight.dim() not in (3, 4, 5):
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} must have 3, 4 or 5 dims")
    if groups < 1 or weight.shape[0] % groups:
        raise ValueError(f"{fn}: groups={groups} must divide C_in={weight.shape[0]}")
    cig, cog = weight.shape[0] // groups, weight.shape[1]
    if cig != cog:
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} with groups={groups} has "
                         f"{cig} input and {cog} output channels per group; the bilinear "
                         "initialisation needs them equal (one filter per channel)")
    filt = kernels.bilinear_kernel(tuple(weight.shape[2:]))
    values = np.zeros(tuple(weight.shape))
    for gi in range(groups):
        for c in range(cig):
            values[gi * cig + c, c] = filt
    return _copy_(weight, values)


def icnr_(weight: Tensor, scale: int | tuple[int, ...], init: Init = "kaiming_normal",
          rng: np.random.Generator | int | None = None) -> Tensor:
    """Fill the conv weight before a pixel shuffle with ICNR (:func:`tconv.kernels.icnr`).

    Args:
        weight: ``(C_out * r**d, C_in/groups, *K)``.
        scale: the pixel-shuffle factor ``r``.
        init: base initialiser, see :func:`tconv.kernels.init_weight`.
        rng: NumPy generator or seed; ``None`` seeds from torch's RNG.

    Returns:
        ``weight``, filled in place.

    Shape:
        ``weight[c * r**d + phase] == base[c]``.

    Raises:
        ValueError: when ``weight.shape[0]`` is not a multiple of ``r**d``.

    Examples:
        >>> w = icnr_(torch.empty(8, 3, 3, 3), 2, rng=0)
        >>> bool((w[:4] == w[0]).all()), bool((w[4:] == w[4]).all())
        (True, True)
    """
    return _copy_(weight, kernels.icnr(tuple(weight.shape), scale, init, numpy_rng(rng)))


def icnr_transpose_(weight: Tensor, stride: int | tuple[int, ...],
                    init: Init = "kaiming_normal",
                    rng: np.random.Generator | int | None = None) -> Tensor:
    """Fill a transposed-conv weight so that every output phase has the same sub-kernel.

    See :func:`tconv.kernels.icnr_transpose`: a constant input then gives a constant output
    away from the borders -- checkerboard-free at initialisation.

    Args:
        weight: ``(C_in, C_out/groups, *K)`` with each ``K`` a multiple of ``stride``.
        stride: the layer's stride.
        init: base initialiser, see :func:`tconv.kernels.init_weight`.
        rng: NumPy generator or seed; ``None`` seeds from torch's RNG.

    Returns:
        ``weight``, filled in place.

    Shape:
        ``weight[..., t] == base[..., t // stride]`` along each kernel axis.

    Raises:
        ValueError: when a kernel size is not a multiple of the stride.

    Examples:
        >>> w = icnr_transpose_(torch.empty(1, 1, 4), 2, rng=0)
        >>> bool(w[0, 0, 0] == w[0, 0, 1]), bool(w[0, 0, 2] == w[0, 0, 3])
        (True, True)
    """
    return _copy_(weight, kernels.icnr_transpose(tuple(weight.shape), stride, init,
                                                 numpy_rng(rng)))


def interpolation_subpixel_(weight: Tensor, scale: int | tuple[int, ...],
                            mode: str = "bilinear") -> Tensor:
    """Fill the conv before a pixel shuffle so that conv + shuffle *is* interpolation.

    Uses :func:`tconv.kernels.interpolation_phases`: output channel ``c * s**d + phase``
    reads channel ``c`` with that phase's ``2R+1``-tap kernel (centred in a larger odd
    kernel if needed). With "same" padding the layer equals
    ``F.interpolate(..., mode, align_corners=False)`` away from the same border as
    :func:`tconv.kernels.interpolation_kernel`.

    Args:
        weight: ``(C * prod(scale), C, *K)`` conv weight, each ``K`` odd and at least
            ``2R+1`` (3 for bilinear, 5 for bicubic, 1 for nearest).
        scale: the pixel-shuffle factor.
        mode: ``"nearest"``, ``"bilinear"`` (any ndim) or ``"bicubic"``.

    Returns:
        ``weight``, filled in place.

    Shape:
        ``weight[c * S + phase, c] = phases[phase]`` (centred), zero elsewhere.

    Raises:
        ValueError: for a channel layout that is not ``(C * prod(scale), C)`` or a kernel
            that is even or too small.

    Examples:
        >>> w = interpolation_subpixel_(torch.empty(2, 1, 3), 2)
        >>> w[:, 0]
        tensor([[0.2500, 0.7500, 0.0000],
                [0.0000, 0.7500, 0.2500]])
    """
    fn = "interpolation_subpixel_"
    nd = weight.dim() - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} must have 3, 4 or 5 dims")
    phases = kernels.interpolation_phases(mode, scale, nd)
    n_ph = phases.shape[0]
    c = weight.shape[1]
    if weight.shape[0] != c * n_ph:
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} must have "
                         f"C * prod(scale) = {c} * {n_ph} output channels for C={c} inputs")
    ks, taps = tuple(weight.shape[2:]), phases.shape[1:]
    if any(k % 2 == 0 or k < t for k, t in zip(ks, taps, strict=True)):
        raise ValueError(f"{fn}: kernel size {ks} must be odd and at least {taps} for "
                         f"mode={mode!r}")
    values = np.zeros(tuple(weight.shape))
    centre = tuple(slice((k - t) // 2, (k - t) // 2 + t) for k, t in zip(ks, taps, strict=True))
    for ch in range(c):
        for ph in range(n_ph):
            values[(ch * n_ph + ph, ch, *centre)] = phases[ph]
    return _copy_(weight, values)
