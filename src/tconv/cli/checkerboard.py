"""``tconv checkerboard``: overlap maps, the overlap table and the up-sampler comparison.

Prints, for each (kernel, stride, dilation), how many kernel taps reach each output phase
of a transposed convolution (Odena, Dumoulin & Olah, Distill 2016: uneven when the stride
does not divide the kernel), and with ``--out`` writes two PNGs: the overlap maps, and a
random-weight transposed conv / pixel shuffle / pixel shuffle + ICNR / resize-conv on a
constant image. ``--weight`` reports a saved transposed-conv weight's phase sums.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Callable, Sequence

from ._outputs import check_file_in, check_folder_out
from ._train_options import MAX_SEED, int_at_least

EPILOG = """examples:
  tconv checkerboard
  tconv checkerboard --kernel-sizes 2,3,4,5,6 --strides 2,3 --dilation 1
  tconv checkerboard --out cb-figures --kernel 3 --stride 2 --image-size 12
  python -c "import numpy; numpy.save('w.npy', numpy.ones((8, 1, 3, 3)))"
  tconv checkerboard --weight w.npy --stride 2
"""

#: the (kernel, stride) pairs of the default overlap figure
DEFAULT_CONFIGS = ((2, 2), (3, 2), (4, 2), (5, 2), (3, 3), (4, 3), (5, 3), (6, 3))


#: the largest kernel, stride or dilation the table and the comparison draw
MAX_K = 64


def _ints(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be comma-separated integers") from None
    if not 1 <= len(values) <= 32 or any(not 1 <= v <= MAX_K for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 to 32 integers in 1..{MAX_K}")
    return values


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checkerboard", help="kernel-overlap maps and checkerboard figures",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__, epilog=EPILOG)
    p.add_argument("--kernel-sizes", type=_ints, default=[2, 3, 4, 5, 6],
                   help="kernel sizes of the table (default 2,3,4,5,6)")
    p.add_argument("--strides", type=_ints, default=[2, 3], help="strides (default 2,3)")
    p.add_argument("--dilation", type=int_at_least(1, MAX_K), default=1,
                   help="dilation (default 1)")
    p.add_argument("--out", type=pathlib.Path, default=None,
                   help="folder for overlap_maps.png and upsamplers.png (created)")
    p.add_argument("--kernel", type=int_at_least(1, MAX_K), default=3,
                   help="kernel of the comparison (3)")
    p.add_argument("--stride", type=int_at_least(1, MAX_K), default=2,
                   help="stride of the comparison (2)")
    p.add_argument("--image-size", type=int_at_least(1, 512), default=12,
                   help="side of the constant input image of the comparison (12)")
    p.add_argument("--seed", type=int_at_least(0, MAX_SEED), default=0,
                   help="seed of the random weights (0)")
    p.add_argument("--dpi", type=int_at_least(10, 600), default=100, help="PNG resolution (100)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace overlap_maps.png / upsamplers.png if --out holds them")
    p.add_argument("--weight", type=pathlib.Path, default=None,
                   help=".npy transposed-conv weight (C_in, C_out/groups, *K): print its "
                        "phase sums for --stride")
    p.set_defaults(func=run)


def overlap_table(kernel_sizes: Sequence[int], strides: Sequence[int], dilation: int = 1,
                  ) -> str:
    """The 1-D overlap table as text: taps per phase, max/min ratio, verdict."""
    from ..checkerboard import is_uneven, overlap_map, overlap_ratio

    lines = [f"{'k':>3} {'s':>3} {'d':>3}  {'taps per phase':<22} {'max/min':>7}  verdict"]
    for s in strides:
        for k in kernel_sizes:
            counts = overlap_map(k, s, dilation, ndim=1)
            ratio = overlap_ratio(k, s, dilation, ndim=1)
            verdict = "uneven (checkerboard)" if is_uneven(k, s, dilation) else "even"
            lines.append(f"{k:>3} {s:>3} {dilation:>3}  {str(counts.tolist()):<22} "
                         f"{ratio:>7.3g}  {verdict}")
    return "\n".join(lines)


#: the files ``--out`` receives
FIGURES = ("overlap_maps.png", "upsamplers.png")


def _check_targets(out: pathlib.Path, overwrite: bool) -> None:
    existing = [out / name for name in FIGURES if (out / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"checkerboard: {', '.join(repr(str(p)) for p in existing)} "
                              "exist; pass --overwrite to replace them or choose another "
                              "--out")


def _save(fig, path: pathlib.Path, dpi: int, overwrite: bool) -> None:
    # render into memory, then write atomically: an interrupted run leaves no half PNG
    import io

    from ..io import atomic_write

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue(), overwrite=overwrite)


def write_figures(out: pathlib.Path, *, configs: Sequence[tuple[int, ...]] = DEFAULT_CONFIGS,
                  kernel: int = 3, stride: int = 2, image_size: int = 12, seed: int = 0,
                  dpi: int = 100, log: Callable[[str], None] = print,
                  overwrite: bool = True) -> list[pathlib.Path]:
    """Write ``overlap_maps.png`` and ``upsamplers.png`` into ``out`` (matplotlib Agg).

    Raises:
        FileExistsError: one of them exists and ``overwrite`` is false (checked first).
    """
    _check_targets(out, overwrite)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..checkerboard import upsampler_responses
    from ..viz.checkerboard import plot_overlap_grid, plot_upsampler_comparison

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    cols = 4
    rows = -(-len(configs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 3.0 * rows), squeeze=False,
                             layout="constrained")
    plot_overlap_grid(configs, ax=axes.ravel())
    fig.suptitle("Transposed conv: kernel taps reaching each output pixel (3 stride periods)",
                 fontsize=11)
    path = out / "overlap_maps.png"
    _save(fig, path, dpi, overwrite)
    plt.close(fig)
    paths.append(path)
    log(f"wrote {path}")

    responses = upsampler_responses(np.ones((image_size, image_size)), stride, kernel,
                                    seed=seed)
    fig, axes = plt.subplots(1, len(responses), figsize=(2.9 * len(responses), 3.5),
                             squeeze=False, layout="constrained")
    plot_upsampler_comparison(responses, stride, ax=axes[0])
    fig.suptitle(f"x{stride} up-sampling of a constant image with random weights (kernel "
                 f"{kernel}, seed {seed})\nred/blue: output minus its interior mean, "
                 "each panel scaled to its own interior range", fontsize=10)
    path = out / "upsamplers.png"
    _save(fig, path, dpi, overwrite)
    plt.close(fig)
    paths.append(path)
    log(f"wrote {path}")
    return paths


def load_weight(path: pathlib.Path):
    """A ``.npy`` array for ``--weight``, with a plain message for anything else."""
    import numpy as np

    if not path.is_file():
        raise FileNotFoundError(f"checkerboard: --weight {str(path)!r}: no such file")
    with open(path, "rb") as f:
        head = f.read(6)
    if head != b"\x93NUMPY":
        kind = ("a .npz archive (save one array with numpy.save)" if head.startswith(b"PK")
                else "not a .npy array file")
        raise ValueError(f"checkerboard: --weight {str(path)!r} is {kind}; give a weight "
                         "saved with numpy.save, shaped (C_in, C_out/groups, *K)")
    try:
        w = np.load(path, allow_pickle=False)
    except Exception:
        raise ValueError(f"checkerboard: --weight {str(path)!r} is not a .npy file of numbers "
                         "(truncated, or it holds Python objects); give a weight saved with "
                         "numpy.save") from None
    if w.dtype.kind not in "fiu" or w.ndim < 3:
        raise ValueError(f"checkerboard: --weight {str(path)!r} holds a {w.dtype} array of "
                         f"shape {w.shape}; a transposed-conv weight is real numbers shaped "
                         "(C_in, C_out/groups, *K)")
    return w


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_folder_out("--out", args.out)
        _check_targets(args.out, args.overwrite)             # before any work
    if args.weight is not None:
        check_file_in("--weight", args.weight)
    weight = load_weight(args.weight) if args.weight is not None else None
    print(overlap_table(args.kernel_sizes, args.strides, args.dilation))
    if weight is not None:
        import numpy as np

        from ..checkerboard import phase_sums

        sums = phase_sums(weight, args.stride)
        spread = np.ptp(sums.reshape(sums.shape[0], -1), axis=1)
        print(f"\nphase sums of {args.weight} (stride {args.stride}), per output channel:")
        for c, (row, sp) in enumerate(zip(sums.reshape(sums.shape[0], -1), spread)):
            print(f"  c_out={c}: {np.array2string(row, precision=4)}  spread {sp:.4g}")
    if args.out is not None:
        try:
            write_figures(args.out, kernel=args.kernel, stride=args.stride,
                          image_size=args.image_size, seed=args.seed, dpi=args.dpi,
                          overwrite=args.overwrite)
        except ModuleNotFoundError as exc:
            raise ImportError('tconv checkerboard --out needs matplotlib: pip install '
                              '"tconv[viz]"') from exc
    return 0


def demo(out_dir: pathlib.Path, log: Callable[[str], None]) -> list[pathlib.Path]:
    """Overlap table and the two figures into ``out_dir/checkerboard``."""
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as exc:
        raise ImportError('checkerboard figures need matplotlib: pip install "tconv[viz]"'
                          ) from exc
    folder = out_dir / "checkerboard"
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "overlap_table.txt"
    table.write_text(overlap_table([2, 3, 4, 5, 6], [2, 3]) + "\n")
    log(f"wrote {table}")
    return [table, *write_figures(folder, dpi=90, log=log)]
