"""Transposed-convolution configurations across PyTorch, Keras, ONNX and JAX.

Every framework describes the same operation: paint the kernel ``stride`` apart into the
*full* output of size ``(in - 1)*s + dk`` (``dk = d*(k - 1) + 1``), then remove ``low`` rows
at the start and ``high`` rows at the end. A negative amount appends zeros instead. That
per-dim ``crop = (low, high)`` is the canonical form of :class:`TransposedConvSpec`::

    out = (in - 1)*s + dk - low - high

and each convention is a different way of writing it (per spatial dim):

=========================  ====================================================
PyTorch                    ``(padding, padding - output_padding)``
tconv                      ``(lo, hi - output_padding)`` for ``padding=((lo, hi),)``
ONNX ``pads``              ``(pads[i], pads[i + n] - output_padding)``
ONNX ``output_shape``      ``total = s*(in-1) + output_padding + dk - output_shape``
                           split ``(total - total//2, total//2)``; SAME_UPPER:
                           ``(total//2, total - total//2)``; a negative total:
                           ``(0, total)`` (zeros at the end, as ONNX's conformance data
                           and onnxruntime); then ``high -= output_padding``
ONNX SAME_UPPER/LOWER      as ``output_shape = in*s``
JAX ``(a, b)`` pairs       ``(dk - 1 - a, dk - 1 - b)`` (padding of the zero-inserted
                           input); with ``use_consistent_padding=True``: ``(a, b)``
JAX / Keras ``"valid"``    ``(0, min(dk - s, 0))``, i.e. ``out = (in-1)*s + max(dk, s)``
JAX / Keras ``"same"``     ``(max(dk - s, 0)//2, dk - s - max(dk - s, 0)//2)``,
                           i.e. ``out = in*s``
Keras ``output_padding``   ``"valid"``: ``(0, -op)``; ``"same"``: JAX pads
                           ``pad_len = dk + dk%2 - 2 + op``,
                           ``a = min(ceil(pad_len/2), dk-1)``, ``b = pad_len - a``,
                           crop ``(dk - 1 - a, dk - 1 - b)``
=========================  ====================================================

``output_padding`` is therefore nothing but a negative ``high`` crop. Where conventions
part ways:

- Keras/JAX ``"same"`` with ``dk - s`` odd crops ``(m, m + 1)``; PyTorch can only crop
  ``(p, p - op)``, so it gives the same size one pixel shifted (``to_torch`` raises).
- tconv's ``padding="same"`` equals Keras/JAX ``"same"`` for every kernel and stride; with
  ``dk < s`` the missing zeros are appended at the high end, as Keras, TF and JAX do (ONNX's
  C-style truncating ``total/2`` would split them when ``dk - s <= -2``).
- ONNX with a negative total padding: an ``output_shape`` above the full size gets its
  extra outputs (zeros) at the end whatever ``auto_pad`` says -- ONNX's conformance case
  ``test_convtranspose_output_shape`` and onnxruntime agree -- up to ``stride - 1`` of them
  beyond the full size (onnxruntime rejects more; so does ``from_onnx``). SAME with
  ``dk < s`` and no ``output_shape`` is ambiguous (onnxruntime 1.32 returns the full size);
  ``from_onnx`` raises there.
- The ``onnx`` package's reference evaluator rejects ``output_shape`` with
  ``auto_pad=NOTSET``, which the spec text and onnxruntime accept.

Sources: the ONNX ConvTranspose spec (``docs/Operators.md``), Keras 3
``keras/src/backend/common/backend_utils.py`` (``_convert_conv_transpose_padding_args_
from_keras_to_jax``, ``compute_conv_transpose_output_shape``), JAX
``jax/_src/lax/convolution.py`` (``_conv_transpose_padding``, ``conv_transpose``). Tests
check onnxruntime, the ``onnx`` reference evaluator, PyTorch, and a NumPy re-implementation
of ``lax.conv_transpose``; Keras and JAX themselves are not installed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _checks
from ._checks import ConvParams
from ._typing import Array, ArrayLike, IntOrTuple
from .shapes import output_padding_for

__all__ = ["FRAMEWORKS", "RISKS", "Solution", "TransposedConvSpec", "convert", "solve"]

#: the names :func:`convert` accepts
FRAMEWORKS = ("torch", "tconv", "keras", "onnx", "jax")

_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _ndim(ndim: int | None, *values: object) -> int:
    if ndim is not None:
        nd = int(ndim)
    else:
        lengths = [len(v) for v in values if isinstance(v, (tuple, list))]
        nd = max(lengths) if lengths else 2
    if not 1 <= nd <= 3:
        raise ValueError(f"TransposedConvSpec: ndim={nd} must be 1, 2 or 3")
    return nd


def _ints(fn: str, name: str, value: object, nd: int, minimum: int | None) -> tuple[int, ...]:
    return _checks.as_int_tuple(fn, name, value, nd, minimum=minimum)


def _keras_crop(k: int, s: int, d: int, padding: str, op: int | None) -> tuple[int, int]:
    """Keras 3's crop of one dim (via its JAX padding, backend_utils.py)."""
    dk = d * (k - 1) + 1
    if padding == "valid":
        op = max(dk, s) - dk if op is None else op
        left, right = dk - 1, dk - 1 + op
    else:
        pad_len = s + dk - 2 if op is None else dk + dk % 2 - 2 + op
        left = min(pad_len // 2 + pad_len % 2, dk - 1)
        right = pad_len - left
    return dk - 1 - left, dk - 1 - right


def _jax_string_crop(k: int, s: int, d: int, padding: str) -> tuple[int, int]:
    """JAX ``_conv_transpose_padding`` for 'SAME' / 'VALID', as a crop."""
    dk = d * (k - 1) + 1
    if padding == "SAME":
        pad_len = dk + s - 2
        a = dk - 1 if s > dk - 1 else -(-pad_len // 2)
    else:
        pad_len = dk + s - 2 + max(dk - s, 0)
        a = dk - 1
    return dk - 1 - a, dk - 1 - (pad_len - a)


@dataclass(frozen=True)
class TransposedConvSpec:
    """A transposed convolution's geometry in one canonical form: kernel, stride, dilation, crop.

    The full one-to-many output ``(in - 1)*stride + dilation*(kernel - 1) + 1`` is computed,
    then ``crop[i] = (low, high)`` rows are removed from the start and end of dim ``i``
    (negative: that many zeros appended -- this is what ``output_padding`` does). Build one
    with ``from_torch`` / ``from_tconv`` / ``from_keras`` / ``from_onnx`` / ``from_jax`` and
    write it back with the ``to_*`` methods; :meth:`apply` runs it on arrays.

    Args:
        kernel_size: kernel size per spatial dim.
        stride: stride per spatial dim.
        dilation: dilation per spatial dim.
        crop: ``(low, high)`` per spatial dim.

    Shape:
        ``out = (in - 1)*stride + dilation*(kernel - 1) + 1 - low - high``.

    Convention:
        The weight is PyTorch's ``(C_in, C_out/groups, *K)`` without a flip, the same as
        ONNX's and as the kernel given to JAX ``conv_transpose(..., transpose_kernel=True,
        dimension_numbers=('NC..', 'OI..', 'NC..'))``; Keras stores ``(*K, C_out, C_in)``
        (``np.moveaxis(w, (0, 1), (-1, -2))``), also unflipped.

    Examples:
        >>> spec = TransposedConvSpec.from_torch(3, 2, padding=1, output_padding=1, ndim=1)
        >>> spec.crop, spec.output_size(4)
        (((1, 0),), (8,))
        >>> spec.to_onnx()
        {'kernel_shape': [3], 'strides': [2], 'dilations': [1], 'pads': [1, 0],
         'output_padding': [0]}
        >>> TransposedConvSpec.from_keras(3, 2, "same", ndim=1).crop   # same size, shifted
        ((0, 1),)
        >>> TransposedConvSpec.from_torch(4, 2, 1, ndim=1).to_keras()
        {'kernel_size': (4,), 'strides': (2,), 'padding': 'same', 'output_padding': None,
         'dilation_rate': (1,)}
    """

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    crop: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        fn = "TransposedConvSpec"
        nd = len(self.kernel_size)
        if not 1 <= nd <= 3:
            raise ValueError(f"{fn}: kernel_size={self.kernel_size} must have 1, 2 or 3 dims")
        _ints(fn, "kernel_size", self.kernel_size, nd, 1)
        if len(self.stride) != nd or len(self.dilation) != nd or len(self.crop) != nd:
            raise ValueError(f"{fn}: stride={self.stride}, dilation={self.dilation} and "
                             f"crop={self.crop} must each have {nd} entries, one per dim of "
                             f"kernel_size={self.kernel_size}")
        _ints(fn, "stride", self.stride, nd, 1)
        _ints(fn, "dilation", self.dilation, nd, 1)
        for pair in self.crop:
            _ints(fn, "crop", pair, 2, None)

    # ------------------------------------------------------------------ derived values
    @property
    def ndim(self) -> int:
        """Number of spatial dims."""
        return len(self.kernel_size)

    @property
    def dilated_kernel(self) -> tuple[int, ...]:
        """``dilation*(kernel - 1) + 1`` per dim: the footprint of one input."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))

    @property
    def uneven(self) -> bool:
        """Whether the kernel footprints overlap unevenly (see :mod:`tconv.checkerboard`)."""
        from .checkerboard import is_uneven

        return is_uneven(self.kernel_size, self.stride, self.dilation)

    def output_size(self, input_size: IntOrTuple) -> tuple[int, ...]:
        """Spatial output size for ``input_size``; raises ``ValueError`` when empty."""
        fn = "TransposedConvSpec.output_size"
        size = _ints(fn, "input_size", input_size, self.ndim, 1)
        out = self._params().transposed_size(size)
        if any(o < 1 for o in out):
            raise ValueError(f"{fn}: input_size={size} gives an empty output {out}: crop="
                             f"{self.crop} removes the whole full output "
                             "(in-1)*stride + dilation*(kernel-1) + 1")
        return out

    def _params(self) -> ConvParams:
        """The crop as the padding of :class:`tconv._checks.ConvParams` (the home of the
        output-size formula)."""
        return ConvParams(self.kernel_size, self.stride, self.crop, self.dilation, 1)

    # ------------------------------------------------------------------ readers
    @classmethod
    def from_torch(cls, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                   padding: IntOrTuple = 0, output_padding: IntOrTuple = 0,
                   dilation: IntOrTuple = 1, *, output_size: IntOrTuple | None = None,
                   input_size: IntOrTuple | None = None, ndim: int | None = None,
                   ) -> TransposedConvSpec:
        """From ``torch.nn.ConvTranspose{1,2,3}d`` arguments (PyTorch argument order).

        ``output_size`` (with ``input_size``) replaces ``output_padding`` as in the module's
        ``forward(x, output_size)``.

        Examples:
            >>> TransposedConvSpec.from_torch(4, 2, 1).crop                 # DCGAN doubling
            ((1, 1), (1, 1))
            >>> TransposedConvSpec.from_torch(3, 2, 1, output_size=8, input_size=4,
            ...                               ndim=1).crop
            ((1, 0),)
        """
        fn = "TransposedConvSpec.from_torch"
        nd = _ndim(ndim, kernel_size, stride, padding, output_padding, dilation)
        k = _ints(fn, "kernel_size", kernel_size, nd, 1)
        s = _ints(fn, "stride", stride, nd, 1)
        d = _ints(fn, "dilation", dilation, nd, 1)
        p = _ints(fn, "padding", padding, nd, 0)
        if output_size is not None:
            if input_size is None:
                raise ValueError(f"{fn}: output_size={output_size} needs input_size to solve "
                                 "output_padding")
            if any(_ints(fn, "output_padding", output_padding, nd, 0)):
                raise ValueError(f"{fn}: give output_padding={output_padding} or output_size="
                                 f"{output_size}, not both")
            size = _ints(fn, "input_size", input_size, nd, 1)
            output_padding = output_padding_for(size, output_size, k, s, p, d)
        op = _checks.check_output_padding(fn, output_padding, s, d)
        return cls(k, s, d, tuple((pp, pp - o) for pp, o in zip(p, op)))

    @classmethod
    def from_tconv(cls, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                   padding: Any = 0, output_padding: IntOrTuple = 0,
                   dilation: IntOrTuple = 1, *, ndim: int | None = None,
                   ) -> TransposedConvSpec:
        """From :func:`tconv.conv_transpose` arguments: ints, ``(low, high)`` pairs, or
        ``"valid"`` / ``"same"`` / ``"same_lower"``.

        Examples:
            >>> TransposedConvSpec.from_tconv(3, 2, "same", ndim=1).crop
            ((0, 1),)
            >>> TransposedConvSpec.from_tconv(5, 2, ((2, 1),), 1).crop
            ((2, 0),)
        """
        fn = "TransposedConvSpec.from_tconv"
        pad_dims = padding if isinstance(padding, (tuple, list)) else None
        nd = _ndim(ndim, kernel_size, stride, pad_dims, output_padding, dilation)
        k = _ints(fn, "kernel_size", kernel_size, nd, 1)
        s = _ints(fn, "stride", stride, nd, 1)
        d = _ints(fn, "dilation", dilation, nd, 1)
        op = _checks.check_output_padding(fn, output_padding, s, d)
        pairs = _checks.transposed_padding(
            fn, _checks.as_padding_pairs(fn, padding, nd, strings=("valid", "same", "same_lower"),
                                         negative_pairs=True),
            op, k, s, d)
        return cls(k, s, d, ConvParams(k, s, pairs, d, 1, op).crop)

    @classmethod
    def from_keras(cls, kernel_size: IntOrTuple, strides: IntOrTuple = 1,
                   padding: str = "valid", output_padding: IntOrTuple | None = None,
                   dilation_rate: IntOrTuple = 1, *, ndim: int | None = None,
                   ) -> TransposedConvSpec:
        """From ``keras.layers.Conv{1,2,3}DTranspose`` arguments (Keras 3 semantics).

        ``output_padding=None`` infers the size: ``in*s`` for ``"same"``,
        ``(in-1)*s + max(dk, s)`` for ``"valid"``. An explicit ``output_padding`` gives
        ``(in-1)*s + dk - 2*(dk//2) + op`` (``"same"``) or ``(in-1)*s + dk + op``.

        Raises:
            ValueError: for ``strides > 1`` together with ``dilation_rate > 1`` or
                ``output_padding >= strides``, which Keras rejects.

        Examples:
            >>> TransposedConvSpec.from_keras(3, 2, "same", ndim=1).output_size(5)
            (10,)
            >>> TransposedConvSpec.from_keras(3, 2, "same", 0, ndim=1).output_size(5)
            (9,)
        """
        fn = "TransposedConvSpec.from_keras"
        nd = _ndim(ndim, kernel_size, strides, output_padding, dilation_rate)
        k = _ints(fn, "kernel_size", kernel_size, nd, 1)
        s = _ints(fn, "strides", strides, nd, 1)
        d = _ints(fn, "dilation_rate", dilation_rate, nd, 1)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{fn}: padding={padding!r} must be 'valid' or 'same'")
        if any(x > 1 for x in s) and any(x > 1 for x in d):
            raise ValueError(f"{fn}: strides={s} with dilation_rate={d}: Keras does not "
                             "support strides > 1 together with dilation_rate > 1")
        ops: tuple[int | None, ...]
        if output_padding is None:
            ops = (None,) * nd
        else:
            ops = _ints(fn, "output_padding", output_padding, nd, 0)
            if any(o >= st for o, st in zip(ops, s) if o is not None):
                raise ValueError(f"{fn}: output_padding={ops} must be smaller than strides="
                                 f"{s} in every spatial dim")
        crop = tuple(_keras_crop(kk, st, dd, padding.lower(), o)
                     for kk, st, dd, o in zip(k, s, d, ops))
        return cls(k, s, d, crop)

    @classmethod
    def from_onnx(cls, kernel_shape: Sequence[int], strides: Sequence[int] | None = None,
                  pads: Sequence[int] | None = None, output_padding: Sequence[int] | None = None,
                  dilations: Sequence[int] | None = None, auto_pad: str = "NOTSET",
                  output_shape: Sequence[int] | None = None, *,
                  input_size: IntOrTuple | None = None) -> TransposedConvSpec:
        """From ONNX ``ConvTranspose`` attributes (``pads`` = all begins, then all ends).

        ``output_shape`` (spatial dims only; a leading N, C is dropped) needs ``input_size``.
        ``output_padding`` must be smaller than the stride (the strict reading of the spec's
        "stride/dilation", which onnxruntime enforces).

        An ``output_shape`` larger than the full output ``(in - 1)*s + dk`` (a negative
        total padding) appends its extra outputs at the end, as ONNX's conformance data
        (``test_convtranspose_output_shape``) and onnxruntime do.

        Raises:
            ValueError: for ``pads`` with ``auto_pad`` other than NOTSET, an ``output_shape``
                ``stride`` or more beyond the full output (onnxruntime rejects it), or SAME
                with ``dilation*(kernel - 1) + 1 < stride``, where the spec's split of a
                negative total is ambiguous.

        Examples:
            >>> TransposedConvSpec.from_onnx([3], [2], auto_pad="SAME_UPPER").crop
            ((0, 1),)
            >>> TransposedConvSpec.from_onnx([3], [2], output_shape=[10], input_size=5).crop
            ((1, 0),)
            >>> TransposedConvSpec.from_onnx([3], [3], output_shape=[10], input_size=3).crop
            ((0, -1),)
        """
        fn = "TransposedConvSpec.from_onnx"
        nd = len(kernel_shape)
        k = _ints(fn, "kernel_shape", tuple(kernel_shape), nd, 1)
        s = _ints(fn, "strides", tuple(strides) if strides is not None else 1, nd, 1)
        d = _ints(fn, "dilations", tuple(dilations) if dilations is not None else 1, nd, 1)
        op = _ints(fn, "output_padding",
                   tuple(output_padding) if output_padding is not None else 0, nd, 0)
        if any(o >= st for o, st in zip(op, s)):
            raise ValueError(f"{fn}: output_padding={list(op)} must be smaller than strides="
                             f"{list(s)} in every spatial dim")
        mode = str(auto_pad).upper()
        if mode not in _AUTO_PADS:
            raise ValueError(f"{fn}: auto_pad={auto_pad!r} must be one of {_AUTO_PADS}")
        if pads is not None and mode != "NOTSET":
            raise ValueError(f"{fn}: pads={list(pads)} cannot be combined with auto_pad="
                             f"{mode!r}")
        dk = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))
        if mode == "VALID":
            return cls(k, s, d, tuple((0, -o) for o in op))
        if output_shape is None and mode == "NOTSET":
            if pads is not None and len(pads) != 2 * nd:
                raise ValueError(f"{fn}: pads={list(pads)} must have 2*{nd}={2 * nd} entries: "
                                 "all begins, then all ends")
            p = _ints(fn, "pads", tuple(pads) if pads is not None else 0, 2 * nd, 0)
            return cls(k, s, d, tuple((p[i], p[nd + i] - op[i]) for i in range(nd)))
        if output_shape is not None:
            if input_size is None:
                raise ValueError(f"{fn}: output_shape={list(output_shape)} needs input_size "
                                 "to derive the pads")
            want = tuple(output_shape)[-nd:]
            want = _ints(fn, "output_shape", want, nd, 1)
        else:
            want = None
        size = _ints(fn, "input_size", input_size if input_size is not None else 1, nd, 1)
        full = ConvParams(k, s, ((0, 0),) * nd, d, 1).transposed_size(size)
        crop = []
        for i in range(nd):
            if want is None:    # SAME_*: output_shape = in*s, so total = dk - s + op
                total = dk[i] - s[i] + op[i]
                if total < 0:
                    raise ValueError(
                        f"{fn}: with auto_pad={mode!r} the total padding {total} is negative in "
                        f"dim {i} (kernel_shape={list(k)}, strides={list(s)}, dilations="
                        f"{list(d)}): the spec's split of a negative total is ambiguous and "
                        "onnxruntime returns the full size instead of in*stride")
            else:
                total = full[i] + op[i] - want[i]
                if want[i] - full[i] >= s[i]:
                    raise ValueError(
                        f"{fn}: output_shape={list(want)} is {want[i] - full[i]} beyond the "
                        f"full output {list(full)} in dim {i}; at most strides - 1 = "
                        f"{s[i] - 1} extra outputs can be appended (onnxruntime's rule: the "
                        "input size implied by the output_shape must be the given one)")
                if total < 0:   # the extra outputs go at the end (ONNX's conformance data)
                    crop.append((0, total - op[i]))
                    continue
            if mode == "SAME_UPPER":
                start, end = total // 2, total - total // 2
            else:
                start, end = total - total // 2, total // 2
            crop.append((start, end - op[i]))
        return cls(k, s, d, tuple(crop))

    @classmethod
    def from_jax(cls, kernel_size: IntOrTuple, strides: IntOrTuple, padding: Any,
                 rhs_dilation: IntOrTuple | None = None, use_consistent_padding: bool = False,
                 *, ndim: int | None = None, dimension_numbers: object = None,
                 transpose_kernel: bool = True) -> TransposedConvSpec:
        """From ``jax.lax.conv_transpose`` arguments.

        ``padding`` is ``"SAME"``, ``"VALID"`` or ``(low, high)`` pairs of the zero-inserted
        input (``use_consistent_padding=False``) or of the forward conv, PyTorch-style
        (``True``). ``transpose_kernel`` and ``dimension_numbers`` do not change the
        geometry and are accepted so that :meth:`to_jax` output reads back; see the class
        docstring for the weight.

        Examples:
            >>> TransposedConvSpec.from_jax(3, 2, "SAME", ndim=1).crop
            ((0, 1),)
            >>> TransposedConvSpec.from_jax(3, 2, ((1, 2),)).crop     # pads (1, 2) of 2x(in-1)+1
            ((1, 0),)
        """
        fn = "TransposedConvSpec.from_jax"
        pad_dims = padding if isinstance(padding, (tuple, list)) else None
        nd = _ndim(ndim, kernel_size, strides, pad_dims, rhs_dilation)
        k = _ints(fn, "kernel_size", kernel_size, nd, 1)
        s = _ints(fn, "strides", strides, nd, 1)
        d = _ints(fn, "rhs_dilation", 1 if rhs_dilation is None else rhs_dilation, nd, 1)
        if isinstance(padding, str):
            if padding.upper() not in ("SAME", "VALID"):
                raise ValueError(f"{fn}: padding={padding!r} must be 'SAME', 'VALID' or "
                                 "(low, high) pairs")
            crop = tuple(_jax_string_crop(kk, st, dd, padding.upper())
                         for kk, st, dd in zip(k, s, d))
            return cls(k, s, d, crop)
        if (not isinstance(padding, (tuple, list)) or len(padding) != nd
                or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in padding)):
            raise ValueError(f"{fn}: padding={_checks.fmt(padding)} must be 'SAME', 'VALID' or "
                             f"{nd} (low, high) pairs")
        pairs = tuple((a, b) for a, b in (_ints(fn, "padding", tuple(p), 2, None)
                                          for p in padding))
        if use_consistent_padding:
            return cls(k, s, d, pairs)
        dk = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))
        return cls(k, s, d, tuple((dd - 1 - a, dd - 1 - b) for dd, (a, b) in zip(dk, pairs)))

    # ------------------------------------------------------------------ writers
    def to_torch(self) -> dict[str, tuple[int, ...]]:
        """``torch.nn.ConvTranspose*d`` keyword arguments.

        Raises:
            ValueError: when PyTorch cannot express the crop: it needs ``low >= 0`` and
                ``0 <= low - high < max(stride, dilation)`` (symmetric ``padding`` plus
                ``output_padding`` on the high side).
        """
        pad, op = [], []
        limit = tuple(max(a, b) for a, b in zip(self.stride, self.dilation))
        for i, (lo, hi) in enumerate(self.crop):
            if lo < 0 or not 0 <= lo - hi < limit[i]:
                raise ValueError(
                    f"TransposedConvSpec.to_torch: crop={self.crop} cannot be written in "
                    f"PyTorch: dim {i} needs padding=low={lo} >= 0 and output_padding="
                    f"low-high={lo - hi} in [0, max(stride, dilation)={limit[i]}); PyTorch pads "
                    "symmetrically and only output_padding extends the high side")
            pad.append(lo)
            op.append(lo - hi)
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": tuple(pad),
                "output_padding": tuple(op), "dilation": self.dilation}

    def to_tconv(self) -> dict[str, Any]:
        """:func:`tconv.conv_transpose` keyword arguments (``(low, high)`` padding pairs).

        A negative ``low`` is written as ``padding="same"`` / ``"same_lower"`` when one of
        them gives it; any other negative ``low``, or a negative ``high`` of
        ``max(stride, dilation)`` or more, as the crop pairs themselves (negative entries
        add zeros to the output) with ``output_padding=0``.
        """
        raw = {"stride": self.stride, "padding": self.crop, "output_padding": 0,
               "dilation": self.dilation}
        if any(lo < 0 for lo, _ in self.crop):
            for mode in ("same", "same_lower"):
                if _checks._transposed_string_padding(mode, self.kernel_size, self.stride,
                                                      self.dilation) == self.crop:
                    return {"stride": self.stride, "padding": mode, "output_padding": 0,
                            "dilation": self.dilation}
            return raw
        limit = tuple(max(a, b) for a, b in zip(self.stride, self.dilation))
        op = tuple(max(-hi, 0) for _, hi in self.crop)
        if any(o >= lim for o, lim in zip(op, limit)):
            return raw
        return {"stride": self.stride,
                "padding": tuple((lo, max(hi, 0)) for lo, hi in self.crop),
                "output_padding": op, "dilation": self.dilation}

    def to_keras(self) -> dict[str, Any]:
        """``keras.layers.Conv*DTranspose`` keyword arguments, preferring
        ``output_padding=None`` (Keras' default) when it reproduces the crop.

        Raises:
            ValueError: for strides > 1 with dilation > 1, or a crop that neither
                ``"same"`` nor ``"valid"`` with any ``output_padding < strides`` gives.
        """
        fn = "TransposedConvSpec.to_keras"
        if any(x > 1 for x in self.stride) and any(x > 1 for x in self.dilation):
            raise ValueError(f"{fn}: stride={self.stride} with dilation={self.dilation}: Keras "
                             "does not support strides > 1 together with dilation_rate > 1")
        geo = list(zip(self.kernel_size, self.stride, self.dilation))
        for padding in ("same", "valid"):
            if all(_keras_crop(k, s, d, padding, None) == c for (k, s, d), c
                   in zip(geo, self.crop)):
                return self._keras_dict(padding, None)
        for padding in ("same", "valid"):
            ops = []
            for (k, s, d), c in zip(geo, self.crop):
                hits = [o for o in range(s) if _keras_crop(k, s, d, padding, o) == c]
                if not hits:
                    break
                ops.append(hits[0])
            else:
                return self._keras_dict(padding, tuple(ops))
        reach = [sorted({_keras_crop(k, s, d, p, o) for p in ("same", "valid")
                         for o in (None, *range(s))}) for k, s, d in geo]
        raise ValueError(f"{fn}: crop={self.crop} cannot be written in Keras: padding 'same'/"
                         f"'valid' with output_padding < strides reach only the crops "
                         f"{reach} per dim")

    def _keras_dict(self, padding: str, op: tuple[int, ...] | None) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "strides": self.stride, "padding": padding,
                "output_padding": op, "dilation_rate": self.dilation}

    def to_onnx(self, *, auto_pad: bool = False) -> dict[str, Any]:
        """ONNX ``ConvTranspose`` attributes: explicit ``pads`` (default), or with
        ``auto_pad=True`` one of ``SAME_UPPER``/``SAME_LOWER``/``VALID`` if it gives the crop.

        A negative ``high`` becomes ``output_padding`` (kept below the stride, which
        onnxruntime requires); ``auto_pad`` is never combined with ``output_padding``, whose
        meaning there is disputed (onnx/onnx#4299).

        Raises:
            ValueError: for a negative ``low`` (ONNX pads are non-negative), too negative a
                ``high``, or ``auto_pad=True`` with a crop no auto_pad mode gives.
        """
        fn = "TransposedConvSpec.to_onnx"
        base = {"kernel_shape": list(self.kernel_size), "strides": list(self.stride),
                "dilations": list(self.dilation)}
        if auto_pad:
            for mode in ("SAME_UPPER", "SAME_LOWER", "VALID"):
                try:
                    other = TransposedConvSpec.from_onnx(self.kernel_size, self.stride,
                                                         dilations=self.dilation,
                                                         auto_pad=mode)
                except ValueError:
                    continue
                if other.crop == self.crop:
                    return {**base, "auto_pad": mode}
            raise ValueError(f"{fn}: crop={self.crop} is not what auto_pad SAME_UPPER, "
                             "SAME_LOWER or VALID gives; use explicit pads (auto_pad=False)")
        if any(lo < 0 for lo, _ in self.crop):
            raise ValueError(f"{fn}: crop={self.crop} has a negative low side; ONNX pads must "
                             "be non-negative and output_padding only extends the end")
        op = [max(-hi, 0) for _, hi in self.crop]
        if any(o >= s for o, s in zip(op, self.stride)):
            raise ValueError(f"{fn}: crop={self.crop} appends {op} zeros at the end; ONNX "
                             f"output_padding must stay below strides={list(self.stride)}")
        pads = [lo for lo, _ in self.crop] + [max(hi, 0) for _, hi in self.crop]
        return {**base, "pads": pads, "output_padding": op}

    def to_jax(self, *, use_consistent_padding: bool = False) -> dict[str, Any]:
        """``jax.lax.conv_transpose`` keyword arguments for PyTorch-layout weights.

        Returns explicit ``(low, high)`` pairs, ``transpose_kernel=True`` and NC/OI
        ``dimension_numbers`` so that the PyTorch weight ``(C_in, C_out, *K)`` is passed
        unchanged (JAX flips it and swaps the channel axes).
        """
        letters = "HWD"[: self.ndim]
        if use_consistent_padding:
            pads = self.crop
        else:
            pads = tuple((dk - 1 - lo, dk - 1 - hi)
                         for dk, (lo, hi) in zip(self.dilated_kernel, self.crop))
        return {"strides": self.stride, "padding": pads, "rhs_dilation": self.dilation,
                "dimension_numbers": ("NC" + letters, "OI" + letters, "NC" + letters),
                "transpose_kernel": True, "use_consistent_padding": use_consistent_padding}

    def to(self, framework: str, **options: Any) -> dict[str, Any]:
        """Dispatch to ``to_torch`` / ``to_tconv`` / ``to_keras`` / ``to_onnx`` / ``to_jax``."""
        return getattr(self, "to_" + _framework("TransposedConvSpec.to", framework))(**options)

    # ------------------------------------------------------------------ running it
    def apply(self, x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
              groups: int = 1) -> Array:
        """Run the spec on arrays: full :func:`tconv.conv_transpose`, then crop/zero-pad.

        Args:
            x: ``(N, C_in, *S_in)``.
            weight: ``(C_in, C_out/groups, *K)``.
            bias: optional ``(C_out,)``, added after the crop (appended zeros get it too).
            groups: channel groups.

        Returns:
            ``(N, C_out, *S_out)`` with ``S_out = self.output_size(S_in)``.

        Examples:
            >>> import numpy as np
            >>> spec = TransposedConvSpec(kernel_size=(3,), stride=(2,), dilation=(1,),
            ...                           crop=((1, -1),))
            >>> spec.apply(np.ones((1, 1, 2)), np.ones((1, 1, 3)))
            array([[[1., 2., 1., 1., 0.]]])
        """
        from .conv import conv_transpose

        xa = np.asarray(x)
        if xa.ndim != self.ndim + 2:
            raise ValueError(f"TransposedConvSpec.apply: input of shape {tuple(xa.shape)} must "
                             f"be batched (N, C_in, *S_in) with {self.ndim} spatial dims")
        out = self.output_size(xa.shape[2:])
        y = conv_transpose(xa, weight, None, self.stride, 0, 0, groups, self.dilation)
        # zero-pad by the negative amounts, then output o is padded index o + max(low, 0)
        widths = [(max(-lo, 0), max(-hi, 0)) for lo, hi in self.crop]
        y = np.pad(y, [(0, 0), (0, 0), *widths])
        index = tuple(slice(max(lo, 0), max(lo, 0) + n) for (lo, _), n in zip(self.crop, out))
        y = y[(slice(None), slice(None), *index)]
        if bias is not None:
            y = y + np.asarray(bias, dtype=y.dtype).reshape(1, -1, *([1] * self.ndim))
        return y


def _framework(fn: str, name: str) -> str:
    key = str(name).lower()
    if key == "pytorch":
        key = "torch"
    if key not in FRAMEWORKS:
        raise ValueError(f"{fn}: framework={name!r} must be one of {FRAMEWORKS}")
    return key


def convert(config: Mapping[str, Any], src: str, dst: str, **options: Any) -> dict[str, Any]:
    """Translate a transposed-convolution configuration from one framework to another.

    Reads ``config`` with ``TransposedConvSpec.from_<src>(**config)`` and writes it with
    ``to_<dst>(**options)``; the two describe exactly the same output (same size, same
    values for the same weight -- see :class:`TransposedConvSpec` for weight layouts).

    Args:
        config: keyword arguments of the source reader, e.g. ``{"kernel_size": 3,
            "stride": 2, "padding": 1, "output_padding": 1}`` for ``"torch"``.
        src: one of ``"torch"``, ``"tconv"``, ``"keras"``, ``"onnx"``, ``"jax"``.
        dst: the same choices.
        **options: passed to the writer (``auto_pad=True`` for ONNX,
            ``use_consistent_padding=True`` for JAX).

    Returns:
        the writer's keyword arguments.

    Raises:
        ValueError: naming the rule when ``dst`` cannot express the configuration (e.g.
            PyTorch's symmetric padding, Keras' strides-with-dilation ban).

    Examples:
        >>> convert({"kernel_size": 4, "strides": 2, "padding": "same"}, "keras", "torch")
        {'kernel_size': (4, 4), 'stride': (2, 2), 'padding': (1, 1), 'output_padding': (0, 0),
         'dilation': (1, 1)}
        >>> convert({"kernel_size": 3, "strides": 2, "padding": "same"}, "keras", "jax")["padding"]
        ((2, 1), (2, 1))

        Keras' ``"same"`` with ``k=3, s=2`` crops ``(0, 1)``; PyTorch's ``padding=1,
        output_padding=1`` crops ``(1, 0)`` -- the same size, shifted by one pixel -- so
        ``convert(..., "keras", "torch")`` raises whenever ``dk - s`` is odd.
        >>> convert({"kernel_size": 4, "stride": 2, "padding": 1}, "torch", "onnx",
        ...         auto_pad=True)
        {'kernel_shape': [4, 4], 'strides': [2, 2], 'dilations': [1, 1], 'auto_pad': 'SAME_UPPER'}
    """
    fn = "convert"
    reader = getattr(TransposedConvSpec, "from_" + _framework(fn, src))
    if not isinstance(config, Mapping):
        raise TypeError(f"{fn}: config={_checks.fmt(config)} must be a mapping of the "
                        f"{src} arguments")
    spec = reader(**config)
    return spec.to(dst, **options)


@dataclass(frozen=True)
class Solution:
    """One PyTorch configuration found by :func:`solve`: ints for a 1-D search, tuples (one
    entry per spatial dim) for an N-d one.

    Build the layer from it: :meth:`to_module` (a ``torch.nn.ConvTranspose{1,2,3}d``),
    :meth:`to_torch` / :meth:`to_keras` / :meth:`to_onnx` (keyword arguments), or
    :attr:`spec`. ``ndim=`` repeats a 1-D solution in every dim of an N-d layer.

    Examples:
        >>> sol = solve((16, 12), (32, 24))[0]
        >>> sol.kernel_size, sol.stride, sol.padding
        ((2, 2), (2, 2), (0, 0))
        >>> solve(16, 32)[1].to_torch(ndim=2)
        {'kernel_size': (4, 4), 'stride': (2, 2), 'padding': (1, 1), 'output_padding': (0, 0),
         'dilation': (1, 1)}
    """

    kernel_size: int | tuple[int, ...]
    stride: int | tuple[int, ...]
    padding: int | tuple[int, ...]
    output_padding: int | tuple[int, ...]
    dilation: int | tuple[int, ...]
    uneven: bool
    overlap_ratio: float
    risks: tuple[str, ...]

    @property
    def ndim(self) -> int:
        """Spatial dims the solution was searched for (1 for an int search)."""
        return len(self.kernel_size) if isinstance(self.kernel_size, tuple) else 1

    @property
    def spec(self) -> TransposedConvSpec:
        return self.spec_for()

    def spec_for(self, ndim: int | None = None) -> TransposedConvSpec:
        """The :class:`TransposedConvSpec` of an ``ndim``-D layer (default: :attr:`ndim`;
        another ``ndim`` only for a 1-D solution, repeated in every dim)."""
        fn = "Solution.spec_for"
        nd = self.ndim if ndim is None else int(ndim)
        if nd != self.ndim and self.ndim != 1:
            raise ValueError(f"{fn}: ndim={ndim} differs from the solution's {self.ndim} "
                             "spatial dims; only a 1-D solution is repeated over dims")
        return TransposedConvSpec.from_torch(self.kernel_size, self.stride, self.padding,
                                             self.output_padding, self.dilation, ndim=nd)

    def to_torch(self, ndim: int | None = None) -> dict[str, tuple[int, ...]]:
        """``torch.nn.ConvTranspose{ndim}d`` keyword arguments (besides the channels)."""
        return self.spec_for(ndim).to_torch()

    def to_keras(self, ndim: int | None = None) -> dict[str, Any]:
        """``keras.layers.Conv{ndim}DTranspose`` keyword arguments (besides ``filters``);
        raises ``ValueError`` where Keras cannot express the crop (see ``risks``)."""
        return self.spec_for(ndim).to_keras()

    def to_onnx(self, ndim: int | None = None, **options: Any) -> dict[str, Any]:
        """ONNX ``ConvTranspose`` attributes (``options``: see
        :meth:`TransposedConvSpec.to_onnx`)."""
        return self.spec_for(ndim).to_onnx(**options)

    def to_module(self, in_channels: int, out_channels: int, *, ndim: int | None = None,
                  groups: int = 1, bias: bool = True, **factory: Any) -> Any:
        """A ``torch.nn.ConvTranspose{ndim}d`` with this geometry (needs the torch extra).

        ``factory`` (``device=``, ``dtype=``) is passed to the module.
        """
        try:
            import torch
        except ImportError as exc:
            raise ImportError("Solution.to_module needs PyTorch: pip install "
                              "'tconv[torch]'") from exc
        kwargs = self.to_torch(ndim)
        layer = getattr(torch.nn, f"ConvTranspose{len(kwargs['kernel_size'])}d")
        return layer(in_channels, out_channels, groups=groups, bias=bias, **kwargs, **factory)


#: what each export-risk flag of :func:`solve` means
RISKS = {
    "output_padding": "output_padding > 0: TFLite TRANSPOSE_CONV has none, quantised ONNX "
                      "export has dropped it (pytorch#104206), ONNX auto_pad + output_padding "
                      "is disputed (onnx#4299)",
    "explicit_pads": "the crop is neither 'same' (ONNX SAME_UPPER, Keras/TF/TFLite) nor "
                     "'valid': converters must emit explicit (possibly asymmetric) pads",
    "dilation": "dilation > 1: TFLite TRANSPOSE_CONV has none, Keras forbids it with "
                "strides > 1, runtimes have mis-shaped it (onnxruntime#2518)",
}


def solve(input_size: IntOrTuple, output_size: IntOrTuple, *,
          kernel_sizes: Sequence[int] = range(1, 9), strides: Sequence[int] = range(1, 5),
          dilations: Sequence[int] = (1,)) -> list[Solution]:
    """Every PyTorch ``(kernel, stride, padding, output_padding, dilation)`` reaching a size.

    Searches ``kernel_sizes x strides x dilations`` and ``0 <= padding <= dilation*(k-1)``,
    ``0 <= output_padding < max(stride, dilation)`` for
    ``(in-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1 == output_size``, per
    spatial dim. Tuple sizes search every dim at once: each solution combines one solution
    per dim (a tuple in every field). Each solution is flagged:

    - ``uneven``: kernel footprints overlap unevenly in some dim
      (:func:`tconv.checkerboard.is_uneven`), with ``overlap_ratio`` = max/min taps per
      phase (``inf``: some outputs get no tap; the product over dims for N-d);
    - ``risks``: export-risk flags, the rule is :data:`RISKS` -- ``"output_padding"``
      (``output_padding > 0``), ``"explicit_pads"`` (the crop is not what
      ``"same"``/``"valid"`` without output_padding gives in Keras/JAX/ONNX SAME_UPPER),
      ``"dilation"`` (``dilation > 1``), in any dim.

    Sorted: even overlap first, then fewer risks, smaller kernel, smaller padding, smaller
    dilation, larger stride (summed over dims for N-d).

    Args:
        input_size: spatial input size: an int (one dim) or a tuple of 1-3 ints.
        output_size: wanted output size, of the same form (an int with a tuple size is
            repeated in every dim).
        kernel_sizes, strides, dilations: the ranges searched, the same for every dim.

    Returns:
        list of :class:`Solution`, possibly empty; build the layer with
        :meth:`Solution.to_module` or the ``to_*`` keyword arguments.

    Shape:
        ``output_size = (input_size-1)*stride - 2*padding + dilation*(kernel-1)
        + output_padding + 1`` in every dim.

    Examples:
        >>> for sol in solve(16, 32)[:3]:
        ...     print(sol.kernel_size, sol.stride, sol.padding, sol.output_padding,
        ...           sol.uneven, sol.risks)
        2 2 0 0 False ()
        4 2 1 0 False ()
        6 2 2 0 False ()
        >>> [s.risks for s in solve(16, 32) if (s.kernel_size, s.padding) == (3, 1)]
        [('output_padding', 'explicit_pads')]
        >>> sol = solve((4, 5), (8, 15), kernel_sizes=(2, 3, 4, 6))[0]
        >>> sol.kernel_size, sol.stride, sol.to_torch()["padding"]
        ((2, 3), (2, 3), (0, 0))
    """
    fn = "solve"
    tuples = [v for v in (input_size, output_size) if isinstance(v, (tuple, list))]
    if not tuples:
        return _solve_1d(fn, input_size, output_size, kernel_sizes, strides, dilations)
    nd = len(tuples[0])
    if not 1 <= nd <= 3 or any(len(t) != nd for t in tuples):
        raise ValueError(f"{fn}: input_size={_checks.fmt(input_size)} and output_size="
                         f"{_checks.fmt(output_size)} must have the same 1, 2 or 3 spatial "
                         "dims")
    ins = _ints(fn, "input_size", input_size, nd, 1)
    outs = _ints(fn, "output_size", output_size, nd, 1)
    per_dim = [_solve_1d(fn, i, o, kernel_sizes, strides, dilations) for i, o in zip(ins, outs)]
    found = []
    for combo in itertools.product(*per_dim):
        risks = tuple(r for r in RISKS if any(r in c.risks for c in combo))
        found.append(Solution(
            tuple(c.kernel_size for c in combo), tuple(c.stride for c in combo),  # type: ignore[misc]
            tuple(c.padding for c in combo), tuple(c.output_padding for c in combo),  # type: ignore[misc]
            tuple(c.dilation for c in combo), any(c.uneven for c in combo),  # type: ignore[misc]
            math.prod(c.overlap_ratio for c in combo), risks))
    found.sort(key=lambda z: (z.uneven, len(z.risks), sum(z.kernel_size), sum(z.padding),  # type: ignore[arg-type]
                              sum(z.dilation), -sum(z.stride), sum(z.output_padding)))  # type: ignore[arg-type]
    return found


def _solve_1d(fn: str, input_size: object, output_size: object, kernel_sizes: Sequence[int],
              strides: Sequence[int], dilations: Sequence[int]) -> list[Solution]:
    from .checkerboard import is_uneven, overlap_ratio

    n_in = _ints(fn, "input_size", input_size, 1, 1)[0]
    n_out = _ints(fn, "output_size", output_size, 1, 1)[0]
    ks = [_ints(fn, "kernel_sizes", k, 1, 1)[0] for k in kernel_sizes]
    ss = [_ints(fn, "strides", s, 1, 1)[0] for s in strides]
    ds = [_ints(fn, "dilations", d, 1, 1)[0] for d in dilations]
    found = []
    for k in ks:
        for s in ss:
            for d in ds:
                for p in range(d * (k - 1) + 1):
                    op = n_out - ConvParams((k,), (s,), ((p, p),), (d,), 1).transposed_size(
                        (n_in,))[0]
                    if not 0 <= op < max(s, d):
                        continue
                    spec = TransposedConvSpec.from_torch(k, s, p, op, d, ndim=1)
                    risks = []
                    if op:
                        risks.append("output_padding")
                    simple = [TransposedConvSpec.from_jax(k, s, mode, d, ndim=1).crop
                              for mode in ("SAME", "VALID")]
                    if spec.crop not in simple:
                        risks.append("explicit_pads")
                    if d > 1:
                        risks.append("dilation")
                    found.append(Solution(k, s, p, op, d, is_uneven(k, s, d),
                                          overlap_ratio(k, s, d, ndim=1), tuple(risks)))
    found.sort(key=lambda z: (z.uneven, len(z.risks), z.kernel_size, z.padding, z.dilation,
                              -z.stride, z.output_padding))  # type: ignore[operator]
    return found
