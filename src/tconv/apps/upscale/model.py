"""FSRCNN-style up-scaler (Dong, Loy, Tang, ECCV 2016) with a choice of up-sampling head.

Body on the low-resolution luminance (d=56, s=12, m=4, PReLU after every conv)::

    conv5x5 1->d  |  conv1x1 d->s  |  m x conv3x3 s->s  |  conv1x1 s->d      (all "same")

Heads (``UpscalerConfig.head``), each mapping ``(N, d, H, W) -> (N, 1, s*H, s*W)``:

* ``"transposed"``: ``ConvTranspose2d(d, 1, 9, stride=s, padding=4, output_padding=s-1)``
  (FSRCNN's deconvolution; output size ``(H-1)*s - 8 + 9 + s-1 = s*H``).
* ``"pixel_shuffle"``: ``Conv2d(d, s*s, k, padding=k//2)`` + ``PixelShuffle(s)`` (ESPCN-style),
  ``k = 5`` at x2 and 3 at x3/x4 (same LR footprint as the 9x9 stride-s deconvolution).
* ``"resize_conv"``: nearest up-sampling by ``s`` then ``Conv2d(d, 1, 2s+1, padding=s)``.

With ``skip=True`` (the default, shipped) the head learns the residual over bicubic:
``out = head(body(x)) + cubic_upsample(x, s, a=skip_a)`` -- the 4-tap cubic convolution with
``align_corners=False`` and edge-clamped indices. ``skip_a = -0.75`` is exactly torch's
``interpolate(mode="bicubic")``; ``-0.5`` is the Keys/PIL/MATLAB cubic, the evaluation's
reference, whose smoother kernel leaves less stride-periodic error on flat regions (the
shipped models use it). Measured in the research note, the skip trains faster and ends
free of stride-periodic (checkerboard) artifacts.

With a *flatness gate* (``gate_low < gate_high``, gray levels; the shipped models use
1.5 and 3) the learned residual is faded out where the input is flat:
``out = gate * head(body(x)) + skip`` with ``gate`` the smoothstep of the 3x3 local standard
deviation of ``x`` (in gray levels) between ``gate_low`` and ``gate_high``, bilinearly
up-sampled (:func:`flatness_gate`). On flat regions -- where a learned head has nothing to
add but noise and its sub-pixel phases leave a faint checkerboard -- the output is the
bicubic skip itself; on edges and texture it is the network's. The same idea as RAISR's
structure-based blending with the cheap up-scale (Romano et al. 2017).

Convention: input and output are luminance in [0, 1] (gray levels / 255), ``(N, 1, H, W)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["UpscalerConfig", "HEADS", "body_layers", "weight_shapes", "balance_phases",
           "balance_head", "cubic_phase_taps", "flatness_gate"]

#: torch objects, defined in :mod:`tconv.apps.upscale.network` (which imports torch) and
#: importable from here for convenience without importing torch with this module
_TORCH_NAMES = ("Upscaler", "flatness_gate_torch", "cubic_upsample_torch")


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

HEADS = ("transposed", "pixel_shuffle", "resize_conv")


@dataclass
class UpscalerConfig:
    """Architecture of the up-scaler (everything needed to rebuild it from weights)."""

    scale: int = 2
    head: str = "transposed"
    d: int = 56
    s: int = 12
    m: int = 4
    skip: bool = True
    skip_a: float = -0.75
    head_size: int = 0
    head_moments: int = 1
    gate_low: float = 0.0
    gate_high: float = 0.0

    def __post_init__(self) -> None:
        for name in ("gate_low", "gate_high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 256.0:
                raise ValueError(f"UpscalerConfig: {name}={v!r} must be a number of gray "
                                 "levels in [0, 256)")
            setattr(self, name, float(v))
        if self.gate_high and not self.gate_low < self.gate_high:
            raise ValueError(f"UpscalerConfig: gate_low={self.gate_low!r} must be below "
                             f"gate_high={self.gate_high!r} (gate_high=0 turns the gate off)")
        if not isinstance(self.skip_a, (int, float)) or not -1.0 <= self.skip_a <= 0.0:
            raise ValueError(f"UpscalerConfig: skip_a={self.skip_a!r} must be a cubic "
                             "coefficient in [-1, 0] (-0.75 torch, -0.5 PIL/MATLAB)")
        self.skip_a = float(self.skip_a)
        if self.scale not in (2, 3, 4):
            raise ValueError(f"UpscalerConfig: scale={self.scale!r} must be 2, 3 or 4")
        if self.head not in HEADS:
            raise ValueError(f"UpscalerConfig: head={self.head!r} must be one of {HEADS}")
        if self.head_size and (self.head != "transposed" or not isinstance(self.head_size, int)
                               or self.head_size < self.scale):
            raise ValueError(f"UpscalerConfig: head_size={self.head_size!r} must be 0 (the "
                             f"default 9) or an int >= scale={self.scale} for the transposed "
                             "head")
        if self.head_moments not in (0, 1, 2):
            raise ValueError(f"UpscalerConfig: head_moments={self.head_moments!r} must be 0, "
                             "1 or 2")
        for name in ("d", "s", "m"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < (0 if name == "m" else 1):
                raise ValueError(f"UpscalerConfig: {name}={v!r} must be a positive int")

    @property
    def head_kernel(self) -> int:
        if self.head == "transposed":
            return self.head_size or 9
        if self.head == "pixel_shuffle":
            return 5 if self.scale == 2 else 3
        return 2 * self.scale + 1

    @property
    def head_padding(self) -> tuple[int, int]:
        """``(padding, output_padding)`` of the transposed head (output exactly ``s*H``).

        FSRCNN's 9x9 head: ``(4, s - 1)``. An explicit ``head_size`` K is *centred*: the
        kernel's middle lands on the middle of each input pixel's ``s x s`` block,
        ``padding = ceil((K - s)/2)``, ``output_padding = 2*padding - (K - s)``; with ``K`` a
        multiple of ``s`` every output phase gets the same number of taps (even overlap).
        """
        s, k = self.scale, self.head_kernel
        if not self.head_size:
            return k // 2, s - 1
        p = -(-(k - s) // 2)
        return p, 2 * p - (k - s)

    @property
    def gated(self) -> bool:
        return self.gate_high > 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def body_layers(cfg: UpscalerConfig) -> list[tuple[int, int, int]]:
    """``(C_in, C_out, kernel)`` of each body conv, in order (each followed by PReLU)."""
    return ([(1, cfg.d, 5), (cfg.d, cfg.s, 1)] + [(cfg.s, cfg.s, 3)] * cfg.m
            + [(cfg.s, cfg.d, 1)])


def weight_shapes(cfg: UpscalerConfig) -> dict[str, tuple[int, ...]]:
    """``name -> shape`` of every array of the model's state dict (what a weights file for
    ``cfg`` must hold; checked by :func:`tconv.io.load_weights` before any data is read).

    Examples:
        >>> shapes = weight_shapes(UpscalerConfig(scale=2))
        >>> shapes["body.0.weight"], shapes["head.weight"], len(shapes)
        ((56, 1, 5, 5), (56, 1, 9, 9), 23)
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (cin, cout, k) in enumerate(body_layers(cfg)):
        shapes[f"body.{2 * i}.weight"] = (cout, cin, k, k)
        shapes[f"body.{2 * i}.bias"] = (cout,)
        shapes[f"body.{2 * i + 1}.weight"] = (cout,)                 # PReLU slopes
    s, k = cfg.scale, cfg.head_kernel
    if cfg.head == "transposed":
        shapes["head.weight"], shapes["head.bias"] = (cfg.d, 1, k, k), (1,)
    elif cfg.head == "pixel_shuffle":
        shapes["head.0.weight"], shapes["head.0.bias"] = (s * s, cfg.d, k, k), (s * s,)
    else:
        shapes["head.1.weight"], shapes["head.1.bias"] = (1, cfg.d, k, k), (1,)
    return shapes


