"""``resize``: every framework's image resize, reproduced in NumPy, and conversions between them.

A resize is separable and linear along each axis, ``y = R @ x``; frameworks differ only in
how they build ``R`` -- the coordinate transform (which source position output ``i``
samples), the kernel (and whether it is stretched to anti-alias a down-sampling), the
border rule (clamp, or drop and renormalise) and the rounding (float32 coefficients,
fixed point for 8-bit images). :func:`resize` builds ``R`` per axis as each framework
does (see ``tconv._resize_tables``) and applies the axes in the framework's order::

    y = R_last @ ( ... (R_first @ x along axis first) ... )  along axis last

:func:`resize_matrix` returns one axis's ``R``; :func:`convert_resize` finds the call in
framework B whose matrices equal framework A's, or says by how much the closest one
differs. ``tconv.interpolate`` stays the PyTorch-exact entry point; ``convention="torch"``
calls it.
"""

from __future__ import annotations

import math as _math
import numbers as _numbers
from collections.abc import Sequence as _Sequence
from typing import Any as _Any

import numpy as _np

from . import _checks
from . import _resize_tables as _tables
from ._typing import Array, ArrayLike

__all__ = ["CONVENTIONS", "METHODS", "OPTIONS", "convert_resize", "resize", "resize_matrix"]

#: The ``convention=`` values of :func:`resize`.
CONVENTIONS = ("torch", "onnx", "tensorflow", "jax", "pil", "opencv")

#: The ``method=`` values of each convention, in that framework's own words.
METHODS: dict[str, tuple[str, ...]] = {
    "torch": ("nearest", "nearest-exact", "linear", "cubic", "area"),
    "onnx": ("nearest", "linear", "cubic"),
    "tensorflow": ("nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5",
                   "gaussian", "mitchellcubic"),
    "jax": ("nearest", "linear", "cubic", "lanczos3", "lanczos5"),
    "pil": ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"),
    "opencv": ("nearest", "nearest_exact", "linear", "cubic", "area", "lanczos4"),
}

#: Other spellings accepted for ``method=`` (the frameworks' own aliases).
_ALIASES: dict[str, dict[str, str]] = {
    "torch": {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"},
    "onnx": {},
    "tensorflow": {"nearest_neighbor": "nearest"},
    "jax": {"bilinear": "linear", "trilinear": "linear", "triangle": "linear",
            "bicubic": "cubic", "tricubic": "cubic"},
    "pil": {"antialias": "lanczos"},
    "opencv": {"inter_nearest": "nearest", "inter_nearest_exact": "nearest_exact",
               "inter_linear": "linear", "inter_cubic": "cubic", "inter_area": "area",
               "inter_lanczos4": "lanczos4"},
}

#: The keyword options of each convention and their defaults (the framework's defaults).
OPTIONS: dict[str, dict[str, _Any]] = {
    "torch": {"align_corners": None, "antialias": False, "recompute_scale_factor": None},
    "onnx": {"coordinate_transformation_mode": "half_pixel",
             "nearest_mode": "round_prefer_floor", "cubic_coeff_a": -0.75,
             "exclude_outside": False, "antialias": False, "extrapolation_value": 0.0,
             "roi": None, "keep_aspect_ratio_policy": "stretch"},
    "tensorflow": {"antialias": False},
    "jax": {"antialias": True},
    "pil": {"box": None},
    "opencv": {},
}

_ONNX_COORDINATES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                     "align_corners", "asymmetric", "tf_crop_and_resize")
_ONNX_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
#: Conventions whose scale argument sets the sampling step (not only the output size).
_BY_SCALE = ("torch", "onnx", "opencv")
_CHANNELS_FIRST = ("torch", "onnx")
_TF_KERNEL = {"lanczos3": "lanczos3", "lanczos5": "lanczos5", "gaussian": "gaussian",
              "mitchellcubic": "mitchellcubic", "bilinear": "triangle",
              "bicubic": "keyscubic"}
_JAX_KERNEL = {"linear": "triangle", "cubic": "keyscubic", "lanczos3": "lanczos3",
               "lanczos5": "lanczos5"}


# ----------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------

def _check_convention(fn: str, convention: object) -> str:
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        allowed = ", ".join(repr(c) for c in CONVENTIONS)
        raise ValueError(f"{fn}: convention={_checks.fmt(convention)} must be one of {allowed}")
    return convention


def _check_method(fn: str, convention: str, method: object) -> str:
    if isinstance(method, str):
        key = method.lower()
        key = _ALIASES[convention].get(key, key)
        if key in METHODS[convention]:
            return key
    allowed = ", ".join(repr(m) for m in METHODS[convention])
    raise ValueError(f"{fn}: method={_checks.fmt(method)} is not a {convention} resize "
                     f"method; allowed: {allowed}")


