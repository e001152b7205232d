"""Tests for tools/build_site.py and the browser-free parts of tools/check_site.py."""

import importlib.util
import io
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_site  # noqa: E402
import check_site  # noqa: E402

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent


def _image_bytes(fmt: str, n_frames: int) -> bytes:
    """A tiny image file (PNG, or a GIF of n_frames frames) made with pillow."""
    frames = [Image.new("RGB", (4, 3), (60 * i, 0, 0)) for i in range(n_frames)]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=n_frames > 1, append_images=frames[1:], duration=100)
    return buf.getvalue()


GIF2 = _image_bytes("GIF", 2)
PNG1 = _image_bytes("PNG", 1)

PROBLEM_README = """# {slug}: toy

Toy, A. (1986). A toy paper. [doi:10/toy](https://doi.org/10/toy)

## Problem
Code in [the script]({mod}.py), record [`headline.json`](results/headline.json).
Other: [xor page](../xor/README.md#results), [folder](../xor/), [results](../RESULTS.md).
- one
- two

## Results
<!-- results:main:start -->
| a | b |
|---|---|
| 1 | 2 |
<!-- results:main:end -->

![anim]({mod}.gif)
![fig](viz/fig.png)
"""


def make_repo(tmp: Path, slugs=("xor", "toy-net"), results=True) -> Path:
    """A miniature repository: home README, RESULTS.md, problem folders."""
    root = tmp / "repo"
    root.mkdir()
    (root / "README.md").write_text(
        "# Catalog\n\nSee [xor](xor/README.md), [results](RESULTS.md), "
        "[licence](LICENSE) and [GIF](xor/xor.gif).\n"
    )
    (root / "LICENSE").write_text("public domain\n")
    if results:
        (root / "RESULTS.md").write_text("# Results\n\n| a |\n|---|\n| [xor](xor/README.md) |\n")
    for slug in slugs:
        mod = slug.replace("-", "_")
        folder = root / slug
        (folder / "viz").mkdir(parents=True)
        (folder / "results").mkdir()
        (folder / f"{mod}.py").write_text("HEADLINE_ARGS = []\n")
        (folder / "results" / "headline.json").write_text("{}\n")
        (folder / f"{mod}.gif").write_bytes(GIF2)
        (folder / "viz" / "fig.png").write_bytes(PNG1)
        text = PROBLEM_README.format(slug=slug, mod=mod)
        (folder / "README.md").write_text(
            text.replace("(1986)", "(1957)") if slug != "xor" else text
        )
    (root / "notes").mkdir()  # a folder without README/<mod>.py is not a problem
    (root / "notes" / "README.md").write_text("# notes\n")
    return root


def linker(root: Path, repo_url=None) -> build_site.Linker:
    problems = build_site.discover_problems(root)
    pages = {"README.md", "RESULTS.md"} | {p.page for p in problems}
    return build_site.Linker(root, pages, {p.slug for p in problems}, repo_url, "main")


# --- discovery, years, navigation -------------------------------------------------------


def test_discovery_needs_readme_and_module_and_sorts_by_year(tmp_path):
    root = make_repo(tmp_path, slugs=("xor", "toy-net", "encoder-4-2-4"))
    (root / "half-done").mkdir()
    (root / "half-done" / "half_done.py").write_text("")  # no README yet: not a page
    problems = build_site.discover_problems(root)
    assert [(p.slug, p.year) for p in problems] == [
        ("toy-net", 1957),  # year from the README's citation
        ("encoder-4-2-4", 1985),  # year from the catalog mapping
        ("xor", 1986),
    ]


def test_paper_year_fallbacks():
    assert build_site.paper_year("bars-rbm", "Foldiak (1990) then Hinton (2002)") == 2002
    assert build_site.paper_year("new", "Hinton, G. (2006a). Title") == 2006
    assert build_site.paper_year("new", "Hinton & Salakhutdinov (2006, Science)") == 2006
    assert build_site.paper_year("new", "no citation year here, 1999 alone") is None
    assert build_site.decade_label(1994) == "1990s"
    assert build_site.decade_label(None) == "Other"


def test_nav_groups_problems_by_decade_in_time_order():
    problems = [
        build_site.Problem("encoder-4-2-4", 1985),
        build_site.Problem("xor", 1986),
        build_site.Problem("spline-images-factorial-vq", 1994),
        build_site.Problem("ff-hybrid-mnist", 2022),
        build_site.Problem("mystery", None),
    ]
    nav = build_site.build_nav(problems, has_results=True)
    assert nav == [
        {"Home": "README.md"},
        {
            "1980s": [
                {"encoder-4-2-4 (1985)": "encoder-4-2-4/README.md"},
                {"xor (1986)": "xor/README.md"},
            ]
        },
        {"1990s": [{"spline-images-factorial-vq (1994)": "spline-images-factorial-vq/README.md"}]},
        {"2020s": [{"ff-hybrid-mnist (2022)": "ff-hybrid-mnist/README.md"}]},
        {"Other": [{"mystery": "mystery/README.md"}]},
        {"Results": "RESULTS.md"},
    ]
    assert build_site.build_nav([], has_results=False) == [{"Home": "README.md"}]


