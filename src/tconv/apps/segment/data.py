"""Segmentation data without any download: textured shapes with exact masks.

:func:`make_shapes` draws images of ``size x size`` pixels: a background cut from one of
scikit-image's bundled textures/photos, tinted with two random colours, and 1..``max_shapes``
shapes (disk, square, triangle -- random size, position and rotation) filled with another
tinted texture, drawn in random order so later shapes occlude earlier ones. The mask is the
class of the top-most shape at each pixel (0 = background) -- exact, because the image is
painted through the same rasterised mask. Image ``i`` of split ``s`` uses the random stream
``numpy.random.default_rng([seed, s, i])``, so a dataset is reproducible by seed and the
train and test splits never share an image.

:func:`load_folder` reads a user's ``images/`` + ``masks/`` folders instead (masks: one
integer class per pixel, same file stem as the image); :func:`load_pairs` reads any two
folders the Pascal VOC way: images of any format (8/16-bit, gray/RGB/RGBA), masks as
single-channel or palette PNGs whose pixel values are class ids and 255 (:data:`IGNORE`)
marks pixels no loss or score counts. Files are matched by their path relative to the
folder, without suffix; unreadable files and images without a mask are reported once and
skipped.
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._train import list_images

__all__ = ["CLASSES", "SPLITS", "SegData", "make_shapes", "load_folder", "load_pairs",
           "PALETTE", "colorize", "IGNORE"]

#: mask value of pixels that are not scored (Pascal VOC's object borders)
IGNORE = 255

#: class names of the generated data set, index = mask value
CLASSES = ("background", "disk", "square", "triangle")
#: split name -> stream id of :func:`make_shapes`
SPLITS = {"train": 0, "test": 1, "val": 2}
#: RGB colour per class for pictures (background dark grey)
PALETTE = np.array([[40, 40, 40], [230, 80, 60], [70, 170, 240], [250, 210, 60],
                    [150, 220, 120], [200, 120, 230], [240, 150, 40], [120, 120, 255]],
                   dtype=np.uint8)

_TEXTURES = ("brick", "grass", "gravel", "camera", "coins", "moon", "text", "page",
             "astronaut", "coffee", "chelsea", "rocket")


@dataclass
class SegData:
    """``images`` float32 ``(N, 3, H, W)`` in ``[0, 1]``; ``masks`` int64 ``(N, H, W)``."""

    images: np.ndarray
    masks: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)


@functools.lru_cache(maxsize=4)
def _texture_pool(short_side: int) -> tuple[np.ndarray, ...]:
    try:
        import skimage.data as skdata
        from skimage.color import rgb2gray
        from skimage.transform import rescale
    except ImportError as exc:
        raise ImportError('the shapes data set needs scikit-image: pip install "tconv[apps]"'
                          ) from exc
    pool = []
    for name in _TEXTURES:
        img = np.asarray(getattr(skdata, name)())
        img = rgb2gray(img[..., :3]) if img.ndim == 3 else img / 255.0
        img = rescale(img.astype(np.float64), short_side / min(img.shape), anti_aliasing=True)
        lo, hi = np.percentile(img, [1, 99])
        pool.append(np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32))
    return tuple(pool)


def _tinted_texture(rng: np.random.Generator, pool: tuple[np.ndarray, ...],
                    size: int) -> np.ndarray:
    tex = pool[rng.integers(len(pool))]
    r = rng.integers(tex.shape[0] - size + 1)
    c = rng.integers(tex.shape[1] - size + 1)
    t = np.rot90(tex[r:r + size, c:c + size], k=int(rng.integers(4)))
    dark, light = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    return t[:, :, None] * light + (1.0 - t[:, :, None]) * dark      # (H, W, 3)


def _shape_mask(rng: np.random.Generator, kind: int, size: int) -> np.ndarray:
    from skimage.draw import disk, polygon

    radius = rng.uniform(0.1, 0.25) * size
    center = rng.uniform(radius, size - radius, 2)
    m = np.zeros((size, size), dtype=bool)
    if kind == 1:
        m[disk(tuple(center), radius, shape=m.shape)] = True
    else:
        n = 4 if kind == 2 else 3
        theta = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n) / n
        rows = center[0] + radius * np.sin(theta)
        cols = center[1] + radius * np.cos(theta)
        m[polygon(rows, cols, shape=m.shape)] = True
    return m


def make_shapes(n: int, size: int = 64, seed: int = 0, split: str = "train",
                max_shapes: int = 3, noise: float = 0.03, min_contrast: float = 0.25,
                ) -> SegData:
    """Generate ``n`` textured-shape images and their exact masks.

    Args:
        n: number of images.
        size: rows = columns.
        seed: data-set seed; with ``split`` and the image index it fixes every image.
        split: ``"train"``, ``"test"`` or ``"val"`` (disjoint random streams).
        max_shapes: at most this many shapes per image (at least one).
        noise: standard deviation of the added Gaussian pixel noise.
        min_contrast: a shape's fill is redrawn (up to 20 times) until its mean RGB colour
            is at least this far (Euclidean) from the mean of the pixels it covers.

    Returns:
        :class:`SegData` with classes :data:`CLASSES`.

    Examples:
        >>> d = make_shapes(2, size=32, seed=0)
        >>> d.images.shape, d.masks.shape, d.images.dtype, d.masks.dtype
        ((2, 3, 32, 32), (2, 32, 32), dtype('float32'), dtype('int64'))
    """
    if split not in SPLITS:
        raise ValueError(f"make_shapes: split={split!r} must be one of {tuple(SPLITS)}")
    if n < 0 or size < 16 or max_shapes < 1:
        raise ValueError(f"make_shapes: need n >= 0, size >= 16 and max_shapes >= 1, got "
                         f"n={n}, size={size}, max_shapes={max_shapes}")
    pool = _texture_pool(max(2 * size, 128))
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, SPLITS[split], i])
        img = _tinted_texture(rng, pool, size)
        mask = np.zeros((size, size), dtype=np.int64)
        for _ in range(rng.integers(1, max_shapes + 1)):
            kind = int(rng.integers(1, len(CLASSES)))
            m = _shape_mask(rng, kind, size)
            for _ in range(20):     # redraw the fill until it stands out from what it covers
                fill = _tinted_texture(rng, pool, size)
                if np.linalg.norm(fill[m].mean(0) - img[m].mean(0)) >= min_contrast:
                    break
            img[m] = fill[m]
            mask[m] = kind
        img = img + rng.normal(0.0, noise, img.shape)
        images[i] = np.clip(img, 0, 1).transpose(2, 0, 1)
        masks[i] = mask
    return SegData(images, masks, CLASSES)


def load_folder(path: str | os.PathLike[str], size: int | None = None) -> SegData:
    """Read ``path/images/*`` and ``path/masks/*`` (same stems; masks hold class ids).

    Images are converted to RGB; with ``size``, images are resized bilinearly and masks by
    nearest neighbour to ``size x size``. Class names are ``class0``..``classK``.

    Raises:
        ValueError: missing folders, an image without a mask, or differing sizes.
    """
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError('reading image folders needs Pillow: pip install "tconv[apps]"'
                          ) from exc
    root = pathlib.Path(path)
    img_dir, mask_dir = root / "images", root / "masks"
    if not img_dir.is_dir() or not mask_dir.is_dir():
        raise ValueError(f"load_folder: {str(root)!r} must contain the folders 'images' and "
                         "'masks'")
    masks_by_stem = {p.stem: p for p in mask_dir.iterdir() if p.is_file()}
    files = sorted(p for p in img_dir.iterdir() if p.is_file())
    if not files:
        raise ValueError(f"load_folder: {str(img_dir)!r} holds no images")
    images, masks = [], []
    for f in files:
        if f.stem not in masks_by_stem:
            raise ValueError(f"load_folder: image {f.name!r} has no mask named "
                             f"{f.stem!r}.* in {str(mask_dir)!r}")
        with Image.open(f) as im_file, Image.open(masks_by_stem[f.stem]) as mk_file:
            im = im_file.convert("RGB")
            mk = mk_file.copy() if mk_file.mode in ("L", "P", "I") else mk_file.convert("L")
            if size is not None:
                im = im.resize((size, size), Image.Resampling.BILINEAR)
                mk = mk.resize((size, size), Image.Resampling.NEAREST)
            if im.size != mk.size:
                raise ValueError(f"load_folder: {f.name!r} is {im.size} but its mask is "
                                 f"{mk.size} (columns, rows)")
            images.append(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0)
            masks.append(np.asarray(mk, dtype=np.int64))
    shapes = {m.shape for m in masks}
    if len(shapes) > 1:
        raise ValueError(f"load_folder: images have different sizes {sorted(shapes)}; pass "
                         "size= to resize them")
    m = np.stack(masks)
    classes = tuple(f"class{k}" for k in range(int(m.max()) + 1))
    return SegData(np.stack(images), m, classes)


_MASK_MODES = ("L", "P", "1", "I", "I;16", "I;16B", "I;16L", "I;16N")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


def _by_stem(root: pathlib.Path, suffixes: tuple[str, ...]) -> dict[str, pathlib.Path]:
    files: dict[str, pathlib.Path] = {}
    for p in list_images(root, suffixes):
        files.setdefault(p.relative_to(root).with_suffix("").as_posix(), p)
    return files


def _read_mask(path: pathlib.Path, max_pixels: int | None = None) -> np.ndarray:
    from PIL import Image

    from ... import io as tio

    try:
        with Image.open(path) as im:
            cols, rows = im.size
            limit = tio.MAX_PIXELS if max_pixels is None else max_pixels
            if rows * cols > limit:
                raise ValueError(f"mask {str(path)!r} is {cols}x{rows}, over the "
                                 f"{limit:,}-pixel limit (a decompression-bomb guard)")
            if im.mode not in _MASK_MODES:
                raise ValueError(f"mask {str(path)!r} has mode {im.mode!r}; masks must be "
                                 "single-channel or palette PNGs whose values are class ids "
                                 "(255 = ignore)")
            m = np.asarray(im).astype(np.int64)
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"mask {str(path)!r} is not a readable image "
                         f"({type(exc).__name__}: {exc})") from None
    if m.min(initial=0) < 0 or (m.max(initial=0) > IGNORE):
        raise ValueError(f"mask {str(path)!r} holds values outside 0..255 "
                         f"({m.min()}..{m.max()})")
    return m


def load_pairs(images: str | os.PathLike[str], masks: str | os.PathLike[str],
               size: int | None = None, num_classes: int | None = None,
               log: Callable[[str], None] | None = None) -> SegData:
    """Read image/mask pairs from two folders (recursive; matched by relative stem).

    Args:
        images: folder of images (PNG/JPEG/TIFF/WebP/BMP; 8/16-bit; gray/RGB/RGBA).
        masks: folder of masks (single-channel or palette PNG/TIFF: class ids, 255 = ignore).
        size: resize images (bilinear) and masks (nearest) to ``size x size``; needed when
            the images differ in size.
        num_classes: the class count; ``None`` infers ``max(mask values except 255) + 1``.
        log: called once per skipped file (unreadable, or an image without a mask).

    Returns:
        :class:`SegData` with masks holding class ids and :data:`IGNORE`.

    Raises:
        ValueError: no usable pair, differing sizes without ``size``, or a mask value
            ``>= num_classes`` (other than 255).
    """
    from PIL import Image

    from ... import io as tio

    img_dir, mask_dir = pathlib.Path(images), pathlib.Path(masks)
    for opt, d in (("--images", img_dir), ("--masks", mask_dir)):
        if not d.is_dir():
            raise ValueError(f"segment data: {opt} {str(d)!r} is not a folder")
    imgs = _by_stem(img_dir, _IMAGE_SUFFIXES)
    msks = _by_stem(mask_dir, (".png", ".tif", ".tiff", ".bmp"))
    if not imgs:
        raise ValueError(f"segment data: --images {str(img_dir)!r} holds no image files")
    say = log or (lambda m: None)
    xs, ys, names = [], [], []
    for stem, ipath in imgs.items():
        if stem not in msks:
            say(f"segment data: skipped {str(ipath)!r}: no mask {stem}.png in "
                f"{str(mask_dir)!r}")
            continue
        try:
            arr, _ = tio.read_image(ipath)
            m = _read_mask(msks[stem])
        except (ValueError, OSError, MemoryError) as exc:
            say(f"segment data: skipped {stem!r}: {exc}")
            continue
        x = arr.astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
        if x.ndim == 2:
            x = np.repeat(x[:, :, None], 3, axis=2)
        x = x[:, :, :3]
        if x.shape[:2] != m.shape:
            say(f"segment data: skipped {stem!r}: image is {x.shape[1]}x{x.shape[0]} but its "
                f"mask is {m.shape[1]}x{m.shape[0]}")
            continue
        if size is not None and x.shape[:2] != (size, size):
            x = np.stack([np.asarray(Image.fromarray(x[:, :, c], mode="F").resize(
                (size, size), Image.Resampling.BILINEAR)) for c in range(3)], axis=2)
            m = np.asarray(Image.fromarray(m.astype(np.uint8)).resize(
                (size, size), Image.Resampling.NEAREST)).astype(np.int64)
        xs.append(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32))
        ys.append(m)
        names.append(stem)
    if not xs:
        raise ValueError(f"segment data: no usable image/mask pair in --images "
                         f"{str(img_dir)!r} and --masks {str(mask_dir)!r}")
    shapes = sorted({y.shape for y in ys})
    if len(shapes) > 1:
        raise ValueError(f"segment data: images have different sizes {shapes[:4]}; pass "
                         "--size to resize them")
    y = np.stack(ys)
    labels = y[y != IGNORE]
    found = int(labels.max()) + 1 if labels.size else 1
    k = found if num_classes is None else int(num_classes)
    if found > k:
        raise ValueError(f"segment data: the masks hold class {found - 1} but "
                         f"num_classes={k} (class ids must be < num_classes; 255 = ignore)")
    return SegData(np.stack(xs), y, tuple(f"class{i}" for i in range(k)))


def colorize(mask: np.ndarray) -> np.ndarray:
    """Class ids ``(..., H, W)`` -> uint8 RGB ``(..., H, W, 3)`` with :data:`PALETTE`."""
    return PALETTE[np.asarray(mask) % len(PALETTE)]
