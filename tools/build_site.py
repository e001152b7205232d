#!/usr/bin/env python3
"""Assemble the documentation folder of the project site from the READMEs.

The site (mkdocs + Material, configured in ``mkdocs.yml``) is built from files that
already exist in the repository, so nothing is written twice:

* ``README.md``            -> the home page
* ``<slug>/README.md``     -> one page per problem (a problem folder is a top-level folder
                              holding ``README.md`` and ``<slug with - replaced by _>.py``)
* ``<slug>/<mod>.gif`` and ``<slug>/viz/*.png`` -> copied beside the problem page
* ``RESULTS.md``           -> the results page

The docs folder (default ``build/docs``, gitignored) mirrors the repository layout, so
relative links between READMEs and to images keep working unchanged. The only rewriting:

* a link to a file that is not part of the site (source code, JSON records, LICENSE, ...)
  becomes a link to the file on GitHub when the repository URL is known (environment
  ``SITE_REPO_URL``, or GitHub Actions' ``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``, or a
  github.com ``origin`` remote), otherwise it becomes code text;
* a link to a problem folder (``xor/``) points at that folder's README page;
* any other image or GIF a README links to is copied along;
* a blank line is put before a list or a table that directly follows a paragraph line, and
  around a whole-line HTML comment (GitHub renders these without one; Python-Markdown
  does not).

Links to files that do not exist are left alone, so ``mkdocs build --strict`` reports them.
Fenced code blocks and inline code are never touched.

Usage::

    python3 tools/build_site.py           # writes build/docs
    python3 -m mkdocs build --strict      # writes site/

This file is also an mkdocs hook (``hooks:`` in mkdocs.yml): on every build it re-assembles
the docs folder (only changed files are written) and sets the navigation, grouped by decade.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path("build") / "docs"

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
#: Site stylesheet (named in mkdocs.yml's extra_css): a wider page for the wide tables.
CSS_PATH = "stylesheets/site.css"
SITE_CSS = """/* written by tools/build_site.py */
.md-grid { max-width: 76rem; }
.md-typeset table:not([class]) td:first-child { white-space: nowrap; }
"""
#: Front matter added to pages (Material's "hide"): the results table gets the full width.
FRONT_MATTER = {RESULTS: "---\nhide:\n  - toc\n---\n\n"}

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


@dataclass(frozen=True)
class Problem:
    """A problem folder that becomes a page: ``slug``, paper ``year`` (or None)."""

    slug: str
    year: int | None

    @property
    def page(self) -> str:
        return f"{self.slug}/{HOME}"

    @property
    def decade(self) -> str:
        return decade_label(self.year)


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
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith((".", "_")):
            continue
        readme = folder / HOME
        if readme.is_file() and (folder / f"{folder.name.replace('-', '_')}.py").is_file():
            year = paper_year(folder.name, readme.read_text(encoding="utf-8"))
            problems.append(Problem(folder.name, year))
    return sorted(problems, key=lambda p: (p.year is None, p.year or 0, p.slug))


def build_nav(problems: list[Problem], has_results: bool) -> list:
    """mkdocs ``nav``: Home, one section per decade (in time order), Results."""
    nav: list = [{"Home": HOME}]
    sections: dict[str, list] = {}
    for p in problems:  # already in time order, so sections are too
        title = f"{p.slug} ({p.year})" if p.year else p.slug
        sections.setdefault(p.decade, []).append({title: p.page})
    nav.extend({decade: pages} for decade, pages in sections.items())
    if has_results:
        nav.append({"Results": RESULTS})
    return nav


def resolve_repo_url(root: Path, env: dict | None = None) -> str | None:
    """The repository's web URL (no trailing slash) for links to source files, or None.

    In order: ``SITE_REPO_URL`` (an empty value means none), GitHub Actions'
    ``GITHUB_SERVER_URL`` + ``GITHUB_REPOSITORY``, a github.com ``origin`` remote.
    """
    env = os.environ if env is None else env
    if "SITE_REPO_URL" in env:
        return env["SITE_REPO_URL"].rstrip("/") or None
    if env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        return f"{server.rstrip('/')}/{env['GITHUB_REPOSITORY']}"
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(
        r"^(?:https://|git@|ssh://git@)github\.com[:/](.+?)(?:\.git)?/?$", out.stdout.strip()
    )
    return f"https://github.com/{match.group(1)}" if out.returncode == 0 and match else None


def resolve_ref(env: dict | None = None) -> str:
    """Branch used in links to source files: ``SITE_REPO_REF``, GitHub's branch, or main."""
    env = os.environ if env is None else env
    return env.get("SITE_REPO_REF") or env.get("GITHUB_REF_NAME") or "main"


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
    """The Markdown of repository file ``src`` as it goes into the docs folder."""
    return github_blocks(linker.rewrite(src, text))


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def assemble(
    root: Path = ROOT,
    out: Path | None = None,
    repo_url: str | None = None,
    ref: str = "main",
) -> dict:
    """Write the docs folder ``out`` from the repository at ``root``; return a summary.

    Only files whose bytes changed are written and files no longer part of the site are
    removed, so ``mkdocs serve`` sees no spurious changes. Returns ``{"nav", "pages",
    "assets", "problems"}`` (repo-relative posix paths; ``nav`` in mkdocs form).
    Raises FileNotFoundError if ``root`` has no README.md.
    """
    root = Path(root).resolve()
    out = (root / DEFAULT_OUT) if out is None else Path(out).resolve()
    if not (root / HOME).is_file():
        raise FileNotFoundError(f"{root / HOME} is missing (it is the home page)")
    problems = discover_problems(root)
    pages = [HOME] + [p.page for p in problems]
    has_results = (root / RESULTS).is_file()
    if has_results:
        pages.append(RESULTS)
    linker = Linker(root, set(pages), {p.slug for p in problems}, repo_url, ref)
    files: dict[str, bytes] = {}
    for src in pages:
        text = (root / src).read_text(encoding="utf-8")
        files[src] = (FRONT_MATTER.get(src, "") + render_page(linker, src, text)).encode("utf-8")
    files[CSS_PATH] = SITE_CSS.encode("utf-8")
    assets = set(linker.assets)
    for p in problems:  # the problem's animation and figures, linked or not
        gif = root / p.slug / f"{p.slug.replace('-', '_')}.gif"
        if gif.is_file():
            assets.add(f"{p.slug}/{gif.name}")
        viz = root / p.slug / "viz"
        if viz.is_dir():
            assets.update(f"{p.slug}/viz/{f.name}" for f in viz.glob("*.png") if f.is_file())
    for rel in assets:
        files[rel] = (root / rel).read_bytes()
    for rel, data in files.items():
        _write_if_changed(out / rel, data)
    for path in sorted(out.rglob("*"), reverse=True):  # stale files, then empty folders
        rel = path.relative_to(out).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return {
        "nav": build_nav(problems, has_results),
        "pages": pages,
        "assets": sorted(assets),
        "problems": problems,
    }


