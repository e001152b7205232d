"""Tests for tools/build_site.py and the browser-free parts of tools/check_site.py."""

import importlib.util
import io
import json
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
URL = "https://github.com/o/r"


def _image_bytes(fmt: str, n_frames: int, duration=100) -> bytes:
    """A tiny image file (PNG, or a GIF of n_frames frames) made with pillow."""
    frames = [Image.new("RGB", (4, 3), (60 * i, 0, 0)) for i in range(n_frames)]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=n_frames > 1, append_images=frames[1:], duration=duration)
    return buf.getvalue()


GIF2 = _image_bytes("GIF", 2)
PNG1 = _image_bytes("PNG", 1)

PROBLEM_README = """# {slug}: toy net learns a toy task

Can a toy network learn the toy task from four examples?

<!-- glance:start -->
**Result at a glance**

- **Verdict:** **yes**
<!-- glance:end -->

Toy, A. (1986). A toy paper. [doi:10/toy](https://doi.org/10/toy)

## Problem
Code in [the script]({mod}.py), record [`headline.json`](results/headline.json).
Other: [xor page](../xor/README.md#results), [folder](../xor/), [results](../RESULTS.md).
- one
- two

The rule is $\\Delta w = -\\epsilon \\, \\partial E / \\partial w$.

<!-- code: {mod}.py Net.step -->

## Results
<!-- results:main:start -->
| a | b |
|---|---|
| 1 | 2 |
<!-- results:main:end -->

![anim]({mod}.gif)
![fig](viz/fig.png)
"""

MODULE = '''"""Toy problem."""
HEADLINE_ARGS = []


def helper(x):
    return x


class Net:
    """A net."""

    @staticmethod
    def step(w, g, lr=0.5):
        """One gradient step."""
        return w - lr * g
'''


def record(value=100, paper=None, verdict="yes", unit="of 100 seeds", name="seeds converged"):
    return {
        "stub": "toy",
        "paper": "Toy, Hinton & Other (1986), A toy paper",
        "headline": {
            "name": name,
            "claim": "A toy claims something. It is tested here.",
            "value": value,
            "unit": unit,
            "paper_value": paper,
            "better": "higher",
        },
        "reproduces": verdict,
        "wall_time_s": 1.5,
    }


HOME_README = (
    "# Catalog\n\nSee [xor](xor/README.md), [results](RESULTS.md), "
    "[licence](LICENSE) and [GIF](xor/xor.gif).\n\n"
    "<!-- problems:start -->\n| problem |\n|---|\n| [xor](xor/README.md) |\n"
    "<!-- problems:end -->\n"
)


def make_repo(tmp: Path, slugs=("xor", "toy-net"), results=True) -> Path:
    """A miniature repository: home README, RESULTS.md, problem folders with records."""
    root = tmp / "repo"
    root.mkdir()
    (root / "README.md").write_text(HOME_README)
    (root / "LICENSE").write_text("public domain\n")
    (root / "mkdocs.yml").write_text(f"site_name: toy\nrepo_url: {URL}/\n")
    if results:
        (root / "RESULTS.md").write_text("# Results\n\n| a |\n|---|\n| [xor](xor/README.md) |\n")
    for slug in slugs:
        mod = slug.replace("-", "_")
        folder = root / slug
        (folder / "viz").mkdir(parents=True)
        (folder / "results").mkdir()
        (folder / f"{mod}.py").write_text(MODULE)
        (folder / "results" / "headline.json").write_text(json.dumps(record()))
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


# --- what a README says about itself ----------------------------------------------------------


def test_title_and_summary_come_from_the_readme():
    text = "```\n# not a title\n```\n# xor: **XOR** by `backprop`\n\nCan it learn XOR?\nYes.\n"
    assert build_site.readme_title(text) == "xor: XOR by backprop"
    assert build_site.readme_summary(text) == "Can it learn XOR? Yes."
    assert build_site.strip_slug_prefix("xor: XOR by backprop", "xor") == "XOR by backprop"
    assert build_site.strip_slug_prefix("bars-rbm: contrastive", "bars-rbm") == "Contrastive"
    assert build_site.strip_slug_prefix("XOR by backprop", "xor") == "XOR by backprop"
    # Not a summary: a label paragraph, an image, a list, nothing.
    for body in ("**Paper.** Rumelhart (1986).", "![gif](x.gif)", "- a list", "<!-- c -->"):
        assert build_site.readme_summary(f"# T\n\n{body}\n\nmore\n") is None
    assert build_site.readme_summary("no title\n") is None
    md = "A [link](x.md), ![img](a.png)*emph* and `code`, **bold**."
    assert build_site.plain_text(md) == "A link, emph and code, bold."
    assert build_site.first_paragraph("# T\n\n<!-- c -->\n\n| a |\n\nProse *here*.\n") == (
        "Prose here."
    )
    assert build_site.shorten("one two three", 9) == "one two…"
    assert build_site.shorten("short", 9) == "short"


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
    assert problems[0].title == "Toy net learns a toy task"  # the folder name is dropped
    assert problems[0].summary == "Can a toy network learn the toy task from four examples?"


