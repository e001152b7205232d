"""Tests of xor.py: gradients, the learning rule, criteria boundaries, the wrapper's
bookkeeping, golden records, the command line, figures, GIF and README."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import visualize_xor
from PIL import Image

import xor

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "xor.py"
RESULTS = HERE / "results"


def run_cli(*args: str, script: Path = SCRIPT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        timeout=120,
    )


def batch(arch: str, seed: int = 0, scale: float = 1.5, S: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0.0, scale, (S, *shape)) for k, shape in xor.param_shapes(arch).items()}


# ---------------------------------------------------------------------------------------
# Gradients and the learning rule
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", sorted(xor.ARCHS))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_backward_matches_finite_differences(arch, reduction):
    params = batch(arch, 123)
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


def test_default_error_is_the_papers_sum_four_times_the_mean():
    params = batch("2-2-1", 0, 0.3, 1)
    o, _ = xor.forward(params)
    direct = 0.5 * ((o[0, :, 0] - xor.Y[:, 0]) ** 2).sum()
    assert xor.loss(o)[0] == pytest.approx(direct, rel=1e-15)
    assert xor.loss(o, reduction="sum")[0] == pytest.approx(4 * xor.loss(o, reduction="mean")[0])
    assert xor.Config().reduction == "sum" and not xor.Config().perturb
    with pytest.raises(ValueError):
        xor.error_scale("median")


def test_momentum_step_is_equation_9_and_pure():
    p = batch("2-1-skip", 1)
    v = batch("2-1-skip", 2)
    g = batch("2-1-skip", 3)
    before = {k: a.copy() for k, a in p.items()}
    new_p, new_v = xor.momentum_step(p, v, g, 0.5, 0.9)
    for k in p:
        assert np.array_equal(p[k], before[k])  # inputs untouched
        assert np.allclose(new_v[k], 0.9 * v[k] - 0.5 * g[k], rtol=0, atol=1e-15)
        assert np.allclose(new_p[k], p[k] + 0.9 * v[k] - 0.5 * g[k], rtol=0, atol=1e-15)
    active = np.array([True, False, True])
    masked_p, masked_v = xor.momentum_step(p, v, g, 0.5, 0.9, active)
    for k in p:
        assert np.array_equal(masked_p[k][1], p[k][1]) and np.array_equal(masked_v[k][1], v[k][1])
        assert np.array_equal(masked_p[k][0], new_p[k][0])


# ---------------------------------------------------------------------------------------
# Criteria and their boundaries
# ---------------------------------------------------------------------------------------


def test_converged_needs_every_output_strictly_within_tol():
    y = xor.Y[:, 0]
    inside = np.array([0.49999999, 0.50000001, 0.50000001, 0.49999999])
    assert xor.converged_mask(inside[None, :, None])[0]
    on_fence = inside.copy()
    on_fence[2] = 0.5  # exactly 0.5 away from its target 1
    assert not xor.converged_mask(on_fence[None, :, None])[0]
    assert not xor.converged_mask((1 - y)[None, :, None])[0]  # all wrong
    assert xor.converged_mask(y[None, :, None].astype(float))[0]
    # a tighter tol
    assert not xor.converged_mask(inside[None, :, None], tol=0.1)[0]


def test_goal_fraction_boundary():
    assert xor.reproduces_from_fraction(99 / 100) == "yes"
    assert xor.reproduces_from_fraction(98 / 100) == "partial"
    assert xor.reproduces_from_fraction(90 / 100) == "partial"
    assert xor.reproduces_from_fraction(89 / 100) == "no"


def test_wilson_interval_known_values():
    lo, hi = xor.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(3.8414588 / (10 + 3.8414588), rel=1e-6)
    lo, hi = xor.wilson_interval(5, 10)
    assert lo == pytest.approx(1 - hi) and lo == pytest.approx(0.2365931, abs=1e-6)
    with pytest.raises(ValueError):
        xor.wilson_interval(3, 2)


def fake_sweep(epochs: list[int | None]) -> dict:
    res = xor.TrainResult(
        seeds=list(range(len(epochs))),
        converged_epoch=np.array([-1 if e is None else e for e in epochs]),
        epochs_run=np.array([100 if e is None else e for e in epochs]),
        params={},
        outputs=np.full((len(epochs), 4), 0.5),
        final_loss=np.zeros(len(epochs)),
        n_perturbations=np.zeros(len(epochs), dtype=int),
        perturb_epochs=[[] for _ in epochs],
        train_time_s=0.0,
    )
    return xor.sweep_metrics(res, 100)


def test_paper_comparison_boundaries():
    # 558 exactly at our 25th percentile counts as inside the IQR.
    skip = fake_sweep([558, 558, 600, 700, 800])
    assert skip["epoch_percentiles"]["p25"] == 558
    assert skip["std_epochs_sample"] == pytest.approx(np.std([558, 558, 600, 700, 800], ddof=1))
    ok = fake_sweep([10] * 200)
    assert xor.paper_comparison(skip, ok)["verdict"] == "yes"
    just_above = fake_sweep([559, 600, 700, 800, 900])
    assert xor.paper_comparison(just_above, ok)["verdict"] == "partial"
    # 13 of 300 stuck: the Wilson interval starts above 1%, so the stuck claim fails.
    stuck = fake_sweep([10] * 287 + [None] * 13)
    cmp = xor.paper_comparison(skip, stuck)
    assert cmp["stuck_2_2_1"] == 13 and not cmp["stuck_consistent_with_paper"]
    assert cmp["verdict"] == "partial"
    assert xor.paper_comparison(just_above, stuck)["verdict"] == "no"
    # 2 of 200 stuck is compatible with the paper's "2 in several hundred".
    assert xor.paper_comparison(skip, fake_sweep([10] * 198 + [None] * 2))["verdict"] == "yes"


def test_sweep_metrics_count_only_converged_runs():
    m = fake_sweep([100, 200, None, 300])
    assert m["n_converged"] == 3 and m["n_failed"] == 1 and m["failed_seeds"] == [2]
    assert m["median_epochs"] == 200 and m["converged_epoch_per_seed"][2] is None
    assert m["failed_outputs_near_half"] == {"2": 4}


# ---------------------------------------------------------------------------------------
# Training: determinism, batching, the wrapper's bookkeeping
# ---------------------------------------------------------------------------------------


def test_learns_where_the_untrained_network_does_not():
    seeds = list(range(8))
    cfg = xor.Config(arch="2-1-skip")
    init = xor.train(seeds, dataclasses.replace(cfg, max_epochs=0))
    assert not (init.converged_epoch >= 0).any()  # at sweep 0 nothing is solved
    trained = xor.train(seeds, cfg)
    assert (trained.converged_epoch >= 0).sum() >= 7
    ok = trained.converged_epoch >= 0
    assert (np.abs(trained.outputs[ok] - xor.Y[:, 0]) < 0.5).all()


@pytest.mark.parametrize("arch", sorted(xor.ARCHS))
def test_sweep_is_bit_identical_to_single_runs(arch):
    # A short plateau window forces perturbations, so that path is covered as well.
    cfg = xor.Config(arch=arch, max_epochs=1500, perturb=True, perturb_window=150)
    seeds = list(range(5, 13))
    sweep = xor.train(seeds, cfg)
    assert (sweep.n_perturbations > 0).any()
    for i, s in enumerate(seeds):
        alone = xor.train([s], cfg)
        assert alone.converged_epoch[0] == sweep.converged_epoch[i]
        assert alone.perturb_epochs[0] == sweep.perturb_epochs[i]
        for k in alone.params:
            assert np.array_equal(alone.params[k][0], sweep.params[k][i]), (s, k)


def test_first_success_sweep_and_history():
    res = xor.train([0], xor.Config(arch="2-1-skip"), record_history=True)
    acc = res.history["accuracy"][:, 0]
    first = int(np.flatnonzero(acc == 1.0)[0])
    assert res.converged_epoch[0] == first == len(acc) - 1
    assert res.epochs_run[0] == first
    # the recorded parameters at that sweep are the returned ones
    for k, v in res.params.items():
        assert np.array_equal(res.history["params"][k][-1][0], v[0])
    # weight norm: the L2 norm of every parameter, at sweep 0 the initial draw
    init = xor.init_params("2-1-skip", xor.seed_rngs(0)[0], 0.3)
    norm0 = np.sqrt(sum((v**2).sum() for v in init.values()))
    assert res.history["weight_norm"][0, 0] == pytest.approx(norm0, rel=1e-12)
    assert res.history["loss"][0, 0] == pytest.approx(
        xor.loss(xor.forward({k: v[None] for k, v in init.items()})[0])[0], rel=1e-12
    )


def test_plateau_detector_boundary():
    ref = np.array([0, 10, 11])
    assert xor.plateau_due(510, ref, 500).tolist() == [True, True, False]


def test_perturbation_schedule_when_nothing_counts_as_progress():
    # min_improvement 0.999: no sweep counts as progress except the first after a
    # shake (its error becomes the new reference), so the detector fires at sweep W,
    # then every W + 1 sweeps, until the run converges or stops.
    W = 40
    cfg = xor.Config(perturb=True, perturb_window=W, perturb_min_improvement=0.999, max_epochs=200)
    res = xor.train([25], cfg)
    pe = res.perturb_epochs[0]
    assert res.n_perturbations[0] == len(pe) >= 2
    assert pe == [W + i * (W + 1) for i in range(len(pe))]
    assert all(p < res.epochs_run[0] for p in pe)


def test_perturb_resets_velocity_and_shakes_only_that_network():
    p = batch("2-2-1", 4)
    v = batch("2-2-1", 5)
    p0 = {k: a.copy() for k, a in p.items()}
    v0 = {k: a.copy() for k, a in v.items()}
    xor.perturb(p, v, 1, np.random.default_rng(9), scale=1.0, shrink=0.1)
    rng = np.random.default_rng(9)
    for k in p:
        expect = 0.1 * p0[k][1] + rng.uniform(-1.0, 1.0, p0[k][1].shape)
        assert np.array_equal(p[k][1], expect)
        assert (v[k][1] == 0).all()
        for s in (0, 2):
            assert np.array_equal(p[k][s], p0[k][s]) and np.array_equal(v[k][s], v0[k][s])


def test_local_minimum_seed_stuck_under_the_papers_rule_escapes_with_the_wrapper():
    # Seed 38 of the 2-2-1 net: the paper's rule settles where two outputs sit at 0.5
    # (the kind of local minimum drawn in PDP ch. 8 Fig. 5).
    bare = xor.train([38], xor.Config(max_epochs=3000))
    assert bare.converged_epoch[0] == -1 and bare.n_perturbations[0] == 0
    assert np.sum(np.abs(bare.outputs[0] - 0.5) < 0.02) == 2
    rescued = xor.train([38], xor.Config(max_epochs=3000, perturb=True))
    assert rescued.converged_epoch[0] >= 0
    assert rescued.n_perturbations[0] >= 1
    assert rescued.converged_epoch[0] > rescued.perturb_epochs[0][-1]


def test_train_raises_diverged_on_a_non_finite_error():
    with pytest.raises(xor.Diverged, match="epoch 1"):
        xor.train([0], xor.Config(lr=float("inf")))


# ---------------------------------------------------------------------------------------
# Committed records: golden smoke runs and the headline
# ---------------------------------------------------------------------------------------


# The golden smoke records (GOLDEN_RUNS) are rerun and compared by tools/test_golden.py.


def test_headline_record_recomputes_from_the_code():
    rec = json.loads((RESULTS / "headline.json").read_text())
    args = xor.build_parser().parse_args(xor.HEADLINE_ARGS)
    assert rec["command"] == xor.command_line(xor.HEADLINE_ARGS)
    assert rec["n_seeds"] == args.sweep and rec["seed"] == args.seed == 0
    cfg = dataclasses.asdict(xor.Config())
    assert {k: rec["config"][k] for k in cfg if k != "arch"} == {
        k: v for k, v in cfg.items() if k != "arch"
    }
    seeds = list(range(20))  # a prefix of the headline seeds, to keep the test fast
    for arch in xor.BOTH:
        res = xor.train(seeds, xor.Config(arch=arch))
        m = xor.sweep_metrics(res, 10000)
        committed = rec["metrics"]["networks"][arch]["converged_epoch_per_seed"][:20]
        assert m["converged_epoch_per_seed"] == committed
    assert rec["headline"]["value"] == rec["metrics"]["networks"]["2-1-skip"]["median_epochs"]
    assert rec["headline"]["paper_value"] == 558
    assert rec["reproduces"] == rec["metrics"]["paper_comparison"]["verdict"]


# ---------------------------------------------------------------------------------------
# Command line and files
# ---------------------------------------------------------------------------------------


def test_sweep_runs_seed_to_seed_plus_n_minus_one(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert xor.main(["--sweep", "3", "--seed", "7", "--max-epochs", "400", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["config"]["seeds"] == [7, 9] and rec["n_seeds"] == 3
    singles = [xor.train([s], xor.Config(max_epochs=400)).converged_epoch[0] for s in (7, 8, 9)]
    got = rec["metrics"]["networks"]["2-2-1"]["converged_epoch_per_seed"]
    assert got == [int(e) if e >= 0 else None for e in singles]


def exit_code_of(fn, argv) -> int:
    try:
        return fn(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    "args",
    [
        ["--sweep", "0"],
        ["--seed", "-1"],
        ["--seed", str(2**32)],
        ["--lr", "-0.5"],
        ["--lr", "nan"],
        ["--momentum", "1"],
        ["--arch", "3-3-1"],
        ["--max-epochs", "0"],
        ["--seed", str(2**32 - 1), "--sweep", "2"],
        ["--sweep", "100000", "--max-epochs", "100000"],
        ["--tol=--"],
        ["--max-epochs=--"],
        ["--seed=" + "9" * 400],
        ["--lr=" + "9" * 400],
    ],
)
def test_bad_input_is_one_clean_line(tmp_path, capsys, args):
    out = tmp_path / "never.json"
    assert exit_code_of(xor.main, [*args, "--json", str(out)]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xor.py: error:"), cap.err
    assert cap.out == "" and not out.exists()


def test_bad_input_end_to_end_has_no_traceback(tmp_path):
    proc = run_cli("--seed", "-3", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "xor.py: error: argument --seed: '-3' is outside [0, 4294967295]"
    ]
    assert list(tmp_path.iterdir()) == []


def test_unwritable_json_path_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for bad in (blocker / "sub" / "r.json", tmp_path):
        assert exit_code_of(xor.main, ["--sweep", "100", "--json", str(bad)]) == 2
        cap = capsys.readouterr()
        lines = cap.err.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0], cap.err
        assert cap.out == ""  # nothing printed: rejected before the run started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_divergence_exits_3_and_writes_no_record(tmp_path, monkeypatch, capsys):
    def diverging(*a, **k):
        raise xor.Diverged(17, "error E")

    monkeypatch.setattr(xor, "train", diverging)
    out = tmp_path / "r.json"
    assert xor.main(["--json", str(out)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["xor.py: diverged at epoch 17 (error E is not finite); lower --lr"]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_write_atomic_failure_leaves_target_and_no_temp(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")

    def broken(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(xor.WriteFailed, match="cannot write"):
        xor.write_atomic(target, broken)
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["r.json"]
    xor.write_atomic(target, "new")
    assert target.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["r.json"]


def test_record_json_refuses_non_finite():
    with pytest.raises(ValueError, match="x.y"):
        xor.record_json({"x": {"y": float("nan")}})
    assert json.loads(xor.record_json({"a": [1.5, None]})) == {"a": [1.5, None]}


def test_sigterm_mid_run_exits_143_and_leaves_nothing(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--sweep", "20000", "--json", str(out), "--quiet"],
        env={**os.environ, "PYTHONUNBUFFERED": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # printed once the handlers are in place and training starts
    assert first.startswith("xor: 2-2-1")
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip().splitlines() == ["xor.py: terminated"]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------
# Figures, GIF, README
# ---------------------------------------------------------------------------------------


def test_gif_delays_are_readable_milliseconds():
    im = Image.open(HERE / "xor.gif")
    delays = []
    for i in range(im.n_frames):
        im.seek(i)
        delays.append(im.info["duration"])
    assert len(delays) > 1
    assert min(delays) >= 50 and delays[-1] >= delays[0]
    assert (HERE / "xor.gif").stat().st_size < 2_000_000


def test_frame_epochs_dense_early_and_include_events():
    ts = xor_gif_frames(1000, 11, [303])
    assert ts[0] == 0 and ts[-1] == 1000 and 303 in ts
    assert ts == sorted(set(ts))
    assert ts[1] - ts[0] < ts[-1] - ts[-2]


def xor_gif_frames(n, k, events):
    import make_xor_gif

    return make_xor_gif.frame_epochs(n, k, events)


def test_readme_blocks_match_committed_records_and_are_idempotent():
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    once = visualize_xor.render_readme(readme, RESULTS)
    assert once == readme
    assert visualize_xor.render_readme(once, RESULTS) == once
    for marker in ("glance", "data-movement"):
        assert f"<!-- {marker}:start -->" in readme and f"<!-- {marker}:end -->" in readme
    assert "issue" not in readme.lower()


def test_readme_flag_writes_only_the_given_readme(tmp_path):
    copy = tmp_path / "README.md"
    text = (HERE / "README.md").read_text(encoding="utf-8")
    stale = text.replace("<!-- results:paper:start -->\n", "<!-- results:paper:start -->\nX\n", 1)
    copy.write_text(stale, encoding="utf-8")
    assert visualize_xor.main(["--readme", "--readme-path", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == text
    assert sorted(os.listdir(tmp_path)) == ["README.md"]


def test_every_record_has_its_command_in_the_readme():
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    committed = {p.stem for p in RESULTS.glob("*.json")} - {"data_movement"}  # the tracer's
    listed = set(visualize_xor.RECORD_ORDER) | {Path(n).stem for n in xor.GOLDEN_RUNS}
    assert committed == listed
    for stem in visualize_xor.RECORD_ORDER:
        rec = json.loads((RESULTS / f"{stem}.json").read_text())
        assert f"{rec['command']} --json xor/results/{stem}.json" in readme


@pytest.mark.parametrize(
    "sig,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_signal_during_the_imports_is_one_line(sig, code, word):
    # The signal arrives right after the early handlers are installed, while the script
    # is still importing (the first import after them is argparse).
    child = f"""
