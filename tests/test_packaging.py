"""Packaging: the wheel builds without deprecation warnings, installs into a fresh venv and runs.

The fresh venv gets the wheel with ``--no-deps --no-index`` (nothing is downloaded); its
dependencies (NumPy, SciPy, ...) are borrowed from the test environment's site-packages through
a ``.pth`` path line, which adds the directory without running that directory's own ``.pth``
files, so the editable install of this checkout stays out of the fresh venv.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import tconv

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kw)


def test_one_version_source():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert "version" not in PYPROJECT["project"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "tconv.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tconv.__version__)


def test_license_is_spdx():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert not any("License ::" in c for c in PYPROJECT["project"].get("classifiers", []))


def test_torch_extra_is_a_range_and_constraints_pin_it():
    extras = PYPROJECT["project"]["optional-dependencies"]
    for name in ("torch", "dev"):
        torch_reqs = [r for r in extras[name] if re.match(r"torch\b", r)]
        assert torch_reqs and all("==" not in r for r in torch_reqs), (name, torch_reqs)
        assert all(">=" in r for r in torch_reqs)
    pins = [ln.strip() for ln in (ROOT / "constraints.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    assert "torch==2.13.0" in pins
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile


def test_python_dash_m_tconv():
    out = _run([sys.executable, "-m", "tconv", "--version"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"tconv {tconv.__version__}"


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs a source checkout")
def test_wheel_builds_and_installs_in_a_fresh_venv(tmp_path):
    pytest.importorskip("build")
    dist = tmp_path / "dist"
    # --no-isolation: the test environment already has setuptools (>=77) and wheel; nothing
    # is fetched. The source is copied first so that the build leaves no files in the checkout.
    src = tmp_path / "src"
    _copy_source(src)
    built = _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                  str(dist), str(src)])
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    log = built.stdout + built.stderr
    assert "SetuptoolsDeprecationWarning" not in log, log[-3000:]
    assert "!!" not in log  # setuptools' warning boxes
    wheels = list(dist.glob("tconv-*.whl"))
    assert len(wheels) == 1
    assert wheels[0].name.startswith(f"tconv-{tconv.__version__}-py3-none-any")
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "tconv/py.typed" in names
    assert "tconv/__main__.py" in names
    assert any(n.startswith("tconv/apps/upscale/weights/") and n.endswith(".npz") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    meta = zipfile.ZipFile(wheels[0]).read(
        f"tconv-{tconv.__version__}.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in meta

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                     ).stdout.strip())
    # the dependencies, borrowed (a path line; the test env's own .pth files are not run)
    (site / "_borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                 "--no-index", "--quiet", str(wheels[0])])
    if inst.returncode != 0 and "no such option: --python" in inst.stderr:
        pytest.skip("pip too old for --python")
    assert inst.returncode == 0, inst.stderr[-3000:]

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    probe = _run([str(py), "-c", "import tconv, numpy as np; print(tconv.__file__); "
                  "print(tconv.conv_transpose(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)))"
                  ".sum())"], cwd=tmp_path, env=env)
    assert probe.returncode == 0, probe.stderr
    where, total = probe.stdout.split()
    assert Path(where).is_relative_to(site), where
    assert float(total) == 36.0
    for cmd in ([str(env_dir / "bin" / "tconv"), "--version"],
                [str(py), "-m", "tconv", "--version"]):
        out = _run(cmd, cwd=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"tconv {tconv.__version__}"
    shapes = _run([str(env_dir / "bin" / "tconv"), "shapes", "size", "--input", "8",
                   "--kernel", "4", "--stride", "2", "--padding", "1"], cwd=tmp_path, env=env)
    assert shapes.returncode == 0, shapes.stderr
    assert "16" in shapes.stdout


def _copy_source(dest: Path) -> None:
    """The files a source distribution holds: pyproject, README, LICENSE, MANIFEST.in, src/."""
    import shutil

    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
