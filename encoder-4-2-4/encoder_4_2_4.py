"""The 4-2-4 encoder learned by a Boltzmann machine (Ackley, Hinton & Sejnowski, 1985).

Ackley, D. H., Hinton, G. E. & Sejnowski, T. J. (1985). A learning algorithm for
Boltzmann machines. Cognitive Science 9(1), 147-169. doi:10.1207/s15516709cog0901_7

Two groups of four binary visible units, V1 and V2, talk to each other only through two
binary hidden units H. As in the paper (section 4), each visible group is completely
connected internally and to H, the two H units are not connected to each other, and V1
and V2 are not connected directly. The environment has four equally likely patterns:
unit i of V1 and unit i of V2 on, everything else off. To reproduce the patterns in its
free-running equilibrium the network must give the four patterns four different 2-bit
codes on H.

The file reads top to bottom like the paper's method section:

1. data: the four patterns, and the "noisy clamping" distribution over 256 visible states
2. model: energy, Boltzmann distribution at temperature T, exact enumeration of 2^10 states
3. learning rules (``--method``):
   - ``anneal``  the paper's procedure (section 4.1): stochastic binary units updated one
     at a time with the Boltzmann rule, an annealing schedule ending at the temperature at
     which co-occurrence statistics are collected, a clamped and a free phase, noisy
     clamping, and a fixed weight step times sign(p_ij - p'_ij);
   - ``exact``   the same model and objective with both phases' statistics computed by
     enumerating the 2^10 joint states, i.e. exact log-likelihood gradient ascent;
   - ``cd``      CD-k on the bipartite model (no within-group weights), as in the earlier
     reproduction;
   all three with optional restart-on-plateau.
4. the training loop, vectorised over seeds (and over sampling chains)
5. evaluation by exact enumeration: codes, recall p(V2 | V1), KL(data || model) in bits
6. sweeps over seeds and processes; 7. the result record and the command line.

Units: all weights are in the paper's units, in which the statistics are collected at
temperature T = 10, so the model is p(s) proportional to exp(-E(s) / T). Log-likelihoods
are in nats unless a name ends in ``_bits``.
"""

from __future__ import annotations

if __name__ == "__main__":  # one line and 130/143 even for a signal during the imports
    import os as _os
    import signal as _signal

    def _early_exit(signum, frame):
        word = "interrupted" if signum == _signal.SIGINT else "terminated"
        _os.write(2, f"{_os.path.basename(__file__)}: {word}\n".encode())
        _os._exit(130 if signum == _signal.SIGINT else 143)

    _signal.signal(_signal.SIGINT, _early_exit)
    _signal.signal(_signal.SIGTERM, _early_exit)

import argparse
import json
import multiprocessing as mp
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

HEADLINE_ARGS = ["--method", "all", "--sweep", "100", "--workers", "2", "--restart-every", "0"]
HEADLINE_BUDGET_S = 1200
#: golden smoke records under results/ and the command (relative to this folder) that
#: writes each (the runner adds --json PATH); compared by tools/test_golden.py
GOLDEN_RUNS = {
    "smoke.json": ["encoder_4_2_4.py", "--smoke"],
    "smoke_exact_traps.json": ["exact_traps.py", "--smoke"],
}
# float64 throughout and a fixed 25-seed chunking, so a rerun is bit-identical on this
# machine (measured: 3 reruns of smoke.json, 2 of smoke_exact_traps.json, every value
# equal); 1e-9 leaves room for another x86 BLAS kernel's last-digit rounding in the
# Hessian's central differences, far below any change a code edit makes (the smallest
# recorded effect, a Hessian eigenvalue, is ~1e-4 here).
GOLDEN_RTOL = 1e-9

PAPER = "Ackley, Hinton & Sejnowski (1985)"
PAPER_SUCCESS_RUNS = 250  # the paper: 250 of 250 runs found a solution ...
PAPER_MEDIAN_CYCLES = 110  # ... the median time to four different codes (cycles) ...
PAPER_LONGEST_CYCLES = 1810  # ... and the longest (section 4.1)
EARLIER_SUCCESS_PER_ATTEMPT = 0.20  # earlier reproduction (CD-5 on an RBM), per attempt
GOAL_SUCCESS = 98  # of 100 seeds, for anneal and for exact
CLEAR_CODE = 0.5  # a "clear" code: p(code | pattern) above this (reported, not the criterion)
GOAL_ANNEAL_SWEEP_S = 300.0  # a 100-seed anneal sweep on 2 cores
METHODS = ("anneal", "exact", "cd")

N_GROUP = 4  # units in V1 and in V2
N_VIS = 2 * N_GROUP  # visible units: V1 (0..3) then V2 (4..7)
N_HID = 2  # hidden units H
N_UNITS = N_VIS + N_HID  # the full state vector: V1, V2, H


# ---------------------------------------------------------------------------------------
# 1. Data


def make_patterns() -> np.ndarray:
    """The four environment patterns.

    Returns a float64 array of shape (4, 8): row i has V1[i] = V2[i] = 1, all else 0
    (section "The Encoder Problem" of the paper).
    """
    eye = np.eye(N_GROUP)
    return np.concatenate([eye, eye], axis=1)


PATTERNS = make_patterns()
#: all 256 visible vectors, shape (256, 8); row k is the binary expansion of k (V1[0] first)
V_ALL = ((np.arange(2**N_VIS)[:, None] >> np.arange(N_VIS)[::-1]) & 1).astype(np.float64)
#: all 4 hidden vectors, shape (4, 2)
H_ALL = ((np.arange(2**N_HID)[:, None] >> np.arange(N_HID)[::-1]) & 1).astype(np.float64)
#: index into V_ALL of each pattern, shape (4,)
PATTERN_INDEX = (PATTERNS @ (2.0 ** np.arange(N_VIS)[::-1])).astype(int)
#: all 16 states of one visible group, shape (16, 4) (first unit is the high bit)
G16 = ((np.arange(2**N_GROUP)[:, None] >> np.arange(N_GROUP)[::-1]) & 1).astype(np.float64)
#: index into G16 of V2 = e_i, the correct recall of pattern i, shape (4,)
CORRECT_V2 = (np.eye(N_GROUP) @ (2.0 ** np.arange(N_GROUP)[::-1])).astype(int)
#: indices of the 16 "pattern-like" visible states (one V1 unit and one V2 unit on), (4, 4)
#: V1[i] is bit 7 - i of the index, V2[j] bit 3 - j
PATTERN_LIKE_INDEX = (
    2 ** (N_VIS - 1 - np.arange(N_GROUP))[:, None]
    + 2 ** (N_GROUP - 1 - np.arange(N_GROUP))[None, :]
)


def data_distribution(noise_on: float = 0.0, noise_off: float = 0.0) -> np.ndarray:
    """Distribution over the 256 visible vectors that the clamped phase sees.

    With noisy clamping each clamped unit that should be on is clamped off with
    probability ``noise_on`` and each unit that should be off is clamped on with
    probability ``noise_off``, independently (the paper's "noisy clamping", 4-2-4 encoder
    section; defaults there 0.15 and 0.05). With both zero this is the clean environment:
    probability 1/4 on each pattern.

    Returns float64 array of shape (256,), summing to 1.
    """
    # p(v | pattern) = prod_i p(v_i | pattern_i)
    on = PATTERNS[:, None, :] == 1  # (4, 1, 8)
    vv = V_ALL[None, :, :]  # (1, 256, 8)
    p_bit = np.where(
        on, np.where(vv == 1, 1 - noise_on, noise_on), np.where(vv == 1, noise_off, 1 - noise_off)
    )
    return p_bit.prod(axis=2).mean(axis=0)


# ---------------------------------------------------------------------------------------
# 2. Model: energy and exact enumeration
#
# E(v, h) = - v W h - 1/2 v1 L1 v1 - 1/2 v2 L2 v2 - b_v . v - b_h . h, and
# p(v, h) = exp(-E / T) / Z (section 2 of the paper). W has shape (8, 2) (rows V1[0..3],
# V2[0..3]; columns H[0], H[1]); L1 and L2 (4, 4) are the symmetric within-group weights
# of V1 and V2 with zero diagonal (section 4: "Each visible group is completely connected
# internally and each is completely connected to H, but the units in H are not connected
# to each other"); V1 and V2 have no direct connections. The paper's thresholds theta are
# -b (it treats them as weights from a unit that is always on). Every function below is
# vectorised over a leading "seed" axis S: W (S, 8, 2), L1 and L2 (S, 4, 4), b_v (S, 8),
# b_h (S, 2). A parameter set is the list ``params = [W, L1, L2, b_v, b_h]``.

