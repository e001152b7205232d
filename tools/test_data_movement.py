"""Tests of the data-movement driver (tools/data_movement.py) and its report."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

import data_movement as dm  # noqa: E402
import data_movement_report as report  # noqa: E402


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(TOOLS / "data_movement.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [["--only", "nope"], ["--outdir", "/tmp/x"], ["--collect", "--smoke"], ["--bogus"]],
)
def test_bad_arguments_one_line_exit_2(args):
    r = run_cli(*args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("data_movement.py: error:")
    assert "Traceback" not in r.stderr


def test_outdir_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run_cli("--smoke", "--only", "xor", "--outdir", str(f))
    assert r.returncode == 2 and "not a folder" in r.stderr


def test_xor_update_traced_equals_untraced_and_nothing_untracked():
    xor = dm.load_problem("xor")
    out = dm.measure_xor(smoke=True)
    main = [m for m in out["methods"] if "escap" not in m["method"]]
    assert len(main) == 2
    for m in main:
        assert m["traced_equals_untraced"] is True
        assert m["untracked_float_outputs"] == 0
        assert m["reads"] > m["flops"] > 0
        assert m["cost_Bdtype"] > m["cost_B1"] > m["reads"]
    esc = [m for m in out["methods"] if "escap" in m["method"]]
    # an escaping exp hides a positive fraction of the cost
    assert all(0.05 < m["hidden_fraction_B1"] < 0.6 for m in esc)
    # the criterion uses the problem's own convergence epochs
    res = xor.train(list(range(10)), xor.Config(arch="2-2-1"))
    ok = sorted(int(e) for e in res.converged_epoch if e >= 0)
    crit = out["to_criterion"][0]
    assert crit["n_reached"] == len(ok)
    assert crit["updates"]["median"] == float(np.median(ok))


def test_mismatch_is_detected():
    """A step whose traced run computes something else must raise Mismatch."""

    def make():
        return (np.array([1.0, 2.0]),), None

    calls = {"n": 0}

    def step(state, ctx, i):
        calls["n"] += 1
        (x,) = state
        return (x * (2.0 if calls["n"] == 1 else 3.0),)

    with pytest.raises(dm.Mismatch):
        dm.measure("m", "w", make, step, 8, steady=False)


def test_bars_replica_update_equals_the_real_training_loop():
    """The bars measurement's one-update replica gives the numbers train() gives."""
    bars = dm.load_problem("bars-rbm")
    for method in ("cd1", "exact"):
        cfg = bars.Config(method=method, epochs=1, n_train=10, batch_size=10, exact=False)
        real = bars.train(cfg, [0])
        train_x, _ = bars.make_datasets(cfg, [0])
        W, b_v, b_h = bars.init_params(cfg, [0], train_x)
        g = bars.seed_generators(0)["sample"]
        k = cfg.k_used()
        vel = [np.zeros_like(W), np.zeros_like(b_v), np.zeros_like(b_h)]
        q = np.full((1, cfg.n_hidden), cfg.sparsity_target)
        n_noise = bars.noise_size(k, bars.N_VISIBLE, cfg.n_hidden)
        if method == "exact":
            images, _ = bars.exact_data_distribution(cfg.p_bar)
            w = bars.empirical_distribution(train_x, images)
            dW, db_v, db_h, info = bars.exact_direction(W, b_v, b_h, images, w)
            v_mean = w @ images
        else:
            perm = g.permutation(cfg.n_train)[None]
            noise = g.random((1, cfg.batch_size, n_noise), np.float32)
            v0 = train_x[np.arange(1)[:, None], perm[:, : cfg.batch_size]]
            v_mean = v0.sum(axis=1) * (1.0 / cfg.batch_size)
            dW, db_v, db_h, info = bars.cd_k(v0, W, b_v, b_h, k, noise)
        q = bars.update_sparsity_estimate(q, info["q_data"], cfg.sparsity_decay)
        sW, sh = bars.sparsity_penalty(q, cfg.sparsity_target, cfg.sparsity_cost, v_mean)
        lr, mom = bars.lr_at(cfg, 0, 1), bars.momentum_at(cfg, 1)
        vel[0] = mom * vel[0] + lr * (dW + sW - cfg.weight_decay * W)
        W_new = W + vel[0]
        assert np.allclose(W_new, real["W"], rtol=0, atol=1e-15), method


def test_cost_to_criterion_arithmetic():
    m = {"cost_B1": 10.0, "cost_Bdtype": 50.0, "steady": {"cost_B1": 4.0, "cost_Bdtype": 20.0}}
    c = dm.cost_to_criterion(m, [1, 3, -1, None], 4, "crit", "two failed")
    assert c["n_reached"] == 2
    assert c["cost_B1"]["min"] == 10.0 and c["cost_B1"]["max"] == 18.0  # 10 + 2 * 4
    assert c["cost_Bdtype"]["max"] == 90.0


def test_scaling_fit_recovers_a_known_law():
    rows = []
    true = np.array([2.0, 0.5, 3.0, 1.0, 7.0])
    for W in (16, 32, 64, 128):
        for n in (4, 8):
            widths = [784, W, W, W, W]
            rows.append(
                {"widths": widths, "n": n, "c": float(dm.ff_features("FF", widths, n) @ true)}
            )
    coef = dm.fit_scaling(rows, "FF", "c")
    widths = [784, 2000, 2000, 2000, 2000]
    want = dm.ff_features("FF", widths, 100) @ true
    assert abs(dm.ff_features("FF", widths, 100) @ coef / want - 1) < 1e-6


def test_readme_block_replacement_touches_only_the_markers():
    text = "# T\n\nbefore\n\n" + report.START + "\nold\n" + report.END + "\n\nafter\n"
    new = report.replace_block(text, "NEW")
    assert new == "# T\n\nbefore\n\n" + report.START + "\nNEW\n" + report.END + "\n\nafter\n"
    assert report.replace_block("no markers", "x") is None


def test_record_is_json_safe():
    rec = {"a": 1.0, "b": [1, 2.5]}
    dm.check_finite_record(copy.deepcopy(rec))
    with pytest.raises(ValueError):
        dm.check_finite_record({"a": [float("nan")]})
