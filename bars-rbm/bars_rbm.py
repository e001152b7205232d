#!/usr/bin/env python3
"""Bars problem learned by a restricted Boltzmann machine, scored exactly.

Hinton (2002), "Training products of experts by minimizing contrastive divergence",
Neural Computation 14(8):1771-1800 (CD-k). Tieleman (2008), "Training restricted
Boltzmann machines using approximations to the likelihood gradient", ICML (PCD).
Bars data after Foldiak (1990). Defaults follow Hinton (2010), "A practical guide to
training restricted Boltzmann machines", UTML TR 2010-003 (cited as "guide, sec. N").

The file reads top to bottom like a method section:

1. data: 4x4 images, 8 bars (4 rows, 4 columns) each on with p = 1/8, pixelwise OR;
   the exact data distribution by enumerating the 2^8 bar subsets.
2. model: binary-binary RBM, energy E(v, h) = -b_v.v - b_h.h - v.W.h, free energy.
3. learning rules: CD-k (Hinton 2002) and PCD (Tieleman 2008) as pure functions that
   return parameter gradients; momentum, weight decay and a sparsity target in a
   separate update step (guide, sec. 9, 10, 11).
4. training loop, vectorised over seeds (all seeds' RBMs are one batched array).
5. exact evaluation: log Z by enumerating the 2^n_hidden hidden states with the
   visible units summed out in closed form; KL(data || model) in bits; held-out
   log-likelihood in bits; bar recovery score.
6. CLI.

Every array function accepts optional leading "seed" axes (written ``...`` in the
docstrings), so the same code trains one RBM or a whole sweep at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


def exit_on_early_signal(prog: str) -> None:
    """Until ``run_main`` takes over, SIGINT / SIGTERM print one line and exit 130 / 143.

    Scripts call this before their heavy imports (numpy, matplotlib), so that a signal
    that lands while they load still gives one line and the right exit code. Nothing
    has been written at that point, so exiting at once is safe.
    """

    def handler(signum, frame):
        word, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
        os.write(2, f"{prog}: {word}\n".encode())
        os._exit(code)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    exit_on_early_signal("bars_rbm.py")

import numpy as np  # noqa: E402

HEADLINE_ARGS = ["--sweep", "10"]
HEADLINE_BUDGET_S = 120
# Golden smoke records (results/NAME), rerun and compared by tools/test_golden.py.
GOLDEN_RUNS = {
    "smoke.json": ["bars_rbm.py", "--smoke"],
    "smoke_cd1.json": ["bars_rbm.py", "--smoke", "--method", "cd1"],
    "smoke_cdk.json": ["bars_rbm.py", "--smoke", "--method", "cdk", "--k", "3"],
    "smoke_exact.json": ["bars_rbm.py", "--smoke", "--method", "exact"],
}
# float64 throughout (the only float32 values are the uniforms compared with
# probabilities); reruns on this machine are bit-identical. 1e-9 leaves room for a
# last-digit difference in a BLAS sum of the exact evaluation on another machine.
GOLDEN_RTOL = 1e-9

PAPER = "Hinton (2002); bars after Foldiak (1990); PCD after Tieleman (2008)"
SIDE = 4
N_VISIBLE = SIDE * SIDE
N_BARS = 2 * SIDE
MAX_EXACT_HIDDEN = 16
STRICT_COS = 0.8  # a stricter bar-recovery threshold reported next to the 0.5 one
LOG2E = 1.0 / np.log(2.0)

# The earlier reproduction (reference v1, CD-1 + sparsity + momentum + weight decay,
# 8 hidden units) recovered all 8 bars on 2 of 10 seeds and >= 7 bars on 8 of 10.
REFERENCE_V1 = {"n_all_bars": 2, "n_at_least_7": 8, "n_runs": 10}


class UsageError(ValueError):
    """Bad command-line input; reported as one line on stderr with exit code 2."""


# ---------------------------------------------------------------------------------------
# 1. Data


def bar_templates(side: int = SIDE) -> np.ndarray:
    """The bar templates: rows first (top to bottom), then columns (left to right).

    Returns float64 array (2*side, side*side) of 0/1; template b is image b's pixels.
    """
    t = np.zeros((2 * side, side, side))
    for i in range(side):
        t[i, i, :] = 1.0
        t[side + i, :, i] = 1.0
    return t.reshape(2 * side, side * side)


def bar_name(b: int, side: int = SIDE) -> str:
    """Short label of bar ``b``: ``r0``..``r3`` for rows, ``c0``..``c3`` for columns."""
    return f"r{b}" if b < side else f"c{b - side}"


def sample_bars(n: int, rng: np.random.Generator, p_bar: float = 1.0 / 8) -> np.ndarray:
    """Draw ``n`` bars images (Foldiak 1990): each of the 8 bars on independently.

    Returns float64 (n, 16) of 0/1, the pixelwise OR of the bars that are on.
    """
    on = rng.random((n, N_BARS)) < p_bar
    return (on.astype(np.float64) @ bar_templates() > 0).astype(np.float64)


def exact_data_distribution(p_bar: float = 1.0 / 8) -> tuple[np.ndarray, np.ndarray]:
    """The exact distribution of bars images.

    Enumerates the 2^8 subsets of bars, maps each to its image (pixelwise OR) and sums
    the probabilities p^|S| (1-p)^(8-|S|) of subsets that give the same image (e.g. all
    31 subsets with four rows or four columns give the all-ones image).

    Returns (images float64 (M, 16) of 0/1, probs float64 (M,)) with probs summing to 1,
    images sorted by their integer code (pixel 0 = least significant bit). M = 226.
    """
    subsets = ((np.arange(2**N_BARS)[:, None] >> np.arange(N_BARS)) & 1).astype(np.float64)
    k = subsets.sum(axis=1)
    p_subset = p_bar**k * (1.0 - p_bar) ** (N_BARS - k)
    images = (subsets @ bar_templates() > 0).astype(np.int64)
    codes = images @ (1 << np.arange(N_VISIBLE))
    uniq, inverse = np.unique(codes, return_inverse=True)
    probs = np.bincount(inverse.ravel(), weights=p_subset, minlength=len(uniq))
    images_u = ((uniq[:, None] >> np.arange(N_VISIBLE)) & 1).astype(np.float64)
    return images_u, probs


def entropy_bits(probs: np.ndarray) -> float:
    """Shannon entropy -sum p log2 p of a probability vector, in bits."""
    p = probs[probs > 0]
    return float(-(p * np.log2(p)).sum())


# ---------------------------------------------------------------------------------------
# 2. Model


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)), elementwise, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) elementwise, computed stably, in nats."""
    return np.logaddexp(0.0, x)


def free_energy(v: np.ndarray, W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray) -> np.ndarray:
    """Free energy F(v) = -b_v.v - sum_j softplus(b_h_j + v.W_j), in nats.

    p(v) = exp(-F(v)) / Z (Hinton 2002, sec. on RBMs; guide, sec. 16.1).
    v: (..., N, V); W: (..., V, H); b_v: (..., V); b_h: (..., H). Returns (..., N).
    """
    x = v @ W + b_h[..., None, :]
    return -(v @ b_v[..., :, None])[..., 0] - softplus(x).sum(axis=-1)


