"""Image and weights I/O with guards: pixel limits, clear errors, atomic writes, no pickle.

Images (:func:`read_image` / :func:`write_image`, Pillow from the ``viz``/``apps`` extra;
16-bit colour TIFF via ``tifffile``, 16-bit colour PNG by a small built-in codec because
Pillow keeps only 8 bits of colour PNGs):

* arrays are ``uint8`` or ``uint16``, shaped ``(H, W)`` (gray), ``(H, W, 3)`` (RGB) or
  ``(H, W, 4)`` (RGBA); palette, 1-bit, gray+alpha and CMYK files are converted on read;
* the pixel count is checked from the header *before* decoding (decompression bombs) against
  ``max_pixels`` (default :data:`MAX_PIXELS`), which the caller must raise explicitly;
* unreadable, truncated and non-image files raise ``ValueError`` naming the file and reason;
* writes go to a temporary file in the target folder and are moved into place with
  ``os.replace``; an existing target is refused unless ``overwrite=True``.

Weights (:func:`save_weights` / :func:`load_weights`): a flat ``.npz`` of float arrays
(``np.load(allow_pickle=False)``) plus ``manifest.json`` in the same folder recording each
file's sha256 and metadata. Loading recomputes the hash and refuses a file that does not
match its manifest entry: corrupted weights (a bad download, a flipped bit). The manifest is
no defence against tampering by someone who can edit both files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MAX_PIXELS", "ImageInfo", "MultiFrameWarning", "WRITE_FORMATS", "read_image",
           "write_image", "atomic_write", "save_weights", "load_weights", "sha256_file",
           "MANIFEST"]

#: Default limit on decoded pixels (rows x cols): 100 megapixels (e.g. 10000 x 10000).
MAX_PIXELS = 100_000_000
MANIFEST = "manifest.json"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
#: leading bytes of PNG, JPEG, TIFF (both byte orders), BMP, GIF, WebP (RIFF)
_IMAGE_SIGNATURES = (_PNG_SIG, b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF8", b"RIFF")


#: file suffix -> the format :func:`write_image` writes for it
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF",
                 ".tiff": "TIFF", ".bmp": "BMP", ".webp": "WEBP"}


class ImageInfo(dict):
    """What :func:`read_image` learned about a file: ``format``, ``mode``, ``bits``."""


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError('image I/O needs Pillow: pip install "tconv[apps]"') from exc
    return Image


# ---------------------------------------------------------------------------------------------
# atomic writes


def _default_mode() -> int:
    # mkstemp creates 0600 files; give the final file the permissions open() would (umask)
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike[str], data: bytes, overwrite: bool = False
                 ) -> pathlib.Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True (--overwrite) "
                              "to replace it")
    return _atomic_save(path, lambda f: f.write(data), overwrite)


# ---------------------------------------------------------------------------------------------
# images


def _check_size(path: pathlib.Path, rows: int, cols: int, max_pixels: int | None) -> None:
    if rows < 1 or cols < 1:
        raise ValueError(f"read_image: {str(path)!r} is {cols}x{rows} pixels; an image needs "
                         "at least one row and one column")
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if rows * cols > limit:
        raise ValueError(f"read_image: {str(path)!r} is {cols}x{rows} = {rows * cols:,} pixels, "
                         f"over the limit max_pixels={limit:,} (a guard against decompression "
                         "bombs); raise it explicitly (--max-pixels) if you trust the file")


class MultiFrameWarning(UserWarning):
    """A multi-frame file (animated GIF/PNG/WebP, multi-page TIFF) was read: only frame 1."""


#: EXIF orientation (tag 0x0112) -> the array operation that shows the picture upright,
#: as Pillow's ``ImageOps.exif_transpose`` (2 mirror, 3 rotate 180, 4 flip, 5 transpose,
#: 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise)
_ORIENT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1], 8: lambda a: np.rot90(a, 1),
}


def _orient(arr: np.ndarray, orientation: int, info: ImageInfo) -> np.ndarray:
    """Apply an EXIF orientation to the pixels (so the output needs no tag to show upright)."""
    op = _ORIENT.get(orientation)
    if op is None:
        return arr
    info["orientation"] = orientation
    return np.ascontiguousarray(op(arr))


def _exif_orientation(exif_bytes: bytes) -> int:
    try:
        exif = _pil().Exif()
        exif.load(exif_bytes)
        return int(exif.get(0x0112, 1))
    except Exception:                       # an unreadable eXIf chunk: show pixels as stored
        return 1


def read_image(path: str | os.PathLike[str], max_pixels: int | None = None
               ) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file into a ``uint8``/``uint16`` array, upright.

    Args:
        path: a PNG, JPEG, TIFF, BMP, WebP, GIF ... file.
        max_pixels: refuse images with more pixels than this (default :data:`MAX_PIXELS`).

    Returns:
        ``(array, info)``; array ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``; ``info`` has
        ``format``, ``mode``, ``bits`` and, when the file had them, ``orientation`` (the
        EXIF orientation already applied to the pixels), ``exif`` (the file's EXIF with the
        orientation reset to 1, for :func:`write_image`) and ``frames``.

    Convention:
        An EXIF orientation (phone photos) is applied, as a viewer shows the picture. 16-bit
        gray + alpha is returned as 16-bit RGBA (R = G = B), 8-bit gray + alpha and palette
        with transparency as 8-bit RGBA. Multi-frame files (animated GIF/PNG/WebP,
        multi-page TIFF) give their first frame and a :class:`MultiFrameWarning`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an image, unreadable, truncated, unsupported mode, zero width or
            height, or too many pixels (checked from the header, before decoding; the 16-bit
            colour PNG codec never inflates more bytes than the header allows).
    """
    Image = _pil()
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_image: no such file {str(path)!r}")
    with open(path, "rb") as f:
        head = f.read(32)
    if head.startswith(_PNG_SIG) and len(head) >= 26 and head[12:16] == b"IHDR":
        cols, rows = struct.unpack(">II", head[16:24])
        _check_size(path, rows, cols, max_pixels)
        if head[24] == 16 and head[25] in _PNG16_TYPES:
            return _read_png16(path, max_pixels)        # 16-bit RGB / RGBA / gray+alpha
    old = Image.MAX_IMAGE_PIXELS
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    try:
        # our own check below replaces Pillow's; keep Pillow's hard error above our limit
        Image.MAX_IMAGE_PIXELS = max(limit, 1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                # a damaged EXIF block: the pixels are still read (or refused) below
                warnings.filterwarnings("ignore", "Corrupt EXIF", UserWarning)
                im = Image.open(path)
        except Image.DecompressionBombError:
            raise ValueError(f"read_image: {str(path)!r} has more than max_pixels={limit:,} "
                             "pixels (decompression-bomb guard); raise --max-pixels to read it"
                             ) from None
        except Exception as exc:
            what = ("is truncated or corrupt" if head.startswith(_IMAGE_SIGNATURES)
                    else "is not an image file Pillow can read")
            raise ValueError(f"read_image: {str(path)!r} {what} "
                             f"({type(exc).__name__}: {exc})") from None
        with im:
            cols, rows = im.size
            _check_size(path, rows, cols, max_pixels)
            fmt = im.format
            info = ImageInfo(format=fmt)
            frames = int(getattr(im, "n_frames", 1) or 1)
            if frames > 1:
                info["frames"] = frames
                warnings.warn(f"read_image: {str(path)!r} has {frames} frames; only the "
                              "first is read", MultiFrameWarning, stacklevel=2)
            try:
                with warnings.catch_warnings():       # Pillow warns on corrupt EXIF
                    warnings.simplefilter("ignore")
                    exif = im.getexif()
                orientation = int(exif.get(0x0112, 1))
            except Exception:
                exif, orientation = None, 1
            if fmt == "TIFF" and im.mode in ("RGB", "RGBA") and _tiff_bits(im) == 16:
                arr, info16 = _read_tiff16(path, rows, cols)
                info.update(info16)
            else:
                try:
                    im.load()
                    arr, mode, bits = _to_array(im, path)
                except ValueError:
                    raise
                except Exception as exc:
                    raise ValueError(f"read_image: {str(path)!r} is truncated or corrupt "
                                     f"({type(exc).__name__}: {exc})") from None
                info.update(mode=mode, bits=bits)
            if exif is not None and len(exif):
                if orientation != 1:
                    exif[0x0112] = 1
                try:
                    info["exif"] = exif.tobytes()
                except Exception:
                    pass
            arr = _orient(arr, orientation, info)
    finally:
        Image.MAX_IMAGE_PIXELS = old
    return arr, info


def _tiff_bits(im: Any) -> int:
    try:
        bps = im.tag_v2.get(258)
        return int(bps[0] if isinstance(bps, tuple) else bps)
    except Exception:
        return 8


def _read_tiff16(path: pathlib.Path, rows: int, cols: int) -> tuple[np.ndarray, ImageInfo]:
    try:
        import tifffile
    except ImportError as exc:
        raise ImportError('16-bit colour TIFF needs tifffile: pip install "tconv[apps]"') \
            from exc
    try:
        arr = np.asarray(tifffile.imread(path, key=0))      # first page
    except Exception as exc:
        raise ValueError(f"read_image: {str(path)!r} is truncated or corrupt "
                         f"({type(exc).__name__}: {exc})") from None
    if arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[:2] != (rows, cols):
        raise ValueError(f"read_image: {str(path)!r}: unsupported TIFF layout "
                         f"{arr.shape} {arr.dtype}")
    return arr, ImageInfo(format="TIFF", mode="RGB" if arr.shape[2] == 3 else "RGBA", bits=16)


def _to_array(im: Any, path: pathlib.Path) -> tuple[np.ndarray, str, int]:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im).astype(np.uint16), "L", 16
    if mode == "I":
        a = np.asarray(im)
        if a.min(initial=0) < 0 or a.max(initial=0) > 65535:
            raise ValueError(f"read_image: {str(path)!r}: 32-bit integer pixels outside "
                             "[0, 65535] are not supported")
        return a.astype(np.uint16), "L", 16
    if mode == "F":
        raise ValueError(f"read_image: {str(path)!r}: floating-point images are not supported "
                         "(use 8- or 16-bit)")
    if mode in ("1", "L"):
        return np.asarray(im.convert("L")), "L", 8
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        return np.asarray(im.convert("RGBA")), "RGBA", 8
    return np.asarray(im.convert("RGB")), "RGB", 8


