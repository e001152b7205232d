"""Tests for encoder_4_2_4.py (run from the repository root: python3 -m pytest -q)."""

from __future__ import annotations

import json
import os
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
    different codes on at least 7 of 8 seeds within 150 cycles (the paper's median is
    110), at least 4 of the final networks also recall V2 from V1 for all four patterns,
    and the within-group weights have become inhibitory (the paper's first phase: a
    winner-take-all network within each visible group). Without within-group weights
    fewer of the same seeds find four codes."""
    cfg = E.method_config(E.Config(), "anneal", {"cycles": 150})
    res = E.run_seeds(list(range(8)), cfg)
    assert sum(res["success"]) >= 7
    assert sum(res["solved_at_end"]) >= 4
    for name in ("L1", "L2"):
        L = np.array(res[name])
        assert np.array_equal(L, np.swapaxes(L, 1, 2)) and not np.diagonal(L, 0, 1, 2).any()
        assert (L.sum(axis=(1, 2)) < 0).all()
    assert np.mean(res["kl_bits"]) < 3.0
    # the same seeds without within-group weights find four codes less often
    bipartite = E.run_seeds(list(range(8)), E.replace(cfg, within=False))
    assert sum(bipartite["success"]) < sum(res["success"])
    assert not np.array(bipartite["L1"]).any() and not np.array(bipartite["L2"]).any()


# --- schedules, criteria and bookkeeping ----------------------------------------------


def test_paper_settings_are_the_defaults():
    """The anneal defaults are the paper's (section 4.1): schedule 2@20, 2@15, 2@12, 4@10,
    10 time units at T = 10, two clamped annealings per pattern and as many free ones,
    noisy clamping 0.15 / 0.05, weight step 2 by the sign rule, zero initial weights."""
    c = E.method_config(E.Config(), "anneal", {})
    assert E.parse_schedule(c.schedule) == [(2, 20.0), (2, 15.0), (2, 12.0), (4, 10.0)]
    assert (c.temperature, c.collect_units, c.anneals_per_pattern) == (10.0, 10, 2)
    assert E.n_free_anneals(c) == 8 and c.free_anneals == 0
    assert (c.noise_on, c.noise_off, c.update, c.step, c.init_scale) == (
        0.15,
        0.05,
        "sign",
        2.0,
        0.0,
    )
    assert c.within and c.collect == "unit" and c.restart_every == 0


def test_probe_temperatures_follow_the_schedule():
    """One annealing of the 2 hidden units: 2 time units (4 probes) at 20, 4 at 15, 4 at
    12, 8 at 10, then 10 collection time units (20 probes) at T; with 10 free units every
    block is 5 times longer."""
    sched = E.parse_schedule("2@20,2@15,2@12,4@10")
    temps = E.probe_temperatures(sched, 10.0, 10, 2)
    assert temps.tolist() == [20.0] * 4 + [15.0] * 4 + [12.0] * 4 + [10.0] * 8 + [10.0] * 20
    temps = E.probe_temperatures(sched, 7.0, 3, 10)
    assert temps.tolist() == [20.0] * 20 + [15.0] * 20 + [12.0] * 20 + [10.0] * 40 + [7.0] * 30


def test_goal_boundary():
    assert E.goal_met(98, 100) and E.goal_met(100, 100) and E.goal_met(49, 50)
    assert not E.goal_met(97, 100) and not E.goal_met(48, 50)
    assert E.GOAL_SUCCESS == 98


def test_codes_count_distinct_most_probable_states():
    ev = E.evaluate(*hand_solution(), 10.0)
    assert ev["n_codes"].tolist() == [4]
    merged = hand_solution()
    merged[0][0, 3] = merged[0][0, 2]  # V1[3] now votes for pattern 2's code ...
    merged[0][0, 7] = merged[0][0, 6]  # ... and so does V2[3]
    merged[3][0, [3, 7]] = merged[3][0, [2, 6]]
    ev = E.evaluate(*merged, 10.0)
    assert ev["n_codes"].tolist() == [3] and not ev["four_codes"][0]


def test_metrics_use_the_right_data():
    """kl_bits is measured against the clean patterns, kl_noisy_bits against the noisy-
    clamping distribution the network is trained on: both recomputed here directly."""
    params = hand_solution()
    ev = E.evaluate(*params, 10.0, 0.15, 0.05)
    p = np.exp(E.visible_log_probs(*params, 10.0))[0]
    for key, q in (
        ("kl_bits", E.data_distribution(0.0, 0.0)),
        ("kl_noisy_bits", E.data_distribution(0.15, 0.05)),
    ):
        nz = q > 0
        direct = np.sum(q[nz] * np.log2(q[nz] / p[nz]))
        assert ev[key][0] == pytest.approx(direct, rel=1e-10), key
    assert ev["kl_noisy_bits"][0] != pytest.approx(ev["kl_bits"][0], rel=1e-3)


def scripted_train(monkeypatch, script, cycles, restart_every=0):
    """Run ``train`` with the code count of every cycle taken from ``script`` (S seeds x
    cycles), so that the bookkeeping can be checked against hand-worked answers."""
    script = np.array(script)
    calls = {"c": 0}

    def fake_codes(W, L1, L2, b_v, b_h, T):
        n = script[:, calls["c"]]
        calls["c"] += 1
        S = len(n)
        return (
            np.zeros((S, 4), int),
            np.full((S, 4), 0.9),
            n,
            np.full(S, 4),
            np.ones((S, 4)),
        )

    monkeypatch.setattr(E, "codes_and_recall", fake_codes)
    cfg = E.method_config(E.Config(), "exact", {"cycles": cycles, "restart_every": restart_every})
    _, track = E.train(list(range(len(script))), cfg)
    return track


def test_bookkeeping_first_success_lost_and_settled(monkeypatch):
    track = scripted_train(
        monkeypatch,
        [
            [1, 4, 3, 4, 4, 4],  # found at 2, lost at 3, in place from 4
            [1, 2, 4, 4, 4, 4],  # found at 3 and kept
            [2, 2, 2, 2, 2, 2],  # never
            [4, 4, 4, 4, 4, 3],  # found at 1, lost at the very end
        ],
        cycles=6,
    )
    assert track["first"].tolist() == [2, 3, -1, 1]
    assert track["lost_cycles"].tolist() == [1, 0, 0, 1]
    assert track["settled"].tolist() == [4, 3, -1, -1]
    assert track["n_restarts"].tolist() == [0, 0, 0, 0]


def test_bookkeeping_restarts(monkeypatch):
    """Restart every 3 cycles: a seed unsolved at cycle 3 restarts (once), one solved by
    then never does, one never solved restarts at 3 and 6 (not at the last cycle, 9)."""
    track = scripted_train(
        monkeypatch,
        [
            [1, 1, 1, 1, 4, 4, 4, 4, 4],
            [1, 4, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1, 1, 1, 1],
        ],
        cycles=9,
        restart_every=3,
    )
    assert track["n_restarts"].tolist() == [1, 0, 2]
    assert track["first"].tolist() == [5, 2, -1]
    assert track["lost_cycles"].tolist() == [0, 7, 0]


def test_restart_bookkeeping_on_real_runs():
    """With real exact runs and restarts every 40 cycles, each solved seed found its codes
    in the attempt after its last restart, and each unsolved seed restarted at every
    multiple of 40 before the end."""
    cfg = E.method_config(E.Config(), "exact", {"cycles": 130, "restart_every": 40})
    res = E.run_seeds(list(range(10)), cfg)
    rows = zip(res["success"], res["first_success_cycle"], res["n_restarts"], strict=True)
    for ok, first, k in rows:
        if ok:
            assert 40 * k < first <= 40 * (k + 1)
        else:
            assert k == (130 - 1) // 40
    assert sum(res["n_restarts"]) > 0 and any(res["success"])


def test_exact_sign_rule_from_zero_stays_symmetric():
    """Exact statistics give no sampling noise: from all-zero weights the sign rule keeps
    every seed identical and the two hidden units interchangeable, so the codes never
    separate. This is why the noise ablation breaks the symmetry with a tiny random W."""
    cfg = E.method_config(E.Config(), "exact", {"cycles": 60, "update": "sign", "init_scale": 0.0})
    res = E.run_seeds([0, 1], cfg)
    W = np.array(res["W"])
    assert np.array_equal(W[0], W[1]) and np.array_equal(W[0][:, 0], W[0][:, 1])
    assert res["n_codes"] == [1, 1]
    tiny = E.run_seeds([0, 1], E.replace(cfg, init_scale=0.01))
    assert not np.array_equal(np.array(tiny["W"])[0], np.array(tiny["W"])[1])


def test_collect_every_probe_matches_exact_statistics():
    """Statistics recorded after every probe are the same equilibrium averages."""
    params = random_params(S=1, scale=6.0, seed=4)
    T = 10.0
    A, bias = E.coupling_matrix(*params)
    rngs = [np.random.default_rng(1)]
    sched = E.parse_schedule("2@20,2@15,2@12,4@10")
    s = rngs[0].integers(0, 2, (1, 1500, E.N_UNITS)).astype(float)
    free = E.anneal_and_collect(s, A, bias, np.arange(E.N_UNITS), sched, T, 10, rngs, True)
    _, exact_free = E.exact_statistics(*params, E.data_distribution(), T)
    for name, a, b in zip(E.PARAM_NAMES, free, exact_free, strict=True):
        assert np.abs(a - b).max() < 0.02, name


# --- command line ----------------------------------------------------------------------


def run_cli(*args, cwd=HERE):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def strip_machine(obj):
    """The golden rule: drop keys named env / provenance / timing or ending in _s,
    _per_s, _gflops (machine-dependent), recursively."""
    if isinstance(obj, dict):
        return {
            k: strip_machine(v)
            for k, v in obj.items()
            if k not in ("env", "provenance", "timing")
            and not k.endswith(("_s", "_per_s", "_gflops"))
        }
    if isinstance(obj, list):
        return [strip_machine(x) for x in obj]
    return obj


def test_smoke_record_is_valid():
    """The committed smoke record (rerun value by value by tools/test_golden.py from
    GOLDEN_RUNS) has the catalog's record layout and consistent per-seed lists."""
    assert E.GOLDEN_RUNS["smoke.json"] == ["encoder_4_2_4.py", "--smoke"]
    rec = json.loads((HERE / "results" / "smoke.json").read_text())
    for key in ("stub", "paper", "seed", "n_seeds", "config", "headline", "metrics"):
        assert key in rec
    assert rec["stub"] == "encoder-4-2-4" and rec["reproduces"] in ("yes", "partial", "no")
    assert set(rec["headline"]) >= {"name", "claim", "value", "unit", "paper_value", "better"}
    for m in E.METHODS:
        ps, r = rec["metrics"]["per_seed"][m], rec["metrics"][m]
        assert ps["seeds"] == [0, 1]
        assert r["n_kept_four_codes"] == sum(ps["kept_four_codes"])
        assert r["n_success"] == sum(ps["success"])
        rows = zip(ps["kept_four_codes"], ps["success"], ps["lost_cycles"], strict=True)
        for kept, ok, lost in rows:
            assert kept == (ok and lost == 0)


