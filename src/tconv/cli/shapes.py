"""``tconv shapes``: transposed-conv output sizes, conversions between frameworks, a solver.

``size`` prints the output size of a configuration, ``convert`` writes one configuration
in the words of PyTorch, tconv, Keras, ONNX and JAX (or says why a framework cannot express
it), and ``solve`` lists every (kernel, stride, padding, output_padding) reaching an exact
output size, flagging checkerboard-prone and export-risky choices.

A configuration is given in the words of ``--from`` (default torch). Values are ints,
comma lists for per-dim values (``3,4``), ``low:high`` pairs (``1:0,2:1``) for tconv/JAX
padding, or strings (``same``, ``valid``, ``SAME``); ``--output-padding none`` is Keras'
default. Plain ints mean 2-D (images) unless ``--ndim`` says otherwise.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable
from typing import Any

from ._train_options import int_at_least

EPILOG = """examples:
  tconv shapes size --input 8 --kernel 4 --stride 2 --padding 1
  tconv shapes size --from keras --input 7 --kernel 3 --stride 2 --padding same --ndim 1
  tconv shapes convert --kernel 3 --stride 2 --padding 1 --output-padding 1
  tconv shapes convert --from keras --kernel 4 --stride 2 --padding same --to torch
  tconv shapes convert --from onnx --kernel 3 --stride 2 --auto-pad SAME_UPPER --input 5
  tconv shapes convert --from jax --kernel 3 --stride 2 --padding 2:1 --ndim 1
  tconv shapes solve --input 16 --output 32
  tconv shapes solve --input 7 --output 14 --dilations 1,2 --limit 10
