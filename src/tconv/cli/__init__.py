"""The ``tconv`` command line: ``main(argv=None) -> int``.

Each subcommand lives in its own module of this package with ``add_parser(sub)`` (which
registers the parser and sets ``func``) and, where it contributes to ``tconv demo``,
``demo(out_dir, log) -> list[pathlib.Path]``. Nothing here imports an optional extra:
subcommands import torch/matplotlib inside ``run``. Descriptions are module docstrings; the
help prints them as plain text (reStructuredText roles and literals unwrapped).
"""

from __future__ import annotations

import argparse
import importlib
import re
import signal
import sys
import threading
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


_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(text: str | None) -> str | None:
    """Help text as a terminal shows it: ``:func:`x``` and double-backquoted x become x."""
    if text is None:
        return None
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))


def _plain_help(parser: argparse.ArgumentParser) -> None:
    parser.description = plain_text(parser.description)
    parser.epilog = plain_text(parser.epilog)
    for action in parser._actions:
        action.help = plain_text(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = plain_text(choice.help)
            for sub in set(action.choices.values()):
                _plain_help(sub)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="tconv", formatter_class=_Formatter,
        description="Learnable up-sampling with transposed convolution.",
        epilog="examples:\n  tconv explain\n  tconv demo --out demo-out\n  tconv explain "
               "--input-size 5 --kernel-size 3 --stride 2\n  python -m tconv --version")
    parser.add_argument("--version", action="version", version=f"tconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in subcommand_modules():
        mod.add_parser(sub)
    _plain_help(parser)
    return parser


def _entry() -> int:
    """The ``tconv`` script and ``python -m tconv``: :func:`main` on the process's own
    command line, then SIGTERM ignored while the process exits -- the commands catch it
    while they work, and one landing during the interpreter's teardown would end a
    finished job with the signal's status, as if killed. (Only here, where tconv owns the
    process: :func:`main` itself changes no process setting.)"""
    try:
        return main()
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    for arg in argv:                # argparse reads ``--opt=--`` as an empty list, not a value
        if arg.startswith("--") and arg.endswith("=--"):
            parser.error(f"argument {arg[:-3]}: expected a value, got '--'")
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ImportError as exc:
        print(f"tconv {args.command}: error: {_install_hint(exc)}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, FileExistsError, FileNotFoundError) as exc:
        print(f"tconv {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:         # ``tconv ... | head``: the reader left; stop quietly
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        print(f"tconv {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:          # a name too long, no permission, a full disk: name the path
        where = f"{str(exc.filename)!r}: " if exc.filename is not None else ""
        print(f"tconv {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"tconv {args.command}: error: out of memory; use smaller sizes", file=sys.stderr)
        return 1


#: the extra that installs each optional top-level module a subcommand imports
EXTRAS = {"torch": "torch", "matplotlib": "viz", "PIL": "viz", "skimage": "apps",
          "tqdm": "apps", "tifffile": "apps", "numba": "fast"}


def _install_hint(exc: ImportError) -> str:
    """An optional module that is missing, as an install hint; other import errors as they
    are (a message that already holds a hint is kept)."""
    top = (exc.name or "").split(".")[0]
    if isinstance(exc, ModuleNotFoundError) and top in EXTRAS and "pip install" not in str(exc):
        return (f"this command needs {top}, which is not installed: "
                f'pip install "tconv[{EXTRAS[top]}]"')
    return _one_line(exc)


def _silence_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush does not raise
    BrokenPipeError again at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # a captured stdout has no descriptor
        pass


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a path or a nested message may hold newlines)."""
    return " ".join(str(exc).split("\n"))