import builtins, os, runpy, sys
real = builtins.__import__
def imp(name, *a, **k):
    if name == "argparse":
        os.kill(os.getpid(), {int(sig)})
    return real(name, *a, **k)
builtins.__import__ = imp
sys.argv = ["xor.py", "--smoke"]
runpy.run_path({str(SCRIPT)!r}, run_name="__main__")
"""
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert proc.returncode == code
    assert proc.stderr.splitlines() == [f"xor.py: {word}"] and proc.stdout == ""


def test_small_samples_and_closed_bounds():
    assert xor.wilson_interval(0, 1)[0] == 0.0 and xor.wilson_interval(1, 1)[1] == 1.0
    assert fake_sweep([100, 200])["std_epochs_sample"] == pytest.approx(np.sqrt(5000.0))
    assert fake_sweep([100])["std_epochs_sample"] is None
    assert xor.int_in(0, 5)("5") == 5 and xor.float_in(0, 1)("1") == 1.0
    assert xor.float_in(0, 1, lo_open=True)("1e-300") == 1e-300
    for bad, parse in [("1", xor.float_in(0, 1, hi_open=True)), ("0", xor.float_in(0, 1, True))]:
        with pytest.raises(Exception, match="outside"):
            parse(bad)


def one_result(converged_epoch: int) -> xor.TrainResult:
    return xor.TrainResult(
        seeds=[0],
        converged_epoch=np.array([converged_epoch]),
        epochs_run=np.array([max(converged_epoch, 0) or 50]),
        params={"b_o": np.zeros((1, 1))},
        outputs=np.full((1, 4), 0.5),
        final_loss=np.zeros(1),
        n_perturbations=np.zeros(1, dtype=int),
        perturb_epochs=[[]],
        train_time_s=0.0,
    )


def test_make_record_verdicts():
    cfg = xor.Config(perturb=True)
    rec = xor.make_record(cfg, ["2-2-1"], [0], {"2-2-1": one_result(0)}, False, "c")
    assert rec["metrics"]["networks"]["2-2-1"]["converged"] is True
    assert rec["headline"]["value"] == 0 and rec["reproduces"] == "yes"
    rec = xor.make_record(cfg, ["2-2-1"], [0], {"2-2-1": one_result(-1)}, False, "c")
    assert rec["headline"]["value"] == 50 and rec["reproduces"] == "no"
    # a wrapper sweep: 99 of 100 converged is the goal
    seeds = list(range(100))
    res = dataclasses.replace(
        one_result(10),
        seeds=seeds,
        converged_epoch=np.array([10] * 99 + [-1]),
        epochs_run=np.array([10] * 99 + [100]),
        outputs=np.full((100, 4), 0.5),
        n_perturbations=np.zeros(100, dtype=int),
        perturb_epochs=[[] for _ in seeds],
    )
    rec = xor.make_record(cfg, ["2-2-1"], seeds, {"2-2-1": res}, False, "c")
    assert rec["headline"]["value"] == 99 and rec["reproduces"] == "yes"
    assert "perturb-on-plateau" in rec["headline"]["name"]
    # both networks: 180 of 200 runs is 90%, "partial"
    ninety = dataclasses.replace(res, converged_epoch=np.array([10] * 90 + [-1] * 10))
    rec = xor.make_record(cfg, xor.BOTH, seeds, {a: ninety for a in xor.BOTH}, False, "c")
    assert rec["headline"]["value"] == 180 and rec["headline"]["unit"] == "of 200 runs"
    assert rec["reproduces"] == "partial"


def test_more_boundaries():
    # 558 exactly at our 75th percentile is inside the IQR as well
    top = fake_sweep([100, 200, 558, 558, 558])
    assert top["epoch_percentiles"]["p75"] == 558
    assert xor.paper_comparison(top, fake_sweep([10] * 200))["paper_sweeps_within_iqr"]
    # a run solved at sweep 0 is a converged run
    assert fake_sweep([0, 5])["converged_epoch_per_seed"] == [0, 5]


def test_train_defaults_keep_no_history_and_print_nothing(capsys):
    res = xor.train([1], xor.Config(arch="2-1-skip", max_epochs=50))
    assert res.history is None and capsys.readouterr().out == ""
    lines = []
    xor.train(
        [1], xor.Config(arch="2-1-skip", max_epochs=250), progress_every=100, log=lines.append
    )
    assert [ln.split()[1] for ln in lines] == ["100/250", "200/250"]


def test_network_sweep_budget_boundary(monkeypatch, capsys):
    class Reached(Exception):
        pass

    def stop(*a, **k):
        raise Reached

    monkeypatch.setattr(xor, "train", stop)
    with pytest.raises(Reached):  # exactly MAX_NETWORK_SWEEPS is accepted
        xor.main(["--sweep", "200", "--max-epochs", "1000000", "--quiet"])
    assert exit_code_of(xor.main, ["--sweep", "201", "--max-epochs", "1000000"]) == 2
    assert "network-sweeps" in capsys.readouterr().err


def test_paths_modes_and_commands(tmp_path):
    assert xor.float_in(0, 1)("0") == 0.0
    made = xor.check_output_path(tmp_path / "new" / "dir", "--outdir", folder=True)
    assert made.is_dir() and list(made.iterdir()) == []
    blocker = tmp_path / "f"
    blocker.write_text("x")
    with pytest.raises(xor.UsageError, match="not a folder"):
        xor.check_output_path(blocker, "--outdir", folder=True)
    with pytest.raises(xor.UsageError, match="too long"):
        xor.check_output_path(tmp_path / ("n" * 250 + ".json"), "--json")
    with pytest.raises(xor.UsageError, match="Name too long|name too long|cannot write"):
        xor.check_output_path(tmp_path / ("d" * 300) / "r.json", "--json")
    for folder in (False, True):
        with pytest.raises(xor.UsageError, match="empty path"):
            xor.check_output_path("", "--outdir", folder=folder)
    target = tmp_path / "r.json"
    xor.write_atomic(target, "{}\n")
    assert (target.stat().st_mode & 0o777) == 0o644
    argv = ["--sweep", "3", "--json=x.json", "--quiet", "--json", "y.json", "--perturb"]
    assert xor.command_line(argv) == "python3 xor/xor.py --sweep 3 --perturb"


def test_failure_kind_counts_outputs_within_005_of_half():
    res = dataclasses.replace(
        one_result(-1), outputs=np.array([[0.5, 0.549, 0.552, 0.9]]), seeds=[4]
    )
    m = xor.sweep_metrics(
        dataclasses.replace(
            res,
            seeds=[4, 5],
            converged_epoch=np.array([-1, 3]),
            outputs=np.vstack([res.outputs, res.outputs]),
            n_perturbations=np.zeros(2, dtype=int),
            perturb_epochs=[[], []],
        ),
        100,
    )
    assert m["failed_outputs_near_half"] == {"4": 2}
    assert visualize_xor.failure_kinds(m) == "0 / 1 / 0"


def test_a_run_that_never_converges_makes_exactly_max_epochs_updates():
    """max_epochs counts weight updates: errors are evaluated at sweeps 0..max_epochs, so a
    network that never converges reports epochs_run == max_epochs and its history holds
    max_epochs + 1 evaluations (the last one after the final update)."""
    cfg = xor.Config(max_epochs=5)
    res = xor.train([0, 1], cfg, record_history=True)
    assert list(res.epochs_run) == [5, 5] and list(res.converged_epoch) == [-1, -1]
    assert len(res.history["loss"]) == 6
    # the last evaluation differs from the one before it: the fifth update was applied
    assert not np.array_equal(res.history["loss"][-1], res.history["loss"][-2])


def test_write_failure_exits_74_with_one_line(tmp_path, monkeypatch, capsys):
    def full_disk(path, data):
        raise xor.WriteFailed(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(xor, "write_atomic", full_disk)
    out = tmp_path / "r.json"
    assert xor.main(["--smoke", "--sweep", "1", "--json", str(out)]) == 74
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and not out.exists()


def test_smoke_honours_a_smaller_sweep(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert xor.main(["--smoke", "--sweep", "3", "--seed", "5", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["n_seeds"] == 3 and rec["config"]["seeds"] == [5, 7]
    assert xor.main(["--smoke", "--sweep", "20", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["n_seeds"] == 8  # --smoke caps a sweep at 8 seeds


def test_stuck_claim_judged_on_the_wilson_lower_bound_not_the_point_estimate():
    skip = fake_sweep([558, 558, 600, 700, 800])
    # 2 of 100 stuck: 2% is above the paper's 1%, but the 95% interval reaches below it
    two = fake_sweep([10] * 98 + [None] * 2)
    cmp = xor.paper_comparison(skip, two)
    assert cmp["stuck_fraction_2_2_1"] == pytest.approx(0.02)
    assert cmp["stuck_wilson95_2_2_1"][0] < 0.01 and cmp["stuck_consistent_with_paper"]
    assert cmp["verdict"] == "yes"


def test_single_seed_record_with_both_nets_needs_both_converged():
    cfg = xor.Config()
    both = {"2-2-1": one_result(40), "2-1-skip": one_result(-1)}
    rec = xor.make_record(cfg, xor.BOTH, [0], both, False, "c")
    assert rec["reproduces"] == "no"
    both["2-1-skip"] = one_result(30)
    assert xor.make_record(cfg, xor.BOTH, [0], both, False, "c")["reproduces"] == "yes"
