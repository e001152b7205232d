"""Tests for spline_images_factorial_vq.py (run from the repository root: python3 -m pytest -q)."""

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import spline_images_factorial_vq as s

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "spline_images_factorial_vq.py"


def fd_max_rel_error(fun, params, eps=1e-6):
    """Central finite differences of fun(params)[0] against fun(params)[1] (dict of grads).

    Returns the worst over parameter arrays of max|num - ana| / (max|num| + max|ana|).
    """
    _, grads, _ = fun(params)
    worst = 0.0
    for k, v in params.items():
        num = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            old = v[i]
            v[i] = old + eps
            lp = fun(params)[0]
            v[i] = old - eps
            lm = fun(params)[0]
            v[i] = old
            num[i] = (lp - lm) / (2 * eps)
        scale = np.abs(num).max() + np.abs(grads[k]).max()
        if scale > 0:
            worst = max(worst, float(np.abs(num - grads[k]).max() / scale))
    return worst


def small_cfg(**kw):
    cfg = s.config_from_args(s.build_parser().parse_args([]))
    cfg.update(n_images=60, steps=80, n_samples=10, pca_steps=5, log_every=40, restarts=1)
    cfg.update(kw)
    return cfg


# ---------------------------------------------------------------- gradients (float64)


@pytest.mark.parametrize("learn_prior", [True, False])
def test_fd_factorial_free_energy(learn_prior):
    rng = np.random.default_rng(1)
    X = rng.random((7, 96))
    p = s.init_svq(rng, 96, 3, 4, 5, X)
    p["prior_logits"] = rng.normal(size=(3, 4))
    err = fd_max_rel_error(lambda pp: s.svq_free_energy(pp, X, X, 0.7, 0.3, 0.2, learn_prior), p)
    assert err < 1e-6


def test_fd_meanfield_objective_of_v1():
    rng = np.random.default_rng(8)
    X = rng.random((5, 96))
    p = s.init_svq(rng, 96, 4, 3, 4, X)
    p["prior_logits"] = rng.normal(size=(4, 3))
    err = fd_max_rel_error(
        lambda pp: s.svq_free_energy(pp, X, X, 1.0, 0.25, 0.2, True, exact=False), p
    )
    assert err < 1e-6


def test_fd_separate_stage_free_energy():
    # Encoder input differs from the target (a residual stage); one factor (vq24 form).
    rng = np.random.default_rng(2)
    X_in, X_t = rng.random((6, 96)), rng.normal(size=(6, 96)) * 0.3
    p = s.init_svq(rng, 96, 1, 5, 4, X_t)
    p["prior_logits"] = rng.normal(size=(1, 5))
    assert fd_max_rel_error(lambda pp: s.svq_free_energy(pp, X_in, X_t, 1.0, 0.2, 0.1), p) < 1e-6


def test_fd_pca_free_energy():
    rng = np.random.default_rng(3)
    X = rng.random((8, 96))
    p = {k: v + rng.normal(0, 0.1, v.shape) for k, v in s.init_pca(X, 3, 0.3).items()}
    assert fd_max_rel_error(lambda pp: s.pca_free_energy(pp, X, 0.6, 0.3, 0.2), p) < 1e-6


# ---------------------------------------------------------------- exactness of the bound


def test_closed_form_expected_recon_equals_enumeration_over_6_pow_4_codes():
    rng = np.random.default_rng(4)
    F, K, N = 4, 6, 3
    X = rng.random((N, 96))
    C = rng.normal(size=(F, K, 96)) * 0.3
    q = rng.dirichlet(np.ones(K) * 0.7, size=(N, F))
    closed, _, _ = s.expected_sse_factorial(X, q, C)
    for n in range(N):
        total = 0.0
        for ks in itertools.product(range(K), repeat=F):
            prob = np.prod([q[n, f, k] for f, k in enumerate(ks)])
            rec = sum(C[f, k] for f, k in enumerate(ks))
            total += prob * ((X[n] - rec) ** 2).sum()
        assert closed[n] == pytest.approx(total, rel=1e-10)


def test_table_and_closed_form_scoring_agree():
    rng = np.random.default_rng(5)
    X = rng.random((5, 96))
    C = rng.normal(size=(3, 4, 96)) * 0.3
    q = rng.dirichlet(np.ones(4), size=(5, 3))
    lp = np.log(rng.dirichlet(np.ones(4), size=3))
    a = s.score_discrete(X, q, lp, 0.2, 0.1, np.random.default_rng(0), codebook=C, n_samples=5)
    b = s.score_discrete(
        X, q, lp, 0.2, 0.1, np.random.default_rng(0), table=s.additive_table(C), n_samples=5
    )
    for k in ["recon_bits", "code_bits", "total_bits", "meanfield_total_bits"]:
        assert a[k] == pytest.approx(b[k], rel=1e-10)


def test_sampled_bits_back_converges_to_bound():
    rng = np.random.default_rng(6)
    X = rng.random((4, 96))
    C = rng.normal(size=(4, 6, 96)) * 0.2
    q = rng.dirichlet(np.ones(6), size=(4, 4))
    lp = np.log(rng.dirichlet(np.ones(6) * 3, size=4))
    r = s.score_discrete(X, q, lp, 0.3, 0.2, np.random.default_rng(1), codebook=C, n_samples=6000)
    assert abs(r["sampled_total_bits"] - r["total_bits"]) < 4 * r["sampled_se"]
    assert r["sampled_se"] < 0.02 * abs(r["total_bits"])
    # Jensen: the mean-field figure never exceeds the exact reconstruction cost.
    assert r["meanfield_recon_bits"] <= r["recon_bits"]


