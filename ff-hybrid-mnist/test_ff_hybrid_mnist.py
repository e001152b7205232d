"""Tests for ff_hybrid_mnist.py (run from the repository root: python3 -m pytest -q)."""

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import ff_hybrid_mnist as ff
import numpy as np
import pytest
import visualize_ff_hybrid_mnist as viz

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "ff_hybrid_mnist.py"


@pytest.fixture(scope="module")
def mnist():
    return ff.load_mnist()


def rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12)


# ------------------------------------------------------------------ gradient checks


@pytest.mark.parametrize("kind", ["mean", "sum"])
def test_ff_layer_gradient_fd(kind):
    rng = np.random.default_rng(0)
    n, d_in, d_out = 6, 5, 4
    X = ff.length_normalise(rng.standard_normal((2 * n, d_in)))
    W = rng.standard_normal((d_in, d_out))
    b = 0.1 * rng.standard_normal(d_out)
    sign = np.concatenate([np.ones(n), -np.ones(n)])
    thr = 1.0 if kind == "mean" else 3.0

    def loss(W_, b_):
        return ff.ff_layer_forward(W_, b_, X, sign, thr, kind)[0]

    _, cache = ff.ff_layer_forward(W, b, X, sign, thr, kind)
    dW, db = ff.ff_layer_backward(cache)
    eps = 1e-6
    nW = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[i] += eps
        Wm[i] -= eps
        nW[i] = (loss(Wp, b) - loss(Wm, b)) / (2 * eps)
    nb = np.zeros_like(b)
    for i in range(b.size):
        bp, bm = b.copy(), b.copy()
        bp[i] += eps
        bm[i] -= eps
        nb[i] = (loss(W, bp) - loss(W, bm)) / (2 * eps)
    assert rel_err(dW, nW) < 1e-6
    assert rel_err(db, nb) < 1e-6
    # ReLU kinks must not sit within eps of the check point for the test to be valid.
    assert np.min(np.abs(X @ W + b)) > 1e-4


def test_peer_norm_pushes_quiet_units_up_even_when_off():
    rng = np.random.default_rng(1)
    n, d_in, d_out = 4, 5, 3
    X = ff.length_normalise(rng.standard_normal((2 * n, d_in)))
    W = rng.standard_normal((d_in, d_out))
    b = np.array([-50.0, 0.0, 0.0])  # unit 0 is off on every row
    sign = np.concatenate([np.ones(n), -np.ones(n)])
    _, cache = ff.ff_layer_forward(W, b, X, sign, 1.0, "mean")
    assert np.all(cache["H"][:, 0] == 0)
    mean_act = np.array([0.0, 1.0, 2.0])
    pdz = ff.peer_norm_dz(mean_act, 0.5, n)
    # below the layer mean (1.0): pushed up (negative descent direction), above: down
    assert pdz[0] < 0 and pdz[1] == 0 and pdz[2] > 0
    _, db0 = ff.ff_layer_backward(cache)
    _, db1 = ff.ff_layer_backward(cache, peer_dz=pdz)
    # only the positive rows get the term; the dead unit's bias gradient becomes non-zero
    assert db0[0] == 0
    np.testing.assert_allclose(db1 - db0, n * pdz, rtol=1e-12)


def test_softmax_readout_gradient_fd():
    rng = np.random.default_rng(1)
    n, d, k = 7, 6, 10
    F = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    W = 0.3 * rng.standard_normal((d, k))
    b = 0.1 * rng.standard_normal(k)
    _, cache = ff.softmax_forward(W, b, F, y)
    dW, db = ff.softmax_backward(cache)
    eps = 1e-6
    nW = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[i] += eps
        Wm[i] -= eps
        nW[i] = (ff.softmax_forward(Wp, b, F, y)[0] - ff.softmax_forward(Wm, b, F, y)[0]) / (
            2 * eps
        )
    nb = np.zeros_like(b)
    for i in range(k):
        bp, bm = b.copy(), b.copy()
        bp[i] += eps
        bm[i] -= eps
        nb[i] = (ff.softmax_forward(W, bp, F, y)[0] - ff.softmax_forward(W, bm, F, y)[0]) / (
            2 * eps
        )
    assert rel_err(dW, nW) < 1e-6
    assert rel_err(db, nb) < 1e-6


# ------------------------------------------------------------------ hybrid negatives


def test_masks_binary_and_coherent():
    rng = np.random.default_rng(2)
    M = ff.make_masks(rng, 200, n_blur=6)
    assert M.shape == (200, 784) and M.dtype == np.float32
    assert set(np.unique(M)) <= {0.0, 1.0}
    # Both parts of a hybrid are used on average.
    assert 0.3 < M.mean() < 0.7
    # Blurred masks: large coherent regions; i.i.d. random masks sit near 0.5.
    assert ff.neighbour_agreement(M) > 0.85
    R = (rng.random((200, 784)) < 0.5).astype(np.float32)
    assert ff.neighbour_agreement(R) < 0.6
    # No blur = random mask, which must fail the same bound.
    assert ff.neighbour_agreement(ff.make_masks(rng, 200, n_blur=0)) < 0.85


