"""``tconv figures``: the article's pictures, computed for any configuration.

For a convolution (input size, kernel, stride, padding, dilation) and the transposed
convolution that undoes its shape (input = the conv's output size, same kernel, stride,
padding, dilation, plus ``output_padding``), writes PNGs of every picture of the article --
input ⊛ kernel = output, the kernel, the receptive field (many-to-one), the footprint
(one-to-many), C and Cᵀ as heat-maps, how a row of C is made, the matrix products, the
reshape, the zero-insertion view -- and GIFs of the sliding kernel (conv; conv_transpose as
scatter and as zero insertion), plus ``figures.html`` listing them. Every number and every
highlighted cell is computed by tconv (``tconv.viz.geometry``), not drawn by hand.
"""

from __future__ import annotations

import argparse
import html
import pathlib
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ._outputs import add_overwrite, check_folder_out

__all__ = ["add_parser", "run", "demo", "write_figures", "parse_value"]

EPILOG = """examples:
  tconv figures --out figs                       # the article: 4x4 * 3x3 -> 2x2 and back
  tconv figures --out figs-stride2 --input-size 5 --stride 2 --padding 1 --output-padding 0
  tconv figures --out figs-dilated --input-size 6,7 --kernel-size 3,2 --dilation 2 --mode conv
  tconv figures --out figs-k4 --input-size 6 --kernel-size 4 --stride 2 --padding 1 --no-gif
"""


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"2,1"`` -> (2, 1), anything else (``"same"``) -> the string."""
    t = text.strip()
    inner = t[1:-1].strip() if t.startswith("(") and t.endswith(")") else t
    parts = [p.strip() for p in inner.split(",")]
    try:
        if len(parts) == 1:
            return int(parts[0])
        return tuple(int(p) for p in parts if p)
    except ValueError:
        return t


#: Figures draw every cell (and C cell by cell): at most this many per side of the input,
#: kernel, stride, padding and dilation, and MAX_CELLS cells of any grid drawn.
MAX_SIDE = 32
MAX_CELLS = 64 * 64


def _bounded(name: str, lo: int, strings: bool = False) -> Callable[[str], Any]:
    """An argparse type: :func:`parse_value`, with every int in ``[lo, MAX_SIDE]`` (and a
    string such as ``same`` only where ``strings``)."""
    def parse(text: str) -> Any:
        value = parse_value(text)
        if isinstance(value, str) and not strings:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: expected N or H,W (integers)")
        ints = (value,) if isinstance(value, int) else value if isinstance(value, tuple) else ()
        if isinstance(value, tuple) and not 1 <= len(value) <= 2:
            raise argparse.ArgumentTypeError(f"{text!r}: expected N or H,W")
        if any(not lo <= v <= MAX_SIDE for v in ints):
            raise argparse.ArgumentTypeError(
                f"{name} {text!r} must be in [{lo}, {MAX_SIDE}] (figures draw every cell)")
        return value
    return parse


def _dpi(text: str) -> int:
    try:
        dpi = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 10 <= dpi <= 600:
        raise argparse.ArgumentTypeError(f"{dpi} must be in [10, 600]")
    return dpi


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("figures", help="the article's pictures and animations for any "
                       "configuration (PNG, GIF, figures.html)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__, epilog=EPILOG)
    p.add_argument("--out", type=pathlib.Path, required=True, help="output folder (created)")
    add_overwrite(p, "the pictures in --out")
    p.add_argument("--input-size", type=_bounded("input size", 1), default=None,
                   help=f"H,W (or N) of the conv input, 1 to {MAX_SIDE} each "
                        "(default: the article's 4x4 data)")
    p.add_argument("--kernel-size", type=_bounded("kernel size", 1), default=3,
                   help="kh,kw or k")
    p.add_argument("--stride", type=_bounded("stride", 1), default=1)
    p.add_argument("--padding", type=_bounded("padding", 0, strings=True), default=0,
                   help="int, H,W, or a string: valid, same (conv and transposed), "
                        "same_lower (transposed)")
    p.add_argument("--dilation", type=_bounded("dilation", 1), default=1)
    p.add_argument("--output-padding", type=_bounded("output padding", 0), default=0,
                   help="of the transposed convolution")
    p.add_argument("--mode", choices=("both", "conv", "transposed"), default="both")
    p.add_argument("--no-gif", action="store_true", help="skip the animations")
    p.add_argument("--dpi", type=_dpi, default=100, help="10 to 600 (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input values")
    p.set_defaults(func=run, figures_parser=p)


# --------------------------------------------------------------------------- drawing


def _fit(fig, ax, unit: float = 0.45, max_inches: float = 30.0) -> None:
    """Size the figure so one grid cell is ``unit`` inches (labels stay legible).

    The default axes spans about 0.775 x 0.77 of the figure; ``bbox_inches="tight"`` on
    saving trims the rest and keeps titles and legends that overflow the axes.
    """
    x0, x1 = ax.get_xlim()
    y1, y0 = ax.get_ylim()
    w = min(max_inches, abs(x1 - x0) * unit / 0.775)
    h = min(max_inches, abs(y1 - y0) * unit / 0.77)
    fig.set_size_inches(max(w, 3.0), max(h, 2.0))


def _save_png(path: pathlib.Path, draw: Callable[..., Any], dpi: int,
              heatmap: tuple[int, int] | None = None) -> pathlib.Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        draw(ax=ax)
        if heatmap is None:
            _fit(fig, ax)
        else:
            rows, cols = heatmap
            fig.set_size_inches(max(5.0, min(30.0, cols * 0.32 + 1.8)),
                                max(2.8, min(30.0, rows * 0.32 + 1.8)))
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _save_gif(path: pathlib.Path, g: Any, view: str, dpi: int, fps: float = 1.5
              ) -> pathlib.Path:
    """Draw every frame of ``tconv.viz.animation`` with a tight bounding box (so titles and
    legends are never clipped), pad the frames to one size and write a looping GIF."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from tconv.viz.animate import draw_frame, frame_count

    fig, ax = plt.subplots()
    frames = []
    try:
        bbox = None
        for i in range(frame_count(g, view)):
            draw_frame(g, view, i, ax=ax)
            if bbox is None:    # frame 0 fixes the size; a margin absorbs longer titles
                _fit(fig, ax)
                bbox = fig.get_tightbbox().padded(0.25)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, bbox_inches=bbox)
            frames.append(Image.open(buf).convert("RGB"))
    finally:
        plt.close(fig)
    w = max(f.width for f in frames)
    h = max(f.height for f in frames)
    padded = []
    for f in frames:
        canvas = Image.new("RGB", (w, h), "white")
        canvas.paste(f, ((w - f.width) // 2, 0))
        padded.append(canvas.quantize(colors=64, method=Image.Quantize.MEDIANCUT))
    padded[0].save(path, save_all=True, append_images=padded[1:], duration=int(1000 / fps),
                   loop=0, optimize=False, disposal=1)
    return path


def write_figures(out: pathlib.Path, conv_g: Any | None, trans_g: Any | None, *,
                  gifs: bool = True, dpi: int = 100, log: Callable[[str], None] = print,
                  skip: frozenset[str] = frozenset()) -> list[tuple[pathlib.Path, str]]:
    """Write every picture of the given geometries into ``out``; return (path, caption).

    ``skip`` names files not to write (e.g. a slow GIF in the demo).
    """
    from tconv.viz import grids, matrix

    out.mkdir(parents=True, exist_ok=True)
    done: list[tuple[pathlib.Path, str]] = []

    def png(name: str, caption: str, draw: Callable[..., Any],
            heatmap: tuple[int, int] | None = None) -> None:
        if name in skip:
            return
        t0 = time.perf_counter()
        done.append((_save_png(out / name, draw, dpi, heatmap), caption))
        log(f"wrote {out / name} ({time.perf_counter() - t0:.1f} s)")

    def gif(name: str, caption: str, g: Any, view: str) -> None:
        if gifs and name not in skip:
            t0 = time.perf_counter()
            done.append((_save_gif(out / name, g, view, dpi), caption))
            log(f"wrote {out / name} ({time.perf_counter() - t0:.1f} s)")

    for g, stem in ((conv_g, "conv"), (trans_g, "conv_transpose")):
        if g is None:
            continue
        small = g.matrix.shape[0] <= 40 and g.matrix.shape[1] <= 40
        mid_out = (g.out_size[0] // 2, g.out_size[1] // 2)
        png(f"{stem}_operation.png", f"{g.label}",
            partial(grids.plot_operation, g))
        if g.transposed:
            png(f"{stem}_low_to_high.png", "low to high resolution: input and output drawn "
                "at the same size", partial(grids.plot_low_to_high, g))
        png(f"{stem}_kernel.png", "the kernel: tap names and values",
            partial(grids.plot_kernel, g))
        row = int(np.ravel_multi_index(mid_out, g.out_size))
        png(f"{stem}_receptive_field.png",
            f"many-to-one: output cell {mid_out} reads these input cells (row {row} of "
            f"{g.matrix_name})",
            partial(grids.plot_receptive_field, g, mid_out))
        png(f"{stem}_footprint.png", "one-to-many: input cell (0, 0) reaches these output "
            f"cells (column 0 of {g.matrix_name})",
            partial(grids.plot_footprint, g, (0, 0)))
        png(f"{stem}_matrix.png", f"{g.matrix_name} as a heat-map: non-zeros labelled with "
            "their kernel tap",
            partial(matrix.plot_matrix, g), heatmap=g.matrix.shape)
        if not g.transposed:
            png(f"{stem}_matrix_transposed.png", "Cᵀ: the same matrix transposed maps the "
                "output back to the input size (one-to-many)",
                partial(matrix.plot_matrix, g, transpose=True),
                heatmap=g.matrix.shape[::-1])
        png(f"{stem}_row.png", "how a row of C is made: the kernel over the input, zeros "
            "elsewhere, flattened",
            partial(matrix.plot_row_construction, g, (0, 0)))
        if small:
            png(f"{stem}_flatten.png", "the input grid flattened into a column vector",
                partial(matrix.plot_flatten, g))
            png(f"{stem}_product.png", f"{g.op_name} as a matrix product "
                f"{g.matrix_name} @ x = y", partial(matrix.plot_matrix_product, g))
            png(f"{stem}_reshape.png", "the output column reshaped to the output grid",
                partial(matrix.plot_reshape, g))
        if g.transposed:
            png(f"{stem}_zero_insertion.png", "conv_transpose as a convolution over the "
                "zero-inserted, padded input with the flipped kernel",
                partial(grids.plot_zero_insertion, g, mid_out))
            gif(f"{stem}_scatter.gif", "conv_transpose, direct view: each input cell adds "
                "the kernel times its value (one-to-many)", g, "scatter")
            gif(f"{stem}_zero_insertion.gif", "conv_transpose as zero insertion + stride-1 "
                "convolution with the flipped kernel", g, "zero_insertion")
        else:
            gif(f"{stem}_sliding.gif", "conv: the kernel slides over the padded input "
                "(many-to-one)", g, "gather")
    return done


def write_fragment(path: pathlib.Path, items: list[tuple[pathlib.Path, str]],
                   title: str) -> pathlib.Path:
    """``figures.html``: an HTML fragment listing the pictures (paths relative to it)."""
    rows = [f"<section class='tconv-figures'><h3>{html.escape(title)}</h3>"]
    for p, caption in items:
        rel = html.escape(p.relative_to(path.parent).as_posix())
        rows.append(f"<figure><img src='{rel}' alt='{html.escape(caption)}' "
                    f"style='max-width:100%'><figcaption>{html.escape(caption)}</figcaption>"
                    "</figure>")
    rows.append("</section>")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def geometries(input_size: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
               output_padding: Any, mode: str, seed: int = 0) -> tuple[Any, Any]:
    """The conv geometry and its transposed twin (or one of them) for the CLI options.

    ``input_size=None`` gives the article's example: its 4x4 input and 3x3 kernel, and the
    2x2 -> 4x4 transposed convolution.
    """
    from tconv.viz import geometry

    article = input_size is None
    if article:
        from .explain import ARTICLE_INPUT, ARTICLE_KERNEL, ARTICLE_SMALL
        input_size, kernel_size = (4, 4), (3, 3)
    size = (input_size, input_size) if isinstance(input_size, int) else input_size
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    extra_c: dict[str, Any] = dict(x=ARTICLE_INPUT, weight=ARTICLE_KERNEL) if article else {}
    extra_t: dict[str, Any] = dict(x=ARTICLE_SMALL, weight=ARTICLE_KERNEL) if article else {}
    conv_g = trans_g = None
    if mode in ("both", "conv"):
        conv_g = geometry(size, kernel_size, seed=seed, **kw, **extra_c)
    if mode == "both":
        small = conv_g.out_size                         # type: ignore[union-attr]
        trans_g = geometry(small, kernel_size, output_padding=output_padding, transposed=True,
                           seed=seed, **kw, **extra_t)
    elif mode == "transposed":
        trans_g = geometry(size, kernel_size, output_padding=output_padding, transposed=True,
                           seed=seed, **kw, **extra_t)
    return conv_g, trans_g


def _check_cells(args: argparse.Namespace) -> None:
    """Refuse, as an argparse error, grids too large to draw (before any array is made)."""
    import tconv

    size = (4, 4) if args.input_size is None else args.input_size
    size = (size, size) if isinstance(size, int) else size
    k, s, p, d = args.kernel_size, args.stride, args.padding, args.dilation
    sizes = [size]
    try:
        out = tconv.conv_output_size(size, k, s, p, d)
        sizes.append(out)
        if args.mode != "conv":
            small = out if args.mode == "both" else size
            sizes.append(tconv.conv_transpose_output_size(small, k, s, p, args.output_padding,
                                                          d))
    except (ValueError, TypeError):
        return                      # the library's own message comes from geometries()
    for shape in sizes:
        if int(np.prod(shape)) > MAX_CELLS:
            args.figures_parser.error(
                f"a grid of {shape[0]}x{shape[1]} = {int(np.prod(shape))} cells is too large "
                f"to draw (at most {MAX_CELLS}); use a smaller --input-size or --stride")


def run(args: argparse.Namespace) -> int:
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise ImportError('tconv figures needs matplotlib and Pillow: pip install "tconv[viz]"'
                          ) from exc
    matplotlib.use("Agg")
    _check_cells(args)
    check_folder_out("--out", args.out, args.overwrite, marker="figures.html")
    conv_g, trans_g = geometries(args.input_size, args.kernel_size, args.stride, args.padding,
                                 args.dilation, args.output_padding, args.mode, args.seed)
    items = write_figures(args.out, conv_g, trans_g, gifs=not args.no_gif, dpi=args.dpi)
    title = " | ".join(g.label for g in (conv_g, trans_g) if g is not None)
    frag = write_fragment(args.out / "figures.html", items, title)
    print(f"wrote {len(items)} pictures and {frag}")
    return 0


def demo(out_dir: pathlib.Path, log: Callable[[str], None]) -> list[pathlib.Path]:
    """The article's default set into ``out_dir/figures``: PNGs, GIFs, ``figures.html``."""
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise ImportError('figures need matplotlib and Pillow: pip install "tconv[viz]"'
                          ) from exc
    matplotlib.use("Agg")
    folder = out_dir / "figures"
    conv_g, trans_g = geometries(None, 3, 1, 0, 1, 0, "both")
    # stride 1: zero insertion is only padding, so its GIF is shown for the strided case
    items = write_figures(folder, conv_g, trans_g, dpi=80, log=log,
                          skip=frozenset({"conv_transpose_zero_insertion.gif"}))
    # a strided case too: 2x2 -> 3x3 (kernel 3, stride 2, padding 1)
    strided = geometries((2, 2), 3, 2, 1, 1, 0, "transposed")[1]
    items += write_figures(folder / "strided", None, strided, dpi=80, log=log,
                           skip=frozenset({"conv_transpose_kernel.png",
                                           "conv_transpose_row.png",
                                           "conv_transpose_reshape.png"}))
    write_fragment(folder / "figures.html", items,
                   f"{conv_g.label} | {trans_g.label} | {strided.label}")
    return [p for p, _ in items]