def test_sampled_bits_back_pca_converges():
    rng = np.random.default_rng(7)
    X = rng.random((30, 96))
    p = s.init_pca(X, 5, 0.15)
    r = s.score_pca(X[:5], p, 0.15, 0.3, np.random.default_rng(2), n_samples=4000)
    assert abs(r["sampled_total_bits"] - r["total_bits"]) < 4 * r["sampled_se"]


def test_pixel_constant_convention():
    assert s.pixel_const_bits(0.15, math.sqrt(2 * math.pi) * 0.15, 96) == pytest.approx(0.0)
    assert s.pixel_const_bits(0.15, 0.15 * math.sqrt(2 * math.pi) / 2, 96) == pytest.approx(96.0)


# ---------------------------------------------------------------- data


def test_spline_rendering_deterministic_and_peak_normalised():
    a, ya = s.make_spline_dataset(np.random.default_rng(3), 20)
    b, yb = s.make_spline_dataset(np.random.default_rng(3), 20)
    assert np.array_equal(a, b) and np.array_equal(ya, yb)
    assert a.shape == (20, 96)
    assert np.allclose(a.max(axis=1), 1.0) and a.min() >= 0.0
    assert np.all((ya >= 0.5) & (ya <= 6.5))


def test_natural_spline_interpolates_with_zero_end_curvature():
    xk = np.linspace(0, 11, 5)
    yk = np.array([[1.0, 5.0, 2.0, 6.0, 3.0]])
    assert np.allclose(s.natural_cubic_spline(xk, yk, xk), yk)
    h = 1e-3
    for x0 in [0.0 + h, 11.0 - h]:
        y = s.natural_cubic_spline(xk, yk, np.array([x0 - h, x0, x0 + h]))[0]
        assert abs((y[0] - 2 * y[1] + y[2]) / h**2) < 0.02
    # A straight line is reproduced exactly.
    line = 0.3 * xk[None] + 1.0
    xq = np.linspace(0, 11, 37)
    assert np.allclose(s.natural_cubic_spline(xk, line, xq), 0.3 * xq + 1.0)


# ---------------------------------------------------------------- determinism and claims


def test_same_seed_same_result_different_seed_differs():
    cfg = small_cfg()
    models = ["factorial4x6", "pca5", "separate4x6"]
    a = s.run_seed(0, cfg, models, verbose=False)
    b = s.run_seed(0, cfg, models, verbose=False)
    c = s.run_seed(1, cfg, models, verbose=False)
    for m in models:
        assert a[m]["total_bits"] == b[m]["total_bits"]
        assert a[m]["sampled_total_bits"] == b[m]["sampled_total_bits"]
        assert a[m]["total_bits"] != c[m]["total_bits"]


def test_restarts_keep_lowest_training_free_energy_and_log_replays_it():
    cfg = small_cfg(steps=40)
    X, _ = s.make_spline_dataset(np.random.default_rng(0), 40)

    def fit(restarts, log=None):
        c = dict(cfg, restarts=restarts)
        rngs = (np.random.default_rng(1), np.random.default_rng(2))
        return s.train_svq_restarts(X, c, *rngs, 4, 6, log=log)

    fe1 = s.training_free_energy_bits(fit(1), X, cfg)
    p3 = fit(3)
    fe3 = s.training_free_energy_bits(p3, X, cfg)
    assert fe3 <= fe1  # restart 0 is the single run; the kept one is never worse
    steps = []
    p3_logged = fit(3, log=lambda step, params, loss, beta: steps.append(step))
    assert steps and steps[-1] == cfg["steps"]
    for k in p3:
        assert np.array_equal(p3[k], p3_logged[k])


def test_headline_claim_reduced_scale_factorial_beats_vq24():
    cfg = small_cfg(n_images=200, steps=600, n_samples=20)
    res = s.run_seed(0, cfg, ["vq24", "factorial4x6"], verbose=False)
    assert res["factorial4x6"]["total_bits"] < res["vq24"]["total_bits"] - 5.0


# ---------------------------------------------------------------- CLI


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_smoke_writes_valid_record(tmp_path):
    out = tmp_path / "sub" / "smoke.json"
    r = run_cli("--smoke", "--json", str(out), "--models", ",".join(s.CLASSIC_MODELS))
    assert r.returncode == 0, r.stderr
    rec = json.loads(out.read_text())
    for key in ["stub", "paper", "seed", "n_seeds", "config", "headline", "metrics"]:
        assert key in rec
    assert rec["stub"] == "spline-images-factorial-vq"
    assert rec["reproduces"] in ("yes", "partial", "no")
    assert set(rec["headline"]) >= {"name", "claim", "value", "unit", "paper_value", "better"}
    for m in s.CLASSIC_MODELS:
        for k in s.METRIC_KEYS:
            assert len(rec["metrics"]["models"][m][k]) == 1
            assert math.isfinite(rec["metrics"]["models"][m][k][0])
    assert rec["wall_time_s"] > 0 and "numpy" in rec["env"]


@pytest.mark.parametrize(
    "args",
    [
        ["--n-codes", "1"],
        ["--sigma-x", "0"],
        ["--models", "vq24,nope"],
        ["--lr", "-1"],
        ["--restarts", "0"],
        ["--n-images", "-5"],
        ["--json", "NOTADIR/x.json"],
    ],
)
def test_bad_input_one_line_error(tmp_path, args):
    out = tmp_path / "never.json"
    (tmp_path / "NOTADIR").write_text("a file, not a folder")
    if "--json" in args:
        full = [a.replace("NOTADIR", str(tmp_path / "NOTADIR")) for a in args]
    else:
        full = [*args, "--json", str(out)]
    r = run_cli(*full)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_readme_in_sync_with_records():
    import visualize_spline_images_factorial_vq as viz

    text = (HERE / "README.md").read_text()
    assert viz.render_readme(text, HERE / "results") == text