def _check_options(fn: str, convention: str, options: dict[str, _Any]) -> dict[str, _Any]:
    known = OPTIONS[convention]
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise TypeError(f"{fn}: option(s) {', '.join(unknown)} do not exist for "
                        f"convention={convention!r}; its options are: {allowed}")
    out = dict(known)
    out.update(options)
    for name in ("antialias", "exclude_outside"):
        if name in out and not isinstance(out[name], (bool, _np.bool_, int)):
            raise TypeError(f"{fn}: {name}={_checks.fmt(out[name])} must be a bool")
    if convention == "onnx":
        choices: list[tuple[str, tuple[str, ...]]] = [
            ("coordinate_transformation_mode", _ONNX_COORDINATES),
            ("nearest_mode", _ONNX_NEAREST),
            ("keep_aspect_ratio_policy", ("stretch", "not_larger", "not_smaller"))]
        for name, values in choices:
            if out[name] not in values:
                raise ValueError(f"{fn}: {name}={_checks.fmt(out[name])} must be one of "
                                 + ", ".join(repr(a) for a in values))
    return out


def _is_real(v: object) -> bool:
    return isinstance(v, _numbers.Real) and not isinstance(v, (bool, _np.bool_))


def _default_axes(convention: str, ndim: int, k: int | None) -> tuple[int, ...]:
    """Channels-first conventions resize the trailing axes; the others resize all axes
    when ``k == ndim`` and otherwise the ``k`` axes before a trailing channel axis."""
    if convention in _CHANNELS_FIRST:
        k = ndim - 2 if k is None else k
        return tuple(range(ndim - k, ndim))
    if k is None:
        k = ndim if ndim <= 2 else 2
    if k == ndim:
        return tuple(range(ndim))
    return tuple(range(ndim - 1 - k, ndim - 1))


def _as_axes(fn: str, axes: object, ndim: int) -> tuple[int, ...]:
    seq = (axes,) if isinstance(axes, _numbers.Integral) else axes
    if not isinstance(seq, _Sequence) or not all(isinstance(a, _numbers.Integral)
                                                 and not isinstance(a, bool) for a in seq):
        raise TypeError(f"{fn}: axes={_checks.fmt(axes)} must be an int or a tuple of ints")
    out = tuple(int(a) + ndim if int(a) < 0 else int(a) for a in seq)
    if any(not 0 <= a < ndim for a in out) or len(set(out)) != len(out) or not out:
        raise ValueError(f"{fn}: axes={_checks.fmt(axes)} must be distinct axes of the "
                         f"{ndim}-D input, in [-{ndim}, {ndim})")
    return out


def _per_axis(fn: str, name: str, value: object, k: int | None) -> tuple[_Any, ...] | None:
    if value is None:
        return None
    if isinstance(value, _Sequence) and not isinstance(value, str):
        vals = tuple(value)
    elif isinstance(value, _np.ndarray):
        vals = tuple(value.tolist())
    else:
        vals = (value,) * (1 if k is None else k)
    if k is not None and len(vals) != k:
        raise ValueError(f"{fn}: {name}={_checks.fmt(value)} must have {k} entries, one per "
                         "resized axis")
    return vals


def _prepare(fn: str, x: _np.ndarray, size: object, scale: object, convention: str,
             axes: object) -> tuple[tuple[int, ...], tuple[int, ...] | None,
                                    tuple[float, ...] | None]:
    """Resized axes, the requested sizes (or None) and scales (or None), checked."""
    if (size is None) == (scale is None):
        raise ValueError(f"{fn}: give exactly one of size={_checks.fmt(size)} and "
                         f"scale={_checks.fmt(scale)}")
    given = size if size is not None else scale
    k = None
    if isinstance(given, (_Sequence, _np.ndarray)) and not isinstance(given, str):
        k = len(given)
    if axes is None:
        if k is not None and k > x.ndim:
            raise ValueError(f"{fn}: {'size' if size is not None else 'scale'}="
                             f"{_checks.fmt(given)} has {k} entries for a {x.ndim}-D input")
        ax = _default_axes(convention, x.ndim, k)
        if not ax:
            raise ValueError(f"{fn}: a {x.ndim}-D input has no spatial axes in the "
                             f"{convention} layout; pass axes=")
    else:
        ax = _as_axes(fn, axes, x.ndim)
    sizes = _per_axis(fn, "size", size, len(ax))
    scales = _per_axis(fn, "scale", scale, len(ax))
    if sizes is not None:
        if not all(isinstance(s, _numbers.Integral) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"{fn}: size={_checks.fmt(size)} must be an int or a tuple of ints")
        if any(int(s) < 1 for s in sizes):
            raise ValueError(f"{fn}: size={_checks.fmt(size)} must be positive in every "
                             "resized axis")
        return ax, tuple(int(s) for s in sizes), None
    assert scales is not None
    if not all(_is_real(s) for s in scales):
        raise TypeError(f"{fn}: scale={_checks.fmt(scale)} must be a number or a tuple of "
                        "numbers")
    if not all(_math.isfinite(float(s)) and float(s) > 0 for s in scales):
        raise ValueError(f"{fn}: scale={_checks.fmt(scale)} must be finite and positive in "
                         "every resized axis")
    return ax, None, tuple(float(s) for s in scales)


# ----------------------------------------------------------------------------------------
# Per-axis plans: (axis, n_in, n_out, table) in the order the framework applies them
# ----------------------------------------------------------------------------------------

