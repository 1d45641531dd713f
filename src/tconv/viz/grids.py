"""Grids of numbers: the article's pictures of input, kernel and output.

Every function takes a :class:`~tconv.viz.Geometry` (computed by the library with
:func:`tconv.viz.geometry`) and a required ``ax=``, draws, and returns the artists. Which
cells are highlighted comes from the geometry's matrix ``M`` (``op(x).ravel() == M @
x.ravel()``): the footprint of input cell ``i`` is column ``i`` of ``M`` (one-to-many), the
receptive field of output cell ``o`` is row ``o`` (many-to-one).

Cell ``(r, c)`` of a grid placed at ``origin=(row0, col0)`` is the unit square with corner
``(col0 + c, row0 + r)`` in data coordinates; the y axis points down, as array rows do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text

from ._geometry import Geometry, zero_insertion_view
from ._style import COLORS, DARK, EDGE, LEGEND

__all__ = ["GridArtists", "draw_grid", "legend", "plot_operation", "plot_kernel",
           "plot_low_to_high",
           "plot_receptive_field", "plot_footprint", "plot_zero_insertion", "place"]


@dataclass
class GridArtists:
    """The artists of one drawn grid.

    Attributes:
        cells: ``(rows, cols)`` object array of ``Rectangle``.
        texts: ``(rows, cols)`` object array of ``Text`` (or ``None`` where no label).
        kinds: ``(rows, cols)`` array of the colour key of each cell (see ``_style.COLORS``).
        origin: ``(row0, col0)`` of the grid in data coordinates.
        title: the title ``Text`` or ``None``.
    """

    cells: np.ndarray
    texts: np.ndarray
    kinds: np.ndarray
    origin: tuple[float, float]
    title: Text | None = None
    extra: list = field(default_factory=list)


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.2g}"


def draw_grid(values: np.ndarray | None, kinds: np.ndarray, *, ax: Axes,
              origin: tuple[float, float] = (0, 0), labels: np.ndarray | None = None,
              title: str | None = None, fontsize: float = 9) -> GridArtists:
    """Draw a grid of cells coloured by kind, labelled with values or given strings.

    Args:
        values: numbers written in the cells (``None``: no numbers).
        kinds: colour key per cell (``"input"``, ``"output_active"``, ``"padding"``...).
        ax: the axes to draw on.
        origin: ``(row, col)`` of the top-left corner in data coordinates.
        labels: strings written instead of ``values`` (``""`` for none).
        title: written above the grid.
        fontsize: size of the cell labels.

    Returns:
        A :class:`GridArtists`.
    """
    kinds = np.asarray(kinds)
    rows, cols = kinds.shape
    r0, c0 = origin
    cells = np.empty((rows, cols), dtype=object)
    texts = np.empty((rows, cols), dtype=object)
    for r in range(rows):
        for c in range(cols):
            kind = str(kinds[r, c])
            rect = Rectangle((c0 + c, r0 + r), 1, 1, facecolor=COLORS[kind],
                             edgecolor=COLORS["edge"], linewidth=0.8,
                             linestyle=EDGE.get(kind, "solid"))
            ax.add_patch(rect)
            cells[r, c] = rect
            text = None
            if labels is not None:
                text = str(labels[r, c])
            elif values is not None:
                text = _fmt_num(values[r, c])
            if text:
                color = COLORS["text_light"] if kind in DARK else COLORS["text_dark"]
                texts[r, c] = ax.text(c0 + c + 0.5, r0 + r + 0.5, text, ha="center",
                                      va="center", fontsize=fontsize, color=color)
    title_artist = None
    if title:
        title_artist = ax.text(c0 + cols / 2, r0 - 0.35, title, ha="center", va="bottom",
                               fontsize=10)
    return GridArtists(cells, texts, kinds, (r0, c0), title_artist)


def place(ax: Axes, width: float, height: float) -> None:
    """Fit the axes to a drawing ``width`` columns by ``height`` rows, y pointing down."""
    ax.set_xlim(-0.3, width + 0.3)
    ax.set_ylim(height + 0.3, -1.6)
    ax.set_aspect("equal")
    ax.axis("off")


def legend(ax: Axes, keys: tuple[str, ...], **kw: object):
    """The colour-convention legend for the given colour keys (``_style.LEGEND`` order)."""
    handles = []
    for key, text in LEGEND:
        if key in keys:
            handles.append(Patch(facecolor=COLORS[key], edgecolor=COLORS["edge"],
                                 linestyle=EDGE.get(key, "solid"), label=text))
    x0, x1 = ax.get_xlim()
    width = abs(x1 - x0)       # in grid cells (after place())
    ncol = 4 if width >= 16 else 3 if width >= 11 else 2
    opts: dict[str, Any] = dict(loc="upper center", bbox_to_anchor=(0.5, 0.0),
                                ncol=min(ncol, len(handles)), fontsize=8, frameon=False)
    opts.update(kw)
    return ax.legend(handles=handles, **opts)


def _symbol(ax: Axes, col: float, row: float, s: str) -> Text:
    return ax.text(col, row, s, ha="center", va="center", fontsize=16)


def _row_layout(ax: Axes, heights: list[int]) -> list[float]:
    """Top rows that centre grids of the given heights vertically."""
    h = max(heights)
    return [(h - x) / 2 for x in heights]


def plot_operation(g: Geometry, *, ax: Axes, annotate: bool = True) -> dict[str, object]:
    """Input ⊛ kernel = output, with values: the article's 4x4 * 3x3 -> 2x2 picture.

    Args:
        g: the geometry (conv or conv_transpose).
        ax: axes to draw on.
        annotate: write the values in the cells.

    Returns:
        ``{"input": GridArtists, "kernel": ..., "output": ..., "legend": Legend}``.
    """
    (hi, wi), (hk, wk), (ho, wo) = g.in_size, g.kernel_size, g.out_size
    tops = _row_layout(ax, [hi, hk, ho])
    op = "ᵀ⊛" if g.transposed else "⊛"
    a = draw_grid(g.x if annotate else None, np.full(g.in_size, "input"), ax=ax,
                  origin=(tops[0], 0), title=f"input {hi}x{wi}")
    x = wi + 1.5
    mid = max(hi, hk, ho) / 2
    _symbol(ax, wi + 0.75, mid, op)
    k = draw_grid(g.weight if annotate else None, np.full(g.kernel_size, "kernel"), ax=ax,
                  origin=(tops[1], x), title=f"kernel {hk}x{wk}")
    x += wk + 0.75
    _symbol(ax, x, mid, "=")
    x += 0.75
    o = draw_grid(g.y if annotate else None, np.full(g.out_size, "output"), ax=ax,
                  origin=(tops[2], x), title=f"output {ho}x{wo}")
    place(ax, x + wo, max(hi, hk, ho))
    ax.set_title(g.label, fontsize=9)
    leg = legend(ax, ("input", "kernel", "output"))
    return {"input": a, "kernel": k, "output": o, "legend": leg}


def plot_kernel(g: Geometry, *, ax: Axes) -> dict[str, object]:
    """The kernel with its tap names ``w_rc`` and values (the article's kernel picture).

    Returns:
        ``{"kernel": GridArtists}``.
    """
    labels = np.array([[f"{g.tap_label(r * g.kernel_size[1] + c)}\n{_fmt_num(g.weight[r, c])}"
                        for c in range(g.kernel_size[1])] for r in range(g.kernel_size[0])])
    k = draw_grid(None, np.full(g.kernel_size, "kernel"), ax=ax, labels=labels,
                  title=f"kernel {g.kernel_size[0]}x{g.kernel_size[1]}")
    place(ax, g.kernel_size[1], g.kernel_size[0])
    return {"kernel": k}


def _padded_input(g: Geometry, active: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Kinds and values of the conv input with its padding ring; origin of cell (0, 0)."""
    (lo0, hi0), (lo1, hi1) = g.pad if not g.transposed else ((0, 0), (0, 0))
    shape = (g.in_size[0] + lo0 + hi0, g.in_size[1] + lo1 + hi1)
    kinds = np.full(shape, "padding", dtype=object)
    vals = np.zeros(shape)
    sl = (slice(lo0, lo0 + g.in_size[0]), slice(lo1, lo1 + g.in_size[1]))
    kinds[sl] = "input"
    vals[sl] = g.x
    if active is not None:
        inner = kinds[sl]
        inner[active] = "input_active"
        kinds[sl] = inner
    return kinds, vals, (lo0, lo1)


def _window(g: Geometry, index: tuple[int, int]) -> np.ndarray:
    """Padded-input kinds mask of the dilated kernel window of conv output ``index``."""
    (lo0, hi0), (lo1, hi1) = g.pad
    shape = (g.in_size[0] + lo0 + hi0, g.in_size[1] + lo1 + hi1)
    mask = np.zeros(shape, dtype=bool)
    r = index[0] * g.stride[0] + g.dilation[0] * np.arange(g.kernel_size[0])
    c = index[1] * g.stride[1] + g.dilation[1] * np.arange(g.kernel_size[1])
    mask[np.ix_(r, c)] = True
    return mask


def plot_receptive_field(g: Geometry, index: tuple[int, int], *, ax: Axes,
                         annotate: bool = True) -> dict[str, object]:
    """Many-to-one: the input cells output cell ``index`` reads (the "why 2x2" picture).

    The input cells of row ``index`` of ``M`` are shaded; for a conv the padding ring is
    drawn dashed and the padding zeros under the kernel are shaded too.

    Args:
        g: the geometry.
        index: ``(row, col)`` of the output cell.
        ax: axes to draw on.
        annotate: write values (input) and tap names (under the kernel).

    Returns:
        ``{"input": GridArtists, "output": GridArtists, "mask": bool array of input cells}``.
    """
    field_ = g.receptive_field(index)
    mask = field_ >= 0
    kinds, vals, (r0, c0) = _padded_input(g, mask)
    if not g.transposed:
        win = _window(g, index)
        kinds[(kinds == "padding") & win] = "zero_active"
    labels = np.array([[_fmt_num(v) for v in row] for row in vals], dtype=object)
    if not g.transposed:
        labels[kinds == "padding"] = "0"
    labels[kinds == "zero_active"] = "0"
    for (r, c) in zip(*np.nonzero(mask)):
        labels[r + r0, c + c0] = f"{_fmt_num(g.x[r, c])}·{g.tap_label(field_[r, c])}"
    if not annotate:
        labels[:] = ""
    hp, wp = kinds.shape
    ho, wo = g.out_size
    tops = _row_layout(ax, [hp, ho])
    a = draw_grid(None, kinds, ax=ax, origin=(tops[0], 0), labels=labels,
                  title=f"input {g.in_size[0]}x{g.in_size[1]}"
                  + (" + padding" if kinds.shape != g.in_size else ""),
                  fontsize=7 if annotate else 9)
    okinds = np.full(g.out_size, "output", dtype=object)
    okinds[index] = "output_active"
    _symbol(ax, wp + 0.9, max(hp, ho) / 2, "→")
    o = draw_grid(g.y if annotate else None, okinds, ax=ax, origin=(tops[1], wp + 1.8),
                  title=f"output {ho}x{wo}")
    place(ax, wp + 1.8 + wo, max(hp, ho))
    ax.set_title(f"{g.op_name}: output cell {tuple(index)} reads {int(mask.sum())} input "
                 "cells (many-to-one)", fontsize=9)
    keys: tuple[str, ...] = ("input", "input_active", "output", "output_active")
    if kinds.shape != g.in_size:
        keys += ("padding", "zero_active")
    leg = legend(ax, keys)
    return {"input": a, "output": o, "mask": mask, "legend": leg}


def plot_footprint(g: Geometry, index: tuple[int, int], *, ax: Axes, annotate: bool = True,
                   output_values: np.ndarray | None = None) -> dict[str, object]:
    """One-to-many: the output cells input cell ``index`` reaches (the "1 to 9" picture).

    The reached cells are column ``index`` of ``M``; each is labelled with the kernel tap
    that links it (``x·w_rc``), so for ``conv_transpose`` the footprint is the kernel
    scaled by the input value and cropped by the padding.

    Args:
        g: the geometry.
        index: ``(row, col)`` of the input cell.
        ax: axes to draw on.
        annotate: write values and ``x·w_rc`` labels.
        output_values: the running sum of the scatter animation (``M[:, :i+1] @ x[:i+1]``):
            every output cell shows it, a reached cell as ``sum`` over ``+x·w_rc`` (the
            partial sum after this input's contribution); default none.

    Returns:
        ``{"input": GridArtists, "output": GridArtists, "mask": bool array of output cells}``.
    """
    foot = g.footprint(index)
    mask = foot >= 0
    ikinds = np.full(g.in_size, "input", dtype=object)
    ikinds[index] = "input_active"
    okinds = np.full(g.out_size, "output", dtype=object)
    okinds[mask] = "output_active"
    labels = np.full(g.out_size, "", dtype=object)
    xv = _fmt_num(g.x[index])
    if output_values is not None and annotate:
        labels[:] = np.vectorize(_fmt_num)(output_values)
    for (r, c) in zip(*np.nonzero(mask)):
        term = f"{xv}·{g.tap_label(foot[r, c])}"
        if not annotate:
            labels[r, c] = ""
        elif output_values is not None:
            labels[r, c] = f"{_fmt_num(output_values[r, c])}\n+{term}"
        else:
            labels[r, c] = term
    hi, wi = g.in_size
    ho, wo = g.out_size
    tops = _row_layout(ax, [hi, ho])
    a = draw_grid(g.x if annotate else None, ikinds, ax=ax, origin=(tops[0], 0),
                  title=f"input {hi}x{wi}")
    _symbol(ax, wi + 0.9, max(hi, ho) / 2, "→")
    o = draw_grid(None, okinds, ax=ax, origin=(tops[1], wi + 1.8), labels=labels,
                  title=f"output {ho}x{wo}", fontsize=7)
    place(ax, wi + 1.8 + wo, max(hi, ho))
    title = (f"{g.op_name}: input cell {tuple(index)} reaches {int(mask.sum())} output "
             "cells (one-to-many)")
    if output_values is not None:
        title += "; outputs show the partial sums so far"
    ax.set_title(title, fontsize=9)
    leg = legend(ax, ("input", "input_active", "output", "output_active"))
    return {"input": a, "output": o, "mask": mask, "legend": leg}


def plot_zero_insertion(g: Geometry, index: tuple[int, int] | None = None, *, ax: Axes,
                        annotate: bool = True) -> dict[str, object]:
    """The transposed convolution as a convolution over a zero-inserted, padded input.

    ``stride-1`` zeros (dotted) go between the inputs, ``dilation*(k-1) - padding`` zeros
    (dashed) around them (plus ``output_padding`` on the high side), and the flipped kernel
    slides with stride 1. With ``index`` the kernel window of that output cell is shaded.

    Returns:
        ``{"input": GridArtists, "output": GridArtists, "view": ZeroInsertionView,
        "window": bool mask over the zero-inserted grid or None}``.
    """
    v = zero_insertion_view(g)
    names = np.array(["input", "inserted", "padding"], dtype=object)
    kinds = names[v.kind]
    window = None
    labels = np.array([[_fmt_num(x) if annotate else "" for x in row] for row in v.grid],
                      dtype=object)
    if index is not None:
        window = np.zeros(v.grid.shape, dtype=bool)
        r = index[0] + g.dilation[0] * np.arange(g.kernel_size[0])
        c = index[1] + g.dilation[1] * np.arange(g.kernel_size[1])
        window[np.ix_(r, c)] = True
        kinds[window & (kinds == "input")] = "input_active"
        kinds[window & (kinds != "input_active")] = "zero_active"
        if annotate:
            kk = g.kernel_size
            for a_, rr in enumerate(r):
                for b_, cc in enumerate(c):
                    tap = (kk[0] - 1 - a_) * kk[1] + (kk[1] - 1 - b_)   # flipped kernel
                    labels[rr, cc] = f"{_fmt_num(v.grid[rr, cc])}·{g.tap_label(tap)}"
    hz, wz = v.grid.shape
    ho, wo = g.out_size
    tops = _row_layout(ax, [hz, ho])
    a = draw_grid(None, kinds, ax=ax, origin=(tops[0], 0), labels=labels,
                  title="zero-inserted, padded input", fontsize=7 if index is not None else 9)
    okinds = np.full(g.out_size, "output", dtype=object)
    if index is not None:
        okinds[index] = "output_active"
    _symbol(ax, wz + 0.9, max(hz, ho) / 2, "→")
    o = draw_grid(g.y if annotate else None, okinds, ax=ax, origin=(tops[1], wz + 1.8),
                  title=f"output {ho}x{wo}")
    place(ax, wz + 1.8 + wo, max(hz, ho))
    ax.set_title(f"conv_transpose as a convolution: {g.stride[0] - 1}x{g.stride[1] - 1} zeros "
                 f"between inputs, padding {v.pad},\nflipped kernel, stride 1", fontsize=9)
    leg = legend(ax, ("input", "input_active", "output", "output_active", "padding",
                      "inserted", "zero_active"), )
    return {"input": a, "output": o, "view": v, "window": window, "legend": leg}


def plot_low_to_high(g: Geometry, *, ax: Axes, cmap: str = "gray") -> dict[str, object]:
    """Input and output as images of the same physical size: low to high resolution.

    The article's first picture. Both are drawn over the same extent, so a transposed
    convolution's larger output shows as finer pixels. Each panel has its own colour scale
    (its range is written under it; a strided output is several times larger than its
    input, which would otherwise draw black), and small panels show their values.

    Returns:
        ``{"input": AxesImage, "output": AxesImage}`` (their arrays are ``g.x`` and ``g.y``).
    """
    side = 4.0
    gap = 1.5

    def extent(x0: float, shape: tuple[int, int]) -> tuple[float, float, float, float]:
        h = side * shape[0] / max(shape)
        w = side * shape[1] / max(shape)
        return (x0, x0 + w, h, 0.0)

    images = []
    for x0, arr in ((0.0, g.x), (side + gap, g.y)):
        lo, hi = float(arr.min()), float(arr.max())
        if hi == lo:
            lo, hi = lo - 1.0, hi + 1.0
        e = extent(x0, arr.shape)
        images.append(ax.imshow(arr, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest",
                                extent=e))
        ax.text((e[0] + e[1]) / 2, e[2] + 0.15, f"{_fmt_num(arr.min())} .. "
                f"{_fmt_num(arr.max())} (own scale)", ha="center", va="top", fontsize=8)
        if max(arr.shape) <= 12:            # values on small panels
            ch, cw = (e[2] - e[3]) / arr.shape[0], (e[1] - e[0]) / arr.shape[1]
            for (r, c), v in np.ndenumerate(arr):
                light = (v - lo) / (hi - lo) < 0.5
                ax.text(e[0] + (c + 0.5) * cw, (r + 0.5) * ch, _fmt_num(v), ha="center",
                        va="center", fontsize=max(5, min(9, 40 / max(arr.shape))),
                        color="white" if light else "black")
    a, b = images
    ax.text(side / 2, -0.2, f"input {g.in_size[0]}x{g.in_size[1]}", ha="center", va="bottom",
            fontsize=10)
    ax.text(side + gap + side / 2, -0.2, f"output {g.out_size[0]}x{g.out_size[1]}",
            ha="center", va="bottom", fontsize=10)
    _symbol(ax, side + gap / 2, side / 2, "→")
    ax.set_xlim(-0.2, 2 * side + gap + 0.2)
    ax.set_ylim(side + 0.7, -1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(g.label, fontsize=9)
    return {"input": a, "output": b}
