"""Tests for tools/run_all.py: discovery, record checks, every mode, children, the docs.

Most tests build a toy catalog in a temporary folder (problem scripts that write a
record, crash, hang, write NaN, kill themselves or leave a grandchild behind) and run
``run_all.py --root TOY`` as a child process, as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cli  # noqa: E402
import run_all  # noqa: E402

RUN_ALL = str(run_all.ROOT / "tools" / "run_all.py")

GOOD_RECORD = {
    "stub": "toy",
    "paper": "Someone & Other (1986)",
    "seed": 0,
    "n_seeds": 3,
    "config": {},
    "headline": {
        "name": "error",
        "claim": "toy claim",
        "value": 0.25,
        "unit": "%",
        "paper_value": 0.5,
        "better": "lower",
    },
    "metrics": {},
    "reproduces": "yes",
    "wall_time_s": 0.1,
    "env": {},
}

#: A toy problem: its behaviour is chosen by --mode (headline) or MODE_SMOKE (--smoke).
TOY_SCRIPT = """
import json, os, signal, subprocess, sys, time
HEADLINE_ARGS = ["--mode", "{mode}"]
HEADLINE_BUDGET_S = {budget}
{extra}
args = sys.argv[1:]
mode = args[args.index("--mode") + 1] if "--mode" in args else "ok"
if "--smoke" in args:
    mode = "{smoke_mode}"
out = args[args.index("--json") + 1]
here = os.path.dirname(os.path.abspath(__file__))
open(os.path.join(here, "pid"), "w").write(str(os.getpid()))
print("toy: progress line", flush=True)
rec = {record}
rec["headline"]["value"] = {value}
if "--big" in args:
    rec["headline"]["value"] = 9.0
if mode == "sleep":
    time.sleep(60)
if mode == "crash":
    sys.exit("toy: error: it broke")
if mode == "killself":
    os.kill(os.getpid(), signal.SIGKILL)
if mode in ("grandchild", "escape"):
    g = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        start_new_session=(mode == "escape"),
    )
    open(os.path.join(here, "grandchild"), "w").write(str(g.pid))
if mode == "stubborn":  # a grandchild in its own session that ignores SIGTERM
    ready = os.path.join(here, "ready")
    code = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "open(sys.argv[1], 'w').close(); time.sleep(60)"
    )
    g = subprocess.Popen([sys.executable, "-c", code, ready], start_new_session=True)
    while not os.path.exists(ready):
        time.sleep(0.01)
    open(os.path.join(here, "grandchild"), "w").write(str(g.pid))
if mode == "nowrite":
    sys.exit(0)
if mode == "bad":
    del rec["headline"]
text = json.dumps(rec)
if mode == "nan":
    text = text.replace("{value}", "NaN", 1)