def write_image(path: str | os.PathLike[str], arr: np.ndarray, overwrite: bool = False,
                quality: int = 95, exif: bytes | None = None) -> pathlib.Path:
    """Write a ``uint8``/``uint16`` gray/RGB/RGBA array atomically; format from the suffix.

    16-bit is kept for PNG and TIFF; JPEG is 8-bit only (16-bit input is reduced to 8 bit,
    alpha is refused). ``exif`` (e.g. ``read_image``'s ``info["exif"]``) is stored in
    8-bit JPEG, PNG, TIFF and WebP files. The suffix (one of :data:`WRITE_FORMATS`) is
    checked before anything is encoded.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        ValueError: an unsupported array, suffix, or alpha for JPEG.
    """
    path = pathlib.Path(path)
    arr = np.asarray(arr)
    if arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_image: dtype={arr.dtype} must be uint8 or uint16")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"write_image: shape {arr.shape} must be (H, W), (H, W, 3) or "
                         "(H, W, 4)")
    if 0 in arr.shape:
        raise ValueError(f"write_image: shape {arr.shape} has no pixels")
    ext = path.suffix.lower()
    fmt = WRITE_FORMATS.get(ext)
    if fmt is None:
        raise ValueError(f"write_image: unknown image suffix {ext!r} of {str(path)!r} "
                         f"(supported: {', '.join(WRITE_FORMATS)})")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass --overwrite to replace it")
    if arr.dtype == np.uint16 and fmt not in ("PNG", "TIFF"):
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if fmt == "JPEG" and arr.ndim == 3 and arr.shape[2] == 4:
        raise ValueError(f"write_image: JPEG cannot store alpha ({str(path)!r}); use .png")
    arr = np.ascontiguousarray(arr)

    def encode(f: Any) -> None:
        if arr.dtype == np.uint16 and arr.ndim == 3:
            if fmt == "PNG":
                f.write(_encode_png16(arr))
            else:
                import tifffile
                buf = io.BytesIO()
                tifffile.imwrite(buf, arr, photometric="rgb")
                f.write(buf.getvalue())
        else:
            kw: dict[str, Any] = {"quality": quality} if fmt == "JPEG" else {}
            if exif:
                kw["exif"] = exif
            _pil().fromarray(arr).save(f, fmt, **kw)

    return _atomic_save(path, encode, overwrite)