PARAM_NAMES = ("W", "L1", "L2", "b_v", "b_h")
#: connections within a visible group: every pair of distinct units, shape (4, 4)
WITHIN_MASK = 1.0 - np.eye(N_GROUP)
#: all 1024 joint states (V1, V2, H), shape (1024, 10); row 4 * k + j is V_ALL[k], H_ALL[j]
X_ALL = np.concatenate([np.repeat(V_ALL, 2**N_HID, axis=0), np.tile(H_ALL, (2**N_VIS, 1))], axis=1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)), overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def group_log_weights(L: np.ndarray) -> np.ndarray:
    """1/2 g L g for the 16 states g of one visible group (G16), shape (S, 16)."""
    return 0.5 * np.einsum("ai,sij,aj->sa", G16, L, G16)


def joint_log_weights(W, L1, L2, b_v, b_h, T: float) -> np.ndarray:
    """-E(v, h) / T for all 256 x 4 joint states. Returns (S, 256, 4) float64.

    Row k of V_ALL has V1 = G16[k // 16] and V2 = G16[k % 16], so the within-group terms
    add as an outer sum over the two groups' 16 states.
    """
    S = W.shape[0]
    within = group_log_weights(L1)[:, :, None] + group_log_weights(L2)[:, None, :]
    vw = V_ALL @ W  # (S, 256, 2)
    return (
        np.einsum("svj,hj->svh", vw, H_ALL)
        + (V_ALL @ b_v[..., None])  # (S, 256, 1)
        + within.reshape(S, 2**N_VIS, 1)
        + (b_h @ H_ALL.T)[:, None, :]  # (S, 1, 4)
    ) / T


def visible_log_probs(W, L1, L2, b_v, b_h, T: float) -> np.ndarray:
    """log p(v) in nats for all 256 visible vectors at temperature T. Returns (S, 256)."""
    lw = joint_log_weights(W, L1, L2, b_v, b_h, T)
    lv = logsumexp(lw, axis=2)  # (S, 256): -F(v)/T
    return lv - logsumexp(lv, axis=1)[:, None]


def log_likelihood(W, L1, L2, b_v, b_h, q: np.ndarray, T: float) -> np.ndarray:
    """Expected log-likelihood sum_v q(v) log p(v), in nats, per seed. Returns (S,).

    The paper's objective G = sum_v q(v) log(q(v) / p(v)) (section 3.1) is the negative
    of this plus the constant entropy of q.
    """
    return visible_log_probs(W, L1, L2, b_v, b_h, T) @ q


def moments_to_statistics(M: np.ndarray):
    """Split second moments M_ij = <s_i s_j> over the state (V1, V2, H), shape (S, 10, 10)
    (diagonal: <s_i>), into the statistics of each parameter, in ``PARAM_NAMES`` order:
    (vh (S, 8, 2), vv1 (S, 4, 4), vv2 (S, 4, 4), v (S, 8), h (S, 2)); the within-group
    blocks have their diagonal set to zero (no self-connections)."""
    g1, g2 = slice(0, N_GROUP), slice(N_GROUP, N_VIS)
    d = np.diagonal(M, axis1=1, axis2=2)
    return (
        M[:, :N_VIS, N_VIS:].copy(),
        M[:, g1, g1] * WITHIN_MASK,
        M[:, g2, g2] * WITHIN_MASK,
        d[:, :N_VIS].copy(),
        d[:, N_VIS:].copy(),
    )


def exact_statistics(W, L1, L2, b_v, b_h, q: np.ndarray, T: float):
    """Exact clamped- and free-phase statistics by enumeration.

    Clamped phase: visible vectors drawn from q (256 states), hidden units at equilibrium
    given them. Free phase: the model's equilibrium over all 2^10 joint states.

    Returns ``(pos, neg)``, each a tuple in ``PARAM_NAMES`` order (see
    ``moments_to_statistics``): the probabilities p_ij (clamped) and p'_ij (free) that
    both units of each connection are on, and the on-probabilities of single units (for
    the biases).
    """
    S = W.shape[0]
    lw = joint_log_weights(W, L1, L2, b_v, b_h, T)  # (S, 256, 4)
    p_h = np.exp(lw - logsumexp(lw, axis=2)[..., None])  # p(h | v)
    w_pos = (q[None, :, None] * p_h).reshape(S, -1)  # (S, 1024)
    flat = lw.reshape(S, -1)
    w_neg = np.exp(flat - logsumexp(flat, axis=1)[:, None])  # (S, 1024)
    pos = moments_to_statistics((X_ALL.T * w_pos[:, None, :]) @ X_ALL)
    neg = moments_to_statistics((X_ALL.T * w_neg[:, None, :]) @ X_ALL)
    return pos, neg


def exact_gradient(W, L1, L2, b_v, b_h, q: np.ndarray, T: float):
    """Gradient of ``log_likelihood`` (nats) with respect to (W, L1, L2, b_v, b_h).

    d/dw_ij sum_v q(v) log p(v) = (p_ij - p'_ij) / T: the paper's learning-rule derivation
    (section 3.1, eq. 9: dG/dw_ij = -(p_ij - p'_ij) / T). A within-group weight is one
    parameter shared by L[i, j] and L[j, i]; its gradient sits in both entries (the
    diagonal is zero). Returns ``(dW, dL1, dL2, db_v, db_h)`` with the parameters' shapes.
    """
    pos, neg = exact_statistics(W, L1, L2, b_v, b_h, q, T)
    return tuple((a - b) / T for a, b in zip(pos, neg, strict=True))


#: upper-triangle index pairs (i < j) of a visible group: its 6 free within-group weights
TRIU = np.triu_indices(N_GROUP, 1)
#: free parameters: W (16), within-V1 (6), within-V2 (6), b_v (8), b_h (2)
N_PARAMS = N_VIS * N_HID + 2 * len(TRIU[0]) + N_VIS + N_HID


def flatten_params(W, L1, L2, b_v, b_h) -> np.ndarray:
    """The 38 free parameters of each seed as one vector, shape (S, N_PARAMS): W row by
    row, the upper triangles of L1 and L2, b_v, b_h. Also flattens a gradient from
    ``exact_gradient`` (whose within-group entries hold the shared weight's gradient)."""
    S = W.shape[0]
    return np.concatenate(
        [W.reshape(S, -1), L1[:, TRIU[0], TRIU[1]], L2[:, TRIU[0], TRIU[1]], b_v, b_h], axis=1
    )


def unflatten_params(theta: np.ndarray) -> list:
    """Inverse of ``flatten_params``: (S, N_PARAMS) -> [W, L1, L2, b_v, b_h]."""
    S, k = theta.shape[0], len(TRIU[0])
    out = [theta[:, : N_VIS * N_HID].reshape(S, N_VIS, N_HID)]
    for j in range(2):
        start = N_VIS * N_HID + j * k
        L = np.zeros((S, N_GROUP, N_GROUP))
        L[:, TRIU[0], TRIU[1]] = theta[:, start : start + k]
        out.append(L + np.swapaxes(L, 1, 2))
    out.append(theta[:, -N_VIS - N_HID : -N_HID].copy())
    out.append(theta[:, -N_HID:].copy())
    return out


def _state_statistics() -> np.ndarray:
    """s_i s_j of every free parameter (and s_i of every bias) in each of the 1024 joint
    states, in ``flatten_params`` order, shape (1024, N_PARAMS)."""
    v, h = X_ALL[:, :N_VIS], X_ALL[:, N_VIS:]
    v1, v2 = v[:, :N_GROUP], v[:, N_GROUP:]
    return np.concatenate(
        [
            (v[:, :, None] * h[:, None, :]).reshape(len(X_ALL), -1),
            v1[:, TRIU[0]] * v1[:, TRIU[1]],
            v2[:, TRIU[0]] * v2[:, TRIU[1]],
            v,
            h,
        ],
        axis=1,
    )


PHI_ALL = _state_statistics()


def fisher_information(W, L1, L2, b_v, b_h, T: float) -> np.ndarray:
    """Exact Fisher information of the model's visible distribution p(v), by enumeration.

    With the score d log p(v) / d theta = (E[phi | v] - E[phi]) / T (phi: the statistics
    of ``PHI_ALL``; section 3.1's derivation applied to a single visible vector),
    F = sum_v p(v) score(v) score(v)^T, in nats per (parameter unit)^2, in
    ``flatten_params`` coordinates. Used for natural-gradient ascent (Amari 1998), a
    check that the exact method's traps are not an artefact of the plain gradient's path.

    Returns float64 (S, N_PARAMS, N_PARAMS), symmetric positive semi-definite.
    """
    lw = joint_log_weights(W, L1, L2, b_v, b_h, T)  # (S, 256, 4)
    lv = logsumexp(lw, axis=2)
    p_v = np.exp(lv - logsumexp(lv, axis=1)[:, None])  # (S, 256)
    p_h = np.exp(lw - lv[..., None])  # p(h | v)
    phi_v = np.einsum("svh,vhk->svk", p_h, PHI_ALL.reshape(2**N_VIS, 2**N_HID, -1))
    score = (phi_v - np.einsum("sv,svk->sk", p_v, phi_v)[:, None, :]) / T
    return np.einsum("sv,svk,svl->skl", p_v, score, score)


# ---------------------------------------------------------------------------------------
# 3a. The paper's sampler: stochastic binary units, one probe at a time


