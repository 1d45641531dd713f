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
import os
import pathlib
import re
import sys
import time
from collections.abc import Callable

from ._outputs import add_overwrite, check_folder_out

#: each part of the tour: title, the sentences that open it, the docs page that says more
SECTIONS: dict[str, tuple[str, str, str | None]] = {
    "explain": (
        "The article's walk-through",
        "A convolution is many-to-one: the 4x4 input and 3x3 kernel of the article give a 2x2 "
        "output, and the same product is a 4x16 matrix C times the flattened input. Its "
        "transpose Cᵀ (16x4) is one-to-many: it takes a 2x2 input to 4x4, which is exactly "
        "what a transposed convolution computes. Every number below was computed by tconv.",
        "tutorials/walkthrough"),
    "shapes": (
        "Output sizes across frameworks",
        "The same layer is written differently in PyTorch, Keras, ONNX and JAX. Below, the "
        "size arithmetic of a DCGAN layer, the layers that take one size exactly to another, "
        "and one configuration in every framework's words.",
        "tutorials/shapes"),
    "checkerboard": (
        "Checkerboard artifacts",
        "When the stride does not divide the kernel, a transposed convolution's output "
        "positions receive unequal numbers of kernel taps, and even a constant image comes "
        "out patterned. The table counts the taps; the figures show four up-samplers with "
        "random weights on a constant image.",
        "tutorials/decoder"),
    "figures": (
        "The article's pictures",
        "Each picture of the article, drawn from the numbers tconv computes: the operation, "
        "the kernel, which inputs an output reads and which outputs an input reaches, the "
        "matrices and their products, and animations of the sliding and scattering kernel. "
        "The second set is a strided case (2x2 to 3x3, kernel 3, stride 2, padding 1).",
        "gallery"),
    "explore": (
        "The explorer",
        "An offline page to change every number: input size, kernel, stride, padding, "
        "dilation, output padding, and the values themselves. It checks itself against "
        "results tconv embedded when it was written.",
        "explorer"),
    "upscale": (
        "Up-scaling a photo",
        "The shipped up-scaler learns, with a 9x9 transposed convolution, what bicubic "
        "interpolation misses. Here it up-scales a bundled photo x2 from a down-sampled copy "
        "and is compared with the original; the colour crops show the same region up-scaled "
        "by bicubic and by the learned model.",
        "tutorials/upscaling"),
    "dcgan": (
        "A DCGAN, trained for 30 steps",
        "A small generator whose x2 steps are transposed convolutions, resize-convolutions or "
        "pixel shuffles. Untrained, the transposed and pixel-shuffle generators already paint "
        "periodic patterns; the artifact scores printed below measure them. Thirty steps show "
        "the training loop, not a trained model: tconv dcgan compare runs the full comparison.",
        "tutorials/decoder"),
    "segment": (
        "A segmentation decoder, trained for 40 steps",
        "Two decoders on generated shapes with exact masks: a transposed convolution started "
        "at random, and one started as bilinear interpolation (FCN's choice). The run prints "
        "each decoder's held-out mean IoU and the artifact score of its probability maps.",
        "tutorials/decoder"),
}

#: captions of the files the parts write, by name (the figures part brings its own)
CAPTIONS: dict[str, str] = {
    "overlap_maps.png": "Kernel taps reaching each output pixel for several kernel sizes and "
                        "strides: uniform when the stride divides the kernel, a checkerboard "
                        "when it does not.",
    "upsamplers.png": "x2 up-sampling of a constant image with random weights: transposed "
                      "convolution (kernel 3, stride 2), pixel shuffle, pixel shuffle with "
                      "ICNR initialisation, resize-convolution. Red and blue: the deviation "
                      "from the mean.",
    "dcgan/data_preview.png": "The training data: random 32x32 crops of the pictures "
                              "scikit-image ships.",
    "segment/data_preview.png": "The training data: generated shapes on textures (top) and "
                                "their exact masks (bottom).",
    "untrained_transposed.png": "Untrained generator, transposed convolutions: samples "
                                "contrast-stretched to show the pattern.",
    "untrained_resize_conv.png": "Untrained generator, resize-convolutions: no periodic "
                                 "pattern.",
    "untrained_pixel_shuffle.png": "Untrained generator, pixel shuffles: stripes and blocks "
                                   "of the random sub-pixel kernels.",
    "step_000030.png": "Samples after 30 training steps (transposed convolutions).",
    "predictions.png": "Held-out images, their true masks and the two decoders' predictions.",
    "crops_x2.png": "The same crop of the luminance channel: the original (HR) and each "
                    "method's x2 up-scale from the down-sampled copy.",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run every part on built-in inputs, write a guided HTML tour",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__,
                       epilog="examples:\n  tconv demo\n  tconv demo --out demo-out "
                              "--overwrite --only explain,checkerboard")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("demo-out"),
                   help="output folder (created; a tour already in it is replaced only with "
                        "--overwrite)")
    add_overwrite(p, "a tour in --out")
    p.add_argument("--only", default="", help="comma-separated subset of parts to run")
    p.set_defaults(func=run)