"""

FRAMEWORK_CHOICES = ("torch", "tconv", "keras", "onnx", "jax")


#: the largest size, stride, padding or dilation the shape commands read (far above any layer)
MAX_VALUE = 2**31 - 1


def _value(text: str | None) -> Any:
    """Parse ``3``, ``3,4``, ``1:0,2:1``, ``same`` or ``none``."""
    if text is None:
        return None
    t = text.strip()
    if t.lower() == "none":
        return None
    try:
        if ":" in t:
            value: Any = tuple(tuple(int(v) for v in pair.split(":")) for pair in t.split(","))
            ints = [v for pair in value for v in pair]
        elif "," in t:
            value = tuple(int(v) for v in t.split(","))
            ints = list(value)
        else:
            value = int(t)
            ints = [value]
    except ValueError:
        if t.replace("_", "").isalpha() and t.lower() not in ("nan", "inf", "infinity"):
            return t
        raise argparse.ArgumentTypeError(f"{text!r} must be an int, a comma list, low:high "
                                         "pairs or a padding string") from None
    if not ints or len(ints) > 6 or any(abs(v) > MAX_VALUE for v in ints):
        raise argparse.ArgumentTypeError(f"{text!r} must hold 1 to 6 integers of at most "
                                         f"{MAX_VALUE} each")
    return value


def _ints_only(text: str) -> Any:
    """:func:`_value` without padding strings (every option but ``--padding``)."""
    value = _value(text)
    if isinstance(value, str):
        raise argparse.ArgumentTypeError(f"{text!r} must be an int or a comma list of ints")
    return value


#: the largest kernel x stride (per dim) whose taps per phase are listed
MAX_TABLE = 10**6

#: the most kernel sizes, strides or dilations ``solve`` searches (per option)
MAX_RANGE = 1024


def _range(text: str) -> list[int]:
    """``1-8`` or ``1,2,4``: integers in 1..MAX_RANGE."""
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-"))
            values = list(range(lo, min(hi, MAX_RANGE + 1) + 1))
        else:
            values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be a range like 1-8 or a comma "
                                         "list") from None
    if not values or any(not 1 <= v <= MAX_RANGE for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} must name integers in 1..{MAX_RANGE}")
    return values


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="src", choices=FRAMEWORK_CHOICES, default="torch",
                   help="convention the configuration is written in (default torch)")
    p.add_argument("--kernel", type=_ints_only, required=True, help="kernel size (3 or 3,4)")
    p.add_argument("--stride", type=_ints_only, default=1, help="stride (default 1)")
    p.add_argument("--dilation", type=_ints_only, default=1, help="dilation (default 1)")
    p.add_argument("--padding", type=_value, default=None,
                   help="torch/tconv/keras/jax padding (default 0, keras 'valid', jax 'VALID')")
    p.add_argument("--output-padding", type=_ints_only, default=None,
                   help="output padding (default 0; keras: none = infer)")
    p.add_argument("--pads", type=_ints_only, default=None, help="onnx pads: begins then ends")
    p.add_argument("--auto-pad", default="NOTSET",
                   help="onnx auto_pad: NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    p.add_argument("--output-shape", type=_ints_only, default=None,
                   help="onnx output_shape (spatial); needs --input")
    p.add_argument("--consistent-padding", action="store_true",
                   help="jax use_consistent_padding=True (padding of the forward conv)")
    p.add_argument("--input", type=_ints_only, default=None, help="spatial input size")
    p.add_argument("--ndim", type=int_at_least(1, 3), default=None,
                   help="spatial dims when all values are "
                   "plain ints (default 2)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("shapes", help="output sizes, framework conversions, size solver",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__, epilog=EPILOG)
    inner = p.add_subparsers(dest="shapes_command", metavar="ACTION")
    fmt = argparse.RawDescriptionHelpFormatter
    size = inner.add_parser("size", help="output size of a configuration", formatter_class=fmt,
                            epilog=EPILOG)
    _config_args(size)
    conv = inner.add_parser("convert", help="the configuration in every framework's words",
                            formatter_class=fmt, epilog=EPILOG)
    _config_args(conv)
    conv.add_argument("--to", choices=FRAMEWORK_CHOICES, action="append", default=None,
                      help="target framework (repeatable; default all)")
    solve = inner.add_parser("solve", help="configurations reaching an exact output size",
                             formatter_class=fmt, epilog=EPILOG)
    solve.add_argument("--input", type=int_at_least(1, MAX_VALUE), required=True,
                       help="input size (one dim)")
    solve.add_argument("--output", type=int_at_least(1, MAX_VALUE), required=True,
                       help="wanted output size")
    solve.add_argument("--kernels", type=_range, default=list(range(1, 9)),
                       help="kernel sizes searched (default 1-8)")
    solve.add_argument("--strides", type=_range, default=list(range(1, 5)),
                       help="strides searched (default 1-4)")
    solve.add_argument("--dilations", type=_range, default=[1],
                       help="dilations searched (default 1)")
    solve.add_argument("--even-only", action="store_true",
                       help="only checkerboard-free (even overlap) solutions")
    solve.add_argument("--limit", type=int_at_least(0), default=25,
                       help="rows printed (default 25)")
    p.set_defaults(func=run, shapes_parser=p)


def _ndim(args: argparse.Namespace) -> int:
    if args.ndim is not None:
        return args.ndim
    lengths = [len(v) for v in (args.kernel, args.stride, args.dilation, args.input)
               if isinstance(v, tuple)]
    if isinstance(args.output_padding, tuple):
        lengths.append(len(args.output_padding))
    if isinstance(args.padding, tuple):
        lengths.append(len(args.padding))
    if isinstance(args.pads, tuple):
        lengths.append(len(args.pads) // 2)
    return max(lengths) if lengths else 2


def _full(value: Any, nd: int) -> list[int]:
    if isinstance(value, tuple):
        return list(value) if len(value) == nd else list(value) * nd
    return [int(value)] * nd


def spec_from_args(args: argparse.Namespace):  # noqa: ANN201 - TransposedConvSpec
    """Read the configuration flags with the ``--from`` convention's reader."""
    from ..conventions import TransposedConvSpec

    nd = _ndim(args)
    src = args.src
    only = {"--pads": ("onnx", args.pads is not None),
            "--auto-pad": ("onnx", args.auto_pad != "NOTSET"),
            "--output-shape": ("onnx", args.output_shape is not None),
            "--consistent-padding": ("jax", args.consistent_padding)}
    for flag, (owner, given) in only.items():
        if given and src != owner:
            raise ValueError(f"shapes: {flag} is read with --from {owner} only, not with "
                             f"--from {src}")
    if src in ("torch", "tconv"):
        reader = TransposedConvSpec.from_torch if src == "torch" else \
            TransposedConvSpec.from_tconv
        return reader(args.kernel, args.stride, 0 if args.padding is None else args.padding,
                      args.output_padding or 0, args.dilation, ndim=nd)
    if src == "keras":
        return TransposedConvSpec.from_keras(args.kernel, args.stride, args.padding or "valid",
                                             args.output_padding, args.dilation, ndim=nd)
    if src == "jax":
        padding = args.padding if args.padding is not None else "VALID"
        if isinstance(padding, tuple) and padding and isinstance(padding[0], int):
            raise ValueError("jax padding must be SAME, VALID or low:high pairs (e.g. 2:1,2:1)")
        return TransposedConvSpec.from_jax(args.kernel, args.stride, padding, args.dilation,
                                           args.consistent_padding, ndim=nd)
    size = None if args.input is None else tuple(_full(args.input, nd))
    return TransposedConvSpec.from_onnx(
        _full(args.kernel, nd), _full(args.stride, nd),
        None if args.pads is None else _full(args.pads, 2 * nd),
        None if args.output_padding is None else _full(args.output_padding, nd),
        _full(args.dilation, nd), args.auto_pad,
        None if args.output_shape is None else _full(args.output_shape, nd),
        input_size=size)