def test_hybrids_mix_two_digits():
    rng = np.random.default_rng(3)
    X = rng.random((50, 784), dtype=np.float32)
    H, m, ia, ib = ff.make_hybrids(X, rng, 6)
    assert np.all(ia != ib)
    np.testing.assert_allclose(H, m * X[ia] + (1 - m) * X[ib], atol=1e-6)


# ------------------------------------------------------------------ data loader


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    return header + arr.astype(np.uint8).tobytes()


def test_parse_idx_tiny_hand_made():
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]) + bytes(range(24))
    assert raw == _idx_bytes(arr)
    np.testing.assert_array_equal(ff.parse_idx(raw), arr)
    np.testing.assert_array_equal(ff.parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])), [7, 9])
    with pytest.raises(ff.DataError):
        ff.parse_idx(raw[:-1])
    with pytest.raises(ff.DataError):
        ff.parse_idx(b"\x01" + raw[1:])


def test_load_mnist_shapes(mnist):
    assert mnist["train_images"].shape == (60000, 784)
    assert mnist["test_images"].shape == (10000, 784)
    assert mnist["train_labels"].shape == (60000,)
    assert mnist["test_labels"].max() == 9


def _fake_data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    for name in ff.MNIST_FILES.values():
        shutil.copy(HERE / "data" / (name + ".gz"), d / (name + ".gz"))
    shutil.copy(HERE / "data" / "SHA256SUMS.uncompressed", d)
    return d


def _run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd
    )


def test_checksum_failure_one_line_error(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(HERE / "data" / "SHA256SUMS.uncompressed", d)
    for name in ff.MNIST_FILES.values():
        raw = b"\x00\x00\x08\x01\x00\x00\x00\x01\x05"
        with gzip.open(d / (name + ".gz"), "wb") as f:
            f.write(raw)
    out = tmp_path / "rec.json"
    r = _run_cli("--smoke", "--data-dir", str(d), "--json", str(out))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    expected = ff.read_checksums(d)["train-images-idx3-ubyte"]
    assert "train-images-idx3-ubyte" in lines[0] and expected in lines[0]
    assert hashlib.sha256(raw).hexdigest() in lines[0]
    assert not out.exists()


def test_missing_file_one_line_error(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(HERE / "data" / "SHA256SUMS.uncompressed", d)
    r = _run_cli("--smoke", "--data-dir", str(d))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "train-images-idx3-ubyte" in lines[0]
    assert ff.read_checksums(d)["train-images-idx3-ubyte"] in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["--epochs", "-1"],
        ["--lr", "0"],
        ["--layer-sizes", "784,10"],
        ["--layer-sizes", "784,a,b,c"],
        ["--threshold", "-2"],
        ["--preset", "huge"],
        ["--n-blur", "-3"],
        ["--peer-norm", "-1"],
        ["--weight-cost", "-0.1"],
    ],
)
def test_bad_input_one_line_error(args, tmp_path):
    out = tmp_path / "rec.json"
    r = _run_cli("--smoke", *args, "--json", str(out))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("ff_hybrid_mnist.py: error:")
    assert not out.exists()


