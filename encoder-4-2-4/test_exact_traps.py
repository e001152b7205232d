"""Tests for exact_traps.py (the measurements behind the exact method's gap)."""

from __future__ import annotations

import json
from pathlib import Path

import encoder_4_2_4 as E
import exact_traps as X
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


def test_gradient_ascent_matches_the_exact_method():
    """ascend(kind="gradient") is the exact method's own update, so continuing from the
    initial weights reproduces train() cycle for cycle."""
    cfg = E.method_config(E.Config(), "exact", {"cycles": 30})
    seeds = [0, 1, 2]
    params, _ = E.train(seeds, cfg)
    init = E.flatten_params(*E.init_params(cfg, [E.seed_generators(s)[0] for s in seeds]))
    q = E.data_distribution(cfg.noise_on, cfg.noise_off)
    theta, _ = X.ascend(init, q, cfg.temperature, 30, "gradient", cfg.lr)
    assert np.allclose(theta, E.flatten_params(*params), rtol=1e-9, atol=1e-9)


def test_natural_step_increases_likelihood():
    cfg = E.method_config(E.Config(), "exact", {})
    init = E.flatten_params(*E.init_params(cfg, [E.seed_generators(s)[0] for s in range(4)]))
    q = E.data_distribution(cfg.noise_on, cfg.noise_off)
    T = cfg.temperature
    theta, _ = X.ascend(init, q, T, 1, "natural", 0.05)
    before = E.log_likelihood(*E.unflatten_params(init), q, T)
    after = E.log_likelihood(*E.unflatten_params(theta), q, T)
    assert np.all(after > before)


def direct_fisher(theta, T, eps=1e-5):
    """Fisher information of p(v) computed from scratch: the score of every visible
    vector by central differences of log p(v) (``visible_log_probs``), then
    F = sum_v p(v) score score^T. Independent of ``fisher_information``."""
    n = theta.shape[1]
    scores = np.empty((2**E.N_VIS, n))
    for k in range(n):
        d = np.zeros(n)
        d[k] = eps
        up = E.visible_log_probs(*E.unflatten_params(theta + d), T)[0]
        dn = E.visible_log_probs(*E.unflatten_params(theta - d), T)[0]
        scores[:, k] = (up - dn) / (2 * eps)
    p = np.exp(E.visible_log_probs(*E.unflatten_params(theta), T)[0])
    return (scores * p[:, None]).T @ scores


def test_natural_step_matches_a_direct_computation():
    """ascent_step(kind="natural") = lr (F + damping I)^-1 g with F computed from scratch
    by finite-difference scores; the plain gradient step (a step that ignores the Fisher)
    is far from it, so a natural step that dropped F would fail here."""
    cfg = E.method_config(E.Config(), "exact", {})
    theta = E.flatten_params(*E.init_params(cfg, [E.seed_generators(7)[0]])) * 4.0
    q = E.data_distribution(cfg.noise_on, cfg.noise_off)
    T, lr = cfg.temperature, 0.3
    F = direct_fisher(theta, T)
    g = X.flat_gradient(theta, q, T)[0]
    want = lr * np.linalg.solve(F + X.NATURAL_DAMPING * np.eye(len(F)), g)
    got = X.ascent_step(theta, q, T, "natural", lr)[0]
    assert np.linalg.norm(got - want) < 1e-4 * np.linalg.norm(want)
    plain = lr * g
    assert np.linalg.norm(plain - want) > 0.5 * np.linalg.norm(want)
    grad = X.ascent_step(theta, q, T, "gradient", cfg.lr)[0]
    assert np.allclose(grad, T * T * cfg.lr * g, rtol=1e-12, atol=0)


def test_hessian_top_eigenvalue_of_a_known_quadratic(monkeypatch):
    """The central-difference Hessian recovers the top eigenvalue of a quadratic whose
    gradient is -A theta (A positive definite, so the top eigenvalue is -min eig A)."""
    rng = np.random.default_rng(0)
    B = rng.normal(size=(E.N_PARAMS, E.N_PARAMS))
    A = B @ B.T / E.N_PARAMS + 0.1 * np.eye(E.N_PARAMS)
    monkeypatch.setattr(X, "flat_gradient", lambda th, q, T: -th @ A)
    top = X.hessian_top_eigenvalue(np.zeros((1, E.N_PARAMS)), None, 10.0)
    assert top[0] == pytest.approx(-np.linalg.eigvalsh(A)[0], rel=1e-6)


def test_smoke_record_is_consistent():
    """The committed smoke record (rerun and compared value by value by the golden test
    in test_encoder_4_2_4.py) is internally consistent."""
    m = json.loads((HERE / "results" / "smoke_exact_traps.json").read_text())["metrics"]
    ex = m["exact"]
    assert len(ex["trapped_seeds"]) == ex["n_seeds"] - ex["n_four_codes"]
    for key in ("continued_gradient", "continued_natural"):
        assert 0 <= m[key]["n_escaped"] <= m[key]["n_trapped"] == len(ex["trapped_seeds"])
    assert 0 <= m["natural_from_start"]["n_four_codes"] <= ex["n_seeds"]


@pytest.mark.parametrize(
    "args",
    [
        ["--sweep", "0"],
        ["--natural-lr", "-1"],
        ["--natural-lr", "nan"],
        ["--seed", "-1"],
        ["--sweep", "1000", "--cycles", "100000"],
        ["--json", "{tmp}/no/x.txt"],
        ["--json", "{tmp}"],
    ],
)
def test_bad_input_one_line_error(tmp_path, capsys, args):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    with pytest.raises(SystemExit) as exc:
        E.run_main(X.main, "exact_traps.py", args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("exact_traps.py: error:"), err
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob(".tmp_*"))


def test_natural_from_start_overlap_counts_seeds_trapped_by_both():
    """same_seeds_trapped_as_gradient counts the seeds that both the exact-gradient run
    and the natural-gradient run from the start leave without four codes. With 400 exact
    cycles 5 of 8 seeds are solved; 3 natural cycles solve none, so the overlap is the 3
    gradient-trapped seeds, not all 8 natural failures."""
    rec = X.run(list(range(8)), 400, 5, 3, 0.3, log=lambda *a: None)
    trapped = rec["exact"]["trapped_seeds"]
    nat = rec["natural_from_start"]
    assert nat["n_four_codes"] == 0 and nat["n_seeds"] == 8
    assert len(trapped) == 3 and nat["same_seeds_trapped_as_gradient"] == 3


def test_recorded_command_drops_the_json_path_in_both_spellings():
    argv = ["--smoke", "--json", "/x/r.json", "--seed", "3", "--json=/y/r.json", "--sweep", "2"]
    assert X._args_without_json(argv) == ["--smoke", "--seed", "3", "--sweep", "2"]
