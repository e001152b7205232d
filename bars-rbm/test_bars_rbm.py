"""Tests for bars_rbm.py: exact evaluation, gradients, learning rules, CLI, README."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import bars_rbm as m
import numpy as np
import pytest
from PIL import Image

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


def test_exact_loglik_grad_batched_over_seeds_with_per_seed_weights():
    W, b_v, b_h = random_rbm(2, scale=0.6, seed=23, n_seeds=2)
    images, probs = m.exact_data_distribution()
    rng = np.random.default_rng(0)
    w = rng.random((2, len(probs)))
    w /= w.sum(axis=1, keepdims=True)
    batched = m.exact_loglik_grad(W, b_v, b_h, images, w)
    for s in range(2):
        single = m.exact_loglik_grad(W[s], b_v[s], b_h[s], images, w[s])
        for a, b in zip(batched, single, strict=True):
            np.testing.assert_allclose(a[s], b, rtol=1e-12, atol=1e-15)


def test_empirical_distribution_counts_each_image():
    images, _ = m.exact_data_distribution()
    x = np.stack([images[[0, 0, 5, 7]], images[[3, 3, 3, 3]]])  # two "seeds"
    p = m.empirical_distribution(x, images)
    assert p.shape == (2, len(images))
    assert p[0, 0] == 0.5 and p[0, 5] == 0.25 and p[0, 7] == 0.25 and p[1, 3] == 1.0
    assert p.sum() == 2.0
    with pytest.raises(ValueError):
        m.empirical_distribution(np.eye(16)[5:6], images)  # one pixel: not bars


def test_exact_direction_is_the_training_set_gradient():
    """Method "exact" follows the gradient of the mean log-likelihood of the training set."""
    W, b_v, b_h = random_rbm(3, scale=0.5, seed=29)
    images, _ = m.exact_data_distribution()
    x = m.sample_bars(40, np.random.default_rng(3))
    w = m.empirical_distribution(x, images)
    dW, db_v, db_h, info = m.exact_direction(W, b_v, b_h, images, w)

    def train_ll(W, b_v, b_h):
        return m.log_prob(x, W, b_v, b_h).mean()

    for a, n in zip((dW, db_v, db_h), fd_grads(train_ll, [W, b_v, b_h]), strict=True):
        assert rel_err(a, n) < 1e-6
    q = m.sigmoid(x @ W + b_h)
    np.testing.assert_allclose(info["q_data"], q.mean(axis=0), rtol=1e-12)


# --- schedules --------------------------------------------------------------------------


def test_lr_schedule_decays_linearly_from_lr_to_lr_final():
    cfg = m.Config(lr=0.05, lr_final=0.01)
    assert m.lr_at(cfg, 0, 100) == 0.05
    assert m.lr_at(cfg, 50, 100) == pytest.approx(0.03, abs=1e-15)
    assert m.lr_at(cfg, 99, 100) == pytest.approx(0.01 + 0.04 / 100, abs=1e-15)
    assert m.lr_at(m.Config(), 0, 10) == m.Config().lr == 0.05
    assert m.Config().lr_final == 0.0


def test_momentum_schedule_switches_after_momentum_epochs():
    cfg = m.Config()
    assert (cfg.initial_momentum, cfg.momentum, cfg.momentum_epochs) == (0.5, 0.9, 5)
    assert [m.momentum_at(cfg, e) for e in (1, 5, 6, 80)] == [0.5, 0.5, 0.9, 0.9]


def test_sparsity_running_average():
    q = m.update_sparsity_estimate(np.array([0.1, 0.5]), np.array([0.3, 0.5]), 0.95)
    np.testing.assert_allclose(q, [0.95 * 0.1 + 0.05 * 0.3, 0.5], rtol=1e-15)
    dW, db_h = m.sparsity_penalty(np.array([0.2]), 0.125, 0.3, np.array([1.0, 0.0]))
    np.testing.assert_allclose(db_h, [-0.3 * 0.075])
    np.testing.assert_allclose(dW[:, 0], [-0.3 * 0.075, 0.0])


def test_default_recipe_is_pinned():
    """The defaults the README documents (a change must be deliberate)."""
    c = m.Config()
    assert (c.method, c.k, c.n_chains, c.epochs, c.batch_size) == ("pcd", 1, 50, 80, 10)
    assert (c.weight_decay, c.sparsity_target, c.sparsity_cost, c.sparsity_decay) == (
        1e-3,
        0.125,
        0.3,
        0.95,
    )
    assert (c.init_std, c.init_b_h, c.init_bars, c.n_train, c.n_heldout, c.p_bar) == (
        0.01,
        -4.0,
        0.0,
        2000,
        2000,
        0.125,
    )
    assert m.Config(method="cd1", k=7).k_used() == 1 and m.Config(method="cdk", k=7).k_used() == 7


# --- success criterion -------------------------------------------------------------------


def test_bar_recovery_threshold_is_inclusive_and_uses_the_best_match():
    # a unit with one pixel of r0 (pixel 0 lies on r0 and c0): cosine exactly 0.5 with both
    w = np.zeros((16, 1))
    w[0, 0] = 1.0
    n, best, cos = m.bar_recovery(w)
    assert cos[0] == 0.5 and n == 1 and best[0] == 0  # ties go to the first bar
    w[5, 0] = 1e-3  # a stray pixel off both bars: cosine just below 0.5
    assert m.bar_recovery(w)[0] == 0
    assert m.bar_recovery(w, threshold=0.49)[0] == 1
    # best match: 3 pixels of r1 and 1 of c3 -> counts r1 only
    T = m.bar_templates()
    w2 = (0.9 * T[1] + 0.5 * T[7])[:, None]
    n2, best2, _ = m.bar_recovery(w2)
    assert n2 == 1 and best2[0] == 1


def test_verdict_and_counts_boundaries():
    assert m.verdict(10, 10) == "yes"
    assert m.verdict(9, 10) == "partial"
    assert m.verdict(1, 10) == "partial"
    assert m.verdict(0, 10) == "no"
    cfg = m.Config(exact=False)
    res = {
        "n_bars": [8, 7, 6, 8],
        "n_bars_strict": [8, 5, 6, 7],
        "recon_err": [0.1, 0.2, 0.3, 0.4],
    }
    rec = m.build_record(cfg, [3, 4, 5, 6], res, 1.0, 2.0)
    x = rec["metrics"]
    assert (x["n_all_bars"], x["n_at_least_7"], x["n_all_bars_strict"]) == (2, 3, 1)
    assert x["n_bars_per_seed"] == [8, 7, 6, 8] and rec["seeds"] == [3, 4, 5, 6]
    assert rec["headline"]["value"] == 2 and rec["reproduces"] == "partial"
    assert x["goal_all_bars_every_seed"] is False


def test_spread_is_the_sample_standard_deviation():
    cfg = m.Config()
    res = {
        "n_bars": [8, 8, 8],
        "n_bars_strict": [8, 8, 8],
        "recon_err": [0.1, 0.1, 0.1],
        "kl_bits": [1.0, 2.0, 4.0],
        "heldout_ll_bits": [-5.0, -6.0, -7.0],
        "expected_ll_bits": [-5.0, -6.0, -7.0],
        "train_ll_bits": [-5.0, -6.0, -7.0],
        "support_mass": [0.5, 0.5, 0.5],
        "blank_prob": [0.3, 0.3, 0.3],
    }
    x = m.build_record(cfg, [0, 1, 2], res, 1.0, 1.0)["metrics"]
    assert x["kl_bits_std"] == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert x["heldout_ll_bits_mean"] == -6.0 and x["heldout_ll_bits_per_seed"] == [-5, -6, -7]


# --- which data each metric is computed on ---------------------------------------------


def test_heldout_and_train_likelihoods_use_their_own_sets():
    W, b_v, b_h = random_rbm(3, scale=0.5, seed=31, n_seeds=1)
    images, probs = m.exact_data_distribution()
    train_x = np.zeros((1, 4, 16))  # all blank
    held_x = np.ones((1, 3, 16))  # all ones
    out = {
        "W": W,
        "b_v": b_v,
        "b_h": b_h,
        "train": train_x,
        "heldout": held_x,
        "history": {"recon_err": [[0.0]]},
    }
    res = m.evaluate(m.Config(n_hidden=3), out)
    lp_blank = m.log_prob(np.zeros((1, 16)), W[0], b_v[0], b_h[0])[0] / np.log(2)
    lp_ones = m.log_prob(np.ones((1, 16)), W[0], b_v[0], b_h[0])[0] / np.log(2)
    assert res["heldout_ll_bits"][0] == pytest.approx(lp_ones, rel=1e-12)
    assert res["train_ll_bits"][0] == pytest.approx(lp_blank, rel=1e-12)
    # KL and the expected log-likelihood use the exact distribution, not either sample
    kl = m.kl_bits(W, b_v, b_h, images, probs)[0]
    assert res["kl_bits"][0] == pytest.approx(kl, rel=1e-12)
    assert res["expected_ll_bits"][0] == pytest.approx(-(m.entropy_bits(probs) + kl))


def test_train_and_heldout_sets_are_independent_draws():
    tr, he = m.make_datasets(m.Config(n_train=50, n_heldout=50), [0])
    assert not np.array_equal(tr[0], he[0])
    tr2, _ = m.make_datasets(m.Config(n_train=50, n_heldout=50), [1])
    assert not np.array_equal(tr[0], tr2[0])


# --- training: determinism, per-seed bookkeeping, the headline claim -----------------


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


@pytest.mark.parametrize("method", ["cd1", "cdk", "pcd", "exact"])
def test_sweep_batches_seeds_exactly_like_single_runs(method):
    cfg = small_cfg(method=method, k=2 if method == "cdk" else 1, epochs=2)
    both = m.train(cfg, [5, 6])
    one = m.train(cfg, [6])
    np.testing.assert_allclose(both["W"][1], one["W"][0], rtol=0, atol=1e-12)


def test_sweep_runs_seed_to_seed_plus_n_minus_one():
    args = m.build_parser().parse_args(["--sweep", "3", "--seed", "4"])
    assert m.seeds_of(args) == [4, 5, 6]
    assert m.seeds_of(m.build_parser().parse_args(["--seed", "9"])) == [9]


def test_headline_claim_at_reduced_scale():
    """Default PCD finds all 8 bars on two seeds, beats an untrained control and CD-1."""
    seeds = [0, 1]
    pcd_cfg = m.Config(n_train=1000, n_heldout=1000)  # half the data: half the time
    pcd_out = m.train(pcd_cfg, seeds)
    res = m.evaluate(pcd_cfg, pcd_out)
    res_params = (pcd_out["W"], pcd_out["b_v"], pcd_out["b_h"])
    assert res["n_bars"] == [8, 8]
    # untrained control: the same seeds' initial parameters
    W0, b_v0, b_h0 = m.init_params(pcd_cfg, seeds, pcd_out["train"])
    images, probs = m.exact_data_distribution()
    kl0 = m.kl_bits(W0, b_v0, b_h0, images, probs)
    assert max(res["kl_bits"]) < 0.5 * min(kl0)
    assert max(m.bar_recovery(W0, m.STRICT_COS)[0]) == 0
    cd1_cfg = m.Config(method="cd1", n_train=1000, n_heldout=1000)
    res_cd1 = m.evaluate(cd1_cfg, m.train(cd1_cfg, seeds))
    assert max(res["kl_bits"]) < min(res_cd1["kl_bits"])
    assert max(res["kl_bits"]) < 2.0
    # the blank image is the first of the sorted exact images
    blank = m.log_prob(np.zeros((1, 16)), *res_params)  # (S, 1)
    np.testing.assert_allclose(np.exp(blank[:, 0]), res["blank_prob"], rtol=1e-10)
    assert images[0].sum() == 0 and all(0 < s < 1 for s in res["support_mass"])
    # held-out log-likelihood agrees with the exact expectation -(H + KL) within noise,
    # and beats the control's held-out log-likelihood by a wide margin
    assert np.allclose(res["heldout_ll_bits"], res["expected_ll_bits"], atol=0.25)
    ll0 = m.log_prob(pcd_out["heldout"], W0, b_v0, b_h0).mean(-1) / np.log(2)
    assert min(res["heldout_ll_bits"]) > max(ll0) + 3.0


def test_exact_gradient_training_raises_the_training_likelihood():
    """Pure maximum likelihood (no weight decay, no sparsity): KL falls every epoch."""
    cfg = m.Config(
        method="exact",
        epochs=3,
        n_train=300,
        n_heldout=100,
        eval_every=1,
        weight_decay=0,
        sparsity_cost=0,
        init_b_h=0,
        lr=0.2,
    )
    kl = [k[0] for k in m.train(cfg, [0])["history"]["kl_bits"]]
    assert kl[3] < kl[2] < kl[1] < kl[0]


# --- golden smoke records ---------------------------------------------------------------
# tools/test_golden.py reruns them as subprocesses for the whole catalog; this in-process
# copy (about 1 s) keeps this folder's own tests able to catch a changed learning rule.


def skipped(key: str) -> bool:
    """The catalog's rule for machine-dependent fields."""
    return key in ("env", "provenance", "timing") or key.endswith(("_s", "_per_s", "_gflops"))


