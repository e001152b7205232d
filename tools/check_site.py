#!/usr/bin/env python3
"""Build the project site and check every page in headless Chromium, as a reader sees it.

Steps: ``tools/build_site.py`` assembles the docs folder, ``mkdocs build --strict`` builds
the site into a temporary folder (a broken link, image or anchor fails here), a static
server serves it on 127.0.0.1 (a free port), and Chromium (Debian's ``/usr/bin/chromium``,
driven by playwright; playwright's own browsers are never used) opens every page.

A page fails when
* the Material theme did not render (no styled header or navigation),
* an image is broken (``naturalWidth == 0`` after load) or the server answered 4xx/5xx,
* the browser logged a console error or the page threw an uncaught exception,
* a GIF does not load, or Chromium's own decoder finds fewer than two frames in it,
* (a problem page) its ``<mod>.gif`` or one of its ``viz/*.png`` is not shown, or it has
  no link to another site (the paper's DOI, arXiv or publisher page),
and the check fails when a page cannot be reached from the home page's navigation.

Requests to any other host are blocked (the check is hermetic); images from other hosts
(badges) are listed as not checked. ``--screenshots DIR`` saves one full-page PNG per page.

Exit status: 0 all pages pass; 1 with one line per failure on stdout; 2 when the check
cannot run (bad arguments, no Chromium, no playwright).

    python3 tools/check_site.py --screenshots build/screenshots
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_site  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}

# Runs in the page: wait for every image (lazy ones made eager), report each one.
JS_IMAGES = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach((img) => { img.loading = "eager"; });
  await Promise.all(imgs.map((img) => img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done); img.addEventListener("error", done);
    setTimeout(done, 15000);
  })));
  return imgs.map((img) => ({src: img.currentSrc || img.src, w: img.naturalWidth,
    h: img.naturalHeight, shown: img.getBoundingClientRect().width > 0}));
}"""
# Runs in the page: decode a GIF with Chromium's own ImageDecoder (WebCodecs).
JS_GIF_FRAMES = """async (src) => {
  const resp = await fetch(src);
  if (!resp.ok) return {error: "HTTP " + resp.status};
  if (typeof ImageDecoder === "undefined") return {error: "no ImageDecoder in this browser"};
  const dec = new ImageDecoder({data: await resp.arrayBuffer(), type: "image/gif"});
  await dec.tracks.ready;
  await dec.completed;
  const track = dec.tracks.selectedTrack;
  const last = await dec.decode({frameIndex: track.frameCount - 1});
  const w = last.image.displayWidth;
  last.image.close(); dec.close();
  return {frames: track.frameCount, animated: track.animated, width: w};
}"""
# Runs in the page: did the Material theme's stylesheet and layout apply?
JS_THEME = """() => {
  const header = document.querySelector("header.md-header");
  const nav = document.querySelector("nav.md-nav--primary");
  if (!header || !nav) return "no Material header or navigation in the page";
  const style = getComputedStyle(header);
  if (style.position !== "sticky" || header.getBoundingClientRect().height < 20)
    return "Material stylesheet not applied (header is not a sticky bar)";
  return "";
}"""
JS_LINKS = """() => Array.from(document.querySelectorAll("a[href]"), (a) => a.href)"""
JS_CONTENT_LINKS = """() =>
  Array.from(document.querySelectorAll("article a[href]"), (a) => a.href)"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from the site folder; remembers every 4xx/5xx answer, logs nothing."""

    errors: list[tuple[str, int]]

    def log_request(self, code="-", size="-") -> None:
        if isinstance(code, int) or str(code).isdigit():
            if int(code) >= 400:
                self.errors.append((self.path, int(code)))

    def log_message(self, format, *args) -> None:  # noqa: A002 - http.server's signature
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, list[tuple[str, int]]]:
    """Serve ``site`` on 127.0.0.1 at a free port in a daemon thread."""
    errors: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"errors": errors})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, errors


