"""Training images for the DCGAN, without any download.

Three sources, one interface (:class:`ImageSource.sample`, a batch in ``[-1, 1]`` of shape
``(N, C, H, W)`` drawn with an explicit ``torch.Generator`` so a checkpoint can capture it):

* ``"skimage"`` (default): random crops of the textures and photos scikit-image ships in its
  wheel (``brick``, ``grass``, ``gravel``, ``camera``, ``coffee`` ...), each first shrunk so
  that a crop shows structure rather than a flat patch;
* a folder of images (PNG/JPEG/TIFF/WebP/..., searched recursively, 8- or 16-bit, gray/RGB/
  RGBA with alpha dropped, resized to the training size); a file that cannot be read is
  reported once and skipped;
* an IDX file -- the MNIST / Fashion-MNIST format -- gzip-compressed or not.

The IDX format (LeCun et al.): two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8,
``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dims,
then one big-endian uint32 per dim, then the values, big-endian, row-major.
"""

from __future__ import annotations

import gzip
import os
import pathlib
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._train import list_images

__all__ = ["read_idx", "write_idx", "ImageSource", "load_source", "SKIMAGE_IMAGES",
           "IMAGE_EXTENSIONS"]

#: IDX type code -> big-endian dtype
IDX_DTYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4",
                              0x0D: ">f4", 0x0E: ">f8"}

#: Images of ``skimage.data`` that ship inside the wheel (no pooch download), textures first.
SKIMAGE_IMAGES = ("brick", "grass", "gravel", "camera", "coins", "moon", "text", "page",
                  "astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
                  "immunohistochemistry")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _open_maybe_gzip(path: pathlib.Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":                      # gzip magic, whatever the file name
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"read_idx: {str(path)!r} looks gzip-compressed but cannot be "
                             f"decompressed ({exc})") from None
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (MNIST / Fashion-MNIST format), gzip-compressed or not.

    Args:
        path: the file; gzip is recognised by its magic bytes, not by the name.

    Returns:
        ndarray with the file's shape and its native-endian dtype (uint8 for MNIST images).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the header or the length does not match the IDX format; the message
            names what was found and what was expected.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.idx.gz"
        >>> _ = write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
        >>> read_idx(p)
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_idx: no file at {str(path)!r}")
    data = _open_maybe_gzip(path)
    name = repr(str(path))
    if len(data) < 4:
        raise ValueError(f"read_idx: {name} has {len(data)} bytes, fewer than the 4-byte "
                         "IDX magic number")
    zero, code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00":
        raise ValueError(f"read_idx: {name} is not an IDX file: the magic number must start "
                         f"with two zero bytes, found {zero.hex()}")
    if code not in IDX_DTYPES:
        allowed = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {name} has type code 0x{code:02X}; allowed codes are "
                         f"{allowed}")
    if ndim == 0:
        raise ValueError(f"read_idx: {name} has ndim=0; an IDX array needs at least 1 dim")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {name} is truncated: its header needs {header} bytes "
                         f"for {ndim} dims, the file has {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise ValueError(f"read_idx: {name} is {what}: shape {shape} of {dtype.name} needs "
                         f"{expected} data bytes, found {found}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: Any, *,
              compress: bool | None = None) -> pathlib.Path:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends ``.gz``).

    Raises:
        ValueError: a dtype IDX cannot hold, or a 0-d array.
    """
    path = pathlib.Path(path)
    arr = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
    if arr.dtype not in codes:
        allowed = ", ".join(sorted(d.name for d in codes))
        raise ValueError(f"write_idx: dtype {arr.dtype.name} has no IDX type code; allowed "
                         f"dtypes are {allowed}")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx: array.ndim={arr.ndim} must be in 1..255")
    header = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I",
                                                                     *arr.shape)
    body = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(">")).tobytes()
    blob = header + body
    if compress if compress is not None else path.suffix == ".gz":
        blob = gzip.compress(blob, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


def _to_channels(img: np.ndarray, channels: int) -> np.ndarray:
    """(H, W) or (H, W, C) float image -> (channels, H, W)."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 4:                           # drop alpha
        img = img[:, :, :3]
    if channels == 1 and img.shape[2] == 3:
        img = img @ np.array([0.2125, 0.7154, 0.0721], dtype=img.dtype)[:, None]
    elif channels == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)


