"""Every option of every ``tconv`` subcommand, fed hostile values the way a careless user
would type them: the parser is introspected (a new subcommand or option is fuzzed without
editing this file), and each value must end in an argparse usage error naming the option
(exit 2) or a one-line ``tconv <command>: error: ...`` (exit 1) -- never a traceback, a hang,
or a file outside the test's folder.

Only parsing and validation run: the functions that do a command's real work (training,
evaluation, drawing, serving, benchmarking) are replaced by a stub that stops the command
the moment validation has let it through. A value that reaches the stub was accepted; a
value of a class that is never valid (non-finite, empty, text for a number, a fraction for
an integer, a negative size) must not get there.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import pathlib
import random
import re
import signal
import sys
import time
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tconv.cli import build_parser, main

#: seconds one fuzzed command may take (parsing + validation + stubbed work)
BUDGET_S = 5.0

#: options where a negative number is a valid value
NEGATIVE_OK = {"--skip-a"}


#: options naming what a command writes, and files or folders it reads
OUTPUTS = {"--out", "--output", "--json"}
INPUTS = {"--checkpoint", "--weight", "--weights", "--from-json", "--suite", "--val",
          "--images", "--masks"}


class _Reached(BaseException):
    """Raised by a stub in place of a command's real work: validation let the value pass."""


class _Overtime(BaseException):
    pass


def _reach(*_a: Any, **_k: Any) -> Any:
    raise _Reached


