"""Checkerboard figures: overlap maps and the up-sampler comparison (``viz`` extra).

Every picture is data from :mod:`tconv.checkerboard`: :func:`plot_overlap_map` draws
``overlap_map(k, s, d)`` tiled over a few periods (how many kernel taps reach each output
pixel), :func:`plot_upsampler_comparison` draws the outputs of
:func:`tconv.checkerboard.upsampler_responses` as deviations from their interior mean, on one
shared colour scale, titled with their :func:`~tconv.checkerboard.artifact_score`. Functions
take the data and a required ``ax=``, draw, and return their artists; they never show or
save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage
from matplotlib.text import Text

from .._typing import IntOrTuple
from ..checkerboard import artifact_score, overlap_map, overlap_ratio

__all__ = ["OverlapArtists", "PanelArtists", "plot_overlap_map", "plot_overlap_grid",
           "plot_upsampler_comparison", "UPSAMPLER_TITLES"]

#: panel titles of the keys of :func:`tconv.checkerboard.upsampler_responses`
UPSAMPLER_TITLES = {
    "transposed": "transposed conv",
    "pixel_shuffle": "pixel shuffle",
    "pixel_shuffle_icnr": "pixel shuffle + ICNR",
    "resize_conv": "resize-conv (nearest)",
}


@dataclass
class OverlapArtists:
    """Artists of one overlap map.

    Attributes:
        image: the ``AxesImage``; ``image.get_array()`` is the tiled overlap map.
        texts: the count written in each cell (row-major), empty without ``annotate``.
        title: the title ``Text``.
        lines: the period boundary lines.
    """

    image: AxesImage
    texts: list[Text]
    title: Text
    lines: list = field(default_factory=list)


@dataclass
class PanelArtists:
    """Artists of one up-sampler panel: ``image.get_array()`` is ``output - interior mean``."""

    name: str
    image: AxesImage
    title: Text
    score: float


def _pair(v: IntOrTuple) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def plot_overlap_map(kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple = 1, *,
                     ax: Axes, periods: int = 3, annotate: bool = True,
                     cmap: str = "viridis", vmax: float | None = None) -> OverlapArtists:
    """Draw the 2-D overlap map of a transposed convolution, tiled ``periods`` times.

    Args:
        kernel_size, stride, dilation: the layer (ints or pairs).
        ax: axes to draw on.
        periods: how many stride periods to show per dim.
        annotate: write the count in each cell.
        cmap: matplotlib colormap (0 taps is its darkest colour).
        vmax: top of the colour scale (default: this map's maximum) -- share it across a
            grid to compare maps.

    Returns:
        An :class:`OverlapArtists`.
    """
    k, s, d = _pair(kernel_size), _pair(stride), _pair(dilation)
    tile = overlap_map(k, s, d)
    data = np.tile(tile, (periods, periods))
    top = float(vmax if vmax is not None else max(int(tile.max()), 1))
    image = ax.imshow(data, cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
    texts: list[Text] = []
    if annotate:
        for (r, c), v in np.ndenumerate(data):
            light = v < 0.6 * top
            texts.append(ax.text(c, r, str(int(v)), ha="center", va="center", fontsize=8,
                                 color="white" if light else "black"))
    lines = []
    for i in range(1, periods):
        lines.append(ax.axhline(i * s[0] - 0.5, color="white", linewidth=1.2))
        lines.append(ax.axvline(i * s[1] - 0.5, color="white", linewidth=1.2))
    ratio = overlap_ratio(k, s, d)
    verdict = "even" if ratio == 1 else ("holes" if ratio == float("inf")
                                         else f"uneven x{ratio:g}")
    k_txt = f"k={k[0]}" if k[0] == k[1] else f"k={k}"
    s_txt = f"s={s[0]}" if s[0] == s[1] else f"s={s}"
    d_txt = "" if d == (1, 1) else (f", d={d[0]}" if d[0] == d[1] else f", d={d}")
    title = ax.set_title(f"{k_txt}, {s_txt}{d_txt}: {verdict}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return OverlapArtists(image, texts, title, lines)


def plot_overlap_grid(configs: Sequence[tuple[int, ...]], *,
                      ax: Sequence[Axes] | np.ndarray, periods: int = 3, annotate: bool = True,
                      ) -> list[OverlapArtists]:
    """Overlap maps of several ``(kernel, stride[, dilation])`` on one colour scale.

    Args:
        configs: ``(k, s)`` or ``(k, s, d)`` tuples.
        ax: one axes per config (e.g. ``axes.ravel()``); extra axes are hidden.
        periods, annotate: as in :func:`plot_overlap_map`.

    Returns:
        one :class:`OverlapArtists` per config.
    """
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) < len(configs):
        raise ValueError(f"plot_overlap_grid: ax has {len(axes)} axes, fewer than the "
                         f"{len(configs)} configs")
    top = max(int(overlap_map(c[0], c[1], c[2] if len(c) > 2 else 1).max()) for c in configs)
    out = [plot_overlap_map(c[0], c[1], c[2] if len(c) > 2 else 1, ax=a, periods=periods,
                            annotate=annotate, vmax=top) for c, a in zip(configs, axes)]
    for a in axes[len(configs):]:
        a.set_visible(False)
    return out


def plot_upsampler_comparison(responses: Mapping[str, np.ndarray], stride: int, *,
                              ax: Sequence[Axes] | np.ndarray, border: int | None = None,
                              cmap: str = "RdBu_r") -> list[PanelArtists]:
    """Draw each up-sampler's output as its deviation from its interior mean.

    Each panel has its own symmetric colour scale, ``+-`` its largest interior deviation
    (written in its title), so a stride-periodic pattern is visible however weak; a panel
    whose interior is flat (deviation 0) borrows the largest scale of the others and shows
    white. Zero-padding effects at the borders saturate.

    Args:
        responses: name -> 2-D output (e.g. :func:`tconv.checkerboard.upsampler_responses`).
        stride: the up-sampling factor (for the score).
        ax: one axes per response.
        border: pixels excluded on each side for the mean, the scale and the score
            (default ``2 * stride``).
        cmap: diverging colormap.

    Returns:
        one :class:`PanelArtists` per response, in order.
    """
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) < len(responses):
        raise ValueError(f"plot_upsampler_comparison: ax has {len(axes)} axes, fewer than the "
                         f"{len(responses)} responses")
    b = 2 * stride if border is None else int(border)
    devs = {}
    for name, y in responses.items():
        y = np.asarray(y, dtype=np.float64)
        inner = y[b:y.shape[0] - b, b:y.shape[1] - b]
        devs[name] = (y - inner.mean(), float(np.abs(inner - inner.mean()).max()))
    fallback = max(m for _, m in devs.values()) or 1.0
    panels = []
    for (name, (dev, spread)), a in zip(devs.items(), axes):
        scale = spread if spread > 1e-12 else fallback
        image = a.imshow(dev, cmap=cmap, vmin=-scale, vmax=scale, interpolation="nearest")
        score = float(artifact_score(responses[name], stride, border=b))
        title = a.set_title(f"{UPSAMPLER_TITLES.get(name, name)}\nscore {score:.2f}, "
                            f"interior \u00b1{spread if spread > 1e-12 else 0:.2g}", fontsize=10)
        a.set_xticks([])
        a.set_yticks([])
        panels.append(PanelArtists(name, image, title, score))
    return panels