# --- mkdocs hook ---------------------------------------------------------------------------


def on_config(config):
    """mkdocs hook: re-assemble the docs folder, set nav, repo_url and site_url."""
    root = Path(config.config_file_path).resolve().parent
    repo_url = resolve_repo_url(root)
    summary = assemble(root, Path(config.docs_dir), repo_url, resolve_ref())
    config.nav = summary["nav"]
    if repo_url and not config.repo_url:
        config.repo_url = repo_url + "/"
        config.repo_name = repo_url.rsplit("/", 1)[-1]
    site_url = os.environ.get("SITE_URL", "")
    if site_url and not config.site_url:
        config.site_url = site_url.rstrip("/") + "/"
    return config


def on_serve(server, config, builder):
    """mkdocs hook: ``mkdocs serve`` rebuilds when a README, GIF or figure changes."""
    root = Path(config.config_file_path).resolve().parent
    for name in (HOME, RESULTS):
        if (root / name).is_file():
            server.watch(str(root / name))
    for p in discover_problems(root):
        server.watch(str(root / p.slug))
    return server


# --- command line --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="build_site.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument(
        "--out", type=Path, default=None, help="docs folder to write (default: ROOT/build/docs)"
    )
    parser.add_argument(
        "--repo-url",
        default=None,
        help="repository web URL for links to source files ('' for code text); "
        "default: SITE_REPO_URL, GitHub Actions' variables, or a github.com origin",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / HOME).is_file():
        parser.error(f"{root / HOME} not found (--root must be the repository root)")
    repo_url = (
        resolve_repo_url(root) if args.repo_url is None else (args.repo_url.rstrip("/") or None)
    )
    out = (root / DEFAULT_OUT) if args.out is None else args.out.resolve()
    summary = assemble(root, out, repo_url, resolve_ref())
    try:
        shown = out.relative_to(Path.cwd())
    except ValueError:
        shown = out
    by_decade = (
        ", ".join(f"{p.slug} ({p.decade})" for p in summary["problems"]) or "no problem folders yet"
    )
    print(
        f"build_site: {len(summary['pages'])} pages, {len(summary['assets'])} images -> "
        f"{shown} [{by_decade}]; source links: {repo_url or 'code text'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