# where each command's real work starts (module, attribute); imported lazily
WORK = [
    ("tconv.cli.figures", "write_figures"),
    ("tconv.cli.figures", "write_fragment"),
    ("tconv.cli.checkerboard", "write_figures"),
    ("tconv.cli.explore", "make_server"),
    ("tconv.cli.bench", "_load"),
    ("tconv.apps.dcgan", "train"),
    ("tconv.apps.dcgan.compare", "compare"),
    ("tconv.apps.dcgan.infer", "load_generator"),
    ("tconv.apps.segment.train", "load_model"),
    ("tconv.apps.segment", "train"),
    ("tconv.apps.segment.evaluate", "compare"),
    ("tconv.apps.segment.evaluate", "evaluate"),
    ("tconv.apps.upscale.train", "train"),
    ("tconv.apps.upscale.evaluate", "evaluate"),
    ("tconv.apps.upscale.batch", "_one"),
]


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every leaf command path ("dcgan train", "explain", ...) and its parser."""
    out: dict[str, argparse.ArgumentParser] = {}

    def walk(p: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and path:
            out[" ".join(path)] = p
        for s in subs:
            for name, sp in s.choices.items():
                walk(sp, [*path, name])

    walk(build_parser(), [])
    return out


COMMANDS = _commands()


def _options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions
            if a.option_strings and a.nargs != 0
            and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]


def _is_numeric(action: argparse.Action) -> bool:
    """An option whose type turns text into numbers (int, float, N or H,W, ranges)."""
    t = action.type
    if t is None or t in (str, pathlib.Path) or isinstance(t, type) and issubclass(t, str):
        return False
    if action.choices is not None and not all(isinstance(c, int) for c in action.choices):
        return False
    for probe in ("2", "3", "4", "16", "32"):
        with contextlib.suppress(Exception):
            value = t(probe)
            return isinstance(value, (int, float, tuple, list)) and not isinstance(value, bool)
    return False


def _is_int(action: argparse.Action) -> bool:
    try:
        action.type("3.5")          # type: ignore[misc]
    except Exception:
        return True
    return False


def _is_path(action: argparse.Action) -> bool:
    return action.type is pathlib.Path or (action.type is None and action.choices is None)


# Python's int() reads "٣" (an Arabic-Indic 3) and "1_000": they are numbers, not refusals
NUMBERS = ["-1", "0", "-0", "1000000000000", str(2**63), str(2**64 + 1), "-9223372036854775809",
           "1e400", "-1e-320", "٣", "1_0_0_0_0_0_0_0_0_0_0_0_0", "1,2,3,4,5"]
NEVER_VALID = ["", " ", "nan", "NaN", "inf", "-inf", "Infinity", "abc", "☃", "x" * 5000,
               "0x10", "1e", "1.5.2", "1,,x"]
FRACTIONS = ["1.5", "2.0", "1e3", "-0.5"]


def _path_values(tmp: pathlib.Path) -> list[str]:
    (tmp / "a_dir").mkdir(exist_ok=True)
    (tmp / "a_file.txt").write_text("not what you expected\n")
    (tmp / "a_file.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (tmp / "a_file.npz").write_bytes(b"PK\x03\x04garbage")
    return [str(tmp / "missing" / "deeper" / "x.png"), str(tmp / "a_dir"),
            str(tmp / "a_file.txt"), str(tmp / "a_file.txt" / "below"),
            str(tmp / "a_file.png"), str(tmp / "a_file.npz"),
            str(tmp / ("é☃" * 3 + ".png")), str(tmp / ("n" * 300)),
            str(tmp / ("n" * 300) / "x.png"), "", str(tmp / "a\x00b"), "-", "/dev/null",
            str(tmp / "a_dir") + "/"]


def _base(command: str, tmp: pathlib.Path) -> list[str]:
    """A valid, minimal command line (required arguments and an output under tmp)."""
    png = tmp / "in.png"
    if not png.exists():
        from tconv import io as tio

        tio.write_image(png, (np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5))
    ckpt = tmp / "ckpt.pt"
    ckpt.write_bytes(b"not a checkpoint")
    table = {
        "explain": [],
        "shapes size": ["--kernel", "3", "--input", "4"],
        "shapes convert": ["--kernel", "3", "--to", "onnx"],
        "shapes solve": ["--input", "4", "--output", "8"],
        "checkerboard": [],
        "figures": ["--out", str(tmp / "fig")],
        "explore": ["--out", str(tmp / "page.html")],
        "upscale": [str(png), "-o", str(tmp / "up"), "--method", "bicubic", "--scale", "2"],
        "eval-upscaler": ["--out", str(tmp / "ev"), "--no-bench"],
        "train-upscaler": ["--scale", "2", "--out", str(tmp / "tu"), "--steps", "1"],
        "bench": [],
        "dcgan train": ["--out", str(tmp / "dt"), "--steps", "1"],
        "dcgan sample": ["--checkpoint", str(ckpt), "--out", str(tmp / "s.png")],
        "dcgan compare": ["--out", str(tmp / "dc"), "--steps", "1"],
        "segment train": ["--out", str(tmp / "st"), "--steps", "1"],
        "segment eval": ["--checkpoint", str(ckpt)],
        "segment compare": ["--out", str(tmp / "sc"), "--steps", "1"],
        "demo": ["--out", str(tmp / "demo"), "--only", "explain"],
    }
    return command.split() + table[command]


def _with(base: list[str], action: argparse.Action, value: str) -> list[str]:
    """``base`` with ``action`` given ``value`` (replacing the base's own value of it)."""
    argv = list(base)
    for flag in action.option_strings:
        if flag in argv:
            i = argv.index(flag)
            n = 1
            while i + 1 + n < len(argv) and not argv[i + 1 + n].startswith("-"):
                n += 1
            del argv[i:i + 1 + n]
    return [*argv, f"{action.option_strings[-1]}={value}"]


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import importlib

    import tconv.cli

    parser = build_parser()             # one parser for every run (building it is the cost)
    monkeypatch.setattr(tconv.cli, "build_parser", lambda: parser)

    for mod, attr in WORK:
        try:
            m = importlib.import_module(mod)
        except ImportError:             # an extra not installed: the command says so
            continue
        monkeypatch.setattr(m, attr, _reach)

    real = tconv.cli.subcommand_modules

    def parts() -> Any:              # demo's parts are work; the parser's modules are not
        mods = real()
        if sys._getframe(1).f_globals.get("__name__") == "tconv.cli.demo":
            return [types.SimpleNamespace(__name__=m.__name__, demo=_reach) for m in mods]
        return mods

    monkeypatch.setattr(tconv.cli, "subcommand_modules", parts)
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    yield
    if torch is not None and threads is not None:
        torch.set_num_threads(threads)


def attempt(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str, float]:
    """Run ``tconv argv`` in-process; return (outcome, stderr, seconds). outcome is '0'/'1'/
    '2' (exit status), 'reached' (the stubbed work), or 'crash:<exception>'."""

    def overtime(*_: Any) -> None:
        raise _Overtime

    old = signal.signal(signal.SIGALRM, overtime)
    signal.setitimer(signal.ITIMER_REAL, BUDGET_S)
    t0 = time.perf_counter()
    try:
        try:
            code: Any = main(argv)
        except SystemExit as exc:
            code = exc.code
        outcome = str(code if code is not None else 0)
    except _Reached:
        outcome = "reached"
    except _Overtime:
        outcome = "overtime"
    except BaseException as exc:  # noqa: BLE001 - any escape is a finding
        outcome = f"crash:{type(exc).__name__}: {exc}"[:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    dt = time.perf_counter() - t0
    err = capsys.readouterr().err
    return outcome, err, dt


def judge(argv: list[str], action: argparse.Action, value: str, outcome: str,
          err: str, must_refuse: bool) -> str | None:
    """The finding for one run, or None."""
    flag = action.option_strings[-1]
    if "Traceback" in err:
        return "traceback in stderr"
    if outcome.startswith("crash") or outcome == "overtime":
        return outcome
    if outcome == "2":
        last = [ln for ln in err.splitlines() if ln.strip()][-1:]
        if not last or "error:" not in last[0]:
            return f"exit 2 without an error line: {err[-200:]!r}"
        if not any(f in last[0] for f in action.option_strings) and "argument" not in last[0]:
            return f"usage error does not name {flag}: {last[0][:200]!r}"
        return None
    if outcome == "1":
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if not lines:
            return "exit 1 with no message"
        if len(lines) > 1:
            return f"exit 1 with {len(lines)} stderr lines: {err[-300:]!r}"
        if "error" not in lines[0] and "tconv" not in lines[0]:
            return f"exit 1 message does not say what failed: {lines[0][:200]!r}"
        return None
    if must_refuse:
        return f"accepted ({outcome})"
    return None


def _values(action: argparse.Action, tmp: pathlib.Path, rng: random.Random
            ) -> list[tuple[str, bool]]:
    """(value, must_refuse) pairs for one option."""
    if _is_numeric(action):
        vals = [(v, True) for v in NEVER_VALID]
        neg_ok = action.option_strings[-1] in NEGATIVE_OK
        vals += [(v, v.startswith("-") and not neg_ok and v not in ("-0", "-1e-320"))
                 for v in NUMBERS]
        vals += [(v, _is_int(action)) for v in FRACTIONS]
        vals += [(str(rng.randint(-10**6, 10**6)), False) for _ in range(2)]
        # the largest value the type allows, and common limits: accepted values must not
        # allocate or loop without bound either
        top = re.search(r"\.\.(\d+)", getattr(action.type, "__name__", ""))
        vals += [(v, False) for v in ("2147483647", "65536", "8193", "33")]
        if top:
            vals.append((top.group(1), False))
        return vals
    flag = action.option_strings[-1]
    paths = _path_values(tmp)
    refuse: set[str] = set()
    if flag in OUTPUTS:           # an existing file is never replaced without --overwrite
        refuse = {paths[2], paths[3]}
    elif flag in INPUTS or (flag == "--data" and action.type is pathlib.Path):
        refuse = {paths[0], paths[3]}
    vals = [(v, v in refuse) for v in paths]
    vals += [(v, False) for v in ("☃", "x" * 5000, "-1", "nan", "a,b,,", "--")]
    if action.choices is not None:
        vals = [(v, True) for v in ("", "nope", "☃", "x" * 5000, "1")
                if v not in map(str, action.choices)]
    return vals


def _tree(root: pathlib.Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _new_top_level(root: pathlib.Path, before: set[str]) -> set[str]:
    return {p for p in os.listdir(root) if p not in before}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_values(command: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str], stubbed: None) -> None:
    """Each option of ``command``, one hostile value at a time, on a valid base line."""
    rng = random.Random(f"fuzz {command}")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    repo = pathlib.Path(__file__).resolve().parents[2]
    defaults = {str(a.default) for a in _options(COMMANDS[command])
                if isinstance(a.default, pathlib.Path)}
    before = set(os.listdir(repo))
    base = _base(command, tmp_path)
    findings: list[str] = []
    tried = 0
    outcomes: collections.Counter[str] = collections.Counter()
    base_outcome, base_err, _ = attempt(base, capsys)
    assert base_outcome in ("0", "reached"), (base, base_outcome, base_err)
    for action in _options(COMMANDS[command]):
        for value, must_refuse in _values(action, tmp_path, rng):
            argv = _with(base, action, value)
            files = _tree(tmp_path)
            outcome, err, dt = attempt(argv, capsys)
            tried += 1
            if outcome in ("1", "2") and _tree(tmp_path) != files:
                findings.append(f"tconv {' '.join(a[:60] for a in argv)}\n    -> refused "
                                f"but wrote {sorted(_tree(tmp_path) - files)[:3]}")
            outcomes[outcome.split(":")[0]] += 1
            bad = judge(argv, action, value, outcome, err, must_refuse)
            if bad is None and dt > BUDGET_S:
                bad = f"took {dt:.1f} s"
            if bad:
                findings.append(f"tconv {' '.join(a[:60] for a in argv)}\n    -> {bad}")
    leaked = {p for p in _new_top_level(repo, before)
              if p in defaults or p.split("/")[0] in {d.split("/")[0] for d in defaults}}
    assert not leaked, f"files written outside the test folder: {leaked}"
    print(f"{command}: {tried} values tried, outcomes {dict(outcomes)}")
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(findings[:40])


def _positionals(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if not a.option_strings
            and not isinstance(a, argparse._SubParsersAction)]


@pytest.mark.parametrize("command", sorted(c for c in COMMANDS if _positionals(COMMANDS[c])))
def test_hostile_positionals(command: str, tmp_path: pathlib.Path,
                             monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str], stubbed: None) -> None:
    """The positional arguments (the files ``upscale`` reads): a missing file, a folder of
    nothing, a file that is not an image, a name too long, must each be refused in one line
    (no output written)."""
    monkeypatch.chdir(tmp_path)
    words = command.split()
    base = _base(command, tmp_path)
    at = len(words)                 # the base line puts the positional right after the command
    findings = []
    values = _path_values(tmp_path)
    for value in [*values, "☃", "x" * 5000]:
        argv = [*base[:at], value, *base[at + 1:]]
        outcome, err, _ = attempt(argv, capsys)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if "Traceback" in err or outcome.startswith("crash") or outcome == "overtime":
            findings.append(f"{argv[at][-50:]!r}: {outcome} {err[-300:]!r}")
        elif outcome not in ("reached", "0") and not lines:
            findings.append(f"{argv[at][-50:]!r}: exit {outcome} without a message")
        elif value in (values[0], values[1], values[2], values[3]) and outcome == "0":
            findings.append(f"{argv[at][-50:]!r}: accepted")
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_flag_pairs(command: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str], stubbed: None) -> None:
    """Every pair of on/off flags of a command (``--resume --overwrite``, ``--serve
    --overwrite``, ``--skip-existing --overwrite``, ...): refused with a message, or run;
    never a traceback."""
    monkeypatch.chdir(tmp_path)
    flags = [a.option_strings[-1] for a in COMMANDS[command]._actions
             if a.option_strings and a.nargs == 0
             and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]
    base = _base(command, tmp_path)
    findings = []
    for i, f in enumerate(flags):
        for g in flags[i:]:
            argv = [*base, f] + ([g] if g != f else [])
            outcome, err, _ = attempt(argv, capsys)
            if "Traceback" in err or outcome.startswith("crash") or outcome == "overtime":
                findings.append(f"{' '.join(argv[-2:])}: {outcome} {err[-300:]!r}")
            elif outcome in ("1", "2") and not err.strip():
                findings.append(f"{' '.join(argv[-2:])}: exit {outcome} without a message")
    assert not findings, "\n".join(findings)


def test_every_command_has_a_base_line(tmp_path: pathlib.Path) -> None:
    """A new subcommand must get a base line above (so its options are fuzzed)."""
    for command in COMMANDS:
        _base(command, tmp_path)
