"""Argument normalisation and every validation message of tconv.

Every public entry point funnels its arguments through the functions here, so that one
rule has one message. Messages follow one pattern -- function, argument, value, rule,
allowed range -- for example::

    conv_transpose: output_padding=(2, 0) must be smaller than max(stride, dilation)=(2, 1)
    in every spatial dim

Integer arguments are normalised to one int per spatial dim, ``padding`` to one
``(low, high)`` pair per spatial dim.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "MAX_ELEMENTS",
    "ConvParams",
    "check_elements",
    "int_sequence",
    "as_int_tuple",
    "as_array",
    "as_padding_pairs",
    "conv_params",
    "result_dtype",
    "fmt",
]


def fmt(value: object) -> str:
    """Format a value for an error message (tuples as tuples, strings quoted)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, np.ndarray):
        return f"array of shape {tuple(value.shape)}"
    if isinstance(value, list):
        return repr(tuple(value))
    return repr(value)


#: The most numbers one array that tconv computes or plans may hold: an output, the uncropped
#: output of a transposed convolution, the padded input of a convolution, a dense matrix.
#: 2**31 numbers are 8 GiB of float32 (16 GiB of float64). Larger requests are refused with a
#: ValueError before anything is allocated or planned, where they would otherwise run out of
#: memory or loop for hours (stride=10**9). Read at call time (the hardening tests lower it).
MAX_ELEMENTS = 2**31


def _is_int(v: object) -> bool:
    # Python and NumPy integers (numbers.Integral); bool and np.bool_ are not sizes
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def int_sequence(fn: str, name: str, value: object) -> tuple[int, ...]:
    """An int-like or a sequence of int-likes (any length) as a tuple of Python ints.

    Raises ``TypeError`` naming the argument for anything else (``9.0``, ``"9"``, ``True``).
    """
    if _is_int(value):
        return _int64(fn, name, value, (int(value),))  # type: ignore[call-overload]
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not all(_is_int(v) for v in value):
            raise TypeError(f"{fn}: {name}={fmt(value)} must be an int or a tuple of ints")
        return _int64(fn, name, value, tuple(int(v) for v in value))
    raise TypeError(f"{fn}: {name}={fmt(value)} must be an int or a tuple of ints, "
                    f"not {type(value).__name__}")


def _magnitude(value: object) -> int:
    """The largest absolute int in a (nested) argument; 0 for strings and None."""
    if _is_int(value):
        return abs(int(value))  # type: ignore[call-overload]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return max((_magnitude(v) for v in value), default=0)
    return 0


def check_elements(fn: str, what: str, shape: Sequence[int], args: Mapping[str, object]) -> None:
    """Refuse an array of ``shape`` larger than :data:`MAX_ELEMENTS` numbers.

    ``args`` are the user's arguments that set the size (named in the message, the largest
    first); a batch of 0 counts as 1, since planning does not depend on it.
    """
    count = math.prod(max(int(v), 1) for v in shape)
    if count <= MAX_ELEMENTS:
        return

    named = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(
        args.items(), key=lambda item: _magnitude(item[1]), reverse=True))

    def short(v: int) -> str:                   # 10**300 as 1e+300, not 301 digits
        return str(v) if abs(v) < 10**15 else f"{float(v):.3g}"

    shown = "(" + ", ".join(short(int(v)) for v in shape) + ("," if len(shape) == 1 else "")
    verb = "gives" if len(args) == 1 else "give"
    raise ValueError(f"{fn}: {named} {verb} {what} of shape {shown}), {short(count)} numbers, "
                     f"more than the limit of {MAX_ELEMENTS} (tconv.MAX_ELEMENTS) numbers in "
                     "one array")