def _plan(fn: str, shape: tuple[int, ...], axes: tuple[int, ...],
          sizes: tuple[int, ...] | None, scales: tuple[float, ...] | None, method: str,
          convention: str, opt: dict[str, _Any]) -> list[tuple[int, int, int, _tables.Table]]:
    n_in = [shape[a] for a in axes]
    if convention == "onnx":
        return _plan_onnx(fn, n_in, axes, sizes, scales, method, opt)
    if convention == "opencv":
        if scales is not None:
            outs = [int(_np.rint(n * s)) for n, s in zip(n_in, scales)]
            inv = list(scales)
        else:
            assert sizes is not None
            outs = list(sizes)
            inv = [o / n for n, o in zip(n_in, outs)]
        _check_nonempty(fn, scales, outs)
        down = all(v <= 1 for v in inv)             # OpenCV: scale_x >= 1 and scale_y >= 1
        plan = [(a, n, o, _tables.opencv_table(n, o, method, v, down))
                for a, n, o, v in zip(axes, n_in, outs, inv)]
        if all(n == o for n, o in zip(n_in, outs)):
            return []                               # cv2.resize copies
        return plan[::-1]                           # columns (last axis) first
    outs = list(sizes) if sizes is not None else [
        int(_np.floor(n * s)) for n, s in zip(n_in, scales or ())]
    _check_nonempty(fn, scales, outs)
    plan = []
    if convention == "pil":
        if len(n_in) != 2:
            raise ValueError(f"{fn}: convention='pil' resizes 2 axes (rows, columns), got "
                             f"{len(n_in)} axes")
        order = sorted(range(2), key=lambda i: axes[i])      # rows, then columns
        axes2 = [axes[i] for i in order]
        n_in, outs = [n_in[i] for i in order], [outs[i] for i in order]
        boxes = _pil_boxes(fn, opt["box"], n_in)
        for a, n, o, b in zip(axes2, n_in, outs, boxes):
            if o == n and b == (0.0, float(n)):
                continue                            # Pillow skips a pass it does not need
            plan.append((a, n, o, _tables.pil_table(n, o, method, b)))
        # ImagingResampleInner: "If height is being scaled down more than twice the amount
        # the width is, run the vertical pass first"; otherwise columns first
        (h, w), (oh, ow) = n_in, outs
        horizontal_first = not (h - oh > 0 and h - oh > (w - ow) * 2)
        return plan[::-1] if horizontal_first else plan
    for a, n, o in zip(axes, n_in, outs):
        if o == n and convention == "jax":
            continue                                # jax.image.resize leaves it alone
        if convention == "jax":
            table = (_tables.jax_nearest_table(n, o) if method == "nearest" else
                     _tables.scale_and_translate_table(n, o, _JAX_KERNEL[method],
                                                       bool(opt["antialias"])))
        else:       # tensorflow filters every spatial axis: gaussian and mitchellcubic
            table = _tf_table(n, o, method, bool(opt["antialias"]))  # blur unchanged ones
        plan.append((a, n, o, table))
    return plan


def _check_nonempty(fn: str, scales: tuple[float, ...] | None, outs: list[int]) -> None:
    if any(o < 1 for o in outs):
        raise ValueError(f"{fn}: scale={_checks.fmt(scales)} gives an empty output size "
                         f"{tuple(outs)}; output sizes must be positive")


def _tf_table(n: int, o: int, method: str, antialias: bool) -> _tables.Table:
    if method == "nearest":
        return _tables.tf_nearest_table(n, o)
    if method == "area":
        return _tables.tf_area_table(n, o)
    if method == "bilinear" and not antialias:
        return _tables.tf_bilinear_table(n, o)
    if method == "bicubic" and not antialias:
        return _tables.tf_bicubic_table(n, o)
    return _tables.scale_and_translate_table(n, o, _TF_KERNEL[method], antialias,
                                             float32=True)


def _pil_boxes(fn: str, box: object, n_in: list[int]) -> list[tuple[float, float]]:
    if box is None:
        return [(0.0, float(n)) for n in n_in]
    if len(n_in) != 2 or not isinstance(box, _Sequence) or len(box) != 4 or not all(
            _is_real(b) for b in box):
        raise ValueError(f"{fn}: box={_checks.fmt(box)} must be Pillow's (left, upper, "
                         "right, lower) for a 2-axis resize")
    left, upper, right, lower = (float(b) for b in box)
    return [(upper, lower), (left, right)]


