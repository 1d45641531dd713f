"""Checks of the paths a command reads and writes, run before any work.

A command that writes refuses, before it computes anything, an output it could not write
(a parent that is a file, a folder where a file goes, a name the file system refuses) and an
existing output it would replace unless ``--overwrite`` was given. The messages name the
option: ``--out 'samples.png' exists; pass --overwrite to replace it``. Nothing here
imports an extra.
"""

from __future__ import annotations

import argparse
import os
import pathlib

__all__ = ["add_overwrite", "check_file_out", "check_folder_out", "check_file_in",
           "check_folder_in", "check_compare_out"]


def add_overwrite(p: argparse.ArgumentParser, what: str) -> None:
    """``--overwrite``: replace ``what`` if it exists (refused otherwise)."""
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace {what} if it exists (refused otherwise)")


def _usable(flag: str, path: pathlib.Path) -> None:
    """Refuse an empty name and a path below a file; ``exists()`` raises for a name the
    file system refuses (too long), which the CLI reports in one line."""
    text = os.fspath(path)
    if not text.strip() or "\0" in text:
        raise ValueError(f"{flag} {text!r} is not a usable path")
    path.exists()
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{flag} {text!r}: {str(parent)!r} is a file, not a folder")
            break


def check_file_out(flag: str, path: pathlib.Path, overwrite: bool) -> None:
    """``path`` can be written as a file: not a folder, and not replaced without
    ``--overwrite``."""
    _usable(flag, path)
    if path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a folder; name a file")
    if path.exists() and not path.is_file():
        raise ValueError(f"{flag} {str(path)!r} is not a regular file (a device or a pipe); "
                         "name a file")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{flag} {str(path)!r} exists; pass --overwrite to replace it, "
                              f"or choose another {flag}")


def check_folder_out(flag: str, path: pathlib.Path, overwrite: bool | None = None,
                     marker: str | None = None) -> None:
    """``path`` can be a folder of outputs: not a file; with ``marker`` (a file the command
    always writes there), not a folder holding an earlier result unless ``overwrite``."""
    _usable(flag, path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a file; name a folder")
    if marker is not None and not overwrite and (path / marker).exists():
        raise FileExistsError(f"{flag} {str(path)!r} holds an earlier result ({marker}); pass "
                              f"--overwrite to replace it, or choose another {flag}")


def check_compare_out(fn: str, out: pathlib.Path, variants: list[str], resume: bool,
                      overwrite: bool) -> None:
    """A ``compare`` folder: its report and every variant's run are checked before the first
    variant trains (a run found at the third variant would otherwise stop the comparison
    after two trainings)."""
    from ..apps._train import check_run_dir

    check_folder_out("--out", out)
    check_run_dir(out, resume, overwrite, fn, names=("report.md",))
    for v in variants:
        check_run_dir(out / v, resume, overwrite, fn)


def check_file_in(flag: str, path: pathlib.Path) -> None:
    """``path`` is an existing file."""
    text = os.fspath(path)
    if not text.strip() or "\0" in text:
        raise ValueError(f"{flag} {text!r} is not a usable path")
    if path.is_dir():
        raise ValueError(f"{flag} {text!r} is a folder; name a file")
    if not path.is_file():
        raise FileNotFoundError(f"{flag} {text!r}: no such file")


def check_folder_in(flag: str, path: pathlib.Path) -> None:
    """``path`` is an existing folder."""
    text = os.fspath(path)
    if not text.strip() or "\0" in text:
        raise ValueError(f"{flag} {text!r} is not a usable path")
    if not path.is_dir():
        raise FileNotFoundError(f"{flag} {text!r}: no such folder")
