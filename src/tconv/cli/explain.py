"""``tconv explain``: the article's walk-through, computed for any 2-D configuration.

Convolution as a matrix: C (from :func:`tconv.conv_matrix`) maps the flattened input to the
flattened output (many-to-one); C.T maps back (one-to-many), and equals ``conv_transpose``
and the zero-insertion form, which multiplies inserted zeros.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Callable

import numpy as np

#: The article's example data (Shibuya, "Up-sampling with Transposed Convolution").
ARTICLE_INPUT = np.array([[4, 5, 8, 7], [1, 8, 8, 8], [3, 6, 6, 4], [6, 5, 7, 8]])
ARTICLE_KERNEL = np.array([[1, 4, 1], [1, 4, 3], [3, 3, 1]])
ARTICLE_SMALL = np.array([[2, 1], [4, 4]])


def _pair(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.replace("x", ",").split(",") if p.strip()]
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError(f"expected N or H,W, got {text!r}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="the article's walk-through: C, C.T, conv_transpose, zero insertion",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__,
        epilog="examples:\n  tconv explain                         # 4x4 input, 3x3 kernel\n"
               "  tconv explain --input-size 5 --stride 2 --padding 1\n"
               "  tconv explain --input-size 3,4 --kernel-size 2 --dilation 2 --random --seed 1")
    p.add_argument("--input-size", type=_pair, default=(4, 4), help="H,W of the conv input")
    p.add_argument("--kernel-size", type=_pair, default=(3, 3), help="kh,kw")
    p.add_argument("--stride", type=_pair, default=(1, 1))
    p.add_argument("--padding", type=_pair, default=(0, 0))
    p.add_argument("--dilation", type=_pair, default=(1, 1))
    p.add_argument("--random", action="store_true", help="random integers instead of the "
                   "article's numbers / 1, 2, 3, ...")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def walkthrough(input_size: tuple[int, int] = (4, 4), kernel_size: tuple[int, int] = (3, 3),
                stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0),
                dilation: tuple[int, int] = (1, 1), random: bool = False, seed: int = 0,
                ) -> str:
    """The walk-through as text (every number computed by tconv)."""
    import tconv

    lines: list[str] = []
    say: Callable[[str], None] = lines.append
    rng = np.random.default_rng(seed)
    article = (tuple(input_size), tuple(kernel_size)) == ((4, 4), (3, 3)) and not random
    if article:
        x, k = ARTICLE_INPUT, ARTICLE_KERNEL
    elif random:
        x, k = rng.integers(0, 10, input_size), rng.integers(-3, 4, kernel_size)
    else:
        x = np.arange(1, int(np.prod(input_size)) + 1).reshape(input_size)
        k = np.arange(1, int(np.prod(kernel_size)) + 1).reshape(kernel_size)
    w = k[None, None]
    out = tconv.conv_output_size(input_size, kernel_size, stride, padding, dilation)
    h, wd = input_size
    n_in, n_out = h * wd, int(np.prod(out))
    cfg = f"stride={stride}, padding={padding}, dilation={dilation}"

    def block(title: str, a: np.ndarray) -> None:
        say(f"\n{title}")
        arr = np.asarray(a)
        if np.all(np.isclose(arr, np.round(arr))):
            arr = np.round(arr).astype(np.int64)
        say(np.array2string(arr, max_line_width=200, threshold=100000))

    say(f"== Convolution: {h}x{wd} input, {kernel_size[0]}x{kernel_size[1]} kernel, {cfg} ==")
    block(f"1. input x ({h}x{wd})", x)
    block(f"2. kernel w ({kernel_size[0]}x{kernel_size[1]})", k)
    y = tconv.conv(x[None, None], w, None, stride, padding, dilation)[0, 0]
    say(f"\n3. direct convolution: output {out[0]}x{out[1]}. Many-to-one: each output adds "
        f"{int(np.prod(kernel_size))} products of the kernel with an input window.")
    block(f"   conv(x, w) ({out[0]}x{out[1]})", y)
    C = tconv.conv_matrix(w, input_size, stride, padding, dilation, sparse=False)
    # structure from the sparse form: explicit zero weights still count as taps
    Cs = tconv.conv_matrix(w, input_size, stride, padding, dilation)
    assert not isinstance(Cs, np.ndarray)  # sparse=True gives a csr_array
    say(f"\n4. the convolution matrix C ({C.shape[0]}x{C.shape[1]}): row r is the kernel laid "
        "over the flattened input at output position r, zeros elsewhere")
    block(f"   C ({n_out}x{n_in})", C)
    block(f"5. flattened input x.ravel() ({n_in}x1)", x.reshape(-1, 1))
    cy = C @ x.ravel()
    block(f"6. C @ x ({n_out}x1)", cy.reshape(-1, 1))
    block(f"   reshaped to {out[0]}x{out[1]} -- equal to the direct convolution: "
          f"{bool(np.allclose(cy.reshape(out), y))}", cy.reshape(out))
    say(f"\n== Transposed convolution: C.T ({n_in}x{n_out}) maps {n_out} values to {n_in}: "
        "one-to-many ==")
    small = (ARTICLE_SMALL if article else
             (rng.integers(0, 10, out) if random else np.arange(1, n_out + 1).reshape(out)))
    block(f"7. a {out[0]}x{out[1]} input z", small)
    block(f"8. C.T ({n_in}x{n_out})", C.T)
    up = (C.T @ small.ravel()).reshape(input_size)
    block(f"9. C.T @ z.ravel() reshaped to {h}x{wd} (up-sampled)", up)
    say("\n10. one-to-many: the outputs each input element of z reaches (its column of C.T)")
    for j in range(n_out):
        hit = Cs.indices[Cs.indptr[j]:Cs.indptr[j + 1]]
        cells = ", ".join(f"({i // wd},{i % wd})" for i in hit)
        say(f"   z[{j // out[1]},{j % out[1]}] -> {len(hit)} outputs: {cells}")
    op = tconv.output_padding_for(out, input_size, kernel_size, stride, padding, dilation)
    ref = tconv.conv_transpose(small[None, None], w, None, stride, padding, op, 1, dilation)[0, 0]
    zi = tconv.conv_transpose(small[None, None], w, None, stride, padding, op, 1, dilation,
                              algorithm="zero_insertion")[0, 0]
    say(f"\n11. conv_transpose(z, w, stride={stride}, padding={padding}, output_padding={op}) "
        f"equals C.T @ z: {bool(np.allclose(ref, up))}")
    say(f"    zero insertion (insert stride-1 zeros, pad dilation*(k-1)-padding, convolve with "
        f"the flipped kernel) equals it too: {bool(np.allclose(zi, up))}")
    useful = int(Cs.nnz)
    zi_macs = n_in * int(np.prod(kernel_size))
    say(f"12. multiplications: C.T does {useful} useful ones; zero insertion does {zi_macs} "
        f"({zi_macs - useful} wasted on inserted or padded zeros, "
        f"{100 * (zi_macs - useful) / zi_macs:.0f}%)")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    print(walkthrough(args.input_size, args.kernel_size, args.stride, args.padding,
                      args.dilation, args.random, args.seed), end="")
    return 0


def demo(out_dir: pathlib.Path, log: Callable[[str], None]) -> list[pathlib.Path]:
    path = out_dir / "explain.txt"
    text = walkthrough()
    path.write_text(text)
    log(text.split("\n== Transposed")[0].split("4. the convolution matrix")[0].rstrip())
    log(f"   ... full walk-through in {path}")
    return [path]
