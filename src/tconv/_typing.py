"""Type aliases shared by the public API (like torch's ``_size_2_t``)."""

from __future__ import annotations

from typing import Union

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating]
ArrayLike = npt.ArrayLike
IntOrTuple = Union[int, tuple[int, ...]]
#: ``padding`` of the transposed/direct convolution: an int, one int per spatial dim,
#: one ``(low, high)`` pair per spatial dim, or a string ("valid", "same", "same_lower").
PaddingArg = Union[int, tuple[int, ...], tuple[tuple[int, int], ...], str]

__all__ = ["Array", "ArrayLike", "IntOrTuple", "PaddingArg"]