def site_pages(site: Path) -> list[str]:
    """URL paths ('/', '/xor/', ...) of every HTML page of the built site but 404.html."""
    pages = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        if rel == "404.html":
            continue
        pages.append("/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel))
    return sorted(pages, key=lambda p: (p != "/", p))


def shot_name(path: str) -> str:
    """Screenshot file name for a URL path: '/' -> 'home.png', '/xor/' -> 'xor.png'."""
    name = path.strip("/").replace("/", "__").removesuffix(".html")
    return f"{name or 'home'}.png"


def build(root: Path, site: Path) -> list[str]:
    """Assemble the docs and run ``mkdocs build --strict``; one line per problem found."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    steps = [
        ("build_site.py", [sys.executable, str(Path(__file__).with_name("build_site.py"))]),
        ("mkdocs build --strict", [sys.executable, "-m", "mkdocs", "build", "--strict"]),
    ]
    steps[0][1].extend(["--root", str(root)])
    steps[1][1].extend(["--config-file", str(root / "mkdocs.yml"), "--site-dir", str(site)])
    for name, cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
        lines = [" ".join(ln.split()) for ln in (proc.stdout + proc.stderr).splitlines()]
        lines = [ln for ln in lines if ln]
        if proc.returncode != 0:
            bad = [ln for ln in lines if ln.startswith(("WARNING", "ERROR"))] or lines[-1:]
            return [f"{name}: {ln}" for ln in bad] or [f"{name}: exit {proc.returncode}"]
        print(lines[-1] if lines else f"{name}: ok")
    return []


def expected_media(root: Path) -> dict[str, list[str]]:
    """Per problem page URL path, the GIF and figures its README must show (site paths)."""
    media = {}
    for p in build_site.discover_problems(root):
        files = [root / p.slug / f"{p.slug.replace('-', '_')}.gif"]
        files += sorted((root / p.slug / "viz").glob("*.png"))
        media[f"/{p.slug}/"] = ["/" + f.relative_to(root).as_posix() for f in files if f.is_file()]
    return media


def check_pages(base: str, pages: list[str], root: Path, shots: Path | None, chromium: str):
    """Open every page in headless Chromium; return (failures, notes, counts)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    notes: list[str] = []
    counts = {"images": 0, "gifs": 0}
    blocked: list[str] = []
    media = expected_media(root)
    host = urlsplit(base).netloc

    def local(url: str) -> bool:
        return urlsplit(url).netloc == host

    def route(r):
        if local(r.request.url) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with tempfile.TemporaryDirectory(prefix="check_site_profile_") as profile:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport=VIEWPORT,
            )
            ctx.route("**/*", route)
            try:
                for path in pages:
                    page = ctx.new_page()
                    problems = _check_one(page, base, path, media.get(path), local, blocked)
                    failures += [f"{path}: {msg}" for msg in problems["fail"]]
                    notes += [f"{path}: {msg}" for msg in problems["note"]]
                    counts["images"] += problems["images"]
                    counts["gifs"] += problems["gifs"]
                    if path == "/":
                        reached = {urlsplit(h).path for h in page.evaluate(JS_LINKS) if local(h)}
                        unreachable = [p for p in pages if p not in reached and p != "/"]
                        failures += [f"{p}: not reachable from the home page" for p in unreachable]
                    if shots is not None:
                        page.screenshot(path=str(shots / shot_name(path)), full_page=True)
                    page.close()
            except PlaywrightError as exc:
                failures.append(f"browser error: {str(exc).splitlines()[0]}")
            finally:
                ctx.close()
    return failures, notes, counts