def assert_same(a, b, rtol, where="record"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            if not skipped(k):
                assert_same(a[k], b[k], rtol, f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, rtol, f"{where}[{i}]")
    elif isinstance(a, float):
        assert type(b) is float and b == pytest.approx(a, rel=rtol, abs=0.0), where
    else:
        assert a == b and type(a) is type(b), where


def test_golden_runs_cover_every_method():
    methods = set()
    for name, (script, *args) in m.GOLDEN_RUNS.items():
        assert script == "bars_rbm.py" and "--smoke" in args
        assert (HERE / "results" / name).is_file(), name
        methods.add(args[args.index("--method") + 1] if "--method" in args else "pcd")
    assert methods == set(m.METHODS)
    assert 0.0 <= m.GOLDEN_RTOL <= 1e-9


@pytest.mark.parametrize("name", sorted(m.GOLDEN_RUNS))
def test_golden_smoke_record(name, tmp_path):
    script, *args = m.GOLDEN_RUNS[name]
    out = tmp_path / name
    assert m.main([*args, "--quiet", "--json", str(out)]) == 0
    golden = json.loads((HERE / "results" / name).read_text())
    assert_same(golden, json.loads(out.read_text()), m.GOLDEN_RTOL)


def test_golden_comparison_can_fail():
    golden = json.loads((HERE / "results" / "smoke.json").read_text())
    changed = json.loads(json.dumps(golden))
    changed["metrics"]["kl_bits_mean"] *= 1 + 1e-6
    with pytest.raises(AssertionError):
        assert_same(golden, changed, m.GOLDEN_RTOL)
    changed = json.loads(json.dumps(golden))
    changed["metrics"]["n_bars_per_seed"][0] += 1
    with pytest.raises(AssertionError):
        assert_same(golden, changed, m.GOLDEN_RTOL)
    changed = json.loads(json.dumps(golden))
    changed["wall_time_s"] += 1.0  # machine-dependent: ignored
    assert_same(golden, changed, m.GOLDEN_RTOL)


# --- CLI contract ---------------------------------------------------------------------------


def run_cli(*args, script=SCRIPT):
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120
    )


