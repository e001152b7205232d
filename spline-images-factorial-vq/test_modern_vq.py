"""Tests for modern_vq.py: the four modern discrete-code baselines (issue 6)."""

import math

import modern_vq as m
import numpy as np
import pytest
import spline_images_factorial_vq as s
from test_spline_images_factorial_vq import fd_max_rel_error, small_cfg

F, K, D_LAT, H = 2, 3, 2, 5


def data(seed=0, n=6):
    return np.random.default_rng(seed).random((n, 96))


def with_parts(fun):
    """Adapt (loss, grads[, extra]) to the (loss, grads, parts) form fd_max_rel_error uses."""

    def g(pp):
        out = fun(pp)
        return out[0], out[1], None

    return g


def test_fd_vqvae_straight_through_surrogate():
    rng = np.random.default_rng(1)
    X = data()
    p = m.init_vqvae(rng, X, F, K, D_LAT, H)
    _, _, k = m.vqvae_loss(p, X, 3.0, 0.25)
    _, ze = m.encode_latent(p, X, F, D_LAT)
    frozen = (k, ze.copy(), p["codebook"][np.arange(F)[None], k].copy())
    err = fd_max_rel_error(with_parts(lambda pp: m.vqvae_loss(pp, X, 3.0, 0.25, frozen=frozen)), p)
    assert err < 1e-6


def test_fd_gumbel_relaxation_with_fixed_noise():
    rng = np.random.default_rng(2)
    X = data()
    p = m.init_gumbel(rng, X, F, K, D_LAT, H)
    G = m.gumbel_noise(rng, (len(X), F, K))
    assert fd_max_rel_error(with_parts(lambda pp: m.gumbel_loss(pp, X, 3.0, 0.7, 0.5, G)), p) < 1e-6


def test_fd_gmvq_albo_with_fixed_noise():
    rng = np.random.default_rng(3)
    X = data()
    p = m.init_gmvq(rng, X, F, K, D_LAT, H)
    p["rho"] = rng.normal(size=F)
    G = m.gumbel_noise(rng, (len(X), F, K))
    assert fd_max_rel_error(with_parts(lambda pp: m.gmvq_loss(pp, X, 3.0, 0.7, 0.5, G)), p) < 1e-6


def test_fd_vqdraw_with_frozen_choices():
    rng = np.random.default_rng(4)
    X = data()
    p = m.init_vqdraw(rng, 96, F, K, H)
    _, _, codes = m.vqdraw_loss(p, X, 3.0, 0.1, F, K)
    err = fd_max_rel_error(with_parts(lambda pp: m.vqdraw_loss(pp, X, 3.0, 0.1, F, K, codes)), p)
    assert err < 1e-6


def test_fd_gumbel_trained_additive_factorial():
    rng = np.random.default_rng(9)
    X = data()
    p = s.init_svq(rng, 96, F, K, H, X)
    G = m.gumbel_noise(rng, (len(X), F, K))
    err = fd_max_rel_error(
        with_parts(lambda pp: m.gumbel_additive_loss(pp, X, 3.0, 0.7, 0.5, G)), p
    )
    assert err < 1e-6


def test_vqdraw_encode_decode_same_reconstruction():
    rng = np.random.default_rng(5)
    X = data(n=20)
    p = m.init_vqdraw(rng, 96, 4, 6, 8)
    codes, rec = m.vqdraw_encode(p, X, 4, 6)
    assert np.array_equal(m.vqdraw_decode(p, codes, 96, 6), rec)
    # ... and the greedy codes are the ones the training loss uses.
    _, _, train_codes = m.vqdraw_loss(p, X, 1.0, 0.01, 4, 6)
    assert np.array_equal(train_codes, codes)
    # The table of all 6^4 codes holds the same reconstructions.
    fitted = m.FittedModern("vqdraw", p, dict(small_cfg(), latent_dim=2))
    table = fitted.table()
    idx = np.ravel_multi_index(tuple(codes.T), (6,) * 4)
    assert np.allclose(table[idx], rec)


def test_gmvq_aggregated_entropy_matches_direct_computation():
    rng = np.random.default_rng(6)
    q = rng.dirichlet(np.ones(5), size=(7, 3))
    direct = 0.0
    for f in range(3):
        qbar = [sum(q[n, f, k] for n in range(7)) / 7 for k in range(5)]
        direct += math.log2(5) - (-sum(v * math.log2(v) for v in qbar))
    assert m.aggregated_kl_bits(q) == pytest.approx(direct, rel=1e-12)
    # It is not the per-example KL: a batch of confident but diverse posteriors has ~0 ALBO.
    onehots = np.eye(5)[None].repeat(1, 0).transpose(1, 0, 2)  # (5, 1, 5)
    assert m.aggregated_kl_bits(onehots) == pytest.approx(0.0, abs=1e-12)


def test_one_hot_code_costs_log2_k_per_quantiser():
    rng = np.random.default_rng(7)
    X = data(n=30)
    cfg = dict(small_cfg(), latent_dim=2)
    p = m.init_vqvae(rng, X, 4, 6, 2, 8)
    r = m.FittedModern("vqvae", p, cfg).score(X, np.random.default_rng(0), n_samples=3)
    assert r["code_bits"] == pytest.approx(4 * math.log2(6))
    assert r["sampled_total_bits"] == pytest.approx(r["total_bits"])
    assert r["meanfield_total_bits"] == pytest.approx(r["total_bits"])


@pytest.mark.parametrize("name", ["vqvae", "gumbel", "gmvq", "vqdraw"])
def test_smoke_each_method(name):
    cfg = small_cfg(steps=30)
    res = s.run_seed(0, cfg, [name], verbose=False)[name]
    for k in s.METRIC_KEYS:
        assert math.isfinite(res[k])
    assert len(res["perplexity"]) == cfg["n_factors"]
    assert all(1.0 <= v <= cfg["n_codes"] + 1e-9 for v in res["perplexity"])
