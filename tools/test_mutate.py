"""Unit tests of tools/mutate.py's site finder and hand-made mutants (no test runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutate  # noqa: E402

SRC = "def f(x):\n    y = x + 1\n    return y * 2 if y < 3 else -y\n"


def _module(tmp_path: Path, text: str = SRC) -> Path:
    (tmp_path / "pkg").mkdir()
    path = tmp_path / "pkg" / "m.py"
    path.write_text(text)
    return path


def test_sites_cover_each_operator_kind_and_apply_round_trips(tmp_path):
    path = _module(tmp_path)
    found = mutate.sites_of(path)
    whats = sorted(m.what for m in found)
    assert whats == sorted(
        ["+ -> -", "1 -> 2", "* -> /", "2 -> 3", "< -> <=", "3 -> 4", "drop unary -"]
    )
    src = path.read_bytes()
    for m in found:
        out = mutate.apply(src, m).decode()
        assert out != SRC and compile(out, "m.py", "exec")
        assert out.replace(m.new, m.old, 1) == SRC or m.what == "drop unary -"


def test_patch_mutants_locate_the_text_and_group_by_module(tmp_path):
    _module(tmp_path)
    entries = [
        {"module": "pkg/m.py", "old": "x + 1", "new": "x - 1", "kind": "rule", "what": "sign"},
        {
            "module": "pkg/m.py",
            "old": "y = x + 1\n    return y * 2",
            "new": "y = x\n    return y * 2",
            "kind": "rule",
            "what": "two lines",
        },
    ]
    groups = mutate.patch_mutants(entries, root=tmp_path)
    assert list(groups) == ["pkg/m.py"]
    a, b = groups["pkg/m.py"]
    assert (a.line, a.col, a.end_line, a.end_col) == (2, 8, 2, 13)
    assert (b.line, b.end_line) == (2, 3) and a.function == "rule"
    assert mutate.apply(SRC.encode(), a).decode() == SRC.replace("x + 1", "x - 1")
    assert mutate.apply(SRC.encode(), b).decode() == SRC.replace("y = x + 1", "y = x")


@pytest.mark.parametrize(
    "entry, words",
    [
        ({"module": "pkg/m.py", "old": "y", "new": "z", "kind": "k", "what": "w"}, "occurs"),
        ({"module": "pkg/m.py", "old": "nope", "new": "z", "kind": "k", "what": "w"}, "occurs 0"),
        ({"module": "pkg/m.py", "old": "x + 1", "new": "x + 1", "kind": "k", "what": "w"}, "same"),
        ({"module": "../m.py", "old": "x", "new": "z", "kind": "k", "what": "w"}, "not a .py"),
        ({"module": "pkg/m.py", "old": "x + 1", "new": "x"}, "string fields"),
    ],
)
def test_patch_mutants_refuse_bad_entries(tmp_path, entry, words):
    _module(tmp_path)
    with pytest.raises(mutate.PatchError, match=words):
        mutate.patch_mutants([entry], root=tmp_path)
    with pytest.raises(mutate.PatchError, match="non-empty"):
        mutate.patch_mutants([], root=tmp_path)


def test_score_counts_timeouts_as_killed():
    m = mutate.Mutant(1, 0, 1, 1, "a", "b", "w", "f")
    outs = [mutate.Outcome(m, s, 1.0) for s in ("killed", "timeout", "survived", "error")]
    assert mutate.score_of(outs) == {"run": 4, "killed": 2, "score": 0.5}
    assert mutate.score_of([]) == {"run": 0, "killed": 0, "score": 0.0}


@pytest.mark.parametrize(
    "name, at_least",
    [("mutants_handmade.json", 200), ("mutants_heldout.json", 100), ("mutants_heldout3.json", 80)],
)
def test_the_committed_hand_made_sets_apply_and_compile(name, at_least):
    """The committed mutant sets stay in step with the code: every ``old`` text occurs
    exactly once and every mutant compiles (edit the entry when its code moves)."""
    import json

    entries = json.loads((mutate.ROOT / "tools" / name).read_text())
    groups = mutate.patch_mutants(entries)
    assert sum(len(v) for v in groups.values()) == len(entries) >= at_least
    kinds = {m.function for ms in groups.values() for m in ms}
    assert {"rule", "schedule", "metric", "threshold", "bookkeeping", "write", "mode"} == kinds
    for rel, ms in groups.items():
        src = (mutate.ROOT / rel).read_bytes()
        for m in ms:
            compile(mutate.apply(src, m), rel, "exec")