def _fmt(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _print_size(spec: Any, args: argparse.Namespace) -> None:
    from ..checkerboard import overlap_map

    print(f"canonical: kernel={spec.kernel_size} stride={spec.stride} "
          f"dilation={spec.dilation} crop (low, high)={spec.crop}")
    if args.input is not None:
        size = tuple(_full(args.input, spec.ndim))
        print(f"output size for input {size}: {spec.output_size(size)}")
    verdict = "uneven -> checkerboard-prone" if spec.uneven else "even"
    dims = list(zip(spec.kernel_size, spec.stride, spec.dilation))
    if any(k * s > MAX_TABLE for k, s, _ in dims):   # the table would be k*s entries a dim
        print(f"kernel overlap: {verdict} (taps per phase not listed: kernel x stride is "
              f"above {MAX_TABLE} in a dim)")
        return
    taps = [overlap_map(k, s, d, ndim=1).tolist() for k, s, d in dims]
    print(f"kernel overlap: {verdict} (taps per phase per dim: {taps})")


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "shapes_command", None)
    if command is None:
        args.shapes_parser.print_help()
        return 2
    if command == "solve":
        return _solve(args)
    spec = spec_from_args(args)
    _print_size(spec, args)
    if command == "convert":
        print()
        for dst in args.to or FRAMEWORK_CHOICES:
            options: list[dict[str, Any]] = [{}]
            if dst == "onnx":
                options.append({"auto_pad": True})
            if dst == "jax":
                options.append({"use_consistent_padding": True})
            for opt in options:
                label = dst + ("" if not opt else " (" + _fmt(opt) + ")")
                try:
                    line = _fmt(spec.to(dst, **opt))
                except ValueError as exc:
                    line = "cannot: " + str(exc).split(": ", 1)[-1]
                print(f"{label:<36} {line}")
    return 0


def _solve(args: argparse.Namespace) -> int:
    from ..conventions import RISKS, solve

    sols = solve(args.input, args.output, kernel_sizes=args.kernels, strides=args.strides,
                 dilations=args.dilations)
    if args.even_only:
        sols = [z for z in sols if not z.uneven]
    print(f"{len(sols)} configurations map {args.input} -> {args.output} "
          f"(kernel {args.kernels[0]}..{args.kernels[-1]}, stride "
          f"{args.strides[0]}..{args.strides[-1]}, dilation {args.dilations})")
    if not sols:
        print(f"tconv shapes solve: error: no configuration maps {args.input} -> "
              f"{args.output}; widen --kernels, --strides or --dilations", file=sys.stderr)
        return 1
    print(f"{'kernel':>6} {'stride':>6} {'padding':>7} {'out_pad':>7} {'dil':>3}  "
          f"{'overlap':<15} risks")
    for z in sols[: args.limit]:
        overlap = "even" if not z.uneven else (
            "holes" if z.overlap_ratio == float("inf") else f"uneven x{z.overlap_ratio:.3g}")
        print(f"{z.kernel_size:>6} {z.stride:>6} {z.padding:>7} {z.output_padding:>7} "
              f"{z.dilation:>3}  {overlap:<15} {', '.join(z.risks) or '-'}")
    if len(sols) > args.limit:
        print(f"... {len(sols) - args.limit} more (--limit)")
    print("\nrisks:")
    for key, text in RISKS.items():
        print(f"  {key}: {text}")
    return 0


#: the commands whose output ``tconv demo`` records
DEMO_COMMANDS = (
    "size --input 8 --kernel 4 --stride 2 --padding 1",
    "convert --kernel 3 --stride 2 --padding 1 --output-padding 1 --ndim 1",
    "convert --from keras --kernel 3 --stride 2 --padding same --ndim 1",
    "solve --input 16 --output 32",
)


def demo(out_dir: pathlib.Path, log: Callable[[str], None]) -> list[pathlib.Path]:
    """Record a few ``tconv shapes`` runs into ``out_dir/shapes/conventions.txt``."""
    import contextlib
    import io
    import shlex

    from . import build_parser

    folder = out_dir / "shapes"
    folder.mkdir(parents=True, exist_ok=True)
    parser = build_parser()
    chunks = []
    for command in DEMO_COMMANDS:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            run(parser.parse_args(["shapes", *shlex.split(command)]))
        chunks.append(f"$ tconv shapes {command}\n{buf.getvalue()}")
    path = folder / "conventions.txt"
    path.write_text("\n".join(chunks))
    log(f"wrote {path}")
    return [path]
