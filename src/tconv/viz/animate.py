"""Animations of the sliding kernel, for any configuration (conv_arithmetic style).

Three views, all drawn from the library-computed :class:`~tconv.viz.Geometry`:

* ``"gather"`` -- many-to-one: one frame per output cell, the kernel window over the
  (padded) input; for ``conv`` this is the classic sliding kernel.
* ``"scatter"`` -- one-to-many, the direct view of ``conv_transpose``: one frame per input
  cell, its footprint ``x·w`` added into the output; the other output cells show the running
  sum ``M[:, :i+1] @ x[:i+1]``, which ends at ``conv_transpose(x)``.
* ``"zero_insertion"`` -- ``conv_transpose`` as a stride-1 convolution of the flipped kernel
  over the zero-inserted, padded input: one frame per output cell.

:func:`animation` returns a ``matplotlib.animation.FuncAnimation``; the caller saves it
(``anim.save("a.gif", writer=matplotlib.animation.PillowWriter(fps=2))``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

from ._geometry import Geometry
from .grids import plot_footprint, plot_receptive_field, plot_zero_insertion

__all__ = ["VIEWS", "animation", "frame_count"]

VIEWS = ("gather", "scatter", "zero_insertion")


def _check_view(g: Geometry, view: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"animation: view={view!r} is not one of {VIEWS}")
    if view != "gather" and not g.transposed:
        raise ValueError(f"animation: view={view!r} shows a transposed convolution; "
                         "use view='gather' for a direct convolution")


def frame_count(g: Geometry, view: str) -> int:
    """Frames of :func:`animation`: output cells (gather, zero_insertion) or input cells."""
    _check_view(g, view)
    return int(np.prod(g.in_size if view == "scatter" else g.out_size))


def animation(g: Geometry, view: str = "gather", *, fig: Figure, interval: int = 700,
              annotate: bool = True) -> FuncAnimation:
    """Animate one view of the geometry on ``fig`` (one axes, redrawn every frame).

    Args:
        g: the geometry.
        view: ``"gather"``, ``"scatter"`` or ``"zero_insertion"`` (the last two need a
            transposed convolution).
        fig: the figure to draw on (its first axes is used, or one is added).
        interval: milliseconds per frame.
        annotate: write values and tap names.

    Returns:
        The ``FuncAnimation`` (``frame_count(g, view)`` frames, not repeated on save).

    Raises:
        ValueError: for an unknown view, or a transposed-only view of a direct conv.
    """
    n = frame_count(g, view)
    ax = fig.axes[0] if fig.axes else fig.add_subplot()

    def draw(frame: int):
        ax.clear()
        if view == "gather":
            index = np.unravel_index(frame, g.out_size)
            plot_receptive_field(g, (int(index[0]), int(index[1])), ax=ax, annotate=annotate)
        elif view == "zero_insertion":
            index = np.unravel_index(frame, g.out_size)
            plot_zero_insertion(g, (int(index[0]), int(index[1])), ax=ax, annotate=annotate)
        else:
            index = np.unravel_index(frame, g.in_size)
            k = frame + 1
            running = (g.matrix[:, :k] @ g.x.ravel()[:k]).reshape(g.out_size)
            plot_footprint(g, (int(index[0]), int(index[1])), ax=ax, annotate=annotate,
                           output_values=running)
        ax.text(0.0, 1.0, f"step {frame + 1}/{n}", transform=ax.transAxes, fontsize=8,
                va="bottom")
        return list(ax.patches) + list(ax.texts)

    return FuncAnimation(fig, draw, frames=n, interval=interval, repeat=False, blit=False)