def _plan_onnx(fn: str, n_in: list[int], axes: tuple[int, ...], sizes: tuple[int, ...] | None,
               scales: tuple[float, ...] | None, method: str, opt: dict[str, _Any],
               ) -> list[tuple[int, int, int, _tables.Table]]:
    mode = opt["coordinate_transformation_mode"]
    if opt["antialias"] and method == "nearest":
        raise ValueError(f"{fn}: antialias=True needs method 'linear' or 'cubic' in ONNX "
                         "Resize, got method='nearest'")
    if sizes is not None:
        s = [o / n for n, o in zip(n_in, sizes)]
        outs = list(sizes)
        policy = opt["keep_aspect_ratio_policy"]
        if policy != "stretch":
            common = min(s) if policy == "not_larger" else max(s)
            s = [common] * len(s)
            outs = [int(common * n + 0.5) for n in n_in]
    else:
        assert scales is not None
        s = [float(_np.float32(v)) for v in scales]     # ONNX scales are a float32 tensor
        outs = [int(v * n) for v, n in zip(s, n_in)]
    _check_nonempty(fn, scales, outs)
    roi = opt["roi"]
    k = len(axes)
    if roi is None:
        rois = [(0.0, 1.0)] * k
    else:
        vals = [float(v) for v in roi]
        if len(vals) != 2 * k:
            raise ValueError(f"{fn}: roi={_checks.fmt(roi)} must hold {2 * k} numbers "
                             f"(starts then ends of the {k} resized axes)")
        rois = list(zip(vals[:k], vals[k:]))
    plan = []
    for a, n, o, v, r in zip(axes, n_in, outs, s, rois):
        full = mode != "tf_crop_and_resize" or r == (0.0, 1.0)
        if o == n and _math.isclose(v, 1.0) and full:
            continue                                # onnx.reference skips identity axes
        plan.append((a, n, o, _tables.onnx_table(
            n, o, v, method, coordinate_mode=mode, nearest_mode=opt["nearest_mode"],
            cubic_coeff_a=float(opt["cubic_coeff_a"]),
            exclude_outside=bool(opt["exclude_outside"]), antialias=bool(opt["antialias"]),
            roi=r)))
    return sorted(plan, key=lambda p: p[0])


# ----------------------------------------------------------------------------------------
# Applying the tables
# ----------------------------------------------------------------------------------------

def _apply(x: _np.ndarray, axis: int, table: _tables.Table, fill: float) -> _np.ndarray:
    """``y[.., i, ..] = sum_k w[i, k] * x[.., idx[i, k], ..]`` along ``axis`` (float64)."""
    idx, w, outside = table
    xm = _np.moveaxis(x, axis, -1)
    y = _np.zeros(xm.shape[:-1] + (idx.shape[0],))
    with _np.errstate(invalid="ignore", over="ignore"):
        for k in range(idx.shape[1]):
            valid = idx[:, k] >= 0
            term = xm[..., _np.maximum(idx[:, k], 0)] * w[:, k]
            y += _np.where(valid, term, 0.0) if not valid.all() else term
    if outside is not None:
        y[..., outside] = fill
    return _np.moveaxis(y, -1, axis)


def _apply_pil_uint8(x: _np.ndarray, axis: int, table: _tables.Table) -> _np.ndarray:
    """Pillow's 8-bit pass: coefficients in fixed point with 22 fraction bits, a rounding
    half added, the sum shifted back and clipped to [0, 255]."""
    idx, w, _ = table
    bits = 22
    k_int = _np.trunc(w * (1 << bits) + _np.where(w < 0, -0.5, 0.5)).astype(_np.int64)
    xm = _np.moveaxis(x, axis, -1).astype(_np.int64)
    acc = _np.full(xm.shape[:-1] + (idx.shape[0],), 1 << (bits - 1), _np.int64)
    for k in range(idx.shape[1]):
        acc += xm[..., _np.maximum(idx[:, k], 0)] * _np.where(idx[:, k] >= 0, k_int[:, k], 0)
    out = _np.clip(acc >> bits, 0, 255).astype(_np.uint8)
    return _np.moveaxis(out, -1, axis)