def _atomic_save(path: pathlib.Path, encode: Any, overwrite: bool) -> pathlib.Path:
    # encode straight into a temp file next to the target (no second in-memory copy of a
    # large image), then rename; on any failure the temp file is removed, the target untouched
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            encode(f)
            f.flush()
            os.fsync(f.fileno())
        if path.exists() and not overwrite:
            raise FileExistsError(f"{str(path)!r} exists; pass --overwrite to replace it")
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except FileExistsError:
        _unlink_quietly(tmp)
        raise
    except OSError as exc:                      # disk full, permissions: name the target
        _unlink_quietly(tmp)
        raise OSError(exc.errno, f"{exc.strerror or exc} while writing {str(path)!r}") \
            from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def _unlink_quietly(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


# 16-bit colour PNG: Pillow reduces these to 8 bit, so a minimal codec (PNG spec, ISO 15948).
# Colour types 2 (RGB), 6 (RGBA) and 4 (gray + alpha, returned as RGBA, R = G = B).

#: bytes per pixel and channels of the 16-bit colour types this codec reads
_PNG16_TYPES = {2: 3, 6: 4, 4: 2}


def _encode_png16(arr: np.ndarray) -> bytes:
    rows, cols, ch = arr.shape
    raw = np.empty((rows, 1 + cols * ch * 2), np.uint8)
    raw[:, 0] = 0                                               # filter type None
    raw[:, 1:] = arr.astype(">u2").reshape(rows, -1).view(np.uint8)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", cols, rows, 16, 2 if ch == 3 else 6, 0, 0, 0)
    return (_PNG_SIG + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))