def coupling_matrix(W, L1, L2, b_v, b_h):
    """Pack the parameters into the symmetric (S, 10, 10) weight matrix (zero diagonal)
    and (S, 10) biases over the state vector (V1, V2, H) used by the sampler."""
    S = W.shape[0]
    A = np.zeros((S, N_UNITS, N_UNITS))
    A[:, :N_GROUP, :N_GROUP] = L1 * WITHIN_MASK
    A[:, N_GROUP:N_VIS, N_GROUP:N_VIS] = L2 * WITHIN_MASK
    A[:, :N_VIS, N_VIS:] = W
    A[:, N_VIS:, :N_VIS] = np.swapaxes(W, 1, 2)
    return A, np.concatenate([b_v, b_h], axis=1)


def boltzmann_probes(s, A, bias, temps, units, uniforms, record=None) -> None:
    """Run a sequence of single-unit probes with the Boltzmann rule, in place.

    At probe t every chain picks one unit k = ``units[t]`` and sets it to 1 with
    probability 1 / (1 + exp(-dE_k / T_t)), where dE_k = sum_i A_ki s_i + bias_k is the
    energy gap of unit k (the paper, section "The Boltzmann Machine"); the new state does
    not depend on the old state of unit k. Any symmetric A with zero diagonal works; units
    that must stay clamped are simply never probed.

    s: (S, C, n) float64 states of C chains per seed, updated in place.
    A: (S, n, n) symmetric couplings; bias: (S, n). temps: (P,) temperature of each probe.
    units: (P, S, C) int unit indices; uniforms: (P, S, C) float64 in [0, 1).
    record: None, or a (P, S, C, n) float64 array that receives the state after each probe.
    """
    S, C, n = s.shape
    flat = s.reshape(-1)
    if not np.shares_memory(flat, s):
        raise ValueError("s must be C-contiguous (it is updated in place)")
    rows = np.arange(S)[None, :, None] * n + units  # (P, S, C): row of A and of bias
    where = np.arange(S * C).reshape(S, C)[None] * n + units  # position of the unit in s
    A_rows = A.reshape(S * n, n)
    # u < sigmoid((gap) / T)  <=>  sum_i A_ki s_i > T * logit(u) - bias_k
    with np.errstate(divide="ignore"):
        thr = np.asarray(temps)[:, None, None] * (np.log(uniforms) - np.log1p(-uniforms))
    thr = thr - bias.reshape(-1)[rows]
    for t in range(len(thr)):
        flat[where[t]] = np.einsum("scn,scn->sc", A_rows[rows[t]], s) > thr[t]
        if record is not None:
            record[t] = s


SCHEDULE_MAX_UNITS = 1000  # time units of one schedule entry
SCHEDULE_MAX_TOTAL = 10_000  # time units of a whole schedule
SCHEDULE_T_RANGE = (0.01, 1000.0)  # temperatures of a schedule entry


def parse_schedule(text: str) -> list[tuple[int, float]]:
    """Parse an annealing schedule "2@20,2@15,2@12,4@10" into [(time units, T), ...]
    (the paper's notation, section 4.1).

    Raises ValueError on malformed text, time units outside 1..SCHEDULE_MAX_UNITS (or
    more than SCHEDULE_MAX_TOTAL in all), or a temperature outside SCHEDULE_T_RANGE.
    """
    out = []
    lo, hi = SCHEDULE_T_RANGE
    for part in str(text).split(","):
        try:
            n, temp = part.split("@")
            n, temp = int(n), float(temp)
        except ValueError:
            raise ValueError(f"bad schedule entry {part[:40]!r} (want N@T, e.g. 2@20)") from None
        if not 1 <= n <= SCHEDULE_MAX_UNITS:
            raise ValueError(
                f"schedule entry {part[:40]!r}: time units must be in 1..{SCHEDULE_MAX_UNITS}"
            )
        if not lo <= temp <= hi:
            raise ValueError(f"schedule entry {part[:40]!r}: temperature must be in {lo:g}..{hi:g}")
        out.append((n, temp))
    if sum(n for n, _ in out) > SCHEDULE_MAX_TOTAL:
        raise ValueError(f"schedule longer than {SCHEDULE_MAX_TOTAL} time units")
    return out


def probe_temperatures(schedule, T: float, collect_units: int, n_free: int) -> np.ndarray:
    """Temperature of every single-unit probe of one annealing, shape (P,) float64:
    for each schedule entry (time units n, temperature T_k), n * n_free probes at T_k
    (a time unit is as many probes as there are unclamped units, section 4.1, footnote
    4), then collect_units * n_free probes at the collection temperature T."""
    temps = [temp for n, temp in schedule for _ in range(n * n_free)]
    return np.array(temps + [T] * (collect_units * n_free), dtype=np.float64)


def anneal_and_collect(s, A, bias, free_units, schedule, T, collect_units, rngs, every_probe=False):
    """One phase of the paper's procedure for C chains per seed.

    Anneal along ``schedule`` [(time units, temperature), ...], then keep running at the
    final temperature ``T`` for ``collect_units`` time units, recording the state after
    each time unit (``every_probe`` False: 10 samples per annealing with the paper's 10
    time units) or after every single probe (``every_probe`` True: the time average over
    the whole collection period). A time unit is len(free_units) probes of units picked
    at random, so each free unit gets, on average, one chance to change per time unit (the
    paper's definition, section 4.1, footnote 4).

    s: (S, C, 10) initial states (clamped units already set), modified in place.
    free_units: int array of the units that may change. rngs: one Generator per seed.
    Returns the co-occurrence statistics averaged over chains and recorded states, in
    ``PARAM_NAMES`` order (``moments_to_statistics``).
    """
    S, C, _ = s.shape
    nf = len(free_units)
    temps = probe_temperatures(schedule, T, collect_units, nf)
    n_probe = len(temps)
    pick = np.empty((n_probe, S, C), dtype=np.int64)
    uni = np.empty((n_probe, S, C))
    for k, rng in enumerate(rngs):
        pick[:, k] = rng.integers(0, nf, size=(n_probe, C))
        uni[:, k] = rng.random((n_probe, C))
    units = np.asarray(free_units)[pick]
    n_anneal = n_probe - collect_units * nf
    boltzmann_probes(s, A, bias, temps[:n_anneal], units[:n_anneal], uni[:n_anneal])
    if every_probe:
        rec = np.empty((n_probe - n_anneal, S, C, N_UNITS))
        sl = slice(n_anneal, None)
        boltzmann_probes(s, A, bias, temps[sl], units[sl], uni[sl], record=rec)
        M = np.einsum("psci,pscj->sij", rec, rec)
        return moments_to_statistics(M / (C * len(rec)))
    M = np.zeros((S, N_UNITS, N_UNITS))
    for c in range(collect_units):
        lo = n_anneal + c * nf
        boltzmann_probes(s, A, bias, temps[lo : lo + nf], units[lo : lo + nf], uni[lo : lo + nf])
        M += np.swapaxes(s, 1, 2) @ s
    return moments_to_statistics(M / (C * collect_units))


# ---------------------------------------------------------------------------------------
# 3b. Configuration


@dataclass(frozen=True)
class Config:
    """Every hyperparameter of a run. Defaults are the paper's (see README for sources);
    METHOD_DEFAULTS overrides a few per method."""

    method: str = "anneal"
    cycles: int = 5000  # learning cycles (cd: epochs); the paper sets no cap (see README)
    within: bool = True  # within-group weights L1, L2 (paper, section 4); cd: bipartite
    temperature: float = 10.0  # statistics collected (and the model evaluated) at this T
    schedule: str = "2@20,2@15,2@12,4@10"  # annealing schedule before collection
    collect_units: int = 10  # time units of statistics collection at `temperature`
    collect: str = "unit"  # record a state after every time "unit" or after every "probe"
    anneals_per_pattern: int = 2  # clamped-phase annealings per pattern per cycle
    free_anneals: int = 0  # free-phase annealings per cycle; 0 = as many as clamped ones
    noise_on: float = 0.15  # noisy clamping: P(an on unit is clamped off)
    noise_off: float = 0.05  # noisy clamping: P(an off unit is clamped on)
    update: str = "sign"  # sign: dW = step * sign(p - p'); gradient: dW = T * lr * (p - p')
    step: float = 2.0  # fixed weight step of the sign rule, in the paper's weight units
    lr: float = 2.0  # gradient rate on the effective couplings W / T
    momentum: float = 0.0  # gradient update only
    init_scale: float = 0.0  # std of initial W (paper: all weights start at zero)
    cd_k: int = 5  # Gibbs steps of CD-k
    restart_every: int = 0  # restart runs still unsolved every this many cycles (0 = never)


