"""Tests for encoder_4_2_4.py (run from the repository root: python3 -m pytest -q)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import encoder_4_2_4 as E
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "encoder_4_2_4.py"


def random_params(S=3, scale=8.0, seed=0):
    """[W, L1, L2, b_v, b_h] with symmetric, zero-diagonal within-group weights."""
    rng = np.random.default_rng(seed)

    def sym():
        upper = np.triu(rng.normal(0, scale / 2, (S, E.N_GROUP, E.N_GROUP)), 1)
        return upper + np.swapaxes(upper, 1, 2)

    return [
        rng.normal(0, scale, (S, E.N_VIS, E.N_HID)),
        sym(),
        sym(),
        rng.normal(0, scale / 2, (S, E.N_VIS)),
        rng.normal(0, scale / 2, (S, E.N_HID)),
    ]


# --- data and evaluation ---------------------------------------------------------------


def test_data_distribution():
    clean = E.data_distribution(0.0, 0.0)
    assert clean.sum() == pytest.approx(1.0)
    assert np.allclose(clean[E.PATTERN_INDEX], 0.25)
    noisy = E.data_distribution(0.15, 0.05)
    assert noisy.sum() == pytest.approx(1.0)
    # a clean pattern survives noisy clamping with prob 0.85^2 * 0.95^6 (+ tiny leakage)
    assert noisy[E.PATTERN_INDEX[0]] == pytest.approx(0.25 * 0.85**2 * 0.95**6, rel=1e-3)


def hand_solution():
    """A 4-2-4 solution: pattern i gets hidden code c_i on both V1[i] and V2[i]; each
    visible unit's input is +14 at its own code and negative at every other code."""
    codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    w = 40.0 * (2 * codes - 1)
    b = 14.0 - (w * codes).sum(axis=1)
    W = np.concatenate([w, w])
    L = np.zeros((1, E.N_GROUP, E.N_GROUP))
    return [W[None], L, L.copy(), np.concatenate([b, b])[None], np.zeros((1, E.N_HID))]


def test_evaluate_solution_and_blank():
    ev = E.evaluate(*hand_solution(), 10.0)
    assert ev["success"].tolist() == [True] and ev["four_codes"].tolist() == [True]
    assert sorted(ev["codes"][0].tolist()) == [0, 1, 2, 3]
    assert ev["recall"][0] == 4 and ev["kl_bits"][0] < 1.2
    blank = E.init_params(E.Config(), [np.random.default_rng(0)])
    ev0 = E.evaluate(*blank, 10.0)
    assert ev0["n_codes"][0] == 1 and not ev0["success"][0]
    # uniform model: KL(clean data || uniform over 256) = 8 - 2 = 6 bits
    assert ev0["kl_bits"][0] == pytest.approx(6.0)


def test_within_group_weights_enter_energy_and_recall():
    """Strong mutual excitation within V2 makes "all of V2 on" the recalled V2, so recall
    of the hand-made solution drops to 0/4 while its codes (which do not depend on the
    visible-only terms) stay the same; the free-phase p(v) changes too."""
    params = hand_solution()
    params[2] = 60.0 * E.WITHIN_MASK[None]
    ev = E.evaluate(*params, 10.0)
    assert sorted(ev["codes"][0].tolist()) == [0, 1, 2, 3]
    assert ev["recall"][0] == 0 and not ev["success"][0] and ev["four_codes"][0]
    lp = E.visible_log_probs(*params, 10.0)
    assert lp[0].argmax() % 16 == 15  # the most probable visible vector has V2 all on


# --- exact gradient -----------------------------------------------------------------------


