"""Tiny image folders for the training tests: every format, bit depth and mode the training
commands accept, plus files they must skip (truncated, not an image)."""

from __future__ import annotations

import pathlib

import numpy as np


def _smooth(rng: np.random.Generator, rows: int, cols: int, channels: int) -> np.ndarray:
    r, c = np.mgrid[0:rows, 0:cols]
    base = [128 + 90 * np.sin(r / rng.uniform(3, 9) + rng.uniform(0, 6))
            * np.cos(c / rng.uniform(3, 9)) for _ in range(channels)]
    img = np.stack(base, -1) + rng.normal(0, 4, (rows, cols, channels))
    return np.clip(img, 0, 255)


def photo_folder(root: pathlib.Path, rows: int = 40, cols: int = 48, seed: int = 0,
                 bad: bool = True) -> pathlib.Path:
    """8-bit gray/RGB/RGBA PNG, 16-bit gray and RGB PNG, JPEG, TIFF, WebP (some in a
    sub-folder),
    a hidden file, and -- with ``bad`` -- a truncated PNG and a text file named .png."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    Image.fromarray(_smooth(rng, rows, cols, 3).astype(np.uint8)).save(root / "rgb.png")
    Image.fromarray(_smooth(rng, rows, cols, 1)[..., 0].astype(np.uint8)).save(
        root / "gray.png")
    rgba = np.concatenate([_smooth(rng, rows, cols, 3), np.full((rows, cols, 1), 200.0)], -1)
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(root / "sub" / "rgba.png")
    g16 = (_smooth(rng, rows, cols, 1)[..., 0] * 257).astype(np.uint16)
    Image.fromarray(g16).save(root / "sub" / "gray16.png")
    from tconv import io as tio

    rgb16 = (_smooth(rng, rows, cols, 3) * 257).astype(np.uint16)
    tio.write_image(root / "sub" / "rgb16.png", rgb16)
    Image.fromarray(_smooth(rng, rows, cols, 3).astype(np.uint8)).save(root / "photo.jpg",
                                                                       quality=95)
    Image.fromarray(_smooth(rng, rows, cols, 3).astype(np.uint8)).save(root / "sub" / "t.tif")
    Image.fromarray(_smooth(rng, rows, cols, 3).astype(np.uint8)).save(root / "w.webp",
                                                                       lossless=True)
    (root / ".hidden.png").write_bytes(b"not read")
    if bad:
        good = (root / "rgb.png").read_bytes()
        (root / "broken.png").write_bytes(good[: len(good) // 2])
        (root / "notes.png").write_text("this is not an image")
    return root


def seg_folders(root: pathlib.Path, n: int = 6, size: int = 16, seed: int = 0,
                palette: bool = True) -> tuple[pathlib.Path, pathlib.Path]:
    """``images/`` (RGB PNG) and ``masks/`` (classes 0..2, a 255 = ignore border; one mask
    a palette PNG); each image shows its mask's classes as grey levels plus noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    img_dir, mask_dir = root / "images", root / "masks"
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        m = np.zeros((size, size), np.uint8)
        r0, c0 = rng.integers(0, size // 2, 2)
        m[r0:r0 + size // 2, c0:c0 + size // 2] = 1 + i % 2
        img = np.repeat((m[..., None] * 90.0 + 20), 3, -1) + rng.normal(0, 5, (size, size, 3))
        m[0, :] = 255                                   # the ignored border row
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(img_dir / f"im{i}.png")
        mask = Image.fromarray(m, "L")
        if palette and i == 0:
            mask = mask.convert("P")
            mask.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 253)
            mask = Image.fromarray(m, "P")
            mask.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 253)
        mask.save(mask_dir / f"im{i}.png")
    return img_dir, mask_dir