def as_int_tuple(fn: str, name: str, value: object, ndim: int, minimum: int | None = None,
                 ) -> tuple[int, ...]:
    """Normalise an int or a sequence of ``ndim`` ints to a tuple of ``ndim`` ints.

    Raises ``TypeError`` for non-integers and ``ValueError`` for a wrong length or a value
    below ``minimum``.
    """
    if _is_int(value):
        out = (int(value),) * ndim  # type: ignore[call-overload]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not all(_is_int(v) for v in value):
            raise TypeError(f"{fn}: {name}={fmt(value)} must be an int or a tuple of ints")
        if len(value) == 1:
            out = (int(value[0]),) * ndim
        elif len(value) == ndim:
            out = tuple(int(v) for v in value)
        else:
            raise ValueError(
                f"{fn}: {name}={fmt(value)} must be a single int or a tuple of {ndim} ints "
                f"to match the {ndim} spatial dims")
    else:
        raise TypeError(f"{fn}: {name}={fmt(value)} must be an int or a tuple of ints, "
                        f"not {type(value).__name__}")
    if minimum is not None and any(v < minimum for v in out):
        rule = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{fn}: {name}={fmt(value)} must be {rule} in every spatial dim")
    return _int64(fn, name, value, out)


def _int64(fn: str, name: str, value: object, ints: tuple[int, ...]) -> tuple[int, ...]:
    """``ints``, each of which must fit a signed 64-bit integer (as PyTorch requires)."""
    if any(not -2**63 <= v < 2**63 for v in ints):
        raise ValueError(f"{fn}: {name}={fmt(value)} is out of range: every value must be "
                         "in [-2**63, 2**63) (a signed 64-bit integer)")
    return ints


def as_padding_pairs(fn: str, padding: object, ndim: int, *, strings: Sequence[str] = (),
                     negative_pairs: bool = False) -> tuple[tuple[int, int], ...] | str:
    """Normalise ``padding`` to one ``(low, high)`` pair per spatial dim.

    Accepts an int, a tuple of ``ndim`` ints (symmetric), a tuple of ``ndim`` ``(low, high)``
    pairs, or one of ``strings`` (returned lower-cased, unresolved). Negative padding is
    rejected, as in PyTorch, except inside ``(low, high)`` pairs with ``negative_pairs``
    (a transposed convolution's negative crop: zeros added to its output, as JAX).
    """
    if isinstance(padding, str):
        p = padding.lower()
        if p not in strings:
            allowed = ", ".join(repr(s) for s in strings) or "none"
            raise ValueError(f"{fn}: padding={padding!r} is not a valid padding string; "
                             f"allowed strings: {allowed}")
        return p
    pairs: tuple[tuple[int, int], ...]
    if (isinstance(padding, Sequence) and len(padding) > 0
            and all(isinstance(p, Sequence) and not isinstance(p, str) for p in padding)):
        if len(padding) != ndim or not all(len(p) == 2 for p in padding):
            raise ValueError(f"{fn}: padding={fmt(padding)} given as (low, high) pairs must have "
                             f"one pair per spatial dim ({ndim})")
        if not all(_is_int(v) for p in padding for v in p):
            raise TypeError(f"{fn}: padding={fmt(padding)} pairs must hold ints")
        pairs = tuple((int(p[0]), int(p[1])) for p in padding)
        _int64(fn, "padding", padding, tuple(v for p in pairs for v in p))
        if negative_pairs:
            return pairs
    else:
        sym = as_int_tuple(fn, "padding", padding, ndim)
        pairs = tuple((p, p) for p in sym)
    if any(v < 0 for p in pairs for v in p):
        raise ValueError(f"{fn}: padding={fmt(padding)} must be non-negative "
                         "(negative padding is not supported)")
    return pairs


_FLOATS = (np.float32, np.float64)


def as_array(fn: str, name: str, value: object) -> np.ndarray:
    """Convert ``value`` to an ndarray of a supported dtype (bool, int, float)."""
    arr = value if type(value) is np.ndarray else np.asarray(value)
    if arr.dtype.kind in "biuf":                # bool, integers, floats: every call's case
        return arr
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{fn}: {name} has dtype {arr.dtype}; expected a real numeric array")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{fn}: {name} has complex dtype {arr.dtype}; only real dtypes are "
                        "supported")
    return arr