def test_sweep_starts_at_seed_and_workers_do_not_change_results(tmp_path):
    recs = []
    for w in (1, 2):
        out = tmp_path / f"w{w}.json"
        proc = run_cli(
            "--method", "anneal,exact", "--sweep", "27", "--seed", "5", "--cycles", "6",
            "--workers", str(w), "--json", str(out),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        recs.append(json.loads(out.read_text()))
    assert recs[0]["metrics"]["per_seed"]["exact"]["seeds"] == list(range(5, 32))
    a, b = (strip_machine(r["metrics"]) for r in recs)
    assert a == b  # every value, mean_kl_noisy_bits included, to the last digit


def test_divergence_exits_3_without_record(tmp_path, monkeypatch, capsys):
    out = tmp_path / "rec.json"
    real = E.apply_update

    def poisoned(params, velocity, pos, neg, cfg):
        real(params, velocity, pos, neg, cfg)
        params[0][...] = np.nan

    monkeypatch.setattr(E, "apply_update", poisoned)
    code = E.run_main(E.main, "encoder_4_2_4.py", ["--smoke", "--json", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1 and "diverged at cycle 1 (weight W" in err[0]
    assert not out.exists() and not list(tmp_path.glob(".tmp_*"))


def test_write_failure_exits_74_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "rec.json"
    out.write_text("old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(E.os, "replace", broken)
    code = E.run_main(E.main, "encoder_4_2_4.py", ["--smoke", "--json", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 74 and err == [
        f"encoder_4_2_4.py: error: cannot write {out}: No space left on device"
    ]
    assert out.read_text() == "old" and not list(tmp_path.glob(".tmp_*"))


def test_record_rejects_non_finite():
    with pytest.raises(ValueError, match="not finite"):
        E.dumps_record({"metrics": {"x": [1.0, float("nan")]}})


BAD_ARGS = [
    ["--method", "bogus"],
    ["--temperature", "0"],
    ["--temperature", "1e-300"],
    ["--temperature", "nan"],
    ["--schedule", "2@20,2@0"],
    ["--schedule", "100000@10"],
    ["--sweep", "-1"],
    ["--seed", "-1"],
    ["--workers", "99999999999999999999"],
    ["--lr", "0"],
    ["--step", "inf"],
    ["--cycles", "abc"],
    ["--within", "maybe"],
    ["--method", "cd", "--within", "on"],
    ["--method", "anneal,bogus"],
    ["--seed", str(2**32 - 1), "--sweep", "2"],
    ["--sweep", "1000", "--cycles", "100000"],
    ["--json", "/proc/rec.json"],
]


@pytest.mark.parametrize("args", BAD_ARGS)
def test_bad_input_one_line_error(tmp_path, capsys, args):
    """Refused while parsing: exit 2, one line on stderr, nothing written."""
    out = tmp_path / "rec.json"
    extra = [] if "--json" in args else ["--json", str(out)]
    with pytest.raises(SystemExit) as exc:
        E.run_main(E.main, "encoder_4_2_4.py", [*args, *extra])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("encoder_4_2_4.py: error:")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bad_input_from_the_shell(tmp_path):
    out = tmp_path / "rec.json"
    proc = run_cli("--temperature", "1e-300", "--json", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "encoder_4_2_4.py: error: argument --temperature: 1e-300 is outside [0.01, 1000]"
    ]
    assert not out.exists()


# --- README and figures follow the records ---------------------------------------------


def test_readme_matches_records_and_rendering_is_idempotent():
    import visualize_encoder_4_2_4 as V

    text = (HERE / "README.md").read_text(encoding="utf-8")
    once = V.render_readme(text, HERE / "results")
    assert V.render_readme(once, HERE / "results") == once
    assert once == text, "README blocks are stale: run visualize_encoder_4_2_4.py --readme"


def test_readme_tables_are_well_formed():
    """Every table row has as many cells as its header (an unescaped | splits a cell)."""
    rows = [ln for ln in (HERE / "README.md").read_text().splitlines() if ln.startswith("|")]
    n = None
    for ln in rows:
        cells = ln.count("|") - ln.count("\\|") - 1
        if set(ln) <= set("|-: "):
            assert cells == n, ln
        n = cells


def test_gif_and_figures_read_at_column_width():
    from PIL import Image

    with Image.open(HERE / "encoder_4_2_4.gif") as im:
        assert im.n_frames > 1 and im.width <= 830
        delays = []
        for k in range(im.n_frames):
            im.seek(k)
            delays.append(im.info["duration"])
    assert min(delays) >= 50 and delays[-1] > delays[0]
    assert (HERE / "encoder_4_2_4.gif").stat().st_size < 2e6
    for png in (HERE / "viz").glob("*.png"):
        with Image.open(png) as im:
            assert im.width <= 830, png.name


@pytest.mark.parametrize(
    "anneal, exact, n_seeds, smoke, expected",
    [
        ((98, 100, 0.98, 0.98), (98, 100, 0.98, 0.98), 100, False, "yes"),
        ((98, 100, 0.98, 0.98), (98, 100, 0.98, 0.98), 49, False, "partial"),
        ((98, 100, 0.98, 0.98), (98, 100, 0.98, 0.98), 50, False, "yes"),
        ((98, 100, 0.98, 0.98), (98, 100, 0.98, 0.98), 100, True, "partial"),
        # the exact method's goal counts too
        ((98, 100, 0.98, 0.98), (97, 100, 0.97, 0.97), 100, False, "partial"),
        # "partial" is judged per attempt (restarts count as attempts), not per seed
        ((50, 100, 0.50, 0.10), (10, 100, 0.10, 0.10), 100, False, "no"),
        ((50, 100, 0.50, 0.21), (10, 100, 0.10, 0.10), 100, False, "partial"),
        ((50, 100, 0.50, 0.20), (10, 100, 0.10, 0.10), 100, False, "no"),
    ],
)
def test_build_record_verdict(monkeypatch, anneal, exact, n_seeds, smoke, expected):
    from collections import defaultdict

    summaries = {}
    for name, (k, n, rate, per_attempt) in (("anneal", anneal), ("exact", exact)):
        summaries[name] = {
            "n_success": k,
            "n_runs": n,
            "success_rate": rate,
            "success_per_attempt": per_attempt,
            "wall_time_s": 1.0,
        }
    runs = {}
    for name in summaries:
        runs[name] = defaultdict(list, {"method": name})
    monkeypatch.setattr(E, "summarize", lambda r: summaries[r["method"]])
    configs = {m: E.method_config(E.Config(), m, {}) for m in summaries}
    rec = E.build_record(runs, configs, 0, n_seeds, 1.0, 1, smoke)
    assert rec["reproduces"] == expected
    assert rec["headline"]["value"] == 100.0 * anneal[2]


def _scripted_codes(monkeypatch, n_codes_by_cycle, recall_by_cycle):
    """Replace codes_and_recall inside train(): per cycle (1, 2, ...) the given number of
    distinct codes and recall of each run (lists over runs)."""
    calls = {"c": 0}

    def fake(W, L1, L2, b_v, b_h, T):
        calls["c"] += 1
        c = calls["c"]
        n = np.array(n_codes_by_cycle[c], dtype=int)
        S = len(n)
        return (
            np.zeros((S, 4), int),
            np.full((S, 4), 0.9),
            n,
            np.array(recall_by_cycle[c], dtype=int),
            np.zeros(S),
        )

    monkeypatch.setattr(E, "codes_and_recall", fake)


def test_first_recall_is_the_first_cycle_with_four_codes_and_full_recall(monkeypatch):
    cfg = E.method_config(E.Config(), "exact", {"cycles": 4})
    _scripted_codes(
        monkeypatch,
        {1: [4], 2: [4], 3: [4], 4: [4]},
        {1: [3], 2: [4], 3: [4], 4: [2]},
    )
    _, track = E.train([0], cfg)
    assert track["first"].tolist() == [1] and track["recall_at_first"].tolist() == [3]
    assert track["first_recall"].tolist() == [2]


def test_restart_draws_fresh_weights_from_the_restarted_seeds_generator(monkeypatch):
    cfg = E.method_config(E.Config(), "exact", {"cycles": 3, "restart_every": 2})
    # run 0 (seed 5) finds four codes at cycle 1; run 1 (seed 6) never does
    _scripted_codes(monkeypatch, {c: [4, 2] for c in (1, 2, 3)}, {c: [4, 0] for c in (1, 2, 3)})
    seen = {}
    _, track = E.train([5, 6], cfg, on_cycle=lambda c, p: seen.setdefault(c, p[0].copy()))
    assert track["n_restarts"].tolist() == [0, 1]
    r = E.seed_generators(6)[0]
    r.normal(0.0, 1.0, (E.N_VIS, E.N_HID))  # the first attempt's weights
    fresh = r.normal(0.0, 1.0, (E.N_VIS, E.N_HID)) * cfg.init_scale
    assert np.array_equal(seen[2][1], fresh)


def test_success_needs_four_codes_and_full_recall(monkeypatch):
    def fake(W, L1, L2, b_v, b_h, T):
        return (np.zeros((3, 4), int), np.ones((3, 4)), np.array([4, 4, 3]),
                np.array([4, 3, 4]), np.zeros(3))  # fmt: skip

    monkeypatch.setattr(E, "codes_and_recall", fake)
    params = E.init_params(E.Config(), [np.random.default_rng(k) for k in range(3)])
    ev = E.evaluate(*params, 10.0)
    assert ev["four_codes"].tolist() == [True, True, False]
    assert ev["success"].tolist() == [True, False, False]


def test_records_get_the_usual_file_mode(tmp_path):
    out = tmp_path / "r.json"
    E.write_atomic(out, "{}\n")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_code_probability_is_normalised_over_the_hidden_states():
    """With W = 0 and b_h = (2, 0) every pattern has the same posterior over the four
    hidden states (00, 01, 10, 11 at T = 1): the two with h1 = 1 have weight e^2 each."""
    W = np.zeros((1, E.N_VIS, E.N_HID))
    L = np.zeros((1, E.N_GROUP, E.N_GROUP))
    b_h = np.array([[2.0, 0.0]])
    _, p_code, _, _, _ = E.codes_and_recall(W, L, L.copy(), np.zeros((1, E.N_VIS)), b_h, 1.0)
    expected = np.e**2 / (2.0 + 2.0 * np.e**2)
    assert np.allclose(p_code, expected)