def _rel(path: pathlib.Path, out: pathlib.Path) -> str:
    return (path.relative_to(out) if path.is_relative_to(out) else path).as_posix()


def _figure(src: str, caption: str) -> str:
    cap = html.escape(caption)
    return (f'<figure><img src="{html.escape(src)}" alt="{cap}">'
            f"<figcaption>{cap}</figcaption></figure>")


def _fragment(path: pathlib.Path, out: pathlib.Path) -> str:
    """An HTML fragment a part wrote, its relative image paths made relative to ``out``."""
    prefix = _rel(path.parent, out) + "/"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<(/?)h2\b", r"<\1h3", text)          # the section's own title is the h2
    text = re.sub(r"""src=(['"])(?![a-z]+:|/)""", lambda m: f"src={m.group(1)}{prefix}", text)

    def captioned(m: re.Match) -> str:                # a bare picture gets its caption
        src, alt = m.group(1), m.group(2)
        return _figure(src, CAPTIONS.get(pathlib.PurePosixPath(src).name, alt))

    return re.sub(r"""<p><img src=['"]([^'"]+)['"] alt=['"]([^'"]*)['"]></p>""", captioned, text)


def _embed(path: pathlib.Path, out: pathlib.Path) -> str:
    rel = _rel(path, out)
    suffix = path.suffix.lower()
    if suffix in (".png", ".gif", ".jpg", ".svg"):
        caption = (CAPTIONS.get(rel) or CAPTIONS.get(path.name)
                   or path.stem.replace("_", " ").capitalize() + ".")
        return _figure(rel, caption)
    if suffix in (".txt", ".md"):
        raw = path.read_text(errors="replace")
        return (f"<details open><summary>{html.escape(rel)}</summary>"
                f"<pre>{html.escape(raw)}</pre></details>")
    if suffix == ".html":
        text = path.read_text(encoding="utf-8", errors="replace")
        if "<html" in text[:500].lower():
            return (f'<p><a href="{html.escape(rel)}">Open {html.escape(rel)} on its own'
                    f'</a>.</p><iframe src="{html.escape(rel)}" title="{html.escape(rel)}">'
                    "</iframe>")
        return _fragment(path, out)
    return f'<p><a href="{html.escape(rel)}">{html.escape(rel)}</a></p>'


def _docs_link(out: pathlib.Path, page: str | None) -> str:
    """A link to the docs page (the built site if present, else its Markdown source)."""
    if page is None:
        return ""
    for root, suffix in (("site", ".html"), ("docs", ".md")):
        for base in (out.resolve().parent, pathlib.Path.cwd()):
            target = base / root / (page + suffix)
            if target.exists():
                href = pathlib.Path(os.path.relpath(target, out.resolve())).as_posix()
                return (f'<p class="more">More: <a href="{html.escape(href)}">'
                        f"{html.escape(page)}</a> in the documentation.</p>")
    return (f'<p class="more">More: the documentation page "{html.escape(page)}" '
            "(make docs builds the site).</p>")


def colour_crops(out: pathlib.Path, scale: int = 2, box: tuple[int, int, int] = (90, 170, 96),
                 zoom: int = 3) -> list[tuple[pathlib.Path, str]]:
    """The astronaut photo down-sampled x``scale`` (as the evaluation does, per channel), then
    up-scaled by bicubic and by the shipped model: the same colour crop of each, enlarged."""
    import numpy as np
    from PIL import Image

    from .. import io as tio
    from ..apps.upscale import data
    from ..apps.upscale.infer import UpscaleOptions, upscale_array

    hr = data.modcrop(data.load_photo("astronaut"), scale)
    lr = np.stack([data.downscale(hr[..., c].astype(np.float64), scale)
                   for c in range(3)], axis=-1).astype(np.uint8)
    outputs = {
        "original": (hr, "The original photo (ground truth)."),
        "bicubic": (upscale_array(lr, UpscaleOptions(scale=scale, method="bicubic")),
                    f"Bicubic x{scale} up-scale of the down-sampled copy."),
        "learned": (upscale_array(lr, UpscaleOptions(scale=scale)),
                    f"The learned x{scale} up-scaler (transposed convolution) on the same copy."),
    }
    r0, c0, n = box
    done = []
    for name, (img, caption) in outputs.items():
        crop = Image.fromarray(np.ascontiguousarray(img[r0:r0 + n, c0:c0 + n]))
        crop = crop.resize((n * zoom, n * zoom), Image.Resampling.NEAREST)
        path = out / f"colour_{name}_x{scale}.png"
        tio.write_image(path, np.asarray(crop), overwrite=True)
        done.append((path, caption))
    return done