def result_dtype(fn: str, *arrays: tuple[str, np.ndarray | None]) -> np.dtype:
    """The dtype tconv computes in: the common float dtype, float64 for integer data.

    float16 computes in float32. Mixing float32 and float64 raises, as PyTorch does
    ("Input type and weight type should be the same").
    """
    a0, a1 = (arrays[0][1], arrays[1][1]) if len(arrays) >= 2 else (None, None)
    if (a0 is not None and a1 is not None and a0.dtype is a1.dtype and a0.dtype in (_F32, _F64)
            and all(a is None or a.dtype is a0.dtype for _, a in arrays[2:])):
        return a0.dtype                        # every call's case: one float32/64 dtype
    floats = {}
    for name, a in arrays:
        if a is not None and a.dtype.kind == "f":
            floats[name] = _F32 if a.dtype.itemsize <= 4 else _F64
    kinds = set(floats.values())
    if len(kinds) > 1:
        desc = ", ".join(f"{n}: {d.name}" for n, d in floats.items())
        raise TypeError(f"{fn}: float arrays must share one dtype, got {desc}; cast them first")
    return kinds.pop() if kinds else _F64


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


@dataclass(frozen=True)
class ConvParams:
    """Normalised geometry of a (transposed) convolution, one entry per spatial dim.

    ``pad`` holds ``(low, high)`` pairs. For a transposed convolution they are the amounts
    cropped from the full one-to-many output, before ``output_padding`` extends the high
    side; a negative value (``padding="same"`` with a dilated kernel shorter than the
    stride, or a negative entry of explicit pairs) means zeros are added instead.
    """

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int
    output_padding: tuple[int, ...] = ()

    def __hash__(self) -> int:
        # the key of every per-layer cache, hashed on each lookup: computed once
        h: int | None = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.kernel, self.stride, self.pad, self.dilation, self.groups,
                      self.output_padding))
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def ndim(self) -> int:
        return len(self.kernel)

    @property
    def pad_lo(self) -> tuple[int, ...]:
        return tuple(p[0] for p in self.pad)

    @property
    def pad_hi(self) -> tuple[int, ...]:
        return tuple(p[1] for p in self.pad)

    @property
    def crop(self) -> tuple[tuple[int, int], ...]:
        """``(low, high - output_padding)`` per dim (the home of this formula): what a
        transposed convolution removes from its full output, and the padding of the
        convolution it transposes (its adjoint, which reads ``grad_out`` padded so)."""
        op = self.output_padding or (0,) * self.ndim
        return tuple((lo, hi - o) for (lo, hi), o in zip(self.pad, op))

    def conv_size(self, size: Sequence[int]) -> tuple[int, ...]:
        """The spatial output size of the convolution of an input of ``size`` (the home of
        this formula): ``floor((i + lo + hi - d*(k - 1) - 1) / s) + 1`` per dim."""
        return tuple((i + lo + hi - d * (k - 1) - 1) // s + 1 for i, s, (lo, hi), d, k
                     in zip(size, self.stride, self.pad, self.dilation, self.kernel))

    def transposed_size(self, size: Sequence[int]) -> tuple[int, ...]:
        """The spatial output size of the transposed convolution of an input of ``size`` (the
        home of this formula): ``(i - 1)*s - lo - hi + d*(k - 1) + output_padding + 1`` per
        dim; a negative ``lo``/``hi`` appends zeros."""
        op = self.output_padding or (0,) * self.ndim
        return tuple((i - 1) * s - lo - hi + d * (k - 1) + o + 1 for i, s, (lo, hi), d, k, o
                     in zip(size, self.stride, self.pad, self.dilation, self.kernel, op))

    def output_padding_for(self, fn: str, size: Sequence[int], want: Sequence[int],
                           ) -> tuple[int, ...]:
        """The ``output_padding`` that makes the transposed convolution of an input of
        ``size`` produce the spatial size ``want`` (the home of this solve, as PyTorch's
        ``ConvTranspose*.forward(x, output_size)``): ``want - m`` with ``m`` the size at
        ``output_padding=0``; reachable sizes are ``[m, m + stride - 1]`` and positive."""
        base = ConvParams(self.kernel, self.stride, self.pad, self.dilation,
                          self.groups).transposed_size(size)
        top = tuple(b + s - 1 for b, s in zip(base, self.stride))
        if any(not b <= w <= t for w, b, t in zip(want, base, top)) or min(want) < 1:
            raise ValueError(f"{fn}: requested an output size of {tuple(want)}, but valid sizes "
                             f"range from {base} to {top} (for an input of {tuple(size)})")
        return tuple(w - b for w, b in zip(want, base))


