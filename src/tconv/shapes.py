"""Shape arithmetic of convolution and transposed convolution -- pure integer maths.

Per spatial dim, with kernel ``k``, stride ``s``, padding ``p``, dilation ``d``::

    conv:            out = floor((in + 2p - d(k-1) - 1) / s) + 1          (many-to-one)
    conv_transpose:  out = (in - 1) s - 2p + d(k-1) + output_padding + 1   (one-to-many)

``conv_transpose`` inverts ``conv`` in shape: a strided conv maps ``s`` input sizes to one
output size, and ``output_padding`` in ``[0, s)`` picks which of them to restore.

The formulas themselves have one home each, on the validated parameters
(:class:`tconv._checks.ConvParams`): ``conv_size``, ``transposed_size`` and the
``output_padding_for`` solve; the functions here validate user arguments and call them.

Cross-framework conventions (PyTorch / Keras / ONNX / JAX: :func:`~tconv.conventions.convert`,
:func:`~tconv.conventions.solve`, :class:`~tconv.conventions.TransposedConvSpec`) live in
:mod:`tconv.conventions`, which builds on this module (never the other way round). Reading
them from ``tconv.shapes`` still works, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import _checks
from ._checks import ConvParams
from ._typing import IntOrTuple, PaddingArg

__all__ = ["conv_output_size", "conv_transpose_output_size", "output_padding_for"]

#: names whose home is :mod:`tconv.conventions`, readable here for compatibility
_MOVED = ("FRAMEWORKS", "RISKS", "Solution", "TransposedConvSpec", "convert", "solve")


def __getattr__(name: str) -> Any:
    """Forward the names that moved to :mod:`tconv.conventions` (compatibility only)."""
    if name in _MOVED:
        import importlib

        warnings.warn(f"tconv.shapes.{name} moved to tconv.conventions.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("tconv.conventions"), name)
    raise AttributeError(f"module 'tconv.shapes' has no attribute {name!r}")


def _dims(fn: str, input_size: IntOrTuple) -> tuple[int, ...]:
    size = _checks.int_sequence(fn, "input_size", input_size)
    if any(v < 1 for v in size):
        raise ValueError(f"{fn}: input_size={_checks.fmt(input_size)} must be positive in "
                         "every spatial dim")
    if not 1 <= len(size) <= 3:
        raise ValueError(f"{fn}: input_size={size} must have 1, 2 or 3 spatial dims")
    return size


def _positive(fn: str, name: str, value: tuple[int, ...]) -> None:
    if any(v < 1 for v in value):
        raise ValueError(f"{fn}: {name}={value} must be positive in every spatial dim")


def conv_output_size(input_size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                     padding: PaddingArg = 0, dilation: IntOrTuple = 1) -> tuple[int, ...]:
    """Spatial output size of ``conv`` (``torch.nn.Conv{1,2,3}d``).

    A convolution is many-to-one: every output element reads a ``dilation*(k-1)+1`` window.

    Args:
        input_size: spatial input size, an int (1-D) or a tuple of 1-3 ints.
        kernel_size: kernel size, an int or one int per spatial dim.
        stride: step between windows.
        padding: zeros added to both sides; also ``(low, high)`` pairs, ``"valid"`` or
            ``"same"`` (stride 1 only).
        dilation: spacing between kernel taps.

    Returns:
        The output size, one int per spatial dim.

    Shape:
        ``out = floor((in + low + high - dilation*(k-1) - 1) / stride) + 1``.

    Raises:
        ValueError: for non-positive sizes/strides/dilations, negative padding, or an empty
            output.

    Examples:
        >>> conv_output_size((4, 4), 3)          # the article: 4x4 input, 3x3 kernel
        (2, 2)
        >>> conv_output_size(7, 3, stride=2, padding=1)
        (4,)
    """
    fn = "conv_output_size"
    size = _dims(fn, input_size)
    nd = len(size)
    k = _checks.as_int_tuple(fn, "kernel_size", kernel_size, nd, minimum=1)
    s = _checks.as_int_tuple(fn, "stride", stride, nd, minimum=1)
    d = _checks.as_int_tuple(fn, "dilation", dilation, nd, minimum=1)
    norm = _checks.as_padding_pairs(fn, padding, nd, strings=("valid", "same"))
    pad: tuple[tuple[int, int], ...] = (tuple((0, 0) for _ in range(nd))
                                        if isinstance(norm, str) else norm)
    if norm == "same":
        if any(st != 1 for st in s):
            raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions "
                             f"(stride={s})")
        return size
    out = ConvParams(k, s, pad, d, 1).conv_size(size)
    if any(o < 1 for o in out):
        raise ValueError(f"{fn}: the dilated kernel dilation*(kernel-1)+1="
                         f"{tuple(di * (kk - 1) + 1 for kk, di in zip(k, d))} does not fit in "
                         f"the padded input {tuple(i + lo + hi for i, (lo, hi) in zip(size, pad))}")
    _checks.check_elements(fn, "a padded input",
                           tuple(i + lo + hi for i, (lo, hi) in zip(size, pad)),
                           {"input_size": input_size, "padding": padding})
    return out


def conv_transpose_output_size(input_size: IntOrTuple, kernel_size: IntOrTuple,
                               stride: IntOrTuple = 1, padding: PaddingArg = 0,
                               output_padding: IntOrTuple = 0,
                               dilation: IntOrTuple = 1) -> tuple[int, ...]:
    """Spatial output size of ``conv_transpose`` (``torch.nn.ConvTranspose{1,2,3}d``).

    A transposed convolution is one-to-many: each input element spreads a kernel-sized
    footprint, ``stride`` apart, and ``padding`` crops the result.

    Args:
        input_size: spatial input size, an int (1-D) or a tuple of 1-3 ints.
        kernel_size: kernel size, an int or one int per spatial dim.
        stride: step between the footprints of neighbouring inputs (the up-sampling factor).
        padding: amount cropped from both sides of the full output; also ``(low, high)``
            pairs, ``"valid"`` (no crop), ``"same"``/``"same_lower"`` (output = in * stride).
        output_padding: extra size on the high side, ``< max(stride, dilation)``.
        dilation: spacing between kernel taps.

    Returns:
        The output size, one int per spatial dim.

    Shape:
        ``out = (in - 1)*stride - low - high + dilation*(k-1) + output_padding + 1``.

    Convention:
        PyTorch's ``padding`` is the padding of the *direct* convolution this one transposes;
        Keras/ONNX ``"same"`` means ``out = in * stride``.

    Raises:
        ValueError: for invalid arguments or an empty output.

    Examples:
        >>> conv_transpose_output_size((2, 2), 3)    # the article: 2x2 -> 4x4
        (4, 4)
        >>> conv_transpose_output_size(4, 4, stride=2, padding=1)   # DCGAN doubling
        (8,)
        >>> conv_transpose_output_size(5, 3, stride=2, padding="same")
        (10,)
    """
    fn = "conv_transpose_output_size"
    size = _dims(fn, input_size)
    nd = len(size)
    k = _checks.as_int_tuple(fn, "kernel_size", kernel_size, nd, minimum=1)
    p = _checks.conv_params(fn, x_shape=(1, 1, *size), weight_shape=(1, 1, *k), bias_shape=None,
                            stride=stride, padding=padding, dilation=dilation, groups=1,
                            transposed=True, output_padding=output_padding)
    return p.transposed_size(size)


def output_padding_for(input_size: IntOrTuple, output_size: IntOrTuple, kernel_size: IntOrTuple,
                       stride: IntOrTuple = 1, padding: PaddingArg = 0,
                       dilation: IntOrTuple = 1) -> tuple[int, ...]:
    """Solve the ``output_padding`` that makes ``conv_transpose`` produce ``output_size``.

    This is what PyTorch's ``ConvTranspose*.forward(x, output_size=...)`` does. The reachable
    sizes are ``[m, m + stride - 1]`` with ``m`` the size at ``output_padding=0``.

    Args:
        input_size: spatial input size.
        output_size: wanted spatial output size (extra leading N, C entries are ignored).
        kernel_size, stride, padding, dilation: as in :func:`conv_transpose_output_size`.

    Returns:
        The output padding, one int per spatial dim.

    Shape:
        ``output_padding = output_size - ((in - 1)*stride - low - high + dilation*(k-1) + 1)``.

    Raises:
        ValueError: naming the reachable range when ``output_size`` cannot be reached.

    Examples:
        >>> output_padding_for(4, 8, 3, stride=2, padding=1)
        (1,)
        >>> output_padding_for((4, 4), (7, 8), 3, stride=2, padding=1)
        (0, 1)
    """
    fn = "output_padding_for"
    size = _dims(fn, input_size)
    nd = len(size)
    want = _checks.int_sequence(fn, "output_size", output_size)
    if len(want) == nd + 2:
        want = want[2:]
    if len(want) != nd:
        raise ValueError(f"{fn}: output_size={want} must have {nd} spatial entries "
                         f"(or {nd + 2} with batch and channel) for input_size={size}")
    k = _checks.as_int_tuple(fn, "kernel_size", kernel_size, nd, minimum=1)
    p = _checks.conv_params(fn, x_shape=(1, 1, *size), weight_shape=(1, 1, *k), bias_shape=None,
                            stride=stride, padding=padding, dilation=dilation, groups=1,
                            transposed=True, check_empty=False)
    return p.output_padding_for(fn, size, want)
