"""Tests of xor.py: gradients, determinism, sweep == single runs, the claim, the CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import visualize_xor

import xor

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "xor.py"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=cwd or HERE.parent,
        timeout=120,
    )


# ---------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", sorted(xor.ARCHS))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_backward_matches_finite_differences(arch, reduction):
    rng = np.random.default_rng(123)
    S = 3
    params = {k: rng.normal(0.0, 1.5, (S, *shape)) for k, shape in xor.param_shapes(arch).items()}
    o, h = xor.forward(params)
    grads = xor.backward(params, o, h, reduction=reduction)
    assert set(grads) == set(params)
    eps = 1e-6
    for k, p in params.items():
        assert grads[k].shape == p.shape
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + eps
            e_plus = xor.loss(xor.forward(params)[0], reduction=reduction).sum()
            p[idx] = saved - eps
            e_minus = xor.loss(xor.forward(params)[0], reduction=reduction).sum()
            p[idx] = saved
            numeric[idx] = (e_plus - e_minus) / (2 * eps)
        rel = np.linalg.norm(grads[k] - numeric) / np.linalg.norm(grads[k] + numeric)
        assert rel < 1e-6, (k, rel)


def test_loss_reduction_scales_by_four():
    params = xor.init_params("2-2-1", np.random.default_rng(0), 0.3)
    params = {k: v[None] for k, v in params.items()}
    o, _ = xor.forward(params)
    assert np.isclose(xor.loss(o, reduction="sum")[0], 4 * xor.loss(o, reduction="mean")[0])


# ---------------------------------------------------------------------------------------
# Determinism and batching
# ---------------------------------------------------------------------------------------


def test_same_seed_same_result_different_seed_differs():
    cfg = xor.Config(max_epochs=1500)
    a = xor.train([3], cfg)
    b = xor.train([3], cfg)
    c = xor.train([4], cfg)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k])
    assert np.array_equal(a.converged_epoch, b.converged_epoch)
    assert not np.array_equal(a.params["W_ih"], c.params["W_ih"])


@pytest.mark.parametrize("arch", sorted(xor.ARCHS))
def test_sweep_is_bit_identical_to_single_runs(arch):
    # A short plateau window forces perturbations, so that path is covered as well.
    cfg = xor.Config(arch=arch, max_epochs=2500, perturb_window=150)
    seeds = list(range(5, 17))
    sweep = xor.train(seeds, cfg)
    assert (sweep.n_perturbations > 0).any()
    for i, s in enumerate(seeds):
        alone = xor.train([s], cfg)
        assert alone.converged_epoch[0] == sweep.converged_epoch[i]
        assert alone.perturb_epochs[0] == sweep.perturb_epochs[i]
        for k in alone.params:
            assert np.array_equal(alone.params[k][0], sweep.params[k][i]), (s, k)


# ---------------------------------------------------------------------------------------
# The claim at reduced scale
# ---------------------------------------------------------------------------------------


def test_seed0_converges_with_defaults():
    res = xor.train([0], xor.Config())
    assert res.converged_epoch[0] >= 0
    assert (np.abs(res.outputs[0] - xor.Y[:, 0]) < 0.5).all()


def test_perturbation_rescues_what_the_bare_rule_does_not():
    seeds = list(range(30))
    with_p = xor.train(seeds, xor.Config())
    without = xor.train(seeds, xor.Config(perturb=False))
    n_with = int((with_p.converged_epoch >= 0).sum())
    n_without = int((without.converged_epoch >= 0).sum())
    assert n_with >= 29
    assert n_without < n_with


def test_local_minimum_seed_stuck_without_and_escapes_with_perturbation():
    # Seed 25 of the 2-2-1 net: the bare rule settles where two outputs sit at 0.5
    # (the kind of local minimum shown in PDP ch. 8 Fig. 5).
    bare = xor.train([25], xor.Config(perturb=False, max_epochs=4000))
    assert bare.converged_epoch[0] == -1
    assert np.sum(np.abs(bare.outputs[0] - 0.5) < 0.02) == 2
    rescued = xor.train([25], xor.Config(max_epochs=4000))
    assert rescued.converged_epoch[0] >= 0
    assert rescued.n_perturbations[0] >= 1


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def test_smoke_writes_a_valid_record(tmp_path):
    out = tmp_path / "sub" / "smoke.json"
    proc = run_cli("--smoke", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    for key in (
        "stub",
        "paper",
        "seed",
        "n_seeds",
        "config",
        "headline",
        "metrics",
        "reproduces",
        "wall_time_s",
        "env",
    ):
        assert key in rec
    for key in ("name", "claim", "value", "unit", "paper_value", "better"):
        assert key in rec["headline"]
    assert rec["stub"] == "xor" and rec["n_seeds"] == 8 and rec["config"]["smoke"]
    for key in (
        "n_runs",
        "n_converged",
        "median_epochs",
        "mean_epochs",
        "max_epochs_seen",
        "n_perturbed_runs",
    ):
        assert key in rec["metrics"]
    assert rec["reproduces"] in ("yes", "partial", "no")
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_single_run_record_fields(tmp_path):
    out = tmp_path / "one.json"
    proc = run_cli("--arch", "2-1-skip", "--seed", "2", "--json", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(out.read_text())["metrics"]
    assert isinstance(m["converged_epoch"], int)
    assert len(m["final_outputs"]) == 4


@pytest.mark.parametrize(
    "args",
    [
        ["--sweep", "0"],
        ["--lr", "-0.5"],
        ["--arch", "3-3-1"],
        ["--max-epochs", "-5"],
        ["--lr", "nan"],
    ],
)
def test_bad_input_is_one_clean_line(tmp_path, args):
    out = tmp_path / "never.json"
    proc = run_cli(*args, "--json", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xor.py: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_unwritable_json_path_fails_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for bad in (blocker / "sub" / "r.json", tmp_path):
        proc = run_cli("--sweep", "100", "--json", str(bad))
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("xor.py: error:"), proc.stderr
        assert proc.stdout == ""  # nothing printed: rejected before the run started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


# ---------------------------------------------------------------------------------------
# Committed records and README
# ---------------------------------------------------------------------------------------


def test_readme_blocks_match_committed_records():
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    assert visualize_xor.render_readme(readme, HERE / "results") == readme


def test_committed_headline_matches_defaults():
    rec = json.loads((HERE / "results" / "headline.json").read_text())
    cfg = dataclasses.asdict(xor.Config())
    assert {k: rec["config"][k] for k in cfg} == cfg
    assert rec["n_seeds"] == 100 and rec["seed"] == 0 and not rec["config"]["smoke"]
    assert rec["headline"]["value"] == rec["metrics"]["n_converged"]
