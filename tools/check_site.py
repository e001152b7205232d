#!/usr/bin/env python3
"""Build the project site and check every page in headless Chromium, as a reader sees it.

Steps: ``tools/build_site.py`` assembles the docs folder, ``mkdocs build --strict`` builds
the site into a temporary folder (a broken link, image or anchor fails here), a static
server serves it on 127.0.0.1 (a free port), and Chromium (Debian's ``/usr/bin/chromium``,
driven by playwright; playwright's own browsers are never used) opens every page at two
widths: desktop (1366 x 768 px) and phone (390 x 844 px).

A page fails, at either width, when
* the Material theme did not render (no styled header or navigation);
* a table is rendered as raw ``|`` text (a Markdown table that did not parse);
* a cell of a number or verdict column of a table lies outside the screen, or outside its
  table's scrolling box (a column is a number column when most of its cells start with a
  number, a verdict column when its header says verdict/reproduces or its cells are
  yes/partial/no);
* the page scrolls sideways (the document is wider than the window);
* maths is not rendered (a MathJax error, or ``$...$`` left as text), or prose holds ASCII
  maths (``x^2`` outside code and maths) or speaks of "this issue" / "issue 2";
* an image is broken or the server answered 4xx/5xx, or the browser logged a console
  error or threw an uncaught exception;
* (desktop) a figure is shown below 60% of its natural width (home-page thumbnails, which
  link to the page that shows the figure, are exempt);
* a link to a page or file of the site, or to an anchor in a page, leads nowhere;
* it has no link to its code: the repository link in the header and the page's own source
  (the "edit" button); a problem page also links its ``<mod>.py`` and shows a learning-rule
  function cut from the source (a ``.learning-rule`` block);
* (a problem page) its ``<mod>.gif`` or one of its ``viz/*.png`` is not shown, it has no
  link to the paper (DOI, arXiv or publisher), or (desktop) its result at a glance (the
  ``.glance`` box) is not entirely within the first screen, or a click on its first figure
  does not open the figure full size;
and once per GIF the site serves: fewer than two frames, or a frame delay under 50 ms
(read from the file with Pillow). The check fails when a page cannot be reached from the
home page's navigation.

Requests to any other host are blocked (the check is hermetic); images from other hosts
(badges) are listed as not checked. ``--screenshots DIR`` saves one full-page JPEG per page
and width (``xor-1366.jpg``, ``xor-390.jpg``).

Exit status: 0 all pages pass; 1 with one line per failure on stdout; 2 when the check
cannot run (bad arguments, no Chromium, no playwright); 74 a screenshot cannot be written;
130 interrupted (SIGINT); 143 terminated (SIGTERM).

    python3 tools/check_site.py --screenshots build/screenshots
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import posixpath
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_site  # noqa: E402
from build_site import CleanParser, Terminated, write_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROG = "check_site.py"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
#: The two widths every page is checked at: (name used in messages, width, height) in px.
VIEWPORTS = (("1366", 1366, 768), ("390", 390, 844))
DESKTOP = VIEWPORTS[0][0]
MIN_GIF_DELAY_MS = 50
#: Pages open at once (Chromium renders each in its own process).
PARALLEL_PAGES = 2
#: How long one page may take to load with all its images (a loaded machine is slow).
PAGE_TIMEOUT_MS = 90_000
MIN_SHOWN_FRACTION = 0.6

# Runs in the page once it has loaded: make lazy images eager and wait for every image and
# for MathJax, then measure everything the checks need. Returns one plain object.
JS_REPORT = r"""async (opts) => {
  const article = document.querySelector("article") || document.body;
  const imgs = Array.from(document.images);
  imgs.forEach((img) => { img.loading = "eager"; });
  await Promise.all(imgs.map((img) => img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done); img.addEventListener("error", done);
    setTimeout(done, 15000);
  })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) { /* reported as a console error */ }
  }
  await new Promise((done) => setTimeout(done, 50));
  const W = window.innerWidth, H = window.innerHeight;
  const out = {};

  // Material rendered?
  const header = document.querySelector("header.md-header");
  const nav = document.querySelector("nav.md-nav--primary");
  out.theme = !header || !nav ? "no Material header or navigation in the page"
    : (getComputedStyle(header).position !== "sticky"
       || header.getBoundingClientRect().height < 20)
      ? "Material stylesheet not applied (header is not a sticky bar)" : "";

  // The page scrolls sideways? Name the widest element that no scrolling box clips.
  const doc = document.documentElement;
  out.overflow = null;
  if (doc.scrollWidth > doc.clientWidth + 1) {
    let worst = null, right = 0;
    const clipped = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
        if (getComputedStyle(a).overflowX !== "visible") return true;
      return false;
    };
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > right && !clipped(el)) { right = r.right; worst = el; }
    }
    const name = worst ? worst.tagName.toLowerCase()
      + (worst.className && typeof worst.className === "string"
         ? "." + worst.className.trim().split(/\s+/).join(".") : "") : "?";
    out.overflow = {scroll: doc.scrollWidth, client: doc.clientWidth, culprit: name,
                    right: Math.round(right)};
  }

  // Markdown tables that did not parse: paragraphs of "| a | b |" lines.
  const rowLine = /^\s*\|.*\|\s*$/;
  const delim = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;
  out.rawTables = [];
  for (const p of article.querySelectorAll("p, li")) {
    if (p.closest("pre, code, table")) continue;
    const lines = p.textContent.split("\n");  // the source's lines (innerText joins them)
    const rows = lines.filter((l) => rowLine.test(l)).length;
    if (lines.some((l) => delim.test(l)) || rows >= 2)
      out.rawTables.push(p.textContent.replace(/\s+/g, " ").trim().slice(0, 70));
  }

  // Number and verdict columns inside the visible area.
  const numberish = (t) => /^[~≈<>≤≥±+\-−]?\s*\d/.test(t);
  const verdictish = (t) => /^(yes|no|partial|partly|✓|✗)\b/i.test(t);
  const clipOf = (el) => {
    let left = 0, right = W;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === "auto" || ox === "scroll" || ox === "hidden" || ox === "clip") {
        const r = a.getBoundingClientRect();
        left = Math.max(left, r.left + a.clientLeft);
        right = Math.min(right, r.left + a.clientLeft + a.clientWidth);
      }
    }
    return [left, right];
  };
  out.tables = [];
  const t_stacked = (t) => t.hasAttribute("data-stacked");
  const tables = Array.from(article.querySelectorAll("table"))
    .filter((t) => !t.closest(".highlight, .highlighttable"));
  out.stacked = [];
  tables.forEach((table, ti) => {
    const rows = Array.from(table.rows);
    if (!rows.length) return;
    if (t_stacked(table)) out.stacked.push(ti + 1);
    const head = Array.from(rows[0].cells, (c) => c.innerText.trim());
    const body = rows.slice(1);
    const cols = [];
    for (let c = 0; c < head.length; c++) {
      const cells = body.map((r) => r.cells[c]).filter((x) => x && x.innerText.trim());
      const texts = cells.map((x) => x.innerText.trim());
      const isVerdict = /verdict|reproduc/i.test(head[c])
        || (texts.length > 0 && texts.every(verdictish));
      const nums = texts.filter((t) => numberish(t) || /^[—–-]$/.test(t)).length;
      const isNumber = texts.length > 0 && nums >= 0.6 * texts.length && c > 0;
      if (!isVerdict && !isNumber) continue;
      for (const cell of cells) {
        const r = cell.getBoundingClientRect();
        const [lo, hi] = clipOf(cell);
        if (r.right > hi + 2 || r.left < lo - 2) {
          cols.push({col: head[c] || "#" + (c + 1), kind: isVerdict ? "verdict" : "number",
                     left: Math.round(r.left), right: Math.round(r.right),
                     lo: Math.round(lo), hi: Math.round(hi)});
          break;
        }
      }
    }
    if (cols.length) out.tables.push({index: ti + 1, head: head.join(" | ").slice(0, 60),
                                      cols});
  });

  // Maths: MathJax errors, and $...$ left as text outside code.
  out.mathErrors = Array.from(document.querySelectorAll("mjx-merror"),
    (e) => (e.getAttribute("data-mjx-error") || e.textContent).slice(0, 80));
  out.rawMaths = [];
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest("pre, code, .arithmatex, mjx-container, script, style"))
      continue;
    const m = n.textContent.match(/\$\$?[^$\s][^$]*?\$\$?/);
    if (m && /[\\^_{}]|[a-z]\(/.test(m[0])) out.rawMaths.push(m[0].slice(0, 60));
  }

  // Prose a reader cannot follow: ASCII maths (x^2 outside code and maths) and references
  // to the project's issue tracker.
  out.asciiMaths = [];
  out.issueRefs = [];
  const prose = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let n = prose.nextNode(); n; n = prose.nextNode()) {
    if (n.parentElement.closest("pre, code, .arithmatex, mjx-container, script, style, a"))
      continue;
    const t = n.textContent;
    const a = t.match(/[A-Za-z0-9)\]]\^[-+(A-Za-z0-9{]+/);
    if (a) out.asciiMaths.push(a[0].slice(0, 40));
    const i = t.match(/\b(this issue|issue #?\d+|\(issue\b[^)]*\))/i);
    if (i) out.issueRefs.push(i[0].slice(0, 40));
  }

  // Images.
  out.images = imgs.map((img) => {
    const r = img.getBoundingClientRect();
    return {src: img.currentSrc || img.src, w: img.naturalWidth, h: img.naturalHeight,
            shown: r.width, inArticle: article.contains(img),
            thumb: img.classList.contains("card-thumb"),
            skip: img.classList.contains("twemoji") || img.classList.contains("emojione")};
  });

  // Links and anchors.
  out.links = Array.from(document.querySelectorAll("a[href]"), (a) => a.href);
  out.articleLinks = Array.from(article.querySelectorAll("a[href]"), (a) => a.href);
  out.ids = Array.from(document.querySelectorAll("[id]"), (e) => e.id)
    .concat(Array.from(document.querySelectorAll("a[name]"), (e) => e.name));
  const source = document.querySelector("a.md-source");
  out.repoLink = source ? source.href : "";
  const edit = document.querySelector("a.md-content__button[rel=edit]");
  out.editLink = edit ? edit.href : "";
  out.learningRule = Array.from(article.querySelectorAll(".learning-rule pre")).length;

  // The result at a glance, measured from the top of the page.
  window.scrollTo(0, 0);
  const glance = article.querySelector(".glance");
  out.glance = glance ? {top: Math.round(glance.getBoundingClientRect().top),
                         bottom: Math.round(glance.getBoundingClientRect().bottom)} : null;
  out.height = H;
  return out;
}"""


# Runs in a problem page: click its first figure and wait for the full-size view.
JS_LIGHTBOX = r"""async () => {
  const figs = Array.from(document.querySelectorAll("article img"))
    .filter((i) => !i.classList.contains("card-thumb"));
  if (!figs.length) return "";
  const link = figs[0].closest("a.glightbox");
  if (!link) return "figures do not open full size (no viewer link around "
    + figs[0].getAttribute("src") + ")";
  link.click();
  for (let i = 0; i < 100; i++) {
    await new Promise((done) => setTimeout(done, 50));
    const img = document.querySelector(".glightbox-container .gslide-image img");
    if (img && img.complete && img.naturalWidth > 0) {
      const close = document.querySelector(".glightbox-container .gclose");
      if (close) close.click();
      for (let j = 0; j < 30 && document.querySelector(".glightbox-container"); j++)
        await new Promise((done) => setTimeout(done, 50));
      return "";
    }
  }
  return "clicking a figure does not open it full size";
}"""


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


def shot_name(path: str, width: str | None = None) -> str:
    """Screenshot file name: '/' -> 'home.jpg', '/xor/' at 390 px -> 'xor-390.jpg'."""
    name = path.strip("/").replace("/", "__").removesuffix(".html") or "home"
    return f"{name}-{width}.jpg" if width else f"{name}.jpg"


def site_file(site: Path, url_path: str) -> Path | None:
    """The file of the built site that a URL path names (a folder: its index.html), or None
    when there is none (or the path leaves the site)."""
    rel = posixpath.normpath(unquote(url_path).lstrip("/")) if url_path.strip("/") else "."
    if rel.startswith(".."):
        return None
    path = site / rel
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


def gif_problem(path: Path) -> str | None:
    """What is wrong with a GIF for a reader, or None: a single frame, or frame delays under
    50 ms (browsers play a 0 ms delay at about 100 ms, so the pace is not the author's)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            n = getattr(im, "n_frames", 1)
            delays = []
            for i in range(n):
                im.seek(i)
                delays.append(int(im.info.get("duration", 0) or 0))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        return f"cannot be read ({exc})"
    if n < 2:
        return "has a single frame (it does not animate)"
    short = [d for d in delays if d < MIN_GIF_DELAY_MS]
    if short:
        return (
            f"{len(short)} of {n} frame delays are under {MIN_GIF_DELAY_MS} ms "
            f"(shortest {min(delays)} ms; delays are in milliseconds)"
        )
    return None


def build(root: Path, site: Path) -> list[str]:
    """Assemble the docs and run ``mkdocs build --strict``; failure lines, or [] when built."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    steps = [
        (
            "build_site.py",
            [sys.executable, str(Path(__file__).with_name("build_site.py")), "--root", str(root)],
        ),
        (
            "mkdocs build --strict",
            [sys.executable, "-m", "mkdocs", "build", "--strict"]
            + ["--config-file", str(root / "mkdocs.yml"), "--site-dir", str(site)],
        ),
    ]
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
        files = [root / p.slug / f"{p.mod}.gif"]
        files += sorted((root / p.slug / "viz").glob("*.png"))
        media[f"/{p.slug}/"] = ["/" + f.relative_to(root).as_posix() for f in files if f.is_file()]
    return media


def page_sources(root: Path) -> dict[str, str]:
    """URL path of each page -> the repository file it is built from."""
    problems = build_site.discover_problems(root)
    pages, _ = build_site.page_sources(root, problems)
    out = {}
    for src in pages:
        folder = posixpath.dirname(src)
        stem = posixpath.splitext(posixpath.basename(src))[0]
        out["/" if src == build_site.HOME else f"/{folder}/" if folder else f"/{stem}/"] = src
    return out


def judge_report(
    rep: dict, path: str, width: str, *, repo_url: str, source: str | None, code: str | None
) -> list[str]:
    """Failure messages for one page at one width from the browser's report ``rep``.

    ``source`` is the repository file the page is built from (its edit link must point at
    it); ``code`` the problem's main module (repo-relative) for a problem page, else None.
    """
    fail = []
    if rep["theme"]:
        fail.append(rep["theme"])
    for text in rep["rawTables"]:
        fail.append(f"table rendered as raw text: {text!r}")
    for t in rep["tables"]:
        for c in t["cols"]:
            fail.append(
                f"table {t['index']} ({t['head']!r}): {c['kind']} column {c['col']!r} spans "
                f"x={c['left']}..{c['right']} px, visible x={c['lo']}..{c['hi']} px"
            )
    if rep["overflow"]:
        o = rep["overflow"]
        fail.append(
            f"page scrolls sideways: {o['scroll']} px wide in a {o['client']} px window "
            f"(widest: {o['culprit']}, right edge at {o['right']} px)"
        )
    for text in rep["mathErrors"]:
        fail.append(f"maths error: {text}")
    for text in rep["rawMaths"][:3]:
        fail.append(f"maths not rendered: {text!r}")
    for text in rep.get("asciiMaths", [])[:3]:
        fail.append(f"ASCII maths in prose (write it as $...$): {text!r}")
    for text in rep.get("issueRefs", [])[:3]:
        fail.append(f"speaks of an issue, which readers cannot follow: {text!r}")
    if width == DESKTOP:
        for img in rep["images"]:
            if not img["inArticle"] or img["thumb"] or img["skip"] or not img["w"]:
                continue
            frac = img["shown"] / img["w"]
            if frac < MIN_SHOWN_FRACTION:
                name = unquote(urlsplit(img["src"]).path)
                fail.append(
                    f"figure {name} shown at {img['shown']:.0f} of its {img['w']} px "
                    f"({frac:.1%} < {MIN_SHOWN_FRACTION:.0%}): re-export it for an ~830 px "
                    "column or split it"
                )
    if rep.get("lightbox"):
        fail.append(rep["lightbox"])
    if not rep["repoLink"].startswith(repo_url):
        fail.append(f"no link to the repository ({repo_url}) in the header")
    if source is not None and f"/{source}" not in rep["editLink"]:
        fail.append(f"no link to the page's source ({source}): edit link {rep['editLink']!r}")
    if code is not None:
        code_url = f"{repo_url}/blob/{build_site.REF}/{code}"
        if not any(h.split("#", 1)[0] == code_url for h in rep["articleLinks"]):
            fail.append(f"no link to its code ({code_url})")
        if not rep["learningRule"]:
            fail.append(
                "no learning-rule code shown (a `<!-- code: FILE.py FUNCTION -->` line in "
                "the README)"
            )
        if width == DESKTOP:
            g = rep["glance"]
            if g is None:
                fail.append("no result at a glance (the README's glance block)")
            elif g["top"] < 0 or g["bottom"] > rep["height"]:
                fail.append(
                    f"result at a glance spans y={g['top']}..{g['bottom']} px, not within "
                    f"the first screen (0..{rep['height']} px)"
                )
    return fail


def check_links(
    links: dict[str, set[str]], ids: dict[str, set[str]], site: Path, local
) -> list[str]:
    """Broken internal links: to a page or file the site lacks, or to a missing anchor.

    ``links`` maps a page's URL path to the absolute hrefs on it, ``ids`` a page's URL path
    to the ids in it, ``local`` tells whether an href is on the site's host.
    """
    fail = []
    for page, hrefs in links.items():
        for href in sorted(hrefs):
            if not local(href):
                continue
            parts = urlsplit(href)
            target = parts.path or "/"
            if site_file(site, target) is None:
                fail.append(f"{page}: broken link to {target}")
                continue
            frag = unquote(parts.fragment)
            if not frag:
                continue
            key = target if target.endswith("/") else None
            if key is None and target.endswith(".html"):
                key = target
            if key in ids and frag not in ids[key]:
                fail.append(f"{page}: broken anchor {target}#{frag}")
    return fail


def check_pages(
    base: str, pages: list[str], root: Path, site: Path, shots: Path | None, chromium: str
):
    """Open every page at both widths in headless Chromium; return (failures, notes, counts)."""
    return asyncio.run(_check_pages(base, pages, root, site, shots, chromium))


async def _check_pages(base, pages, root, site, shots, chromium):
    from playwright.async_api import Error as PlaywrightError

    failures: list[str] = []
    notes: list[str] = []
    counts = {"images": set(), "gifs": set()}
    blocked: list[str] = []
    media = expected_media(root)
    sources = page_sources(root)
    repo_url = build_site.repo_url_from_config(root)
    codes = {f"/{p.slug}/": f"{p.slug}/{p.mod}.py" for p in build_site.discover_problems(root)}
    host = urlsplit(base).netloc
    links: dict[str, set[str]] = {}
    ids: dict[str, set[str]] = {}
    gif_pages: dict[str, str] = {}

    def local(url: str) -> bool:
        return urlsplit(url).netloc == host

    async def route(r):
        if local(r.request.url) or r.request.url.startswith(("data:", "blob:")):
            await r.continue_()
        else:
            blocked.append(r.request.url)
            await r.abort()

    async def visit(ctx, gate, width: str, w: int, h: int, path: str):
        shot = None
        async with gate:
            page = await ctx.new_page()
            try:
                await page.set_viewport_size({"width": w, "height": h})
                lightbox = width == DESKTOP and path in codes  # a problem page
                msgs, rep = await _load(page, base + path, local, blocked, lightbox)
            except PlaywrightError as exc:  # this page only; the others are still checked
                msgs, rep = [f"browser error: {str(exc).splitlines()[0]}"], None
            try:
                if shots is not None and rep is not None:  # JPEG: half the time of a PNG
                    shot = await page.screenshot(
                        full_page=True, type="jpeg", quality=75, timeout=PAGE_TIMEOUT_MS
                    )
            except PlaywrightError as exc:
                msgs.append(f"screenshot failed: {str(exc).splitlines()[0]}")
            finally:
                await page.close()
        if shot is not None:
            write_atomic(shots / shot_name(path, width), shot)
        return width, path, msgs, rep

    results = await _run_browser(chromium, route, visit, pages, failures, PlaywrightError)
    for width, path, msgs, rep in results:
        if rep is not None:
            msgs += judge_report(
                rep, path, width, repo_url=repo_url, source=sources.get(path), code=codes.get(path)
            )
            msgs += _media_checks(rep, media.get(path), local, notes, path)
            for img in rep["images"]:
                if local(img["src"]) and img["w"]:
                    p = unquote(urlsplit(img["src"]).path)
                    counts["images"].add(p)
                    if p.lower().endswith(".gif") and (
                        p not in gif_pages or p.startswith(path) and path != "/"
                    ):
                        gif_pages[p] = path  # the problem's own page, else the first seen
            if width == DESKTOP and rep["stacked"]:
                notes.append(
                    f"{path} @{width}: table(s) {', '.join(map(str, rep['stacked']))} are wider "
                    "than the column and shown stacked (one block per row)"
                )
            if width == DESKTOP:
                links[path] = set(rep["links"])
                ids[path] = set(rep["ids"])
                if path == "/":
                    reached = {urlsplit(u).path for u in rep["links"] if local(u)}
                    failures += [
                        f"{p}: not reachable from the home page"
                        for p in pages
                        if p not in reached and p != "/"
                    ]
        failures += [f"{path} @{width}: {m}" for m in msgs]
    failures += check_links(links, ids, site, local)
    for gif, page_path in sorted(gif_pages.items()):
        counts["gifs"].add(gif)
        file = site_file(site, gif)
        why = gif_problem(file) if file is not None else "is not in the site"
        if why:
            failures.append(f"{page_path}: GIF {gif} {why}")
    return failures, notes, counts


async def _run_browser(chromium, route, visit, pages, failures, error_type):
    """Visit every page at every width in one Chromium; return the visits' results.

    SIGINT and SIGTERM cancel the visits; the browser is closed before the signal is
    turned into KeyboardInterrupt or Terminated, so no Chromium process outlives the check.
    """
    from playwright.async_api import async_playwright

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    results = []
    try:
        with tempfile.TemporaryDirectory(
            prefix="check_site_profile_", ignore_cleanup_errors=True
        ) as profile:
            async with async_playwright() as pw:
                ctx = await pw.chromium.launch_persistent_context(
                    profile,
                    executable_path=chromium,
                    headless=True,
                    args=CHROMIUM_FLAGS,
                    viewport={"width": VIEWPORTS[0][1], "height": VIEWPORTS[0][2]},
                )
                try:
                    await ctx.route("**/*", route)
                    gate = asyncio.Semaphore(PARALLEL_PAGES)
                    jobs = [visit(ctx, gate, *vp, path) for vp in VIEWPORTS for path in pages]
                    results = await asyncio.gather(*jobs)
                except error_type as exc:
                    failures.append(f"browser error: {str(exc).splitlines()[0]}")
                finally:
                    await asyncio.shield(ctx.close())
    except asyncio.CancelledError:
        if signals:
            raise KeyboardInterrupt() if signals[0] == signal.SIGINT else Terminated() from None
        raise
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return results


async def _load(
    page, url: str, local, blocked, lightbox: bool = False
) -> tuple[list[str], dict | None]:
    """Open ``url``; return (failure messages so far, the page's report or None).

    With ``lightbox``, also click the first figure and record in ``report["lightbox"]``
    why it did not open full size ("" when it did).
    """
    fail: list[str] = []
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
    response = await page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
    if response is None or response.status >= 400:
        fail.append(f"page answered HTTP {response.status if response else 'nothing'}")
        return fail, None
    rep = await page.evaluate(JS_REPORT, {})
    if lightbox:
        rep["lightbox"] = await page.evaluate(JS_LIGHTBOX)
    await page.wait_for_timeout(150)  # let late console errors arrive
    fail += [f"console error: {text}" for text in console]
    return fail, rep


def _media_checks(rep: dict, media, local, notes: list[str], path: str) -> list[str]:
    """Broken images, the problem's GIF and figures shown, a link to the paper."""
    fail = []
    for img in rep["images"]:
        src = img["src"]
        if not local(src):
            note = f"{path}: image not served by the site, not checked: {src[:80]}"
            if note not in notes:
                notes.append(note)
            continue
        if img["w"] == 0:
            url_path = unquote(urlsplit(src).path)
            kind = "GIF does not load" if url_path.lower().endswith(".gif") else "broken image"
            fail.append(f"{kind}: {url_path} (naturalWidth 0)")
    on_page = {unquote(urlsplit(i["src"]).path) for i in rep["images"] if local(i["src"])}
    for want in media or []:
        if want not in on_page:
            fail.append(f"{want} is in the problem folder but not shown on its page")
    if media is not None:  # a problem page: its citation links to the paper
        outside = [
            h
            for h in rep["articleLinks"]
            if h.startswith(("http://", "https://")) and not local(h) and "github.com/" not in h
        ]
        if not outside:
            fail.append("no link to the paper (a DOI, arXiv or publisher URL) in the page")
    return fail


def build_parser() -> CleanParser:
    """The command line of check_site.py."""
    parser = CleanParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--screenshots",
        type=build_site.path_arg,
        default=None,
        help="folder to save one full-page JPEG per page and width in (path; its old *.jpg "
        "and *.png files are removed; default: no screenshots)",
    )
    parser.add_argument(
        "--root",
        type=build_site.path_arg,
        default=ROOT,
        help="repository root holding mkdocs.yml and README.md (path; default: this "
        "file's repository)",
    )
    parser.add_argument(
        "--chromium",
        type=build_site.path_arg,
        default=Path("/usr/bin/chromium"),
        help="Chromium or Chrome binary (path; default: Debian's /usr/bin/chromium)",
    )
    return parser


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not build_site.is_file(root / "mkdocs.yml") or not build_site.is_file(root / "README.md"):
        parser.error(f"{root} has no mkdocs.yml and README.md (--root: the repository root)")
    # the arguments first, then what the machine lacks
    shots = None if args.screenshots is None else args.screenshots.resolve()
    why = build_site.check_output_folder(shots) if shots else None
    if why:
        parser.error(f"--screenshots: {why}")
    if not os.access(args.chromium, os.X_OK) or os.path.isdir(args.chromium):
        parser.error(
            f"no Chromium at {args.chromium} (Debian: apt-get install -y chromium; or --chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        parser.error("playwright is not installed (python3 -m pip install -r requirements-dev.txt)")
    if shots is not None:
        try:
            for old in [*shots.glob("*.png"), *shots.glob("*.jpg")]:
                old.unlink()
        except OSError as exc:
            parser.error(f"--screenshots: cannot write {shots}: {exc.strerror}")

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
            failures, notes, counts = check_pages(
                base, pages, root, site, shots, str(args.chromium)
            )
        finally:
            server.shutdown()
            server.server_close()
    failures += [f"{path}: server answered {code}" for path, code in sorted(set(http_errors))]
    for line in notes:
        print(f"note {line}")
    for line in failures:
        print(f"FAIL {line}")
    where = f"; screenshots in {shots}" if shots else ""
    widths = " and ".join(f"{w} px" for w, _, _ in VIEWPORTS)
    print(
        f"check_site: {len(pages)} pages at {widths}, {len(counts['images'])} images "
        f"({len(counts['gifs'])} GIFs), {len(failures)} failures in "
        f"{time.monotonic() - start:.1f} s{where}"
    )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    """Run the check; returns the exit status (see the module docstring)."""
    return build_site.run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
