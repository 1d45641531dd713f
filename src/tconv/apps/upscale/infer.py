"""Up-scale images with the trained model on the NumPy engine (or torch), tiled.

Colour handling (exactly invertible, float64 maths, rounded once at the end):

* RGB -> YCbCr with the BT.601 studio-range matrix the model was trained with
  (:func:`rgb_to_ycbcr`); the model up-scales Y, bicubic up-scales Cb and Cr; the inverse
  matrix maps back (round trip exact to float precision).
* Gray is R = G = B (Cb = Cr = 128), so only Y is needed; RGBA's alpha is up-scaled bicubic.
* 8- and 16-bit pixels: values are divided by 255 / 65535, the output keeps the input's
  bit depth.

Engines: ``"numpy"`` runs the model with NumPy on the CPU, ``"torch"`` runs the torch
module itself; they agree to ~1e-6. The transposed-conv head is rewritten exactly as conv +
pixel shuffle (:func:`tconv.kernels.subpixel_form`), the fast form on a CPU.

What the NumPy engine runs on: the resize-conv model runs layer by layer on the core's
:func:`tconv.conv` (:meth:`NumpyUpscaler._layerwise`, via :func:`conv_same`); the transposed
and pixel-shuffle models run on the banded engine (:meth:`NumpyUpscaler._banded`), which the
tests hold to the layer-by-layer path. It cuts each group of layers (a KxK conv and the 1x1
convs after it) into bands of rows and, per band, copies one im2col and runs one matrix
product per layer into buffers it keeps, applying bias, PReLU and the following 1x1 convs
while the band is in cache; the head's many-to-few conv is one product to ``K*K*P`` planes
and ``K*K`` shifted adds per band; the zero-bordered layer buffers are kept for the next tile
of the same size. The core's convolution has none of these fused steps: it writes every
call's output into a new array (no ``out=``), adds the bias to the whole output afterwards,
pads its input and copies an im2col per call (a 1x1 conv included), cuts a band's product
into smaller ones, and has no activation. Engines built on it -- layer by layer, or the same
bands as ``tconv.conv`` calls, in order or on this pool -- do the same arithmetic (about the
same process CPU time with one BLAS thread) but are slower on two threads, where they take
more CPU time with a threaded BLAS. Keeping no buffers, the bands of ``tconv.conv`` calls
peak at less memory, and so does layer by layer on tiles (not on large whole images). The
measured table and its command are ``benchmarks/upscale_engine.py``. The bands run on one
thread pool shared by every model in the process (``tconv.get_num_threads()`` threads):
tconv's own pool is private to the core, which apps do not import.

Tiling: the input is cut into ``tile x tile`` blocks, each read with a margin of
:func:`receptive_radius` pixels (clipped at the image border, where the network's own zero
padding / edge clamping applies exactly as untiled); the whole pipeline (colour conversion,
model, chroma, rounding) runs on the block and only its core is kept -- so tiled output
equals untiled output up to float32 rounding in the network's matrix products (whose
summation order depends on the block's size): at most 1 LSB, on about 2 pixels in 100,000
of a seeded population of 8/16-bit gray/RGB/RGBA images, tiles 8-32, x2/x3/x4 (held by
``tests/apps/test_upscale_hostile.py::TestTiling``). The skip and the gate are sampled in
float64, so their positions do not depend on where a tile starts.

Memory beyond the input and output arrays depends on the tile and the thread count, not the
image. With ``B = (tile + 2*margin)**2`` LR pixels per block (the whole image with
``tile=None``), ``d, s, m`` the body's widths and depth, ``P = scale**2`` phases and ``Kh``
the sub-pixel head's kernel (5 at x2, 3 at x3/x4), the banded engine keeps the zero-bordered
layer buffers, ``(1 + m*s + d + P) * B * 4`` bytes, and each thread's band buffers,
``(9*s + 3*d + Kh**2 * P) * BAND_PIXELS * 4`` bytes (47-55 MB for the shipped models);
the colour planes add ``~32 * scale**2 * B * 8`` bytes of float64. So a tiled 8000x8000 RGB
photo at x2 needs its 192 MB input, the 768 MB output and that working set.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import conv as np_conv
from ... import get_num_threads
from ... import io as tio
from ...checkerboard import pixel_shuffle
from ...interpolate import interpolate
from ...kernels import subpixel_form
from .model import UpscalerConfig, body_layers, flatness_gate, weight_shapes

__all__ = ["WEIGHTS_DIR", "conv_same", "weights_path", "choose_engine", "load_model",
           "NumpyUpscaler", "TorchUpscaler", "bicubic_upsample", "rgb_to_ycbcr", "ycbcr_to_rgb",
           "receptive_radius", "upscale_y", "upscale_array", "METHODS", "ENGINES"]

WEIGHTS_DIR = pathlib.Path(__file__).parent / "weights"
METHODS = ("learned", "bicubic", "bilinear", "nearest")
ENGINES = ("numpy", "torch")

# BT.601 studio range on [0, 1] values: ycc = OFFSET + M @ rgb  (MATLAB rgb2ycbcr / 255)
_M = np.array([[65.481, 128.553, 24.966],
               [-37.797, -74.203, 112.0],
               [112.0, -93.786, -18.214]]) / 255.0
_OFF = np.array([16.0, 128.0, 128.0]) / 255.0
_MINV = np.linalg.inv(_M)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB in [0, 1] -> YCbCr in [0, 1] (Y in [16, 235]/255), float64."""
    return rgb @ _M.T + _OFF


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`rgb_to_ycbcr` (no clipping)."""
    return (ycc - _OFF) @ _MINV.T


def bicubic_upsample(x: np.ndarray, scale: int, a: float = -0.75) -> np.ndarray:
    """Up-sample the last two axes of ``x (..., H, W)`` by ``scale`` with the core's cubic:
    :func:`tconv.interpolate` (``mode="bicubic"``, ``cubic_a=a``), which equals
    ``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`` for
    ``a = -0.75`` (the skip of the shipped models uses ``a = -0.5``, Keys'/PIL's kernel with
    torch's clamped indices).

    Examples:
        >>> bicubic_upsample(np.array([[0.0, 1.0]]), 2).round(4)   # = torch's, edge-clamped
        array([[-0.1055,  0.2266,  0.7734,  1.1055],
               [-0.1055,  0.2266,  0.7734,  1.1055]])
    """
    x = np.asarray(x)
    planes = x.reshape(1, -1, *x.shape[-2:])
    y = interpolate(planes, scale_factor=scale, mode="bicubic", cubic_a=a)
    return y.reshape(*x.shape[:-2], *y.shape[-2:])


def receptive_radius(cfg: UpscalerConfig) -> int:
    """LR pixels each side an output block depends on (body + head; the skip needs 2)."""
    body = sum(k // 2 for _, _, k in body_layers(cfg))
    s = cfg.scale
    if cfg.head == "transposed":
        pad = cfg.head_padding[0]
        head = math.ceil(max(pad, cfg.head_kernel - 1 - pad) / s) + 1
    elif cfg.head == "pixel_shuffle":
        head = cfg.head_kernel // 2
    else:
        head = math.ceil((cfg.head_kernel // 2) / s) + 1
    return max(body + head, 2)


def weights_path(scale: int, head: str = "transposed") -> pathlib.Path:
    """The shipped weights file for ``scale`` and ``head``."""
    suffix = "" if head == "transposed" else f"_{head}"
    return WEIGHTS_DIR / f"x{scale}{suffix}.npz"


def choose_engine(engine: str | None, device: str | None) -> tuple[str, str | None]:
    """``(engine, device)`` for ``--engine`` / ``--device`` as given (``None``: not given).

    The NumPy engine runs on the CPU; ``--device`` cuda / cuda:N / mps needs the torch engine
    (chosen when ``--engine`` is not given). ``auto`` picks CUDA, then MPS, then the CPU
    (:func:`tconv.apps._devices.resolve_device`), and on the CPU the NumPy engine unless
    ``--engine torch`` was asked for; without torch installed, ``auto`` is the CPU.
    """
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"upscale: engine={engine!r} must be one of {ENGINES}")
    from .._devices import _DEVICE_RE, DEVICE_CHOICES_HELP

    if device is not None and (not isinstance(device, str) or not _DEVICE_RE.match(device)):
        raise ValueError(f"upscale: --device {device!r} must be one of {DEVICE_CHOICES_HELP}")
    if device is None or device == "cpu":
        return engine or "numpy", device
    if engine == "numpy":
        if device == "auto":
            return "numpy", "cpu"
        raise ValueError(f"upscale: --engine numpy runs on the CPU only; --device {device} "
                         "needs --engine torch")
    try:
        import torch  # noqa: F401
    except ImportError:
        if device == "auto":
            return engine or "numpy", "cpu"
        raise ImportError(f'upscale: --device {device} needs PyTorch: pip install '
                          '"tconv[torch]"') from None
    from .._devices import resolve_device
    from .._distributed import env_world

    dev = resolve_device(device, "upscale", env_world()[2])
    if dev.type == "cpu" and engine is None:
        return "numpy", "cpu"
    return "torch", str(dev)


def load_model(path: str | pathlib.Path | None = None, scale: int = 2,
               engine: str = "numpy", head: str = "transposed", device: str | None = None):
    """Load verified weights into a NumPy or torch engine (``device``: torch's, e.g.
    ``"cuda:0"``; the NumPy engine runs on the CPU).

    Before any array is read the sha256 is checked against the manifest, the manifest's
    config is validated, and the file must hold exactly the arrays that config needs, with
    their shapes and a real floating dtype (other members are never loaded); all values must
    be finite.

    Raises:
        FileNotFoundError: no weights file.
        ValueError: any of the checks above, with the file and the reason.
    """
    if engine not in ENGINES:
        raise ValueError(f"load_model: engine={engine!r} must be one of {ENGINES}")
    path = weights_path(scale, head) if path is None else pathlib.Path(path)
    found: dict[str, UpscalerConfig] = {}

    def expect(meta: dict) -> dict[str, tuple[int, ...]]:
        # the manifest's config says which arrays, of which shapes, the model needs
        conf = meta.get("config")
        if not isinstance(conf, dict):
            raise ValueError(f"load_model: the manifest entry of {str(path)!r} has no "
                             "'config' table")
        try:
            cfg = UpscalerConfig(**conf)
        except TypeError as exc:
            raise ValueError(f"load_model: the manifest config of {str(path)!r} is not an "
                             f"up-scaler config ({exc})") from None
        if cfg.scale != scale:
            raise ValueError(f"load_model: {str(path)!r} is a x{cfg.scale} model, "
                             f"asked for scale={scale}")
        found["cfg"] = cfg
        return weight_shapes(cfg)

    arrays, meta = tio.load_weights(path, expect=expect)
    cfg = found["cfg"]
    if engine == "numpy":
        if device not in (None, "cpu"):
            raise ValueError(f"load_model: the NumPy engine runs on the CPU, not {device!r}")
        return NumpyUpscaler(cfg, arrays)
    return TorchUpscaler(cfg, arrays, device or "cpu")


def conv_same(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int | None = None
              ) -> np.ndarray:
    """Stride-1 zero-padded conv of ``x (C_in, H, W)`` with ``w (C_out, C_in, K, K)``.

    Many-to-few layers (``C_out < C_in``, e.g. the 56 -> 4 sub-pixel head) run as one 1x1
    :func:`tconv.conv` to ``K*K*C_out`` channels -- a single matrix product -- followed by the
    sum of the ``K*K`` shifted planes: the same sum of products in another order, with a
    ``K*K*C_out``-row buffer instead of im2col's ``K*K*C_in`` rows. Otherwise ``tconv.conv``.
    """
    co, ci, k, _ = w.shape
    pad = k // 2 if pad is None else pad
    if k == 1 or co >= ci:
        return np_conv(x, w, b, 1, pad)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad))) if pad else x
    rows, cols = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    # (K, K, C_out, C_in, 1, 1): tap (i, j) of every output channel as a 1x1 filter
    z = np_conv(xp, w.transpose(2, 3, 0, 1).reshape(k * k * co, ci, 1, 1))
    z = z.reshape(k, k, co, *xp.shape[1:])
    y = np.empty((co, rows, cols), dtype=z.dtype)
    y[...] = b.reshape(-1, 1, 1)
    for i in range(k):
        for j in range(k):
            y += z[i, j, :, i:i + rows, j:j + cols]        # output (r, c) reads input (r+i, c+j)
    return y


# The skip and the gate are sampled in float64: float32 source positions at x3 round
# differently for the same pixel at another index (a tile's own origin), which moved tiled
# output off untiled by 1 LSB on hundreds of pixels; in float64 the difference is ~1e-16.
def _skip64(x: np.ndarray, cfg: UpscalerConfig) -> np.ndarray:
    return bicubic_upsample(x.astype(np.float64), cfg.scale, cfg.skip_a).astype(np.float32)


def _gate64(x: np.ndarray, cfg: UpscalerConfig) -> np.ndarray:
    return flatness_gate(x.astype(np.float64), cfg.scale, cfg.gate_low,
                         cfg.gate_high).astype(np.float32)


# The banded engine's threads: one pool for every model in the process (loading x2, x3 and
# x4 models starts no more threads than one), sized by tconv.get_num_threads. A pool of
# another size replaces it; the old one's threads exit once its last caller lets it go.
_POOL_LOCK = threading.Lock()
_POOLS: dict[int, ThreadPoolExecutor] = {}
if hasattr(os, "register_at_fork"):                 # a forked child has none of its threads
    os.register_at_fork(after_in_child=_POOLS.clear)


def _engine_pool(workers: int) -> ThreadPoolExecutor:
    with _POOL_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            _POOLS.clear()
            pool = _POOLS[workers] = ThreadPoolExecutor(workers,
                                                        thread_name_prefix="tconv-upscale")
        return pool


class NumpyUpscaler:
    """The up-scaler as NumPy float32 arrays and :func:`tconv.conv` calls (no torch).

    Call with Y ``(H, W)`` float in [0, 1]; returns ``(s*H, s*W)`` float32.
    """

    def __init__(self, cfg: UpscalerConfig, arrays: dict[str, np.ndarray]) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self._local = threading.local()                       # per-thread work buffers
        self._buffers: dict[tuple[int, int], list[np.ndarray]] = {}
        f32 = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
        self.body = []
        for i, _ in enumerate(body_layers(cfg)):
            w, b = f32[f"body.{2 * i}.weight"], f32[f"body.{2 * i}.bias"]
            a = f32[f"body.{2 * i + 1}.weight"].reshape(-1, 1, 1).astype(np.float32)
            self.body.append((w, b, a))
        s = cfg.scale
        if cfg.head == "transposed":
            pad, opad = cfg.head_padding
            f = subpixel_form(f32["head.weight"], f32["head.bias"], stride=s, padding=pad,
                              output_padding=opad)
            self.head_w = f.weight.astype(np.float32)
            self.head_b = np.asarray(f.bias, dtype=np.float32)
            self.head_pad, self.head_crop = f.pad, f.crop
        elif cfg.head == "pixel_shuffle":
            self.head_w, self.head_b = f32["head.0.weight"], f32["head.0.bias"]
        else:
            self.head_w, self.head_b = f32["head.1.weight"], f32["head.1.bias"]
        # the banded engine's layout of the same weights, made once
        self._segs = self._segments()
        kh = self.head_w.shape[-1]
        self._head_z = np.ascontiguousarray(                      # (K*K*P, C): tap-major rows
            self.head_w.transpose(2, 3, 0, 1).reshape(kh * kh * self.head_w.shape[0], -1))

    def __call__(self, y: np.ndarray) -> np.ndarray:
        if self.cfg.head != "resize_conv":
            return self._banded(y)
        return self._layerwise(y)

    def _layerwise(self, y: np.ndarray) -> np.ndarray:
        """Layer by layer on whole arrays (the reference the banded path is tested against)."""
        cfg, s = self.cfg, self.cfg.scale
        x = np.asarray(y, dtype=np.float32)[None]                     # (1, H, W)
        h = x
        for w, b, a in self.body:
            h = conv_same(h, w, b)
            neg = np.minimum(h, 0.0)                                  # PReLU, in place:
            neg *= a - 1.0                                            # h + (a-1)*min(h, 0)
            h += neg
        if cfg.head == "transposed":
            (pr, qr), (pc, qc) = self.head_pad
            h = np.pad(h, ((0, 0), (pr, qr), (pc, qc)))               # zero pad (pad >= 0)
            out = pixel_shuffle(conv_same(h, self.head_w, self.head_b, 0), s)
            (cr0, cr1), (cc0, cc1) = self.head_crop
            out = out[:, cr0:out.shape[1] - cr1, cc0:out.shape[2] - cc1]
        elif cfg.head == "pixel_shuffle":
            out = pixel_shuffle(conv_same(h, self.head_w, self.head_b), s)
        else:
            up = np.repeat(np.repeat(h, s, axis=1), s, axis=2)        # nearest x s
            out = conv_same(up, self.head_w, self.head_b)
        out = out[0]
        if cfg.gated:
            out = out * _gate64(x[0], cfg)
        if cfg.skip:
            out = out + _skip64(x[0], cfg)
        return out.astype(np.float32, copy=False)

    # -- banded engine ---------------------------------------------------------------------
    #: output pixels per band and matrix product: large enough to amortise each product's
    #: fixed cost, small enough for a band's buffers to stay in cache
    BAND_PIXELS = 32768
    #: the zero-bordered layer buffers of the latest input size are kept up to this size
    KEEP_BYTES = 512 << 20

    def _segments(self) -> list[list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]]:
        """The body as segments: one KxK conv, then the 1x1 convs that follow it (pointwise,
        so they run on the same band without a halo). Each layer: ``(W2d, bias, slope-1, K)``.
        """
        segs: list[list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]] = []
        for w, b, a in self.body:
            k = w.shape[-1]
            layer = (np.ascontiguousarray(w.reshape(w.shape[0], -1)), b.reshape(-1, 1),
                     (a.reshape(-1, 1) - 1.0).astype(np.float32), k)
            if k == 1 and segs:
                segs[-1].append(layer)
            else:
                segs.append([layer])
        return segs

    def _banded(self, y: np.ndarray) -> np.ndarray:
        """Layer-group by layer-group, each in bands of rows on the thread pool.

        Every conv is an im2col + matrix product over one band of rows, read from a zero-
        bordered copy of its input, with bias, PReLU and the following 1x1 convs applied while
        the band is in cache; the head's many-to-few conv is a product to ``K*K*P`` planes and
        ``K*K`` shifted adds per band. The same sums as :meth:`_layerwise`, in bands.
        """
        from ...checkerboard import pixel_shuffle as shuffle

        cfg, s = self.cfg, self.cfg.scale
        x = np.asarray(y, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"NumpyUpscaler: y.shape={x.shape} must be (H, W)")
        rows, cols = x.shape
        band = max(1, self.BAND_PIXELS // cols)
        segs = self._segs
        if cfg.head == "transposed":
            (pr, qr), (pc, qc) = self.head_pad
        else:
            kk = self.head_w.shape[-1]
            pr = qr = pc = qc = kk // 2
        # zero-bordered buffers, one per segment input (border = that conv's pad), kept
        # between calls of the same size (tiles repeat it): a
        # fresh 60 MB buffer costs a page fault per 4 KiB on first write; only interiors
        # are ever written, so the borders stay zero
        with self._lock:
            kept = self._buffers.pop((rows, cols), None)
        fresh = kept is None
        bufs: list[np.ndarray] = [] if kept is None else kept
        pad = segs[0][0][3] // 2
        if fresh:
            bufs.append(np.zeros((1, rows + 2 * pad, cols + 2 * pad), np.float32))
        cur = bufs[0]
        cur[0, pad:pad + rows, pad:pad + cols] = x
        for n, seg in enumerate(segs):
            last = n + 1 == len(segs)
            co = seg[-1][0].shape[0]
            npad = (pr, qr, pc, qc) if last else (segs[n + 1][0][3] // 2,) * 4
            if fresh:
                bufs.append(np.zeros((co, rows + npad[0] + npad[1],
                                      cols + npad[2] + npad[3]), np.float32))
            nxt = bufs[n + 1]
            self._run_segment(cur, seg, rows, cols, nxt, npad, band)
            cur = nxt
        kh = self.head_w.shape[-1]
        p_out = self.head_w.shape[0]
        hr_rows, hr_cols = cur.shape[1] - kh + 1, cur.shape[2] - kh + 1
        if fresh:
            bufs.append(np.empty((p_out, hr_rows, hr_cols), np.float32))
        phases = bufs[-1]
        wz = self._head_z
        hb = max(1, self.BAND_PIXELS // cur.shape[2])
        bands = [(t, min(t + hb, hr_rows)) for t in range(0, hr_rows, hb)]

        def head_band(tt: tuple[int, int]) -> None:
            t0, t1 = tt
            r = t1 - t0
            src = cur[:, t0:t1 + kh - 1].reshape(cur.shape[0], -1)
            z = self._scratch("up_z", wz.shape[0] * src.shape[1]).reshape(
                wz.shape[0], src.shape[1])
            np.matmul(wz, src, out=z)
            z5 = z.reshape(kh, kh, p_out, r + kh - 1, cur.shape[2])
            acc = phases[:, t0:t1]
            acc[...] = self.head_b.reshape(-1, 1, 1)
            for i in range(kh):
                for j in range(kh):
                    acc += z5[i, j, :, i:i + r, j:j + hr_cols]

        self._for_each(head_band, bands)
        out = shuffle(phases[None], s)[0, 0]
        with self._lock:
            if sum(int(b.nbytes) for b in bufs) <= self.KEEP_BYTES:
                self._buffers = {(rows, cols): bufs}          # the latest size only
        if cfg.head == "transposed":
            (cr0, cr1), (cc0, cc1) = self.head_crop
            out = out[cr0:out.shape[0] - cr1, cc0:out.shape[1] - cc1]
        if cfg.gated:
            out = out * _gate64(x, cfg)
        if cfg.skip:
            out = out + _skip64(x, cfg)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _scratch(self, name: str, size: int) -> np.ndarray:
        """A float32 buffer of ``size`` owned by this model and the calling thread (kept
        between calls: a fresh multi-MiB array costs a page fault per 4 KiB on first write).
        """
        store = getattr(self._local, "buffers", None)
        if store is None:
            store = self._local.buffers = {}
        buf = store.get(name)
        if buf is None or buf.size < size:
            buf = store[name] = np.empty(size, np.float32)
        return buf[:size]

    def _for_each(self, fn: Callable[[Any], object], items: list) -> None:
        """``fn(item)`` for every item, on the engine's pool (``tconv.get_num_threads``
        threads, shared by every model) when there are enough items to share."""
        workers = get_num_threads()
        if workers <= 1 or len(items) < workers:
            for item in items:
                fn(item)
            return
        pool = _engine_pool(workers)
        for future in [pool.submit(fn, item) for item in items]:
            future.result()

    def release_memory(self) -> None:
        """Drop the buffers kept between calls (this thread's and the size-keyed layers)."""
        with self._lock:
            self._buffers = {}
        self._local = threading.local()

    def _run_segment(self, cur: np.ndarray, seg: list, rows: int, cols: int, nxt: np.ndarray,
                     npad: tuple[int, int, int, int], band: int) -> None:
        k = seg[0][3]
        ci = cur.shape[0]
        bands = [(r, min(r + band, rows)) for r in range(0, rows, band)]

        def run(rr: tuple[int, int]) -> None:
            r0, r1 = rr
            n = (r1 - r0) * cols
            if k == 1:
                h = cur[:, r0:r1, :cols].reshape(ci, n)
            else:
                h = self._scratch("up_cols", ci * k * k * n).reshape(ci, k, k, r1 - r0,
                                                                          cols)
                for i in range(k):
                    for j in range(k):
                        h[:, i, j] = cur[:, r0 + i:r1 + i, j:j + cols]
                h = h.reshape(ci * k * k, n)
            for idx, (w, b, am1, _) in enumerate(seg):
                o = self._scratch(f"up_h{idx % 2}", w.shape[0] * n).reshape(w.shape[0], n)
                np.matmul(w, h, out=o)
                o += b
                t = self._scratch("up_t", o.size).reshape(o.shape)
                np.minimum(o, 0.0, out=t)
                t *= am1
                o += t
                h = o
            nxt[:, npad[0] + r0:npad[0] + r1, npad[2]:npad[2] + cols] = h.reshape(-1, r1 - r0,
                                                                                    cols)

        self._for_each(run, bands)


class TorchUpscaler:
    """The same model run by torch (``torch.no_grad``, float32)."""

    def __init__(self, cfg: UpscalerConfig, arrays: dict[str, np.ndarray],
                 device: str = "cpu") -> None:
        import torch

        from .network import Upscaler

        self.cfg = cfg
        self.device = torch.device(device)
        self.module = Upscaler(cfg)
        self.module.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32))
                                     for k, v in arrays.items()})
        self.module.to(self.device).eval()

    def __call__(self, y: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))[None, None]
            return self.module(x.to(self.device))[0, 0].cpu().numpy()