def cubic_phase_taps(scale: int, a: float = -0.75) -> list[tuple[list[int], list[float]]]:
    """``scale`` phases of integer-factor cubic up-sampling as ``(offsets, weights)``.

    Output ``o = q*scale + r`` is ``sum_j weights_r[j] * x[q + offsets_r[j]]`` with indices
    clamped to the image (edge replication), offsets within ``-2..2``. The taps are read
    off :func:`tconv.interpolate` (``mode="bicubic"``, ``cubic_a=a``) applied to unit
    impulses, so they are the core's cubic kernel by construction; the torch skip path
    (:func:`tconv.apps.upscale.network.cubic_upsample_torch`) applies them with torch ops.

    Examples:
        >>> for offsets, weights in cubic_phase_taps(2, -0.5):
        ...     print(offsets, [round(w, 4) for w in weights])
        [-2, -1, 0, 1] [-0.0234, 0.2266, 0.8672, -0.0703]
        [-1, 0, 1, 2] [-0.0703, 0.8672, 0.2266, -0.0234]
    """
    from ...interpolate import interpolate

    n, q = 8, 4                                   # an interior input sample: no clamping
    eye = np.eye(n).reshape(n, 1, 1, n)           # impulse i -> row i of the matrix
    m = interpolate(eye, scale_factor=(1, scale), mode="bicubic", cubic_a=a)[:, 0, 0, :]
    taps = []
    for r in range(scale):
        col = m[:, q * scale + r]
        rows = np.flatnonzero(col)
        taps.append(([int(i) - q for i in rows], [float(col[i]) for i in rows]))
    return taps