# --- link rewriting ------------------------------------------------------------------------


def test_links_to_source_files_become_code_text_without_a_repo_url(tmp_path):
    root = make_repo(tmp_path)
    text = (root / "xor" / "README.md").read_text()
    out = linker(root).rewrite("xor/README.md", text)
    assert "Code in the script, record `headline.json`." in out
    assert "[xor page](../xor/README.md#results)" in out  # pages are left to mkdocs
    assert "[folder](README.md)" in out  # a problem folder -> its page (here: itself)
    assert "[results](../RESULTS.md)" in out
    assert "![anim](xor.gif)" in out and "![fig](viz/fig.png)" in out
    assert "[doi:10/toy](https://doi.org/10/toy)" in out


def test_links_to_source_files_go_to_github_with_a_repo_url(tmp_path):
    root = make_repo(tmp_path)
    lk = linker(root, "https://github.com/o/r")
    out = lk.rewrite("xor/README.md", "[s](xor.py#L3) [d](results/) [L](../LICENSE)")
    assert out == (
        "[s](https://github.com/o/r/blob/main/xor/xor.py#L3) "
        "[d](https://github.com/o/r/tree/main/xor/results) "
        "[L](https://github.com/o/r/blob/main/LICENSE)"
    )
    home = lk.rewrite("README.md", "[licence](LICENSE) [gif](xor/xor.gif)")
    assert home == "[licence](https://github.com/o/r/blob/main/LICENSE) [gif](xor/xor.gif)"
    assert "xor/xor.gif" in lk.assets


def test_code_missing_and_external_links_are_left_alone(tmp_path):
    root = make_repo(tmp_path)
    lk = linker(root)
    text = (
        "Inline `[a](xor.py)` and ``[b](xor.py)``.\n"
        "```python\n[c](xor.py)\n```\n"
        "~~~\n[d](xor.py)\n~~~\n"
        "[missing](nope.py) ![gone](viz/none.png) [out](../../elsewhere.py)\n"
        "[web](https://example.org/x.py) [anchor](#problem) [mail](mailto:a@b.c)\n"
    )
    assert lk.rewrite("xor/README.md", text) == text
    assert lk.assets == set()


def test_nested_image_reference_definitions_and_titles(tmp_path):
    root = make_repo(tmp_path)
    lk = linker(root, "https://github.com/o/r")
    out = lk.rewrite(
        "README.md",
        '[![anim](xor/xor.gif)](xor/xor.py "the code")\n\n[ref]: xor/xor.py\n[pg]: xor/\n',
    )
    assert out == (
        '[![anim](xor/xor.gif)](https://github.com/o/r/blob/main/xor/xor.py "the code")\n\n'
        "[ref]: https://github.com/o/r/blob/main/xor/xor.py\n[pg]: xor/README.md\n"
    )
    assert lk.assets == {"xor/xor.gif"}


def test_link_text_becomes_code_only_when_it_names_a_file(tmp_path):
    root = make_repo(tmp_path)
    out = linker(root).rewrite(
        "xor/README.md", "[xor.py](xor.py), [the code](xor.py), [results/](results/)"
    )
    assert out == "`xor.py`, the code, `results/`"


def test_github_blocks_adds_blank_lines_python_markdown_needs():
    text = (
        "Intro line:\n- a\n- b\n\nTable:\n| x |\n|---|\n| 1 |\n"
        "## Head\n<!-- r:start -->\n| y |\n|---|\n<!-- r:end -->\ntext\n"
        "```\npara\n- not a list\n```\n"
        "    indented code\n- list after indented\n"
    )
    assert build_site.github_blocks(text) == (
        "Intro line:\n\n- a\n- b\n\nTable:\n\n| x |\n|---|\n| 1 |\n"
        "## Head\n\n<!-- r:start -->\n\n| y |\n|---|\n\n<!-- r:end -->\n\ntext\n"
        "```\npara\n- not a list\n```\n"
        "    indented code\n- list after indented\n"
    )
    once = build_site.github_blocks(text)
    assert build_site.github_blocks(once) == once  # idempotent


# --- assembling the docs folder ---------------------------------------------------------------