def test_unwritable_json_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = _run_cli("--smoke", "--json", str(blocker / "sub" / "rec.json"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ optimisers


def test_row_blocks_partition():
    p = np.zeros((1000, 600), np.float32)  # 2.4 MB -> several 1 MB row blocks
    blocks = ff.row_blocks(p)
    assert len(blocks) >= 3
    rows = np.concatenate([np.arange(1000)[sl] for sl in blocks])
    assert np.array_equal(rows, np.arange(1000))
    assert ff.row_blocks(np.zeros(7, np.float32)) == [slice(0, 7)]


def test_sgd_step_matches_formula():
    """The row-blocked in-place update equals m = mu m + lr (g + wc p); p -= m."""
    rng = np.random.default_rng(0)
    shape = (1000, 600)
    p0 = rng.standard_normal(shape)
    opt = ff.SGD(shape, dtype=np.float64, momentum=0.9)
    p, m = p0.copy(), np.zeros(shape)
    for _ in range(3):
        g = rng.standard_normal(shape)
        m = 0.9 * m + 0.01 * (g + 0.004 * p)
        p = p - m
        opt.step(p0, g.copy(), 0.01, weight_cost=0.004)
    assert np.allclose(p0, p, rtol=1e-12, atol=1e-12)


def test_adam_step_matches_formula():
    """Adam with the bias correction folded into the step size (Kingma & Ba, section 2)."""
    rng = np.random.default_rng(1)
    shape = (1000, 600)
    p0 = rng.standard_normal(shape)
    opt = ff.Adam(shape, dtype=np.float64)
    p, m, v = p0.copy(), np.zeros(shape), np.zeros(shape)
    for t in range(1, 4):
        g = rng.standard_normal(shape)
        gw = g + 0.01 * p
        m = 0.9 * m + 0.1 * gw
        v = 0.999 * v + 0.001 * gw * gw
        p = p - 1e-3 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-8)
        opt.step(p0, g.copy(), 1e-3, weight_cost=0.01)
    assert np.allclose(p0, p, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ end to end


def _tiny_cfg(seed):
    cfg = {**ff.DEFAULTS, **ff.PRESETS["smoke"], "preset": "smoke", "seed": seed}
    cfg.update(n_train=1000, n_holdout=200, n_test=500, epochs=1, readout_epochs=2)
    cfg["layer_sizes"] = [784, 50, 50, 50]
    return cfg


def test_determinism(mnist):
    quiet = lambda *a, **k: None  # noqa: E731
    r1 = ff.run(_tiny_cfg(0), mnist, log=quiet)
    r2 = ff.run(_tiny_cfg(0), mnist, log=quiet)
    r3 = ff.run(_tiny_cfg(1), mnist, log=quiet)
    for key in ("loss", "g_pos", "g_neg"):
        assert r1["history"]["ff"][key] == r2["history"]["ff"][key]
    assert r1["history"]["readout"] == r2["history"]["readout"]
    assert r1["metrics"]["test_error_pct"] == r2["metrics"]["test_error_pct"]
    assert r1["figures_data"]["rf"] == r2["figures_data"]["rf"]
    assert r1["history"]["ff"]["loss"] != r3["history"]["ff"]["loss"]


def test_smoke_end_to_end(tmp_path):
    out = tmp_path / "res" / "smoke.json"
    r = _run_cli("--smoke", "--json", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rec = json.loads(out.read_text())
    for key in ("stub", "paper", "seed", "n_seeds", "config", "headline", "metrics"):
        assert key in rec
    assert rec["reproduces"] in ("yes", "partial", "no")
    for key in (
        "test_error_pct",
        "train_error_pct",
        "goodness_separation_per_layer",
        "ff_train_s",
        "softmax_train_s",
        "examples_per_s",
        "matmul_fraction",
    ):
        assert key in rec["metrics"]
    assert rec["metrics"]["test_error_pct"] < 90.0
    m = rec["metrics"]
    # matmul_fraction is taken against the fastest of the start, per-epoch and end
    # benchmarks of the same run.
    samples = rec["history"]["ff"]["matmul_gflops_samples"]
    assert m["matmul_benchmark_samples"] == len(samples) + 2 == m["ff_epochs_completed"] + 2
    assert m["machine_matmul_gflops"] == pytest.approx(
        max(samples + [m["machine_matmul_gflops_start"], m["machine_matmul_gflops_after"]]),
        abs=0.01,
    )
    assert m["matmul_fraction"] == pytest.approx(
        m["achieved_gflops"] / m["machine_matmul_gflops"], rel=1e-3
    )
    assert rec["headline"]["better"] == "lower"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # nothing else in cwd


def test_ff_learns_at_reduced_scale(mnist):
    """Headline claim at small scale: FF features separate digits from hybrids and a
    linear read-out on them is far better than chance."""
    cfg = _tiny_cfg(0)
    cfg.update(n_train=3000, n_holdout=1000, n_test=1000, epochs=2, readout_epochs=8)
    cfg["layer_sizes"] = [784, 200, 200, 200]
    cfg["batch_size"] = 100
    cfg["lr"] = 0.001
    rec = ff.run(cfg, mnist, log=lambda *a, **k: None)
    sep = rec["metrics"]["goodness_separation_per_layer"]
    assert sep[0] > 0.2
    assert rec["metrics"]["holdout_error_pct"] < 20.0
    assert rec["metrics"]["test_error_pct"] < 20.0


def test_readme_in_sync_with_records():
    readme = (HERE / "README.md").read_text()
    assert viz.render_readme(readme, HERE / "results") == readme


def test_time_budget_cuts_epochs(mnist):
    X = mnist["train_images"][:400].reshape(400, -1).astype(np.float32) / 255.0
    cfg = {**ff.DEFAULTS, **ff.PRESETS["smoke"], "layer_sizes": [784, 20, 20, 20]}
    cfg.update(epochs=3, time_budget_s=1e-9)
    _, hist = ff.train_ff(X, cfg, np.random.default_rng(0), log=lambda *a, **k: None)
    assert hist["epochs_planned"] == 3 and hist["epochs_completed"] == 1
    cfg.update(time_budget_s=1e9)
    _, hist = ff.train_ff(X, cfg, np.random.default_rng(0), log=lambda *a, **k: None)
    assert hist["epochs_completed"] == 3
