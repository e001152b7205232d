#!/usr/bin/env python3
"""Assemble the project site's docs folder from the repository's Markdown and records.

The site (mkdocs + Material, configured in ``mkdocs.yml``) is built from files that
already exist in the repository, so nothing is written twice:

* ``README.md``            -> the home page; on the site its generated ``problems`` table
                              is replaced by one card per problem (GIF, question, ours vs
                              paper, verdict) built from each problem's catalog record
* ``<slug>/README.md``     -> one page per problem (a problem folder is a top-level folder
                              holding ``README.md`` and ``<slug with - replaced by _>.py``)
* ``<slug>/<mod>.gif`` and ``<slug>/viz/*.png`` -> copied beside the problem page
* ``RESULTS.md``, ``DATA_MOVEMENT.md``, ``CONTRIBUTING.md`` -> pages, when they exist
* MathJax (from the ``django-static-mathjax`` wheel) -> ``javascripts/mathjax``, so the
  maths renders without fetching anything from another site

A problem's catalog record is ``results/full.json`` when its module declares ``FULL_ARGS``
and that record is committed, else ``results/headline.json``: the same rule as
``tools/run_all.py``, so every page shows one verdict per problem.

The docs folder (default ``build/docs``, gitignored) mirrors the repository layout, so
relative links between READMEs and to images keep working unchanged. The rewriting:

* a link to a file that is not part of the site (source code, JSON records, LICENSE, ...)
  becomes a link to the file in the repository (``repo_url`` of mkdocs.yml);
* a link to a problem folder (``xor/``) points at that folder's README page;
* any other image or GIF a README links to is copied along;
* a line ``<!-- code: FILE.py NAME -->`` in a problem README becomes the source of the
  function or class ``NAME`` (``Class.method`` too) in ``FILE.py``, cut out by name with
  ``ast`` at build time (so it cannot drift), with a link to those lines in the repository;
* the generated ``glance`` block of a problem README is wrapped in a box (``.glance``);
* each page gets a description (meta tag) from the plain sentence under its title;
* a blank line is put before a list or a table that directly follows a paragraph line, and
  around a whole-line HTML comment (GitHub renders these without one; Python-Markdown
  does not).

Links to files that do not exist are left alone, so ``mkdocs build --strict`` reports them.
Fenced code blocks and inline code are never touched.

Usage::

    python3 tools/build_site.py           # writes build/docs
    python3 -m mkdocs build --strict      # writes site/

This file is also an mkdocs hook (``hooks:`` in mkdocs.yml): on every build it re-assembles
the docs folder (only changed files are written) and sets the navigation: Home, the
problems in time order grouped by era, then Results, Data movement and Contributing.

Exit status: 0 written; 2 bad arguments or a README that cannot be built (a ``code:``
line naming a missing function, an unreadable record); 74 a file cannot be written;
130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import json
import os
import posixpath
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path("build") / "docs"
PROG = "build_site.py"

#: The repository's web address when mkdocs.yml names none (mkdocs.yml's ``repo_url`` is
#: the one place it is set; README.md's ``git clone`` line uses the same address).
DEFAULT_REPO_URL = "https://github.com/hinton-problems/hinton-problems"
#: Branch that links to source files point at.
REF = "main"

#: Year of the paper each known problem reproduces (the catalog's grouping). Problems not
#: listed here take the first "(YYYY)" found in their README (the citation), else "Other".
KNOWN_YEARS = {
    "encoder-4-2-4": 1985,
    "xor": 1986,
    "spline-images-factorial-vq": 1994,
    "bars-rbm": 2002,
    "ff-hybrid-mnist": 2022,
}
#: Extensions of files copied into the site when a README links to them.
ASSET_EXTS = {".png", ".gif", ".jpg", ".jpeg", ".svg", ".webp"}
HOME, RESULTS = "README.md", "RESULTS.md"
#: Root pages after the problems, in navigation order, when the file exists.
EXTRA_PAGES = (
    ("Results", RESULTS),
    ("Data movement", "DATA_MOVEMENT.md"),
    ("Contributing", "CONTRIBUTING.md"),
)
PROBLEMS_START, PROBLEMS_END = "<!-- problems:start -->", "<!-- problems:end -->"
GLANCE_START, GLANCE_END = "<!-- glance:start -->", "<!-- glance:end -->"
#: Pages whose right-hand table of contents is hidden, so their tables get the width.
HIDE_TOC = {HOME, RESULTS}
VERDICTS = {"yes": "reproduces", "partial": "partly reproduces", "no": "does not reproduce"}

#: Site stylesheet and scripts (named in mkdocs.yml's extra_css / extra_javascript).
CSS_PATH = "stylesheets/site.css"
MATHJAX_CONFIG_PATH = "javascripts/mathjax-config.js"
TABLES_JS_PATH = "javascripts/tables.js"
MATHJAX_DIR = "javascripts/mathjax"
#: The MathJax files the site serves (relative to MathJax's es5 folder): the TeX-to-HTML
#: bundle, its fonts, and the parts it loads on demand (TeX extensions, menu, a11y).
MATHJAX_GLOBS = (
    "tex-chtml.js",
    "output/chtml/fonts/woff-v2/*.woff",
    "input/tex/extensions/*.js",
    "ui/*.js",
    "a11y/*.js",
    "adaptors/*.js",
)
TABLES_JS = """/* written by tools/build_site.py: a table wider than its column is stacked (one
   block per row, each cell labelled with its column's header), so no column is off-screen. */