def check_groups(fn: str, groups: object) -> int:
    if not _is_int(groups):
        raise TypeError(f"{fn}: groups={fmt(groups)} must be an int")
    if int(groups) < 1:  # type: ignore[call-overload]
        raise ValueError(f"{fn}: groups={groups} must be a positive integer")
    _int64(fn, "groups", groups, (int(groups),))  # type: ignore[call-overload]
    return int(groups)  # type: ignore[call-overload]


def split_batch(fn: str, x: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``(x_batched, was_batched)`` after checking ranks against the weight."""
    if weight.ndim not in (3, 4, 5):
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} must have 3, 4 or 5 dims "
                         "(channels, channels, *kernel) for 1, 2 or 3 spatial dims")
    nd = weight.ndim - 2
    if x.ndim == weight.ndim:
        batched = True
    elif x.ndim == weight.ndim - 1:
        batched = False
        x = x[None]
    else:
        raise ValueError(f"{fn}: input of shape {tuple(x.shape)} must have {nd + 1} (unbatched) "
                         f"or {nd + 2} (batched) dims for a {nd}-D weight of shape "
                         f"{tuple(weight.shape)}")
    if 0 in x.shape[1:]:
        raise ValueError(f"{fn}: input of shape {tuple(x.shape)} must have non-zero size in "
                         "every non-batch dim")
    if 0 in weight.shape:
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} must have non-zero size "
                         "in every dim")
    return x, batched


def conv_params(fn: str, *, x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                bias_shape: tuple[int, ...] | None, stride: object, padding: object,
                dilation: object, groups: object, transposed: bool,
                output_padding: object = 0, check_empty: bool = True,
                check_size: bool = True) -> ConvParams:
    """Validate a (transposed) convolution's arguments against batched input/weight shapes.

    Mirrors every rule of ``torch.nn.functional.conv{1,2,3}d`` / ``conv_transpose{1,2,3}d``
    with messages naming the argument, the value and the rule. With ``check_size`` the
    arrays the arguments imply (output, uncropped transposed output, padded input) must
    hold at most :data:`MAX_ELEMENTS` numbers.
    """
    nd = len(weight_shape) - 2
    kernel = tuple(int(k) for k in weight_shape[2:])
    g = check_groups(fn, groups)
    s = as_int_tuple(fn, "stride", stride, nd, minimum=1)
    d = as_int_tuple(fn, "dilation", dilation, nd, minimum=1)
    c_in = x_shape[1]
    if transposed:
        if weight_shape[0] != c_in:
            raise ValueError(
                f"{fn}: weight of shape {weight_shape} expects input with {weight_shape[0]} "
                f"channels (transposed-conv weight layout is (C_in, C_out/groups, *K)), but "
                f"input of shape {x_shape} has {c_in}")
        if c_in % g:
            raise ValueError(f"{fn}: groups={g} must divide the input channels C_in={c_in}")
        c_out = weight_shape[1] * g
    else:
        if weight_shape[0] % g:
            raise ValueError(f"{fn}: groups={g} must divide the output channels "
                             f"C_out=weight.shape[0]={weight_shape[0]}")
        if c_in != weight_shape[1] * g:
            raise ValueError(
                f"{fn}: input of shape {x_shape} has C_in={c_in} channels, but weight of shape "
                f"{weight_shape} with groups={g} expects weight.shape[1]*groups="
                f"{weight_shape[1] * g} (conv weight layout is (C_out, C_in/groups, *K))")
        c_out = weight_shape[0]
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise ValueError(f"{fn}: bias of shape {tuple(bias_shape)} must have shape ({c_out},), "
                         "one value per output channel")
    spatial = x_shape[2:]
    pad = as_padding_pairs(fn, padding, nd, strings=("valid", "same", "same_lower"),
                           negative_pairs=transposed)
    if transposed:
        op = check_output_padding(fn, output_padding, s, d)
        pad = transposed_padding(fn, pad, op, kernel, s, d)
        params = ConvParams(kernel, s, pad, d, g, op)
        out = params.transposed_size(spatial)
        if check_size:
            args = {"stride": stride, "padding": padding, "output_padding": output_padding,
                    "dilation": dilation}
            full = ConvParams(kernel, s, tuple((0, 0) for _ in s), d, g).transposed_size(spatial)
            check_elements(fn, "an uncropped output", (x_shape[0], c_out, *full), args)
            check_elements(fn, "an output", (x_shape[0], c_out, *out), args)
        if check_empty and any(o < 1 for o in out):
            raise ValueError(
                f"{fn}: output size {out} is empty for input spatial size {tuple(spatial)}, "
                f"kernel {kernel}, stride {s}, padding {tuple(pad)}, dilation {d}, "
                f"output_padding {op}: the padding removes more than the full output "
                "(input-1)*stride + dilation*(kernel-1) + 1")
        return params
    if isinstance(pad, str):
        pad = conv_string_padding(pad, spatial, kernel, s, d)
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(spatial, pad))
    reach = tuple(di * (k - 1) + 1 for k, di in zip(kernel, d))
    if any(p < r for p, r in zip(padded, reach)):
        raise ValueError(
            f"{fn}: padded input size {padded} is smaller than the dilated kernel size "
            f"dilation*(kernel-1)+1={reach} in some spatial dim: the output would be empty")
    if check_size:
        args = {"padding": padding, "stride": stride, "dilation": dilation}
        check_elements(fn, "a padded input", (x_shape[0], c_in, *padded), args)
        out = tuple((pz - r) // st + 1 for pz, r, st in zip(padded, reach, s))
        check_elements(fn, "an output", (x_shape[0], c_out, *out), args)
    # a stride past the padded input (one output position) or the dilation of a one-tap
    # kernel changes nothing: capped at the padded size, no index arithmetic can overflow
    s = tuple(min(st, pz + 1) for st, pz in zip(s, padded))
    d = tuple(min(di, pz + 1) if k == 1 else di for k, di, pz in zip(kernel, d, padded))
    return ConvParams(kernel, s, pad, d, g)


def conv_string_padding(mode: str, size: Sequence[int], kernel: Sequence[int],
                        stride: Sequence[int], dilation: Sequence[int],
                        ) -> tuple[tuple[int, int], ...]:
    """``(low, high)`` padding pairs of a convolution's "valid" / "same" / "same_lower" for an
    input of spatial ``size`` (the home of this rule).

    "same" is ONNX ``auto_pad=SAME_UPPER`` and TensorFlow/Keras/JAX ``"SAME"``: the output
    has ``ceil(size / stride)`` positions, the total padding is
    ``max((out - 1)*stride + dilation*(kernel - 1) + 1 - size, 0)`` and its odd extra goes on
    the high side (at stride 1 this is PyTorch's ``padding="same"``). "same_lower" (ONNX
    ``SAME_LOWER``) puts the odd extra on the low side.
    """
    if mode == "valid":
        return tuple((0, 0) for _ in kernel)
    outs = tuple(-(-i // st) for i, st in zip(size, stride))
    # the input span that ``outs`` windows cover is a transposed size with no padding
    unpadded = ConvParams(tuple(kernel), tuple(stride), tuple((0, 0) for _ in kernel),
                          tuple(dilation), 1)
    pairs = []
    for i, span in zip(size, unpadded.transposed_size(outs)):
        total = max(span - i, 0)
        small = total // 2
        pairs.append((small, total - small) if mode == "same" else (total - small, small))
    return tuple(pairs)


def effective_transposed(p: ConvParams, size: Sequence[int]) -> ConvParams:
    """``p`` with the values that cannot change a transposed convolution of an input of
    ``size`` capped: the stride of a one-position input dim and the dilation of a one-tap
    kernel dim, at ``max(output, output_padding) + 1`` (so still above ``output_padding``)
    and never below 64 (so that usual layers keep their values). The output is the same;
    with the size limits, no value is then larger than the output it plans, and no
    allocation sized by a stride (``prod(stride)`` phase buffers) outgrows the output."""
    op = p.output_padding or (0,) * p.ndim
    cap = tuple(max(o + 1, q + 1, 64) for o, q in zip(p.transposed_size(size), op))
    s = tuple(min(st, c) if i == 1 else st for st, i, c in zip(p.stride, size, cap))
    d = tuple(min(di, c) if k == 1 else di for di, k, c in zip(p.dilation, p.kernel, cap))
    return replace(p, stride=s, dilation=d) if (s, d) != (p.stride, p.dilation) else p


def check_output_padding(fn: str, output_padding: object, stride: tuple[int, ...],
                         dilation: tuple[int, ...]) -> tuple[int, ...]:
    """``output_padding`` as one int per dim, checked against PyTorch's rule (the home of
    this rule): ``0 <= output_padding < max(stride, dilation)`` in every spatial dim."""
    op = as_int_tuple(fn, "output_padding", output_padding, len(stride), minimum=0)
    limit = tuple(max(a, b) for a, b in zip(stride, dilation))
    if any(o >= lim for o, lim in zip(op, limit)):
        raise ValueError(f"{fn}: output_padding={op} must be smaller than max(stride, dilation)="
                         f"{limit} in every spatial dim")
    return op


def transposed_padding(fn: str, pad: tuple[tuple[int, int], ...] | str,
                       output_padding: tuple[int, ...], kernel: tuple[int, ...],
                       stride: tuple[int, ...], dilation: tuple[int, ...],
                       ) -> tuple[tuple[int, int], ...]:
    """A transposed convolution's ``(low, high)`` crop pairs from normalised ``padding``
    (pairs pass through; ``"valid"`` / ``"same"`` / ``"same_lower"`` are resolved, and fix
    the size themselves, so they refuse a non-zero ``output_padding``)."""
    if not isinstance(pad, str):
        return pad
    if any(output_padding):
        raise ValueError(f"{fn}: output_padding={output_padding} cannot be combined with "
                         f"padding={pad!r}, which fixes the output size itself")
    return _transposed_string_padding(pad, kernel, stride, dilation)


def _transposed_string_padding(mode: str, kernel: tuple[int, ...], stride: tuple[int, ...],
                               dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Crop pairs of "valid" / "same" / "same_lower" for a transposed convolution.

    "same" gives output = input * stride (ONNX ``auto_pad=SAME_UPPER``, Keras
    ``padding="same"``): the crop total ``dilation*(kernel-1) + 1 - stride`` is split with the
    larger half on the high side. "same_lower" puts the larger half on the low side. With
    a dilated kernel shorter than the stride the total is negative and all the missing zeros
    are appended at the high end for "same" (as TF/Keras/JAX), at the low end for
    "same_lower".
    """
    if mode == "valid":
        return tuple((0, 0) for _ in kernel)
    pairs = []
    for k, st, di in zip(kernel, stride, dilation):
        total = di * (k - 1) + 1 - st
        small = max(total, 0) // 2  # a negative total appends zeros at one end, as TF/JAX
        pairs.append((small, total - small) if mode == "same" else (total - small, small))
    return tuple(pairs)