def upscale_y(model: Any, y: np.ndarray, tile: int | None = 192) -> np.ndarray:
    """Run ``model`` on Y ``(H, W)`` in tiles of ``tile`` LR pixels (``None``: whole image)."""
    s = model.cfg.scale
    rows, cols = y.shape
    if tile is None or (rows <= tile and cols <= tile):
        return model(y)
    m = receptive_radius(model.cfg)
    out = np.empty((rows * s, cols * s), np.float32)
    for r0 in range(0, rows, tile):
        for c0 in range(0, cols, tile):
            r1, c1 = min(r0 + tile, rows), min(c0 + tile, cols)
            a0, b0 = max(r0 - m, 0), max(c0 - m, 0)
            a1, b1 = min(r1 + m, rows), min(c1 + m, cols)
            res = model(y[a0:a1, b0:b1])
            out[r0 * s:r1 * s, c0 * s:c1 * s] = res[(r0 - a0) * s:(r1 - a0) * s,
                                                    (c0 - b0) * s:(c1 - b0) * s]
    return out


@dataclass
class UpscaleOptions:
    """What ``tconv upscale`` does to each image."""

    scale: int = 2
    method: str = "learned"
    engine: str = "numpy"
    tile: int | None = 192
    weights: pathlib.Path | None = None
    max_pixels: int | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.scale not in (2, 3, 4):
            raise ValueError(f"upscale: scale={self.scale!r} must be 2, 3 or 4")
        if self.method not in METHODS:
            raise ValueError(f"upscale: method={self.method!r} must be one of {METHODS}")
        if self.engine not in ENGINES:
            raise ValueError(f"upscale: engine={self.engine!r} must be one of {ENGINES}")
        if self.tile is not None and (isinstance(self.tile, bool) or not isinstance(
                self.tile, int) or self.tile < 8):
            raise ValueError(f"upscale: tile={self.tile!r} must be an int >= 8 LR pixels (or "
                             "None / --tile 0 for the whole image)")
        if self.max_pixels is not None and (isinstance(self.max_pixels, bool) or not isinstance(
                self.max_pixels, int) or self.max_pixels < 1):
            raise ValueError(f"upscale: max_pixels={self.max_pixels!r} must be a positive "
                             "int (pixels, rows x columns)")


