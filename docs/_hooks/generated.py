"""MkDocs hook: pages and files computed by tconv while the site builds.

- ``gallery/``: the article's pictures and animations (``tconv figures``' writer) and the
  checkerboard figures (``tconv checkerboard``'s writer), with their captions, and a generated
  ``gallery.md`` listing them;
- ``explorer/tconv-explorer.html``: the offline explorer page (``tconv explore``'s writer),
  embedded by ``explorer.md`` in an iframe.

The pictures take seconds to draw, so they are cached under ``build/docs-cache/KEY`` where KEY
hashes the tconv sources that draw them; the explorer page is always written afresh.
"""

from __future__ import annotations

import hashlib
import html
import json
import pathlib
import re
import shutil
import tempfile

from mkdocs.structure.files import File, Files

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "tconv"
CACHE = ROOT / "build" / "docs-cache"

#: (folder, title, intro) of each gallery section, in page order
SECTIONS = (
    ("article", "The article's walk-through: 4x4 input, 3x3 kernel",
     "The convolution of the article (4x4 input, 3x3 kernel, 2x2 output) and the transposed "
     "convolution that takes its 2x2 output back to 4x4, drawn from the numbers tconv "
     "computes."),
    ("strided", "A strided transposed convolution: 2x2 to 3x3 (kernel 3, stride 2, padding 1)",
     "With stride 2 the transposed convolution inserts a zero between input cells; kernel 3 "
     "does not divide by 2, so the output cells receive unequal numbers of taps."),
    ("checkerboard", "Checkerboard artifacts",
     "How many kernel taps reach each output phase, and what four up-samplers with random "
     "weights make of a constant image."),
)


def _key() -> str:
    h = hashlib.sha256()
    for rel in ("viz", "cli/figures.py", "cli/checkerboard.py", "checkerboard.py",
                "matrix.py", "conv.py"):
        p = SRC / rel
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _draw(folder: pathlib.Path) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    from tconv.cli import checkerboard, figures

    quiet = lambda msg: None  # noqa: E731
    items: list[dict] = []
    conv_g, trans_g = figures.geometries(None, 3, 1, 0, 1, 0, "both")
    for p, cap in figures.write_figures(folder / "article", conv_g, trans_g, dpi=80, log=quiet):
        items.append({"section": "article", "path": p.relative_to(folder).as_posix(),
                      "caption": cap})
    strided = figures.geometries((2, 2), 3, 2, 1, 1, 0, "transposed")[1]
    for p, cap in figures.write_figures(folder / "strided", None, strided, dpi=80, log=quiet):
        items.append({"section": "strided", "path": p.relative_to(folder).as_posix(),
                      "caption": cap})
    captions = {
        "overlap_maps.png": "Kernel taps reaching each output pixel of a transposed "
                            "convolution, for kernel/stride pairs: even when the stride "
                            "divides the kernel, a checkerboard when it does not.",
        "upsamplers.png": "x2 up-sampling of a constant image with random weights: transposed "
                          "conv (k3, s2), pixel shuffle, pixel shuffle with ICNR, "
                          "resize-convolution.",
    }
    cb = folder / "checkerboard"
    cb.mkdir(parents=True, exist_ok=True)
    for p in checkerboard.write_figures(cb, dpi=80, log=quiet):
        items.append({"section": "checkerboard", "path": p.relative_to(folder).as_posix(),
                      "caption": captions.get(p.name, p.stem.replace("_", " "))})
    return items


def _gallery(items: list[dict]) -> str:
    lines = ["# Gallery", "",
             "Every picture below is drawn by tconv from numbers it computes, when this site "
             "is built. `tconv figures --out DIR` draws the same set for any configuration "
             "(input size, kernel, stride, padding, dilation, output padding); "
             "`tconv checkerboard --out DIR` draws the last section.", ""]
    for key, title, intro in SECTIONS:
        lines += [f"## {title}", "", intro, ""]
        for it in (i for i in items if i["section"] == key):
            cap = html.escape(it["caption"])
            lines += ['<figure markdown="span">', "",
                      f'![{cap}](gallery/{it["path"]}){{ loading=lazy }}', "",
                      f"<figcaption>{cap}</figcaption>", "</figure>", ""]
    return "\n".join(lines)


def on_files(files: Files, config) -> Files:
    key = _key()
    folder = CACHE / key
    manifest = folder / "items.json"
    if not manifest.exists():
        # drawn aside, then renamed into place: a concurrent build never sees half a folder
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{key}-", dir=CACHE))
        (tmp / "items.json").write_text(json.dumps(_draw(tmp)))
        try:
            tmp.rename(folder)
        except OSError:                  # another build got there first
            shutil.rmtree(tmp, ignore_errors=True)
        for old in CACHE.iterdir():      # drawings of older sources
            if old.name != key and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
    items = json.loads(manifest.read_text())
    for it in items:
        files.append(File.generated(config, f"gallery/{it['path']}",
                                    abs_src_path=str(folder / it["path"])))
    files.append(File.generated(config, "gallery.md", content=_gallery(items)))

    from tconv.viz.explore import explorer_html

    page = explorer_html({"transposed": True, "input_size": (2, 2), "kernel_size": (3, 3)},
                         title="tconv explorer")
    files.append(File.generated(config, "explorer/tconv-explorer.html", content=page))
    return files


# markdown-exec ships assets for its pyodide fences, which this site does not use; their
# stylesheet imports a theme from a CDN, so they are left out of every page and of site/.
_PYODIDE_TAG = re.compile(r'\s*<(?:script|link)[^>]*_markdown_exec_pyodide[^>]*>(?:</script>)?')


def on_post_page(output: str, page, config) -> str:
    return _PYODIDE_TAG.sub("", output)


def on_post_build(config) -> None:
    for path in pathlib.Path(config["site_dir"]).glob("assets/_markdown_exec_pyodide.*"):
        path.unlink()
