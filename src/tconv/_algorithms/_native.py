"""Compiled loops (numba): loaded lazily, and given up with one warning if they fail.

Two implicit matrix products read their right-hand matrix as *shifted windows* of a few
flat planes instead of an im2col copy: column ``k`` of the virtual matrix is
``inp[src[k], off[k] : off[k] + L]``.

    igemm:  out[o, f]  = sum_k W[o, k] * inp[src[k], off[k] + f]       (product, no im2col)
    wdots:  out[a, t] += sum_f X[a, f] * G[src[t], off[t] + f]         (correlation sums)

``col2im2d`` and ``col2im3d`` (``col2im_last2d``, ``col2im_last3d`` for
the product computed channels innermost) are the ``gemm`` algorithm's col2im: each
output written once as the sum of the product's taps that reach it. ``depthwise2d`` is a whole
depthwise 2-D conv_transpose at column stride 2 with at most 2 x 2 terms an output, in one
pass that writes ``y``. ``resample2d`` (and ``resample1d``, its pass along the last axis)
is :func:`tconv.interpolate`'s separable table resampling, in ATen's order and without
fused multiply-adds; ``resample2d_taps2`` the same for two-tap tables, each output from its
four inputs; ``resample_gather`` the direct loop for nearest tables (a gather, a repeated
input row copied from the output row before). ``grid_copy`` and
``phase_sums`` are the ``phase`` algorithm's passes around its product; ``phase_split``
splits ``grad_out`` into the polyphase planes the compiled gradients read. ``igemm_tiles`` and
``igemm_segs`` are ``igemm`` in 16-lane register blocks (one AVX-512 register; portable
LLVM vectors elsewhere, where the cost model keeps them off).

Accumulation reassociates sums (``fastmath`` reassoc/contract only: NaN and inf propagate).
Nothing here is imported by ``import tconv``; :func:`kernels` compiles on first use and
caches the machine code next to the kernels' module.

If numba is missing, or a kernel fails to import or compile (an unsupported platform, a
broken LLVM), :func:`disable` records why and warns once; from then on :func:`available`
is False and every algorithm takes its NumPy path (:func:`guarded`).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from ._parallel import getenv

__all__ = ["available", "kernels", "disable", "guarded", "compile_failure"]

F = TypeVar("F", bound=Callable[..., Any])

#: register block of ``igemm_tiles``: 8 output rows x 32 grid columns (16 accumulators)
TILE_MR, TILE_NR = 8, 32
#: vectors of 16 outputs (row segments) in a block of ``igemm_segs``: 8 x 3 accumulators
SEG_VECTORS = 3

_KERNELS: dict[str, Any] = {}
#: why the compiled kernels were given up in this process (None: they were not)
_DISABLED: list[str] = []
_LOCK = threading.Lock()


def available() -> bool:
    """The compiled kernels may be used: numba is installed, not switched off
    (``TCONV_NUMBA=0``) and no kernel has failed in this process."""
    if getenv("TCONV_NUMBA", "1").strip() == "0":
        return False
    return _installed() and not _DISABLED


@functools.lru_cache(maxsize=1)
def _installed() -> bool:
    # looked up once per process: find_spec walks sys.path
    return importlib.util.find_spec("numba") is not None


def compile_failure(exc: BaseException) -> bool:
    """``exc`` comes from loading or compiling a kernel (not from the caller's data)."""
    if isinstance(exc, (ImportError, OSError)):
        return True
    return any(c.__module__.split(".")[0] in ("numba", "llvmlite") for c in type(exc).__mro__)


def disable(exc: BaseException | str) -> None:
    """Give up the compiled kernels for this process, with one ``RuntimeWarning``."""
    with _LOCK:
        if _DISABLED:
            return
        _DISABLED.append(str(exc) if isinstance(exc, str) else f"{type(exc).__name__}: {exc}")
    warnings.warn(f"tconv: compiled kernels (numba) unavailable ({_DISABLED[0][:200]}); "
                  "using the NumPy algorithms instead", RuntimeWarning, stacklevel=3)


def guarded(fallback: Callable[..., Any] | None = None) -> Callable[[F], F]:
    """Run the decorated function; if a kernel fails to load or compile, :func:`disable`
    the kernels and return ``fallback(*args)`` (default: the function again, which then
    takes its NumPy path). Other errors propagate."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not compile_failure(exc):
                    raise
                disable(exc)
                return (fallback or fn)(*args, **kwargs)
        return run  # type: ignore[return-value]
    return wrap


def kernels() -> dict[str, Any]:
    """``{"igemm": ..., "wdots": ..., "col2im2d": ..., "resample1d": ...,
    "depthwise2d": ..., "phase_sums": ..., "grid_copy": ..., ...}``, compiled on the first
    call of each dtype. Raises ImportError when numba is missing or was given up."""
    if _DISABLED:
        raise ImportError(f"tconv: compiled kernels unavailable ({_DISABLED[0]})")
    if not _KERNELS:
        try:
            from . import _native_kernels as k
        except ImportError as exc:
            raise ImportError(f"tconv's compiled kernels need numba ({exc}): "
                              "pip install numba") from None
        _KERNELS.update(igemm=k.igemm, wdots=k.wdots, col2im2d=k.col2im2d, col2im3d=k.col2im3d,
                        resample1d=k.resample1d, resample2d_planes=k.resample2d_planes,
                        resample2d_taps2=k.resample2d_taps2,
                        resample_direct=k.resample_direct,
                        resample_gather=k.resample_gather,
                        depthwise2d=k.depthwise2d,
                        col2im_last2d=k.col2im_last2d,
                        col2im_last3d=k.col2im_last3d, phase_sums=k.phase_sums,
                        grid_copy=k.grid_copy, phase_split=k.phase_split,
                        igemm_tiles=k.igemm_tiles,
                        igemm_segs=k.igemm_segs, dw_forward=k.dw_forward,
                        dw_backward=k.dw_backward, dw_scatter=k.dw_scatter,
                        scatter_add=k.scatter_add,
                        dw_last=k.dw_last)
    return _KERNELS