def resize(x: ArrayLike, size: int | tuple[int, ...] | None = None,
           scale: float | tuple[float, ...] | None = None, method: str = "linear",
           convention: str = "torch", *, axes: int | tuple[int, ...] | None = None,
           **options: _Any) -> Array:
    """Resize an array exactly as one framework's resize does.

    Every framework's resize is a separable linear map; they differ in where output ``i``
    samples the input, with which kernel, what happens at the borders and how numbers are
    rounded. Choose the framework with ``convention`` and use its own method and option
    names; the result equals that framework's call (tested against each one).

    Args:
        x: the array. Which axes are resized follows the framework's layout:
            ``"torch"``/``"onnx"`` resize the trailing axes of ``(N, C, *S)``;
            ``"tensorflow"``/``"jax"``/``"pil"``/``"opencv"`` resize ``(H, W)``,
            ``(H, W, C)`` or ``(N, H, W, C)`` images (all axes when ``size`` has one
            entry per axis, as ``jax.image.resize``'s ``shape``). ``axes=`` overrides.
        size: the output size of each resized axis (an int for all of them).
        scale: the size multiplier instead; the output size is ``floor(in * scale)``
            (``round`` for OpenCV's ``fx``/``fy``). Torch, ONNX and OpenCV then sample with
            step ``1/scale``, as they do when given a scale; the others take the size.
        method: the framework's method name, one of ``METHODS[convention]``:

            - torch: nearest, nearest-exact, linear (bilinear, trilinear), cubic
              (bicubic), area.
            - onnx: nearest, linear, cubic.
            - tensorflow: nearest, bilinear, bicubic, area, lanczos3, lanczos5, gaussian,
              mitchellcubic (``tf.image.resize``).
            - jax: nearest, linear, cubic, lanczos3, lanczos5 (``jax.image.resize``).
            - pil: nearest, box, bilinear, hamming, bicubic, lanczos.
            - opencv: nearest, nearest_exact, linear, cubic, area, lanczos4
              (``cv2.INTER_*``).
        convention: one of :data:`CONVENTIONS`.
        axes: the axes to resize (keyword only).
        **options: the framework's options, with its defaults (:data:`OPTIONS`):

            - torch: ``align_corners``, ``antialias``, ``recompute_scale_factor``.
            - onnx: ``coordinate_transformation_mode``, ``nearest_mode``,
              ``cubic_coeff_a``, ``exclude_outside``, ``antialias``,
              ``extrapolation_value``, ``roi`` (starts then ends of the resized axes),
              ``keep_aspect_ratio_policy``.
            - tensorflow, jax: ``antialias`` (TF default False, JAX default True).
            - pil: ``box`` (Pillow's ``(left, upper, right, lower)``).

    Returns:
        The resized array. Floating input keeps its dtype (computed in float64 with the
        framework's coefficients). ``uint8`` input to ``"pil"`` rounds as Pillow does (exact);
        to ``"opencv"`` it is rounded to nearest from float, which can differ from OpenCV's
        fixed point by one level. ``"torch"`` follows :func:`tconv.interpolate`'s dtype rules.

    Shape:
        ``S_out = size`` or ``floor(S_in * scale)`` along ``axes``; other axes unchanged.
        ONNX ``keep_aspect_ratio_policy`` ``"not_larger"``/``"not_smaller"`` uses one scale
        ``min``/``max(size / S_in)`` and ``S_out = round_half_up(scale * S_in)``.

    Convention:
        See ``docs/conventions.md`` for the table of equal calls across frameworks.
        ONNX follows the operator's specification, as onnxruntime does (``onnx.reference``
        departs from it in places, listed there). TensorFlow: methods with
        ``antialias=True`` and lanczos, gaussian, mitchellcubic use ``ScaleAndTranslate``
        (JAX's ``scale_and_translate``, in float32, on every spatial axis). Checked against
        onnxruntime, ``onnx.reference``, ``tf.image.resize``, ``jax.image.resize``,
        Pillow, OpenCV and PyTorch.

    Raises:
        ValueError: unknown convention, method or option value; both or neither of
            ``size``/``scale``; empty outputs.
        TypeError: unknown option names, non-integer sizes, integer input to conventions
            other than torch, pil (uint8) and opencv (uint8).

    Examples:
        >>> import numpy as np
        >>> x = np.arange(4.0)[None, None]
        >>> resize(x, 8, method="linear", convention="onnx",
        ...        coordinate_transformation_mode="asymmetric")
        array([[[0. , 0.5, 1. , 1.5, 2. , 2.5, 3. , 3. ]]])
        >>> resize(np.arange(4.0)[:, None], (8, 1), method="bilinear", convention="pil")[:, 0]
        array([0.  , 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.  ])
    """
    fn = "resize"
    convention = _check_convention(fn, convention)
    method = _check_method(fn, convention, method)
    opt = _check_options(fn, convention, options)
    arr = _checks.as_array(fn, "x", x)
    if convention == "torch":
        return _resize_torch(fn, arr, size, scale, method, axes, opt)
    ax, sizes, scales = _prepare(fn, arr, size, scale, convention, axes)
    integer = not _np.issubdtype(arr.dtype, _np.floating)
    if integer and not (arr.dtype == _np.uint8 and convention in ("pil", "opencv")):
        raise TypeError(f"{fn}: x of dtype {arr.dtype} is not supported by convention="
                        f"{convention!r}: pass floating point (uint8 images: 'pil', 'opencv')")
    out_shape = list(arr.shape)
    for k, a in enumerate(ax):                      # the largest size any rule can give
        out_shape[a] = sizes[k] if sizes is not None else int(
            _math.ceil(arr.shape[a] * (scales or ())[k]))
    _checks.check_elements(fn, "an output", out_shape,
                           {"size": size} if size is not None else {"scale": scale})
    plan = _plan(fn, arr.shape, ax, sizes, scales, method, convention, opt)
    fill = float(opt.get("extrapolation_value", 0.0))
    if convention == "pil" and integer:
        y = arr
        for a, _, _, table in plan:
            y = _apply_pil_uint8(y, a, table)
        return y.copy()
    y = arr.astype(_np.float64)
    for a, _, _, table in plan:
        y = _apply(y, a, table, fill)
        if convention == "pil" and arr.dtype == _np.float32:
            y = y.astype(_np.float32).astype(_np.float64)   # Pillow stores each pass ("F")
    if integer:                                           # OpenCV uint8: round to nearest
        return _np.clip(_np.rint(y), 0, 255).astype(_np.uint8)
    return y.astype(arr.dtype, copy=False)


