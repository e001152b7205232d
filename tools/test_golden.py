"""Golden smoke records: rerun every problem's GOLDEN_RUNS and compare with the commits.

Each problem's main module declares (read with :mod:`ast` by tools/run_all.py)

    GOLDEN_RUNS = {"smoke.json": ["<mod>.py", "--smoke"], ...}
    GOLDEN_RTOL = 0.0

Each entry is rerun (``--json`` into a temporary folder) and compared value by value
with the committed ``<folder>/results/<name>``: ints, strings, bools, nulls and the
shape of lists and objects exactly; floats within GOLDEN_RTOL (exactly when it is 0).
Machine-dependent values are excluded by one rule: a key named ``env``, ``provenance``
or ``timing``, or ending in ``_s``, ``_per_s`` or ``_gflops``, is skipped together with
everything under it.

After a deliberate change, ``python3 tools/run_all.py --golden [--only FOLDER]``
rewrites the golden records. Test ids start with the area (``-k xor`` selects one).
"""

from __future__ import annotations

import math
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_all  # noqa: E402
from test_contract import area, child_env, entry_scripts, kind_of, run_child, strict_json  # noqa: E402

ROOT = run_all.ROOT
SKIPPED_KEYS = ("env", "provenance", "timing")
SKIPPED_SUFFIXES = ("_s", "_per_s", "_gflops")
PROBLEMS = run_all.discover()


def skipped(key: str) -> bool:
    """The one exclusion rule for machine-dependent values."""
    return key in SKIPPED_KEYS or key.endswith(SKIPPED_SUFFIXES)


def compare(golden, fresh, rtol: float, where: str = "") -> list[str]:
    """Differences between two records under the golden rule (empty when they agree)."""
    diffs: list[str] = []
    here = where or "record"
    if isinstance(golden, dict):
        if not isinstance(fresh, dict):
            return [f"{here}: object became {type(fresh).__name__}"]
        keys_g = {k for k in golden if not skipped(k)}
        keys_f = {k for k in fresh if not skipped(k)}
        for k in sorted(keys_g - keys_f):
            diffs.append(f"{where}.{k}: missing from the fresh record")
        for k in sorted(keys_f - keys_g):
            diffs.append(f"{where}.{k}: new in the fresh record")
        for k in sorted(keys_g & keys_f):
            diffs += compare(golden[k], fresh[k], rtol, f"{where}.{k}")
        return diffs
    if isinstance(golden, list):
        if not isinstance(fresh, list):
            return [f"{here}: list became {type(fresh).__name__}"]
        if len(golden) != len(fresh):
            return [f"{here}: {len(golden)} items became {len(fresh)}"]
        for i, (g, f) in enumerate(zip(golden, fresh, strict=True)):
            diffs += compare(g, f, rtol, f"{where}[{i}]")
        return diffs
    if isinstance(golden, float) and type(fresh) is float:
        if golden == fresh:
            return []
        if rtol > 0 and math.isfinite(golden) and math.isfinite(fresh):
            if abs(golden - fresh) <= rtol * max(abs(golden), abs(fresh)):
                return []
        return [f"{here}: {golden!r} became {fresh!r} (rtol {rtol:g})"]
    if type(golden) is not type(fresh) or golden != fresh:
        return [f"{here}: {golden!r} became {fresh!r}"]
    return []


GOLDEN = [
    pytest.param(p, name, args, id=f"{area(p.script)}:{p.slug}/results/{name}")
    for p in PROBLEMS
    for name, args in sorted(p.golden_runs.items())
]

_POOL = ThreadPoolExecutor(max_workers=2)
_JOBS: dict[str, Future] = {}
_TMP: list[Path] = []


def _run_golden(problem: run_all.Problem, name: str, args: list[str]):
    if not _TMP:
        _TMP.append(Path(tempfile.mkdtemp(prefix="golden_")))
    out = Path(tempfile.mkdtemp(dir=_TMP[0])) / name
    cmd = [sys.executable, str(problem.folder / args[0]), *args[1:], "--json", str(out)]
    return run_child(cmd, ROOT, child_env(out.parent), timeout=180), out


def _job(problem, name, args) -> Future:
    key = f"{problem.slug}/{name}"
    if key not in _JOBS:
        _JOBS[key] = _POOL.submit(_run_golden, problem, name, args)
    return _JOBS[key]


@pytest.fixture(scope="module", autouse=True)
def _start_golden_runs(request):
    """Start the selected golden runs up front, two at a time."""
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if spec is not None and item.originalname == "test_golden_record":
            _job(spec.params["problem"], spec.params["name"], spec.params["args"])
    yield
    _POOL.shutdown(wait=True, cancel_futures=True)
    import shutil

    for d in _TMP:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize(("problem", "name", "args"), GOLDEN)