if mode == "truncated":
    text = text[: len(text) // 2]
open(out, "w").write(text)
"""

README = """# Toy catalog

<!-- quickstart:start -->
<!-- quickstart:end -->

<!-- problems:start -->
<!-- problems:end -->
"""

PROBLEM_README = """# A toy

<!-- glance:start -->
<!-- glance:end -->

Text the tools never touch.
"""


def make_problem(
    root: Path,
    slug: str,
    mode: str = "ok",
    budget: float = 20,
    smoke_mode: str = "ok",
    extra: str = "",
    value: float = 0.25,
    readme: bool = True,
) -> Path:
    folder = root / slug
    (folder / "results").mkdir(parents=True)
    text = TOY_SCRIPT.format(
        mode=mode,
        budget=budget,
        smoke_mode=smoke_mode,
        extra=extra,
        record=repr(GOOD_RECORD),
        value=value,
    )
    (folder / f"{slug.replace('-', '_')}.py").write_text(text)
    if readme:
        (folder / "README.md").write_text(PROBLEM_README)
    return folder


def make_catalog(root: Path, **problems) -> Path:
    """A toy catalog: README.md with markers plus one folder per keyword (slug=mode)."""
    root.mkdir(exist_ok=True)
    (root / "README.md").write_text(README)
    for slug, mode in problems.items():
        make_problem(root, slug.replace("_", "-"), mode)
    return root


def seed_records(root: Path) -> None:
    """Give every toy problem a valid headline record and generate the docs in-process."""
    for p in run_all.discover(root):
        p.record_path.write_text(json.dumps(GOOD_RECORD))
    run_all.write_generated(run_all.discover(root), root)


def run(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, RUN_ALL, "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Content and mtime of every file under ``root`` (pid files excluded)."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("pid", "grandchild")
    }


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# ---------------------------------------------------------------------------------------
# Discovery and records


def test_discover_reads_constants_without_importing(tmp_path):
    make_problem(tmp_path, "toy-a", "ok", budget=7)
    (tmp_path / "notes").mkdir()  # a folder without <mod>.py is not a problem
    problems = run_all.discover(tmp_path)
    assert [p.slug for p in problems] == ["toy-a"]
    assert problems[0].headline_args == ["--mode", "ok"]
    assert problems[0].headline_budget_s == 7.0
    assert problems[0].golden_runs == {} and problems[0].golden_rtol == 0.0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("HEADLINE_ARGS = ['--a', 3]\n", "list of strings"),
        ("HEADLINE_BUDGET_S = -1\n", "positive"),
        ("HEADLINE_BUDGET_S = True\n", "positive"),
        ("FULL_BUDGET_S = 0\n", "positive"),
        ("HEADLINE_BUDGET_S = float('nan')\n", "not a literal"),
        ("FULL_ARGS = '--big'\n", "FULL_ARGS must be a list"),
        ("GOLDEN_RUNS = {'../x.json': ['t.py']}\n", "not a .json file name"),
        ("GOLDEN_RUNS = {'x.json': []}\n", "must start with a script name"),
        ("GOLDEN_RTOL = 1.5\n", "GOLDEN_RTOL"),
        ("GOLDEN_RTOL = 1.0\n", "GOLDEN_RTOL"),
        ("GOLDEN_RTOL = -1e-9\n", "GOLDEN_RTOL"),
    ],
)
def test_read_constants_rejects_bad_literals(tmp_path, text, match):
    script = tmp_path / "x.py"
    script.write_text(text)
    with pytest.raises(ValueError, match=match):
        run_all.read_constants(script)


def test_catalog_record_is_full_only_when_declared_and_present(tmp_path):
    folder = make_problem(tmp_path, "toy")
    (p,) = run_all.discover(tmp_path)
    assert p.catalog_path == p.record_path  # no FULL_ARGS, no full.json
    (folder / "results" / "full.json").write_text("{}")
    (p,) = run_all.discover(tmp_path)
    assert p.catalog_path == p.record_path  # full.json without FULL_ARGS is not headlined
    script = folder / "toy.py"
    script.write_text(script.read_text() + 'FULL_ARGS = ["--big"]\n')
    (p,) = run_all.discover(tmp_path)
    assert p.catalog_path == p.full_path
    (folder / "results" / "full.json").unlink()
    (p,) = run_all.discover(tmp_path)
    assert p.catalog_path == p.record_path  # declared but not run yet


def test_validate_record_catches_each_defect():
    assert run_all.validate_record(GOOD_RECORD) is None
    cases = [
        (("reproduces",), "maybe", "yes/partial/no"),
        (("headline", "value"), "12", "not a finite number"),
        (("headline", "value"), float("nan"), "not a finite number"),
        (("headline", "value"), float("inf"), "not a finite number"),
        (("headline", "value"), True, "not a finite number"),
        (("headline", "paper_value"), float("nan"), "paper_value"),
        (("headline", "better"), "up", "lower/higher"),
        (("wall_time_s",), -1.0, "wall_time_s"),
        (("n_seeds",), 0, "n_seeds"),
    ]
    for keys, value, why in cases:
        bad = json.loads(json.dumps(GOOD_RECORD))
        target = bad
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
        assert why in (run_all.validate_record(bad) or ""), (keys, value)
    for key in run_all.RECORD_KEYS:
        bad = {k: v for k, v in GOOD_RECORD.items() if k != key}
        assert run_all.validate_record(bad) == f"record lacks {key}"
    assert run_all.validate_record([]) == "record is not a JSON object"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ('{"stub": "toy", "paper"', "truncated or not JSON"),
        ('{"x": NaN}', "non-finite number NaN"),
        ('{"x": -Infinity}', "non-finite number -Infinity"),
    ],
)
def test_read_record_names_the_file(tmp_path, text, why):
    path = tmp_path / "headline.json"
    path.write_text(text)
    with pytest.raises(run_all.RecordError) as exc:
        run_all.read_record(path, "toy: toy/results/headline.json")
    assert str(exc.value).startswith("toy: toy/results/headline.json: ")
    assert why in str(exc.value)


def test_discover_puts_catalog_problems_first_in_catalog_order(tmp_path):
    for slug in ("aaa-extra", "xor", "encoder-4-2-4", "zzz-extra"):
        make_problem(tmp_path, slug)
    slugs = [p.slug for p in run_all.discover(tmp_path)]
    assert slugs == ["encoder-4-2-4", "xor", "aaa-extra", "zzz-extra"]


def test_validate_record_accepts_one_seed_and_no_paper_value():
    rec = json.loads(json.dumps(GOOD_RECORD))
    rec["n_seeds"] = 1
    rec["headline"]["paper_value"] = None
    assert run_all.validate_record(rec) is None
    del rec["n_seeds"]
    assert run_all.validate_record(rec) is None


def test_replace_block_requires_markers_once_in_order():
    text = "a\n<!-- s -->\nold\n<!-- e -->\nb\n"
    assert run_all.replace_block(text, "<!-- s -->", "<!-- e -->", "new") == (
        "a\n<!-- s -->\nnew\n<!-- e -->\nb\n"
    )
    assert run_all.replace_block("<!-- s -->x<!-- e -->", "<!-- s -->", "<!-- e -->", "y") == (
        "<!-- s -->\ny\n<!-- e -->"
    )
    bad_texts = ("no markers", "<!-- e -->\n<!-- s -->", text + "<!-- s -->", "<!-- s --> only")
    for bad in bad_texts + ("<!-- e --> only", text + "<!-- e -->"):
        with pytest.raises(ValueError):
            run_all.replace_block(bad, "<!-- s -->", "<!-- e -->", "new")


def test_formatting():
    assert run_all.fmt_number(3) == "3"
    assert run_all.fmt_number(99.0) == "99"
    assert run_all.fmt_number(1.23456) == "1.235"
    assert run_all.fmt_number(123456.0) == "1.23e+05"
    assert run_all.fmt_number(None) == "—"
    assert run_all.fmt_value(2.14, "%") == "2.14%"
    assert run_all.fmt_value(10, "of 10 seeds") == "10 of 10 seeds"
    assert run_all.fmt_duration(0.42) == "0.4 s"
    assert run_all.fmt_duration(42.4) == "42 s"
    assert run_all.fmt_duration(99.1) == "1 min 39 s"
    assert run_all.fmt_duration(5847.7) == "1 h 37 min"
    assert run_all.paper_year("Ackley, Hinton & Sejnowski (1985)") == "1985"


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (True, "yes"),
        (False, "no"),
        (7, "7"),
        (99999.0, "99999"),
        (100000.0, "1e+05"),
        (0.001, "0.001"),
        (0.000999, "0.000999"),
        (0.0, "0"),
        (-2.5, "-2.5"),
        (83.98005281456588, "83.98"),
        (12345.678, "1.235e+04"),
        ("text", "text"),
    ],
)
def test_fmt_number_boundaries(x, text):
    assert run_all.fmt_number(x) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (9.94, "9.9 s"),
        (10.0, "10 s"),
        (59.4, "59 s"),
        (59.6, "1 min 0 s"),
        (60.0, "1 min 0 s"),
        (3599.4, "59 min 59 s"),
        (3600.0, "1 h 0 min"),
        (7325.0, "2 h 2 min"),
    ],
)
def test_fmt_duration_boundaries(seconds, text):
    assert run_all.fmt_duration(seconds) == text


def test_fmt_value_and_cells():
    assert run_all.fmt_value(None, "%") == "—"
    assert run_all.fmt_value(3, "") == "3"
    assert run_all.cell("a|b\nc") == "a\\|b c"
    assert run_all.paper_year("no year here") == ""
    assert run_all.paper_year("Hinton (2022), arXiv:2212.13345") == "2022"


def test_describe_exit():
    assert run_all.describe_exit(1, "warning\nx: error: bad\n") == "exit 1: x: error: bad"
    assert run_all.describe_exit(3, "") == "exit 3: (no stderr)"
    assert run_all.describe_exit(-9, "") == "killed by SIGKILL"
    assert run_all.describe_exit(-15, "") == "killed by SIGTERM"


def toy_problems(tmp_path, **records):
    """Problems with the given catalog records (slug -> record or None)."""
    out = {}
    for slug in records:
        folder = make_problem(tmp_path, slug)
        out[slug] = run_all.discover(tmp_path)
        out[slug] = next(p for p in out[slug] if p.slug == slug)
        del folder
    return out


def test_results_and_readme_text_exactly(tmp_path):
    rec = json.loads(json.dumps(GOOD_RECORD))
    rec["provenance"] = {"command": "python3 toy/toy.py", "commit": "abc", "machine": "m"}
    other = json.loads(json.dumps(GOOD_RECORD))
    other["headline"].update(value=12, unit="of 12 seeds", paper_value=None, better="higher")
    other["reproduces"] = "no"
    probs = toy_problems(tmp_path, toy=rec, other=other, none=None)
    records = {"toy": rec, "other": other, "none": None}
    text = run_all.results_markdown(records, probs)
    table = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert table == [
        "| problem | ours | paper | verdict |",
        "| [toy](toy/README.md) | 0.25% | 0.5% | **yes** |",
        "| [other](other/README.md) | 12 of 12 seeds | — | **no** |",
        "| [none](none/README.md) | not run yet | | |",
    ]
    details = text.split("## Details", 1)[1]
    assert "### toy\n\nSomeone & Other (1986).\n\n- **Claim:** toy claim\n" in details
    assert "- **Measured:** error (lower is better)\n" in details
    assert "- **Measured:** error (higher is better)\n" in details
    assert "- **Seeds:** 3 · **wall time:** 0.1 s\n" in details
    assert "- **Record:** [toy/results/headline.json](toy/results/headline.json)\n" in details
    assert "- **Command:** `python3 toy/toy.py`\n- **Run at:** commit `abc`, m\n" in details
    assert "### none" not in details
    assert details.count("- **Command:**") == 1  # 'other' has no provenance
    assert run_all.readme_table(records, probs).splitlines() == [
        "| problem | ours | paper | verdict | year |",
        "|---|---|---|---|---|",
        "| [toy](toy/README.md) | 0.25% | 0.5% | **yes** | 1986 |",
        "| [other](other/README.md) | 12 of 12 seeds | — | **no** | 1986 |",
        "| [none](none/README.md) | not run yet | | | |",
    ]


def test_glance_block_exactly(tmp_path):
    (p,) = toy_problems(tmp_path, toy=GOOD_RECORD).values()
    assert run_all.glance_block(p, GOOD_RECORD) == "\n".join(
        [
            "**Result at a glance**",
            "",
            "- **Measure:** error",
            "- **Paper:** 0.5% · **ours:** 0.25%",
            "- **Verdict:** **yes**",
            "- **Seeds:** 3 · **wall time:** 0.1 s",
            "- **Code:** [toy.py](toy.py) · **record:** "
            "[results/headline.json](results/headline.json)",
        ]
    )
    rec = json.loads(json.dumps(GOOD_RECORD))
    rec["headline"]["paper_value"] = None
    del rec["n_seeds"]
    text = run_all.glance_block(p, rec)
    assert "- **Paper:** no comparable number · **ours:** 0.25%" in text
    assert "- **Seeds:** 1 ·" in text


def test_git_commit_marks_a_dirty_tree(tmp_path):
    assert run_all.git_commit(tmp_path) == "unknown"  # not a repository
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    sha = run_all.git_commit(tmp_path)
    assert len(sha) == 10 and "+" not in sha
    (tmp_path / "f").write_text("2")
    assert run_all.git_commit(tmp_path) == sha + "+dirty"
    (tmp_path / "g").write_text("untracked files do not count")
    (tmp_path / "f").write_text("1")
    assert run_all.git_commit(tmp_path) == sha


def test_machine_description_names_cores():
    text = run_all.machine_description()
    assert f", {os.cpu_count()} cores, " in text


# ---------------------------------------------------------------------------------------
# run_problem outcomes (in-process)


@pytest.mark.parametrize(
    ("mode", "budget", "ok", "reason"),
    [
        ("ok", 20, True, ""),
        ("crash", 20, False, "exit 1: toy: error: it broke"),
        ("bad", 20, False, "record lacks headline"),
        ("nan", 20, False, "non-finite number NaN"),
        ("truncated", 20, False, "truncated or not JSON"),
        ("nowrite", 20, False, "no record"),
        ("killself", 20, False, "killed by SIGKILL"),
        ("sleep", 1, False, "overran its 1 s budget"),
    ],
)
def test_run_problem_outcomes(tmp_path, mode, budget, ok, reason):
    make_problem(tmp_path, "toy", mode)
    (problem,) = run_all.discover(tmp_path)
    out = run_all.run_problem(problem, False, budget, tmp_path / "rec.json")
    assert out.ok is ok, out.reason
    assert reason in out.reason
    if not ok and mode not in ("crash", "killself", "sleep"):
        assert out.reason.startswith("toy: record of `python3 toy/toy.py --mode")
    if ok:
        assert out.record["provenance"]["command"] == "python3 toy/toy.py --mode ok"


# ---------------------------------------------------------------------------------------
# Modes, end to end


def test_smoke_checks_records_and_leaves_committed_files_alone(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok", toy_b="ok")
    seed_records(root)
    before = snapshot(root)
    table = tmp_path / "smoke.md"
    done = run(root, "--smoke", "--out", str(table))
    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(root) == before
    assert "| [toy-a](toy-a/README.md) | 0.25% | 0.5% | **yes** |" in table.read_text()


def test_smoke_fails_on_a_bad_smoke_record(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    make_problem(root, "toy-b", smoke_mode="nan")
    done = run(root, "--smoke", "--out", str(tmp_path / "t.md"))
    assert done.returncode == 1
    assert "toy-b: record of `python3 toy-b/toy_b.py --smoke`: non-finite number NaN" in (
        done.stdout
    )


def test_headline_run_writes_record_and_every_block(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    done = run(root)
    assert done.returncode == 0, done.stdout + done.stderr
    rec = json.loads((root / "toy-a" / "results" / "headline.json").read_text())
    assert rec["provenance"]["command"] == "python3 toy-a/toy_a.py --mode ok"
    assert 0 < rec["provenance"]["run_all_seconds"] < 60
    assert rec["provenance"]["commit"] == "unknown"  # the toy catalog is not a repository
    assert rec["provenance"]["machine"] == run_all.machine_description()
    assert "0.25%" in (root / "RESULTS.md").read_text()
    assert "| [toy-a](toy-a/README.md) | 0.25% | 0.5% | **yes** | 1986 |" in (
        (root / "README.md").read_text()
    )
    page = (root / "toy-a" / "README.md").read_text()
    assert "- **Measure:** error\n- **Paper:** 0.5% · **ours:** 0.25%\n" in page
    assert "[results/headline.json](results/headline.json)" in page
    assert page.endswith("Text the tools never touch.\n")
    # a second collect finds nothing to change and touches nothing
    before = snapshot(root)
    assert run(root, "--collect").returncode == 0
    assert snapshot(root) == before


def test_headline_run_refuses_nan_and_keeps_the_old_record(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    seed_records(root)
    before = snapshot(root)
    script = root / "toy-a" / "toy_a.py"
    script.write_text(script.read_text().replace('"--mode", "ok"', '"--mode", "nan"'))
    before["toy-a/toy_a.py"] = snapshot(root)["toy-a/toy_a.py"]
    done = run(root)
    assert done.returncode == 1
    assert "toy-a: record of `python3 toy-a/toy_a.py --mode nan`: non-finite" in done.stdout
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param('{"stub": "to', "truncated or not JSON", id="truncated"),
        pytest.param(
            json.dumps({**GOOD_RECORD, "headline": {**GOOD_RECORD["headline"], "value": None}}),
            "headline.value",
            id="null-headline",
        ),
        pytest.param(
            json.dumps(GOOD_RECORD).replace("0.25", "NaN"), "non-finite number NaN", id="nan"
        ),
        pytest.param(
            json.dumps({k: v for k, v in GOOD_RECORD.items() if k != "metrics"}),
            "record lacks metrics",
            id="missing-key",
        ),
    ],
)
def test_collect_refuses_a_bad_record_and_writes_nothing(tmp_path, text, why):
    root = make_catalog(tmp_path / "cat", toy_a="ok", toy_b="ok")
    seed_records(root)
    (root / "toy-b" / "results" / "headline.json").write_text(text)
    before = snapshot(root)
    done = run(root, "--collect")
    assert done.returncode == 1
    assert f"toy-b: toy-b/results/headline.json: {why}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert snapshot(root) == before


def test_results_and_readme_change_together_or_not_at_all(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    seed_records(root)
    rec_path = root / "toy-a" / "results" / "headline.json"
    rec = json.loads(rec_path.read_text())
    rec["headline"]["value"] = 0.125
    rec_path.write_text(json.dumps(rec))
    (root / "README.md").write_text("# no markers any more\n")
    before = snapshot(root)
    done = run(root, "--collect")
    assert done.returncode == 1 and "markers" in done.stderr
    assert snapshot(root) == before  # RESULTS.md and the glance block kept too
    (root / "README.md").write_text(README)
    run_all.write_generated(run_all.discover(root), root)
    assert "0.125%" in (root / "RESULTS.md").read_text()
    assert "0.125%" in (root / "README.md").read_text()
    assert "0.125%" in (root / "toy-a" / "README.md").read_text()


def test_collect_only_rewrites_the_selected_glance_blocks(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok", toy_b="ok")
    seed_records(root)
    for slug in ("toy-a", "toy-b"):
        rec_path = root / slug / "results" / "headline.json"
        rec_path.write_text(rec_path.read_text().replace("0.25", "0.125"))
    done = run(root, "--collect", "--only", "toy-a")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0.125%" in (root / "toy-a" / "README.md").read_text()
    assert "0.125%" not in (root / "toy-b" / "README.md").read_text()
    assert (root / "RESULTS.md").read_text().count("0.125%") == 2  # tables: every record


def test_collect_runs_each_visualizer_and_fails_when_one_fails(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok", toy_b="ok")
    seed_records(root)
    for slug, body in (
        ("toy-a", "open('ran', 'w').write('yes')"),
        ("toy-b", "raise SystemExit(5)"),
    ):
        (root / slug / f"visualize_{slug.replace('-', '_')}.py").write_text(
            f"import sys\nassert sys.argv[1:] == ['--readme']\n{body}\n"
        )
    done = run(root, "--collect")
    assert done.returncode == 1
    assert "toy-b (toy-b/visualize_toy_b.py --readme: exit 5" in done.stdout
    assert "toy-a (" not in done.stdout
    assert (root / "ran").read_text() == "yes"  # run from the catalog root


def test_collect_skips_readmes_without_glance_markers(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    (root / "toy-a" / "README.md").write_text("# no glance here\n")
    assert run(root).returncode == 0
    assert (root / "toy-a" / "README.md").read_text() == "# no glance here\n"


def test_full_writes_only_full_json(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    make_problem(root, "toy-b", extra='FULL_ARGS = ["--mode", "ok", "--big"]\n')
    seed_records(root)
    before = snapshot(root)
    done = run(root, "--full")
    assert done.returncode == 0, done.stdout + done.stderr
    after = snapshot(root)
    assert set(after) == set(before) | {"toy-b/results/full.json"}
    assert {k: v for k, v in after.items() if k != "toy-b/results/full.json"} == before
    full = json.loads((root / "toy-b" / "results" / "full.json").read_text())
    assert full["headline"]["value"] == 9.0
    assert full["provenance"]["command"] == "python3 toy-b/toy_b.py --mode ok --big"
    # the full record becomes toy-b's headline at the next --collect
    run_all.write_generated(run_all.discover(root), root)
    assert "| [toy-b](toy-b/README.md) | 9% |" in (root / "README.md").read_text()
    assert "[results/full.json](results/full.json)" in (root / "toy-b" / "README.md").read_text()


@pytest.mark.parametrize("mode", [[], ["--smoke"], ["--full"]])
def test_progress_shows_the_problems_own_output_only_when_asked(tmp_path, mode):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    make_problem(root, "toy-b", extra='FULL_ARGS = ["--mode", "ok"]\n')
    seed_records(root)
    quiet = run(root, *mode, "--only", "toy-b")
    shown = run(root, *mode, "--only", "toy-b", "--progress")
    assert quiet.returncode == shown.returncode == 0, shown.stdout + shown.stderr
    assert "toy: progress line" not in quiet.stdout
    # the child's line comes after run_all's own line announcing the problem
    lines = shown.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("[1/1] toy-b: ") and "..." in ln)
    assert lines[start + 1] == "toy: progress line"


def test_golden_rewrites_the_declared_records(tmp_path):
    root = make_catalog(tmp_path / "cat")
    make_problem(
        root,
        "toy",
        extra='GOLDEN_RUNS = {"smoke.json": ["toy.py", "--smoke"], '
        '"big.json": ["toy.py", "--big"]}\n',
    )
    done = run(root, "--golden")
    assert done.returncode == 0, done.stdout + done.stderr
    smoke = json.loads((root / "toy" / "results" / "smoke.json").read_text())
    big = json.loads((root / "toy" / "results" / "big.json").read_text())
    assert smoke["headline"]["value"] == 0.25 and big["headline"]["value"] == 9.0
    assert "provenance" not in smoke  # golden records hold only what the script wrote
    assert not (root / "RESULTS.md").exists()


def test_golden_fails_without_golden_runs_or_on_a_failing_run(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    done = run(root, "--golden")
    assert done.returncode == 1 and "no GOLDEN_RUNS" in done.stdout
    make_problem(
        root,
        "toy-b",
        smoke_mode="crash",
        extra='GOLDEN_RUNS = {"s.json": ["toy_b.py", "--smoke"]}\n',
    )
    done = run(root, "--golden", "--only", "toy-b")
    assert done.returncode == 1
    assert "toy-b/results/s.json: FAILED — exit 1: toy: error: it broke" in done.stdout
    assert not (root / "toy-b" / "results" / "s.json").exists()
    for mode, why in (("nan", "non-finite number NaN"), ("sleep", "overran 1 s")):
        script = root / "toy-b" / "toy_b.py"
        script.write_text(script.read_text().replace('mode = "crash"', f'mode = "{mode}"'))
        script.write_text(script.read_text().replace('mode = "nan"', f'mode = "{mode}"'))
        done = run(root, "--golden", "--only", "toy-b", "--smoke-budget", "1")
        assert done.returncode == 1 and why in done.stdout, done.stdout
        assert not (root / "toy-b" / "results" / "s.json").exists()


def test_a_child_killed_by_a_signal_fails(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="killself")
    done = run(root)
    assert done.returncode == 1
    assert "toy-a (killed by SIGKILL)" in done.stdout
    assert not (root / "toy-a" / "results" / "headline.json").exists()


@pytest.mark.parametrize("mode", ["grandchild", "escape", "stubborn"])
def test_a_childs_own_children_are_reaped(tmp_path, mode):
    """Also a grandchild that left the problem's process group (its own session), and
    one that ignores SIGTERM."""
    root = make_catalog(tmp_path / "cat", toy_a=mode)
    done = run(root, "--only", "toy-a")
    assert done.returncode == 0, done.stdout + done.stderr
    grandchild = int((root / "toy-a" / "grandchild").read_text())
    deadline = time.time() + 5
    while alive(grandchild) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild), "the problem's own child outlived run_all"


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_run_all_interrupted_ends_its_problem(tmp_path, signum, code, word):
    root = make_catalog(tmp_path / "cat", toy_a="sleep")
    proc = subprocess.Popen(
        [sys.executable, RUN_ALL, "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = root / "toy-a" / "pid"
    deadline = time.time() + 20
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    child = int(pid_file.read_text())
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, out + err
    assert err.strip().splitlines() == [f"run_all.py: {word}"]
    assert not alive(child), "the problem outlived run_all"
    assert not (root / "RESULTS.md").exists()
    assert not list(root.rglob(".tmp_*"))


@pytest.mark.parametrize(
    "args",
    [
        ["--smoke-budget", "nan"],
        ["--smoke-budget=-inf"],
        ["--smoke-total", "0"],
        ["--only", "no-such-problem"],
        ["--out", "x.md"],
        ["--smoke", "--collect"],
        ["--root", "/no/such/folder"],
        ["--collect", "--progress"],
        ["--golden", "--progress"],
    ],
)
def test_bad_input_is_one_line_and_starts_nothing(tmp_path, args):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    before = snapshot(root)
    done = run(root, *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("run_all.py: error: ")
    assert not (root / "toy-a" / "pid").exists(), "a problem was started"
    assert snapshot(root) == before


def test_committed_docs_match_committed_records():
    """RESULTS.md, the README table and every glance block are what the records give."""
    problems = run_all.discover()
    for path, text in run_all.generated_texts(problems):
        shown = path.relative_to(run_all.ROOT)
        assert path.read_text(encoding="utf-8") == text, (
            f"{shown} differs from the records; run `python3 tools/run_all.py --collect`"
        )


def test_validate_record_accepts_a_zero_wall_time():
    assert run_all.validate_record({**GOOD_RECORD, "wall_time_s": 0.0}) is None
    assert "wall_time_s" in run_all.validate_record({**GOOD_RECORD, "wall_time_s": -0.1})


def test_a_golden_run_killed_by_a_signal_fails_and_one_failure_fails_the_mode(tmp_path):
    root = make_catalog(tmp_path / "cat")
    make_problem(
        root,
        "toy",
        smoke_mode="killself",
        extra='GOLDEN_RUNS = {"s.json": ["toy.py", "--smoke"], "big.json": ["toy.py", "--big"]}\n',
    )
    done = run(root, "--golden")
    assert done.returncode == 1
    assert "toy/results/s.json: FAILED — killed by SIGKILL" in done.stdout
    assert not (root / "toy" / "results" / "s.json").exists()
    assert (root / "toy" / "results" / "big.json").exists()  # the good run is still kept


def test_smoke_leaves_stale_docs_alone(tmp_path):
    """--smoke never regenerates the committed docs, even when they are out of date."""
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    seed_records(root)
    rec_path = root / "toy-a" / "results" / "headline.json"
    rec_path.write_text(rec_path.read_text().replace("0.25", "0.125"))
    before = snapshot(root)
    done = run(root, "--smoke", "--out", str(tmp_path / "t.md"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(root) == before


def test_smoke_total_time_limit_is_its_own_flag(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    done = run(root, "--smoke", "--out", str(tmp_path / "t.md"), "--smoke-total", "0.001")
    assert done.returncode == 1 and "over 0 s" in done.stdout
    done = run(root, "--smoke", "--out", str(tmp_path / "t.md"), "--smoke-budget", "0.5")
    assert done.returncode == 0, done.stdout


def test_headline_run_regenerates_docs_only_for_problems_that_ran(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok", toy_b="crash")
    seed_records(root)
    for slug in ("toy-a", "toy-b"):
        (root / slug / f"visualize_{slug.replace('-', '_')}.py").write_text(
            f"open('{slug}.ran', 'w').close()\n"
        )
    done = run(root)
    assert done.returncode == 1 and "toy-b (exit 1" in done.stdout
    assert (root / "toy-a.ran").exists() and not (root / "toy-b.ran").exists()


def test_generated_files_roll_back_when_one_rename_fails(tmp_path, monkeypatch):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    seed_records(root)
    rec_path = root / "toy-a" / "results" / "headline.json"
    rec_path.write_text(rec_path.read_text().replace("0.25", "0.125"))
    before = snapshot(root)
    real_replace, calls = os.replace, []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(cli.CannotWrite):
        run_all.write_generated(run_all.discover(root), root)
    monkeypatch.undo()
    assert len(calls) == 2
    assert {k: v[0] for k, v in snapshot(root).items()} == {k: v[0] for k, v in before.items()}


def test_ending_a_child_kills_its_process_group_even_without_a_subreaper(tmp_path):
    """Where orphans cannot be adopted (no PR_SET_CHILD_SUBREAPER), end() must still kill
    what the child left in its process group."""
    kids = run_all.Children()
    assert kids.subreaper is False
    pid_file = tmp_path / "grandchild"
    code = (
        "import subprocess, sys; "
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "open(sys.argv[1], 'w').write(str(g.pid))"
    )
    proc = kids.start([sys.executable, "-c", code, str(pid_file)], tmp_path, subprocess.DEVNULL)
    proc.wait(timeout=30)
    grandchild = int(pid_file.read_text())
    kids.end(proc)
    deadline = time.time() + 5
    while alive(grandchild) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild) and kids.live == []


def test_when_every_problem_fails_no_glance_block_is_rewritten(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="crash", toy_b="crash")
    seed_records(root)
    for slug in ("toy-a", "toy-b"):
        rec_path = root / slug / "results" / "headline.json"
        rec_path.write_text(rec_path.read_text().replace("0.25", "0.125"))
    pages = {slug: (root / slug / "README.md").read_text() for slug in ("toy-a", "toy-b")}
    done = run(root)
    assert done.returncode == 1
    for slug, text in pages.items():
        assert (root / slug / "README.md").read_text() == text


def test_a_visualizer_that_overruns_its_budget_fails(tmp_path, monkeypatch):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    (root / "toy-a" / "visualize_toy_a.py").write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setattr(run_all, "README_BUDGET_S", 0.5)
    (problem,) = run_all.discover(root)
    assert run_all.visualize_readme(problem) == "toy-a/visualize_toy_a.py --readme overran 0 s"


def test_readme_budget_covers_the_slowest_visualizer():
    # visualize_<mod>.py --readme regenerates every README block from the records; the
    # slowest (spline's, ~10 s idle) must fit with room for a loaded machine
    assert run_all.README_BUDGET_S == 300.0 and run_all.GRACE_S == 5.0


def test_a_child_past_its_budget_is_overrun_without_the_grace_period(tmp_path):
    start = time.perf_counter()
    code, _, seconds = run_all.run_child(
        [sys.executable, "-c", "import time; time.sleep(4)"], tmp_path, 0.3
    )
    assert code is None and seconds < 3.5 and time.perf_counter() - start < 3.5


def test_smoke_without_out_writes_its_table_to_the_temporary_folder(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    seed_records(root)
    before = snapshot(root)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    done = subprocess.run(
        [sys.executable, RUN_ALL, "--root", str(root), "--smoke"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, TMPDIR=str(tmpdir)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(root) == before
    assert (
        "Smoke run (not the headline results)" in (tmpdir / "hinton-problems-smoke.md").read_text()
    )


def test_provenance_records_the_measured_run_time(tmp_path):
    root = make_catalog(tmp_path / "cat")
    make_problem(root, "toy-a", budget=1000)
    assert run(root).returncode == 0
    rec = json.loads((root / "toy-a" / "results" / "headline.json").read_text())
    assert 0 < rec["provenance"]["run_all_seconds"] < 500


def test_validate_record_refuses_any_other_verdict():
    for bad in ("n/a", "Yes", "", None):
        assert "reproduces" in run_all.validate_record({**GOOD_RECORD, "reproduces": bad})


def test_collect_shows_a_problem_without_a_record_as_not_run_yet(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok", toy_b="ok")
    (root / "toy-a" / "results" / "headline.json").write_text(json.dumps(GOOD_RECORD))
    done = run(root, "--collect")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| [toy-b](toy-b/README.md) | not run yet |" in (root / "README.md").read_text()
    assert "not run yet" in (root / "RESULTS.md").read_text()


def test_a_visualizer_killed_by_a_signal_fails(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    (root / "toy-a" / "visualize_toy_a.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    (problem,) = run_all.discover(root)
    assert run_all.visualize_readme(problem) == (
        "toy-a/visualize_toy_a.py --readme: killed by SIGKILL"
    )


def test_records_are_written_as_strict_indented_json(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    assert run(root).returncode == 0
    text = (root / "toy-a" / "results" / "headline.json").read_text()
    assert text == cli.dumps_record(json.loads(text)) and text.endswith("}\n")


def test_a_zero_smoke_budget_is_refused(tmp_path):
    root = make_catalog(tmp_path / "cat", toy_a="ok")
    done = run(root, "--smoke", "--smoke-budget", "0")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--smoke-budget" in done.stderr