METHOD_DEFAULTS = {
    "anneal": {},
    # exact statistics: the sign rule would turn every tiny exact difference into a full
    # step, so the exact method ascends the exact gradient; zero weights would stay
    # symmetric under deterministic updates, so it starts from small random weights.
    "exact": {"update": "gradient", "lr": 2.0, "init_scale": 1.0},
    # CD-5 on the bipartite model (block Gibbs steps are exact only there), clean
    # patterns, momentum and restarts, like the earlier reproduction; lr chosen so that
    # one attempt succeeds about as often as there (~20 %)
    "cd": {
        "within": False,
        "update": "gradient",
        "lr": 0.5,
        "momentum": 0.5,
        "noise_on": 0.0,
        "noise_off": 0.0,
        "init_scale": 1.0,
        "restart_every": 200,
    },
}


def method_config(base: Config, method: str, overrides: dict) -> Config:
    """``base`` with the method's own defaults, then the user's explicit flags on top."""
    cfg = replace(base, method=method, **METHOD_DEFAULTS[method])
    return replace(cfg, **overrides)


def seed_generators(seed: int):
    """Independent child generators (init, clamping noise, sampling) of one run's seed."""
    return [np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(3)]


def n_free_anneals(cfg: Config) -> int:
    """Free-phase annealings per cycle: ``free_anneals``, or with 0 as many as the clamped
    phase uses (the paper, section 4.1: "for as many annealings as were used to estimate
    p_ij")."""
    return cfg.free_anneals or N_GROUP * cfg.anneals_per_pattern


def init_params(cfg: Config, init_rngs):
    """Initial [W, L1, L2, b_v, b_h], shapes (S, 8, 2), (S, 4, 4), (S, 4, 4), (S, 8),
    (S, 2): W ~ N(0, init_scale^2), everything else zero (the paper starts all weights at
    zero, section 4). The init generators are drawn from even when init_scale is 0, so
    that a restart always starts from fresh weights."""
    W = np.stack([r.normal(0.0, 1.0, (N_VIS, N_HID)) for r in init_rngs]) * cfg.init_scale
    S = len(init_rngs)
    L = np.zeros((S, N_GROUP, N_GROUP))
    return [W, L, L.copy(), np.zeros((S, N_VIS)), np.zeros((S, N_HID))]


# ---------------------------------------------------------------------------------------
# 4. Learning: statistics of the two phases, the update, the training loop


def anneal_phase_statistics(params, gens, cfg: Config):
    """One learning cycle's statistics by the paper's procedure (section 4.1).

    (+) each pattern is clamped ``anneals_per_pattern`` times on V1 and V2 with noisy
    clamping, the hidden units are annealed and p_ij collected; (-) ``n_free_anneals``
    runs with nothing clamped give p'_ij. Every annealing starts from random states of
    its unclamped units. All seeds and chains are simulated together.
    Returns (pos, neg) as in ``exact_statistics``.
    """
    S = len(gens)
    A, bias = coupling_matrix(*params)
    schedule = parse_schedule(cfg.schedule)
    target = np.repeat(PATTERNS, cfg.anneals_per_pattern, axis=0)  # clamped chains
    noise_p = np.where(target == 1, cfg.noise_on, cfg.noise_off)
    s = np.empty((S, len(target), N_UNITS))
    for k, g in enumerate(gens):
        flip = g[1].random(target.shape) < noise_p
        s[k, :, :N_VIS] = np.where(flip, 1 - target, target)
        s[k, :, N_VIS:] = g[2].integers(0, 2, (len(target), N_HID))
    samplers = [g[2] for g in gens]
    hidden = np.arange(N_VIS, N_UNITS)
    every = cfg.collect == "probe"
    pos = anneal_and_collect(
        s, A, bias, hidden, schedule, cfg.temperature, cfg.collect_units, samplers, every
    )
    n_free = n_free_anneals(cfg)
    s = np.stack([g[2].integers(0, 2, (n_free, N_UNITS)) for g in gens]) * 1.0
    neg = anneal_and_collect(
        s,
        A,
        bias,
        np.arange(N_UNITS),
        schedule,
        cfg.temperature,
        cfg.collect_units,
        samplers,
        every,
    )
    return pos, neg


def cd_statistics(params, gens, cfg: Config):
    """CD-k statistics (Hinton 2002) on the bipartite model (L1 = L2 = 0), one full batch.

    Positive: the four (optionally noisy) patterns with p(h | v). Negative: after k steps
    of block Gibbs sampling started at the data, the visible sample and p(h | v_k).
    Block updates are exact Gibbs steps only because units within V and within H are not
    connected, so CD-k needs ``cfg.within`` False; the within-group statistics it returns
    are zero. Returns (pos, neg) as in ``exact_statistics``.
    """
    if cfg.within:
        raise ValueError("cd needs the bipartite model (within=False)")
    W, _, _, b_v, b_h = params
    S, T, n = len(gens), cfg.temperature, len(PATTERNS)
    noise_p = np.where(PATTERNS == 1, cfg.noise_on, cfg.noise_off)
    v0 = np.empty((S, n, N_VIS))
    r_h = np.empty((S, cfg.cd_k + 1, n, N_HID))
    r_v = np.empty((S, cfg.cd_k, n, N_VIS))
    for k, g in enumerate(gens):
        flip = g[1].random(PATTERNS.shape) < noise_p
        v0[k] = np.where(flip, 1 - PATTERNS, PATTERNS)
        r_h[k] = g[2].random(r_h.shape[1:])
        r_v[k] = g[2].random(r_v.shape[1:])
    ph0 = sigmoid((v0 @ W + b_h[:, None]) / T)
    h = (r_h[:, 0] < ph0) * 1.0
    v, ph = v0, ph0
    for t in range(cfg.cd_k):
        v = (r_v[:, t] < sigmoid((h @ np.swapaxes(W, 1, 2) + b_v[:, None]) / T)) * 1.0
        ph = sigmoid((v @ W + b_h[:, None]) / T)
        h = (r_h[:, t + 1] < ph) * 1.0
    zero = np.zeros((S, N_GROUP, N_GROUP))
    pos = (np.swapaxes(v0, 1, 2) @ ph0 / n, zero, zero, v0.mean(1), ph0.mean(1))
    neg = (np.swapaxes(v, 1, 2) @ ph / n, zero, zero, v.mean(1), ph.mean(1))
    return pos, neg


def apply_update(params, velocity, pos, neg, cfg: Config) -> None:
    """One learning cycle's weight change, in place.

    sign (the paper's fixed-size step, section 3.2 and 4.1):
        w_ij += step * sign(p_ij - p'_ij)
    gradient (exact and cd): with d = p_ij - p'_ij, the gradient of the log-likelihood
    with respect to the effective coupling w_ij / T,
        u = momentum * u + lr * d;  w_ij += T * u
    Biases are weights from an always-on unit and follow the same rule with p_i - p'_i.
    The within-group statistics have a zero diagonal, so L1 and L2 stay symmetric with
    zero diagonal; with ``cfg.within`` False they are not changed at all.
    """
    for name, x, u, a, b in zip(PARAM_NAMES, params, velocity, pos, neg, strict=True):
        if name in ("L1", "L2") and not cfg.within:
            continue
        if cfg.update == "sign":
            x += cfg.step * np.sign(a - b)
        else:
            u *= cfg.momentum
            u += cfg.lr * (a - b)
            x += cfg.temperature * u


def _history_append(hist, params, T):
    if hist is not None:
        for name, x in zip(PARAM_NAMES, params, strict=True):
            hist[name].append(x.copy())
        W, b_h = params[0], params[-1]
        hist["code_mean"].append(sigmoid((PATTERNS @ W + b_h[:, None, :]) / T))


def new_history() -> dict:
    """Container for ``train(..., hist=...)``: per-cycle copies of the parameters (keys
    ``PARAM_NAMES``) and the mean hidden code p(h_j = 1 | pattern), shape (S, 4, 2),
    starting with cycle 0."""
    return {**{name: [] for name in PARAM_NAMES}, "code_mean": []}