def test_smoke_writes_a_strict_record(tmp_path):
    out = tmp_path / "sub" / "smoke.json"
    proc = run_cli("--smoke", "--json", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    rec = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert rec["stub"] == "bars-rbm" and rec["reproduces"] in ("yes", "partial", "no")
    assert set(rec["headline"]) >= {"name", "claim", "value", "unit", "paper_value", "better"}
    x = rec["metrics"]
    # the held-out log-likelihood is a proper mean of log2 p over 300 images: it lies
    # between the best and worst per-image values the model gives the bars images
    assert x["heldout_ll_bits_mean"] == pytest.approx(x["heldout_ll_bits_per_seed"][0])
    assert -16.0 < x["heldout_ll_bits_mean"] < -x["data_entropy_bits"] + 1e-9
    assert set(rec["env"]) == {"python", "numpy", "platform", "cpu_count"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["smoke.json"]


def call_main(argv, capsys, fn=None):
    """Run a main under run_main in-process: (exit code, stdout, stderr)."""
    fn = fn or m.main
    try:
        code = m.run_main(fn, "bars_rbm.py", argv)
    except SystemExit as exc:
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize(
    "args",
    [
        ["--n-hidden", "0"],
        ["--n-hidden", "40"],
        ["--lr", "-0.1"],
        ["--lr", "nan"],
        ["--lr", "inf"],
        ["--lr", "1e13"],
        ["--method", "cd7"],
        ["--epochs", "0"],
        ["--sparsity-target", "1.5"],
        ["--momentum", "1"],
        ["--k", "0", "--method", "cdk"],
        ["--k", "3", "--method", "exact"],
        ["--sweep", "-2"],
        ["--seed", "-1"],
        ["--seed=--"],
        ["--lr=--"],
        ["--seed", "4294967296"],
        ["--seed", "4294967295", "--sweep", "2"],
        ["--batch-size", "600", "--n-train", "500"],
        ["--epochs", "10000", "--sweep", "1000"],
        ["--method", "exact", "--n-hidden", "13"],
        ["--json", "/proc/no/such/dir/out.json"],
        ["--json", ""],
        ["--json", str(Path("/tmp") / ("n" * 300) / "out.json")],
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, capsys, args):
    out = tmp_path / "rec.json"
    extra = [] if "--json" in args else ["--json", str(out)]
    smoke = [] if {"--epochs", "--batch-size"} & set(args) else ["--smoke"]  # smoke resets them
    code, stdout, stderr = call_main([*args, *extra, *smoke, "--quiet"], capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bars_rbm.py: error: ")
    assert stdout == "" and list(tmp_path.iterdir()) == []


def test_json_target_that_is_not_a_regular_file_is_never_replaced(tmp_path, capsys):
    fifo = tmp_path / "pipe"  # a named pipe stands for any device (never /dev/null here)
    os.mkfifo(fifo)
    code, stdout, stderr = call_main(["--json", str(fifo), "--smoke", "--quiet"], capsys)
    assert code == 2 and "not a regular file" in stderr and stdout == ""
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and sorted(tmp_path.iterdir()) == [fifo]


def test_json_path_that_is_a_folder_is_refused_before_training(tmp_path, capsys):
    code, stdout, stderr = call_main(["--json", str(tmp_path), "--smoke"], capsys)
    assert code == 2 and "folder" in stderr and stdout == ""


def test_divergence_exits_3_and_writes_no_record(tmp_path, capsys):
    out = tmp_path / "rec.json"
    code, _, stderr = call_main(["--smoke", "--lr", "1e12", "--json", str(out)], capsys)
    assert code == 3
    assert (
        stderr.strip().splitlines() == [stderr.strip()]
        and "diverged at epoch 1" in stderr
        and stderr.strip().endswith("lower --lr")
    )
    assert list(tmp_path.iterdir()) == []


def test_check_finite_names_the_array():
    with pytest.raises(m.Diverged, match="W is not finite"):
        m.check_finite(4, W=np.array([1.0, np.nan]))
    with pytest.raises(m.Diverged, match="exceeds"):
        m.check_finite(4, b_h=np.array([2e6]))
    m.check_finite(4, W=np.array([1e5]))


def test_record_json_refuses_non_finite():
    with pytest.raises(ValueError, match=r"record\.metrics\.kl\[1\] is not finite"):
        m.record_json({"metrics": {"kl": [1.0, float("nan")]}})


def test_write_atomic_leaves_no_temporary_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def boom(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(m.WriteError, match="No space left"):
        m.write_atomic(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    m.write_atomic(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_interrupt_and_terminate_exit_codes(capsys):
    def interrupted(argv):
        raise KeyboardInterrupt

    def terminated(argv):
        raise m.Terminated

    assert call_main([], capsys, interrupted)[:3:2] == (130, "bars_rbm.py: interrupted\n")
    assert call_main([], capsys, terminated)[:3:2] == (143, "bars_rbm.py: terminated\n")

    def disk_full(argv):
        raise m.WriteError(Path("r.json"), "No space left on device")

    assert call_main([], capsys, disk_full)[:3:2] == (
        74,
        "bars_rbm.py: error: cannot write r.json: No space left on device\n",
    )


def test_number_types_carry_their_ranges():
    t = m.float_in(0, 1, hi_open=True)
    assert (t.kind, t.lo, t.hi, t.lo_open, t.hi_open) == ("float", 0, 1, False, True)
    assert t("0") == 0.0
    for bad in ("1", "nan", "-inf", "x", "-1e-9"):
        with pytest.raises(argparse.ArgumentTypeError):
            t(bad)
    i = m.int_in(1, 3)
    assert i.kind == "int" and i("3") == 3
    for bad in ("0", "4", "2.5", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            i(bad)


# --- figure scripts ---------------------------------------------------------------------


def test_gif_script_writes_millisecond_delays(tmp_path):
    import make_bars_rbm_gif as gif

    assert gif.main(["--smoke", "--outdir", str(tmp_path)]) == 0
    for path in (tmp_path / "bars_rbm.gif", HERE / "bars_rbm.gif"):
        im = Image.open(path)
        delays = []
        for i in range(im.n_frames):
            im.seek(i)
            delays.append(im.info["duration"])
        assert im.n_frames > 1 and min(delays) >= 50, path
        assert delays[-1] == gif.LAST_FRAME_MS and delays[0] == gif.FRAME_MS
        assert path.stat().st_size < 2_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars_rbm.gif"]


def test_committed_figures_fit_the_column():
    pngs = sorted((HERE / "viz").glob("*.png"))
    assert pngs
    for p in pngs:
        w, _ = Image.open(p).size
        assert 700 <= w <= 830, (p.name, w)


def test_visualize_refuses_an_unreadable_record_before_training(tmp_path, capsys):
    import visualize_bars_rbm as viz

    (tmp_path / "sweep_cd1_h8.json").write_text("{")
    out = tmp_path / "figs"
    argv = ["--results", str(tmp_path), "--outdir", str(out), "--smoke"]
    code, stdout, stderr = call_main(argv, capsys, viz.main)
    assert code == 2 and "sweep_cd1_h8.json" in stderr and len(stderr.strip().splitlines()) == 1
    assert "training" not in stdout and not list(out.glob("*.png"))


def test_visualize_refuses_a_file_as_outdir(tmp_path, capsys):
    import visualize_bars_rbm as viz

    f = tmp_path / "file"
    f.write_text("x")
    code, _, stderr = call_main(["--outdir", str(f), "--no-curves"], capsys, viz.main)
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and f.read_text() == "x"


# --- README stays in sync with the committed records ---------------------------------


def test_readme_matches_records_and_rendering_is_idempotent(tmp_path):
    import visualize_bars_rbm as viz

    readme = (HERE / "README.md").read_text(encoding="utf-8")
    once = viz.render_readme(readme, HERE / "results")
    assert once == readme
    assert viz.render_readme(once, HERE / "results") == once
    # the --readme mode rewrites a copy in place and leaves an up-to-date one untouched
    copy = tmp_path / "README.md"
    copy.write_text(readme.replace("| 10/10 |", "| 0/10 |", 1), encoding="utf-8")
    assert viz.main(["--readme", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == readme
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_readme_has_the_generated_block_markers():
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    for marker in ("glance", "data-movement"):
        assert readme.count(f"<!-- {marker}:start -->") == 1
        assert readme.count(f"<!-- {marker}:end -->") == 1
    assert "issue" not in readme.lower()


@pytest.mark.parametrize("exact_data", ["train", "population"])
def test_exact_method_takes_one_step_along_the_chosen_gradient(exact_data):
    """One update of --method exact is lr times the exact gradient of the chosen data."""
    cfg = m.Config(
        method="exact",
        exact_data=exact_data,
        epochs=1,
        n_train=10,
        batch_size=10,
        n_heldout=10,
        weight_decay=0.0,
        sparsity_cost=0.0,
        lr=0.3,
        exact=False,
    )
    out = m.train(cfg, [7])
    train_x = out["train"]
    W0, b_v0, b_h0 = m.init_params(cfg, [7], train_x)
    images, probs = m.exact_data_distribution()
    w = probs[None] if exact_data == "population" else m.empirical_distribution(train_x, images)
    dW, db_v, db_h = m.exact_loglik_grad(W0, b_v0, b_h0, images, w)
    np.testing.assert_allclose(out["W"] - W0, 0.3 * dW, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(out["b_v"] - b_v0, 0.3 * db_v, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(out["b_h"] - b_h0, 0.3 * db_h, rtol=1e-10, atol=1e-15)


def test_bars_shaped_start_adds_the_templates():
    x = np.zeros((1, 20, 16))
    plain = m.init_params(m.Config(), [3], x)[0]
    bars = m.init_params(m.Config(init_bars=2.0), [3], x)[0]
    np.testing.assert_allclose(bars - plain, 2.0 * m.bar_templates().T[None], atol=1e-15)
    assert m.bar_recovery(bars, m.STRICT_COS)[0][0] == 8
    wide = m.init_params(m.Config(init_bars=2.0, n_hidden=10), [3], np.zeros((1, 20, 16)))[0]
    assert wide.shape == (1, 16, 10) and np.abs(wide[0, :, 8:]).max() < 0.1


def test_cd_k_defaults_to_ten_gibbs_steps():
    for method, k in (("cdk", 10), ("cd1", 1), ("pcd", 1)):
        cfg = m.config_from_args(m.build_parser().parse_args(["--method", method]))
        assert cfg.k_used() == k
    args = m.build_parser().parse_args(["--method", "cdk", "--k", "3"])
    assert m.config_from_args(args).k_used() == 3


def test_records_get_the_usual_file_mode(tmp_path):
    import os

    out = tmp_path / "r.json"
    m.write_atomic(out, "{}\n")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
