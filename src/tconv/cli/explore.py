"""``tconv explore``: an offline HTML page to explore (transposed) convolution with numbers.

Set the input size, kernel size, stride, padding, dilation, output_padding and conv vs
conv_transpose; type input and kernel values (or pick the article's numbers, ones, random
integers, an impulse) and step through five linked views: scatter (partial sums), zero
insertion (wasted multiplications), the matrix C / Cᵀ product, the sub-pixel phases and the
checkerboard overlap. The configuration is kept in the URL; English / 中文. The page is one
self-contained file (no CDN); its JavaScript port of tconv checks itself on load against
results tconv embedded.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._outputs import check_file_out

__all__ = ["add_parser", "run", "demo", "make_server"]

EPILOG = """examples:
  tconv explore                                   # writes tconv-explorer.html
  tconv explore --out page.html --transposed --input-size 3,3 --stride 2 --padding 1
  tconv explore --out page.html --overwrite --transposed --input-size 4 --kernel-size 4 --stride 2
  tconv explore --serve --port 8765               # serve on http://127.0.0.1:8765/
"""

DEFAULT_OUT = pathlib.Path("tconv-explorer.html")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} must be in [0, 65535] (0: any free port)")
    return port


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .figures import parse_value

    p = sub.add_parser("explore", help="write (or serve) the offline HTML explorer page",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__, epilog=EPILOG)
    p.add_argument("--out", type=pathlib.Path, default=None,
                   help="HTML file to write (default: tconv-explorer.html; with --serve "
                        "only when given)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out file (refused otherwise)")
    p.add_argument("--serve", action="store_true",
                   help="serve the page on 127.0.0.1 instead of only writing it")
    p.add_argument("--port", type=_port, default=8765,
                   help="port for --serve, 0 to 65535 (0: any free)")
    p.add_argument("--transposed", action="store_true", help="start in conv_transpose mode")
    for name, default in (("input-size", (4, 4)), ("kernel-size", 3), ("stride", 1),
                          ("padding", 0), ("dilation", 1), ("output-padding", 0)):
        p.add_argument(f"--{name}", type=parse_value, default=default,
                       help=f"initial {name.replace('-', ' ')} (default: {default})")
    p.set_defaults(func=run, explore_parser=p)


def _page(args: argparse.Namespace) -> str:
    from tconv.viz.explore import explorer_html

    config: dict[str, Any] = dict(
        transposed=args.transposed, input_size=args.input_size, kernel_size=args.kernel_size,
        stride=args.stride, padding=args.padding, dilation=args.dilation,
        output_padding=args.output_padding)
    return explorer_html(config)


def make_server(page: str, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 answering every GET with ``page`` (call serve_forever)."""
    body = page.encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def run(args: argparse.Namespace) -> int:
    out: pathlib.Path | None = args.out
    if out is None and not args.serve:
        out = DEFAULT_OUT
    if out is not None and out.exists() and not args.overwrite:
        args.explore_parser.error(f"argument --out: {out} exists; pass --overwrite to replace "
                                  "it, or choose another --out")
    if out is not None and out.exists() and out.is_dir():
        args.explore_parser.error(f"argument --out: {out} is a folder; name an .html file")
    if out is not None:
        check_file_out("--out", out, overwrite=True)
    page = _page(args)
    if out is not None:
        from ..io import atomic_write

        data = page.encode("utf-8")
        atomic_write(out, data, overwrite=True)      # whole or absent; a full disk names out
        print(f"wrote {out} ({len(data) / 1024:.1f} KiB, works offline): "
              f"open file://{out.resolve()}")
    if args.serve:
        try:
            server = make_server(page, args.port)
        except OSError as exc:
            raise ValueError(f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}; "
                             "choose another --port (0: any free)") from None
        port = server.server_address[1]
        print(f"serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        finally:
            server.server_close()
    return 0


def demo(out_dir: pathlib.Path, log: Callable[[str], None]) -> list[pathlib.Path]:
    """The explorer page, starting on the article's 2x2 -> 4x4 transposed convolution."""
    from tconv.viz.explore import explorer_html

    path = out_dir / "explorer.html"
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(explorer_html(dict(transposed=True, input_size=(2, 2), kernel_size=3)),
                    encoding="utf-8")
    log(f"wrote {path}")
    return [path]