def train(seeds, cfg: Config, hist=None, on_cycle=None):
    """Train one network per seed with ``cfg.method``, all seeds at once.

    Each learning cycle gathers the clamped (p_ij) and free (p'_ij) statistics, by
    annealing (``anneal``), by enumeration (``exact``, the clamped phase seeing the
    noisy-clamping distribution over all 256 visible vectors) or by CD-k (``cd``), and
    then changes the weights (``apply_update``). After every cycle the networks are
    evaluated exactly (``codes_and_recall``); a run has "found a solution" at the first
    cycle at which its four patterns have four different codes (the paper's criterion,
    section 4.1: "the median time required to discover four different codes"), and we
    also note the first cycle at which, in addition, V2 is recalled from V1 for all four
    patterns. With ``restart_every`` > 0, an attempt that has not found four codes after
    a multiple of that many cycles starts again from fresh initial weights ("restart on
    plateau").

    Returns ``(params, track)``: params = [W, L1, L2, b_v, b_h] (``init_params``);
    track a dict of (S,) int arrays: ``n_restarts``; ``first``, the cycle at which the
    run's last attempt found four codes (counting the cycles of earlier attempts), -1 if
    it did not; ``recall_at_first``, the recall (0..4) of the network at that cycle, i.e.
    of a network whose learning stops as soon as the codes are distinct (-1 if never);
    ``first_recall``, the first cycle with four codes and recall 4/4 together (-1 if
    never); ``first_clear``, the first cycle with four codes each held with probability
    above ``CLEAR_CODE`` (-1 if never); ``settled``, the cycle from which on the codes
    stayed distinct to the end (-1 if the final network does not have four codes);
    ``lost_cycles``, the number of cycles after ``first`` at which the network had fewer
    than four codes (0 for a run that kept its codes for the rest of the run, the paper's
    "once there it remained there"; 0 also for runs that never found them).
    ``on_cycle(c, params)`` is called after every cycle c = 1, 2, ...

    Raises ``Diverged`` when a parameter becomes non-finite (checked every cycle).
    """
    S = len(seeds)
    gens = [seed_generators(s) for s in seeds]
    params = init_params(cfg, [g[0] for g in gens])
    velocity = [np.zeros_like(x) for x in params]
    q = data_distribution(cfg.noise_on, cfg.noise_off)
    n_restarts = np.zeros(S, dtype=int)
    first = np.full(S, -1)
    recall_at_first = np.full(S, -1)
    first_recall = np.full(S, -1)
    first_clear = np.full(S, -1)
    last_not_four = np.zeros(S, dtype=int)
    lost_cycles = np.zeros(S, dtype=int)
    _history_append(hist, params, cfg.temperature)
    for c in range(1, cfg.cycles + 1):
        if cfg.method == "anneal":
            pos, neg = anneal_phase_statistics(params, gens, cfg)
        elif cfg.method == "exact":
            pos, neg = exact_statistics(*params, q, cfg.temperature)
        else:
            pos, neg = cd_statistics(params, gens, cfg)
        apply_update(params, velocity, pos, neg, cfg)
        for name, x in zip(PARAM_NAMES, params, strict=True):
            if not np.isfinite(x).all():
                raise Diverged(c, f"weight {name}")
        _, p_code, n_codes, recall, _ = codes_and_recall(*params, cfg.temperature)
        four = n_codes == N_GROUP
        lost_cycles += (first > 0) & ~four
        new = (first < 0) & four
        first[new] = c
        recall_at_first[new] = recall[new]
        first_clear[(first_clear < 0) & four & (p_code.min(axis=1) > CLEAR_CODE)] = c
        last_not_four[~four] = c
        first_recall[(first_recall < 0) & four & (recall == N_GROUP)] = c
        if cfg.restart_every > 0 and c % cfg.restart_every == 0 and c < cfg.cycles:
            bad = first < 0
            if bad.any():
                fresh = init_params(cfg, [gens[k][0] for k in np.flatnonzero(bad)])
                for x, u, f in zip(params, velocity, fresh, strict=True):
                    x[bad] = f
                    u[bad] = 0.0
                n_restarts += bad
        _history_append(hist, params, cfg.temperature)
        if on_cycle is not None:
            on_cycle(c, params)
    track = {
        "n_restarts": n_restarts,
        "first": first,
        "recall_at_first": recall_at_first,
        "first_recall": first_recall,
        "first_clear": first_clear,
        "settled": np.where(last_not_four < cfg.cycles, last_not_four + 1, -1),
        "lost_cycles": lost_cycles,
    }
    return params, track


# ---------------------------------------------------------------------------------------
# 5. Evaluation by exact enumeration


def codes_and_recall(W, L1, L2, b_v, b_h, T: float):
    """Hidden codes and recall of S networks at temperature T, by enumeration.

    Returns ``(codes, p_code, n_codes, recall, p_recall)``:
    - codes (S, 4) int: the most probable hidden state (index into H_ALL, 0..3) given V1
      and V2 clamped to each clean pattern (the visible terms are constant given v);
    - p_code (S, 4) float64: p(h = code | pattern), the probability of that state;
    - n_codes (S,) int: number of distinct codes among the four patterns;
    - recall (S,) int: patterns whose most probable V2 given V1 is the right one, with H
      and V2 summed over exactly (16 x 4 states; the V1-only terms b_v[:4] and L1 are
      constant given V1 and cancel);
    - p_recall (S, 4) float64: p(correct V2 | V1 = pattern i).
    """
    lh = ((PATTERNS @ W + b_h[:, None, :]) / T) @ H_ALL.T  # (S, 4 patterns, 4 h)
    codes = lh.argmax(axis=2)
    p_code = np.exp(lh.max(axis=2) - logsumexp(lh, axis=2))
    n_codes = 1 + (np.diff(np.sort(codes, axis=1), axis=1) != 0).sum(axis=1)
    # p(V2, h | V1 = pattern i) over the 16 V2 states x 4 hidden states
    W1, W2 = W[:, :N_GROUP], W[:, N_GROUP:]
    top = (PATTERNS[:, :N_GROUP] @ W1 + b_h[:, None, :]) @ H_ALL.T  # (S, 4 patterns, 4 h)
    mid = np.einsum("ai,sij,hj->sah", G16, W2, H_ALL)  # (S, 16, 4)
    v2_terms = G16 @ b_v[:, N_GROUP:, None] + group_log_weights(L2)[..., None]  # (S, 16, 1)
    lj = (top[:, :, None, :] + (mid + v2_terms)[:, None, :, :]) / T  # (S, 4, 16, 4)
    lv2 = logsumexp(lj, axis=3)
    lv2 = lv2 - logsumexp(lv2, axis=2)[..., None]  # log p(V2 | V1 = pattern)
    recall = (lv2.argmax(axis=2) == CORRECT_V2[None, :]).sum(axis=1)
    p_recall = np.exp(lv2[:, np.arange(N_GROUP), CORRECT_V2])
    return codes, p_code, n_codes, recall, p_recall


def evaluate(
    W, L1, L2, b_v, b_h, T: float, noise_on: float = 0.15, noise_off: float = 0.05
) -> dict:
    """Exact evaluation of S networks at temperature T.

    - ``codes``, ``p_code``, ``n_codes``, ``recall``, ``p_recall``: see
      ``codes_and_recall``;
    - ``kl_bits`` (S,): KL(clean data || model) over the 256 visible states, in bits;
      ``kl_noisy_bits`` (S,): KL(noisy-clamping data || model), the training objective;
    - ``four_codes`` (S,) bool: four distinct codes (the paper's success criterion);
    - ``success`` (S,) bool: four distinct codes and recall 4/4.
    """
    codes, p_code, n_codes, recall, p_recall = codes_and_recall(W, L1, L2, b_v, b_h, T)
    lp = visible_log_probs(W, L1, L2, b_v, b_h, T)  # (S, 256)

    def kl_bits(q):
        nz = q > 0
        return (q[nz] * (np.log(q[nz])[None, :] - lp[:, nz])).sum(axis=1) / np.log(2)

    four = n_codes == N_GROUP
    return {
        "codes": codes,
        "p_code": p_code,
        "n_codes": n_codes,
        "recall": recall,
        "p_recall": p_recall,
        "kl_bits": kl_bits(data_distribution(0.0, 0.0)),
        "kl_noisy_bits": kl_bits(data_distribution(noise_on, noise_off)),
        "four_codes": four,
        "success": four & (recall == N_GROUP),
    }


def pattern_like_probs(W, L1, L2, b_v, b_h, T: float) -> np.ndarray:
    """Free-running p(v) of the 16 "pattern-like" visible states (one V1 unit and one
    V2 unit on), shape (S, 4, 4): entry [i, j] has V1[i] and V2[j] on."""
    return np.exp(visible_log_probs(W, L1, L2, b_v, b_h, T))[:, PATTERN_LIKE_INDEX]


# ---------------------------------------------------------------------------------------
# 6. Runs and sweeps