@pytest.mark.parametrize("noise", [(0.0, 0.0), (0.15, 0.05)])
def test_exact_gradient_matches_finite_differences(noise):
    params = random_params()
    q = E.data_distribution(*noise)
    T = 10.0
    grads = E.exact_gradient(*params, q, T)
    for k, (name, x, g) in enumerate(zip(E.PARAM_NAMES, params, grads, strict=True)):
        within = name in ("L1", "L2")
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            if within and idx[1] >= idx[2]:
                continue
            # a within-group weight is one parameter held in L[i, j] and L[j, i]
            mirror = (idx[0], idx[2], idx[1]) if within else idx
            fd[idx] = fd[mirror] = central_difference(params, k, idx, mirror, q, T)
        rel = np.linalg.norm(fd - g) / np.linalg.norm(g)
        assert rel < 1e-6, (name, rel)
        if within:
            assert np.array_equal(g, np.swapaxes(g, 1, 2)) and not g[:, [0], [0]].any()


def test_flatten_roundtrip():
    params = random_params(S=2, seed=3)
    theta = E.flatten_params(*params)
    assert theta.shape == (2, E.N_PARAMS)
    for a, b in zip(E.unflatten_params(theta), params, strict=True):
        assert np.array_equal(a, b)


def test_fisher_is_minus_hessian_of_own_likelihood():
    """Fisher identity: at q = the model's own p(v), the Hessian of sum_v q log p_theta(v)
    is -F. The Hessian is taken by central differences of the flattened exact gradient
    (itself checked against finite differences above), so this checks the hand-written
    score and Fisher in float64."""
    params = random_params(S=2, scale=2.0, seed=1)
    T, eps = 10.0, 1e-4
    F = E.fisher_information(*params, T)
    theta = E.flatten_params(*params)
    for s in range(2):
        q = np.exp(E.visible_log_probs(*[x[s : s + 1] for x in params], T))[0]
        H = np.zeros((E.N_PARAMS, E.N_PARAMS))
        for k in range(E.N_PARAMS):
            d = np.zeros(E.N_PARAMS)
            d[k] = eps
            g = [
                E.flatten_params(
                    *E.exact_gradient(*E.unflatten_params(theta[s : s + 1] + sgn * d), q, T)
                )[0]
                for sgn in (1, -1)
            ]
            H[:, k] = (g[0] - g[1]) / (2 * eps)
        assert np.linalg.norm(H + F[s]) / np.linalg.norm(F[s]) < 1e-5
        assert np.allclose(F[s], F[s].T) and np.linalg.eigvalsh(F[s]).min() > -1e-12


def central_difference(params, k, idx, mirror, q, T, eps=1e-5):
    """d log_likelihood / d theta by central differences, theta = params[k][idx] (and
    params[k][mirror], the same weight, when it differs)."""
    out = []
    for delta in (eps, -eps):
        moved = [x.copy() for x in params]
        moved[k][idx] += delta
        if mirror != idx:
            moved[k][mirror] += delta
        out.append(E.log_likelihood(*moved, q, T)[idx[0]])
    return (out[0] - out[1]) / (2 * eps)


# --- the annealing sampler ---------------------------------------------------------------


def boltzmann_tv(A, bias, T, freq):
    n = A.shape[0]
    states = ((np.arange(2**n)[:, None] >> np.arange(n)[::-1]) & 1).astype(float)
    logw = (0.5 * np.einsum("ki,ij,kj->k", states, A, states) + states @ bias) / T
    p = np.exp(logw - logw.max())
    p /= p.sum()
    return 0.5 * np.abs(p - freq).sum()


