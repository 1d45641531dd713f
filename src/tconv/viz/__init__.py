"""Pictures of (transposed) convolution, computed by the library (``viz`` extra).

Everything drawn comes from :func:`geometry`, which runs :func:`tconv.conv` /
:func:`tconv.conv_transpose` on one-hot inputs to get the matrix ``M`` (``C`` or ``Cᵀ``) of
any configuration. Figure functions take that data and a required ``ax=`` and return their
artists; they never show or save (the ``tconv figures`` command saves).

``tconv.viz.geometry`` and ``tconv.viz.explore`` need only NumPy; the figure modules
(``grids``, ``matrix``, ``animate``) import matplotlib and are loaded on first use.
``tconv.viz.checkerboard`` is imported explicitly.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._geometry import Geometry, ZeroInsertionView, geometry, zero_insertion_view

__all__ = [
    "Geometry",
    "ZeroInsertionView",
    "geometry",
    "zero_insertion_view",
    # matplotlib (loaded lazily)
    "plot_operation",
    "plot_low_to_high",
    "plot_kernel",
    "plot_receptive_field",
    "plot_footprint",
    "plot_zero_insertion",
    "plot_matrix",
    "plot_row_construction",
    "plot_vector",
    "plot_matrix_product",
    "plot_flatten",
    "plot_reshape",
    "animation",
    "frame_count",
    "draw_frame",
    "legend",
    # no matplotlib
    "explorer_html",
]

_LAZY = {
    "plot_operation": "grids", "plot_low_to_high": "grids",
    "plot_kernel": "grids", "plot_receptive_field": "grids",
    "plot_footprint": "grids", "plot_zero_insertion": "grids", "legend": "grids",
    "plot_matrix": "matrix", "plot_row_construction": "matrix", "plot_vector": "matrix",
    "plot_matrix_product": "matrix", "plot_reshape": "matrix", "plot_flatten": "matrix",
    "animation": "animate", "frame_count": "animate", "draw_frame": "animate",
    "explorer_html": "explore",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tconv.viz' has no attribute {name!r}")
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name in ("matplotlib", "PIL"):
            raise ImportError(f"tconv.viz.{name} needs matplotlib and Pillow: "
                              'pip install "tconv[viz]"') from exc
        raise
    return getattr(mod, name)


def __dir__() -> list[str]:
    return sorted(__all__)