def run_seeds(seeds, cfg: Config, hist=None, progress=None) -> dict:
    """Train ``cfg.method`` for every seed in ``seeds`` at once (``train``).

    Returns per-seed lists: success (the run found four different codes at some cycle of
    its last attempt), first_success_cycle (that cycle, counting the cycles of earlier
    attempts; None if never), success_recall and first_recall_cycle (the same for four
    codes together with recall 4/4), recall_at_first_success (recall of the network at
    first_success_cycle), first_clear_cycle (the first cycle with four codes, each of
    probability above CLEAR_CODE given its pattern), settled_cycle (the cycle from which
    on the codes stayed distinct; None if the final network lacks four codes),
    kept_four_codes (four codes found and held at every later cycle), lost_cycles (cycles
    after the first success with fewer than four codes), four_codes_at_end and
    solved_at_end (the criteria
    met by the final weights), n_codes, recall, kl_bits, kl_noisy_bits, codes (of the
    final weights), n_restarts, and the final params (keys ``PARAM_NAMES``) as nested
    lists.
    """
    T = cfg.temperature

    def on_cycle(c, params):
        if progress is not None:
            progress(c)

    params, track = train(seeds, cfg, hist=hist, on_cycle=on_cycle)
    first, first_recall = track["first"], track["first_recall"]
    ev = evaluate(*params, T, cfg.noise_on, cfg.noise_off)
    return {
        "seeds": list(seeds),
        "success": (first > 0).tolist(),
        "first_success_cycle": [int(f) if f > 0 else None for f in first],
        "recall_at_first_success": [int(r) if r >= 0 else None for r in track["recall_at_first"]],
        "success_recall": (first_recall > 0).tolist(),
        "first_recall_cycle": [int(f) if f > 0 else None for f in first_recall],
        "settled_cycle": [int(f) if f > 0 else None for f in track["settled"]],
        "kept_four_codes": ((first > 0) & (track["lost_cycles"] == 0)).tolist(),
        "lost_cycles": track["lost_cycles"].tolist(),
        "first_clear_cycle": [int(f) if f > 0 else None for f in track["first_clear"]],
        "four_codes_at_end": ev["four_codes"].tolist(),
        "solved_at_end": ev["success"].tolist(),
        "n_codes": ev["n_codes"].tolist(),
        "recall": ev["recall"].tolist(),
        "kl_bits": ev["kl_bits"].tolist(),
        "kl_noisy_bits": ev["kl_noisy_bits"].tolist(),
        "codes": ev["codes"].tolist(),
        **{name: x.tolist() for name, x in zip(PARAM_NAMES, params, strict=True)},
        "n_restarts": track["n_restarts"].tolist(),
    }


