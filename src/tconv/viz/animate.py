"""Animations of the sliding kernel, for any configuration (conv_arithmetic style).

Three views, all drawn from the library-computed :class:`~tconv.viz.Geometry`:

* ``"gather"`` -- many-to-one: one frame per output cell, the kernel window over the
  (padded) input; for ``conv`` this is the classic sliding kernel.
* ``"scatter"`` -- one-to-many, the direct view of ``conv_transpose``: one frame per input
  cell, its footprint ``x·w`` added into the output; every output cell shows the partial sum
  ``M[:, :i+1] @ x[:i+1]`` (the reached ones with the ``+x·w`` just added), which ends at
  ``conv_transpose(x)``.
* ``"zero_insertion"`` -- ``conv_transpose`` as a stride-1 convolution of the flipped kernel
  over the zero-inserted, padded input: one frame per output cell.

:func:`draw_frame` draws one step on a given ``ax`` (``tconv figures`` writes the frames
to a GIF with Pillow); :func:`animation` wraps it in a ``matplotlib.animation.FuncAnimation``
for notebooks, which the caller saves or shows.
"""

from __future__ import annotations

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._geometry import Geometry
from .grids import plot_footprint, plot_receptive_field, plot_zero_insertion

__all__ = ["VIEWS", "animation", "draw_frame", "frame_count"]

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


def draw_frame(g: Geometry, view: str, frame: int, *, ax: Axes,
               annotate: bool = True) -> dict[str, object]:
    """Draw frame ``frame`` of a view on ``ax`` (cleared first); return the artists.

    Args:
        g: the geometry.
        view: ``"gather"``, ``"scatter"`` or ``"zero_insertion"``.
        frame: ``0 <= frame < frame_count(g, view)``.
        ax: axes to draw on.
        annotate: write values and tap names.

    Returns:
        The artists of the picture drawn (see :func:`~tconv.viz.grids.plot_receptive_field`,
        :func:`~tconv.viz.grids.plot_footprint`, :func:`~tconv.viz.grids.plot_zero_insertion`),
        plus ``"index"``: the cell of this step.
    """
    n = frame_count(g, view)
    if not 0 <= frame < n:
        raise ValueError(f"draw_frame: frame={frame} must be in [0, {n}) for view={view!r}")
    ax.clear()
    if view == "scatter":
        r, c = np.unravel_index(frame, g.in_size)
        index = (int(r), int(c))
        k = frame + 1
        running = (g.matrix[:, :k] @ g.x.ravel()[:k]).reshape(g.out_size)
        artists = plot_footprint(g, index, ax=ax, annotate=annotate, output_values=running)
    else:
        r, c = np.unravel_index(frame, g.out_size)
        index = (int(r), int(c))
        plot = plot_receptive_field if view == "gather" else plot_zero_insertion
        artists = plot(g, index, ax=ax, annotate=annotate)
    ax.set_title(f"{ax.get_title()}\nstep {frame + 1} of {n}", fontsize=9)
    artists["index"] = index
    return artists


def animation(g: Geometry, view: str = "gather", *, fig: Figure, interval: int = 700,
              annotate: bool = True) -> FuncAnimation:
    """Animate one view of the geometry on ``fig`` (for notebooks; the CLI draws frames
    with :func:`draw_frame` and writes the GIF with Pillow).

    Args:
        g: the geometry.
        view: ``"gather"``, ``"scatter"`` or ``"zero_insertion"`` (the last two need a
            transposed convolution).
        fig: the figure to draw on (its first axes is used, or one is added).
        interval: milliseconds per frame.
        annotate: write values and tap names.

    Returns:
        The ``FuncAnimation`` with ``frame_count(g, view)`` frames.

    Raises:
        ValueError: for an unknown view, or a transposed-only view of a direct conv.
    """
    n = frame_count(g, view)
    ax = fig.axes[0] if fig.axes else fig.add_subplot()

    def update(frame: int) -> list:
        draw_frame(g, view, frame, ax=ax, annotate=annotate)
        return list(ax.patches) + list(ax.texts)

    return FuncAnimation(fig, update, frames=n, interval=interval, repeat=False, blit=False)