def _resize_torch(fn: str, arr: _np.ndarray, size: object, scale: object, method: str,
                  axes: object, opt: dict[str, _Any]) -> Array:
    from .interpolate import interpolate

    ax, sizes, scales = _prepare(fn, arr, size, scale, "torch", axes)
    nd = len(ax)
    mode = {"linear": {1: "linear", 2: "bilinear", 3: "trilinear"}.get(nd),
            "cubic": "bicubic" if nd == 2 else None}.get(method, method)
    if mode is None:
        raise ValueError(f"{fn}: method={method!r} with convention='torch' does not exist "
                         f"for {nd} resized axes (PyTorch: linear 1-3, cubic 2)")
    rest = [a for a in range(arr.ndim) if a not in ax]
    moved = _np.transpose(arr, rest + list(ax))
    lead = moved.shape[:len(rest)]
    flat = moved.reshape((1, -1) + moved.shape[len(rest):])
    out = interpolate(flat, size=sizes, scale_factor=scales, mode=mode, **opt)
    out = out.reshape(lead + out.shape[2:])
    return _np.transpose(out, _np.argsort(rest + list(ax)))


def resize_matrix(n_in: int, n_out: int, method: str = "linear", convention: str = "torch",
                  *, scale: float | None = None, **options: _Any) -> _np.ndarray:
    """The dense ``(n_out, n_in)`` matrix ``R`` of one axis of :func:`resize`.

    ``R @ x`` equals ``resize`` of a 1-D signal ``x`` (float64), so two calls are equal
    exactly when their matrices are. ``scale`` is the sampling scale a framework was given
    (torch/ONNX/OpenCV), if any.

    Args:
        n_in: input length.
        n_out: output length.
        method: as in :func:`resize`.
        convention: as in :func:`resize`.
        scale: the scale passed instead of a size, if any (must give ``n_out``).
        **options: the convention's options (for Pillow ``box`` use :func:`resize`).

    Returns:
        ``R`` (float64). Rows of ONNX ``tf_crop_and_resize`` outputs that take
        ``extrapolation_value`` are zero.

    Shape:
        ``(n_out, n_in)``.

    Raises:
        ValueError: as :func:`resize`, and when ``scale`` does not give ``n_out``.

    Examples:
        >>> resize_matrix(2, 4, "bilinear", "pil")
        array([[1.  , 0.  ],
               [0.75, 0.25],
               [0.25, 0.75],
               [0.  , 1.  ]])
    """
    fn = "resize_matrix"
    for name, v in (("n_in", n_in), ("n_out", n_out)):
        _checks.as_int_tuple(fn, name, v, 1, minimum=1)
    convention = _check_convention(fn, convention)
    method = _check_method(fn, convention, method)
    opt = _check_options(fn, convention, options)
    n_in, n_out = int(n_in), int(n_out)
    if convention == "torch":
        from .interpolate import resample_matrix

        mode = {"linear": "linear", "cubic": "bicubic"}.get(method, method)
        factor = None if scale is None or opt["recompute_scale_factor"] else float(scale)
        if scale is not None and int(_np.floor(n_in * float(scale))) != n_out:
            raise ValueError(f"{fn}: scale={scale!r} gives {int(n_in * float(scale))} "
                             f"outputs for n_in={n_in}, not n_out={n_out}")
        return resample_matrix(n_in, n_out, mode, opt["align_corners"], factor,
                               bool(opt["antialias"]))
    eye = _np.eye(n_in)
    axes: tuple[int, ...]
    if convention == "onnx":
        opt = dict(opt, extrapolation_value=0.0)
        x, axes = eye[:, None, :], (2,)             # (n_in, 1, n_in): N = basis vectors
    elif convention == "pil":
        x, axes = eye, (0, 1)                       # columns unchanged: Pillow skips them
    else:
        x, axes = eye[:, :, None], (1,)             # (n_in, n_in, 1): rows = basis vectors
    size: tuple[int, ...] | None = (n_out, n_in) if convention == "pil" else (n_out,)
    scales = None
    if scale is not None:
        size, scales = None, ((float(scale), 1.0) if convention == "pil" else (float(scale),))
    y = resize(x, size, scales, method, convention, axes=axes, **_user(opt, convention))
    if y.shape[axes[0] if convention != "pil" else 0] != n_out:
        raise ValueError(f"{fn}: scale={scale!r} does not give n_out={n_out} outputs for "
                         f"n_in={n_in}")
    if convention == "pil":
        return _np.ascontiguousarray(y, dtype=_np.float64)
    R = y[:, 0, :] if convention == "onnx" else y[:, :, 0]
    return _np.ascontiguousarray(R.T, dtype=_np.float64)


def _user(opt: dict[str, _Any], convention: str) -> dict[str, _Any]:
    """The options that differ from the defaults (what a user would have typed)."""
    return {k: v for k, v in opt.items() if OPTIONS[convention].get(k, object()) != v
            or k not in OPTIONS[convention]}


# ----------------------------------------------------------------------------------------
# convert_resize
# ----------------------------------------------------------------------------------------