def _check_one(page, base: str, path: str, media, local, blocked) -> dict:
    """Load one page and run every check on it."""
    fail: list[str] = []
    note: list[str] = []
    console: list[str] = []

    def on_console(msg):
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if any(u in msg.text or u == where for u in blocked) or (where and not local(where)):
            return  # a request we blocked on purpose
        console.append(" ".join(msg.text.split())[:200])

    page.on("console", on_console)
    page.on("pageerror", lambda exc: fail.append(f"uncaught exception: {exc}"))
    response = page.goto(base + path, wait_until="load", timeout=30_000)
    if response is None or response.status >= 400:
        fail.append(f"page answered HTTP {response.status if response else 'nothing'}")
        return {"fail": fail, "note": note, "images": 0, "gifs": 0}
    theme = page.evaluate(JS_THEME)
    if theme:
        fail.append(theme)
    images = page.evaluate(JS_IMAGES)
    n_gifs = 0
    for img in images:
        src = img["src"]
        if not local(src):
            note.append(f"image not served by the site, not checked: {src[:80]}")
            continue
        url_path = unquote(urlsplit(src).path)
        if img["w"] == 0:
            kind = "GIF does not load" if url_path.lower().endswith(".gif") else "broken image"
            fail.append(f"{kind}: {url_path} (naturalWidth 0)")
            continue
        if url_path.lower().endswith(".gif"):
            n_gifs += 1
            info = page.evaluate(JS_GIF_FRAMES, src)
            if "error" in info:
                fail.append(f"GIF {url_path} could not be decoded: {info['error']}")
            elif info["frames"] < 2 or not info["animated"]:
                fail.append(f"GIF {url_path} does not animate ({info['frames']} frame(s))")
    on_page = {unquote(urlsplit(i["src"]).path) for i in images if local(i["src"])}
    for want in media or []:
        if want not in on_page:
            fail.append(f"{want} is in the problem folder but not shown on its page")
    if media is not None:  # a problem page: its citation links to the paper
        outside = [
            h
            for h in page.evaluate(JS_CONTENT_LINKS)
            if h.startswith(("http://", "https://")) and not local(h) and "github.com/" not in h
        ]
        if not outside:
            fail.append("no link to the paper (a DOI, arXiv or publisher URL) in the page")
    page.wait_for_timeout(300)  # let late console errors arrive
    fail += [f"console error: {text}" for text in console]
    n_local = sum(local(i["src"]) for i in images)
    return {"fail": fail, "note": note, "images": n_local, "gifs": n_gifs}


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="check_site.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshots", type=Path, default=None, help="save a PNG per page here")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument(
        "--chromium", default="/usr/bin/chromium", help="Chromium binary (default: Debian's)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / "mkdocs.yml").is_file() or not (root / "README.md").is_file():
        parser.error(f"{root} has no mkdocs.yml and README.md (--root: the repository root)")
    if not os.access(args.chromium, os.X_OK):
        parser.error(
            f"no Chromium at {args.chromium} (Debian: apt-get install -y chromium; or --chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        parser.error("playwright is not installed (python3 -m pip install -r requirements-dev.txt)")
    shots = None
    if args.screenshots is not None:
        shots = args.screenshots.resolve()
        try:
            shots.mkdir(parents=True, exist_ok=True)
            for old in shots.glob("*.png"):
                old.unlink()
        except OSError as exc:
            parser.error(f"cannot write screenshots to {shots}: {exc.strerror}")

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="check_site_") as tmp:
        site = Path(tmp) / "site"
        reasons = build(root, site)
        if reasons:
            for line in reasons:
                print(f"FAIL build: {line}")
            print(f"check_site: the site did not build ({len(reasons)} failures)")
            return 1
        pages = site_pages(site)
        server, http_errors = serve(site)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            failures, notes, counts = check_pages(base, pages, root, shots, args.chromium)
        finally:
            server.shutdown()
            server.server_close()
    failures += [f"{path}: server answered {code}" for path, code in sorted(set(http_errors))]
    for line in notes:
        print(f"note {line}")
    for line in failures:
        print(f"FAIL {line}")
    where = f"; screenshots in {shots}" if shots else ""
    print(
        f"check_site: {len(pages)} pages, {counts['images']} images ({counts['gifs']} GIFs), "
        f"{len(failures)} failures in {time.monotonic() - start:.1f} s{where}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
