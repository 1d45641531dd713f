"""The ``tconv`` command line: ``main(argv=None) -> int``.

Each subcommand lives in its own module of this package with ``add_parser(sub)`` (which
registers the parser and sets ``func``) and, where it contributes to ``tconv demo``,
``demo(out_dir, log) -> list[pathlib.Path]``. Nothing here imports an optional extra:
subcommands import torch/matplotlib inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["main", "SUBCOMMANDS", "subcommand_modules"]

#: Subcommand modules, in ``--help`` and demo order. A module not present is skipped.
SUBCOMMANDS = ("explain", "shapes", "checkerboard", "figures", "explore", "upscale",
               "bench", "dcgan", "segment", "demo")


def subcommand_modules() -> list[ModuleType]:
    mods = []
    for name in SUBCOMMANDS:
        try:
            mods.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return mods


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="tconv", formatter_class=_Formatter,
        description="Learnable up-sampling with transposed convolution.",
        epilog="examples:\n  tconv explain\n  tconv demo --out demo-out\n  tconv explain "
               "--input-size 2 --kernel-size 3 --stride 2")
    parser.add_argument("--version", action="version", version=f"tconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in subcommand_modules():
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, ImportError) as exc:
        print(f"tconv {args.command}: error: {exc}", file=sys.stderr)
        return 1