(function () {
  "use strict";
  function tables() {
    return Array.from(document.querySelectorAll(".md-typeset table:not([class])"));
  }
  function label(table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) return false;
    var names = Array.from(head.cells, function (c) { return c.textContent.trim(); });
    Array.from(table.tBodies).forEach(function (body) {
      Array.from(body.rows).forEach(function (row) {
        Array.from(row.cells).forEach(function (cell, i) {
          cell.setAttribute("data-label", names[i] || "");
        });
      });
    });
    return true;
  }
  function fit() {
    tables().forEach(function (t) {
      if (!t.hasAttribute("data-labelled")) {
        if (!label(t)) return;
        t.setAttribute("data-labelled", "");
      }
      var box = t.closest(".md-typeset__scrollwrap") || t.parentElement;
      t.removeAttribute("data-stacked");
      if (box.scrollWidth > box.clientWidth + 1) t.setAttribute("data-stacked", "");
    });
  }
  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(fit, 100); }
  fit();
  window.addEventListener("resize", later);
  window.addEventListener("load", fit);
})();
"""
SITE_CSS = """/* written by tools/build_site.py */
/* A column of about 830 px for figures and prose (the contents are in the left sidebar). */
@media screen and (min-width: 76.25em) {
  .md-main__inner > .md-content { max-width: 44rem; }
}
/* Tables wrap their text instead of pushing columns off-screen; code in a cell may break
   anywhere, so a long identifier never widens its column past the screen. */
.md-typeset table:not([class]) { font-size: .7rem; }
.md-typeset table:not([class]) th,
.md-typeset table:not([class]) td {
  min-width: 0; overflow-wrap: break-word; hyphens: auto; padding: .6em .8em;
}
.md-typeset table:not([class]) :is(th, td) code { overflow-wrap: break-word; }
@media screen and (max-width: 44.9375em) {
  .md-typeset table:not([class]) { font-size: .62rem; }
  .md-typeset table:not([class]) :is(th, td) code { overflow-wrap: anywhere; }
  .md-typeset table:not([class]) th,
  .md-typeset table:not([class]) td { padding: .45em .4em; }
  .md-typeset__table { padding: 0; }
}
/* A table still too wide for the column (tables.js sets data-stacked) is shown as one block
   per row, each cell under its column's header, so no column is ever off-screen. */