def progress_printer(cfg: Config, tag: str = "", log=print):
    """A per-cycle callback that prints cycle, elapsed time and ETA eight times a run."""
    t0 = time.perf_counter()
    every = max(1, cfg.cycles // 8)

    def progress(c):
        if c % every == 0 or c == cfg.cycles:
            el = time.perf_counter() - t0
            log(
                f"  {cfg.method}{tag}: cycle {c}/{cfg.cycles}  elapsed {el:.1f} s  "
                f"ETA {el / c * (cfg.cycles - c):.1f} s"
            )

    return progress


#: seeds per vectorised chunk of a sweep: fixed, so that a seed's arithmetic (and thus
#: every result) is the same for every number of worker processes
SWEEP_CHUNK = 25


def _run_chunk(args):
    seeds, cfg, tag = args
    log = (lambda s: print(s, flush=True)) if tag else None
    return run_seeds(seeds, cfg, progress=progress_printer(cfg, tag, log) if tag else None)


def _worker_init() -> None:
    """Worker processes leave Ctrl-C and SIGTERM to the parent, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_sweep(seeds, cfg: Config, workers: int = 1, log=print) -> dict:
    """Run ``seeds`` for one method in consecutive chunks of ``SWEEP_CHUNK`` seeds (each
    chunk vectorised), spread over up to ``workers`` processes; the first chunk prints
    the progress lines. The chunks do not depend on ``workers`` and the per-seed results
    are merged in seed order, so every result is identical for every ``workers`` value.
    Returns the merged per-seed dict plus ``wall_time_s``."""
    seeds = list(seeds)
    t0 = time.perf_counter()
    chunks = [seeds[i : i + SWEEP_CHUNK] for i in range(0, len(seeds), SWEEP_CHUNK)]
    tags = [f" (chunk 1 of {len(chunks)})"] + [""] * (len(chunks) - 1)
    jobs = [(c, cfg, g) for c, g in zip(chunks, tags, strict=True)]
    n_proc = min(workers, len(chunks))
    if n_proc <= 1:
        parts = [_run_chunk(j) for j in jobs]
    else:
        pool = mp.get_context("fork").Pool(n_proc, initializer=_worker_init)
        try:
            parts = pool.map(_run_chunk, jobs, chunksize=1)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
        log(f"  {cfg.method}: {len(seeds)} seeds, {len(chunks)} chunks, {n_proc} processes")
    out = {key: [v for p in parts for v in p[key]] for key in parts[0]}
    out["wall_time_s"] = time.perf_counter() - t0
    return out


def goal_met(n_success: int, n_runs: int) -> bool:
    """The folder's bar: at least GOAL_SUCCESS percent of the seeds (98 of 100 passes,
    97 of 100 does not). Compared in integers, so there is no rounding at the boundary."""
    return 100 * n_success >= GOAL_SUCCESS * n_runs


def summarize(res: dict) -> dict:
    """Aggregate one method's per-seed results into the record's metrics.

    ``n_success`` / ``success_rate`` / ``*_learning_cycles`` use the paper's criterion
    (four different codes), ``n_success_within_paper_longest`` counts the seeds that met
    it within the paper's longest time (1810 cycles); ``n_success_recall`` /
    ``*_cycles_recall`` use four codes together with recall 4/4;
    ``n_recall_at_first_success`` counts seeds with recall 4/4 at the cycle the codes
    first became distinct; ``n_four_codes_at_end`` / ``n_solved_at_end`` judge the final
    weights by the two criteria; ``n_clear_codes`` / ``median_cycles_clear`` use four
    codes each held with probability above CLEAR_CODE; ``median_settled_cycles`` is the
    median cycle from which on the codes stayed distinct; ``n_kept_four_codes`` counts
    the seeds that found four codes and had them at every later cycle (the paper's "once
    there it remained there"), ``median_lost_cycles`` is the median number of later
    cycles without four codes among the seeds that found them.
    ``sd_kl_bits_sample`` is the sample standard deviation (ddof 1) over seeds; means are
    taken over the per-seed lists in seed order."""

    def cycles(key, ok):
        return [c for c, s in zip(res[key], res[ok], strict=True) if s]

    succ = np.array(res["success"])
    cyc = cycles("first_success_cycle", "success")
    cyc_r = cycles("first_recall_cycle", "success_recall")
    settled = cycles("settled_cycle", "four_codes_at_end")
    clear = [c for c in res["first_clear_cycle"] if c is not None]
    kl = np.array(res["kl_bits"])
    lost = cycles("lost_cycles", "success")
    attempts = len(succ) + int(np.sum(res["n_restarts"]))
    return {
        "n_runs": int(len(succ)),
        "n_success": int(succ.sum()),
        "success_rate": float(succ.mean()),
        "median_learning_cycles": float(np.median(cyc)) if cyc else None,
        "mean_learning_cycles": float(np.mean(cyc)) if cyc else None,
        "max_learning_cycles": int(np.max(cyc)) if cyc else None,
        "n_success_within_paper_longest": sum(c <= PAPER_LONGEST_CYCLES for c in cyc),
        "n_success_recall": int(np.sum(res["success_recall"])),
        "n_recall_at_first_success": sum(r == N_GROUP for r in res["recall_at_first_success"]),
        "median_cycles_recall": float(np.median(cyc_r)) if cyc_r else None,
        "n_clear_codes": len(clear),
        "median_cycles_clear": float(np.median(clear)) if clear else None,
        "n_kept_four_codes": int(np.sum(res["kept_four_codes"])),
        "median_lost_cycles": float(np.median(lost)) if lost else None,
        "n_four_codes_at_end": int(np.sum(res["four_codes_at_end"])),
        "median_settled_cycles": float(np.median(settled)) if settled else None,
        "n_solved_at_end": int(np.sum(res["solved_at_end"])),
        "mean_kl_bits": float(kl.mean()),
        "sd_kl_bits_sample": float(kl.std(ddof=1)) if len(kl) > 1 else None,
        "mean_kl_noisy_bits": float(np.mean(res["kl_noisy_bits"])),
        "mean_recall": float(np.mean(res["recall"])),
        "wall_time_s": float(res["wall_time_s"]),
        "n_attempts": attempts,
        "success_per_attempt": float(succ.sum() / attempts),
    }


# ---------------------------------------------------------------------------------------
# 7. The command-line and file contract (shared by every entry script of this folder)


class Diverged(Exception):
    """Training produced a non-finite number: ``cycle`` (1-based) and ``what``."""

    def __init__(self, cycle: int, what: str):
        super().__init__(f"diverged at cycle {cycle} ({what} is not finite)")
        self.cycle, self.what = cycle, what


class Terminated(BaseException):
    """SIGTERM turned into an exception, so that ``finally`` blocks and clean-ups run."""


class WriteError(Exception):
    """An output file could not be written: ``path`` and the OS's ``strerror``."""

    def __init__(self, path, strerror: str):
        super().__init__(f"cannot write {path}: {strerror}")
        self.path, self.strerror = path, strerror


class CleanParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are exactly one line on stderr and exit code 2."""

    def error(self, message: str) -> None:
        one_line = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {one_line}\n")

    def _get_values(self, action, arg_strings):
        # argparse drops a lone "--" given as an option's value ("--seed=--") and stores
        # nothing without calling the type; refuse it instead
        if action.option_strings and arg_strings and set(arg_strings) == {"--"}:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, not '--'")
        return super()._get_values(action, arg_strings)


def _short(text: str, n: int = 40) -> str:
    text = str(text)
    return repr(text if len(text) <= n else text[:n] + "...")


def int_in(lo: int, hi: int):
    """argparse type: an integer in [lo, hi]. Rejects non-integers ("1.5", "nan") and
    out-of-range values with ``argparse.ArgumentTypeError`` (one line, exit 2). The
    returned callable carries ``kind`` "int", ``lo``, ``hi``, ``lo_open``, ``hi_open``."""

    def parse(text: str) -> int:
        try:
            v = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer in [{lo}, {hi}], got {_short(text)}"
            ) from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{_short(v)} is outside [{lo}, {hi}]")
        return v

    parse.kind, parse.lo, parse.hi, parse.lo_open, parse.hi_open = "int", lo, hi, False, False
    parse.__name__ = "int"
    return parse


def float_in(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    """argparse type: a finite float in the interval lo..hi (open at an end whose flag is
    True). Rejects non-numbers, NaN, inf and out-of-range values with
    ``argparse.ArgumentTypeError``; carries ``kind`` "float", ``lo``, ``hi``,
    ``lo_open``, ``hi_open``."""
    interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"

    def parse(text: str) -> float:
        try:
            v = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number in {interval}, got {_short(text)}"
            ) from None
        if not np.isfinite(v):
            raise argparse.ArgumentTypeError(f"expected a finite number in {interval}, got {v}")
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            raise argparse.ArgumentTypeError(f"{v:g} is outside {interval}")
        return v

    parse.kind, parse.lo, parse.hi, parse.lo_open, parse.hi_open = (
        "float",
        lo,
        hi,
        lo_open,
        hi_open,
    )
    parse.__name__ = "float"
    return parse


def check_output_path(parser: CleanParser, path: Path, flag: str, suffix: str = "") -> Path:
    """Check an output path right after parsing, before any work: create the parent
    folder if missing; it must be a writable folder (probed by creating and deleting a
    temporary file), the target must not be a folder, its name must fit the file system
    and end in ``suffix`` (if given). Failure: one line naming the path, exit 2."""
    if not str(path).strip():
        parser.error(f"{flag} {str(path)!r}: empty path")
    path = Path(path)
    if suffix and path.suffix != suffix:
        parser.error(f"{flag} {path}: the name must end in {suffix}")
    if path.name in ("", ".", ".."):
        parser.error(f"{flag} {path}: not a file name")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if not parent.is_dir():
            parser.error(f"{flag} {path}: {parent} is not a folder")
        if len(os.fsencode(path.name)) > os.pathconf(parent, "PC_NAME_MAX") - 10:
            parser.error(f"{flag} {path}: file name too long")
        if path.is_dir():
            parser.error(f"{flag} {path}: is a folder")
        if path.exists() and not os.access(path, os.W_OK):
            parser.error(f"{flag} {path}: not writable")
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        parser.error(f"{flag} {path}: cannot write there ({exc.strerror or exc})")
    return path


def check_dir_path(parser: CleanParser, path: Path, flag: str) -> Path:
    """Like ``check_output_path`` for an output folder (created if missing)."""
    if not str(path).strip():
        parser.error(f"{flag} {str(path)!r}: empty path")
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            parser.error(f"{flag} {path}: not a folder")
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        parser.error(f"{flag} {path}: cannot write there ({exc.strerror or exc})")
    return path


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_atomic(path, data) -> None:
    """Write ``data`` (bytes, str, or a callable that writes to a binary file object) to
    ``path`` atomically: a temporary file in the target's folder, flush, ``os.replace``.
    SIGINT and SIGTERM are blocked from before the temporary file exists until it has
    been renamed or removed, and it is removed on every failure path. Raises
    ``WriteError`` on an OSError."""
    path = Path(path)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise WriteError(path, exc.strerror or str(exc)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def check_finite(obj, where: str = "record") -> None:
    """Raise ValueError if any float in a nested dict/list is NaN or infinite."""
    if isinstance(obj, float):
        if not np.isfinite(obj):
            raise ValueError(f"{where} is not finite")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            check_finite(v, f"{where}.{k}")
    elif isinstance(obj, list | tuple):
        for k, v in enumerate(obj):
            check_finite(v, f"{where}[{k}]")


def dumps_record(rec: dict) -> str:
    """Strict JSON (``allow_nan=False``, indent 1) after a walk that rejects non-finite
    floats."""
    check_finite(rec)
    return json.dumps(rec, allow_nan=False, indent=1) + "\n"


def _raise_terminated(signum, frame):
    raise Terminated()


def run_main(main_fn, prog: str, argv=None, final: bool = False) -> int:
    """Run ``main_fn(argv)`` under the folder's exit-code contract: 0 ok, 2 bad input,
    3 diverged, 74 cannot write output, 130 interrupted (SIGINT), 143 terminated
    (SIGTERM); each failure is one line on stderr, never a traceback.

    With ``final`` (the script's own ``__main__``), SIGINT and SIGTERM stay blocked after
    ``main_fn`` has finished, so a signal that arrives while the interpreter shuts down
    cannot kill it half-way; otherwise the previous signal handlers are restored."""
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    msg = None
    try:
        code = main_fn(argv)
    except KeyboardInterrupt:
        code, msg = 130, "interrupted"
    except Terminated:
        code, msg = 143, "terminated"
    except Diverged as exc:
        code, msg = 3, f"{exc}; lower --step or --lr"
    except WriteError as exc:
        code, msg = 74, f"error: {exc}"
    finally:
        if final:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        else:
            for s, h in old.items():
                signal.signal(s, h)
    if msg is not None:
        try:
            print(f"{prog}: {msg}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    return code


def env_info() -> dict:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],  # other jobs on the machine slow timings
    }


def build_record(
    methods_run: dict,
    configs: dict,
    seed0: int,
    n_seeds: int,
    wall: float,
    workers: int,
    smoke: bool,
) -> dict:
    """The result record (STUB_SPEC). ``methods_run``: method -> per-seed results."""
    metrics = {m: summarize(r) for m, r in methods_run.items()}
    metrics["per_seed"] = {
        m: {
            k: r[k]
            for k in (
                "seeds",
                "success",
                "first_success_cycle",
                "recall_at_first_success",
                "success_recall",
                "first_recall_cycle",
                "settled_cycle",
                "first_clear_cycle",
                "kept_four_codes",
                "lost_cycles",
                "four_codes_at_end",
                "solved_at_end",
                "n_restarts",
                "kl_bits",
                "kl_noisy_bits",
                "n_codes",
                "recall",
            )
        }
        for m, r in methods_run.items()
    }
    lead = "anneal" if "anneal" in metrics else next(iter(metrics))
    timing = {}  # machine-dependent: kept out of the golden comparison by its name
    if lead == "anneal":
        timing["anneal_sweep_s"] = metrics["anneal"]["wall_time_s"]
        timing["anneal_sweep_goal_s"] = GOAL_ANNEAL_SWEEP_S * n_seeds / 100
        timing["anneal_sweep_under_goal"] = bool(
            timing["anneal_sweep_s"] < timing["anneal_sweep_goal_s"]
        )
    rate = 100.0 * metrics[lead]["success_rate"]
    # goals: >= 98 % of seeds for anneal and for exact. "yes" needs every goal met on a
    # sweep of >= 50 seeds; "partial" when the paper's method at least beats the earlier
    # reproduction's success per attempt (about 20 %).
    met = [
        goal_met(metrics[m]["n_success"], metrics[m]["n_runs"])
        for m in ("anneal", "exact")
        if m in metrics
    ]
    if all(met) and n_seeds >= 50 and not smoke:
        reproduces = "yes"
    elif metrics[lead]["success_per_attempt"] > EARLIER_SUCCESS_PER_ATTEMPT:
        reproduces = "partial"
    else:
        reproduces = "no"
    restart = configs[lead].restart_every
    name = f"{lead}: seeds with four different codes" + (
        f" (restart every {restart})" if restart else ""
    )
    return {
        "stub": "encoder-4-2-4",
        "paper": PAPER,
        "seed": seed0,
        "n_seeds": n_seeds,
        "config": {
            "workers": workers,
            "smoke": smoke,
            **{m: asdict(c) for m, c in configs.items()},
        },
        "headline": {
            "name": name,
            "claim": "A Boltzmann machine learned by simulated annealing finds a 4-2-4 "
            "encoder solution (four different hidden codes) on every run: 250 of 250 in the "
            "paper; we test >= 98 of 100 seeds.",
            "value": rate,
            "unit": "% of seeds",
            "paper_value": 100.0,
            "better": "higher",
        },
        "metrics": metrics,
        "reproduces": reproduces,
        "wall_time_s": wall,
        "timing": timing,
        "env": env_info(),
    }


MAX_SEED = 2**32 - 1
MAX_SEED_CYCLES = 2_000_000  # seeds x cycles of one command: about 30 min of anneal on 2 cores


def _method_list(text: str) -> str:
    for m in str(text).split(","):
        if m not in METHODS + ("all",):
            raise argparse.ArgumentTypeError(
                f"invalid choice {_short(m)} (choose anneal, exact, cd, all, or a "
                "comma-separated list)"
            )
    return str(text)


def _schedule(text: str) -> str:
    try:
        parse_schedule(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return str(text)


def build_parser() -> CleanParser:
    """The command line of encoder_4_2_4.py; every numeric flag is range-checked."""
    d = Config()
    p = CleanParser(
        prog="encoder_4_2_4.py",
        description="4-2-4 encoder Boltzmann machine (Ackley, Hinton & Sejnowski 1985). "
        "Exit codes: 0 ok, 2 bad input, 3 diverged, 74 cannot write output, "
        "130 interrupted, 143 terminated.",
    )
    add = p.add_argument
    add(
        "--method",
        type=_method_list,
        default=None,
        help="anneal | exact | cd | all, or a comma-separated list (default anneal; smoke: all)",
    )
    add(
        "--seed",
        type=int_in(0, MAX_SEED),
        default=0,
        help=f"seed of a single run, or the first seed of --sweep (int, 0..{MAX_SEED}; default 0)",
    )
    add(
        "--sweep",
        type=int_in(0, 10_000),
        default=0,
        help="run N seeds, --seed .. --seed+N-1; 0 = one run (int, 0..10000; default 0)",
    )
    add(
        "--workers",
        type=int_in(1, 64),
        default=1,
        help="processes for a sweep; results do not depend on it (int, 1..64; default 1)",
    )
    add("--json", type=str, default=None, help="write the result record here (path, .json)")
    add("--smoke", action="store_true", help="tiny configuration for CI (2 seeds, 40 cycles)")
    add(
        "--cycles",
        type=int_in(1, 100_000),
        default=None,
        help=f"learning cycles (cd: epochs) (int, 1..100000; default {d.cycles})",
    )
    add(
        "--within",
        choices=("on", "off"),
        default=None,
        help="weights within V1 and within V2 (default: anneal/exact on, cd off)",
    )
    add(
        "--temperature",
        type=float_in(0.01, 1000.0),
        default=None,
        help="temperature T of statistics collection and evaluation, in the paper's weight "
        f"units (float, 0.01..1000; default {d.temperature:g})",
    )
    add(
        "--schedule",
        type=_schedule,
        default=None,
        help="annealing schedule N@T,... (time units 1..1000 at T 0.01..1000, at most 10000 "
        f"time units in all; default {d.schedule})",
    )
    add(
        "--collect-units",
        type=int_in(1, 1000),
        default=None,
        help=f"time units of statistics collection at T (int, 1..1000; default {d.collect_units})",
    )
    add(
        "--collect",
        choices=("unit", "probe"),
        default=None,
        help="record the state after every time unit or after every single probe during "
        "collection (default unit)",
    )
    add(
        "--anneals-per-pattern",
        type=int_in(1, 64),
        default=None,
        help=f"clamped annealings per pattern per cycle (int, 1..64; default "
        f"{d.anneals_per_pattern})",
    )
    add(
        "--free-anneals",
        type=int_in(0, 256),
        default=None,
        help="free annealings per cycle, 0 = as many as clamped ones, the paper "
        "(int, 0..256; default 0)",
    )
    add(
        "--step",
        type=float_in(0.0, 100.0, lo_open=True),
        default=None,
        help=f"sign-rule weight step, paper's weight units (float, 0 < step <= 100; default "
        f"{d.step:g})",
    )
    add(
        "--noise-on",
        type=float_in(0.0, 0.5, hi_open=True),
        default=None,
        help=f"P(on unit clamped off) (float, 0 <= p < 0.5; default {d.noise_on:g}; cd 0)",
    )
    add(
        "--noise-off",
        type=float_in(0.0, 0.5, hi_open=True),
        default=None,
        help=f"P(off unit clamped on) (float, 0 <= p < 0.5; default {d.noise_off:g}; cd 0)",
    )
    add(
        "--update",
        choices=("sign", "gradient"),
        default=None,
        help="sign | gradient (default: anneal sign, exact and cd gradient)",
    )
    add(
        "--lr",
        type=float_in(0.0, 100.0, lo_open=True),
        default=None,
        help="gradient rate on the couplings W/T, per cycle (float, 0 < lr <= 100; default "
        "exact 2, cd 0.5)",
    )
    add(
        "--init-scale",
        type=float_in(0.0, 100.0),
        default=None,
        help="std of the initial W, paper's weight units (float, 0..100; default anneal 0, "
        "exact 1, cd 1)",
    )
    add(
        "--cd-k",
        type=int_in(1, 1000),
        default=None,
        help=f"Gibbs steps of CD-k (int, 1..1000; default {d.cd_k})",
    )
    add(
        "--momentum",
        type=float_in(0.0, 0.99),
        default=None,
        help="momentum of the gradient update (float, 0..0.99; default 0, cd 0.5)",
    )
    add(
        "--restart-every",
        type=int_in(0, 100_000),
        default=None,
        help="restart runs unsolved after every N cycles, 0 = never (int, 0..100000; "
        "default anneal/exact 0, cd 200)",
    )
    return p


FLAG_FIELDS = (
    "cycles",
    "temperature",
    "schedule",
    "collect_units",
    "collect",
    "anneals_per_pattern",
    "free_anneals",
    "step",
    "noise_on",
    "noise_off",
    "update",
    "lr",
    "init_scale",
    "cd_k",
    "momentum",
    "restart_every",
)


def selected_methods(a: argparse.Namespace) -> tuple[str, ...]:
    """The methods a (validated) command line asks for, in METHODS order."""
    wanted = (a.method or ("all" if a.smoke else "anneal")).split(",")
    return tuple(m for m in METHODS if m in wanted or "all" in wanted)


SMOKE = {
    "cycles": 40,
    "collect_units": 4,
    "anneals_per_pattern": 1,
    "restart_every": 20,
}


def run_seed_list(a: argparse.Namespace) -> list[int]:
    """Seeds of a command line: --sweep N --seed S runs S..S+N-1; without --sweep one
    seed (two with --smoke)."""
    n = a.sweep if a.sweep > 0 else (2 if a.smoke else 1)
    return list(range(a.seed, a.seed + n))


def check_args(p: CleanParser, a: argparse.Namespace) -> None:
    """Cross-flag checks right after parsing (each failure: one line, exit 2)."""
    if a.within == "on" and "cd" in selected_methods(a):
        p.error("--within on: cd needs the bipartite model (run anneal or exact)")
    seeds = run_seed_list(a)
    if seeds[-1] > MAX_SEED:
        p.error(f"--seed + --sweep - 1 = {seeds[-1]} exceeds the largest seed {MAX_SEED}")
    cycles = a.cycles or (SMOKE["cycles"] if a.smoke else Config.cycles)
    if len(seeds) * cycles > MAX_SEED_CYCLES:
        p.error(
            f"{len(seeds)} seeds x {cycles} cycles exceeds {MAX_SEED_CYCLES} seed-cycles "
            "(too long for one command; split the sweep with --seed)"
        )
    if a.json is not None:
        a.json = check_output_path(p, a.json, "--json", ".json")


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    check_args(p, a)
    overrides = {k: getattr(a, k) for k in FLAG_FIELDS if getattr(a, k) is not None}
    if a.within is not None:
        overrides["within"] = a.within == "on"
    if a.smoke:
        overrides = {**SMOKE, **overrides}
    seeds = run_seed_list(a)
    methods = selected_methods(a)
    configs = {m: method_config(Config(), m, overrides) for m in methods}
    print(
        f"encoder-4-2-4: methods {', '.join(methods)}; seeds {seeds[0]}..{seeds[-1]} "
        f"({len(seeds)}); workers {a.workers}",
        flush=True,
    )
    for m, c in configs.items():
        print(f"  config[{m}]: {asdict(c)}", flush=True)
    t0 = time.perf_counter()
    results = {}
    for m in methods:
        res = run_sweep(seeds, configs[m], workers=a.workers, log=lambda s: print(s, flush=True))
        results[m] = res
        s = summarize(res)
        print(
            f"  {m}: four codes {s['n_success']}/{s['n_runs']} (median cycles "
            f"{s['median_learning_cycles']}, longest {s['max_learning_cycles']}), kept "
            f"{s['n_kept_four_codes']}, with recall 4/4 {s['n_success_recall']}/{s['n_runs']}, "
            f"at the end {s['n_four_codes_at_end']} / {s['n_solved_at_end']}; mean KL "
            f"{s['mean_kl_bits']:.3f} bits, {s['wall_time_s']:.1f} s",
            flush=True,
        )
    wall = time.perf_counter() - t0
    rec = build_record(results, configs, seeds[0], len(seeds), wall, a.workers, a.smoke)
    if a.json is not None:
        write_atomic(a.json, dumps_record(rec))
    h = rec["headline"]
    print(
        f"summary: {h['name']} {h['value']:.1f} {h['unit']} (paper {h['paper_value']:.0f}); "
        f"reproduces: {rec['reproduces']}; wall {wall:.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "encoder_4_2_4.py", final=True))