def _png_chunks(path: pathlib.Path, data: bytes, max_pixels: int | None
                ) -> tuple[tuple[int, ...], bytes, bytes | None]:
    """``(IHDR fields, joined IDAT bytes, eXIf bytes or None)``; the size checks (zero and
    ``max_pixels``) are made as soon as the header is read, before any IDAT is looked at."""
    pos, idat, hdr, exif = 8, [], None, None
    while True:
        if len(data) < pos + 12:
            raise ValueError("no IEND chunk (the file ends early)")
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag = data[pos + 4:pos + 8]
        if n > len(data) - pos - 12:
            raise ValueError(f"chunk {tag!r} says {n:,} bytes, past the end of the file")
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(tag + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in chunk {tag!r}")
        if hdr is None and tag != b"IHDR":
            raise ValueError("the first chunk is not IHDR")
        if tag == b"IHDR":
            if n != 13:
                raise ValueError(f"IHDR has {n} bytes, not 13")
            hdr = struct.unpack(">IIBBBBB", body)
            _check_size(path, hdr[1], hdr[0], max_pixels)
        elif tag == b"IDAT":
            idat.append(body)
        elif tag == b"eXIf":
            exif = body
        elif tag == b"IEND":
            break
        pos += 12 + n
    assert hdr is not None
    return hdr, b"".join(idat), exif


def _inflate(stream: bytes, size: int) -> np.ndarray:
    """Exactly ``size`` bytes inflated from ``stream``: at most ``size + 1`` are ever produced
    (``max_length``), so a compressed stream that expands past what the header allows (a
    decompression bomb) costs no more memory than a valid image."""
    d = zlib.decompressobj()
    raw = d.decompress(stream, size + 1)
    if len(raw) > size or (d.unconsumed_tail and not d.eof):
        raise ValueError(f"the image data inflates past the {size:,} bytes its header allows")
    if len(raw) < size:
        raise ValueError(f"the image data has {len(raw):,} of the {size:,} bytes its header "
                         "allows")
    return np.frombuffer(raw, np.uint8)


def _read_png16(path: pathlib.Path, max_pixels: int | None) -> tuple[np.ndarray, ImageInfo]:
    try:
        hdr, stream, exif = _png_chunks(path, path.read_bytes(), max_pixels)
        cols, rows, bits, ctype, _, _, interlace = hdr
        if bits != 16 or ctype not in _PNG16_TYPES:
            raise ValueError(f"bit depth {bits} / colour type {ctype} is not 16-bit colour")
        if interlace:
            raise ValueError("interlaced 16-bit colour PNG is not supported")
        ch = _PNG16_TYPES[ctype]
        stride = cols * ch * 2
        raw = _inflate(stream, rows * (stride + 1)).reshape(rows, stride + 1)
        out = _unfilter(raw[:, 1:], raw[:, 0], ch * 2)
    except ValueError as exc:
        if str(exc).startswith("read_image:"):
            raise
        raise ValueError(f"read_image: {str(path)!r} is truncated or corrupt ({exc})") from None
    except (struct.error, zlib.error) as exc:
        raise ValueError(f"read_image: {str(path)!r} is truncated or corrupt ({exc})") from None
    arr = out.view(">u2").reshape(rows, cols, ch).astype(np.uint16)
    if ch == 2:                                                 # gray + alpha -> RGBA
        arr = arr[..., [0, 0, 0, 1]]
    info = ImageInfo(format="PNG", mode="RGB" if ch == 3 else "RGBA", bits=16)
    if exif is not None:
        arr = _orient(arr, _exif_orientation(exif), info)
    return arr, info


def _unfilter(lines: np.ndarray, types: np.ndarray, bpp: int) -> np.ndarray:
    """Undo the PNG row filters of ``lines (rows, stride)`` uint8, ``types (rows,)``.

    None/Sub/Up rows are whole-row NumPy operations (Sub: a cumulative sum along the row of
    each of the ``bpp`` byte lanes, mod 256). Average and Paeth make every byte depend on the
    reconstructed byte to its left, so a file that uses them is undone in anti-diagonal
    wavefronts (:func:`_unfilter_wavefront`): all the pixels ``(r, c)`` with ``r + c = d``
    depend only on diagonals ``d - 1`` and ``d - 2``, so each diagonal is one vector step --
    ``rows + cols`` steps instead of ``rows * cols`` pixel visits.
    """
    rows, stride = lines.shape
    if types.size and int(types.max()) > 4:
        bad = int(types[types > 4][0])
        raise ValueError(f"PNG filter type {bad} (0-4 exist)")
    if rows == 0:
        return np.zeros((0, stride), np.uint8)
    if np.any(types >= 3):
        return _unfilter_wavefront(lines, types, bpp)
    out = np.empty((rows, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    cols = stride // bpp
    for r in range(rows):
        ft, line = types[r], lines[r]
        if ft == 0:
            out[r] = line
        elif ft == 2:
            np.add(line, prev, out=out[r])                    # uint8 wraps: mod 256
        else:                                                 # Sub: running sum per lane
            acc = np.cumsum(line.reshape(cols, bpp), axis=0, dtype=np.uint64)
            out[r] = (acc & 255).astype(np.uint8).reshape(-1)
        prev = out[r]
    return out


def _unfilter_wavefront(lines: np.ndarray, types: np.ndarray, bpp: int) -> np.ndarray:
    rows, stride = lines.shape
    cols = stride // bpp
    band = max(1, min(rows, (64 << 20) // max(1, (cols + rows) * bpp * 4)))
    out = np.empty((rows, cols, bpp), np.uint8)
    prev = np.zeros((cols, bpp), np.int16)                    # the row above the band
    for r0 in range(0, rows, band):
        r1 = min(r0 + band, rows)
        prev = _wavefront_band(lines[r0:r1].reshape(r1 - r0, cols, bpp), types[r0:r1],
                               prev, out[r0:r1])
    return out.reshape(rows, stride)


def _wavefront_band(f: np.ndarray, types: np.ndarray, above: np.ndarray, out: np.ndarray
                    ) -> np.ndarray:
    # Skewed layout: S[d, 1 + r] holds pixel (r, d - r); S[:, 0] is the row above the band.
    # Pixel (r, c) reads a = (r, c-1) = S[d-1, 1+r], b = (r-1, c) = S[d-1, r],
    # c = (r-1, c-1) = S[d-2, r]; positions left of column 0 stay 0 (the PNG rule).
    n, cols, bpp = f.shape
    diag = n + cols
    S = np.zeros((diag + 2, n + 1, bpp), np.int16)            # two leading zero diagonals
    F = np.zeros((diag, n, bpp), np.int16)
    for r in range(n):                                        # skew the filtered bytes
        F[r:r + cols, r] = f[r]
    # the row above: pixel (-1, c) sits on diagonal c - 1 at row slot 0
    S[1:1 + cols, 0] = above
    kind = types[:, None]                                     # (n, 1) per row
    present = sorted(set(types.tolist()) - {0})
    masks = {t: kind == t for t in present}
    only = present[0] if len(present) == 1 else None
    for d in range(diag):
        lo, hi = max(0, d - cols + 1), min(n, d + 1)
        a = S[d + 1, 1 + lo:1 + hi]
        b = S[d + 1, lo:hi]
        preds = {}
        if 4 in masks:                                        # Paeth, p = a + b - c:
            c = S[d, lo:hi]                                   # |p-a| = |b-c|, |p-b| = |a-c|,
            da, db = a - c, b - c                             # |p-c| = |(a-c) + (b-c)|
            pc = np.abs(da + db)
            np.abs(da, out=da)
            np.abs(db, out=db)
            preds[4] = np.where((db <= da) & (db <= pc), a, np.where(da <= pc, b, c))
        if 3 in masks:
            preds[3] = (a + b) >> 1
        if 2 in masks:
            preds[2] = b
        if 1 in masks:
            preds[1] = a
        dst = S[d + 2, 1 + lo:1 + hi]
        if only is not None:
            np.add(F[d, lo:hi], preds[only], out=dst)
        else:
            pred = np.zeros_like(a)
            for t, v in preds.items():
                np.copyto(pred, v, where=masks[t][lo:hi])
            np.add(F[d, lo:hi], pred, out=dst)
        dst &= 255
    for row in range(n):                                      # un-skew
        out[row] = S[2 + row:2 + row + cols, 1 + row]
    return out[-1].astype(np.int16)


# ---------------------------------------------------------------------------------------------
# weights


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_manifest(folder: pathlib.Path) -> dict[str, Any]:
    mpath = folder / MANIFEST
    if not mpath.exists():
        return {"files": {}}
    try:
        man = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_weights: manifest {str(mpath)!r} is unreadable ({exc})") \
            from None
    if not isinstance(man, dict) or not isinstance(man.get("files"), dict):
        raise ValueError(f"load_weights: manifest {str(mpath)!r} has no 'files' table")
    return man


def save_weights(path: str | os.PathLike[str], arrays: dict[str, np.ndarray],
                 meta: dict[str, Any] | None = None, overwrite: bool = True) -> pathlib.Path:
    """Save named float arrays as ``.npz`` (atomically) and record sha256 + ``meta`` in the
    folder's ``manifest.json``."""
    path = pathlib.Path(path)
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype.kind not in "fiu" or a.dtype == object:
            raise ValueError(f"save_weights: array {k!r} has dtype {a.dtype}; only numeric "
                             "arrays are stored")
        clean[k] = a
    buf = io.BytesIO()
    np.savez(buf, **clean)  # type: ignore[arg-type]
    data = buf.getvalue()
    atomic_write(path, data, overwrite=overwrite)
    man = _read_manifest(path.parent)
    man["files"][path.name] = {"sha256": hashlib.sha256(data).hexdigest(), **(meta or {})}
    atomic_write(path.parent / MANIFEST, (json.dumps(man, indent=1, sort_keys=True) + "\n")
                 .encode(), overwrite=True)
    return path


def _npz_headers(z: Any, path: pathlib.Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``name -> (shape, dtype)`` of every member of an open ``NpzFile``, read from the
    ``.npy`` headers only (no array data is read)."""
    out = {}
    for name in z.files:
        with z.zip.open(name + ".npy") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f)
        out[name] = (tuple(int(v) for v in shape), np.dtype(dtype))
    return out


def _check_entry(path: pathlib.Path, entry: object) -> str:
    mpath = str(path.parent / MANIFEST)
    if not isinstance(entry, dict) or "sha256" not in entry:
        raise ValueError(f"load_weights: {str(path)!r} has no entry with a sha256 in "
                         f"{mpath!r}; refusing unverified weights")
    digest = entry["sha256"]
    if (not isinstance(digest, str) or len(digest) != 64
            or any(ch not in "0123456789abcdef" for ch in digest)):
        raise ValueError(f"load_weights: the sha256 of {str(path)!r} in {mpath!r} is "
                         f"{digest!r}; it must be 64 lower-case hex digits")
    return digest


def load_weights(path: str | os.PathLike[str], verify: bool = True, *,
                 expect: dict[str, tuple[int, ...]]
                 | Callable[[dict[str, Any]], dict[str, tuple[int, ...]]] | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load ``.npz`` weights after checking their sha256 against ``manifest.json``.

    Args:
        path: the ``.npz`` file; its folder's ``manifest.json`` lists its sha256.
        verify: check the sha256 (default). The manifest detects *corruption* (a truncated
            download, a flipped bit, the wrong file); it is no defence against someone who
            can edit both the weights and the manifest.
        expect: ``name -> shape`` of the arrays a model needs. Only those members are read
            (others, however large, are never loaded); each must exist with that shape and a
            real floating dtype. Checked from the ``.npy`` headers before any data is read.
            A callable receives the manifest entry (e.g. to build the table from the model
            config it records) and may raise ``ValueError`` to refuse it.

    Returns:
        ``(arrays, meta)`` where ``meta`` is the manifest entry.

    Raises:
        FileNotFoundError: no weights file.
        ValueError: no manifest entry or a malformed one, hash mismatch, a file that is not a
            plain ``.npz`` of numeric arrays (pickled objects are never loaded), a missing
            array, a wrong shape or dtype, or a non-finite value.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_weights: no weights file {str(path)!r}")
    man = _read_manifest(path.parent)
    entry = man["files"].get(path.name)
    if verify:
        want = _check_entry(path, entry)
        digest = sha256_file(path)
        if digest != want:
            raise ValueError(f"load_weights: sha256 of {str(path)!r} is {digest[:16]}..., the "
                             f"manifest says {want[:16]}...: the file was modified "
                             "or corrupted; refusing to load it")
    if entry is not None and not isinstance(entry, dict):
        raise ValueError(f"load_weights: the manifest entry of {str(path)!r} is "
                         f"{type(entry).__name__}, not a table")
    if callable(expect):
        expect = expect(dict(entry or {}))
    try:
        with np.load(path, allow_pickle=False) as z:
            headers = _npz_headers(z, path)
            names = list(headers) if expect is None else list(expect)
            missing = [n for n in names if n not in headers]
            if missing:
                raise _WeightsError(f"has no array {missing[0]!r} ({len(missing)} of the "
                                    f"{len(names)} the model needs are missing; it has "
                                    f"{sorted(headers)[:8]})")
            for n in names:
                shape, dtype = headers[n]
                kinds = "f" if expect is not None else "fiu"
                if dtype.kind not in kinds:
                    raise _WeightsError(f"array {n!r} has dtype {dtype}: not a plain .npz "
                                        "of " + ("real floating-point" if kinds == "f"
                                                 else "real numeric") + " arrays")
                if expect is not None and shape != tuple(expect[n]):
                    raise _WeightsError(f"array {n!r} has shape {shape}, the model's config "
                                        f"needs {tuple(expect[n])}")
            arrays = {n: z[n] for n in names}
    except _WeightsError as exc:
        raise ValueError(f"load_weights: {str(path)!r}: {exc}") from None
    except Exception as exc:
        raise ValueError(f"load_weights: {str(path)!r} is not a plain .npz of arrays "
                         f"({type(exc).__name__}: {exc})") from None
    for n, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise ValueError(f"load_weights: {str(path)!r}: array {n!r} has {bad} non-finite "
                             "value(s) (nan or inf); refusing weights that cannot give an image")
    return arrays, dict(entry or {})


class _WeightsError(Exception):
    pass
