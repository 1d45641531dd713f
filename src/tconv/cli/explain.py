"""``tconv explain``: the article's walk-through, computed for any 2-D configuration.

Convolution as a matrix: C (from :func:`tconv.conv_matrix`) maps the flattened input to the
flattened output (many-to-one); C.T maps back (one-to-many), and equals ``conv_transpose``
and the zero-insertion form, which multiplies inserted zeros. The walk-through says why the
transposed convolution needs its output_padding and whether its kernel footprints overlap
evenly (no checkerboard). ``--lang zh`` prints it in Chinese, with the article's terms
(转置卷积, 卷积矩阵, 棋盘效应).
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Callable

import numpy as np

from ._train_options import MAX_SEED, int_at_least

#: The article's example data (Shibuya, "Up-sampling with Transposed Convolution").
ARTICLE_INPUT = np.array([[4, 5, 8, 7], [1, 8, 8, 8], [3, 6, 6, 4], [6, 5, 7, 8]])
ARTICLE_KERNEL = np.array([[1, 4, 1], [1, 4, 3], [3, 3, 1]])
ARTICLE_SMALL = np.array([[2, 1], [4, 4]])


#: The walk-through prints C (output cells x input cells) in full: at most this many per side.
MAX_SIDE = 32


def _ints(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or H,W (integers), got {text!r}") from None
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError(f"expected N or H,W, got {text!r}")


def _bounded(lo: int, hi: int) -> Callable[[str], tuple[int, int]]:
    """An argparse type: N or H,W with every value in [lo, hi]."""
    def parse(text: str) -> tuple[int, int]:
        pair = _ints(text)
        if not all(lo <= v <= hi for v in pair):
            why = (f"; the walk-through prints the matrix C in full, so at most {hi} per side"
                   if max(pair) > hi else "")
            raise argparse.ArgumentTypeError(f"{text!r} must be in [{lo}, {hi}]{why}")
        return pair
    return parse


_pair = _ints


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="the article's walk-through: C, C.T, conv_transpose, zero insertion",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__,
        epilog="examples:\n  tconv explain                         # 4x4 input, 3x3 kernel\n"
               "  tconv explain --input-size 5 --stride 2 --padding 1\n"
               "  tconv explain --input-size 3,4 --kernel-size 2 --dilation 2 --random --seed 1\n"
               "  tconv explain --lang zh                # 中文：转置卷积、卷积矩阵、棋盘效应")
    p.add_argument("--input-size", type=_bounded(1, MAX_SIDE), default=(4, 4),
                   help=f"H,W of the conv input, 1 to {MAX_SIDE} each")
    p.add_argument("--kernel-size", type=_bounded(1, MAX_SIDE), default=(3, 3), help="kh,kw")
    p.add_argument("--stride", type=_bounded(1, MAX_SIDE), default=(1, 1))
    p.add_argument("--padding", type=_bounded(0, MAX_SIDE), default=(0, 0))
    p.add_argument("--dilation", type=_bounded(1, MAX_SIDE), default=(1, 1))
    p.add_argument("--lang", choices=("en", "zh"), default="en",
                   help="language of the text: en (default) or zh (Chinese, the article's terms)")
    p.add_argument("--random", action="store_true", help="random integers instead of the "
                   "article's numbers / 1, 2, 3, ...")
    p.add_argument("--seed", type=int_at_least(0, MAX_SEED), default=0)
    p.set_defaults(func=run)


#: The walk-through's sentences, in English and in Chinese (the article's terms: 转置卷积
#: transposed convolution, 卷积矩阵 convolution matrix, 棋盘效应 checkerboard artifacts).
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "== Convolution: {h}x{w} input, {kh}x{kw} kernel, {cfg} ==",
        "input": "1. input x ({h}x{w})",
        "kernel": "2. kernel w ({kh}x{kw})",
        "direct": "\n3. direct convolution: output {oh}x{ow}. Many-to-one: each output adds {n} "
                  "products of the kernel with an input window.",
        "conv": "   conv(x, w) ({oh}x{ow})",
        "matrix": "\n4. the convolution matrix C ({r}x{c}): row r is the kernel laid over the "
                  "flattened input at output position r, zeros elsewhere",
        "C": "   C ({r}x{c})",
        "flat": "5. flattened input x.ravel() ({n}x1)",
        "Cx": "6. C @ x ({n}x1)",
        "reshaped": "   reshaped to {oh}x{ow} -- equal to the direct convolution: {ok}",
        "t_title": "\n== Transposed convolution: C.T ({r}x{c}) maps {c} values to {r}: "
                   "one-to-many ==",
        "z": "7. a {oh}x{ow} input z",
        "CT": "8. C.T ({r}x{c})",
        "up": "9. C.T @ z.ravel() reshaped to {h}x{w} (up-sampled)",
        "reach": "\n10. one-to-many: the outputs each input element of z reaches (its column "
                 "of C.T)",
        "reach_line": "   z[{i},{j}] -> {n} outputs: {cells}",
        "op_why": "\n11. output_padding={op}: conv_transpose of a {oh}x{ow} input gives "
                  "(n-1)*stride - pad_low - pad_high + dilation*(k-1) + 1 = {base} without "
                  "it, but the convolution read {h}x{w}: its floor division "
                  "floor((n + pads - dilation*(k-1) - 1) / stride) dropped {op} trailing "
                  "row(s)/column(s) that no output window reached, so output_padding adds them "
                  "back (output_padding_for).",
        "op_zero": "\n11. output_padding={op}: with these sizes conv_transpose of a {oh}x{ow} "
                   "input already gives {h}x{w} (the convolution's windows tiled the padded "
                   "input exactly), so no output_padding is needed.",
        "equal": "12. conv_transpose(z, w, stride={s}, padding={p}, output_padding={op}) "
                 "equals C.T @ z: {ok}",
        "zi": "    zero insertion (insert stride-1 zeros, pad dilation*(k-1)-padding, convolve "
              "with the flipped kernel) equals it too: {ok}",
        "macs": "13. multiplications: C.T does {useful} useful ones; zero insertion does {total} "
                "({wasted} wasted on inserted or padded zeros, {pct:.0f}%)",
        "overlap": "14. kernel overlap (checkerboard artifacts): output phase r is reached by the "
                   "taps t with t*dilation = r (mod stride); taps per phase in each dim: {counts}.",
        "even": "    The overlap is even (every phase gets the same number of taps: "
                "k % stride == 0 and gcd(dilation, stride) == 1, or stride 1): "
                "no checkerboard from the overlap.",
        "uneven": "    The overlap is UNEVEN ({rule}): a constant input comes out as a "
                  "checkerboard (see tconv checkerboard; resize-conv or pixel shuffle with ICNR "
                  "avoid it).",
        "rule_k": "k={k} is not a multiple of stride={s}",
        "rule_d": "gcd(dilation={d}, stride={s}) = {g} leaves phases with no tap",
    },
    "zh": {
        "title": "== 卷积：{h}x{w} 输入，{kh}x{kw} 卷积核，{cfg} ==",
        "input": "1. 输入 x（{h}x{w}）",
        "kernel": "2. 卷积核 w（{kh}x{kw}）",
        "direct": "\n3. 直接卷积：输出 {oh}x{ow}。多对一（many-to-one）：每个输出是卷积核与一个"
                  "输入窗口的 {n} 个乘积之和。",
        "conv": "   conv(x, w)（{oh}x{ow}）",
        "matrix": "\n4. 卷积矩阵 C（{r}x{c}）：第 r 行是把卷积核放在摊平的输入上、对应输出位置 r，"
                  "其余位置补 0",
        "C": "   C（{r}x{c}）",
        "flat": "5. 摊平（flatten）的输入列向量 x.ravel()（{n}x1）",
        "Cx": "6. C @ x（{n}x1）",
        "reshaped": "   重新塑形为 {oh}x{ow} —— 与直接卷积相同：{ok}",
        "t_title": "\n== 转置卷积：转置卷积矩阵 C.T（{r}x{c}）把 {c} 个值映射为 {r} 个："
                   "一对多（one-to-many）==",
        "z": "7. 一个 {oh}x{ow} 的输入 z",
        "CT": "8. C.T（{r}x{c}）",
        "up": "9. C.T @ z.ravel() 重新塑形为 {h}x{w}（上采样）",
        "reach": "\n10. 一对多：z 的每个元素到达的输出位置（C.T 的一列）",
        "reach_line": "   z[{i},{j}] -> {n} 个输出：{cells}",
        "op_why": "\n11. output_padding={op}：不加它时，{oh}x{ow} 输入的转置卷积给出 "
                  "(n-1)*stride - 前填充 - 后填充 + dilation*(k-1) + 1 = {base}，但卷积读的是 "
                  "{h}x{w}：它的向下取整 floor((n + 填充 - dilation*(k-1) - 1) / stride) 丢掉了"
                  "末尾 {op} 行/列（没有输出窗口到达它们），output_padding 把它们补回来"
                  "（output_padding_for）。",
        "op_zero": "\n11. output_padding={op}：这些尺寸下 {oh}x{ow} 输入的转置卷积正好给出 "
                   "{h}x{w}（卷积窗口恰好铺满填充后的输入），不需要 output_padding。",
        "equal": "12. conv_transpose(z, w, stride={s}, padding={p}, output_padding={op}) "
                 "等于 C.T @ z：{ok}",
        "zi": "    插零形式（在输入元素之间插入 stride-1 个 0，填充 dilation*(k-1)-padding，"
              "再与翻转的卷积核做普通卷积）也相等：{ok}",
        "macs": "13. 乘法次数：C.T 做 {useful} 次有用的乘法；插零形式做 {total} 次"
                "（其中 {wasted} 次浪费在插入或填充的 0 上，占 {pct:.0f}%）",
        "overlap": "14. 卷积核重叠（棋盘效应）：输出相位 r 由满足 t*dilation ≡ r (mod stride) "
                   "的卷积核元素 t 到达；每一维各相位的元素个数：{counts}。",
        "even": "    重叠均匀（每个相位的元素个数相同：k % stride == 0 且 "
                "gcd(dilation, stride) == 1，或 stride 为 1）：重叠本身不产生棋盘效应。",
        "uneven": "    重叠不均匀（{rule}）：常数输入会变成棋盘格（棋盘效应，见 tconv "
                  "checkerboard；先缩放再卷积或带 ICNR 的像素重排可以避免）。",
        "rule_k": "k={k} 不是 stride={s} 的倍数",
        "rule_d": "gcd(dilation={d}, stride={s}) = {g}，有的相位没有任何元素",
    },
}


def walkthrough(input_size: tuple[int, int] = (4, 4), kernel_size: tuple[int, int] = (3, 3),
                stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0),
                dilation: tuple[int, int] = (1, 1), random: bool = False, seed: int = 0,
                lang: str = "en") -> str:
    """The walk-through as text (every number computed by tconv), in ``lang`` ("en", "zh")."""
    from math import gcd

    import tconv
    from tconv import checkerboard

    if lang not in TEXT:
        raise ValueError(f"walkthrough: lang={lang!r} is not one of {tuple(TEXT)}")
    T = TEXT[lang]
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
    kh, kw = kernel_size
    n_in, n_out = h * wd, int(np.prod(out))
    cfg = f"stride={stride}, padding={padding}, dilation={dilation}"

    def block(title: str, a: np.ndarray) -> None:
        say(f"\n{title}")
        arr = np.asarray(a)
        if np.all(np.isclose(arr, np.round(arr))):
            arr = np.round(arr).astype(np.int64)
        say(np.array2string(arr, max_line_width=200, threshold=100000))

    say(T["title"].format(h=h, w=wd, kh=kh, kw=kw, cfg=cfg))
    block(T["input"].format(h=h, w=wd), x)
    block(T["kernel"].format(kh=kh, kw=kw), k)
    y = tconv.conv(x[None, None], w, None, stride, padding, dilation)[0, 0]
    say(T["direct"].format(oh=out[0], ow=out[1], n=kh * kw))
    block(T["conv"].format(oh=out[0], ow=out[1]), y)
    C = tconv.conv_matrix(w, input_size, stride, padding, dilation, sparse=False)
    # structure from the sparse form: explicit zero weights still count as taps
    Cs = tconv.conv_matrix(w, input_size, stride, padding, dilation)
    assert not isinstance(Cs, np.ndarray)  # sparse=True gives a csr_array
    say(T["matrix"].format(r=C.shape[0], c=C.shape[1]))
    block(T["C"].format(r=n_out, c=n_in), C)
    block(T["flat"].format(n=n_in), x.reshape(-1, 1))
    cy = C @ x.ravel()
    block(T["Cx"].format(n=n_out), cy.reshape(-1, 1))
    block(T["reshaped"].format(oh=out[0], ow=out[1], ok=bool(np.allclose(cy.reshape(out), y))),
          cy.reshape(out))
    say(T["t_title"].format(r=n_in, c=n_out))
    small = (ARTICLE_SMALL if article else
             (rng.integers(0, 10, out) if random else np.arange(1, n_out + 1).reshape(out)))
    block(T["z"].format(oh=out[0], ow=out[1]), small)
    block(T["CT"].format(r=n_in, c=n_out), C.T)
    up = (C.T @ small.ravel()).reshape(input_size)
    block(T["up"].format(h=h, w=wd), up)
    say(T["reach"])
    for j in range(n_out):
        hit = Cs.indices[Cs.indptr[j]:Cs.indptr[j + 1]]
        cells = ", ".join(f"({i // wd},{i % wd})" for i in hit)
        say(T["reach_line"].format(i=j // out[1], j=j % out[1], n=len(hit), cells=cells))
    op = tconv.output_padding_for(out, input_size, kernel_size, stride, padding, dilation)
    base = tconv.conv_transpose_output_size(out, kernel_size, stride, padding, 0, dilation)
    key = "op_why" if any(op) else "op_zero"
    say(T[key].format(op=op, oh=out[0], ow=out[1], base=base, h=h, w=wd))
    ref = tconv.conv_transpose(small[None, None], w, None, stride, padding, op, 1, dilation)[0, 0]
    zi = tconv.conv_transpose(small[None, None], w, None, stride, padding, op, 1, dilation,
                              algorithm="zero_insertion")[0, 0]
    say(T["equal"].format(s=stride, p=padding, op=op, ok=bool(np.allclose(ref, up))))
    say(T["zi"].format(ok=bool(np.allclose(zi, up))))
    useful = int(Cs.nnz)
    zi_macs = n_in * int(np.prod(kernel_size))
    say(T["macs"].format(useful=useful, total=zi_macs, wasted=zi_macs - useful,
                         pct=100 * (zi_macs - useful) / zi_macs))
    counts = [checkerboard.overlap_map(kk, ss, dd, ndim=1).tolist()
              for kk, ss, dd in zip(kernel_size, stride, dilation)]
    say("\n" + T["overlap"].format(counts=" x ".join(str(c) for c in counts)))
    if checkerboard.is_uneven(kernel_size, stride, dilation):
        rules = []
        for kk, ss, dd in zip(kernel_size, stride, dilation):
            if ss > 1 and gcd(dd, ss) > 1:
                rules.append(T["rule_d"].format(d=dd, s=ss, g=gcd(dd, ss)))
            elif ss > 1 and kk % ss:
                rules.append(T["rule_k"].format(k=kk, s=ss))
        say(T["uneven"].format(rule="; ".join(dict.fromkeys(rules))))
    else:
        say(T["even"])
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    print(walkthrough(args.input_size, args.kernel_size, args.stride, args.padding,
                      args.dilation, args.random, args.seed, args.lang), end="")
    return 0


def demo(out_dir: pathlib.Path, log: Callable[[str], None]) -> list[pathlib.Path]:
    path = out_dir / "explain.txt"
    text = walkthrough()
    path.write_text(text)
    log(text.split("\n== Transposed")[0].split("4. the convolution matrix")[0].rstrip())
    log(f"   ... full walk-through in {path}")
    return [path]