def _smoothstep(t):
    return t * t * (3.0 - 2.0 * t)


def flatness_gate(x: np.ndarray, scale: int, low: float, high: float) -> np.ndarray:
    """The up-scaler's flatness gate for LR luminance ``x (H, W)`` in [0, 1] -> ``(sH, sW)``.

    ``g = smoothstep((std3x3(x) * 255 - low) / (high - low))`` on the LR grid -- 0 where the
    3x3 neighbourhood (edge-replicated at the border) varies by less than ``low`` gray levels,
    1 above ``high`` -- then up-sampled by :func:`tconv.interpolate` (``"bilinear"``, as
    torch's). The window sums are separable box sums in float64 (no cancellation worth a
    thought at 8-bit contrasts); the result has ``x``'s float dtype. Equals
    :func:`flatness_gate_torch`.

    Examples:
        >>> x = np.zeros((4, 4)); x[:, 2:] = 10 / 255          # a 10-gray-level step
        >>> flatness_gate(x, 1, 1.5, 3.0)[0].tolist()           # LR grid: open next to it
        [0.0, 1.0, 1.0, 0.0]
        >>> flatness_gate(x, 2, 1.5, 3.0)[0].tolist()
        [0.0, 0.25, 0.75, 1.0, 1.0, 0.75, 0.25, 0.0]
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    xp = np.pad(x.astype(np.float64), 1, mode="edge")
    xp *= 255.0

    def box(a: np.ndarray) -> np.ndarray:                     # 3x3 sums, valid part
        r = a[:, :-2] + a[:, 1:-1]
        r += a[:, 2:]
        out = r[:-2] + r[1:-1]
        out += r[2:]
        return out

    m = box(xp)
    m *= 1.0 / 9.0
    xp *= xp
    var = box(xp)
    var *= 1.0 / 9.0
    var -= m * m
    np.maximum(var, 0.0, out=var)
    g = np.sqrt(var, out=var)
    g -= low
    g *= 1.0 / (high - low)
    np.clip(g, 0.0, 1.0, out=g)
    g = g.astype(dtype)
    g = _smoothstep(g)
    if scale == 1:
        return g
    from ...interpolate import interpolate

    return interpolate(g[None, None], scale_factor=scale, mode="bilinear")[0, 0]


def balance_phases(weight: np.ndarray, stride: int, moments: int = 0) -> np.ndarray:
    """Make a transposed-conv weight checkerboard-free on constant (and ramp) input.

    Output phase ``P = (r, c)`` of a stride-``s`` transposed conv receives the taps ``(i, j)``
    with ``i = r, j = c (mod s)`` (up to a relabelling by the padding). On a constant feature
    map its value is ``sum_in f_in * S[in, out, P] + bias`` with ``S`` the per-phase tap sums
    (:func:`tconv.checkerboard.phase_sums` summed over inputs): the layer is free of
    checkerboard on flat regions for *every* constant feature vector iff, for each
    (input, output) channel pair, ``S`` is the same for all phases.

    With ``moments=1`` the per-phase first moments ``sum i*w`` and ``sum j*w`` are equalised
    too. On a feature map that is a *ramp* (``f0 + f1 * position``, what gentle gradients
    become) output ``o`` then equals ``f0*S + f1*((o + pad)*S - M)/s`` -- one linear function
    of ``o`` for every phase, so gentle gradients come out as gradients, not stripes.

    This returns the nearest such weight (least squares, independently for each channel
    pair): with ``A_P`` the constraint rows of phase ``P`` (ones; and tap rows, tap columns),
    ``m_P = A_P w_P``, ``G_P = A_P A_P^T``, the common target is
    ``c = (sum G_P^-1)^-1 sum G_P^-1 m_P`` and ``w_P += A_P^T G_P^-1 (c - m_P)``.

    Args:
        weight: ``(C_in, C_out, K, K)``, PyTorch's transposed layout.
        stride: the layer's stride ``s``.
        moments: 0 (sums only), 1 (sums and first moments; needs every phase to have taps
            in two rows and two columns, i.e. ``K >= 2s``) or 2 (also the second moments
            ``sum i*i*w``, ``sum j*j*w``, ``sum i*j*w``, so quadratic features -- gentle
            curvature -- come out as one quadratic; needs ``K >= 3s``).

    Returns:
        The projected weight, same shape and dtype.

    Examples:
        >>> from tconv.checkerboard import phase_sums
        >>> w = np.arange(9.0).reshape(1, 1, 3, 3)
        >>> float(np.ptp(phase_sums(w, 2))), float(np.ptp(phase_sums(balance_phases(w, 2), 2)))
        (12.0, 0.0)
    """
    if moments not in (0, 1, 2):
        raise ValueError(f"balance_phases: moments={moments!r} must be 0, 1 or 2")
    w = np.array(weight, dtype=np.float64)
    k = w.shape[-1]
    if moments and k < (moments + 1) * stride:
        raise ValueError(f"balance_phases: moments={moments} needs kernel >= "
                         f"{moments + 1}*stride, got kernel={k}, stride={stride}")
    ti, tj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    phases = []
    for a in range(stride):
        for b in range(stride):
            sel = (ti % stride == a) & (tj % stride == b)
            rows = [np.ones(int(sel.sum()))]
            ci, cj = (ti[sel] - k / 2) / k, (tj[sel] - k / 2) / k  # centred, scaled
            if moments >= 1:
                rows += [ci, cj]
            if moments >= 2:
                rows += [ci * ci, cj * cj, ci * cj]
            A = np.array(rows)                                    # (q, n_P)
            phases.append((sel, A, np.linalg.inv(A @ A.T)))
    m = [w[..., sel] @ A.T for sel, A, _ in phases]               # (Ci, Co, q) each
    g_sum = sum(g for _, _, g in phases)
    rhs = sum(mp @ g.T for mp, (_, _, g) in zip(m, phases))        # sum G^-1 m_P, G symmetric
    c = rhs @ np.linalg.inv(g_sum).T
    for mp, (sel, A, g) in zip(m, phases):
        w[..., sel] += ((c - mp) @ g.T) @ A
    return w.astype(np.asarray(weight).dtype)


def balance_head(arrays: dict[str, np.ndarray], cfg: UpscalerConfig) -> dict[str, np.ndarray]:
    """Checkerboard-free head on constant input, for a state dict of NumPy arrays.

    ``transposed``: :func:`balance_phases` with ``moments`` up to ``cfg.head_moments``
    (default 1: ramps too) as far as the kernel allows (``K >= (moments + 1) * s``).
    ``pixel_shuffle``: each input channel's kernel sums and the biases are made equal
    across the ``s*s`` sub-pixel channels. ``resize_conv`` is balanced by construction
    (nearest up-sampling repeats a constant) and is returned as is.
    """
    out = dict(arrays)
    if cfg.head == "transposed":
        w = arrays["head.weight"]
        order = max(m for m in range(cfg.head_moments + 1)
                    if m == 0 or w.shape[-1] >= (m + 1) * cfg.scale)
        out["head.weight"] = balance_phases(w, cfg.scale, order)
    elif cfg.head == "pixel_shuffle":
        w = np.asarray(arrays["head.0.weight"], dtype=np.float64)      # (s*s, d, k, k)
        sums = w.sum(axis=(-1, -2))
        shift = (sums - sums.mean(axis=0, keepdims=True)) / (w.shape[-1] * w.shape[-2])
        out["head.0.weight"] = (w - shift[..., None, None]).astype(arrays["head.0.weight"].dtype)
        b = np.asarray(arrays["head.0.bias"])
        out["head.0.bias"] = np.full_like(b, b.mean())
    return out
