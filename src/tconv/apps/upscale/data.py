"""Training and held-out data for the up-scaler, from the photos scikit-image ships.

No downloads: every image comes from ``skimage.data`` (apps extra), which bundles them.

* **Held-out evaluation set** (:data:`EVAL_IMAGES`): astronaut, camera, chelsea, coffee,
  rocket. ``skimage.data.cat`` is chelsea under another name, so it is never used.
* **Training set** (:data:`TRAIN_IMAGES`): the other bundled natural/texture photos
  (the stereo motorcycle pair stays together, on the training side).
* **Luminance** (:func:`rgb_to_y`): MATLAB ``rgb2ycbcr`` / BT.601 studio range,
  ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1], Y in [16, 235] gray
  levels; grayscale images are R = G = B.
* **Low-resolution inputs** (:func:`downscale`): ``modcrop(HR, s)`` then bicubic
  down-sampling **with antialias** -- PIL ``Image.resize(..., BICUBIC)`` on the float ('F')
  image, which is identical (to 1e-4 gray levels, and exactly after rounding) to
  ``torch.nn.functional.interpolate(mode="bicubic", antialias=True)`` -- then rounded to 8 bit.
* **Augmentation** (:class:`PatchSampler`): HR pyramid at scales {1.0, 0.85, 0.7} (PIL
  bicubic), random 24x24 LR crops (HR ``24*s``), random 90-degree rotation and flip.
* **Smooth images** (:func:`smooth_image`, ``PatchSampler(smooth_frac=...)``): generated sky-
  like fields -- a level, a ramp and broad Gaussian blobs, rounded to 8 bit -- drawn for a
  share of the patches. The bundled training photos are mostly textures; without smooth
  regions the residual learns a small phase-dependent response to gentle gradients, which
  shows up as a stride-periodic bias on the flat regions of real photos.
* **Your own photos** (:func:`find_images`, :func:`read_y`, ``PatchSampler(files=...)``,
  :func:`folder_pairs`): every PNG/JPEG/TIFF/WebP under a folder (recursive, hidden files
  and folders skipped, sorted by relative path so a seed fixes the run), 8- or 16-bit,
  gray/RGB/RGBA (alpha ignored; 16-bit scaled to 8-bit gray levels, ``v * 255 / 65535``),
  through the very same luminance, pyramid, down-sampling and augmentation. A file that
  cannot be read is reported once (through ``log``) and skipped.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._train import list_images

__all__ = ["EVAL_IMAGES", "TRAIN_IMAGES", "load_photo", "rgb_to_y", "modcrop", "resize",
           "downscale", "make_pair", "eval_pairs", "smooth_image", "PatchSampler",
           "PHOTO_SUFFIXES", "find_images", "read_y", "read_folder_y", "folder_pairs"]

EVAL_IMAGES = ("astronaut", "camera", "chelsea", "coffee", "rocket")
TRAIN_IMAGES = ("brick", "grass", "gravel", "coins", "moon", "page", "text",
                "immunohistochemistry", "cell", "hubble_deep_field", "retina",
                "motorcycle_left", "motorcycle_right")
PYRAMID = (1.0, 0.85, 0.7)
#: file suffixes ``--data`` / ``--val`` folders are searched for (case-insensitive)
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


def _skdata():
    try:
        import skimage.data
    except ImportError as exc:
        raise ImportError('the up-scaler data needs scikit-image: pip install "tconv[apps]"') \
            from exc
    return skimage.data


def load_photo(name: str) -> np.ndarray:
    """A bundled scikit-image photo as uint8 ``(H, W)`` or ``(H, W, 3)``."""
    d = _skdata()
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = d.stereo_motorcycle()
        return left if name == "motorcycle_left" else right
    if name not in EVAL_IMAGES + TRAIN_IMAGES:
        raise ValueError(f"load_photo: name={name!r} is not one of "
                         f"{EVAL_IMAGES + TRAIN_IMAGES}")
    return np.asarray(getattr(d, name)())


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 studio-range luminance in gray levels [16, 235], float64.

    ``img`` is uint8 ``(H, W)`` (gray: R = G = B) or ``(H, W, 3|4)`` (alpha ignored).
    """
    f = np.asarray(img, dtype=np.float64) / 255.0
    if f.ndim == 2:
        return 16.0 + 219.0 * f
    return 16.0 + 65.481 * f[..., 0] + 128.553 * f[..., 1] + 24.966 * f[..., 2]


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def resize(y: np.ndarray, rows: int, cols: int, method: str = "bicubic") -> np.ndarray:
    """Resize one float channel with PIL ('F' mode): ``nearest|bilinear|bicubic``.

    PIL antialiases when down-sampling (support scaled by the factor), cubic a = -0.5.
    """
    from PIL import Image

    filt = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
            "bicubic": Image.Resampling.BICUBIC}[method]
    im = Image.fromarray(np.ascontiguousarray(y, dtype=np.float32), mode="F")
    return np.asarray(im.resize((cols, rows), filt), dtype=np.float64)