def _candidates(convention: str, nd: int) -> list[tuple[str, dict[str, _Any]]]:
    """Configurations of ``convention`` tried by :func:`convert_resize`, simplest first."""
    out: list[tuple[str, dict[str, _Any]]] = []
    if convention == "torch":
        for m in METHODS["torch"]:
            if m == "cubic" and nd != 2:
                continue
            if m in ("linear", "cubic"):
                for ac in (False, True):
                    for aa in (False, True):
                        if aa and nd != 2:
                            continue
                        out.append((m, {"align_corners": ac, "antialias": aa}))
            else:
                out.append((m, {}))
    elif convention == "onnx":
        for m in METHODS["onnx"]:
            for mode in _ONNX_COORDINATES[:-1]:
                if m == "nearest":
                    for nm in _ONNX_NEAREST:
                        out.append((m, {"coordinate_transformation_mode": mode,
                                        "nearest_mode": nm}))
                    continue
                for aa in (False, True):
                    for ex in (False, True):
                        for a in ((-0.75, -0.5) if m == "cubic" else (-0.75,)):
                            o: dict[str, _Any] = {"coordinate_transformation_mode": mode,
                                                  "antialias": aa, "exclude_outside": ex}
                            if m == "cubic":
                                o["cubic_coeff_a"] = a
                            out.append((m, o))
    elif convention in ("tensorflow", "jax"):
        for m in METHODS[convention]:
            if m in ("nearest", "area"):
                out.append((m, {}))
            else:
                for aa in (False, True):
                    out.append((m, {"antialias": aa}))
    else:
        out = [(m, {}) for m in METHODS[convention]]
    return out


def _call_text(convention: str, method: str, size: tuple[int, ...],
               opt: dict[str, _Any], scales: tuple[float, ...] | None = None) -> str:
    """The framework's own call (x in that framework's layout)."""
    extra = "".join(f", {k}={v!r}" for k, v in opt.items())
    if convention == "torch":
        nd = len(size)
        mode = {"linear": ("linear", "bilinear", "trilinear")[nd - 1],
                "cubic": "bicubic"}.get(method, method)
        target = f"size={size}" if scales is None else f"scale_factor={tuple(scales)}"
        return f"torch.nn.functional.interpolate(x, {target}, mode={mode!r}{extra})"
    if scales is not None and convention == "opencv":
        fx = ", ".join(f"f{a}={v!r}" for a, v in zip("yx", scales))
        return f"cv2.resize(x, (0, 0), {fx}, interpolation=cv2.INTER_{method.upper()})"
    if scales is not None and convention == "onnx":
        attrs = "".join(f", {k}={(int(v) if isinstance(v, bool) else v)!r}"
                        for k, v in opt.items())
        return f"onnx.helper.make_node('Resize', ['x', '', 'scales'], ['y'], " \
               f"mode={method!r}{attrs})  # scales = (1, 1) + {tuple(scales)}"
    if convention == "onnx":
        attrs = "".join(f", {k}={(int(v) if isinstance(v, bool) else v)!r}"
                        for k, v in opt.items())
        return f"onnx.helper.make_node('Resize', ['x', '', '', 'sizes'], ['y'], " \
               f"mode={method!r}{attrs})  # sizes = (N, C) + {size}"
    if convention == "tensorflow":
        return f"tf.image.resize(x, {size}, method={method!r}{extra})"
    if convention == "jax":
        return f"jax.image.resize(x, x.shape[:-{len(size) + 1}] + {size} + x.shape[-1:], " \
               f"method={method!r}{extra})"
    if convention == "pil":
        name = {"box": "BOX", "bilinear": "BILINEAR", "hamming": "HAMMING",
                "bicubic": "BICUBIC", "lanczos": "LANCZOS", "nearest": "NEAREST"}[method]
        return f"img.resize({tuple(reversed(size))}, PIL.Image.Resampling.{name})"
    return f"cv2.resize(x, {tuple(reversed(size))}, interpolation=cv2.INTER_{method.upper()})"


#: Largest weight difference counted as equal: float64 rounding, and the rounding of
#: frameworks that compute coefficients or positions in float32 (OpenCV, TensorFlow).
_EXACT, _FLOAT32 = 1e-12, 2e-6


def _found(dst: str, method: str, size: tuple[int, ...], options: dict[str, _Any],
           gap: float, scales: tuple[float, ...] | None = None) -> dict[str, _Any]:
    options = {k: v for k, v in options.items() if not _is_default(dst, k, v)}
    found = {"method": method, "size": size, "options": options,
             "call": _call_text(dst, method, size, options, scales), "max_difference": gap}
    if scales is not None:                  # call with scale=..., not size=...
        found["scale"] = tuple(scales)
    return found


def _is_default(convention: str, name: str, value: object) -> bool:
    default = OPTIONS[convention][name]
    if isinstance(value, bool) or default is None:
        return bool(value) == bool(default)
    return bool(value == default)


def _run_on(img: _np.ndarray, size: _Any, scale: _Any, method: str, convention: str,
            options: dict[str, _Any]) -> _np.ndarray:
    """Resize all axes of ``img`` in ``convention``'s layout; returns ``img``'s layout."""
    nd = img.ndim
    if convention in _CHANNELS_FIRST:
        out = resize(img[None, None], size, scale, method, convention,
                     axes=tuple(range(2, nd + 2)), **options)
        return out[0, 0]
    return resize(img, size, scale, method, convention, axes=tuple(range(nd)), **options)