def test_paper_year_fallbacks():
    assert build_site.paper_year("bars-rbm", "Foldiak (1990) then Hinton (2002)") == 2002
    assert build_site.paper_year("new", "Hinton, G. (2006a). Title") == 2006
    assert build_site.paper_year("new", "Hinton & Salakhutdinov (2006, Science)") == 2006
    assert build_site.paper_year("new", "no citation year here, 1999 alone") is None
    assert build_site.decade_label(1994) == "1990s"
    assert build_site.decade_label(None) == "Other"


# --- eras and navigation -----------------------------------------------------------------------


def P(slug, year, title=""):
    return build_site.Problem(slug, year, title or slug.upper())


def test_eras_never_leave_a_single_page_when_there_are_two_or_more():
    catalog = [P("a", 1985), P("b", 1986), P("c", 1994), P("d", 2002), P("e", 2022)]
    assert [(label, [p.slug for p in g]) for label, g in build_site.eras(catalog)] == [
        ("1980s", ["a", "b"]),
        ("1990s–2020s", ["c", "d", "e"]),
    ]
    # Decades with two pages each stay decades; an undated problem goes last.
    even = [P("a", 1981), P("b", 1982), P("c", 1991), P("d", 1999), P("x", None)]
    assert [label for label, _ in build_site.eras(even)] == ["1980s", "1990s", "Other"]
    # A lone first decade joins the next one.
    lone = build_site.eras([P("a", 1970), P("b", 1985), P("c", 1986)])
    assert [(label, len(g)) for label, g in lone] == [("1970s–1980s", 3)]
    assert build_site.eras([P("a", 1999)]) == [("1990s", [P("a", 1999)])]
    assert build_site.eras([]) == []


def test_nav_has_human_titles_eras_and_extra_pages():
    problems = [P("encoder-4-2-4", 1985, "The 4-2-4 encoder"), P("xor", 1986, "XOR")]
    nav = build_site.build_nav(problems, [("Results", "RESULTS.md"), ("Contributing", "C.md")])
    assert nav == [
        {"Home": "README.md"},
        {"1980s": [{"The 4-2-4 encoder": "encoder-4-2-4/README.md"}, {"XOR": "xor/README.md"}]},
        {"Results": "RESULTS.md"},
        {"Contributing": "C.md"},
    ]
    assert build_site.build_nav([]) == [{"Home": "README.md"}]
    long = build_site.Problem("enc", 1985, "The 4-2-4 encoder: a Boltzmann machine")
    assert long.nav_title == "The 4-2-4 encoder"  # the navigation takes the part before ':'
    assert build_site.Problem("x", None, "A: b").nav_title == "A: b"
    assert build_site.Problem("x", None).nav_title == "x"


def test_repo_url_comes_from_mkdocs_yml(tmp_path):
    assert build_site.repo_url_from_config(tmp_path) == build_site.DEFAULT_REPO_URL
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nrepo_url: 'https://x.org/a/b/'\n")
    assert build_site.repo_url_from_config(tmp_path) == "https://x.org/a/b"


def test_the_repository_url_is_one_constant():
    """mkdocs.yml's repo_url, the README's clone line and the fallback all agree."""
    url = build_site.repo_url_from_config(REPO)
    assert url == build_site.DEFAULT_REPO_URL
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- quickstart:start -->", 1)[1].split("<!-- quickstart:end -->")[0]
    assert f"git clone {url}" in block
    lines = [ln for ln in block.splitlines() if ln.startswith("python3")]
    assert lines == [
        "python3 -m pip install -r requirements.txt && python3 tools/run_all.py",
        "python3 -m pip install -r requirements-dev.txt && python3 -m pytest -q",
    ]


# --- records and cards -------------------------------------------------------------------------