@dataclass
class ImageSource:
    """Images to draw training batches from.

    ``images`` are float32 ``(C, H, W)`` arrays in ``[-1, 1]``. When ``crop`` is set, a
    sample is a random ``crop x crop`` window (plus a random horizontal flip) of a random
    image; otherwise every image already has the training size and a sample is a random
    image.
    """

    images: list[np.ndarray]
    crop: int | None
    name: str

    def sample(self, n: int, generator: Any, part: slice | None = None) -> Any:
        """A batch ``(n, C, size, size)`` float32 tensor drawn with ``generator``.

        With ``part``, only those samples of the ``n`` are built (one process's share of a
        global batch); ``generator`` advances exactly as for all ``n``.
        """
        import torch

        keep = range(n)[part] if part is not None else range(n)
        idx = torch.randint(len(self.images), (n,), generator=generator).tolist()
        if self.crop is None:
            return torch.from_numpy(np.stack([self.images[idx[b]] for b in keep]))
        s = self.crop
        out = []
        flips = torch.rand(n, generator=generator).tolist()
        for b, (i, flip) in enumerate(zip(idx, flips, strict=True)):
            img = self.images[i]
            r = int(torch.randint(img.shape[1] - s + 1, (1,), generator=generator))
            c = int(torch.randint(img.shape[2] - s + 1, (1,), generator=generator))
            if b not in keep:
                continue
            patch = img[:, r:r + s, c:c + s]
            out.append(patch[:, :, ::-1] if flip < 0.5 else patch)
        return torch.from_numpy(np.ascontiguousarray(np.stack(out)))

    def preview(self, n: int, seed: int = 0) -> Any:
        """``n`` samples drawn with a fresh generator seeded by ``seed``."""
        import torch

        return self.sample(n, torch.Generator().manual_seed(seed))


def _resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    return resize(img, shape, anti_aliasing=True, preserve_range=True).astype(np.float32)


def _skimage_source(size: int, channels: int, shrink_to: int) -> ImageSource:
    try:
        import skimage.data as skdata
    except ImportError as exc:
        raise ImportError('the default DCGAN data needs scikit-image: pip install '
                          '"tconv[apps]"') from exc
    images = []
    for name in SKIMAGE_IMAGES:
        img = np.asarray(getattr(skdata, name)(), dtype=np.float32)
        img = img / 255.0 if img.max() > 1.0 else img
        h, w = img.shape[:2]
        f = max(shrink_to / min(h, w), size / min(h, w))
        img = _resize(img, (max(size, round(h * f)), max(size, round(w * f))))
        images.append(_to_channels(img, channels) * 2.0 - 1.0)
    return ImageSource(images, crop=size, name="skimage")


def _folder_source(path: pathlib.Path, size: int, channels: int,
                   log: Any = None) -> ImageSource:
    from ... import io as tio

    files = list_images(path, IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"dcgan data: folder {str(path)!r} holds no images with extensions "
                         f"{', '.join(IMAGE_EXTENSIONS)}")
    images, bad = [], 0
    for f in files:
        try:
            arr, _ = tio.read_image(f)
        except (ValueError, OSError, MemoryError) as exc:
            bad += 1
            if log is not None:
                log(f"dcgan data: skipped {str(f)!r}: {exc}")
            continue
        x = arr.astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
        if x.ndim == 3 and x.shape[2] in (2, 4):        # drop alpha
            x = x[:, :, :-1]
        x = _to_channels(x, channels)                  # (C, H, W)
        x = _resize(x.transpose(1, 2, 0), (size, size))
        images.append(_to_channels(x, channels) * 2.0 - 1.0)
    if not images:
        raise ValueError(f"dcgan data: none of the {len(files)} image file(s) under "
                         f"{str(path)!r} could be read")
    if bad and log is not None:
        log(f"dcgan data: {bad} of {len(files)} file(s) under {str(path)!r} skipped")
    return ImageSource(images, crop=None, name=f"folder:{path}")


def _idx_source(path: pathlib.Path, size: int, channels: int) -> ImageSource:
    arr = read_idx(path)
    if arr.ndim != 3:
        raise ValueError(f"dcgan data: IDX file {str(path)!r} holds shape {arr.shape}; "
                         "images must be (N, rows, columns)")
    x = arr.astype(np.float32)
    x = x / 255.0 if arr.dtype == np.uint8 else (x - x.min()) / max(np.ptp(x), 1e-12)
    if x.shape[1:] != (size, size):                 # MNIST is 28x28: pad/resize to size
        import torch
        import torch.nn.functional as F

        t = F.interpolate(torch.from_numpy(x)[:, None], size=(size, size), mode="bilinear",
                          align_corners=False, antialias=True)
        x = t[:, 0].numpy()
    images = [_to_channels(im, channels) * 2.0 - 1.0 for im in x]
    return ImageSource(images, crop=None, name=f"idx:{path}")


def load_source(data: str, size: int = 32, channels: int = 1,
                shrink_to: int = 96, log: Any = None) -> ImageSource:
    """Open a training-image source.

    Args:
        data: ``"skimage"``, a folder of images, or an IDX file (``.gz`` or not).
        size: training image size (rows = columns).
        channels: 1 (grayscale) or 3 (RGB).
        shrink_to: for ``"skimage"``, the shorter side each photo is resized to before
            cropping (smaller shows more structure per crop).
        log: called once per unreadable file of a folder (which is skipped).

    Raises:
        ValueError: unknown source, bad ``channels`` or an unreadable file.
    """
    if channels not in (1, 3):
        raise ValueError(f"load_source: channels={channels} must be 1 or 3")
    if data == "skimage":
        return _skimage_source(size, channels, shrink_to)
    path = pathlib.Path(data)
    if path.is_dir():
        return _folder_source(path, size, channels, log)
    if path.is_file():
        return _idx_source(path, size, channels)
    raise ValueError(f"load_source: data={data!r} must be 'skimage', a folder of images or "
                     "an IDX file (MNIST format, optionally .gz)")
