"""tconv.nn: PyTorch layers (needs the ``torch`` extra: ``pip install "tconv[torch]"``).

Import explicitly -- ``import tconv`` never imports torch::

    from tconv.nn import Upsample, to_pixel_shuffle

The maths (interpolation kernels, ICNR, phase decomposition, checkerboard measures) lives
in the NumPy core; these modules configure torch layers from it and run torch's own
differentiable ops in ``forward``.
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('tconv.nn needs PyTorch: pip install "tconv[torch]"') from exc

from .convert import PadCrop, ZeroInsertion, to_pixel_shuffle, to_zero_insertion
from .diagnostics import LayerReport, layer_report
from .init import bilinear_, icnr_, icnr_transpose_, interpolation_subpixel_
from .shuffle import (
    PixelShuffle,
    PixelUnshuffle,
    depth_to_space,
    pixel_shuffle,
    pixel_unshuffle,
    space_to_depth,
)
from .upsample import INITS, METHODS, Upsample, transposed_geometry

__all__ = [
    "INITS",
    "METHODS",
    "LayerReport",
    "PadCrop",
    "PixelShuffle",
    "PixelUnshuffle",
    "Upsample",
    "ZeroInsertion",
    "bilinear_",
    "depth_to_space",
    "icnr_",
    "icnr_transpose_",
    "interpolation_subpixel_",
    "layer_report",
    "pixel_shuffle",
    "pixel_unshuffle",
    "space_to_depth",
    "to_pixel_shuffle",
    "to_zero_insertion",
    "transposed_geometry",
]