def test_catalog_record_follows_the_full_rule(tmp_path):
    root = make_repo(tmp_path, slugs=("toy-net",))
    mod = root / "toy-net" / "toy_net.py"
    full = root / "toy-net" / "results" / "full.json"
    path = build_site.catalog_record_path
    assert path(root, "toy-net") == "toy-net/results/headline.json"
    full.write_text(json.dumps(record(value=7)))
    assert path(root, "toy-net") == "toy-net/results/headline.json"  # no FULL_ARGS
    mod.write_text(MODULE + 'FULL_ARGS = ["--preset", "full"]\n')
    assert path(root, "toy-net") == "toy-net/results/full.json"
    assert path(root, "toy-net", tracked={"toy-net/results/headline.json"}) == (
        "toy-net/results/headline.json"  # full.json exists but is not committed
    )
    assert path(root, "toy-net", tracked={"toy-net/results/full.json"}) == (
        "toy-net/results/full.json"
    )
    mod.write_text(MODULE + "FULL_ARGS = None\n")
    assert path(root, "toy-net") == "toy-net/results/headline.json"
    (root / "toy-net" / "results" / "headline.json").unlink()
    assert path(root, "toy-net") is None


def test_read_record_names_the_file_when_it_is_unusable(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text(json.dumps({"headline": {"name": "n"}}))
    (tmp_path / "c.json").write_text(json.dumps(record(verdict="maybe")))
    for name, why in (
        ("a", "not valid JSON"),
        ("b", "no headline"),
        ("c", "reproduces is 'maybe'"),
    ):
        with pytest.raises(build_site.BuildError, match=f"{name}.json: {why}"):
            build_site.read_record(tmp_path, f"{name}.json")
    with pytest.raises(build_site.BuildError, match="missing.json: cannot read"):
        build_site.read_record(tmp_path, "missing.json")


def test_numbers_are_formatted_from_the_record():
    assert build_site.fmt_number(None) == "—"
    assert build_site.fmt_number(100) == "100"
    assert build_site.fmt_number(83.98123) == "83.98"
    assert build_site.fmt_number(1.6400001) == "1.64"
    assert build_site.fmt_number(123456.0) == "1.23e+05"
    assert build_site.fmt_number(True) == "yes"
    assert build_site.fmt_value(1.64, "%") == "1.64%"
    assert build_site.fmt_value(597, "sweeps") == "597\u00a0sweeps"
    assert build_site.fmt_value(None, "%") == "—"


def test_card_shows_the_records_numbers_and_verdict():
    p = build_site.Problem("toy-net", 1986, "Toy net", "Can it learn?")
    rel = "toy-net/results/headline.json"
    card = build_site.card_markdown(p, rel, record(value=97, paper=99.5, verdict="partial"), URL)
    assert card.startswith("-   [![Animation: Toy net](toy-net/toy_net.gif){ .card-thumb")
    assert "**[Toy net](toy-net/README.md)** · Toy, Hinton & Other (1986)" in card
    assert "    Can it learn?" in card
    assert '<span class="card-measure">seeds converged</span>' in card
    assert "**97\u00a0of 100 seeds** ours · 99.5\u00a0of 100 seeds paper" in card
    assert '<span class="verdict verdict-partial">partly reproduces</span>' in card
    assert f"[record]({URL}/blob/main/{rel})" in card
    # A different record gives a different card: nothing is typed.
    other = build_site.card_markdown(p, rel, record(value=12, verdict="no"), URL)
    assert "**12\u00a0of 100 seeds** ours" in other and "does not reproduce" in other
    assert "ours · — paper" in other
    # Without a summary the claim stands in; without a record the card says so.
    bare = build_site.Problem("toy-net", None, "Toy net")
    assert "A toy claims something." in build_site.card_markdown(bare, rel, record(), URL)
    assert "No result record yet." in build_site.card_markdown(bare, None, None, URL)


def test_home_page_on_the_site_has_cards_instead_of_the_table(tmp_path):
    root = make_repo(tmp_path)
    out = tmp_path / "docs"
    build_site.assemble(root, out, maths=False)
    home = (out / "README.md").read_text()
    assert '<div class="grid cards catalog" markdown>' in home
    assert home.index("toy-net/toy_net.gif){") < home.index("xor/xor.gif){")  # time order
    assert "| problem |" not in home
    assert home.count(".card-thumb") == 2
    assert (root / "README.md").read_text() == HOME_README  # the repository is untouched
    swapped = "a\n<!-- e -->\n<!-- s -->\n"
    assert build_site.replace_block(swapped, "<!-- s -->", "<!-- e -->", "x") is None
    good = "a\n<!-- s -->\nold\n<!-- e -->\nb"
    assert build_site.replace_block(good, "<!-- s -->", "<!-- e -->", "x") == (
        "a\n<!-- s -->\n\nx\n\n<!-- e -->\nb"
    )
    assert build_site.replace_block("no markers", "<!-- s -->", "<!-- e -->", "x") is None


# --- learning-rule code, glance box, front matter ----------------------------------------------


def test_extract_definition_by_name(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(MODULE)
    first, last, code = build_site.extract_definition(src, "Net.step")
    assert (first, last) == (12, 15)  # from the decorator to the last line
    assert code.startswith("@staticmethod\ndef step(w, g, lr=0.5):")
    assert code.endswith("return w - lr * g")
    assert build_site.extract_definition(src, "helper")[2] == "def helper(x):\n    return x"
    for name, why in (("nope", "has no nope"), ("Net.nope", "has no Net.nope")):
        with pytest.raises(build_site.BuildError, match=why):
            build_site.extract_definition(src, name)
    (tmp_path / "bad.py").write_text("def (:\n")
    with pytest.raises(build_site.BuildError, match="cannot parse bad.py"):
        build_site.extract_definition(tmp_path / "bad.py", "f")


def test_code_lines_become_the_functions_source_with_a_link(tmp_path):
    root = make_repo(tmp_path, slugs=("xor",))
    text = "Intro.\n\n<!-- code: xor.py Net.step -->\n\nAfter.\n"
    out = build_site.code_snippets(root, "xor/README.md", text, URL)
    assert f"`Net.step`, from [`xor.py` lines 12–15]({URL}/blob/main/xor/xor.py#L12-L15):" in out
    assert '````python linenums="12"\n@staticmethod\ndef step(w, g, lr=0.5):' in out
    assert '<div class="learning-rule" markdown>' in out and out.endswith("After.\n")
    # The source changes, the page follows.
    (root / "xor" / "xor.py").write_text("def step(w):\n    return w\n")
    (root / "xor" / "xor.py").write_text("class Net:\n    def step(w):\n        return 2 * w\n")
    again = build_site.code_snippets(root, "xor/README.md", text, URL)
    assert "def step(w):\n    return 2 * w" in again and "#L2-L3" in again
    with pytest.raises(build_site.BuildError, match=r"xor/README.md: <!-- code: xor.py Gone"):
        build_site.code_snippets(root, "xor/README.md", "<!-- code: xor.py Gone -->\n", URL)
    with pytest.raises(build_site.BuildError, match="cannot read missing.py"):
        build_site.code_snippets(root, "xor/README.md", "<!-- code: missing.py f -->\n", URL)
    # A code line inside a fence or inline is an example, left alone.
    assert build_site.code_snippets(root, "xor/README.md", "`<!-- code: a.py b -->`", URL) == (
        "`<!-- code: a.py b -->`"
    )


def test_glance_block_is_boxed_and_front_matter_is_yaml():
    text = "# T\n\nQ?\n\n<!-- glance:start -->\n**Result**\n\n- a\n<!-- glance:end -->\n\nRest\n"
    out = build_site.wrap_glance(text)
    assert '<!-- glance:start -->\n\n<div class="glance" markdown>\n\n**Result**\n\n- a\n\n' in out
    assert out.endswith("</div>\n\n<!-- glance:end -->\n\nRest\n")
    verdict = "<!-- glance:start -->\n- **Verdict:** **partial**\n<!-- glance:end -->"
    assert '- **Verdict:** <span class="verdict verdict-partial">partial</span>' in (
        build_site.wrap_glance(verdict)
    )
    assert build_site.wrap_glance("no block") == "no block"
    empty = "<!-- glance:start -->\n<!-- glance:end -->"
    assert build_site.wrap_glance(empty) == empty
    fm = build_site.front_matter({"description": 'Say "hi": yes', "hide": ["toc"]})
    assert fm == '---\ndescription: "Say \\"hi\\": yes"\nhide:\n  - toc\n---\n\n'
    assert build_site.front_matter({}) == ""


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


def test_links_to_source_files_go_to_the_repository(tmp_path):
    root = make_repo(tmp_path)
    lk = linker(root, URL)
    out = lk.rewrite("xor/README.md", "[s](xor.py#L3) [d](results/) [L](../LICENSE)")
    assert out == (
        f"[s]({URL}/blob/main/xor/xor.py#L3) "
        f"[d]({URL}/tree/main/xor/results) "
        f"[L]({URL}/blob/main/LICENSE)"
    )
    home = lk.rewrite("README.md", "[licence](LICENSE) [gif](xor/xor.gif)")
    assert home == f"[licence]({URL}/blob/main/LICENSE) [gif](xor/xor.gif)"
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
    lk = linker(root, URL)
    out = lk.rewrite(
        "README.md",
        '[![anim](xor/xor.gif)](xor/xor.py "the code")\n\n[ref]: xor/xor.py\n[pg]: xor/\n',
    )
    assert out == (
        f'[![anim](xor/xor.gif)]({URL}/blob/main/xor/xor.py "the code")\n\n'
        f"[ref]: {URL}/blob/main/xor/xor.py\n[pg]: xor/README.md\n"
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
    (root / "CONTRIBUTING.md").write_text("# Contributing\n\nHow to help.\n")
    out = tmp_path / "docs"
    (out / "old").mkdir(parents=True)
    (out / "old" / "stale.md").write_text("gone soon")
    summary = build_site.assemble(root, out, maths=False)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "CONTRIBUTING.md",
        "README.md",
        "RESULTS.md",
        "javascripts/tables.js",
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
    title = "Toy net learns a toy task"  # the README's title without the folder name
    assert summary["nav"] == [
        {"Home": "README.md"},
        {"1950s–1980s": [{title: "toy-net/README.md"}, {title: "xor/README.md"}]},
        {"Results": "RESULTS.md"},
        {"Contributing": "CONTRIBUTING.md"},
    ]
    assert "notes/README.md" not in summary["pages"]
    page = (out / "xor" / "README.md").read_text()
    assert page.startswith('---\ndescription: "Can a toy network learn the toy task')
    assert f"{URL}/blob/main/xor/xor.py" in page  # links to code go to the repository
    assert '<div class="glance" markdown>' in page and '<div class="learning-rule"' in page
    assert (out / "CONTRIBUTING.md").read_text().startswith('---\ndescription: "How to help."')
    assert "white-space: nowrap; }" not in (out / "stylesheets" / "site.css").read_text()
    # A second run with nothing changed writes nothing (mkdocs serve would loop otherwise).
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    os.utime(root / "xor" / "README.md")
    assert build_site.assemble(root, out, maths=False)["written"] == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert not list(out.rglob(".tmp_*"))


def test_assemble_without_results_and_without_home(tmp_path):
    root = make_repo(tmp_path, results=False)
    summary = build_site.assemble(root, tmp_path / "docs", maths=False)
    assert {"Results": "RESULTS.md"} not in summary["nav"]
    (root / "README.md").unlink()
    with pytest.raises(build_site.BuildError, match="home page"):
        build_site.assemble(root, tmp_path / "docs", maths=False)


@pytest.mark.skipif(importlib.util.find_spec("mathjax") is None, reason="MathJax not installed")
def test_assemble_serves_mathjax_itself(tmp_path):
    root = make_repo(tmp_path, slugs=("xor",))
    out = tmp_path / "docs"
    build_site.assemble(root, out)
    mj = out / "javascripts" / "mathjax"
    assert (mj / "tex-chtml.js").stat().st_size > 500_000
    assert list((mj / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (mj / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()
    config = (out / "javascripts" / "mathjax-config.js").read_text()
    assert 'inlineMath: [["\\\\(", "\\\\)"]]' in config and "arithmatex" in config


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a" / "b.txt"
    build_site.write_atomic(target, b"one")
    build_site.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    (tmp_path / "dir").mkdir()
    with pytest.raises(build_site.WriteError, match="cannot write"):
        build_site.write_atomic(tmp_path / "dir", b"x")  # a folder cannot be replaced by a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "dir"]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.txt"]


# --- command lines --------------------------------------------------------------------------


def run(script: str, *args, cwd=None):
    return subprocess.run(
        [sys.executable, str(TOOLS / script), *args], capture_output=True, text=True, cwd=cwd
    )


def one_line_error(proc, prog: str, code: int = 2) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"{prog}: error:")
    assert "Traceback" not in proc.stderr
    return proc.stderr


def call(mod, capsys, *args) -> subprocess.CompletedProcess:
    """Run ``mod.main(args)`` in this process (faster than a child for bad-input cases)."""
    try:
        code = mod.main(list(args))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def test_build_site_cli_writes_docs_and_rejects_bad_input(tmp_path, capsys):
    root = make_repo(tmp_path)
    proc = run("build_site.py", "--root", str(root))  # a real process, start to end
    assert proc.returncode == 0, proc.stderr
    assert "5 pages" in proc.stdout or "4 pages" in proc.stdout
    assert (root / "build" / "docs" / "xor" / "xor.gif").is_file()
    one_line_error(run("build_site.py", "--root", str(tmp_path / "nowhere")), "build_site.py")
    (tmp_path / "file").write_text("x")
    err = one_line_error(
        call(build_site, capsys, "--root", str(root), "--out", str(tmp_path / "file")),
        "build_site.py",
    )
    assert "is not a folder" in err
    long_name = str(tmp_path / ("a" * 300) / "docs")
    for bad in (
        ["--repo-url", "not a url"],
        ["--root=--"],
        ["--out", ""],
        ["--root", " "],
        ["--out", long_name],
        ["--root", long_name],
    ):
        one_line_error(call(build_site, capsys, *bad), "build_site.py")
    # A code line naming a function that is gone: one line naming the page, nothing half-done.
    readme = root / "xor" / "README.md"
    readme.write_text(readme.read_text().replace("Net.step", "Net.gone"))
    err = one_line_error(call(build_site, capsys, "--root", str(root)), "build_site.py")
    assert "xor/README.md" in err and "Net.gone" in err
    assert not list((root / "build").rglob(".tmp_*"))


def test_check_site_cli_bad_input_is_one_line(tmp_path, capsys):
    err = one_line_error(
        run("check_site.py", "--chromium", str(tmp_path / "no-chromium")), "check_site.py"
    )
    assert "no Chromium" in err
    for bad in (
        ["--root", str(tmp_path)],
        ["--screenshots", ""],
        ["--screenshots=--"],
        ["--chromium", ""],
    ):
        one_line_error(call(check_site, capsys, *bad), "check_site.py")
    assert not list(tmp_path.iterdir())


def test_both_scripts_keep_the_cli_contract():
    for mod in (build_site, check_site):
        parser = mod.build_parser()
        assert type(parser).__name__ == "CleanParser"
        assert all(a.help for a in parser._actions)


# --- check_site: pure parts -------------------------------------------------------------------


def test_check_site_pages_names_and_server(tmp_path):
    site = tmp_path / "site"
    for rel in ("index.html", "xor/index.html", "RESULTS/index.html", "404.html"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("<html></html>")
    (site / "xor" / "xor.gif").write_bytes(GIF2)
    pages = check_site.site_pages(site)
    assert pages == ["/", "/RESULTS/", "/xor/"]
    assert [check_site.shot_name(p, "390") for p in pages] == [
        "home-390.jpg",
        "RESULTS-390.jpg",
        "xor-390.jpg",
    ]
    assert check_site.site_file(site, "/xor/") == site / "xor" / "index.html"
    assert check_site.site_file(site, "/xor/xor.gif") == site / "xor" / "xor.gif"
    assert check_site.site_file(site, "/nope/") is None
    assert check_site.site_file(site, "/../etc/passwd") is None
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


def test_expected_media_and_page_sources(tmp_path):
    root = make_repo(tmp_path)
    (root / "CONTRIBUTING.md").write_text("# C\n")
    assert check_site.expected_media(root)["/xor/"] == ["/xor/xor.gif", "/xor/viz/fig.png"]
    assert check_site.page_sources(root) == {
        "/": "README.md",
        "/toy-net/": "toy-net/README.md",
        "/xor/": "xor/README.md",
        "/RESULTS/": "RESULTS.md",
        "/CONTRIBUTING/": "CONTRIBUTING.md",
    }


def test_gif_check_reads_frame_delays_in_milliseconds(tmp_path):
    cases = {
        "ok.gif": (_image_bytes("GIF", 3, duration=400), None),
        "fast.gif": (_image_bytes("GIF", 3, duration=20), "3 of 3 frame delays are under 50 ms"),
        "zero.gif": (_image_bytes("GIF", 2, duration=0), "shortest 0 ms"),
        "still.gif": (_image_bytes("GIF", 1), "single frame"),
        "junk.gif": (b"not a gif", "cannot be read"),
    }
    for name, (data, why) in cases.items():
        (tmp_path / name).write_bytes(data)
        got = check_site.gif_problem(tmp_path / name)
        assert (got is None) if why is None else (why in got), (name, got)
    mixed = [Image.new("RGB", (4, 3), (i * 50, 0, 0)) for i in range(3)]
    buf = io.BytesIO()
    mixed[0].save(buf, "GIF", save_all=True, append_images=mixed[1:], duration=[500, 40, 500])
    (tmp_path / "mixed.gif").write_bytes(buf.getvalue())
    assert "1 of 3 frame delays" in check_site.gif_problem(tmp_path / "mixed.gif")


def test_check_links_finds_missing_pages_files_and_anchors(tmp_path):
    site = tmp_path / "site"
    (site / "xor").mkdir(parents=True)
    (site / "index.html").write_text("")
    (site / "xor" / "index.html").write_text("")
    (site / "xor" / "xor.gif").write_bytes(GIF2)
    host = "http://127.0.0.1:1"
    links = {
        "/": {
            f"{host}/xor/#results",
            f"{host}/xor/#gone",
            f"{host}/xor/xor.gif",
            f"{host}/nope/",
            "https://doi.org/10/x#frag",
        }
    }
    ids = {"/": {"top"}, "/xor/": {"results"}}
    fails = check_site.check_links(links, ids, site, lambda u: u.startswith(host))
    assert fails == ["/: broken link to /nope/", "/: broken anchor /xor/#gone"]


def report(**over):
    """A browser report of a page that passes every check (check_site.JS_REPORT's shape)."""
    rep = {
        "theme": "",
        "rawTables": [],
        "tables": [],
        "stacked": [],
        "overflow": None,
        "mathErrors": [],
        "rawMaths": [],
        "images": [
            {"src": "http://h/xor/viz/a.png", "w": 800, "h": 400, "shown": 700, "inArticle": True},
            {"src": "http://h/xor/xor.gif", "w": 1200, "h": 400, "shown": 300, "thumb": True},
        ],
        "links": [],
        "articleLinks": [f"{URL}/blob/main/xor/xor.py#L3-L9"],
        "ids": [],
        "repoLink": URL + "/",
        "editLink": f"{URL}/edit/main/xor/README.md",
        "learningRule": 1,
        "glance": {"top": 150, "bottom": 400},
        "height": 768,
    }
    for img in rep["images"]:
        img.setdefault("thumb", False)
        img.setdefault("skip", False)
        img.setdefault("inArticle", True)
    rep.update(over)
    return rep


def judge(rep, width="1366", code="xor/xor.py"):
    return check_site.judge_report(
        rep, "/xor/", width, repo_url=URL, source="xor/README.md", code=code
    )


def test_judge_passes_a_good_page_and_names_each_defect():
    assert judge(report()) == []
    assert judge(report(), width="390") == []
    small = report()
    small["images"][0]["shown"] = 400  # 50% of 800 px on desktop
    assert judge(small) == [
        "figure /xor/viz/a.png shown at 400 of its 800 px (50.0% < 60%): re-export it for an "
        "~830 px column or split it"
    ]
    assert judge(small, width="390") == []  # a phone shows figures at the phone's width
    table = {"index": 2, "head": "run | ours", "cols": [{"col": "ours", "kind": "number",
             "left": 400, "right": 450, "lo": 0, "hi": 390}]}  # fmt: skip
    cases = {
        "rawTables": (["| a | b |"], "table rendered as raw text"),
        "tables": ([table], "number column 'ours' spans x=400..450 px, visible x=0..390 px"),
        "overflow": (
            {"scroll": 500, "client": 390, "culprit": "pre", "right": 500},
            "page scrolls sideways: 500 px wide in a 390 px window",
        ),
        "mathErrors": (["Undefined control sequence"], "maths error"),
        "asciiMaths": (["x^2"], "ASCII maths in prose"),
        "issueRefs": (["Issue 2"], "speaks of an issue"),
        "rawMaths": (["$x_1$"], "maths not rendered"),
        "repoLink": ("", "no link to the repository"),
        "editLink": (f"{URL}/edit/main/README.md", "no link to the page's source"),
        "articleLinks": ([f"{URL}/blob/main/xor/other.py"], "no link to its code"),
        "learningRule": (0, "no learning-rule code shown"),
        "glance": ({"top": 900, "bottom": 1100}, "not within the first screen"),
    }
    for key, (value, why) in cases.items():
        got = judge(report(**{key: value}))
        assert len(got) == 1 and why in got[0], (key, got)
    assert "no result at a glance" in judge(report(glance=None))[0]
    assert judge(report(glance=None), width="390") == []  # the first screen is a desktop rule
    assert judge(report(articleLinks=[], learningRule=0, glance=None), code=None) == []


# --- the real mkdocs build (a few seconds; needs requirements-dev.txt) ----------------------


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mathjax") is None,
    reason="requirements-dev.txt not installed",
)
def test_mkdocs_strict_build_of_a_toy_repo_and_a_broken_link_fails_it(tmp_path):
    root = make_repo(tmp_path)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (root / "tools").mkdir()
    shutil.copy(TOOLS / "build_site.py", root / "tools" / "build_site.py")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    assert run("build_site.py", "--root", str(root)).returncode == 0
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = root / "site"
    assert (site / "xor" / "xor.gif").read_bytes() == GIF2
    assert (site / "javascripts" / "mathjax" / "tex-chtml.js").is_file()
    home = (site / "index.html").read_text()
    assert 'href="xor/"' in home and 'href="RESULTS/"' in home
    assert "1950s–1980s" in home and "md-header" in home and "grid cards catalog" in home
    assert 'class="card-thumb"' in home
    xor = (site / "xor" / "index.html").read_text()
    assert 'src="xor.gif"' in xor and 'href="../RESULTS/"' in xor
    assert '<div class="glance">' in xor and '<div class="learning-rule">' in xor
    assert 'class="arithmatex"' in xor  # $...$ handed to MathJax
    assert 'class="glightbox"' in xor  # figures open full size
    assert '<meta name="description" content="Can a toy network learn' in xor
    assert "https://github.com/hinton-problems/hinton-problems/edit/main/xor/README.md" in xor
    # A README that links to an image nobody committed breaks the strict build.
    (root / "xor" / "README.md").write_text("# xor\n\n![lost](viz/lost.png)\n")
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "viz/lost.png" in proc.stdout + proc.stderr


# --- the browser checks on hand-made pages (needs Chromium; skipped without it) -------------

DEFECTS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,"><style>
header.md-header { position: sticky; top: 0; height: 40px; }
.md-typeset__scrollwrap { overflow-x: auto; }
body { margin: 0; }
</style></head><body>
<header class="md-header">site</header><nav class="md-nav--primary"></nav>
<article class="md-typeset">
<div class="glance">result</div>
<p>| run | ours |
|---|---|</p>
<div class="md-typeset__scrollwrap"><table><thead><tr><th>run</th><th>ours</th>
<th>verdict</th></tr></thead><tbody>
<tr><td><div style="width:1500px">a very wide first column</div></td><td>1.5</td><td>yes</td></tr>
<tr><td>b</td><td>2.5</td><td>no</td></tr></tbody></table></div>
<p><img src="fig.png" style="width:100px" alt="fig"> <img class="card-thumb" src="fig.png"
 style="width:50px" alt="thumb"></p>
<p>Raw maths $x_1 + y^2$ left as text.</p>
<p>All 2^10 states (<code>a^b</code> in code is fine), as this issue says.</p>
<div style="width:2000px">too wide for the window</div>
<a href="#nowhere">x</a>
</article></body></html>"""

GOOD_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,"><style>
header.md-header { position: sticky; top: 0; height: 40px; } body { margin: 0; }
img { max-width: 100%; }
</style></head><body>
<header class="md-header"><a class="md-source" href="https://github.com/o/r/">repo</a></header>
<nav class="md-nav--primary"></nav>
<article class="md-typeset"><a class="md-content__button" rel="edit"
 href="https://github.com/o/r/edit/main/xor/README.md">edit</a>
<div class="glance">result</div>
<table><thead><tr><th>run</th><th>ours</th><th>verdict</th></tr></thead>
<tbody><tr><td>a</td><td>1.5</td><td>yes</td></tr></tbody></table>
<p><img src="fig.png" alt="fig"></p>
<a href="https://github.com/o/r/blob/main/xor/xor.py#L1-L5">code</a>
<div class="learning-rule"><pre>def f(): pass</pre></div>
</article></body></html>"""


@pytest.mark.skipif(
    not os.access("/usr/bin/chromium", os.X_OK) or importlib.util.find_spec("playwright") is None,
    reason="needs Debian's Chromium and playwright",
)
def test_browser_report_catches_each_defect_and_passes_a_good_page(tmp_path):
    import asyncio

    from playwright.async_api import async_playwright

    Image.new("RGB", (400, 100), (200, 200, 200)).save(tmp_path / "fig.png")
    (tmp_path / "bad.html").write_text(DEFECTS_PAGE)
    (tmp_path / "good.html").write_text(GOOD_PAGE)
    server, errors = check_site.serve(tmp_path)
    base = f"http://127.0.0.1:{server.server_address[1]}"

    async def reports():
        out = {}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=check_site.CHROMIUM_FLAGS
            )
            for name, (w, h) in (
                ("bad", (1366, 768)),
                ("good", (1366, 768)),
                ("phone", (390, 844)),
            ):
                page = await browser.new_page(viewport={"width": w, "height": h})
                url = f"{base}/{'bad' if name == 'bad' else 'good'}.html"
                out[name] = await check_site._load(page, url, lambda u: u.startswith(base), [])
                await page.close()
            await browser.close()
        return out

    try:
        got = asyncio.run(reports())
    finally:
        server.shutdown()
        server.server_close()
    fails, rep = got["bad"]
    assert fails == []  # no console error, no uncaught exception
    msgs = "\n".join(judge(rep, width="1366"))
    for want in (
        "table rendered as raw text",
        "number column 'ours'",
        "verdict column 'verdict'",
        "page scrolls sideways: ",
        "figure /fig.png shown at 100 of its 400 px (25.0% < 60%)",
        "maths not rendered: '$x_1 + y^2$'",
        "ASCII maths in prose (write it as $...$): '2^10'",
        "speaks of an issue, which readers cannot follow: 'this issue'",
        "no link to the repository",
        "no link to the page's source",
        "no link to its code",
        "no learning-rule code shown",
    ):
        assert want in msgs, want
    assert "card-thumb" not in msgs and msgs.count("figure ") == 1  # thumbnails are exempt
    assert "#nowhere" in " ".join(rep["links"]) and "nowhere" not in rep["ids"]
    for name, width in (("good", "1366"), ("phone", "390")):
        fails, rep = got[name]
        assert fails == [] and judge(rep, width=width) == [], (name, judge(rep, width=width))