def _page(out: pathlib.Path, toc: list[str], sections: list[str]) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tconv demo</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
        "line-height:1.5;color:#222}h2{margin-top:2.5em;border-bottom:1px solid #ddd}"
        "p.intro{font-size:1.05em;max-width:75ch}p.more{font-size:.9em;color:#555}"
        "img{max-width:100%;border:1px solid #ddd}figure{margin:1em 0}"
        "figcaption{font-size:.9em;color:#444;max-width:75ch}"
        "pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px;max-height:36em}"
        "iframe{width:100%;height:900px;border:1px solid #ddd}"
        ".row{display:flex;gap:1em;flex-wrap:wrap}.row figure{flex:1 1 280px}"
        ".tconv-figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));"
        "gap:0 1.5em;align-items:end}.tconv-figures h3{grid-column:1/-1}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
        "nav a{margin-right:.3em}</style></head><body><h1>tconv: a guided tour</h1>"
        "<p class='intro'>Learnable up-sampling with transposed convolution, from the "
        "article's walk-through to trained networks. Every number and picture on this page "
        "was computed by tconv when <code>tconv demo</code> ran; nothing was downloaded.</p>"
        "<nav>" + " &middot; ".join(toc) + "</nav>\n" + "\n".join(sections) + "</body></html>")


def run(args: argparse.Namespace) -> int:
    from . import subcommand_modules

    out: pathlib.Path = args.out
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    mods = subcommand_modules()
    parts = [m.__name__.rsplit(".", 1)[-1] for m in mods
             if getattr(m, "demo", None) is not None and not m.__name__.endswith(".demo")]
    if only - set(parts):
        raise ValueError(f"demo: --only {args.only!r} names no part "
                         f"{', '.join(sorted(only - set(parts)))}; the parts are "
                         f"{', '.join(parts)}")
    check_folder_out("--out", out, args.overwrite, marker="index.html")
    out.mkdir(parents=True, exist_ok=True)
    sections: list[str] = []
    toc: list[str] = []
    failures = 0
    t_all = time.perf_counter()
    for mod in mods:
        name = mod.__name__.rsplit(".", 1)[-1]
        hook: Callable | None = getattr(mod, "demo", None)
        if hook is None or name == "demo" or (only and name not in only):
            continue
        title, intro, page = SECTIONS.get(name, (name, "", None))
        head = (f"<h2 id='{name}'>{html.escape(title)}</h2>"
                f"<p class='intro'>{html.escape(intro)}</p>")
        print(f"\n### {name}", flush=True)
        printed: list[str] = []

        def log(msg: str, printed: list[str] = printed) -> None:
            print(msg, flush=True)
            printed.append(str(msg))

        t0 = time.perf_counter()
        try:
            paths = [pathlib.Path(p) for p in hook(out, log) or []]
            extra = colour_crops(out / "upscale") if name == "upscale" else []
        except ImportError as exc:
            print(f"skipped {name}: {exc}", flush=True)
            sections.append(f"{head}<p>Skipped: {html.escape(str(exc))}</p>")
            continue
        except Exception as exc:  # a broken part must not hide the others
            failures += 1
            print(f"FAILED {name}: {type(exc).__name__}: {exc}", flush=True)
            sections.append(f"{head}<p>Failed: {html.escape(str(exc))}</p>")
            continue
        dt = time.perf_counter() - t0
        print(f"({name}: {dt:.1f} s, {len(paths)} files)", flush=True)
        body = _body(name, paths, out)
        if extra:
            body += ("<div class='row'>" + "".join(_figure(_rel(p, out), c) for p, c in extra)
                     + "</div>")
        if printed and name in ("dcgan", "segment"):
            body += ("<details open><summary>What the run printed</summary><pre>"
                     + html.escape("\n".join(printed)) + "</pre></details>")
        sections.append(f"<section>{head}{body}{_docs_link(out, page)}"
                        f"<p class='more'>This part took {dt:.1f} s.</p></section>")
        toc.append(f"<a href='#{name}'>{html.escape(title)}</a>")
    index = out / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(_page(out, toc, sections), encoding="utf-8")
    tmp.replace(index)
    print(f"\nwrote {index} ({time.perf_counter() - t_all:.1f} s)", flush=True)
    if failures:
        print(f"tconv demo: {failures} part(s) failed", file=sys.stderr)
        return 1
    return 0


def _body(name: str, paths: list[pathlib.Path], out: pathlib.Path) -> str:
    """The files a part wrote, as figures with captions; fragments it wrote inline."""
    fragments = [p for p in paths if p.suffix == ".html" and p.parent != out]
    folder = out / name
    if name == "figures" and (folder / "figures.html").exists():
        return "".join(_fragment(f, out) for f in sorted(folder.rglob("figures.html")))
    shown = "".join(p.read_text(encoding="utf-8", errors="replace") for p in fragments)
    parts = []
    for p in paths:
        if p.suffix in (".json", ".pt") or (p.suffix == ".md" and fragments):
            continue              # data files; a report the fragment already tables
        if p.suffix == ".png" and any(f"'{p.name}'" in shown or f'"{p.name}"' in shown
                                      for _ in (0,)):
            continue              # a picture the fragment shows
        parts.append(_embed(p, out))
    return "\n".join(parts)