def test_golden_record(problem, name, args):
    committed = problem.folder / "results" / name
    assert committed.is_file(), (
        f"{committed.relative_to(ROOT)} is not committed; write it with "
        f"`python3 tools/run_all.py --golden --only {problem.slug}`"
    )
    done, out = _job(problem, name, args).result()
    assert done.code == 0 and not done.hung, done.show()
    fresh = strict_json(out.read_text(encoding="utf-8"))
    golden = strict_json(committed.read_text(encoding="utf-8"))
    diffs = compare(golden, fresh, problem.golden_rtol)
    shown = "\n".join(diffs[:15]) + (f"\n... {len(diffs) - 15} more" if len(diffs) > 15 else "")
    assert not diffs, (
        f"{len(diffs)} value(s) of {committed.relative_to(ROOT)} changed:\n{shown}\n"
        f"after a deliberate change: python3 tools/run_all.py --golden --only {problem.slug}"
    )


def models_of(args: list[str]) -> set[str]:
    """The model names a ``--models a,b,c`` argument lists (empty when absent)."""
    out: set[str] = set()
    for i, a in enumerate(args):
        if a == "--models" and i + 1 < len(args):
            out |= {m for m in args[i + 1].split(",") if m}
        elif a.startswith("--models="):
            out |= {m for m in a.split("=", 1)[1].split(",") if m}
    return out


@pytest.mark.parametrize(
    "problem", [pytest.param(p, id=f"{area(p.script)}:{p.slug}") for p in PROBLEMS]
)
def test_golden_runs_cover_every_entry_point_and_model(problem):
    assert problem.golden_runs, f"{problem.script.name} declares no GOLDEN_RUNS"
    scripts = {args[0] for args in problem.golden_runs.values()}
    for s in scripts:
        assert (problem.folder / s).is_file(), f"GOLDEN_RUNS names {s}, which does not exist"
    runners = {
        s.name
        for s in entry_scripts()
        if s.parent == problem.folder and kind_of(s) in ("main", "extra")
    }
    assert runners <= scripts, f"no golden run for {', '.join(sorted(runners - scripts))}"
    wanted = models_of(problem.headline_args) | models_of(problem.full_args or [])
    covered = set().union(*(models_of(a) for a in problem.golden_runs.values()))
    assert wanted <= covered, f"models without a golden run: {sorted(wanted - covered)}"


# ---------------------------------------------------------------------------------------
# The comparison itself


def test_exclusion_rule_is_by_name_only():
    assert all(skipped(k) for k in ("env", "provenance", "timing", "wall_time_s", "train_s"))
    assert all(skipped(k) for k in ("epochs_per_s", "matmul_gflops"))
    assert not any(skipped(k) for k in ("envelope", "n_seeds", "timings", "loss", "s"))


def test_compare_finds_every_kind_of_change():
    golden = {
        "n": 3,
        "x": 0.5,
        "flag": True,
        "name": "a",
        "none": None,
        "per_seed": [1, 2, 3],
        "nested": {"y": [0.25, 0.75]},
        "wall_time_s": 1.0,
        "timing": {"anything": 1},
        "env": {"numpy": "2"},
    }
    assert compare(golden, dict(golden), 0.0) == []
    same_but_machine = {**golden, "wall_time_s": 9.0, "timing": {"other": 2}, "env": {}}
    assert compare(golden, same_but_machine, 0.0) == []
    changes = [
        ({"n": 4}, ".n: 3 became 4"),
        ({"n": 3.0}, ".n: 3 became 3.0"),
        ({"x": 0.5 + 1e-12}, ".x: 0.5 became"),
        ({"flag": 1}, ".flag: True became 1"),
        ({"name": "b"}, ".name: 'a' became 'b'"),
        ({"none": 0}, ".none: None became 0"),
        ({"per_seed": [1, 2]}, ".per_seed: 3 items became 2"),
        ({"per_seed": [1, 2, 4]}, ".per_seed[2]: 3 became 4"),
        ({"nested": {"y": [0.25, 0.7]}}, ".nested.y[1]"),
        ({"extra": 1}, ".extra: new in the fresh record"),
    ]
    for change, text in changes:
        diffs = compare(golden, {**golden, **change}, 0.0)
        assert any(text in d for d in diffs), (change, diffs)
    missing = {k: v for k, v in golden.items() if k != "n"}
    assert compare(golden, missing, 0.0) == [".n: missing from the fresh record"]


def test_compare_float_tolerance_is_relative():
    assert compare({"x": 1.0}, {"x": 1.0 + 1e-10}, 1e-9) == []
    assert compare({"x": 1.0}, {"x": 1.0 + 1e-8}, 1e-9) != []
    assert compare({"x": 0.0}, {"x": 1e-300}, 1e-9) != []
    assert compare({"x": 1.0}, {"x": 1.0 + 1e-16 * 2}, 0.0) != []
