"""Every subcommand's --help ends with runnable examples; explain and demo run."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv.cli import build_parser, main, subcommand_modules
from tconv.cli.explain import ARTICLE_INPUT, ARTICLE_KERNEL, ARTICLE_SMALL, walkthrough


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(action.choices)


@pytest.mark.parametrize("name", _subcommands())
def test_help_has_examples(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "tconv " + name.split()[0] in text.split("examples:")[1]


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "explain" in capsys.readouterr().out


class TestExplain:
    def test_article_numbers(self):
        """The article's figures: conv output 122 148 / 126 134, and the 4x4 up-sampled
        result of the 2x2 input [[2, 1], [4, 4]] (pasted from the article's last figure)."""
        text = walkthrough()
        assert "[[122 148]\n [126 134]]" in text
        assert "[[ 2  9  6  1]\n [ 6 29 30  7]\n [10 29 33 13]\n [12 24 16  4]]" in text
        ref = tconv.conv_transpose(ARTICLE_SMALL[None, None], ARTICLE_KERNEL[None, None])
        assert ref[0, 0].astype(int).tolist() == [[2, 9, 6, 1], [6, 29, 30, 7],
                                                 [10, 29, 33, 13], [12, 24, 16, 4]]
        assert tconv.conv(ARTICLE_INPUT[None, None], ARTICLE_KERNEL[None, None]).sum() == 530
        assert "equals C.T @ z: True" in text and "equals it too: True" in text
        assert "36 useful ones; zero insertion does 144" in text

    def test_other_configs(self, capsys):
        assert main(["explain", "--input-size", "5,6", "--kernel-size", "2", "--stride", "2",
                     "--padding", "1", "--dilation", "1", "--random", "--seed", "3"]) == 0
        out = capsys.readouterr().out
        assert out.count("True") == 3 and "C (12x30)" in out

    def test_invalid_config_is_a_clear_error(self, capsys):
        assert main(["explain", "--input-size", "2", "--kernel-size", "5"]) == 1
        assert "does not fit" in capsys.readouterr().err


def test_demo_runs_explain(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--only", "explain"]) == 0
    assert "122 148" in (tmp_path / "explain.txt").read_text()
    html = (tmp_path / "index.html").read_text()
    assert "explain.txt" in html and "122 148" in html


def test_registry_lists_modules():
    names = [m.__name__.rsplit(".", 1)[-1] for m in subcommand_modules()]
    assert names[0] == "explain" and names[-1] == "demo"
    assert np.all([hasattr(m, "add_parser") for m in subcommand_modules()])


@pytest.mark.slow       # ~25 s: spawns the benchmark's worker processes
def test_bench_tiny_run(capsys):
    """`tconv bench` runs one shape end to end (NumPy only) and reports counted MACs."""
    assert main(["bench", "--no-torch", "--shapes", "c2", "--rounds", "1", "--repeat", "1",
                 "--no-memory", "--algorithms", "auto"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| c2 | auto"))
    # counted MACs / useful MACs on c2: auto runs the compiled loops where numba is installed
    # (each phase's taps over the 65x65 zero-gapped grid), else phase's broadcast runs
    from tconv._algorithms import direct
    assert row.split("|")[-2].strip() == ("1.03" if direct.available() else "1.05")


def test_bench_targets_judged_from_a_payload():
    """The suite's target table: each target judged from its own measurements, and those
    a run did not measure (no torch ratio, no memory) left out."""
    from tconv.cli.bench import _load, find_suite

    suite = _load(find_suite())
    row = {"kind": "compute", "ratio": {"auto": 1.3}, "tconv": {"auto": {"pct_peak": 71.0}},
           "memory": {"tconv": {"rss_delta_mb": 20.0}, "torch": {"rss_delta_mb": 25.0}}}
    skinny = {"kind": "skinny", "ratio": {"auto": 0.45}, "tconv": {"auto": {}}}
    lone = {"kind": "skinny", "ratio": {}, "tconv": {"auto": {"pct_peak": 5.0}}}
    payload = {"geomean_forward_ratio": 0.9, "geomean_backward_ratio": 1.1,
               "shapes": {"a1": row, "c2": skinny, "b1": lone}}
    got = {g["target"]: g["met"] for g in suite.targets(payload)}
    assert got == {"forward geometric mean": True, "backward geometric mean": False,
                   "a1 tconv / torch": False, "a1 % of peak": True,
                   "a1 peak memory MB": True, "c2 tconv / torch": True}


def test_bench_from_json_prints_a_saved_run(tmp_path, capsys):
    """`tconv bench --from-json` re-prints a saved run with its targets, measuring nothing;
    a file that is not a saved run is refused with exit code 2."""
    import json
    import pathlib

    saved = pathlib.Path(__file__).resolve().parent / "data" / "saved_bench_run.json"
    assert main(["bench", "--from-json", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "| c2 | auto (direct) |" in out
    assert "targets met: 24 of 28" in out                  # as the saved file records
    assert "| a1 tconv / torch | 1.27 | <= 1.25 | **no** |" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"shapes": 3}))
    assert main(["bench", "--from-json", str(bad)]) == 2
    assert "not a saved run" in capsys.readouterr().err



def test_entry_ignores_sigterm_once_the_command_has_finished():
    # the script's entry: a SIGTERM landing while the process exits after its command does
    # not turn a finished job into a killed one; main() itself leaves the handler alone
    import subprocess
    import sys

    code = ("import os, signal, sys\n"
            "sys.argv = ['tconv']\n"                     # no command: help, status 2
            "from tconv.cli import _entry, main\n"
            "assert main([]) == 2\n"
            "assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL\n"
            "status = _entry()\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n"
            "print('finished', status)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "finished 2" in done.stdout