def test_assemble_mirrors_pages_and_media_and_removes_stale_files(tmp_path):
    root = make_repo(tmp_path)
    out = tmp_path / "docs"
    (out / "old").mkdir(parents=True)
    (out / "old" / "stale.md").write_text("gone soon")
    summary = build_site.assemble(root, out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "RESULTS.md",
        "stylesheets/site.css",
        "toy-net/README.md",
        "toy-net/toy_net.gif",
        "toy-net/viz/fig.png",
        "xor/README.md",
        "xor/viz/fig.png",
        "xor/xor.gif",
    ]
    assert not (out / "old").exists()
    assert (out / "xor" / "xor.gif").read_bytes() == GIF2
    assert summary["nav"][1] == {"1950s": [{"toy-net (1957)": "toy-net/README.md"}]}
    assert "notes/README.md" not in summary["pages"]
    # A second run with nothing changed writes nothing (mkdocs serve would loop otherwise).
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    os.utime(root / "xor" / "README.md")
    build_site.assemble(root, out)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_assemble_without_results_and_without_home(tmp_path):
    root = make_repo(tmp_path, results=False)
    summary = build_site.assemble(root, tmp_path / "docs")
    assert summary["nav"][-1] != {"Results": "RESULTS.md"}
    (root / "README.md").unlink()
    with pytest.raises(FileNotFoundError):
        build_site.assemble(root, tmp_path / "docs")


def test_resolve_repo_url_precedence(tmp_path):
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"}
    assert build_site.resolve_repo_url(tmp_path, env) == "https://github.com/o/r"
    assert build_site.resolve_repo_url(tmp_path, {**env, "SITE_REPO_URL": ""}) is None
    assert build_site.resolve_repo_url(tmp_path, {"SITE_REPO_URL": "https://x/y/"}) == "https://x/y"
    assert build_site.resolve_ref({"GITHUB_REF_NAME": "main2"}) == "main2"
    assert build_site.resolve_ref({}) == "main"


def test_resolve_repo_url_from_a_github_origin(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert build_site.resolve_repo_url(tmp_path, {}) is None  # no origin
    subprocess.run(
        ["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:o/r.git"],
        check=True,
    )
    assert build_site.resolve_repo_url(tmp_path, {}) == "https://github.com/o/r"


# --- command lines --------------------------------------------------------------------------


def run(script: str, *args, cwd=None):
    return subprocess.run(
        [sys.executable, str(TOOLS / script), *args], capture_output=True, text=True, cwd=cwd
    )


def test_build_site_cli_writes_docs_and_rejects_a_bad_root(tmp_path):
    root = make_repo(tmp_path)
    proc = run("build_site.py", "--root", str(root), "--repo-url", "")
    assert proc.returncode == 0, proc.stderr
    assert "5 pages" in proc.stdout or "4 pages" in proc.stdout
    assert (root / "build" / "docs" / "xor" / "xor.gif").is_file()
    bad = run("build_site.py", "--root", str(tmp_path / "nowhere"))
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("build_site.py: error:")
    assert "Traceback" not in bad.stderr


def test_check_site_cli_bad_input_is_one_line(tmp_path):
    proc = run("check_site.py", "--chromium", str(tmp_path / "no-chromium"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no Chromium" in proc.stderr
    proc = run("check_site.py", "--root", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_check_site_pages_names_and_server(tmp_path):
    site = tmp_path / "site"
    for rel in ("index.html", "xor/index.html", "RESULTS/index.html", "404.html"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("<html></html>")
    (site / "xor" / "xor.gif").write_bytes(GIF2)
    pages = check_site.site_pages(site)
    assert pages == ["/", "/RESULTS/", "/xor/"]
    assert [check_site.shot_name(p) for p in pages] == ["home.png", "RESULTS.png", "xor.png"]
    server, errors = check_site.serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(base + "/xor/xor.gif", timeout=10) as resp:
            assert resp.read() == GIF2
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + "/missing.png", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert errors == [("/missing.png", 404)]


def test_expected_media_lists_each_problems_gif_and_figures(tmp_path):
    root = make_repo(tmp_path)
    assert check_site.expected_media(root)["/xor/"] == ["/xor/xor.gif", "/xor/viz/fig.png"]


# --- the real mkdocs build (a few seconds; needs requirements-dev.txt) ----------------------


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_mkdocs_strict_build_of_a_toy_repo_and_a_broken_link_fails_it(tmp_path):
    root = make_repo(tmp_path)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (root / "tools").mkdir()
    shutil.copy(TOOLS / "build_site.py", root / "tools" / "build_site.py")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", SITE_REPO_URL="")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    assert run("build_site.py", "--root", str(root)).returncode == 0
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = root / "site"
    assert (site / "xor" / "xor.gif").read_bytes() == GIF2
    home = (site / "index.html").read_text()
    assert 'href="xor/"' in home and 'href="RESULTS/"' in home
    assert "1950s" in home and "1980s" in home and "md-header" in home
    xor = (site / "xor" / "index.html").read_text()
    assert 'src="xor.gif"' in xor and 'href="../RESULTS/"' in xor
    # A README that links to an image nobody committed breaks the strict build.
    (root / "xor" / "README.md").write_text("# xor\n\n![lost](viz/lost.png)\n")
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "viz/lost.png" in proc.stdout + proc.stderr