def convert_resize(config: dict[str, _Any], src: str, dst: str) -> dict[str, _Any]:
    """The ``dst`` framework's resize that equals a ``src`` framework's resize.

    Two resizes are equal when their per-axis matrices are (:func:`resize_matrix`) for the
    given input and output sizes; this tries ``dst``'s methods and options, simplest first,
    and returns the first equal one. When none is, it raises and says which comes closest
    and by how much it differs on a test image (a seeded uniform image in ``[0, 1]``).

    Args:
        config: the ``src`` resize: ``"input_size"`` (tuple, the resized axes),
            ``"size"`` or ``"scale"``, ``"method"``, and ``src``'s options by name.
        src: the convention of ``config``.
        dst: the convention wanted.

    Returns:
        A dict: ``"method"``, ``"size"``, ``"options"`` (the non-default options),
        ``"scale"`` when the call must pass the source's scale (torch, ONNX and OpenCV
        sample with step ``1/scale``, which the output size alone does not reproduce),
        ``"call"``, the framework's own call as text, and ``"max_difference"``, the largest
        weight difference (at most 1e-12; up to 2e-6 only where one side rounds its
        coefficients or positions to float32 and no exact match exists).
        ``resize(x, size=..., method=..., convention=dst, **options)`` equals the ``src``
        resize.

    Raises:
        ValueError: no ``dst`` configuration equals ``config``, with the closest one and
            its largest difference; or an invalid ``config``.

    Examples:
        >>> convert_resize({"input_size": (4, 4), "size": (8, 8), "method": "bilinear"},
        ...                "pil", "torch")["call"]
        "torch.nn.functional.interpolate(x, size=(8, 8), mode='bilinear')"
    """
    fn = "convert_resize"
    src = _check_convention(fn, src)
    dst = _check_convention(fn, dst)
    if not isinstance(config, dict) or "input_size" not in config or "method" not in config:
        raise ValueError(f"{fn}: config={_checks.fmt(config)} must be a dict with "
                         "'input_size', 'method' and 'size' or 'scale'")
    cfg = dict(config)
    n_in = tuple(int(v) for v in _per_axis(fn, "input_size", cfg.pop("input_size"), None)
                 or ())
    method = cfg.pop("method")
    size, scale = cfg.pop("size", None), cfg.pop("scale", None)
    if src == "onnx" and cfg.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        raise ValueError(f"{fn}: ONNX tf_crop_and_resize crops and extrapolates; no other "
                         "convention has it")
    if "pil" in (src, dst) and len(n_in) != 2:
        raise ValueError(f"{fn}: Pillow resizes images (2 axes); input_size={n_in} has "
                         f"{len(n_in)}")
    if cfg.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise ValueError(f"{fn}: give the output size keep_aspect_ratio_policy="
                         f"{cfg['keep_aspect_ratio_policy']!r} produces, with 'stretch'")
    img = _np.random.default_rng(0).random(n_in)
    target = _run_on(img, size, scale, method, src, cfg)
    out_size = target.shape
    src_scales = _per_axis(fn, "scale", scale, len(n_in))
    mats = []
    for k, (n, o) in enumerate(zip(n_in, out_size)):
        sc = None if src_scales is None or src not in _BY_SCALE else src_scales[k]
        mats.append(resize_matrix(n, o, method, src, scale=sc, **cfg))
    best: tuple[float, str, dict[str, _Any]] | None = None
    close: tuple[float, str, dict[str, _Any], _Any] | None = None
    # a scale given to torch, ONNX or OpenCV sets their sampling step: try it as a scale
    by_scale = src_scales is not None and src in _BY_SCALE and dst in _BY_SCALE
    for m, o in _candidates(dst, len(n_in)):
        for scales in ([None, src_scales] if by_scale else [None]):
            try:
                cand = [resize_matrix(n, oo, m, dst, scale=None if scales is None
                                      else scales[k], **o)
                        for k, (n, oo) in enumerate(zip(n_in, out_size))]
            except ValueError:
                continue
            gap = max(float(_np.max(_np.abs(a - b))) for a, b in zip(cand, mats))
            if gap <= _EXACT:
                return _found(dst, m, out_size, o, gap, scales)
            if gap <= _FLOAT32 and close is None:
                close = (gap, m, o, scales)
        try:
            err = float(_np.max(_np.abs(_run_on(img, out_size, None, m, dst, o) - target)))
        except ValueError:
            continue
        if best is None or err < best[0]:
            best = (err, m, o)
    if close is not None:                   # equal up to float32 coefficients or positions
        return _found(dst, close[1], out_size, close[2], close[0], close[3])
    where = "" if best is None else (
        f"; the closest, method={best[1]!r} with {best[2]}, differs by up to {best[0]:.3g} "
        f"on a uniform [0, 1] test image of size {n_in}")
    raise ValueError(f"{fn}: no {dst} resize equals {src} method={method!r} with "
                     f"{cfg or 'default options'} from {n_in} to {out_size}{where}")
