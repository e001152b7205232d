"""Tests for bars_rbm.py: exact evaluation, gradients, learning rules, CLI, README."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bars_rbm as m
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "bars_rbm.py"


def random_rbm(n_hidden, scale=1.0, seed=0, n_seeds=None):
    """Random float64 RBM parameters, optionally with a leading seed axis."""
    rng = np.random.default_rng(seed)
    lead = () if n_seeds is None else (n_seeds,)
    W = scale * rng.standard_normal(lead + (m.N_VISIBLE, n_hidden))
    b_v = scale * rng.standard_normal(lead + (m.N_VISIBLE,)) - 1.0
    b_h = scale * rng.standard_normal(lead + (n_hidden,))
    return W, b_v, b_h


def brute_force_log_z(W, b_v, b_h):
    """log Z by summing exp(-E(v, h)) over all 2^(16+h) joint states (nats)."""
    vs = m.hidden_states(m.N_VISIBLE)  # all visible vectors, same enumeration helper
    hs = m.hidden_states(W.shape[-1])
    neg_e = (vs @ b_v)[:, None] + (hs @ b_h)[None, :] + vs @ W @ hs.T
    top = neg_e.max()
    return top + np.log(np.exp(neg_e - top).sum())


# --- exact evaluation ------------------------------------------------------------------


@pytest.mark.parametrize("n_hidden", [1, 2, 3])
def test_log_partition_matches_joint_brute_force(n_hidden):
    W, b_v, b_h = random_rbm(n_hidden, scale=1.5, seed=n_hidden)
    exact = m.log_partition(W, b_v, b_h)
    assert exact == pytest.approx(brute_force_log_z(W, b_v, b_h), rel=1e-12, abs=1e-10)


def test_log_partition_batched_and_chunked():
    W, b_v, b_h = random_rbm(5, scale=1.0, seed=3, n_seeds=3)
    batched = m.log_partition(W, b_v, b_h, chunk=7)  # odd chunk exercises the merge
    single = [m.log_partition(W[i], b_v[i], b_h[i]) for i in range(3)]
    np.testing.assert_allclose(batched, single, rtol=1e-12)
    # large weights: the log-sum-exp must stay finite
    big = m.log_partition(50 * W[0], b_v[0], b_h[0])
    assert np.isfinite(big)


def test_model_probabilities_sum_to_one_and_kl_matches_brute_force():
    W, b_v, b_h = random_rbm(4, scale=0.7, seed=5)
    vs = m.hidden_states(m.N_VISIBLE)
    lp = m.log_prob(vs, W, b_v, b_h)
    assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-10)
    images, probs = m.exact_data_distribution()
    codes = images.astype(np.int64) @ (1 << np.arange(m.N_VISIBLE))
    kl = (probs * (np.log2(probs) - lp[codes] / np.log(2))).sum()
    assert m.kl_bits(W, b_v, b_h, images, probs) == pytest.approx(kl, rel=1e-10)
    assert kl > 0


def test_exact_data_distribution():
    images, probs = m.exact_data_distribution()
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert images.shape == (226, 16)  # 256 subsets; 31 of them give the all-ones image
    assert len({tuple(r) for r in images.astype(int)}) == 226
    ones = np.all(images == 1, axis=1)
    p = 1 / 8
    p4 = p**4  # all-ones iff all four rows are on or all four columns are on
    assert probs[ones][0] == pytest.approx(2 * p4 - p4 * p4, rel=1e-12)
    assert probs[np.all(images == 0, axis=1)][0] == pytest.approx((1 - p) ** 8)
    # entropy of the exact distribution is below that of the 8 independent bars
    h_bars = -8 * (p * np.log2(p) + (1 - p) * np.log2(1 - p))
    assert 4.0 < m.entropy_bits(probs) < h_bars


def test_exact_data_distribution_matches_sampled_frequencies():
    images, probs = m.exact_data_distribution()
    n = 200_000
    x = m.sample_bars(n, np.random.default_rng(0))
    codes = x.astype(np.int64) @ (1 << np.arange(m.N_VISIBLE))
    table = images.astype(np.int64) @ (1 << np.arange(m.N_VISIBLE))
    assert np.isin(codes, table).all()  # every sample is one of the 226 images
    counts = np.array([(codes == c).sum() for c in table])
    sd = np.sqrt(n * probs * (1 - probs))
    assert np.all(np.abs(counts - n * probs) <= 5 * sd + 1)
    # a sampler with a wrong p_bar must be detected by the same check
    y = m.sample_bars(n, np.random.default_rng(1), p_bar=0.15)
    codes_y = y.astype(np.int64) @ (1 << np.arange(m.N_VISIBLE))
    counts_y = np.array([(codes_y == c).sum() for c in table])
    assert not np.all(np.abs(counts_y - n * probs) <= 5 * sd + 1)


# --- gradients (float64 finite differences, relative error < 1e-6) -------------------


def rel_err(a, b):
    return np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-12)


def fd_grads(f, params, eps=1e-6):
    """Central finite differences of scalar f(*params) w.r.t. every parameter array."""
    out = []
    for i, p in enumerate(params):
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        out.append(g)
    return out


def test_free_energy_grad_matches_finite_differences():
    W, b_v, b_h = random_rbm(3, seed=7)
    v = m.sample_bars(5, np.random.default_rng(2))
    analytic = m.free_energy_grad(v, W, b_v, b_h)
    numeric = fd_grads(lambda W, b_v, b_h: m.free_energy(v, W, b_v, b_h).mean(), [W, b_v, b_h])
    for a, n in zip(analytic, numeric, strict=True):
        assert rel_err(a, n) < 1e-6


def test_exact_loglik_grad_matches_finite_differences():
    W, b_v, b_h = random_rbm(3, scale=0.5, seed=11)
    images, probs = m.exact_data_distribution()

    def expected_ll(W, b_v, b_h):
        return probs @ m.log_prob(images, W, b_v, b_h)

    analytic = m.exact_loglik_grad(W, b_v, b_h, images, probs)
    numeric = fd_grads(expected_ll, [W, b_v, b_h])
    for a, n in zip(analytic, numeric, strict=True):
        assert rel_err(a, n) < 1e-6


def test_model_statistics_are_log_z_gradients():
    W, b_v, b_h = random_rbm(2, scale=0.8, seed=13)
    analytic = m.model_statistics(W, b_v, b_h)
    numeric = fd_grads(m.log_partition, [W, b_v, b_h])
    for a, n in zip(analytic, numeric, strict=True):
        assert rel_err(a, n) < 1e-6


def test_sparsity_penalty_is_cross_entropy_gradient():
    """d/dx of cost * CE(target, sigmoid(x)) is cost * (sigmoid(x) - target)."""
    x = np.array([-2.0, 0.3, 1.7])
    target, cost = 0.125, 0.5

    def penalty(x):
        q = m.sigmoid(x)
        return -cost * (target * np.log(q) + (1 - target) * np.log(1 - q)).sum()

    (numeric,) = fd_grads(penalty, [x])
    _, db_h = m.sparsity_penalty(m.sigmoid(x), target, cost, None)
    assert rel_err(-db_h, numeric) < 1e-6


# --- learning rules ----------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5])
def test_cd_k_update_points_uphill_on_a_tiny_model(k):
    """The expected CD-k update has a positive inner product with the exact gradient."""
    W, b_v, b_h = random_rbm(3, scale=0.8, seed=17)
    images, probs = m.exact_data_distribution()
    exact = m.exact_loglik_grad(W, b_v, b_h, images, probs)
    rng = np.random.default_rng(k)
    v0 = m.sample_bars(50_000, rng)
    u = rng.random((len(v0), m.noise_size(k, m.N_VISIBLE, 3)))
    dW, db_v, db_h, info = m.cd_k(v0, W, b_v, b_h, k, u)
    cd = np.concatenate([dW.ravel(), db_v, db_h])
    ex = np.concatenate([g.ravel() for g in exact])
    cos = cd @ ex / (np.linalg.norm(cd) * np.linalg.norm(ex))
    assert cos > 0.5
    assert info["recon_err"].shape == () and 0 < info["recon_err"] < 1


def test_pcd_negative_phase_tracks_the_model():
    """With fixed parameters, long-run PCD chain statistics equal the exact ones."""
    W, b_v, b_h = random_rbm(3, scale=0.8, seed=19)
    rng = np.random.default_rng(0)
    C = 4000
    chains = (rng.random((C, m.N_VISIBLE)) < 0.5).astype(float)
    v0 = np.zeros((1, m.N_VISIBLE))  # zero data: dW = -<v h>_chains
    acc = np.zeros_like(W)
    for t in range(120):
        u = rng.random((1, m.N_VISIBLE))
        uc = rng.random((C, m.noise_size(1, m.N_VISIBLE, 3)))
        dW, _, _, _, chains = m.pcd(v0, chains, W, b_v, b_h, 1, u, uc)
        if t >= 20:
            acc -= dW
    vh, _, _ = m.model_statistics(W, b_v, b_h)
    np.testing.assert_allclose(acc / 100, vh, atol=0.01)


def test_bar_recovery_score():
    T = m.bar_templates()
    n, best, cos = m.bar_recovery(5.0 * T.T - 1.0)  # bars with a negative background
    assert n == 8 and list(best) == list(range(8))
    dup = T.T.copy()
    dup[:, 7] = T[0]  # two units on bar 0, bar 7 missing
    assert m.bar_recovery(dup)[0] == 7
    assert m.bar_recovery(-T.T)[0] == 0  # anti-bars do not count
    mixed = (T[0] + T[4])[:, None] * np.ones((1, 8))  # a cross matches no bar well
    assert m.bar_recovery(mixed)[0] == 1  # cos 0.63 with its best bar: counted once
    batched = m.bar_recovery(np.stack([T.T, dup]))[0]
    assert list(batched) == [8, 7]


# --- training: determinism and the headline claim at reduced scale -------------------


def small_cfg(**kw):
    base = dict(epochs=6, n_train=400, n_heldout=200)
    base.update(kw)
    return m.Config(**base)


def test_same_seed_same_result_different_seed_differs():
    cfg = small_cfg()
    a = m.train(cfg, [3])
    b = m.train(cfg, [3])
    c = m.train(cfg, [4])
    np.testing.assert_array_equal(a["W"], b["W"])
    np.testing.assert_array_equal(a["chains"], b["chains"])
    assert not np.allclose(a["W"], c["W"])


@pytest.mark.parametrize("method", ["cd1", "cdk", "pcd"])
def test_sweep_batches_seeds_exactly_like_single_runs(method):
    cfg = small_cfg(method=method, k=2 if method == "cdk" else 1, epochs=3)
    both = m.train(cfg, [5, 6])
    one = m.train(cfg, [6])
    np.testing.assert_allclose(both["W"][1], one["W"][0], rtol=0, atol=1e-12)


def test_headline_claim_at_reduced_scale():
    """Default PCD finds all 8 bars on two seeds and beats CD-1 on exact KL."""
    seeds = [0, 1]
    pcd_cfg = m.Config()
    pcd_out = m.train(pcd_cfg, seeds)
    res = m.evaluate(pcd_cfg, pcd_out)
    res_params = (pcd_out["W"], pcd_out["b_v"], pcd_out["b_h"])
    assert res["n_bars"] == [8, 8]
    cd1_cfg = m.Config(method="cd1")
    res_cd1 = m.evaluate(cd1_cfg, m.train(cd1_cfg, seeds))
    assert max(res["kl_bits"]) < min(res_cd1["kl_bits"])
    assert max(res["kl_bits"]) < 2.0
    # the blank image is the first of the sorted exact images
    images, _ = m.exact_data_distribution()
    blank = m.log_prob(np.zeros((1, 16)), *res_params)  # (S, 1)
    np.testing.assert_allclose(np.exp(blank[:, 0]), res["blank_prob"], rtol=1e-10)
    assert images[0].sum() == 0 and all(0 < s < 1 for s in res["support_mass"])
    # held-out log-likelihood agrees with the exact expectation -(H + KL) within noise
    assert np.allclose(res["heldout_ll_bits"], res["expected_ll_bits"], atol=0.25)


# --- CLI ---------------------------------------------------------------------------------


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_smoke_writes_valid_record(tmp_path):
    out = tmp_path / "sub" / "smoke.json"
    proc = run_cli("--smoke", "--json", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    for key in ("stub", "paper", "seed", "n_seeds", "config", "headline", "metrics"):
        assert key in rec
    assert rec["stub"] == "bars-rbm"
    assert rec["reproduces"] in ("yes", "partial", "no")
    h = rec["headline"]
    assert set(h) >= {"name", "claim", "value", "unit", "paper_value", "better"}
    assert isinstance(h["value"], int) and h["better"] == "higher"
    for key in ("n_runs", "n_all_bars", "mean_bars", "kl_bits_mean", "kl_bits_std"):
        assert key in rec["metrics"]
    assert rec["metrics"]["heldout_ll_bits_mean"] < 0
    assert set(rec["env"]) == {"python", "numpy", "platform", "cpu_count"}
    assert rec["wall_time_s"] > 0
    assert not list(out.parent.glob(".*.tmp"))


@pytest.mark.parametrize(
    "args",
    [
        ["--n-hidden", "0"],
        ["--n-hidden", "40"],
        ["--n-hidden", "-3"],
        ["--lr", "-0.1"],
        ["--lr", "nan"],
        ["--method", "cd7"],
        ["--epochs", "0"],
        ["--sparsity-target", "1.5"],
        ["--momentum", "1"],
        ["--k", "0", "--method", "cdk"],
        ["--sweep", "-2"],
        ["--json", "/proc/no/such/dir/out.json"],
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, args):
    out = tmp_path / "rec.json"
    extra = [] if "--json" in args else ["--json", str(out)]
    proc = run_cli(*args, *extra, "--smoke")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bars_rbm.py: error: ")
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert proc.stdout == ""


def test_too_many_hidden_units_message_names_the_limit():
    proc = run_cli("--n-hidden", "40")
    assert proc.returncode == 2
    assert "exact evaluation" in proc.stderr and "16" in proc.stderr


# --- README stays in sync with the committed records ---------------------------------


def test_readme_matches_records():
    import visualize_bars_rbm as viz

    readme = (HERE / "README.md").read_text(encoding="utf-8")
    assert viz.render_readme(readme, HERE / "results") == readme