def _interp_channels(chans: np.ndarray, s: int, method: str) -> np.ndarray:
    # chans (C, H, W) float64 -> (C, sH, sW): PIL's resampling (bicubic a = -0.5 reference)
    from .data import resize

    return np.stack([resize(c, c.shape[0] * s, c.shape[1] * s, method) for c in chans])


def upscale_array(img: np.ndarray, opts: UpscaleOptions, model: Any = None) -> np.ndarray:
    """Up-scale a uint8/uint16 gray, RGB or RGBA array; same dtype and channel layout out.

    ``method="learned"``: the model on Y, torch-exact bicubic on Cb, Cr and alpha.
    Other methods: PIL's resampling of every channel (the evaluation's reference bicubic).

    The image is processed in ``opts.tile`` blocks (each with its receptive-field margin) end
    to end -- colour conversion, model, chroma, rounding -- so memory beyond the input and
    output arrays stays bounded by the tile, and the result equals the untiled one.
    """
    img = np.asarray(img)
    if img.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"upscale: image dtype {img.dtype} must be uint8 or uint16")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (3, 4))):
        raise ValueError(f"upscale: image shape {img.shape} must be (H, W), (H, W, 3) or "
                         "(H, W, 4)")
    s = opts.scale
    if opts.method == "learned" and model is None:
        model = load_model(opts.weights, s, opts.engine)
    # PIL's bicubic reads 2 source pixels each side; the model its receptive field
    margin = receptive_radius(model.cfg) if opts.method == "learned" else 3
    rows, cols = img.shape[:2]
    tile = opts.tile or max(rows, cols)
    out = np.empty((rows * s, cols * s, *img.shape[2:]), img.dtype)
    for r0 in range(0, rows, tile):
        for c0 in range(0, cols, tile):
            r1, c1 = min(r0 + tile, rows), min(c0 + tile, cols)
            a0, b0 = max(r0 - margin, 0), max(c0 - margin, 0)
            a1, b1 = min(r1 + margin, rows), min(c1 + margin, cols)
            up = _upscale_block(img[a0:a1, b0:b1], opts, model)
            out[r0 * s:r1 * s, c0 * s:c1 * s] = up[(r0 - a0) * s:(r1 - a0) * s,
                                                   (c0 - b0) * s:(c1 - b0) * s]
    return out


