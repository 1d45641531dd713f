"""The convolution matrix C (and Cᵀ) as pictures: heat-map, row construction, products.

The geometry's ``M`` satisfies ``op(x).ravel() == M @ x.ravel()`` -- ``M = C`` for conv and
``M = Cᵀ`` for conv_transpose -- with rows and columns the row-major flattenings of the
output and input grids. Row ``o`` of ``C`` is the kernel laid over the input at output
``o``'s window, zeros elsewhere, then flattened::

    kernel (3x3) --place at window of o--> 4x4 grid of w/0 --ravel--> row o of C (1x16)
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from ._geometry import Geometry
from ._style import COLORS
from .grids import _fmt_num, _symbol, draw_grid, legend, place

__all__ = ["plot_matrix", "plot_row_construction", "plot_vector", "plot_matrix_product",
           "plot_flatten", "plot_reshape", "matrix_of"]


def matrix_of(g: Geometry, transpose: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """``(values, taps, name)`` of ``M`` (``transpose=False``) or ``M.T``."""
    if transpose:
        name = "C" if g.transposed else "C\u1d40"
        return g.matrix.T, g.taps.T, name
    return g.matrix, g.taps, g.matrix_name


def _cell_names(size: tuple[int, int]) -> list[str]:
    return [f"({r},{c})" for r in range(size[0]) for c in range(size[1])]


def plot_matrix(g: Geometry, *, ax: Axes, transpose: bool = False, annotate: bool | None = None,
                row: int | None = None, col: int | None = None,
                cmap: str = "Blues") -> dict[str, object]:
    """Heat-map of ``C`` or ``Cᵀ`` with its block structure and tap names.

    Thin lines separate the blocks that belong to one row of the input / output grid, so
    the kernel's rows are seen shifting along each matrix row (the article's 4x16 picture).

    Args:
        g: the geometry.
        ax: axes to draw on.
        transpose: draw ``M.T`` instead of ``M`` (``C`` of a transposed conv geometry).
        annotate: write tap names ``w_rc`` in the non-zeros (default: when at most 400 cells).
        row, col: outline this matrix row / column (a receptive field / a footprint).
        cmap: colormap of the kernel values; structural zeros are white.

    Returns:
        ``{"image": AxesImage, "texts": list of Text, "lines": list of Line2D, "name": str}``.
        ``image.get_array()`` is the masked matrix; its mask is the structural zeros.
    """
    values, taps, name = matrix_of(g, transpose)
    n_rows, n_cols = values.shape
    rows_grid = g.in_size if transpose else g.out_size
    cols_grid = g.out_size if transpose else g.in_size
    data = np.ma.masked_array(values, mask=taps < 0)
    cm = matplotlib.colormaps[cmap].with_extremes(bad=COLORS["zero"])
    finite = values[taps >= 0]
    vmax = float(np.abs(finite).max()) if finite.size else 1.0
    vmin = min(0.0, float(finite.min())) if finite.size else 0.0
    image = ax.imshow(data, cmap=cm, vmin=vmin - 0.25 * (vmax - vmin), vmax=vmax,
                      interpolation="nearest", aspect="equal")
    lines = []
    for c in range(cols_grid[1], n_cols, cols_grid[1]):
        lines.append(ax.axvline(c - 0.5, color="#888888", linewidth=0.6))
    for r in range(rows_grid[1], n_rows, rows_grid[1]):
        lines.append(ax.axhline(r - 0.5, color="#888888", linewidth=0.6))
    texts = []
    if annotate is None:
        annotate = values.size <= 400
    if annotate:
        shade = np.asarray(image.norm(values), dtype=float)   # 0..1 along the colormap
        for r, c in zip(*np.nonzero(taps >= 0)):
            dark = shade[r, c] > 0.6                       # white text on dark cells
            texts.append(ax.text(c, r, g.tap_label(taps[r, c]), ha="center", va="center",
                                 fontsize=6 if n_cols > 12 else 8,
                                 color=COLORS["text_light" if dark else "text_dark"]))
    for idx, axis_len, draw in ((row, n_cols, "row"), (col, n_rows, "col")):
        if idx is None:
            continue
        if draw == "row":
            rect = Rectangle((-0.5, idx - 0.5), axis_len, 1, fill=False, linewidth=2,
                             edgecolor=COLORS["output_active"])
        else:
            rect = Rectangle((idx - 0.5, -0.5), 1, axis_len, fill=False, linewidth=2,
                             edgecolor=COLORS["input_active"])
        ax.add_patch(rect)
    tick = max(1, int(np.ceil(max(n_rows, n_cols) / 16)))
    ax.set_xticks(range(0, n_cols, tick))
    ax.set_yticks(range(0, n_rows, tick))
    small = max(n_rows, n_cols) <= 16
    names_c, names_r = _cell_names(cols_grid), _cell_names(rows_grid)
    ax.set_xticklabels([names_c[i] if small else str(i) for i in range(0, n_cols, tick)],
                       rotation=90, fontsize=6)
    ax.set_yticklabels([names_r[i] if small else str(i) for i in range(0, n_rows, tick)],
                       fontsize=6)
    src = "output" if transpose else "input"      # M: columns = input cells of g's op
    dst = "output" if src == "input" else "input"
    ax.set_xlabel(f"column = {src} cell of the {g.op_name} ({cols_grid[0]}x{cols_grid[1]}"
                  f" flattened)", fontsize=8)
    ax.set_ylabel(f"row = {dst} cell ({rows_grid[0]}x{rows_grid[1]} flattened)", fontsize=8)
    ax.set_title(f"{name}: {n_rows}x{n_cols}, {int((taps >= 0).sum())} non-zeros", fontsize=9)
    return {"image": image, "texts": texts, "lines": lines, "name": name}


def plot_row_construction(g: Geometry, index: tuple[int, int], *, ax: Axes
                          ) -> dict[str, object]:
    """How one row of ``C`` is made: the kernel placed over the input, zeros elsewhere,
    flattened (the article's "how each row is made" picture).

    For a transposed-conv geometry this draws row ``index`` of ``M.T``'s transpose, i.e. the
    row of ``C`` of the direct convolution it transposes (``index`` is then an input cell).

    Returns:
        ``{"grid": GridArtists, "row": GridArtists, "taps": int array of the row}``.
    """
    if g.transposed:
        taps = g.footprint(index)           # row of C == column of Cᵀ
        size, what = g.out_size, "input"
    else:
        taps = g.receptive_field(index)
        size, what = g.in_size, "output"
    labels = np.where(taps >= 0, np.vectorize(g.tap_label)(np.maximum(taps, 0)), "0")
    kinds = np.where(taps >= 0, "kernel", "zero").astype(object)
    grid = draw_grid(None, kinds, ax=ax, origin=(0, 0), labels=labels,
                     title=f"kernel at the window of {what} cell {tuple(index)}, zeros "
                           f"elsewhere ({size[0]}x{size[1]})",
                     fontsize=7)
    flat_l, flat_k = labels.ravel()[None, :], kinds.ravel()[None, :]
    n = flat_l.shape[1]
    top = size[0] + 1.6
    _symbol(ax, size[1] / 2, size[0] + 0.6, "↓ ravel")
    row = draw_grid(None, flat_k, ax=ax, origin=(top, 0), labels=flat_l, fontsize=6)
    r = int(np.ravel_multi_index(index, g.in_size if g.transposed else g.out_size))
    ax.text(n / 2, top + 1.5, f"row {r} of C  (1x{n})", ha="center", va="top", fontsize=9)
    place(ax, max(n, size[1]), top + 2)
    return {"grid": grid, "row": row, "taps": taps.ravel()}


def plot_vector(values: np.ndarray, *, ax: Axes, kind: str = "input", title: str = "",
                origin: tuple[float, float] = (0, 0), row_names: list[str] | None = None,
                ) -> dict[str, object]:
    """A flattened grid as a column vector (the article's 16x1 input column).

    Args:
        values: any array; drawn raveled, top to bottom.
        ax: axes to draw on.
        kind: colour key of the cells (``"input"`` or ``"output"``).
        title: written above.
        origin: top-left corner in data coordinates.
        row_names: written left of each entry (e.g. the grid cell ``(r,c)``).

    Returns:
        ``{"column": GridArtists}``.
    """
    v = np.asarray(values).ravel()[:, None]
    col = draw_grid(v, np.full(v.shape, kind, dtype=object), ax=ax, origin=origin,
                    title=title)
    if row_names:
        for i, name in enumerate(row_names):
            ax.text(origin[1] - 0.1, origin[0] + i + 0.5, name, ha="right", va="center",
                    fontsize=6)
    return {"column": col}


def plot_matrix_product(g: Geometry, *, ax: Axes) -> dict[str, object]:
    """``M @ x = y`` with all numbers: the article's 4x16 @ 16x1 = 4x1 (conv) and
    16x4 @ 4x1 = 16x1 (transposed) pictures.

    Returns:
        ``{"matrix": GridArtists, "x": GridArtists, "y": GridArtists}``.
    """
    m, taps = g.matrix, g.taps
    kinds = np.where(taps >= 0, "kernel", "zero").astype(object)
    labels = np.array([[_fmt_num(v) if t >= 0 else "0" for v, t in zip(rv, rt)]
                       for rv, rt in zip(m, taps)], dtype=object)
    n_out, n_in = m.shape
    h = max(n_out, n_in)
    top_m, top_x, top_y = (h - n_out) / 2, (h - n_in) / 2, (h - n_out) / 2
    mat = draw_grid(None, kinds, ax=ax, origin=(top_m, 0), labels=labels,
                    title=f"{g.matrix_name} ({n_out}x{n_in})", fontsize=7)
    _symbol(ax, n_in + 0.9, h / 2, "@")
    x = plot_vector(g.x, ax=ax, kind="input", origin=(top_x, n_in + 1.8),
                    title=f"x ({n_in}x1)")["column"]
    _symbol(ax, n_in + 3.7, h / 2, "=")
    y = plot_vector(g.y, ax=ax, kind="output", origin=(top_y, n_in + 4.6),
                    title=f"y ({n_out}x1)")["column"]
    place(ax, n_in + 5.6, h)
    ax.set_title(f"{g.op_name} as a matrix product: {g.matrix_name} @ x.ravel() = "
                 "y.ravel()", fontsize=9)
    leg = legend(ax, ("input", "output", "kernel", "zero"))
    return {"matrix": mat, "x": x, "y": y, "legend": leg}


def plot_flatten(g: Geometry, *, ax: Axes) -> dict[str, object]:
    """The input grid flattened, row by row, into the column vector ``x.ravel()`` (the
    article's 16x1 input column).

    Returns:
        ``{"grid": GridArtists, "column": GridArtists}``.
    """
    hi, wi = g.in_size
    n = g.x.size
    top = (n - hi) / 2
    grid = draw_grid(g.x, np.full(g.in_size, "input", dtype=object), ax=ax, origin=(top, 0),
                     title=f"input {hi}x{wi}")
    _symbol(ax, wi + 1.1, n / 2, "ravel\n→")
    col = plot_vector(g.x, ax=ax, kind="input", origin=(0, wi + 3.2), title=f"x ({n}x1)",
                      row_names=_cell_names(g.in_size))["column"]
    place(ax, wi + 4.2, n)
    return {"grid": grid, "column": col}


def plot_reshape(g: Geometry, *, ax: Axes) -> dict[str, object]:
    """The output column reshaped to the output grid (the article's last pictures).

    Returns:
        ``{"column": GridArtists, "grid": GridArtists}``.
    """
    n = g.y.size
    col = plot_vector(g.y, ax=ax, kind="output", title=f"y ({n}x1)",
                      row_names=_cell_names(g.out_size))["column"]
    ho, wo = g.out_size
    top = (n - ho) / 2
    _symbol(ax, 2.2, n / 2, "reshape\n→")
    grid = draw_grid(g.y, np.full(g.out_size, "output", dtype=object), ax=ax,
                     origin=(top, 3.5), title=f"output {ho}x{wo}")
    place(ax, 3.5 + wo, n)
    ax.set_xlim(-1.6, 3.8 + wo)
    return {"column": col, "grid": grid}
