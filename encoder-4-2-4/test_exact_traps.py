"""Tests for exact_traps.py (the measurements behind the exact method's gap)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import encoder_4_2_4 as E
import exact_traps as X
import numpy as np

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


def test_smoke_record(tmp_path):
    out = tmp_path / "traps.json"
    r = subprocess.run(
        [sys.executable, str(HERE / "exact_traps.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    m = json.loads(out.read_text())["metrics"]
    ex = m["exact"]
    assert len(ex["trapped_seeds"]) == ex["n_seeds"] - ex["n_four_codes"]
    for key in ("continued_gradient", "continued_natural"):
        assert 0 <= m[key]["n_escaped"] <= m[key]["n_trapped"] == len(ex["trapped_seeds"])
    assert 0 <= m["natural_from_start"]["n_four_codes"] <= ex["n_seeds"]


def test_bad_input_one_line_error(tmp_path):
    for args in (
        ["--sweep", "0"],
        ["--natural-lr", "-1"],
        ["--json", str(tmp_path / "no" / "x.json")],
    ):
        r = subprocess.run(
            [sys.executable, str(HERE / "exact_traps.py"), *args], capture_output=True, text=True
        )
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