.md-typeset__table:has(> table[data-stacked]) { display: block; }
.md-typeset table:not([class])[data-stacked] {
  display: block; overflow: visible; border: 0; box-shadow: none; background: none;
}
.md-typeset table:not([class])[data-stacked] thead { display: none; }
.md-typeset table:not([class])[data-stacked] tbody { display: block; }
.md-typeset table:not([class])[data-stacked] tr {
  display: block; margin: 0 0 .6em; border: .05rem solid var(--md-typeset-table-color);
  border-radius: .1rem;
}
.md-typeset table:not([class])[data-stacked] td {
  display: flow-root; border: 0; text-align: left !important; padding: .25em .6em;
}
.md-typeset table:not([class])[data-stacked] td::before {
  content: attr(data-label); float: left; width: min(40%, 12rem); margin-right: .8em;
  font-weight: 700; color: var(--md-default-fg-color--light); overflow-wrap: break-word;
}
.md-typeset table:not([class])[data-stacked] td:first-child {
  background: var(--md-default-fg-color--lightest); font-weight: 700;
}
/* The result at a glance, at the top of each problem page. */
.md-typeset .glance {
  border-left: .2rem solid var(--md-accent-fg-color);
  background: var(--md-code-bg-color);
  padding: .2rem .9rem; margin: 1em 0 1.2em; border-radius: .1rem;
}
.md-typeset .glance > :first-child { margin-top: .5em; }
.md-typeset .glance > :last-child { margin-bottom: .5em; }
.md-typeset .glance table:not([class]) { font-size: .68rem; }
.md-typeset .glance ul { margin-left: .2em; }
.md-typeset .glance li { margin-bottom: .15em; }
/* Home page cards. */
.md-typeset .catalog.grid.cards > ul > li { display: flex; flex-direction: column; }
.md-typeset .catalog img.card-thumb {
  display: block; width: 100%; max-height: 15rem; object-fit: contain;
  background: #fff; border-radius: .1rem;
}
.md-typeset .catalog.grid.cards > ul > li > p { margin: .35em 0; }
.md-typeset .catalog .card-measure { font-size: .7rem; color: var(--md-default-fg-color--light); }
.md-typeset .catalog.grid.cards > ul > li > p:has(> .card-measure) { margin: .6em 0 0; }
.md-typeset .catalog.grid.cards > ul > li > p:has(> .card-measure) + p { margin-top: 0; }
.md-typeset .catalog.grid.cards > ul > li > p:nth-child(2) { font-size: .85rem; }
.md-typeset .verdict {
  font-weight: 700; padding: 0 .3em; border-radius: .2em; white-space: nowrap;
}
.md-typeset .verdict-yes { background: #d8f0dc; color: #14532d; }
.md-typeset .verdict-partial { background: #fdf0c8; color: #6b4a00; }
.md-typeset .verdict-no { background: #f9d7d7; color: #7f1d1d; }
/* The learning-rule function shown on a problem page. */
.md-typeset .learning-rule > p:first-child { margin-bottom: .3em; }
/* MathJax's hidden copy of each formula for screen readers is visually hidden the usual
   way (1 px), so it never widens the page. */
.md-typeset mjx-container mjx-assistive-mml {
  width: 1px !important; height: 1px !important; max-width: 1px !important;
}
/* On a phone an inline formula wider than the column scrolls by itself, not the page. */
@media screen and (max-width: 44.9375em) {
  .md-typeset span.arithmatex {
    display: inline-block; max-width: 100%; overflow-x: auto; overflow-y: hidden;
    vertical-align: middle;
  }
}
/* Figures never wider than the column. */
.md-typeset img { max-width: 100%; height: auto; }
"""
MATHJAX_CONFIG = """/* written by tools/build_site.py: MathJax for pymdownx.arithmatex, generic */
window.MathJax = {
  tex: {
    inlineMath: [["\\\\(", "\\\\)"]],
    displayMath: [["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};
"""

_FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_TITLE = r"""(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\))"""
_DEST = r"(?:<[^<>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)"
# [text](dest "title") and ![alt](dest); the text may hold one level of brackets
# (an image inside a link: [![alt](a.png)](b)).
_LINK_RE = re.compile(
    r"(?P<bang>!?)\[(?P<text>(?:[^\[\]\n]|\n(?!\s*\n)|\[[^\[\]]*\])*)\]"
    r"\((?P<sp>\s*)(?P<dest>" + _DEST + r")(?P<title>\s+" + _TITLE + r")?\s*\)"
)
_REFDEF_RE = re.compile(
    r"^(?P<lead> {0,3}\[[^\]\n]+\]:[ \t]*)(?P<dest><[^<>\n]*>|\S+)(?P<rest>.*)$", re.M
)
_LIST_ITEM_RE = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_TABLE_ROW_RE = re.compile(r"^ {0,3}\|")
_COMMENT_LINE_RE = re.compile(r"^ {0,3}<!--.*-->\s*$")
_YEAR_PAREN_RE = re.compile(r"\((1[89]\d\d|20\d\d)[a-z]?[,;)/]")
_PATHLIKE_RE = re.compile(r"^[\w.-]*(?:/[\w.-]*)+$|^[\w-]+\.[A-Za-z0-9]{1,5}$")
_CODE_SPAN_RE = re.compile(r"(`+)(?:(?!\1)[\s\S])*?(?<!`)\1(?!`)")
_CODE_MARKER_RE = re.compile(
    r"^[ \t]*<!--[ \t]*code:[ \t]*(?P<file>[\w./-]+\.py)[ \t]+"
    r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)[ \t]*-->[ \t]*$",
    re.M,
)
_H1_RE = re.compile(r"^# +(?P<title>\S.*?)\s*#*\s*$", re.M)
_LABEL_LEAD_RE = re.compile(r"^\*\*[^*\n]{1,30}[.:]\*\*")
_GLANCE_VERDICT_RE = re.compile(r"(\*\*Verdict:?\*\*:?[ \t]*)\*\*(yes|partial|no)\*\*")
_REPO_URL_RE = re.compile(r"^repo_url:[ \t]*['\"]?(?P<url>[^\s'\"#]+)", re.M)


class BuildError(Exception):
    """A page cannot be built from what the repository holds (the message says why)."""


class WriteError(Exception):
    """A file of the site could not be written: ``path`` and the OS's reason."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.reason = path, reason


class Terminated(BaseException):
    """Raised by the SIGTERM handler, so ``finally`` blocks and cleanups run."""


def _raise_terminated(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Terminated()


# --- writing --------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    SIGINT and SIGTERM are held from before the temporary file exists until it has been
    renamed over ``path`` or removed, so an interrupt never leaves a partial or temporary
    file. Raises WriteError (with the OS's reason) when the folder or file cannot be written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path.parent, exc.strerror or str(exc)) from None
    blocked = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=path.parent)
        except OSError as exc:
            raise WriteError(path, exc.strerror or str(exc)) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise WriteError(path, exc.strerror or str(exc)) from None
            raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``path`` only when its bytes differ (mkdocs serve then sees no false change)."""
    if path.is_file() and path.read_bytes() == data:
        return False
    write_atomic(path, data)
    return True


# --- what a README says about itself ---------------------------------------------------------


def plain_text(markdown: str) -> str:
    """One line of prose from a bit of Markdown: no images, links reduced to their text,
    no emphasis or code marks, whitespace collapsed."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = text.replace("**", "").replace("`", "")
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", text)
    return " ".join(text.split())


def readme_title(text: str) -> str | None:
    """The README's first ``# `` heading as plain text, or None."""
    for is_code, chunk in _split_fences(text):
        if not is_code:
            m = _H1_RE.search(chunk)
            if m:
                return plain_text(m.group("title")) or None
    return None


def readme_summary(text: str) -> str | None:
    """The one-sentence summary directly under the README's title, as plain text, or None.

    It is the first paragraph after the ``# `` heading when that paragraph is plain prose:
    not an image, heading, list, table, quote, HTML or comment line, nor a bold label
    paragraph such as ``**Paper.** ...``.
    """
    offset, end = 0, None
    for is_code, chunk in _split_fences(text):
        m = None if is_code else _H1_RE.search(chunk)
        if m:
            end = offset + m.end()
            break
        offset += len(chunk)
    if end is None:
        return None
    rest = text[end:].lstrip("\n")
    para = rest.split("\n\n", 1)[0].strip()
    if not para or para[0] in "!<#|>-*+`~" or _LABEL_LEAD_RE.match(para):
        return None
    if re.match(r"\d{1,9}[.)]\s", para):
        return None
    return plain_text(para) or None


def first_paragraph(text: str) -> str | None:
    """The first paragraph of prose in a Markdown text, as plain text, or None."""
    for is_code, chunk in _split_fences(text):
        if is_code:
            continue
        for para in re.split(r"\n\s*\n", chunk):
            para = para.strip()
            if not para or para[0] in "!<#|>-*+" or _COMMENT_LINE_RE.match(para):
                continue
            plain = plain_text(para)
            if plain:
                return plain
    return None


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (with an ellipsis)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def strip_slug_prefix(title: str, slug: str) -> str:
    """'xor: XOR by back-propagation' -> 'XOR by back-propagation' (the folder name is not a
    title); other titles are returned unchanged."""
    m = re.match(rf"^{re.escape(slug)}\s*[:—–-]\s+(?P<rest>\S.*)$", title)
    if m:
        rest = m.group("rest")
        return rest[0].upper() + rest[1:]
    return title


# --- problems, eras and navigation ---------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A problem folder that becomes a page.

    ``slug`` the folder name, ``year`` of the paper (or None), ``title`` for the navigation
    (the README's ``# `` heading), ``summary`` the sentence under it (or None).
    """

    slug: str
    year: int | None
    title: str = ""
    summary: str | None = None

    @property
    def page(self) -> str:
        return f"{self.slug}/{HOME}"

    @property
    def mod(self) -> str:
        return self.slug.replace("-", "_")

    @property
    def decade(self) -> str:
        return decade_label(self.year)

    @property
    def nav_title(self) -> str:
        """The title up to its first colon ('The 4-2-4 encoder: a Boltzmann machine ...' ->
        'The 4-2-4 encoder'), or the folder name when the README has no title."""
        head = self.title.split(": ", 1)[0].strip()
        return head if len(head) >= 4 else (self.title or self.slug)


def decade_label(year: int | None) -> str:
    """'1980s' for 1986; 'Other' when the year is unknown."""
    return f"{year // 10 * 10}s" if year else "Other"


def paper_year(slug: str, readme_text: str) -> int | None:
    """Year of the paper a problem reproduces: the catalog's, else the README's citation.

    The README fallback takes the first ``(YYYY)`` (also ``(YYYY,`` and ``(YYYY/``) in the
    text, which is where an author-year citation puts it.
    """
    if slug in KNOWN_YEARS:
        return KNOWN_YEARS[slug]
    match = _YEAR_PAREN_RE.search(readme_text)
    return int(match.group(1)) if match else None


def discover_problems(root: Path) -> list[Problem]:
    """Top-level folders holding README.md and <mod>.py, sorted by year then slug."""
    problems = []
    for folder in sorted(Path(root).iterdir()):
        if not folder.is_dir() or folder.name.startswith((".", "_")):
            continue
        readme = folder / HOME
        if readme.is_file() and (folder / f"{folder.name.replace('-', '_')}.py").is_file():
            text = readme.read_text(encoding="utf-8")
            title = strip_slug_prefix(readme_title(text) or folder.name, folder.name)
            year = paper_year(folder.name, text)
            problems.append(Problem(folder.name, year, title, readme_summary(text)))
    return sorted(problems, key=lambda p: (p.year is None, p.year or 0, p.slug))


def eras(problems: list[Problem]) -> list[tuple[str, list[Problem]]]:
    """Group problems (in time order) into eras of whole decades, none with a single page.

    Decades are taken in order and joined until an era holds at least two problems; a last
    era left with one problem joins the one before it. An era is named by its decades
    ('1980s', '1990s–2020s'). Problems without a year form an 'Other' era at the end.
    """
    dated = [p for p in problems if p.year]
    undated = [p for p in problems if not p.year]
    groups: list[list[Problem]] = []
    current: list[Problem] = []
    for p in dated:
        if current and len(current) >= 2 and p.decade != current[-1].decade:
            groups.append(current)
            current = []
        current.append(p)
    if current:
        if len(current) < 2 and groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    named = []
    for group in groups:
        first, last = group[0].decade, group[-1].decade
        named.append((first if first == last else f"{first}–{last}", group))
    if undated:
        named.append(("Other", undated))
    return named


def build_nav(problems: list[Problem], extra: list[tuple[str, str]] | None = None) -> list:
    """mkdocs ``nav``: Home, one section per era (in time order), then ``extra`` pages."""
    nav: list = [{"Home": HOME}]
    for label, group in eras(problems):
        nav.append({label: [{p.nav_title: p.page} for p in group]})
    nav.extend({title: page} for title, page in extra or [])
    return nav


def repo_url_from_config(root: Path) -> str:
    """``repo_url`` of the repository's mkdocs.yml (no trailing slash), else the default."""
    try:
        text = (Path(root) / "mkdocs.yml").read_text(encoding="utf-8")
    except OSError:
        return DEFAULT_REPO_URL
    m = _REPO_URL_RE.search(text)
    return m.group("url").rstrip("/") if m else DEFAULT_REPO_URL


# --- records and the home page's cards -----------------------------------------------------


def declares_full(module: Path) -> bool:
    """Whether a problem module assigns a module-level ``FULL_ARGS`` other than None."""
    try:
        tree = ast.parse(module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            if isinstance(t, ast.Name) and t.id == "FULL_ARGS":
                value = getattr(node, "value", None)
                return not (
                    value is None or (isinstance(value, ast.Constant) and value.value is None)
                )
    return False


def tracked_files(root: Path) -> set[str] | None:
    """Repo-relative paths git tracks under ``root``, or None when it is not a git work tree."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return {p for p in out.stdout.decode("utf-8", "replace").split("\0") if p}


def catalog_record_path(root: Path, slug: str, tracked: set[str] | None = None) -> str | None:
    """Repo-relative path of a problem's catalog record, or None when it has none.

    ``results/full.json`` when the module declares FULL_ARGS and that record is committed
    (``tracked``; when the tree is not a git work tree, when it exists), else
    ``results/headline.json`` when it exists.
    """
    full = f"{slug}/results/full.json"
    headline = f"{slug}/results/headline.json"
    module = Path(root) / slug / f"{slug.replace('-', '_')}.py"
    committed = (Path(root) / full).is_file() and (tracked is None or full in tracked)
    if committed and declares_full(module):
        return full
    return headline if (Path(root) / headline).is_file() else None


def read_record(root: Path, rel: str) -> dict:
    """The record at ``rel``, checked for what a card needs. Raises BuildError naming it."""
    try:
        record = json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BuildError(f"{rel}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise BuildError(f"{rel}: not valid JSON ({exc})") from None
    head = record.get("headline") if isinstance(record, dict) else None
    if not isinstance(head, dict) or not all(k in head for k in ("name", "value", "unit")):
        raise BuildError(f"{rel}: no headline with name, value and unit")
    if record.get("reproduces") not in VERDICTS:
        raise BuildError(f"{rel}: reproduces is {record.get('reproduces')!r}, not yes/partial/no")
    return record


def fmt_number(x: object) -> str:
    """A record value as shown: ints as they are, floats to 4 significant digits, None '—'."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.3g}"
        return f"{x:.4g}"
    return str(x)


def fmt_value(x: object, unit: str) -> str:
    """A value with its unit as the catalog's tables write it ('1.64%', '597 sweeps'), kept
    on one line (a no-break space before a unit other than %)."""
    text = fmt_number(x)
    if x is None or not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text}\u00a0{unit}"


def _md_escape(text: str) -> str:
    """Text safe inside Markdown prose (no accidental emphasis, links or HTML)."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def card_markdown(
    problem: Problem, record_rel: str | None, record: dict | None, repo_url: str
) -> str:
    """One home-page card (a list item of Material's grid cards) for a problem."""
    page = problem.page
    lines = []
    gif = f"{problem.slug}/{problem.mod}.gif"
    title = _md_escape(problem.title or problem.slug)
    year = f" · {problem.year}" if problem.year else ""
    if record is not None:
        cite = re.match(r"^(.*?\((?:1[89]|20)\d\d[a-z]?\))", str(record.get("paper", "")))
        if cite:
            year = f" · {_md_escape(cite.group(1).strip())}"
    lines.append(f"-   [![Animation: {title}]({gif}){{ .card-thumb loading=lazy }}]({page})")
    lines.append("")
    lines.append(f"    **[{title}]({page})**{year}")
    question = problem.summary
    if not question and record is not None:
        claim = str(record.get("headline", {}).get("claim", ""))
        question = shorten(claim, 180)
    if question:
        lines += ["", f"    {_md_escape(question)}"]
    if record is None:
        lines += ["", "    No result record yet."]
    else:
        h = record["headline"]
        verdict = record["reproduces"]
        ours = fmt_value(h["value"], h["unit"])
        theirs = fmt_value(h.get("paper_value"), h["unit"])
        lines += [
            "",
            f'    <span class="card-measure">{_md_escape(str(h["name"]))}</span>',
            "",
            f"    **{_md_escape(ours)}** ours · {_md_escape(theirs)} paper",
            "",
            f'    <span class="verdict verdict-{verdict}">{VERDICTS[verdict]}</span> · '
            f"[record]({repo_url}/blob/{REF}/{record_rel})",
        ]
    return "\n".join(lines)


def cards_markdown(root: Path, problems: list[Problem], repo_url: str) -> str:
    """The home page's cards: one per problem, in time order, from the catalog records."""
    tracked = tracked_files(root)
    items = []
    for p in problems:
        rel = catalog_record_path(root, p.slug, tracked)
        record = read_record(root, rel) if rel else None
        items.append(card_markdown(p, rel, record, repo_url))
    body = "\n\n".join(items)
    return f'<div class="grid cards catalog" markdown>\n\n{body}\n\n</div>'


def replace_block(text: str, start: str, end: str, body: str) -> str | None:
    """``text`` with what lies between the marker lines replaced by ``body``; None when the
    markers are missing or out of order."""
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        return None
    return text[: i + len(start)] + "\n\n" + body + "\n\n" + text[j:]


# --- the learning rule, cut out of the source ------------------------------------------------


def extract_definition(path: Path, name: str) -> tuple[int, int, str]:
    """``(first_line, last_line, source)`` of the function or class ``name`` in a Python file.

    ``name`` is a module-level name or ``Class.method``; lines are 1-based and inclusive,
    starting at the first decorator; ``source`` is dedented. Raises BuildError when the
    file cannot be read or parsed or holds no such definition.
    """
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except OSError as exc:
        raise BuildError(f"cannot read {path.name}: {exc.strerror}") from None
    except (SyntaxError, ValueError) as exc:
        raise BuildError(f"cannot parse {path.name}: {exc}") from None
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    scope: list = tree.body
    node = None
    parts = name.split(".")
    for i, part in enumerate(parts):
        found = [n for n in scope if isinstance(n, kinds) and n.name == part]
        if not found:
            raise BuildError(f"{path.name} has no {'.'.join(parts[: i + 1])}")
        node = found[-1]
        scope = node.body
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    last = node.end_lineno or node.lineno
    lines = source.splitlines()[first - 1 : last]
    return first, last, textwrap.dedent("\n".join(lines))


def code_snippets(root: Path, src: str, text: str, repo_url: str) -> str:
    """Replace each ``<!-- code: FILE.py NAME -->`` line of page ``src`` by the source of
    ``NAME`` with a link to those lines. Raises BuildError naming the page and the line."""

    def one(m: re.Match) -> str:
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(src), m.group("file")))
        name = m.group("name")
        if rel.startswith("../") or rel == "..":
            raise BuildError(f"{src}: code line names {m.group('file')}, outside the repository")
        try:
            first, last, code = extract_definition(Path(root) / rel, name)
        except BuildError as exc:
            raise BuildError(f"{src}: {m.group(0).strip()}: {exc}") from None
        fence = "`" * max(4, max((len(r) for r in re.findall(r"`{3,}", code)), default=0) + 1)
        url = f"{repo_url}/blob/{REF}/{rel}"
        return (
            '<div class="learning-rule" markdown>\n\n'
            f"`{name}`, from [`{m.group('file')}` lines {first}–{last}]({url}#L{first}-L{last}):"
            "\n\n"
            f'{fence}python linenums="{first}"\n{code}\n{fence}\n\n</div>'
        )

    return _CODE_MARKER_RE.sub(one, text)


def wrap_glance(text: str) -> str:
    """Wrap the generated glance block (between its markers) in a ``.glance`` box; its bold
    verdict (``**Verdict:** **yes**``) becomes a coloured label."""
    i, j = text.find(GLANCE_START), text.find(GLANCE_END)
    if i < 0 or j < i:
        return text
    inner = text[i + len(GLANCE_START) : j].strip("\n")
    if not inner.strip():
        return text
    inner = _GLANCE_VERDICT_RE.sub(
        lambda m: f'{m.group(1)}<span class="verdict verdict-{m.group(2)}">{m.group(2)}</span>',
        inner,
    )
    box = f'<div class="glance" markdown>\n\n{inner}\n\n</div>'
    return text[: i + len(GLANCE_START)] + "\n\n" + box + "\n\n" + text[j:]


def front_matter(meta: dict) -> str:
    """YAML front matter for ``meta`` (strings are written as JSON, which YAML reads)."""
    if not meta:
        return ""
    lines = ["---"]
    for key, value in meta.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            lines += [f"  - {v}" for v in value]
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines + ["---", "", ""])


class Linker:
    """Rewrites the links of one Markdown file (see the module docstring)."""

    def __init__(self, root: Path, pages: set[str], problem_slugs: set[str], repo_url, ref):
        self.root = root
        self.pages = pages  # repo-relative posix paths of the Markdown pages in the site
        self.problem_slugs = problem_slugs
        self.repo_url = repo_url
        self.ref = ref
        self.assets: set[str] = set()  # repo-relative paths of files to copy along

    def target(self, src: str, dest: str) -> tuple[str, str | None]:
        """Classify a link destination found in file ``src`` (repo-relative).

        Returns ``(kind, new_dest)``: kind "keep" (leave it as it is), "page"/"asset" (left
        as it is, or pointed at a problem's README), "source" with a GitHub URL, or
        "code" (not part of the site and no repository URL: drop the link).
        """
        raw = dest[1:-1] if dest.startswith("<") and dest.endswith(">") else dest
        if not raw or raw.startswith(("#", "/")) or _SCHEME_RE.match(raw):
            return "keep", None
        path, sep, frag = raw.partition("#")
        path = path.split("?", 1)[0]
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(src), unquote(path)))
        if rel == ".." or rel.startswith("../"):
            return "keep", None  # outside the repository: mkdocs will report it
        full = self.root / rel
        here = posixpath.dirname(src) or "."
        anchor = f"#{frag}" if sep else ""
        if full.is_dir():
            if rel == ".":
                readme = HOME
            elif rel in self.problem_slugs:
                readme = f"{rel}/{HOME}"
            else:
                readme = None
            if readme is not None and readme in self.pages:
                return "page", posixpath.relpath(readme, here) + anchor
            kind = "tree"
        elif full.is_file():
            if rel in self.pages:
                return "page", None
            if full.suffix.lower() in ASSET_EXTS:
                self.assets.add(rel)
                return "asset", None
            kind = "blob"
        else:
            return "keep", None  # missing: mkdocs --strict reports it
        if self.repo_url:
            suffix = "" if rel == "." else f"/{rel}"
            return "source", f"{self.repo_url}/{kind}/{self.ref}{suffix}{anchor}"
        return "code", None

    def rewrite(self, src: str, text: str) -> str:
        """Return ``text`` (the Markdown of repo file ``src``) with its links rewritten."""
        out = []
        for is_code, chunk in _split_fences(text):
            out.append(chunk if is_code else self._rewrite_prose(src, chunk))
        return "".join(out)

    def _rewrite_prose(self, src: str, text: str) -> str:
        spans = [m.span() for m in _CODE_SPAN_RE.finditer(text)]

        def in_code(pos: int) -> bool:
            return any(a <= pos < b for a, b in spans)

        def link(m: re.Match) -> str:
            return m.group(0) if in_code(m.start()) else self._link(src, m)

        def refdef(m: re.Match) -> str:
            if in_code(m.start()):
                return m.group(0)
            _, new = self.target(src, m.group("dest"))
            return m.group(0) if new is None else f"{m.group('lead')}{new}{m.group('rest')}"

        return _REFDEF_RE.sub(refdef, _LINK_RE.sub(link, text))

    def _link(self, src: str, m: re.Match) -> str:
        """One inline link or image (and an image nested in a link's text)."""
        text = m.group("text")
        inner = _LINK_RE.sub(lambda n: self._link(src, n), text)
        kind, new = self.target(src, m.group("dest"))
        if kind == "code" and not m.group("bang"):
            stripped = inner.strip()
            dest = m.group("dest").strip("<>").split("#", 1)[0].rstrip("/")
            if stripped in (dest, posixpath.basename(dest)) or _PATHLIKE_RE.match(stripped):
                return f"`{stripped}`"
            return inner
        if new is None and inner == text:
            return m.group(0)
        dest = m.group("dest") if new is None else new
        return f"{m.group('bang')}[{inner}]({dest}{m.group('title') or ''})"


def _split_fences(text: str) -> list[tuple[bool, str]]:
    """Split Markdown into (is_fenced_code, chunk) pieces, keeping every character."""
    pieces: list[tuple[bool, str]] = []
    buf: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        m = _FENCE_RE.match(line)
        if fence is None:
            if m:
                if buf:
                    pieces.append((False, "".join(buf)))
                buf, fence = [line], m.group(2)
            else:
                buf.append(line)
        else:
            buf.append(line)
            if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence):
                if line.strip() == m.group(2) or line.strip().strip(fence[0]) == "":
                    pieces.append((True, "".join(buf)))
                    buf, fence = [], None
    if buf:
        pieces.append((fence is not None, "".join(buf)))
    return pieces


def github_blocks(text: str) -> str:
    """Blank lines where GitHub needs none but Python-Markdown does.

    Before a list item or table row that directly follows a paragraph line, and around a
    line that is a whole HTML comment (the README's generated-block markers). Fenced code
    is left alone.
    """
    out: list[str] = []
    for is_code, chunk in _split_fences(text):
        if is_code:
            out.append(chunk)
            continue
        lines = chunk.splitlines(keepends=True)
        new: list[str] = []
        prev = out[-1].splitlines()[-1] if out and out[-1].strip() else ""
        for i, line in enumerate(lines):
            body = line.rstrip("\n")
            prev_blank = not prev.strip()
            if _COMMENT_LINE_RE.match(body):
                if not prev_blank:
                    new.append("\n")
                new.append(line if line.endswith("\n") else line + "\n")
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if nxt.strip():
                    new.append("\n")
                prev = ""
                continue
            if not prev_blank and not prev.startswith((" ", "\t")):
                starts_list = _LIST_ITEM_RE.match(body) and not _LIST_ITEM_RE.match(prev)
                starts_table = _TABLE_ROW_RE.match(body) and not _TABLE_ROW_RE.match(prev)
                is_heading = prev.lstrip().startswith("#")
                if (
                    (starts_list or starts_table)
                    and not is_heading
                    and not _COMMENT_LINE_RE.match(prev)
                ):
                    new.append("\n")
            new.append(line)
            prev = body
        out.append("".join(new))
    return "".join(out)


def render_page(linker: Linker, src: str, text: str) -> str:
    """The Markdown of repository file ``src`` as it goes into the docs folder (links only)."""
    return github_blocks(linker.rewrite(src, text))


def mathjax_source() -> Path:
    """MathJax's es5 folder from the installed ``django-static-mathjax`` wheel.

    Raises BuildError when it is not installed.
    """
    spec = importlib.util.find_spec("mathjax")
    for base in (spec.submodule_search_locations or []) if spec else []:
        es5 = Path(base) / "static" / "mathjax" / "es5"
        if (es5 / "tex-chtml.js").is_file():
            return es5
    raise BuildError(
        "MathJax is not installed (python3 -m pip install -r requirements-dev.txt: "
        "django-static-mathjax)"
    )


def mathjax_files(es5: Path) -> dict[str, Path]:
    """Docs-relative path -> file, for the MathJax files the site serves."""
    files = {}
    for pattern in MATHJAX_GLOBS:
        for f in sorted(es5.glob(pattern)):
            if f.is_file():
                files[f"{MATHJAX_DIR}/{f.relative_to(es5).as_posix()}"] = f
    return files


def page_sources(root: Path, problems: list[Problem]) -> tuple[list[str], list[tuple[str, str]]]:
    """(every page's repo-relative path, the extra root pages as (title, path))."""
    extra = [(title, rel) for title, rel in EXTRA_PAGES if (Path(root) / rel).is_file()]
    return [HOME] + [p.page for p in problems] + [rel for _, rel in extra], extra


def build_pages(root: Path, problems: list[Problem], repo_url: str, ref: str = REF):
    """Render every page: returns (files: docs path -> bytes, assets, pages, extra pages).

    Raises BuildError when a page cannot be built (a missing home page, a ``code:`` line
    naming a missing definition, a catalog record that cannot be read).
    """
    root = Path(root)
    if not (root / HOME).is_file():
        raise BuildError(f"{root / HOME} is missing (it is the home page)")
    pages, extra = page_sources(root, problems)
    linker = Linker(root, set(pages), {p.slug for p in problems}, repo_url, ref)
    by_page = {p.page: p for p in problems}
    files: dict[str, bytes] = {}
    for src in pages:
        text = (root / src).read_text(encoding="utf-8")
        meta: dict = {}
        if src == HOME:
            cards = cards_markdown(root, problems, repo_url) if problems else ""
            text = replace_block(text, PROBLEMS_START, PROBLEMS_END, cards) or text
        elif src in by_page:
            problem = by_page[src]
            text = wrap_glance(code_snippets(root, src, text, repo_url))
            description = problem.summary
            if not description:
                rel = catalog_record_path(root, problem.slug)
                claim = read_record(root, rel)["headline"].get("claim") if rel else None
                description = str(claim) if claim else first_paragraph(text)
            if description:
                meta["description"] = shorten(description)
        else:
            description = readme_summary(text) or first_paragraph(text)
            if description:
                meta["description"] = shorten(description)
        if src in HIDE_TOC:
            meta["hide"] = ["toc"]
        files[src] = (front_matter(meta) + render_page(linker, src, text)).encode("utf-8")
    assets = set(linker.assets)
    for p in problems:  # the problem's animation and figures, linked or not
        gif = root / p.slug / f"{p.mod}.gif"
        if gif.is_file():
            assets.add(f"{p.slug}/{gif.name}")
        viz = root / p.slug / "viz"
        if viz.is_dir():
            assets.update(f"{p.slug}/viz/{f.name}" for f in viz.glob("*.png") if f.is_file())
    return files, assets, pages, extra


def assemble(
    root: Path = ROOT,
    out: Path | None = None,
    repo_url: str | None = None,
    ref: str = REF,
    maths: bool = True,
) -> dict:
    """Write the docs folder ``out`` from the repository at ``root``; return a summary.

    Only files whose bytes changed are written and files no longer part of the site are
    removed, so ``mkdocs serve`` sees no spurious changes. ``repo_url`` defaults to
    mkdocs.yml's; ``maths=False`` leaves MathJax out (tests). Returns ``{"nav", "pages",
    "assets", "problems", "written"}`` (repo-relative posix paths; ``nav`` in mkdocs form).
    Raises BuildError when a page cannot be built, WriteError when a file cannot be written.
    """
    root = Path(root).resolve()
    out = (root / DEFAULT_OUT) if out is None else Path(out).resolve()
    repo_url = repo_url_from_config(root) if repo_url is None else repo_url
    problems = discover_problems(root)
    files, assets, pages, extra = build_pages(root, problems, repo_url, ref)
    files[CSS_PATH] = SITE_CSS.encode("utf-8")
    files[TABLES_JS_PATH] = TABLES_JS.encode("utf-8")
    sources = {rel: root / rel for rel in assets}
    if maths:
        files[MATHJAX_CONFIG_PATH] = MATHJAX_CONFIG.encode("utf-8")
        sources.update(mathjax_files(mathjax_source()))
    written = 0
    for rel, data in files.items():
        written += _write_if_changed(out / rel, data)
    for rel, path in sources.items():
        written += _write_if_changed(out / rel, path.read_bytes())
    keep = set(files) | set(sources)
    for path in sorted(out.rglob("*"), reverse=True):  # stale files, then empty folders
        rel = path.relative_to(out).as_posix()
        try:
            if path.is_file() and rel not in keep:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        except OSError as exc:
            raise WriteError(path, exc.strerror or str(exc)) from None
    return {
        "nav": build_nav(problems, extra),
        "pages": pages,
        "assets": sorted(assets),
        "problems": problems,
        "written": written,
    }


# --- mkdocs hook ---------------------------------------------------------------------------


def on_config(config):
    """mkdocs hook: re-assemble the docs folder and set the navigation."""
    from mkdocs.exceptions import PluginError

    root = Path(config.config_file_path).resolve().parent
    repo_url = (config.repo_url or DEFAULT_REPO_URL).rstrip("/")
    try:
        summary = assemble(root, Path(config.docs_dir), repo_url, REF)
    except (BuildError, WriteError) as exc:
        raise PluginError(f"build_site: {exc}") from None
    config.nav = summary["nav"]
    site_url = os.environ.get("SITE_URL", "")
    if site_url and not config.site_url:
        config.site_url = site_url.rstrip("/") + "/"
    return config


def on_serve(server, config, builder):
    """mkdocs hook: ``mkdocs serve`` rebuilds when a README, GIF, figure or record changes."""
    root = Path(config.config_file_path).resolve().parent
    for _, name in ((None, HOME), *EXTRA_PAGES):
        if (root / name).is_file():
            server.watch(str(root / name))
    for p in discover_problems(root):
        server.watch(str(root / p.slug))
    return server


# --- command line --------------------------------------------------------------------------


class CleanParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {' '.join(str(message).split())}\n")

    def _get_values(self, action, arg_strings):  # argparse hook
        # argparse drops a lone "--" given as an option's value ("--root=--") and stores []
        # without calling the type; refuse it instead.
        if action.option_strings and arg_strings and set(arg_strings) == {"--"}:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, not '--'")
        return super()._get_values(action, arg_strings)


def path_arg(text: str) -> Path:
    """argparse type: a non-empty path without NUL bytes whose names fit the file system
    (at most 255 bytes each, 4095 in all); an empty path is refused, not taken as '.'."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not allowed")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot hold a NUL byte")
    if len(text.encode("utf-8", "surrogateescape")) > 4095:
        raise argparse.ArgumentTypeError("path too long (more than 4095 bytes)")
    for part in Path(text).parts:
        if len(part.encode("utf-8", "surrogateescape")) > 255:
            raise argparse.ArgumentTypeError(f"name too long (over 255 bytes): {part[:40]}...")
    return Path(text)


def build_parser() -> CleanParser:
    """The command line of build_site.py."""
    parser = CleanParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=path_arg,
        default=ROOT,
        help="repository root holding README.md (path; default: this file's repository)",
    )
    parser.add_argument(
        "--out",
        type=path_arg,
        default=None,
        help="docs folder to write (path to a folder; default: ROOT/build/docs)",
    )
    parser.add_argument(
        "--repo-url",
        default=None,
        help="repository web address for links to source files (URL; '' turns them into "
        "code text; default: repo_url of ROOT/mkdocs.yml)",
    )
    return parser


def is_file(path: Path) -> bool:
    """Whether ``path`` is a readable regular file; False for any OS error (never raises)."""
    try:
        return path.is_file() and os.access(path, os.R_OK)
    except OSError:
        return False


def check_output_folder(path: Path) -> str | None:
    """Why ``path`` cannot be the docs folder (created here if missing), or None."""
    try:
        if path.exists() and not path.is_dir():
            return f"{path} is not a folder"
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp_", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    return None


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not is_file(root / HOME):
        parser.error(f"{root / HOME} not found (--root must be the repository root)")
    if args.repo_url is not None and args.repo_url and not _SCHEME_RE.match(args.repo_url):
        parser.error(f"--repo-url {args.repo_url!r} is not a URL (https://...) or ''")
    repo_url = None if args.repo_url is None else args.repo_url.rstrip("/")
    out = (root / DEFAULT_OUT) if args.out is None else args.out.resolve()
    why = check_output_folder(out)
    if why:
        parser.error(why)
    try:
        summary = assemble(root, out, repo_url, REF)
    except BuildError as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except WriteError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 74
    try:
        shown = out.relative_to(Path.cwd())
    except ValueError:
        shown = out
    by_era = "; ".join(
        f"{label}: {', '.join(p.slug for p in group)}" for label, group in eras(summary["problems"])
    )
    print(
        f"build_site: {len(summary['pages'])} pages, {len(summary['assets'])} images -> "
        f"{shown} ({summary['written']} files written) [{by_era or 'no problem folders yet'}]"
    )
    return 0


def run_main(prog: str, body, argv: list[str] | None) -> int:
    """Run ``body(argv)`` under the command-line contract and return its exit status.

    SIGTERM becomes Terminated while it runs; a WriteError, Ctrl-C or SIGTERM becomes one
    line on stderr and exit status 74, 130 or 143.
    """
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return body(argv)
    except WriteError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 74
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