def downscale(y_hr: np.ndarray, scale: int) -> np.ndarray:
    """LR input: PIL bicubic (antialiased) down-sampling by ``scale``, rounded to 8 bit.

    ``y_hr`` must already be mod-cropped; the result is float64 integral gray levels.
    """
    h, w = y_hr.shape
    if h % scale or w % scale:
        raise ValueError(f"downscale: shape {y_hr.shape} is not a multiple of scale={scale}; "
                         "modcrop first")
    return np.clip(np.round(resize(y_hr, h // scale, w // scale, "bicubic")), 0, 255)


def make_pair(img: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(LR Y, HR Y), both in gray levels, HR rounded to 8 bit like MATLAB ``rgb2ycbcr``."""
    hr = np.round(rgb_to_y(modcrop(img, scale)))
    return downscale(hr, scale), hr


def eval_pairs(scale: int, names: tuple[str, ...] = EVAL_IMAGES
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The held-out (LR, HR) Y pairs, keyed by image name."""
    return {n: make_pair(load_photo(n), scale) for n in names}


def smooth_image(rng: np.random.Generator, size: int = 384) -> np.ndarray:
    """A smooth synthetic luminance image (gray levels, integral, in [16, 235]).

    A level in [40, 210], a ramp of up to 0.4 gray levels per pixel in a random direction, and
    two to four Gaussian blobs (sigma 20-120 px, amplitude up to 40 gray levels).

    Examples:
        >>> y = smooth_image(np.random.default_rng(0), 64)
        >>> y.shape, bool((y == np.round(y)).all()), bool(16 <= y.min() <= y.max() <= 235)
        ((64, 64), True, True)
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = rng.uniform(0, 2 * np.pi)
    g = rng.uniform(0.0, 0.4)
    img = rng.uniform(40, 210) + g * (np.cos(theta) * (xx - size / 2)
                                      + np.sin(theta) * (yy - size / 2))
    for _ in range(int(rng.integers(2, 5))):
        cy, cx = rng.uniform(0, size, 2)
        sig = rng.uniform(20, 120)
        img += rng.uniform(-40, 40) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sig**2))
    return np.clip(np.round(img), 16, 235)


def find_images(root: str | os.PathLike[str], fn: str = "find_images",
                option: str = "--data") -> list[pathlib.Path]:
    """Every image file under ``root`` (recursive; :data:`PHOTO_SUFFIXES`; names starting
    with ``.`` skipped), sorted by relative path.

    Raises:
        ValueError: ``root`` is not a folder or holds no image file.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise ValueError(f"{fn}: {option} {str(root)!r} is not a folder")
    files = list_images(root, PHOTO_SUFFIXES)
    if not files:
        raise ValueError(f"{fn}: {option} {str(root)!r} holds no image files "
                         f"({', '.join(PHOTO_SUFFIXES)}, searched recursively)")
    return files


def read_y(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file's BT.601 luminance in gray levels (float64, rounded to integers like
    MATLAB ``rgb2ycbcr``): 8- or 16-bit, gray, RGB or RGBA (alpha ignored).

    Raises:
        ValueError: the file is not a readable image (see :func:`tconv.io.read_image`).
    """
    from ... import io as tio

    arr, _ = tio.read_image(path)
    f = arr.astype(np.float64)
    if arr.dtype == np.uint16:
        f *= 255.0 / 65535.0
    if f.ndim == 3 and f.shape[2] == 2:             # gray + alpha
        f = f[..., 0]
    if f.ndim == 3 and f.shape[2] == 1:
        f = f[..., 0]
    return np.round(rgb_to_y(f))


def read_folder_y(root: str | os.PathLike[str], log: Callable[[str], None] | None = None,
                  fn: str = "read_folder_y", option: str = "--data"
                  ) -> list[tuple[str, np.ndarray]]:
    """``(relative path, Y)`` for every readable image under ``root``; unreadable files are
    reported once through ``log`` and skipped.

    Raises:
        ValueError: no image file, or none of them readable.
    """
    root = pathlib.Path(root)
    files = find_images(root, fn, option)
    out, bad = [], 0
    for f in files:
        try:
            out.append((f.relative_to(root).as_posix(), read_y(f)))
        except (ValueError, OSError, MemoryError) as exc:
            bad += 1
            if log is not None:
                log(f"{fn}: skipped {str(f)!r}: {exc}")
    if not out:
        raise ValueError(f"{fn}: none of the {len(files)} image file(s) under {option} "
                         f"{str(root)!r} could be read")
    if bad and log is not None:
        log(f"{fn}: {bad} of {len(files)} file(s) under {str(root)!r} skipped")
    return out


def folder_pairs(root: str | os.PathLike[str], scale: int,
                 log: Callable[[str], None] | None = None, fn: str = "folder_pairs",
                 option: str = "--val") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(LR Y, HR Y) pairs of every readable image under ``root`` (:func:`make_pair`'s
    protocol), keyed by relative path; images smaller than ``4 * scale`` on a side are
    skipped with a note."""
    pairs = {}
    for name, y in read_folder_y(root, log, fn, option):
        hr = modcrop(y, scale)
        if min(hr.shape) < 4 * scale:
            if log is not None:
                log(f"{fn}: skipped {name!r}: {y.shape[1]}x{y.shape[0]} is too small for "
                    f"x{scale} (needs {4 * scale} pixels a side)")
            continue
        pairs[name] = (downscale(hr, scale), hr)
    if not pairs:
        raise ValueError(f"{fn}: no image under {option} {str(root)!r} is large enough for "
                         f"x{scale}")
    return pairs


@dataclass
class PatchSampler:
    """Random (LR, HR) patch batches from the training photos, in [0, 1] float32.

    Deterministic given the ``numpy.random.Generator`` passed to :meth:`batch`. With
    ``smooth_frac > 0``, eight :func:`smooth_image` fields (fixed seed) join the photos and
    are drawn for that share of the patches. ``folder`` replaces the bundled ``names`` by
    every image under that folder (:func:`read_folder_y`; unreadable files go to ``log``).
    """

    scale: int
    patch: int = 24
    names: tuple[str, ...] = TRAIN_IMAGES
    smooth_frac: float = 0.0
    folder: str | None = None
    log: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        s = self.scale
        if self.folder is not None:
            photos = [y for _, y in read_folder_y(self.folder, self.log, "train-upscaler")]
        else:
            photos = [np.round(rgb_to_y(load_photo(name))) for name in self.names]
        for y in photos:
            for f in PYRAMID:
                if f != 1.0:
                    yf = np.clip(resize(y, round(y.shape[0] * f), round(y.shape[1] * f)),
                                 0, 255)
                else:
                    yf = y
                hr = modcrop(yf, s)
                if min(hr.shape) < self.patch * s:
                    continue
                lr = downscale(hr, s)
                self.pairs.append(((lr / 255).astype(np.float32),
                                   (hr / 255).astype(np.float32)))
        if not self.pairs:
            where = repr(self.folder) if self.folder is not None else "the photos"
            raise ValueError(f"PatchSampler: no image in {where} is at least {self.patch * s} "
                             f"pixels a side (patch={self.patch} x scale={s})")
        # sample images in proportion to their number of patch positions
        w = np.array([(lr.shape[0] - self.patch + 1) * (lr.shape[1] - self.patch + 1)
                      for lr, _ in self.pairs], dtype=np.float64)
        w /= w.sum()
        if not 0.0 <= self.smooth_frac < 1.0:
            raise ValueError(f"PatchSampler: smooth_frac={self.smooth_frac!r} must be in [0, 1)")
        if self.smooth_frac > 0:
            srng = np.random.default_rng(12345)
            n_smooth = 8
            for _ in range(n_smooth):
                hr = modcrop(smooth_image(srng, max(384, 2 * self.patch * s)), s)
                self.pairs.append(((downscale(hr, s) / 255).astype(np.float32),
                                   (hr / 255).astype(np.float32)))
            w = np.concatenate([w * (1 - self.smooth_frac),
                                np.full(n_smooth, self.smooth_frac / n_smooth)])
        self.weights = w

    def batch(self, rng: np.random.Generator, n: int, part: slice | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` patches: LR ``(n, 1, p, p)`` and HR ``(n, 1, p*s, p*s)``.

        With ``part``, only those patches of the ``n`` are built (one process's share of a
        global batch); ``rng`` advances exactly as for all ``n``.
        """
        p, s = self.patch, self.scale
        idx = rng.choice(len(self.pairs), size=n, p=self.weights)
        keep = range(n)[part] if part is not None else range(n)
        lrs = np.empty((len(keep), 1, p, p), np.float32)
        hrs = np.empty((len(keep), 1, p * s, p * s), np.float32)
        for b, i in enumerate(idx):
            lr, hr = self.pairs[i]
            r = int(rng.integers(0, lr.shape[0] - p + 1))
            c = int(rng.integers(0, lr.shape[1] - p + 1))
            k = int(rng.integers(0, 4))
            flip = bool(rng.integers(0, 2))
            if b not in keep:
                continue
            lp = lr[r:r + p, c:c + p]
            hp = hr[r * s:(r + p) * s, c * s:(c + p) * s]
            lp, hp = np.rot90(lp, k), np.rot90(hp, k)
            if flip:
                lp, hp = lp[:, ::-1], hp[:, ::-1]
            j = b - keep.start
            lrs[j, 0], hrs[j, 0] = lp, hp
        return lrs, hrs
