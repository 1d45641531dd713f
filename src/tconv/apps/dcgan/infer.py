"""Sampling from a trained DCGAN generator, and image grids written as PNG."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import numpy as np
import torch

from .._train import atomic_write_bytes, load_checkpoint
from .model import DCGANConfig, Generator

__all__ = ["load_generator", "sample", "to_grid", "save_png", "save_grid"]


def load_generator(path: str | os.PathLike[str]) -> tuple[Generator, DCGANConfig]:
    """The generator (in eval mode) and its config from a training checkpoint.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        ValueError: the file is not a DCGAN checkpoint.
    """
    state = load_checkpoint(path)
    if "generator" not in state or "config" not in state:
        raise ValueError(f"load_generator: {str(path)!r} is not a DCGAN checkpoint (it has "
                         f"keys {sorted(state)}; expected 'generator' and 'config')")
    cfg = DCGANConfig(**state["config"])
    g = Generator(cfg)
    g.load_state_dict(state["generator"])
    return g.eval(), cfg


@torch.no_grad()
def sample(generator: Generator, n: int, seed: int = 0,
           z: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` images in ``[-1, 1]`` from ``z ~ N(0, I)`` drawn with ``seed`` (or the ``z`` given).

    Shape:
        ``(n, channels, image_size, image_size)``.
    """
    if z is None:
        z = torch.randn(n, generator.cfg.latent_dim,
                        generator=torch.Generator().manual_seed(seed))
    was_training = generator.training
    generator.eval()
    try:
        return generator(z)
    finally:
        generator.train(was_training)


def to_grid(images: Any, nrow: int = 8, pad: int = 2, value_range: tuple[float, float] = (-1, 1),
            normalize: bool = False) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images into one uint8 picture ``(rows, columns, C)``.

    Values are mapped from ``value_range`` to 0..255 and clipped; the gaps are white. With
    ``normalize``, each image is stretched from its own min..max instead (to see the faint
    structure of an untrained generator).

    Examples:
        >>> to_grid(np.zeros((3, 1, 2, 2)), nrow=2, pad=1).shape
        (7, 7, 1)
    """
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(
        images)
    n, c, h, w = x.shape
    if normalize:
        lo_i = x.min(axis=(1, 2, 3), keepdims=True)
        x = (x - lo_i) / np.maximum(x.max(axis=(1, 2, 3), keepdims=True) - lo_i, 1e-12)
    else:
        lo, hi = value_range
        x = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    grid = np.ones((pad + nrows * (h + pad), pad + ncol * (w + pad), c), dtype=np.float64)
    for i in range(n):
        r, q = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)
    return (grid * 255.0 + 0.5).astype(np.uint8)


def save_png(picture: np.ndarray, path: str | os.PathLike[str], scale: int = 1,
             ) -> pathlib.Path:
    """Write a uint8 ``(rows, columns[, 1 or 3])`` array as PNG (atomically), enlarged
    ``scale`` times with nearest-neighbour so single pixels stay visible."""
    import io

    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError('writing PNG needs Pillow: pip install "tconv[apps]"') from exc
    arr = np.asarray(picture)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if scale > 1:
        arr = np.repeat(np.repeat(arr, scale, axis=0), scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def save_grid(images: Any, path: str | os.PathLike[str], nrow: int = 8,
              scale: int = 2, normalize: bool = False) -> pathlib.Path:
    """:func:`to_grid` then :func:`save_png`."""
    return save_png(to_grid(images, nrow=nrow, normalize=normalize), path, scale=scale)
