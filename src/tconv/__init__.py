"""tconv: learnable up-sampling with transposed convolution.

The NumPy core -- shapes, convolution matrices, conv / conv_transpose with gradients --
imports only NumPy and SciPy. ``tconv.nn`` (PyTorch layers), ``tconv.viz`` (figures) and
``tconv.apps`` need extras and are imported explicitly.
"""

from . import checkerboard, conventions, kernels, resizing, shapes, shuffle
from ._algorithms._cost import explain_algorithm
from ._algorithms._parallel import get_num_threads, memory_in_use, release_memory, set_num_threads
from ._checks import MAX_ELEMENTS
from .conv import ALGORITHMS, conv, conv_transpose
from .grad import conv_backward, conv_transpose_backward
from .interpolate import interpolate, resample_matrix
from .matrix import conv_matrix
from .resizing import convert_resize, resize, resize_matrix
from .shapes import conv_output_size, conv_transpose_output_size, output_padding_for

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "MAX_ELEMENTS",
    "checkerboard",
    "conventions",
    "kernels",
    "resizing",
    "shapes",
    "shuffle",
    "conv",
    "conv_backward",
    "conv_matrix",
    "conv_output_size",
    "conv_transpose",
    "conv_transpose_backward",
    "conv_transpose_output_size",
    "convert_resize",
    "explain_algorithm",
    "get_num_threads",
    "interpolate",
    "memory_in_use",
    "output_padding_for",
    "release_memory",
    "resample_matrix",
    "resize",
    "resize_matrix",
    "set_num_threads",
]