def free_energy_grad(
    v: np.ndarray, W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of the mean free energy (1/N) sum_n F(v_n) w.r.t. (W, b_v, b_h), nats.

    dF/dW = -v sigmoid(b_h + v W)^T, dF/db_v = -v, dF/db_h = -sigmoid(b_h + v W).
    v: (..., N, V). Returns (dW (..., V, H), db_v (..., V), db_h (..., H)).
    """
    n = v.shape[-2]
    q = sigmoid(v @ W + b_h[..., None, :])
    dW = -(np.swapaxes(v, -1, -2) @ q) / n
    return dW, -v.mean(axis=-2), -q.mean(axis=-2)


def hidden_states(n_hidden: int) -> np.ndarray:
    """All 2^n_hidden binary hidden vectors, float64 (2^n_hidden, n_hidden)."""
    codes = np.arange(2**n_hidden)
    return ((codes[:, None] >> np.arange(n_hidden)) & 1).astype(np.float64)


def _hidden_log_weights(W, b_v, b_h, h):
    """log of sum_v exp(-E(v, h)) = b_h.h + sum_i softplus(b_v_i + W_i.h); (..., K)."""
    a = h @ np.swapaxes(W, -1, -2) + b_v[..., None, :]  # (..., K, V)
    return (h @ b_h[..., :, None])[..., 0] + softplus(a).sum(axis=-1), a


def log_partition(W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Exact log Z in nats by enumerating the hidden states.

    Z = sum_h exp(b_h.h) prod_i (1 + exp(b_v_i + W_i.h)): the visible units are summed
    out in closed form, leaving 2^H terms combined by a stable log-sum-exp (chunks of
    ``chunk`` states, so H = 16 fits in memory).
    W: (..., V, H); b_v: (..., V); b_h: (..., H). Returns (...,).
    Raises ValueError if H > 16.
    """
    H = W.shape[-1]
    if H > MAX_EXACT_HIDDEN:
        raise ValueError(f"exact log Z needs n_hidden <= {MAX_EXACT_HIDDEN}, got {H}")
    hs = hidden_states(H)
    parts = []
    for s in range(0, len(hs), chunk):
        lw, _ = _hidden_log_weights(W, b_v, b_h, hs[s : s + chunk])
        m = lw.max(axis=-1, keepdims=True)
        parts.append(m[..., 0] + np.log(np.exp(lw - m).sum(axis=-1)))
    parts = np.stack(parts, axis=-1)
    m = parts.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.exp(parts - m).sum(axis=-1))


def log_prob(v: np.ndarray, W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray) -> np.ndarray:
    """Exact log p(v) = -F(v) - log Z, in nats. v: (..., N, V). Returns (..., N)."""
    return -free_energy(v, W, b_v, b_h) - log_partition(W, b_v, b_h)[..., None]