def test_sampler_long_run_frequencies_match_boltzmann():
    """Single-unit Boltzmann probes on a fully connected 3-unit net at T = 2: the state
    frequencies over many chains and times match exp(-E/T)/Z (total variation < 0.015),
    and are clearly distinguishable from the distribution at the wrong temperature."""
    rng = np.random.default_rng(5)
    n, C, T = 3, 4000, 2.0
    A = np.array([[0.0, 2.5, -1.5], [2.5, 0.0, 1.0], [-1.5, 1.0, 0.0]])
    bias = np.array([-1.0, 0.5, 0.3])
    s = rng.integers(0, 2, (1, C, n)).astype(float)
    P_burn, P_keep = 30 * n, 40 * n
    units = rng.integers(0, n, (P_burn + P_keep, 1, C))
    uni = rng.random((P_burn + P_keep, 1, C))
    temps = np.full(P_burn + P_keep, T)
    E.boltzmann_probes(s, A[None], bias[None], temps[:P_burn], units[:P_burn], uni[:P_burn])
    counts = np.zeros(2**n)
    for t in range(P_burn, P_burn + P_keep, n):
        E.boltzmann_probes(
            s, A[None], bias[None], temps[t : t + n], units[t : t + n], uni[t : t + n]
        )
        idx = (s[0] @ (2 ** np.arange(n)[::-1])).astype(int)
        counts += np.bincount(idx, minlength=2**n)
    freq = counts / counts.sum()
    assert boltzmann_tv(A, bias, T, freq) < 0.015
    assert boltzmann_tv(A, bias, 2 * T, freq) > 0.05  # the bound can fail


def test_phase_statistics_match_exact():
    """The paper's two phases (anneal, then collect at T) on the 4-2-4 network with
    within-group weights agree with the exact statistics for moderate weights: the free
    phase over all 10 units, and a clamped phase with V clamped to one vector (the exact
    side sees q = that vector). The same samples are clearly off the exact statistics
    of the model without its within-group weights, so the check can fail."""
    params = random_params(S=2, scale=6.0, seed=3)
    T = 10.0
    A, bias = E.coupling_matrix(*params)
    assert np.array_equal(A, np.swapaxes(A, 1, 2)) and not np.diagonal(A, 0, 1, 2).any()
    rngs = [np.random.default_rng(k) for k in range(2)]
    sched = E.parse_schedule("2@20,2@15,2@12,4@10")
    s = np.stack([r.integers(0, 2, (3000, E.N_UNITS)) for r in rngs]).astype(float)
    free = E.anneal_and_collect(s, A, bias, np.arange(E.N_UNITS), sched, T, 10, rngs)
    _, exact_free = E.exact_statistics(*params, E.data_distribution(), T)
    bipartite = [params[0], 0 * params[1], 0 * params[2], params[3], params[4]]
    _, exact_bip = E.exact_statistics(*bipartite, E.data_distribution(), T)
    for name, a, b in zip(E.PARAM_NAMES, free, exact_free, strict=True):
        assert np.abs(a - b).max() < 0.02, name
    assert max(np.abs(a - c).max() for a, c in zip(free, exact_bip, strict=True)) > 0.1

    k = 37  # clamp V to V_ALL[37]; only the hidden units are probed
    s = np.zeros((2, 2000, E.N_UNITS))
    s[:, :, : E.N_VIS] = E.V_ALL[k]
    hidden = np.arange(E.N_VIS, E.N_UNITS)
    clamped = E.anneal_and_collect(s, A, bias, hidden, sched, T, 10, rngs)
    q = np.zeros(2**E.N_VIS)
    q[k] = 1.0
    exact_clamped, _ = E.exact_statistics(*params, q, T)
    for name, a, b in zip(E.PARAM_NAMES, clamped, exact_clamped, strict=True):
        assert np.abs(a - b).max() < 0.03, name


def test_parse_schedule():
    assert E.parse_schedule("2@20,4@10") == [(2, 20.0), (4, 10.0)]
    for bad in ("2@0", "2@-1", "0@10", "x", "2@20,"):
        with pytest.raises(ValueError):
            E.parse_schedule(bad)


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["anneal", "exact", "cd"])
def test_determinism(method):
    cfg = E.method_config(E.Config(), method, {"cycles": 15, "restart_every": 10})
    a = E.run_seeds([3], cfg)
    b = E.run_seeds([3], cfg)
    assert a["W"] == b["W"] and a["b_v"] == b["b_v"]
    # a seed's run does not depend on its batch (up to rounding in batched algebra)
    both = E.run_seeds([2, 3], cfg)
    assert np.allclose(both["W"][1], a["W"][0], rtol=1e-9, atol=1e-9)
    assert not np.allclose(both["W"][0], a["W"][0])


