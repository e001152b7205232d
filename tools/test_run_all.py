"""Tests for tools/run_all.py: discovery, budgets, record checks and table consistency."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_all  # noqa: E402

GOOD_RECORD = {
    "stub": "toy",
    "paper": "Someone & Other (1986)",
    "seed": 0,
    "n_seeds": 1,
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

TOY_SCRIPT = """
import json, sys, time
HEADLINE_ARGS = ["--mode", "{mode}"]
HEADLINE_BUDGET_S = {budget}
args = sys.argv[1:]
mode = args[args.index("--mode") + 1] if "--mode" in args else "ok"
if mode == "sleep":
    time.sleep(30)
if mode == "crash":
    sys.exit("toy: error: it broke")
rec = {record}
if mode == "bad":
    del rec["headline"]
open(args[args.index("--json") + 1], "w").write(json.dumps(rec))
"""


def make_problem(root: Path, slug: str, mode: str, budget: float = 20) -> None:
    folder = root / slug
    folder.mkdir()
    text = TOY_SCRIPT.format(mode=mode, budget=budget, record=repr(GOOD_RECORD))
    (folder / f"{slug.replace('-', '_')}.py").write_text(text)


def test_discover_reads_constants_without_importing(tmp_path):
    make_problem(tmp_path, "toy-a", "ok", budget=7)
    (tmp_path / "notes").mkdir()  # a folder without <mod>.py is not a problem
    problems = run_all.discover(tmp_path)
    assert [p.slug for p in problems] == ["toy-a"]
    assert problems[0].headline_args == ["--mode", "ok"]
    assert problems[0].headline_budget_s == 7.0


def test_read_constants_rejects_non_literals(tmp_path):
    script = tmp_path / "x.py"
    script.write_text("HEADLINE_ARGS = ['--a', 3]\n")
    with pytest.raises(ValueError, match="list of strings"):
        run_all.read_constants(script)
    script.write_text("HEADLINE_BUDGET_S = -1\n")
    with pytest.raises(ValueError, match="positive"):
        run_all.read_constants(script)


def test_full_constants_optional_and_used_by_full_runs(tmp_path):
    make_problem(tmp_path, "toy", "ok")
    (problem,) = run_all.discover(tmp_path)
    assert problem.full_args is None
    script = tmp_path / "toy" / "toy.py"
    script.write_text(
        script.read_text() + 'FULL_ARGS = ["--mode", "ok", "--big"]\nFULL_BUDGET_S = 9\n'
    )
    (problem,) = run_all.discover(tmp_path)
    assert problem.full_args == ["--mode", "ok", "--big"] and problem.full_budget_s == 9.0
    out = run_all.run_problem(problem, False, 20, tmp_path / "rec.json", full=True)
    assert out.ok
    assert out.record["provenance"]["command"] == "python3 toy/toy.py --mode ok --big"
    script.write_text("FULL_ARGS = '--big'\n")
    with pytest.raises(ValueError, match="FULL_ARGS must be a list"):
        run_all.read_constants(script)


@pytest.mark.parametrize(
    ("mode", "budget", "ok", "reason"),
    [
        ("ok", 20, True, ""),
        ("crash", 20, False, "exit 1: toy: error: it broke"),
        ("bad", 20, False, "invalid record: record lacks headline"),
        ("sleep", 1, False, "overran its 1 s budget"),
    ],
)
def test_run_problem_outcomes(tmp_path, mode, budget, ok, reason):
    make_problem(tmp_path, "toy", mode)
    (problem,) = run_all.discover(tmp_path)
    out = run_all.run_problem(problem, False, budget, tmp_path / "rec.json")
    assert out.ok is ok
    assert out.reason == reason
    if ok:
        assert out.record["provenance"]["command"] == "python3 toy/toy.py --mode ok"


def test_validate_record_catches_each_defect():
    assert run_all.validate_record(GOOD_RECORD) is None
    bad = json.loads(json.dumps(GOOD_RECORD))
    bad["reproduces"] = "maybe"
    assert "yes/partial/no" in run_all.validate_record(bad)
    bad = json.loads(json.dumps(GOOD_RECORD))
    bad["headline"]["value"] = "12"
    assert "not a number" in run_all.validate_record(bad)
    assert run_all.validate_record([]) == "record is not a JSON object"


def test_replace_block_requires_markers():
    text = "a\n<!-- s -->\nold\n<!-- e -->\nb\n"
    assert run_all.replace_block(text, "<!-- s -->", "<!-- e -->", "new") == (
        "a\n<!-- s -->\nnew\n<!-- e -->\nb\n"
    )
    with pytest.raises(ValueError):
        run_all.replace_block("no markers", "<!-- s -->", "<!-- e -->", "new")


def test_fmt_number():
    assert run_all.fmt_number(3) == "3"
    assert run_all.fmt_number(1.23456) == "1.235"
    assert run_all.fmt_number(None) == "—"
    assert run_all.paper_year("Ackley, Hinton & Sejnowski (1985)") == "1985"


def test_committed_tables_match_committed_records():
    """RESULTS.md and the README table are exactly what the committed records give."""
    problems = run_all.discover()
    records = run_all.load_records(problems)
    results = (run_all.ROOT / "RESULTS.md").read_text(encoding="utf-8")
    assert results == run_all.results_markdown(records, run_all.RESULTS_NOTE)
    readme = (run_all.ROOT / "README.md").read_text(encoding="utf-8")
    table = run_all.readme_table(records)
    assert run_all.replace_block(readme, run_all.README_START, run_all.README_END, table) == readme


def test_cli_bad_input_is_one_line():
    proc = subprocess.run(
        [sys.executable, str(run_all.ROOT / "tools" / "run_all.py"), "--only", "no-such-problem"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "unknown problem 'no-such-problem'" in proc.stderr