def model_statistics(
    W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact model expectations <v h^T>, <v>, <h> by hidden enumeration.

    p(h) is proportional to exp(b_h.h + sum_i softplus(b_v_i + W_i.h)) and
    E[v | h] = sigmoid(b_v + W h), so every expectation is a sum over 2^H states.
    These are the gradients of log Z (d log Z / dW = <v h^T>, etc.).
    Returns (vh (..., V, H), v (..., V), h (..., H)), float64.
    Raises ValueError if H > 16.
    """
    H = W.shape[-1]
    if H > MAX_EXACT_HIDDEN:
        raise ValueError(f"exact statistics need n_hidden <= {MAX_EXACT_HIDDEN}, got {H}")
    hs = hidden_states(H)
    lw, a = _hidden_log_weights(W, b_v, b_h, hs)
    p = np.exp(lw - lw.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)  # (..., K)
    ev = sigmoid(a) * p[..., None]  # (..., K, V)
    vh = np.swapaxes(ev, -1, -2) @ hs
    return vh, ev.sum(axis=-2), p @ hs


def exact_loglik_grad(
    W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray, images: np.ndarray, probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of the expected log-likelihood sum_x p(x) log p_model(x), in nats.

    = <v h^T>_data - <v h^T>_model (the maximum-likelihood rule for RBMs; Hinton 2002,
    eq. for the log-likelihood derivative, and the guide, sec. 2), with the data term
    weighted by ``probs`` (M,) or (..., M) over ``images`` (M, V): the exact data
    distribution, or a training set's empirical frequencies (one row per seed).
    The model term is exact: a sum over the 2^H hidden states with the visible units
    summed in closed form (``model_statistics``).
    Returns (dW (..., V, H), db_v (..., V), db_h (..., H)), float64, nats per case.
    Raises ValueError if H > 16.
    """
    q = sigmoid(images @ W + b_h[..., None, :])  # (..., M, H)
    w = probs[..., :, None]
    d_vh = np.swapaxes(images * w, -1, -2) @ q
    d_v = probs @ images
    d_h = (q * w).sum(axis=-2)
    m_vh, m_v, m_h = model_statistics(W, b_v, b_h)
    return d_vh - m_vh, d_v - m_v, d_h - m_h


# ---------------------------------------------------------------------------------------
# 3. Learning rules (pure functions: data, parameters and uniform noise in, gradients out)


def noise_size(k: int, n_visible: int, n_hidden: int) -> int:
    """Uniforms one chain of k Gibbs steps consumes per case: k * (V + H).

    One for each sampled unit: h0 (H), then k visible samples (k V) and k - 1 hidden
    samples (the last hidden step keeps probabilities).
    """
    return k * (n_visible + n_hidden)


def _gibbs_chain(h, W, b_v, b_h, k, u):
    """k alternating Gibbs steps from sampled hiddens h: v ~ p(v|h), then p(h|v).

    Hiddens between steps are sampled; after the last step the probabilities are kept
    (guide, sec. 3.1). Returns (v_k binary, p(h | v_k), p(v | h) of the first step).
    """
    V, H = W.shape[-2], W.shape[-1]
    Wt = np.swapaxes(W, -1, -2)
    pos = 0
    pv_first = None
    for step in range(k):
        pv = sigmoid(h @ Wt + b_v[..., None, :])
        if pv_first is None:
            pv_first = pv
        v = (u[..., pos : pos + V] < pv).astype(np.float64)
        pos += V
        ph = sigmoid(v @ W + b_h[..., None, :])
        if step < k - 1:
            h = (u[..., pos : pos + H] < ph).astype(np.float64)
            pos += H
    return v, ph, pv_first


def cd_k(
    v0: np.ndarray, W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray, k: int, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Contrastive divergence CD-k update direction (Hinton 2002, the RBM case).

    Positive statistics use p(h | v0); h0 is sampled to start the chain; k alternating
    Gibbs steps give binary v_k; negative statistics use p(h | v_k) (guide, sec. 3).
    v0: (..., B, V) binary data; W: (..., V, H); b_v (..., V); b_h (..., H);
    u: (..., B, noise_size(k, V, H)) uniforms in [0, 1) (the sampling noise, passed in
    so the function is pure and seeds can be batched).
    Returns (dW (..., V, H), db_v (..., V), db_h (..., H), info): the ascent direction
    <v h>_0 - <v h>_k averaged over the batch (approximates the log-likelihood gradient,
    nats per case); info["recon_err"] (...,) is the mean squared error per pixel
    between v0 and p(v | h0), info["q_data"] (..., H) the mean of p(h | v0).
    """
    B, V, H = v0.shape[-2], v0.shape[-1], W.shape[-1]
    q0 = sigmoid(v0 @ W + b_h[..., None, :])
    h0 = (u[..., :H] < q0).astype(np.float64)
    vk, qk, pv1 = _gibbs_chain(h0, W, b_v, b_h, k, u[..., H:])
    v0t, vkt = np.swapaxes(v0, -1, -2), np.swapaxes(vk, -1, -2)
    dW = (v0t @ q0 - vkt @ qk) * (1.0 / B)
    q_data = q0.sum(axis=-2) * (1.0 / B)
    db_v = (v0 - vk).sum(axis=-2) * (1.0 / B)
    db_h = q_data - qk.sum(axis=-2) * (1.0 / B)
    recon = ((v0 - pv1) ** 2).sum(axis=(-1, -2)) * (1.0 / (B * V))
    return dW, db_v, db_h, {"recon_err": recon, "q_data": q_data}


def pcd(
    v0: np.ndarray,
    chains: np.ndarray,
    W: np.ndarray,
    b_v: np.ndarray,
    b_h: np.ndarray,
    k: int,
    u: np.ndarray,
    u_chains: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Persistent contrastive divergence update direction (Tieleman 2008, sec. 3).

    Like CD-k, but the negative phase continues C persistent "fantasy" chains for k
    Gibbs steps from where the previous update left them, instead of restarting at
    the data, so that with small learning rates they track the model distribution.
    v0: (..., B, V) data; chains: (..., C, V) fantasy visibles;
    u: (..., B, >= H) uniforms for the h0 sample behind the reconstruction error;
    u_chains: (..., C, noise_size(k, V, H)) uniforms driving the chains.
    Returns (dW, db_v, db_h, info, new_chains (..., C, V)); gradients and info as in
    ``cd_k``.
    """
    B, V, H = v0.shape[-2], v0.shape[-1], W.shape[-1]
    C = chains.shape[-2]
    q0 = sigmoid(v0 @ W + b_h[..., None, :])
    h0 = (u[..., :H] < q0).astype(np.float64)
    pv1 = sigmoid(h0 @ np.swapaxes(W, -1, -2) + b_v[..., None, :])
    qc = sigmoid(chains @ W + b_h[..., None, :])
    hc = (u_chains[..., :H] < qc).astype(np.float64)
    vk, qk, _ = _gibbs_chain(hc, W, b_v, b_h, k, u_chains[..., H:])
    dW = (np.swapaxes(v0, -1, -2) @ q0) * (1.0 / B) - (np.swapaxes(vk, -1, -2) @ qk) * (1.0 / C)
    q_data = q0.sum(axis=-2) * (1.0 / B)
    db_v = v0.sum(axis=-2) * (1.0 / B) - vk.sum(axis=-2) * (1.0 / C)
    db_h = q_data - qk.sum(axis=-2) * (1.0 / C)
    recon = ((v0 - pv1) ** 2).sum(axis=(-1, -2)) * (1.0 / (B * V))
    return dW, db_v, db_h, {"recon_err": recon, "q_data": q_data}, vk


def sparsity_penalty(
    q_est: np.ndarray, target: float, cost: float, v_mean: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray]:
    """Sparsity-target term added to the ascent direction (guide, sec. 11).

    The penalty is cost * cross-entropy(target, q_est) per hidden unit, where q_est
    (..., H) is a running (exponentially decaying) average of each unit's mean activation
    probability on the data. Its derivative w.r.t. a unit's total input is q_est - target;
    the guide applies it to the hidden bias and to the incoming weights (weighted by the
    mean visible activity v_mean (..., V); pass None for the bias only).
    Returns (dW (..., V, H) or None, db_h (..., H)) to ADD to the CD/PCD direction.
    """
    g = -cost * (q_est - target)
    dW = None if v_mean is None else v_mean[..., :, None] * g[..., None, :]
    return dW, g


# ---------------------------------------------------------------------------------------
# 4. Training


METHODS = ("cd1", "cdk", "pcd", "exact")
MAX_PARAM = 1e6  # |parameter| above this counts as divergence (sigmoids saturate long before)


class Diverged(ArithmeticError):
    """Training produced a non-finite (or absurdly large) value; no record is written."""

    def __init__(self, epoch: int, what: str):
        super().__init__(f"diverged at epoch {epoch} ({what})")
        self.epoch, self.what = epoch, what


@dataclass
class Config:
    """Every hyperparameter of a run; defaults and their sources are in the README.

    method: "cd1", "cdk" (k Gibbs steps), "pcd" (k steps per update on n_chains
    persistent chains) or "exact" (the exact log-likelihood gradient of the training
    set, or of the exact data distribution when exact_data == "population", in place of
    the sampled direction; same number of updates per epoch, n_train // batch_size).
    Learning rate: ``lr_at``; momentum: ``momentum_at``. The sparsity term
    (sparsity_cost > 0) pulls each hidden unit's mean activation towards
    sparsity_target through its bias and, if sparsity_weights, its incoming weights.
    init_bars > 0 starts hidden unit j < 8 at init_bars times bar template j (plus the
    random init): a start that knows the answer, used only to estimate the lowest KL the
    model class reaches (this catalog's choice). eval_every: epochs between exact
    evaluations for the learning curves (0 = only at the end). exact: enable exact log Z
    / KL (needs n_hidden <= 16).
    """

    n_hidden: int = 8
    method: str = "pcd"
    k: int = 1
    n_chains: int = 50
    epochs: int = 80
    batch_size: int = 10
    lr: float = 0.05
    lr_final: float = 0.0
    momentum: float = 0.9
    initial_momentum: float = 0.5
    momentum_epochs: int = 5
    weight_decay: float = 1e-3
    sparsity_target: float = 0.125
    sparsity_cost: float = 0.3
    sparsity_decay: float = 0.95
    sparsity_weights: bool = True
    init_std: float = 0.01
    init_b_h: float = -4.0
    init_bars: float = 0.0
    n_train: int = 2000
    n_heldout: int = 2000
    p_bar: float = 1.0 / 8
    eval_every: int = 0
    exact: bool = True
    exact_data: str = "train"

    def k_used(self) -> int:
        """Gibbs steps per update actually used (CD-1 and the exact gradient: 1, unused)."""
        return 1 if self.method in ("cd1", "exact") else self.k


def lr_at(cfg: Config, step: int, total_steps: int) -> float:
    """Learning rate of update ``step`` (0-based) of ``total_steps``: linear decay.

    lr + (lr_final - lr) * step / total_steps, so the first update uses ``lr`` and the
    last one lr_final + (lr - lr_final) / total_steps (this catalog's choice: the guide,
    sec. 7, gives the scale, not the decay).
    """
    return cfg.lr + (cfg.lr_final - cfg.lr) * (step / total_steps)


def momentum_at(cfg: Config, epoch: int) -> float:
    """Momentum of every update in ``epoch`` (1-based): initial_momentum for the first
    momentum_epochs epochs, then momentum (guide, sec. 9)."""
    return cfg.initial_momentum if epoch <= cfg.momentum_epochs else cfg.momentum


def update_sparsity_estimate(q_est: np.ndarray, q_batch: np.ndarray, decay: float) -> np.ndarray:
    """Running average of each hidden unit's mean activation probability on the data
    (guide, sec. 11): decay * q_est + (1 - decay) * q_batch, shapes (..., H)."""
    return decay * q_est + (1.0 - decay) * q_batch


def seed_generators(seed: int) -> dict[str, np.random.Generator]:
    """One root seed per run, split into named child generators (data, heldout, init,
    sample) via SeedSequence.spawn, so each stream is independent of the others."""
    names = ("data", "heldout", "init", "sample")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(c) for n, c in zip(names, children, strict=True)}


def make_datasets(cfg: Config, seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out bars sets per seed: (S, n_train, 16) and (S, n_heldout, 16).

    The two sets come from different child generators of the seed, so they are
    independent samples of the same distribution."""
    train, held = [], []
    for s in seeds:
        g = seed_generators(s)
        train.append(sample_bars(cfg.n_train, g["data"], cfg.p_bar))
        held.append(sample_bars(cfg.n_heldout, g["heldout"], cfg.p_bar))
    return np.stack(train), np.stack(held)


def empirical_distribution(x: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Frequencies of each row of ``images`` (M, V) in the sets ``x`` (..., N, V).

    Returns float64 (..., M) summing to 1 per set. Raises ValueError if a row of x is not
    among ``images`` (bars data always is: every bars image is one of the 226)."""
    bits = 1 << np.arange(x.shape[-1])
    table = images.astype(np.int64) @ bits
    codes = x.astype(np.int64) @ bits
    idx = np.searchsorted(table, codes)
    idx = np.minimum(idx, len(table) - 1)
    if not np.all(table[idx] == codes):
        raise ValueError("a training image is not in the image table")
    flat = idx.reshape(-1, idx.shape[-1])
    counts = np.stack([np.bincount(r, minlength=len(table)) for r in flat])
    return (counts / idx.shape[-1]).reshape(idx.shape[:-1] + (len(table),))


def init_params(cfg: Config, seeds: list[int], train: np.ndarray):
    """Initial parameters (guide, sec. 8).

    W ~ N(0, init_std^2); b_v = logit of each pixel's training mean; b_h = init_b_h
    (the guide's "large negative value like -4" that starts the hidden units sparse);
    with init_bars > 0, unit j < 8 also gets init_bars * template j.

    Returns (W (S, 16, H), b_v (S, 16), b_h (S, H)), float64.
    """
    W = np.stack(
        [
            cfg.init_std * seed_generators(s)["init"].standard_normal((N_VISIBLE, cfg.n_hidden))
            for s in seeds
        ]
    )
    if cfg.init_bars > 0:  # a start that knows the answer (reference runs only)
        n = min(cfg.n_hidden, N_BARS)
        W[:, :, :n] += cfg.init_bars * bar_templates()[:n].T
    p = np.clip(train.mean(axis=1), 1e-3, 1 - 1e-3)
    b_v = np.log(p / (1.0 - p))
    b_h = np.full((len(seeds), cfg.n_hidden), float(cfg.init_b_h))
    return W, b_v, b_h


def exact_direction(W, b_v, b_h, images, probs):
    """The exact gradient as an update direction, with the same ``info`` as ``cd_k``.

    info["q_data"] (..., H): exact mean of p(h | v) under ``probs``; info["recon_err"]
    (...,): the mean-field reconstruction error sum_x p(x) mean_i (x_i - p(v_i | q(x)))^2
    (no sampling: this method draws no noise)."""
    dW, db_v, db_h = exact_loglik_grad(W, b_v, b_h, images, probs)
    q = sigmoid(images @ W + b_h[..., None, :])
    pv = sigmoid(q @ np.swapaxes(W, -1, -2) + b_v[..., None, :])
    recon = (probs * ((images - pv) ** 2).mean(axis=-1)).sum(axis=-1)
    q_data = (probs[..., :, None] * q).sum(axis=-2)
    return dW, db_v, db_h, {"recon_err": recon, "q_data": q_data}


def check_finite(epoch: int, **arrays) -> None:
    """Raise Diverged if any array holds a non-finite value or |value| > MAX_PARAM."""
    for name, a in arrays.items():
        if a is None:
            continue
        if not np.all(np.isfinite(a)):
            raise Diverged(epoch, f"{name} is not finite")
        if np.abs(a).max() > MAX_PARAM:
            raise Diverged(epoch, f"|{name}| exceeds {MAX_PARAM:g}")


def train(
    cfg: Config,
    seeds: list[int],
    snapshot_every: int = 0,
    progress: bool = False,
) -> dict:
    """Train one RBM per seed, all seeds as one batched array computation.

    Mini-batch gradient ascent with momentum (guide, sec. 9), L2 weight decay on W
    (sec. 10), an optional sparsity target on the hidden units (sec. 11), and a learning
    rate decayed linearly from ``lr`` to ``lr_final`` over the run (``lr_at``). Seed s
    draws its data, initial weights and sampling noise from its own generators, so a
    sweep gives per seed what a single run with that seed gives. Method "exact" makes the
    same number of updates with the exact gradient of the whole training set (or of the
    exact data distribution) instead of a sampled mini-batch direction.
    Returns a dict with W (S, V, H), b_v, b_h, the training/held-out data, and a
    ``history`` dict of per-evaluation metrics (epoch, kl_bits, n_bars, recon_err) and
    optional weight snapshots (for the GIF).
    Raises Diverged when a parameter or the reconstruction error stops being finite
    (checked once per epoch).
    """
    S = len(seeds)
    train_x, held_x = make_datasets(cfg, seeds)
    W, b_v, b_h = init_params(cfg, seeds, train_x)
    vel = [np.zeros_like(W), np.zeros_like(b_v), np.zeros_like(b_h)]
    samplers = [seed_generators(s)["sample"] for s in seeds]
    k = cfg.k_used()
    V, H, B = N_VISIBLE, cfg.n_hidden, cfg.batch_size
    n_batches = cfg.n_train // B
    n_noise = noise_size(k, V, H)
    C = cfg.n_chains
    chains = None
    if cfg.method == "pcd":  # fantasy chains start at random training cases
        idx = np.stack([g.integers(0, cfg.n_train, C) for g in samplers])
        chains = np.take_along_axis(train_x, idx[:, :, None], axis=1)
    if cfg.method == "exact":
        ex_images, ex_probs = exact_data_distribution(cfg.p_bar)
        if cfg.exact_data == "population":
            ex_weights = np.broadcast_to(ex_probs, (S, len(ex_probs)))
        else:
            ex_weights = empirical_distribution(train_x, ex_images)
        ex_vmean = ex_weights @ ex_images  # (S, V)
    q_est = np.full((S, H), cfg.sparsity_target)
    data = exact_data_distribution(cfg.p_bar) if cfg.exact else None
    hist = {"epoch": [], "kl_bits": [], "n_bars": [], "recon_err": [], "snapshots": []}
    total_steps = cfg.epochs * n_batches
    step = 0
    t0 = time.perf_counter()
    recon_sum = np.zeros(S)

    def record(epoch, recon):
        hist["epoch"].append(epoch)
        hist["recon_err"].append(recon.tolist())
        hist["n_bars"].append(bar_recovery(W)[0].tolist())
        if data is not None:
            hist["kl_bits"].append(kl_bits(W, b_v, b_h, *data).tolist())
        if snapshot_every and epoch % snapshot_every == 0:
            hist["snapshots"].append((epoch, W.copy(), b_h.copy()))

    record(0, np.full(S, np.nan))
    seed_ix = np.arange(S)[:, None]
    use_sparsity = cfg.sparsity_cost > 0
    for epoch in range(1, cfg.epochs + 1):
        if cfg.method != "exact":
            perm = np.stack([g.permutation(cfg.n_train) for g in samplers])
            noise = np.stack([g.random((n_batches, B, n_noise), np.float32) for g in samplers])
        if cfg.method == "pcd":
            noise_c = np.stack([g.random((n_batches, C, n_noise), np.float32) for g in samplers])
        mom = momentum_at(cfg, epoch)
        recon_sum[:] = 0.0
        for bi in range(n_batches):
            lr = lr_at(cfg, step, total_steps)
            if cfg.method == "exact":
                dW, db_v, db_h, info = exact_direction(W, b_v, b_h, ex_images, ex_weights)
                v_mean = ex_vmean
            else:
                v0 = train_x[seed_ix, perm[:, bi * B : (bi + 1) * B]]
                v_mean = v0.sum(axis=1) * (1.0 / B)
                if cfg.method == "pcd":
                    dW, db_v, db_h, info, chains = pcd(
                        v0, chains, W, b_v, b_h, k, noise[:, bi], noise_c[:, bi]
                    )
                else:
                    dW, db_v, db_h, info = cd_k(v0, W, b_v, b_h, k, noise[:, bi])
            if use_sparsity:
                q_est = update_sparsity_estimate(q_est, info["q_data"], cfg.sparsity_decay)
                sW, sh = sparsity_penalty(
                    q_est,
                    cfg.sparsity_target,
                    cfg.sparsity_cost,
                    v_mean if cfg.sparsity_weights else None,
                )
                db_h = db_h + sh
                if sW is not None:
                    dW = dW + sW
            vel[0] *= mom
            vel[0] += lr * (dW - cfg.weight_decay * W)
            vel[1] *= mom
            vel[1] += lr * db_v
            vel[2] *= mom
            vel[2] += lr * db_h
            W += vel[0]
            b_v += vel[1]
            b_h += vel[2]
            recon_sum += info["recon_err"]
            step += 1
        with np.errstate(all="ignore"):
            check_finite(epoch, W=W, b_v=b_v, b_h=b_h, recon_err=recon_sum)
        if (cfg.eval_every and epoch % cfg.eval_every == 0) or epoch == cfg.epochs:
            record(epoch, recon_sum / n_batches)
        if progress and (epoch % max(1, cfg.epochs // 10) == 0 or epoch == cfg.epochs):
            el = time.perf_counter() - t0
            eta = el / epoch * (cfg.epochs - epoch)
            print(
                f"  epoch {epoch:4d}/{cfg.epochs}  recon {np.mean(recon_sum / n_batches):.4f}"
                f"  bars {np.mean(bar_recovery(W)[0]):.2f}  elapsed {el:.1f}s  ETA {eta:.1f}s",
                flush=True,
            )
    return {
        "W": W,
        "b_v": b_v,
        "b_h": b_h,
        "train": train_x,
        "heldout": held_x,
        "chains": chains,
        "history": hist,
        "train_time_s": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------------
# 5. Evaluation


def kl_bits(
    W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray, images: np.ndarray, probs: np.ndarray
) -> np.ndarray:
    """Exact KL(data || model) = sum_x p(x) log2(p(x) / p_model(x)), in bits.

    images (M, V), probs (M,) from ``exact_data_distribution``. Returns (...,).
    Raises ValueError if n_hidden > 16 (log Z would need > 2^16 terms).
    """
    lp = log_prob(images, W, b_v, b_h)  # (..., M) nats
    return (probs * (np.log(probs) - lp)).sum(axis=-1) * LOG2E


def bar_recovery(
    W: np.ndarray, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bar-recovery score: distinct bars that some hidden unit represents.

    Unit j represents bar b when b is its best-matching template by cosine similarity
    between W[:, j] and the template, and that cosine is >= ``threshold``.
    W: (..., V, H). Returns (n_bars int (...,), best bar int (..., H),
    best cosine float (..., H)).
    """
    T = bar_templates()
    Tn = T / np.linalg.norm(T, axis=1, keepdims=True)
    norms = np.linalg.norm(W, axis=-2)  # (..., H)
    cos = np.einsum("bv,...vh->...hb", Tn, W) / np.maximum(norms, 1e-300)[..., None]
    best = cos.argmax(axis=-1)
    best_cos = np.take_along_axis(cos, best[..., None], axis=-1)[..., 0]
    hit = best_cos >= threshold
    onehot = (best[..., None] == np.arange(N_BARS)) & hit[..., None]
    return onehot.any(axis=-2).sum(axis=-1), best, best_cos


def evaluate(cfg: Config, out: dict) -> dict:
    """Per-seed final metrics of a ``train`` result (lists of length S).

    kl_bits: exact KL(data || model) in bits; heldout_ll_bits: mean log2 p_model(x) over
    the held-out set; expected_ll_bits: exact sum_x p(x) log2 p_model(x) = -(H + KL);
    support_mass: total model probability of the 226 bars images (1 for a perfect model);
    blank_prob: model probability of the blank image (data: (7/8)^8);
    n_bars: bar-recovery score (cosine >= 0.5); n_bars_strict: the same with cosine
    >= STRICT_COS; recon_err: last epoch's reconstruction error.
    """
    W, b_v, b_h = out["W"], out["b_v"], out["b_h"]
    n_bars, best, best_cos = bar_recovery(W)
    res = {
        "n_bars": n_bars.tolist(),
        "n_bars_strict": bar_recovery(W, STRICT_COS)[0].tolist(),
        "unit_bar": best.tolist(),
        "unit_cos": best_cos.tolist(),
        "recon_err": out["history"]["recon_err"][-1],
    }
    if cfg.exact:
        images, probs = exact_data_distribution(cfg.p_bar)
        kl = kl_bits(W, b_v, b_h, images, probs)
        res["kl_bits"] = kl.tolist()
        p_model = np.exp(log_prob(images, W, b_v, b_h))  # (S, 226)
        res["support_mass"] = p_model.sum(axis=-1).tolist()
        res["blank_prob"] = p_model[..., 0].tolist()  # images are sorted: code 0 first
        res["expected_ll_bits"] = (-(entropy_bits(probs) + kl)).tolist()
        res["heldout_ll_bits"] = (log_prob(out["heldout"], W, b_v, b_h).mean(-1) * LOG2E).tolist()
        res["train_ll_bits"] = (log_prob(out["train"], W, b_v, b_h).mean(-1) * LOG2E).tolist()
    return res


# ---------------------------------------------------------------------------------------
# 6. CLI and the file contract (argument ranges, output paths, atomic writes, signals)

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_CANNOT_WRITE = 0, 2, 3, 74
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
MAX_SEEDS = 1000
MAX_WORK = 2e11  # rough multiply-adds per run; about an hour on one core
MAX_BYTES = 2e9  # largest array a run may allocate


class CleanParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line ``<prog>: error: <message>``, exit 2."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(str(message).split())}\n")

    def _get_values(self, action, arg_strings):  # argparse hook
        # argparse drops a lone "--" given as an option's value ("--lr=--") and stores []
        # without calling the type: refuse it instead
        if action.option_strings and arg_strings and set(arg_strings) == {"--"}:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, not '--'")
        return super()._get_values(action, arg_strings)


CleanArgumentParser = CleanParser  # older name, kept for the figure scripts' imports


class Terminated(BaseException):
    """Raised by the SIGTERM handler so that ``finally`` blocks and cleanups run."""


class WriteError(Exception):
    """An output file could not be written (exit 74); carries the path and strerror."""

    def __init__(self, path: Path, strerror: str):
        super().__init__(f"cannot write {path}: {strerror}")
        self.path, self.strerror = path, strerror


def _number_type(kind, lo, hi, lo_open=False, hi_open=False):
    conv = int if kind == "int" else float
    lo_b, hi_b = ("(" if lo_open else "["), (")" if hi_open else "]")
    fmt = "d" if kind == "int" else "g"

    def parse(text: str):
        try:
            x = conv(text)
        except (TypeError, ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not an {kind}") from None
        if kind == "float" and not np.isfinite(x):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if x < lo or x > hi or (lo_open and x == lo) or (hi_open and x == hi):
            raise argparse.ArgumentTypeError(
                f"{text} is outside {lo_b}{lo:{fmt}}, {hi:{fmt}}{hi_b}"
            )
        return x

    parse.kind, parse.lo, parse.hi, parse.lo_open, parse.hi_open = kind, lo, hi, lo_open, hi_open
    parse.__name__ = f"{kind}_in"
    return parse


def int_in(lo: int, hi: int):
    """argparse type: an integer in [lo, hi]; carries .kind .lo .hi .lo_open .hi_open."""
    return _number_type("int", lo, hi)


def float_in(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    """argparse type: a finite float in the interval lo..hi (open ends as flagged)."""
    return _number_type("float", lo, hi, lo_open, hi_open)


def path_arg(text: str) -> Path:
    """argparse type for a file or folder path: refuses an empty string (which would
    mean the current folder) and a NUL byte."""
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable path")
    return Path(text)


def check_output_path(path: Path, flag: str) -> None:
    """Check before any training that ``path`` can be written; UsageError names it.

    Refuses a name longer than the file system allows, a folder or a non-regular file
    (a device, a pipe) as the target; creates the parent folder if missing; probes by
    creating and deleting a temporary file there.
    """
    path = Path(path)
    if any(len(os.fsencode(part)) > 255 for part in path.parts):
        raise UsageError(f"{flag} {path}: a file or folder name is too long")
    try:
        if path.is_dir():
            raise UsageError(f"{flag} {path} is a folder, not a file")
        if path.exists() and not path.is_file():  # a device or a pipe: never replace it
            raise UsageError(f"{flag} {path} is not a regular file")
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{flag} {path}: {parent} is not a folder")
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write there ({exc.strerror})") from None


_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, data) -> None:
    """Write ``data`` (str, bytes, or a callable taking a binary file) to ``path`` atomically.

    Temporary file in the target's folder, write, flush, fsync, os.replace. SIGINT and
    SIGTERM are blocked from just before the temporary file exists until it is renamed or
    removed, and it is removed on every failure. Raises WriteError on OSError.
    """
    path = Path(path)
    block = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, block)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise WriteError(path, exc.strerror or str(exc)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def assert_finite_record(obj, where: str = "record") -> None:
    """Raise ValueError naming the key if any float in a nested record is not finite."""
    if isinstance(obj, float) and not np.isfinite(obj):
        raise ValueError(f"{where} is not finite")
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert_finite_record(v, f"{where}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            assert_finite_record(v, f"{where}[{i}]")


def record_json(record: dict) -> str:
    """Strict JSON text of a record (no NaN / inf; ValueError names the key if any)."""
    assert_finite_record(record)
    return json.dumps(record, allow_nan=False, indent=1) + "\n"


def _raise_terminated(signum, frame):
    raise Terminated()


def run_main(main_fn, prog: str, argv=None) -> int:
    """Run ``main_fn(argv)`` under the exit-code contract; return the exit code.

    0 ok, 2 bad input, 3 diverged, 74 cannot write output, 130 SIGINT, 143 SIGTERM; each
    failure is one line on stderr, never a traceback.
    """
    with contextlib.suppress(ValueError):  # not in the main thread: keep the default
        signal.signal(signal.SIGTERM, _raise_terminated)
        # a shell starts background jobs with SIGINT ignored: restore KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with np.errstate(all="ignore"):
            return main_fn(argv)
    except Diverged as exc:
        print(f"{prog}: {exc}; lower --lr", file=sys.stderr)
        return EXIT_DIVERGED
    except WriteError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_WRITE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return EXIT_SIGTERM


def build_parser() -> CleanParser:
    """The command-line interface of bars_rbm.py; defaults come from ``Config``."""
    c = Config()
    p = CleanParser(
        prog="bars_rbm.py",
        description="RBM on the 4x4 bars problem: CD-1 / CD-k / PCD / exact gradient, "
        "scored exactly. Exit codes: 0 ok, 2 bad input, 3 diverged, 74 cannot write, "
        "130 interrupted, 143 terminated.",
        allow_abbrev=False,
    )
    p.add_argument(
        "--seed",
        type=int_in(0, 2**32 - 1),
        default=0,
        help="seed of a single run, or the first seed of a sweep (int, 0..2^32-1; default 0)",
    )
    p.add_argument(
        "--sweep",
        type=int_in(0, MAX_SEEDS),
        default=0,
        metavar="N",
        help=f"run N seeds, --seed .. --seed+N-1, as one batch (int, 0..{MAX_SEEDS}; "
        "0 = a single run; default 0)",
    )
    p.add_argument("--json", type=path_arg, help="write the result record to this file (path)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny configuration for CI: 10 epochs, 500 training and 300 held-out images",
    )
    p.add_argument(
        "--n-hidden",
        type=int_in(1, 256),
        default=c.n_hidden,
        help=f"hidden units (int, 1..256, at most {MAX_EXACT_HIDDEN} unless --no-exact; "
        f"default {c.n_hidden})",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default=c.method,
        help="learning rule: cd1, cdk (k Gibbs steps), pcd (persistent chains) or exact "
        f"(exact log-likelihood gradient; n_hidden <= 12) (default {c.method})",
    )
    p.add_argument(
        "--k",
        type=int_in(1, 1000),
        default=None,
        help="Gibbs steps per update (int, 1..1000; default 10 for cdk, 1 for pcd)",
    )
    p.add_argument(
        "--n-chains",
        type=int_in(1, 10000),
        default=c.n_chains,
        help=f"PCD persistent chains (int, 1..10000; default {c.n_chains})",
    )
    p.add_argument(
        "--epochs",
        type=int_in(1, 10000),
        default=c.epochs,
        help=f"passes over the training set (int, 1..10000; default {c.epochs})",
    )
    p.add_argument(
        "--batch-size",
        type=int_in(1, 100000),
        default=c.batch_size,
        help=f"images per update (int, 1..100000, <= --n-train; default {c.batch_size})",
    )
    p.add_argument(
        "--lr",
        type=float_in(0, 1e12, lo_open=True),
        default=c.lr,
        help=f"initial learning rate, per update (float, 0 < lr <= 1e12; default {c.lr}); "
        "a rate that makes training diverge ends with exit code 3",
    )
    p.add_argument(
        "--lr-final",
        type=float_in(0, 1e12),
        default=c.lr_final,
        help="learning rate of the last update, linear decay from --lr "
        f"(float, 0..1e12; default {c.lr_final:g})",
    )
    p.add_argument(
        "--momentum",
        type=float_in(0, 1, hi_open=True),
        default=c.momentum,
        help=f"momentum after --momentum-epochs (float, 0 <= m < 1; default {c.momentum})",
    )
    p.add_argument(
        "--initial-momentum",
        type=float_in(0, 1, hi_open=True),
        default=c.initial_momentum,
        help=f"momentum of the first epochs (float, 0 <= m < 1; default {c.initial_momentum})",
    )
    p.add_argument(
        "--momentum-epochs",
        type=int_in(0, 10000),
        default=c.momentum_epochs,
        help=f"epochs at --initial-momentum (int, 0..10000; default {c.momentum_epochs})",
    )
    p.add_argument(
        "--weight-decay",
        type=float_in(0, 10),
        default=c.weight_decay,
        help=f"L2 weight cost on W, per update (float, 0..10; default {c.weight_decay:g})",
    )
    p.add_argument(
        "--sparsity-target",
        type=float_in(0, 1, lo_open=True, hi_open=True),
        default=c.sparsity_target,
        help=f"target mean activation of a hidden unit (float, 0 < t < 1; default "
        f"{c.sparsity_target})",
    )
    p.add_argument(
        "--sparsity-cost",
        type=float_in(0, 100),
        default=c.sparsity_cost,
        help=f"weight of the sparsity term (float, 0..100, 0 disables it; default "
        f"{c.sparsity_cost})",
    )
    p.add_argument(
        "--sparsity-bias-only",
        action="store_true",
        help="apply the sparsity term to hidden biases only (default: biases and weights)",
    )
    p.add_argument(
        "--init-std",
        type=float_in(0, 10, lo_open=True),
        default=c.init_std,
        help=f"std of the initial weights (float, 0 < s <= 10; default {c.init_std})",
    )
    p.add_argument(
        "--init-b-h",
        type=float_in(-100, 100),
        default=c.init_b_h,
        help=f"initial hidden bias (float, -100..100; default {c.init_b_h:g})",
    )
    p.add_argument(
        "--init-bars",
        type=float_in(0, 100),
        default=c.init_bars,
        help="start unit j < 8 at this multiple of bar template j, to estimate the best KL "
        "the model reaches (float, 0..100, 0 = off; default 0)",
    )
    p.add_argument(
        "--exact-data",
        choices=("train", "population"),
        default=c.exact_data,
        help="--method exact: fit the training set or the exact data distribution "
        f"(default {c.exact_data})",
    )
    p.add_argument(
        "--n-train",
        type=int_in(10, 100000),
        default=c.n_train,
        help=f"training images per seed (int, 10..100000; default {c.n_train})",
    )
    p.add_argument(
        "--n-heldout",
        type=int_in(1, 100000),
        default=c.n_heldout,
        help=f"held-out images per seed (int, 1..100000; default {c.n_heldout})",
    )
    p.add_argument(
        "--eval-every",
        type=int_in(0, 10000),
        default=c.eval_every,
        help="epochs between exact evaluations for the curves (int, 0..10000, 0 = end only; "
        "default 0)",
    )
    p.add_argument(
        "--no-exact", action="store_true", help="skip exact log Z / KL (needed above 16 hidden)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def estimated_cost(cfg: Config, n_seeds: int) -> tuple[float, float]:
    """(multiply-adds of a run, bytes of its largest arrays), rough, for the limits."""
    H, V, k = cfg.n_hidden, N_VISIBLE, cfg.k_used()
    n_upd = cfg.epochs * (cfg.n_train // cfg.batch_size)
    per_update = cfg.batch_size * (k + 1) * V * H
    noise = cfg.n_train * noise_size(k, V, H) * 4.0
    if cfg.method == "pcd":
        per_update += cfg.n_chains * (k + 1) * V * H
        noise += (cfg.n_train // cfg.batch_size) * cfg.n_chains * noise_size(k, V, H) * 4.0
    if cfg.method == "exact":
        per_update = (2 * 2**H + 226) * V * H
        noise = 2**H * V * 8.0 * 3
    evals = (cfg.epochs // cfg.eval_every if cfg.eval_every else 1) + 1
    exact_eval = (2**H * V * H + 226 * V * H) * evals if cfg.exact else 0.0
    work = n_seeds * (n_upd * per_update + exact_eval)
    data = (cfg.n_train + cfg.n_heldout) * V * 8.0
    return work, n_seeds * max(noise, data, min(2**H, 4096) * V * 8.0 * 3)


def config_from_args(args: argparse.Namespace) -> Config:
    """Cross-flag checks and the Config (single-flag ranges are checked by the types).

    Raises UsageError with the reason when a combination is invalid or too large."""
    k = args.k if args.k is not None else (10 if args.method == "cdk" else 1)
    if not args.no_exact and args.n_hidden > MAX_EXACT_HIDDEN:
        raise UsageError(
            f"--n-hidden {args.n_hidden} is too large for exact evaluation "
            f"(2^n_hidden hidden states; max {MAX_EXACT_HIDDEN}); add --no-exact to skip it"
        )
    if args.method == "exact" and args.n_hidden > 12:
        raise UsageError("--method exact needs --n-hidden <= 12 (2^n_hidden states per update)")
    if args.method in ("cd1", "exact") and args.k not in (None, 1):
        raise UsageError(f"--method {args.method} takes no --k other than 1")
    if args.smoke:  # tiny but complete: every code path, well under a second
        args.epochs, args.n_train, args.n_heldout = 10, 500, 300
        args.batch_size = min(args.batch_size, args.n_train)
    if args.batch_size > args.n_train:
        raise UsageError(f"--batch-size {args.batch_size} exceeds --n-train {args.n_train}")
    if args.sweep and args.seed + args.sweep - 1 > 2**32 - 1:
        raise UsageError("--seed + --sweep - 1 exceeds 2^32 - 1")
    cfg = Config(
        n_hidden=args.n_hidden,
        method=args.method,
        k=k,
        n_chains=args.n_chains,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_final=args.lr_final,
        momentum=args.momentum,
        initial_momentum=args.initial_momentum,
        momentum_epochs=args.momentum_epochs,
        weight_decay=args.weight_decay,
        sparsity_target=args.sparsity_target,
        sparsity_cost=args.sparsity_cost,
        sparsity_weights=not args.sparsity_bias_only,
        init_std=args.init_std,
        init_b_h=args.init_b_h,
        init_bars=args.init_bars,
        n_train=args.n_train,
        n_heldout=args.n_heldout,
        eval_every=args.eval_every,
        exact=not args.no_exact,
        exact_data=args.exact_data,
    )
    work, nbytes = estimated_cost(cfg, max(args.sweep, 1))
    if work > MAX_WORK:
        raise UsageError(
            f"this run needs about {work:.1e} multiply-adds (limit {MAX_WORK:.0e}, about an "
            "hour); lower --epochs, --n-train, --sweep, --k or --n-chains"
        )
    if nbytes > MAX_BYTES:
        raise UsageError(
            f"this run needs about {nbytes / 1e9:.1f} GB of arrays (limit "
            f"{MAX_BYTES / 1e9:.0f} GB); lower --n-train, --sweep, --k or --n-chains"
        )
    return cfg


def seeds_of(args: argparse.Namespace) -> list[int]:
    """Seeds of the run: [seed] for a single run, seed .. seed+N-1 for --sweep N."""
    return list(range(args.seed, args.seed + args.sweep)) if args.sweep else [args.seed]


def env_info() -> dict:
    """Python / numpy versions, platform and logical CPU count of this machine."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def verdict(n_all: int, n_runs: int) -> str:
    """'yes' when every seed finds all 8 bars, 'partial' when some do, else 'no'."""
    if n_all == n_runs:
        return "yes"
    return "partial" if n_all > 0 else "no"


METHOD_LABEL = {"cd1": "CD-1", "cdk": "CD-k", "pcd": "PCD", "exact": "exact gradient"}


def build_record(cfg: Config, seeds: list[int], res: dict, train_s: float, wall_s: float):
    """The result record (STUB_SPEC) of a run or a sweep over ``seeds``.

    Per-seed lists follow ``seeds``. Spreads are sample standard deviations (ddof = 1;
    0 for a single seed). Timing fields end in ``_s`` (excluded from golden comparisons).
    """
    n_bars = np.array(res["n_bars"])
    n_all = int((n_bars == N_BARS).sum())

    def sd(x):
        return float(np.std(x, ddof=1)) if len(x) > 1 else 0.0

    metrics = {
        "n_runs": len(seeds),
        "n_all_bars": n_all,
        "n_at_least_7": int((n_bars >= 7).sum()),
        "mean_bars": float(n_bars.mean()),
        "n_bars_per_seed": n_bars.tolist(),
        "n_bars_strict_per_seed": list(res["n_bars_strict"]),
        "n_all_bars_strict": int((np.array(res["n_bars_strict"]) == N_BARS).sum()),
        "strict_cos": STRICT_COS,
        "recon_err_mean": float(np.mean(res["recon_err"])),
        "recon_err_per_seed": [float(x) for x in res["recon_err"]],
        "std_kind": "sample standard deviation over seeds (ddof = 1)",
        "train_time_s": train_s,
    }
    images, probs = exact_data_distribution(cfg.p_bar)
    metrics["data_entropy_bits"] = entropy_bits(probs)
    metrics["n_distinct_images"] = len(probs)
    if cfg.exact:
        kl = np.array(res["kl_bits"])
        metrics.update(
            kl_bits_mean=float(kl.mean()),
            kl_bits_std=sd(kl),
            kl_bits_min=float(kl.min()),
            kl_bits_max=float(kl.max()),
            kl_bits_per_seed=kl.tolist(),
            heldout_ll_bits_mean=float(np.mean(res["heldout_ll_bits"])),
            heldout_ll_bits_per_seed=list(res["heldout_ll_bits"]),
            expected_ll_bits_mean=float(np.mean(res["expected_ll_bits"])),
            train_ll_bits_mean=float(np.mean(res["train_ll_bits"])),
            train_ll_bits_per_seed=list(res["train_ll_bits"]),
            support_mass_mean=float(np.mean(res["support_mass"])),
            blank_prob_mean=float(np.mean(res["blank_prob"])),
            data_blank_prob=float(probs[0]),
        )
    else:
        metrics.update(kl_bits_mean=None, kl_bits_std=None, heldout_ll_bits_mean=None)
    metrics["goal_all_bars_every_seed"] = n_all == len(seeds)
    label = METHOD_LABEL[cfg.method]
    return {
        "stub": "bars-rbm",
        "paper": PAPER,
        "seed": seeds[0],
        "n_seeds": len(seeds),
        "seeds": seeds,
        "config": asdict(cfg),
        "headline": {
            "name": f"all 8 bars found ({label}, {cfg.n_hidden} hidden)",
            "claim": (
                "An RBM with 8 hidden units trained by contrastive divergence on the bars "
                "problem learns one hidden unit per bar; we test that every seed finds all 8."
            ),
            "value": n_all,
            "unit": f"of {len(seeds)} seeds",
            "paper_value": None,
            "better": "higher",
        },
        "metrics": metrics,
        "reproduces": verdict(n_all, len(seeds)),
        "wall_time_s": wall_s,
        "env": env_info(),
    }


def run(cfg: Config, seeds: list[int], progress: bool = True) -> dict:
    """Train and evaluate ``seeds`` as one batch; returns the result record.

    Raises Diverged when training diverges or a final metric is not finite."""
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        out = train(cfg, seeds, progress=progress)
        res = evaluate(cfg, out)
    rec = build_record(cfg, seeds, res, out["train_time_s"], time.perf_counter() - t0)
    try:
        assert_finite_record(rec["metrics"], "metrics")
    except ValueError as exc:
        raise Diverged(cfg.epochs, str(exc)) from None
    return rec


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code (bad input exits 2 via parser.error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
        if args.json is not None:
            check_output_path(args.json, "--json")
    except UsageError as exc:
        parser.error(str(exc))
    seeds = seeds_of(args)
    print(f"bars_rbm: seeds {seeds[0]}..{seeds[-1]} ({len(seeds)} run(s)); config:")
    print("  " + json.dumps(asdict(cfg)))
    rec = run(cfg, seeds, progress=not args.quiet)
    m = rec["metrics"]
    kl = "n/a" if m["kl_bits_mean"] is None else f"{m['kl_bits_mean']:.4f}"
    print(
        f"bars_rbm: {cfg.method} h={cfg.n_hidden}: all 8 bars on {m['n_all_bars']}/"
        f"{m['n_runs']} seeds, mean bars {m['mean_bars']:.2f}, KL {kl} bits, "
        f"train {m['train_time_s']:.2f}s, wall {rec['wall_time_s']:.2f}s, "
        f"reproduces: {rec['reproduces']}"
    )
    if args.json is not None:
        write_atomic(args.json, record_json(rec))
        print(f"bars_rbm: wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "bars_rbm.py"))