# --- the headline claim at reduced scale -------------------------------------------------


def test_annealing_learns_the_encoder():
    """The paper's procedure (defaults, section 4.1) gives the four patterns four
    different codes on at least 7 of 8 seeds within 300 cycles (the paper's median is
    110), at least 5 of the final networks also recall V2 from V1 for all four patterns,
    and the within-group weights have become inhibitory (the paper's first phase: a
    winner-take-all network within each visible group). Without within-group weights
    fewer of the same seeds find four codes."""
    cfg = E.method_config(E.Config(), "anneal", {"cycles": 300})
    res = E.run_seeds(list(range(8)), cfg)
    assert sum(res["success"]) >= 7
    assert sum(res["solved_at_end"]) >= 5
    for name in ("L1", "L2"):
        L = np.array(res[name])
        assert np.array_equal(L, np.swapaxes(L, 1, 2)) and not np.diagonal(L, 0, 1, 2).any()
        assert (L.sum(axis=(1, 2)) < 0).all()
    assert np.mean(res["kl_bits"]) < 3.0
    # the same seeds without within-group weights find four codes less often
    bipartite = E.run_seeds(list(range(8)), E.replace(cfg, within=False))
    assert sum(bipartite["success"]) < sum(res["success"])
    assert not np.array(bipartite["L1"]).any() and not np.array(bipartite["L2"]).any()


def test_restart_reaches_more_seeds():
    """Restart-if-unsolved can only add solved seeds here: with restarts every 100 cycles
    the exact method solves at least as many of 12 seeds as without."""
    base = E.method_config(E.Config(), "exact", {"cycles": 400})
    plain = E.run_seeds(list(range(12)), base)
    rest = E.run_seeds(list(range(12)), E.replace(base, restart_every=100))
    assert sum(rest["success"]) >= sum(plain["success"])
    assert sum(rest["success"]) >= 9


# --- command line ----------------------------------------------------------------------


def run_cli(*args, cwd=HERE):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_smoke_writes_valid_record(tmp_path):
    out = tmp_path / "sub" / "smoke.json"
    proc = run_cli("--smoke", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    for key in ("stub", "paper", "seed", "n_seeds", "config", "headline", "metrics"):
        assert key in rec
    assert rec["stub"] == "encoder-4-2-4" and rec["reproduces"] in ("yes", "partial", "no")
    assert set(rec["headline"]) >= {"name", "claim", "value", "unit", "paper_value", "better"}
    for m in E.METHODS:
        metrics = rec["metrics"][m]
        for key in ("n_runs", "n_success", "median_learning_cycles", "mean_kl_bits"):
            assert key in metrics
    assert rec["wall_time_s"] > 0 and "numpy" in rec["env"]


@pytest.mark.parametrize(
    "args",
    [
        ["--method", "bogus"],
        ["--temperature", "0"],
        ["--temperature", "-3"],
        ["--schedule", "2@20,2@0"],
        ["--sweep", "-1"],
        ["--lr", "0"],
        ["--cycles", "abc"],
        ["--within", "maybe"],
        ["--method", "cd", "--within", "on"],
        ["--method", "anneal,bogus"],
    ],
)
def test_bad_input_one_line_error(tmp_path, args):
    out = tmp_path / "rec.json"
    proc = run_cli(*args, "--json", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("encoder_4_2_4.py: error:")
    assert "Traceback" not in proc.stderr
    assert not out.exists()


# --- README stays in sync with the records ---------------------------------------------


def test_readme_matches_records():
    import visualize_encoder_4_2_4 as V

    text = (HERE / "README.md").read_text(encoding="utf-8")
    assert V.render_readme(text, HERE / "results") == text