def _upscale_block(img: np.ndarray, opts: UpscaleOptions, model: Any) -> np.ndarray:
    peak = 255.0 if img.dtype == np.uint8 else 65535.0
    s = opts.scale
    f = img.astype(np.float64) / peak
    chans = f[None] if f.ndim == 2 else np.moveaxis(f, -1, 0)          # (C, H, W)
    if opts.method != "learned":
        out = _interp_channels(chans, s, opts.method)
    else:
        color = chans.shape[0] >= 3
        if color:
            ycc = rgb_to_ycbcr(np.moveaxis(chans[:3], 0, -1))
            y = ycc[..., 0]
        else:
            y = (16.0 + 219.0 * chans[0]) / 255.0                      # gray: R = G = B
        y_up = model(y.astype(np.float32)).astype(np.float64)
        parts = []
        if color:
            cbcr = bicubic_upsample(np.moveaxis(ycc[..., 1:], -1, 0), s)
            rgb = ycbcr_to_rgb(np.stack([y_up, cbcr[0], cbcr[1]], axis=-1))
            parts.append(np.moveaxis(rgb, -1, 0))
        else:
            parts.append(((y_up * 255.0 - 16.0) / 219.0)[None])
        if chans.shape[0] in (2, 4):
            parts.append(bicubic_upsample(chans[-1:], s))
        out = np.concatenate(parts, axis=0)
    out = np.clip(np.round(out * peak), 0, peak).astype(img.dtype)
    return out[0] if img.ndim == 2 else np.moveaxis(out, 0, -1)


def manifest() -> dict:
    """The shipped weights' manifest (sha256, config, training record)."""
    return json.loads((WEIGHTS_DIR / tio.MANIFEST).read_text())
