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
match its manifest entry (tampered or corrupted weights).
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
from typing import Any

import numpy as np

__all__ = ["MAX_PIXELS", "ImageInfo", "read_image", "write_image", "atomic_write",
           "save_weights", "load_weights", "sha256_file", "MANIFEST"]

#: Default limit on decoded pixels (rows x cols): 100 megapixels (e.g. 10000 x 10000).
MAX_PIXELS = 100_000_000
MANIFEST = "manifest.json"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
#: leading bytes of PNG, JPEG, TIFF (both byte orders), BMP, GIF, WebP (RIFF)
_IMAGE_SIGNATURES = (_PNG_SIG, b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF8", b"RIFF")


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


def _check_pixels(path: pathlib.Path, rows: int, cols: int, max_pixels: int | None) -> None:
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if rows * cols > limit:
        raise ValueError(f"read_image: {str(path)!r} is {cols}x{rows} = {rows * cols:,} pixels, "
                         f"over the limit max_pixels={limit:,} (a guard against decompression "
                         "bombs); raise it explicitly (--max-pixels) if you trust the file")


def read_image(path: str | os.PathLike[str], max_pixels: int | None = None
               ) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file into a ``uint8``/``uint16`` array.

    Args:
        path: a PNG, JPEG, TIFF, BMP, ... file.
        max_pixels: refuse images with more pixels than this (default :data:`MAX_PIXELS`).

    Returns:
        ``(array, info)``; array ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an image, unreadable, truncated, unsupported mode, or too many pixels.
    """
    Image = _pil()
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_image: no such file {str(path)!r}")
    with open(path, "rb") as f:
        head = f.read(32)
    if head.startswith(_PNG_SIG) and len(head) >= 26 and head[24] == 16 and head[25] in (2, 6):
        return _read_png16(path, max_pixels)            # 16-bit RGB / RGBA PNG
    old = Image.MAX_IMAGE_PIXELS
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    try:
        # our own check below replaces Pillow's; keep Pillow's hard error above our limit
        Image.MAX_IMAGE_PIXELS = max(limit, 1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
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
            _check_pixels(path, rows, cols, max_pixels)
            fmt = im.format
            if fmt == "TIFF" and im.mode in ("RGB", "RGBA") and _tiff_bits(im) == 16:
                return _read_tiff16(path, rows, cols)
            try:
                im.load()
            except Exception as exc:
                raise ValueError(f"read_image: {str(path)!r} is truncated or corrupt "
                                 f"({type(exc).__name__}: {exc})") from None
            arr, mode, bits = _to_array(im, path)
    finally:
        Image.MAX_IMAGE_PIXELS = old
    return arr, ImageInfo(format=fmt, mode=mode, bits=bits)


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
        arr = np.asarray(tifffile.imread(path))
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
                quality: int = 95) -> pathlib.Path:
    """Write a ``uint8``/``uint16`` gray/RGB/RGBA array atomically; format from the suffix.

    16-bit is kept for PNG and TIFF; JPEG is 8-bit only (16-bit input is reduced to 8 bit,
    alpha is refused). Raises ``FileExistsError`` for an existing ``path`` unless
    ``overwrite``, ``ValueError`` for an unsupported array or suffix.
    """
    path = pathlib.Path(path)
    arr = np.asarray(arr)
    if arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_image: dtype={arr.dtype} must be uint8 or uint16")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"write_image: shape {arr.shape} must be (H, W), (H, W, 3) or "
                         "(H, W, 4)")
    ext = path.suffix.lower()
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
           ".bmp": "BMP", ".webp": "WEBP"}.get(ext)
    if fmt is None:
        raise ValueError(f"write_image: unknown image suffix {ext!r} of {str(path)!r} "
                         "(use .png, .jpg, .tif, .bmp or .webp)")
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
            kw = {"quality": quality} if fmt == "JPEG" else {}
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
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# 16-bit colour PNG: Pillow reduces these to 8 bit, so a minimal codec (PNG spec, ISO 15948).

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


def _read_png16(path: pathlib.Path, max_pixels: int | None) -> tuple[np.ndarray, ImageInfo]:
    data = path.read_bytes()
    pos, idat, hdr = 8, [], None
    try:
        while pos < len(data):
            (n,) = struct.unpack(">I", data[pos:pos + 4])
            tag = data[pos + 4:pos + 8]
            body = data[pos + 8:pos + 8 + n]
            if len(body) != n or len(data) < pos + 12 + n:
                raise ValueError("chunk runs past the end of the file")
            (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
            if zlib.crc32(tag + body) & 0xFFFFFFFF != crc:
                raise ValueError(f"bad CRC in chunk {tag!r}")
            if tag == b"IHDR":
                hdr = struct.unpack(">IIBBBBB", body)
                _check_pixels(path, hdr[1], hdr[0], max_pixels)
            elif tag == b"IDAT":
                idat.append(body)
            elif tag == b"IEND":
                break
            pos += 12 + n
        else:
            raise ValueError("no IEND chunk")
        if hdr is None:
            raise ValueError("no IHDR chunk")
        cols, rows, bits, ctype, _, _, interlace = hdr
        if interlace:
            raise ValueError("interlaced 16-bit colour PNG is not supported")
        ch = 3 if ctype == 2 else 4
        stride = cols * ch * 2
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
        if raw.size != rows * (stride + 1):
            raise ValueError("image data has the wrong length")
    except ValueError as exc:
        if "max_pixels" in str(exc):
            raise
        raise ValueError(f"read_image: {str(path)!r} is truncated or corrupt ({exc})") from None
    except (struct.error, zlib.error) as exc:
        raise ValueError(f"read_image: {str(path)!r} is truncated or corrupt ({exc})") from None
    raw = raw.reshape(rows, stride + 1)
    out = np.zeros((rows, stride), np.uint8)
    bpp = ch * 2
    prev = np.zeros(stride, np.int32)
    for r in range(rows):
        ft, line = raw[r, 0], raw[r, 1:].astype(np.int32)
        if ft == 0:
            cur = line
        elif ft == 2:
            cur = (line + prev) & 255
        elif ft in (1, 3, 4):
            cur = _unfilter_serial(ft, line, prev, bpp)
        else:
            raise ValueError(f"read_image: {str(path)!r} is corrupt (PNG filter type {ft})")
        out[r] = cur
        prev = cur
    arr = out.view(">u2").reshape(rows, cols, ch).astype(np.uint16)
    return arr, ImageInfo(format="PNG", mode="RGB" if ch == 3 else "RGBA", bits=16)


def _unfilter_serial(ft: int, line: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    # Sub/Average/Paeth depend on the reconstructed byte bpp to the left: walk pixel columns.
    cur = np.zeros_like(line)
    n = line.size
    for i in range(0, n, bpp):
        a = cur[i - bpp:i] if i else np.zeros(bpp, np.int32)
        b = prev[i:i + bpp]
        if ft == 1:
            pred = a
        elif ft == 3:
            pred = (a + b) // 2
        else:
            c = prev[i - bpp:i] if i else np.zeros(bpp, np.int32)
            p = a + b - c
            pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
            pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        cur[i:i + bpp] = (line[i:i + bpp] + pred) & 255
    return cur


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


def load_weights(path: str | os.PathLike[str], verify: bool = True
                 ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load ``.npz`` weights after checking their sha256 against ``manifest.json``.

    Returns:
        ``(arrays, meta)`` where ``meta`` is the manifest entry (without the hash check key).

    Raises:
        FileNotFoundError: no weights file.
        ValueError: no manifest entry, hash mismatch (tampered/corrupt file), or a file that
            is not a plain ``.npz`` of numeric arrays (pickled objects are never loaded).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_weights: no weights file {str(path)!r}")
    man = _read_manifest(path.parent)
    entry = man["files"].get(path.name)
    if verify:
        if entry is None or "sha256" not in entry:
            raise ValueError(f"load_weights: {str(path)!r} has no entry in "
                             f"{str(path.parent / MANIFEST)!r}; refusing unverified weights")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise ValueError(f"load_weights: sha256 of {str(path)!r} is {digest[:16]}..., the "
                             f"manifest says {entry['sha256'][:16]}...: the file was modified "
                             "or corrupted; refusing to load it")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise ValueError(f"load_weights: {str(path)!r} is not a plain .npz of arrays "
                         f"({type(exc).__name__}: {exc})") from None
    return arrays, dict(entry or {})
