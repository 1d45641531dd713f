"""``tconv demo``: every part of tconv on small built-in inputs, as one HTML page.

Writes OUT/index.html, a guided tour: the article's walk-through with its own numbers, the
output-size arithmetic, checkerboard figures, the article's pictures and animations, the
explorer page, the shipped up-scaler on a bundled photo (colour crops beside bicubic), and two
short training runs: a DCGAN for 30 steps and two segmentation decoders for 40 steps each
(about half a minute in all on a laptop CPU). Nothing is downloaded. Parts whose optional
extra is missing are reported and skipped; --only runs a subset.
"""

from __future__ import annotations

import argparse
import html
import pathlib
import sys
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run every part on embedded defaults, write an HTML report",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__,
                       epilog="examples:\n  tconv demo\n  tconv demo --out demo-out "
                              "--only explain,checkerboard")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("demo-out"),
                   help="output folder (created; existing files in it are replaced)")
    p.add_argument("--only", default="", help="comma-separated subset of parts to run")
    p.set_defaults(func=run)


def _log(msg: str) -> None:
    print(msg, flush=True)


def _embed(path: pathlib.Path, out: pathlib.Path) -> str:
    rel = html.escape(str(path.relative_to(out)) if path.is_relative_to(out) else str(path))
    suffix = path.suffix.lower()
    if suffix in (".png", ".gif", ".jpg", ".svg"):
        return f'<figure><img src="{rel}" alt="{rel}"><figcaption>{rel}</figcaption></figure>'
    if suffix in (".txt", ".md"):
        raw = path.read_text(errors="replace")
        state = " open" if raw.count("\n") <= 40 else ""     # long texts start folded
        return f"<details{state}><summary>{rel}</summary><pre>{html.escape(raw)}</pre></details>"
    if suffix == ".html":
        return f'<p><a href="{rel}">{rel}</a></p><iframe src="{rel}"></iframe>'
    return f'<p><a href="{rel}">{rel}</a></p>'


def run(args: argparse.Namespace) -> int:
    from . import subcommand_modules

    out: pathlib.Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    sections: list[str] = []
    toc: list[str] = []
    failures = 0
    t_all = time.perf_counter()
    for mod in subcommand_modules():
        name = mod.__name__.rsplit(".", 1)[-1]
        hook = getattr(mod, "demo", None)
        if hook is None or name == "demo" or (only and name not in only):
            continue
        _log(f"\n### {name}")
        t0 = time.perf_counter()
        try:
            paths = hook(out, _log) or []
        except ImportError as exc:
            _log(f"skipped {name}: {exc}")
            sections.append(f"<h2>{name}</h2><p>skipped: {html.escape(str(exc))}</p>")
            continue
        except Exception as exc:  # a broken part must not hide the others
            failures += 1
            _log(f"FAILED {name}: {type(exc).__name__}: {exc}")
            sections.append(f"<h2>{name}</h2><p>failed: {html.escape(str(exc))}</p>")
            continue
        dt = time.perf_counter() - t0
        _log(f"({name}: {dt:.1f} s, {len(paths)} files)")
        body = "\n".join(_embed(pathlib.Path(p), out) for p in paths)
        sections.append(f"<h2 id='{name}'>{name} <small>({dt:.1f} s)</small></h2>\n{body}")
        toc.append(f"<a href='#{name}'>{name}</a>")
    index = out / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>tconv demo</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "img{max-width:100%;border:1px solid #ddd}pre{background:#f6f6f6;padding:1em;"
        "overflow:auto;font-size:12px}iframe{width:100%;height:600px;border:1px solid #ddd}"
        "figure{margin:1em 0}</style></head><body><h1>tconv demo</h1>"
        "<p>Learnable up-sampling with transposed convolution: every number and picture below "
        "was computed by tconv on this machine.</p><p>" + " &middot; ".join(toc) + "</p>"
        + "\n".join(sections) + "</body></html>")
    tmp.replace(index)
    _log(f"\nwrote {index} ({time.perf_counter() - t_all:.1f} s)")
    if failures:
        print(f"tconv demo: {failures} part(s) failed", file=sys.stderr)
        return 1
    return 0
