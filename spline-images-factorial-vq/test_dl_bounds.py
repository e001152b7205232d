"""Tests for dl_bounds.py (measured bounds behind the 3x goal)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import dl_bounds as b
import numpy as np
import pytest
import spline_images_factorial_vq as s

HERE = Path(__file__).resolve().parent


def test_mixture_nll_is_log_sum_exp_and_below_best_single_code():
    rng = np.random.default_rng(0)
    X, T = rng.random((5, 96)), rng.random((7, 96))
    log_pi = np.log(rng.dirichlet(np.ones(7)))
    sig, quant = 0.3, 0.2
    got = b.mixture_nll_bits(X, T, log_pi, sig, quant)
    for n in range(5):
        bits_k = s.sse_to_bits(((X[n] - T) ** 2).sum(1), sig, quant, 96) - log_pi / math.log(2)
        direct = -math.log2(sum(2.0 ** (-bk) for bk in bits_k))
        assert got[n] == pytest.approx(direct, rel=1e-10)
        assert got[n] <= bits_k.min() + 1e-9  # sending the single best code costs more


def test_em_does_not_increase_training_nll():
    X, _ = s.make_spline_dataset(np.random.default_rng(1), 300)
    T0, lp0 = b.fit_free_mixture(X, 12, 0.15, np.random.default_rng(2), kmeans_iters=5, em_iters=0)
    T1, lp1 = b.fit_free_mixture(X, 12, 0.15, np.random.default_rng(2), kmeans_iters=5, em_iters=5)
    q = math.sqrt(2 * math.pi) * 0.15
    assert b.mixture_nll_bits(X, T1, lp1, 0.15, q).mean() <= (
        b.mixture_nll_bits(X, T0, lp0, 0.15, q).mean() + 1e-9
    )


def test_smoke_record(tmp_path):
    out = tmp_path / "bounds.json"
    rec = b.main(["--smoke", "--json", str(out)])
    assert json.loads(out.read_text())["metrics"]["summary"] == rec["metrics"]["summary"]
    summ = rec["metrics"]["summary"]
    assert summ["chosen_by_training_dl"] in [r["name"] for r in rec["metrics"]["ablations"]]
    assert summ["factorial_needed_for_3x_bits"] == pytest.approx(summ["default_vq24_bits"] / 3)
    assert rec["reproduces"] in ("yes", "partial", "no")


@pytest.mark.parametrize("args", [["--sweep", "0"], ["--n-large", "100"], ["--n-large", "-1"]])
def test_bad_input_one_line_error(tmp_path, args):
    out = tmp_path / "never.json"
    r = subprocess.run(
        [sys.executable, str(HERE / "dl_bounds.py"), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in r.stderr
    assert not out.exists()


def test_em_step_matches_direct_responsibilities():
    rng = np.random.default_rng(5)
    X, T = rng.random((9, 96)), rng.random((4, 96))
    log_pi = np.log(rng.dirichlet(np.ones(4)))
    sig = 0.9
    T1, lp1 = b.em_step(X, T, log_pi, sig, chunk=4)
    r = np.zeros((9, 4))
    for n in range(9):
        w = [math.exp(log_pi[k] - ((X[n] - T[k]) ** 2).sum() / (2 * sig**2)) for k in range(4)]
        r[n] = np.array(w) / sum(w)
    want_T = (r.T @ X) / r.sum(0)[:, None]
    assert np.allclose(T1, want_T, rtol=1e-10, atol=0)
    assert np.allclose(np.exp(lp1), r.sum(0) / 9, rtol=1e-10)
    assert not np.allclose(T1, T)  # the means move


def test_fit_free_mixture_runs_em_after_kmeans():
    X, _ = s.make_spline_dataset(np.random.default_rng(6), 200)
    T0, lp0 = b.fit_free_mixture(X, 8, 0.3, np.random.default_rng(1), kmeans_iters=3, em_iters=0)
    T1, lp1 = b.fit_free_mixture(X, 8, 0.3, np.random.default_rng(1), kmeans_iters=3, em_iters=1)
    want = b.em_step(X, T0, lp0, 0.3)
    assert np.array_equal(T1, want[0]) and np.array_equal(lp1, want[1])


@pytest.mark.parametrize("args", [["--seed", "-3"], ["--sweep", "nan"], ["--large-batch", "0"]])
def test_more_bad_input_exit_2(args):
    r = subprocess.run(
        [sys.executable, str(HERE / "dl_bounds.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_pair_stats_ratio_of_means():
    per = {
        "vq24": {"total_bits": [30.0, 50.0], "train_total_bits": [20.0, 22.0]},
        "factorial4x6": {"total_bits": [10.0, 30.0], "train_total_bits": [9.0, 11.0]},
    }
    out = b.pair_stats(per)
    assert out["ratio_vq24_over_factorial"] == pytest.approx(40.0 / 20.0)
    assert out["vq24"]["mean_train_total_bits"] == pytest.approx(21.0)


@pytest.mark.parametrize(
    "restarts1, ratio, verdict",
    [((40.0, 40.0, 60.0), 1.5, "partial"), ((40.0, 70.0, 60.0), 60.0 / 70.0, "no")],
)
def test_variant_chosen_by_training_dl_and_verdict_on_the_chosen_ratio(
    tmp_path, monkeypatch, restarts1, ratio, verdict
):
    """The ablation kept is the one with the lowest *training-set* factorial DL, and the
    3x verdict is judged on that variant's held-out ratio, not on the best of all."""
    # (factorial train, factorial held-out, vq24 held-out) per call of run_pair, in order:
    # default (ratio 3.0 but higher training DL), restarts1 (chosen: lower training DL,
    # ratio 1.5), then the sigma row
    calls = iter([(50.0, 20.0, 60.0), restarts1, (45.0, 30.0, 45.0)])

    def fake_pair(cfg, seeds, verbose):
        tr, te, vq = next(calls)
        per = {
            "factorial4x6": {"total_bits": [te], "train_total_bits": [tr]},
            "vq24": {"total_bits": [vq], "train_total_bits": [vq]},
        }
        return b.pair_stats(per)

    def fake_fits(*a, **k):
        entry = {"total_bits": [30.0], "mean_total_bits": 30.0, "train_total_bits": 30.0}
        return {"vq24": entry, "factorial4x6": entry, "ratio_vq24_over_factorial": 1.0}

    def fake_mixtures(cfg, X, tests, sizes, verbose=True):
        return {str(K): {"n_components": K, "mean_total_bits": 10.0 + K} for K in sizes}

    monkeypatch.setattr(b, "run_pair", fake_pair)
    monkeypatch.setattr(b, "run_large_data", fake_fits)
    monkeypatch.setattr(b, "run_mixtures", fake_mixtures)
    rec = b.main(["--smoke", "--json", str(tmp_path / "r.json")])
    summ = rec["metrics"]["summary"]
    assert summ["chosen_by_training_dl"] == "restarts1"
    assert summ["chosen_ratio"] == pytest.approx(ratio)
    assert summ["best_ratio_any_variant"] == pytest.approx(3.0)
    assert rec["reproduces"] == verdict and rec["headline"]["value"] == pytest.approx(ratio)
    assert json.loads((tmp_path / "r.json").read_text())["reproduces"] == verdict


def test_each_ablation_trains_with_its_overrides(monkeypatch):
    seen = {}

    def fake_pair(cfg, seeds, verbose):
        seen[len(seen)] = cfg
        per = {m: {"total_bits": [30.0], "train_total_bits": [30.0]} for m in b.PAIR}
        return b.pair_stats(per)

    monkeypatch.setattr(b, "run_pair", fake_pair)
    cfg = s.config_from_args(s.build_parser().parse_args([]))
    rows, chosen = b.run_ablations(cfg, [0], b.ABLATIONS, verbose=False)
    by_name = {r["name"]: seen[k] for k, r in enumerate(rows)}
    assert by_name["steps4x"]["steps"] == 4 * cfg["steps"]
    assert by_name["default"]["steps"] == cfg["steps"]
    assert by_name["restarts1"]["restarts"] == 1
    assert chosen == "default"  # a tie keeps the first variant
