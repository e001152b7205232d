#!/usr/bin/env python3
"""XOR learned by back-propagation (Rumelhart, Hinton & Williams 1986).

Reads top to bottom like a method section: data, model (forward and hand-written
backward pass), learning rule (full-batch gradient descent with momentum), the
perturb-on-plateau wrapper, the training loop (vectorised over seeds), evaluation and
the command line.

Two networks (``--arch``):

* ``2-2-1``    two inputs, two logistic hidden units, one logistic output unit.
* ``2-1-skip`` two inputs, ONE logistic hidden unit, and direct input-to-output
  connections: the one-hidden-unit XOR network of PDP Vol. 1 ch. 8.

Every unit has a bias (a weight from an always-on input, Nature eq. 1 remark). The
error is E = c * 1/2 * sum_p (o_p - y_p)^2 with c = 1/4 (``--reduction mean``, the
default of this repository) or c = 1 (``--reduction sum``, the paper's eq. 3).

A whole sweep of seeds is trained as ONE batch of networks: every parameter array has
a leading seed axis S, and all arithmetic is elementwise or a reduction over a tiny
fixed axis, so a seed's trajectory is bit-identical whether it is trained alone or
inside a sweep (tested in test_xor.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HEADLINE_ARGS = ["--sweep", "100"]
HEADLINE_BUDGET_S = 120

PAPER = "Rumelhart, Hinton & Williams (1986)"
PAPER_SWEEPS = 558  # PDP Vol. 1 ch. 8, p. 331: one run of the one-hidden-unit net, eta 0.5
GOAL_CONVERGED_FRACTION = 0.99  # issue 2: >= 99 of 100 seeds converge with the defaults
PARTIAL_CONVERGED_FRACTION = 0.90

# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------

#: The four XOR patterns, shape (4, 2), float64; rows are (x1, x2).
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
#: Targets, shape (4, 1), float64: x1 XOR x2.
Y = np.array([[0.0], [1.0], [1.0], [0.0]])

# ----------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------

#: arch name -> (number of hidden units H, direct input-to-output connections?)
ARCHS = {"2-2-1": (2, False), "2-1-skip": (1, True)}


def param_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """Shapes of one network's parameters, in the fixed order they are initialised.

    ``W_ih`` (2, H) input->hidden weights, ``b_h`` (H,) hidden biases, ``W_ho`` (H, 1)
    hidden->output weights, ``b_o`` (1,) output bias and, for ``2-1-skip`` only,
    ``W_io`` (2, 1) direct input->output weights. Raises KeyError for an unknown arch.
    """
    n_hidden, skip = ARCHS[arch]
    shapes = {"W_ih": (2, n_hidden), "b_h": (n_hidden,), "W_ho": (n_hidden, 1), "b_o": (1,)}
    if skip:
        shapes["W_io"] = (2, 1)
    return shapes


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-z)) (Nature eq. 2), elementwise, float64."""
    return 1.0 / (1.0 + np.exp(-z))


def forward(params: dict[str, np.ndarray], X: np.ndarray = X) -> tuple[np.ndarray, np.ndarray]:
    """Forward pass of a batch of S networks on all P patterns (Nature eqs. 1-2).

    params: arrays with a leading seed axis, e.g. ``W_ih`` (S, 2, H); see param_shapes.
    X: inputs, shape (P, 2), float64.
    Returns (o, h): outputs (S, P, 1) and hidden states (S, P, H), float64 in (0, 1).
    Contractions are written as broadcast products summed over one small axis (never
    BLAS), so each network's numbers do not depend on how many others share the batch.
    """
    x = X[None, :, :, None]  # (1, P, 2, 1)
    a_h = (x * params["W_ih"][:, None, :, :]).sum(axis=2) + params["b_h"][:, None, :]
    h = sigmoid(a_h)  # (S, P, H)
    a_o = (h[:, :, :, None] * params["W_ho"][:, None, :, :]).sum(axis=2)
    if "W_io" in params:
        a_o = a_o + (x * params["W_io"][:, None, :, :]).sum(axis=2)
    o = sigmoid(a_o + params["b_o"][:, None, :])  # (S, P, 1)
    return o, h


def error_scale(reduction: str, n_patterns: int = 4) -> float:
    """c in E = c * 1/2 sum_p (o - y)^2: 1/P for ``mean``, 1 for ``sum`` (paper eq. 3).

    Raises ValueError for any other reduction.
    """
    if reduction == "mean":
        return 1.0 / n_patterns
    if reduction == "sum":
        return 1.0
    raise ValueError(f"unknown reduction {reduction!r} (choose mean or sum)")


def loss(o: np.ndarray, Y: np.ndarray = Y, reduction: str = "mean") -> np.ndarray:
    """Error E per network, shape (S,), float64 (squared output units, no unit of bits).

    E = c * 1/2 * sum_p sum_j (o_pj - y_pj)^2 (Nature eq. 3, c = 1 there; c = 1/P for
    the default ``mean``). o: (S, P, 1); Y: (P, 1).
    """
    c = error_scale(reduction, Y.shape[0])
    return c * 0.5 * ((o - Y) ** 2).sum(axis=(1, 2))


def backward(
    params: dict[str, np.ndarray],
    o: np.ndarray,
    h: np.ndarray,
    X: np.ndarray = X,
    Y: np.ndarray = Y,
    reduction: str = "mean",
) -> dict[str, np.ndarray]:
    """Gradient dE/dparam of every network's own error E (Nature eqs. 4-7).

    o, h: from forward, shapes (S, P, 1) and (S, P, H). Returns a dict with the same
    keys and shapes as params (``dW_ih`` is returned under key ``W_ih``), float64,
    accumulated over all P patterns (the paper's full-batch "sweep").
    """
    c = error_scale(reduction, Y.shape[0])
    x = X[None, :, :, None]  # (1, P, 2, 1)
    d_ao = c * (o - Y) * o * (1.0 - o)  # dE/d(net input of output), (S, P, 1)
    grads = {
        "W_ho": (h[:, :, :, None] * d_ao[:, :, None, :]).sum(axis=1),  # (S, H, 1)
        "b_o": d_ao.sum(axis=1),  # (S, 1)
    }
    if "W_io" in params:
        grads["W_io"] = (x * d_ao[:, :, None, :]).sum(axis=1)  # (S, 2, 1)
    d_h = (d_ao[:, :, None, :] * params["W_ho"][:, None, :, :]).sum(axis=3)  # (S, P, H)
    d_ah = d_h * h * (1.0 - h)
    grads["W_ih"] = (x * d_ah[:, :, None, :]).sum(axis=1)  # (S, 2, H)
    grads["b_h"] = d_ah.sum(axis=1)  # (S, H)
    return grads


def converged_mask(o: np.ndarray, Y: np.ndarray = Y, tol: float = 0.5) -> np.ndarray:
    """True for each network whose every output is within ``tol`` of its target, (S,)."""
    return (np.abs(o - Y) < tol).all(axis=(1, 2))


# ----------------------------------------------------------------------------------------
# Random numbers, initialisation, learning rule, perturbation
# ----------------------------------------------------------------------------------------


def seed_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(init, noise) child generators of one run's ``np.random.default_rng(seed)``.

    Spawned from the run's SeedSequence, exactly what ``default_rng(seed).spawn(2)``
    gives on numpy >= 1.25, written so it also works on numpy 1.24.
    """
    init_ss, noise_ss = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init_ss), np.random.default_rng(noise_ss)


def init_params(arch: str, rng: np.random.Generator, init_range: float) -> dict:
    """One network's parameters, each uniform on [-init_range, init_range], float64.

    Drawn in param_shapes order. The paper's range 0.3 is from Nature Fig. 1's caption.
    """
    return {k: rng.uniform(-init_range, init_range, s) for k, s in param_shapes(arch).items()}


def momentum_step(params, velocity, grads, lr: float, momentum: float, active: np.ndarray):
    """Nature eq. 9, in place: v <- momentum * v - lr * dE/dw; w <- w + v.

    Only networks with ``active`` True (shape (S,)) move; the others keep their
    parameters and velocity unchanged.
    """
    for k in params:
        mask = active.reshape((-1,) + (1,) * (params[k].ndim - 1))
        v_new = momentum * velocity[k] - lr * grads[k]
        velocity[k] = np.where(mask, v_new, velocity[k])
        params[k] = np.where(mask, params[k] + v_new, params[k])


def perturb(params, velocity, s: int, rng: np.random.Generator, scale: float, shrink: float):
    """Shake network ``s`` off a plateau, in place: w <- shrink * w + U(-scale, scale).

    Every parameter of network s (the seed-axis index) is shrunk toward zero and given
    fresh uniform noise drawn from that seed's own noise generator; its velocity is
    reset to zero. Not from the paper (see README, Deviations).
    """
    for k in params:
        params[k][s] = shrink * params[k][s] + rng.uniform(-scale, scale, params[k][s].shape)
        velocity[k][s] = 0.0


# ----------------------------------------------------------------------------------------
# Training loop
# ----------------------------------------------------------------------------------------


@dataclass
class Config:
    """Every hyperparameter of a run (the paper's values where it states one)."""

    arch: str = "2-2-1"
    lr: float = 0.5
    momentum: float = 0.9
    init_range: float = 0.3
    reduction: str = "mean"
    tol: float = 0.5
    max_epochs: int = 10000
    perturb: bool = True
    perturb_window: int = 500
    perturb_min_improvement: float = 0.01
    perturb_scale: float = 1.0
    perturb_shrink: float = 0.1


@dataclass
class TrainResult:
    """Outcome of training a batch of S networks (seeds ``seeds``)."""

    seeds: list[int]
    converged_epoch: np.ndarray  # (S,) int, -1 if never converged
    epochs_run: np.ndarray  # (S,) int, sweeps performed (<= max_epochs)
    params: dict  # final parameters, arrays with leading axis S
    outputs: np.ndarray  # (S, 4) final outputs
    final_loss: np.ndarray  # (S,)
    n_perturbations: np.ndarray  # (S,) int
    perturb_epochs: list[list[int]]  # per seed, the sweeps at which it was perturbed
    train_time_s: float
    history: dict | None = field(default=None)


def train(
    seeds: list[int],
    cfg: Config,
    record_history: bool = False,
    progress_every: int = 0,
    log=print,
) -> TrainResult:
    """Train one network per seed, all as one batch, until each converges or stops.

    Sweep t (t = 0, 1, ...): forward pass on all 4 patterns; a network whose outputs
    are all within cfg.tol of their targets is marked converged at epoch t (the number
    of weight updates it has had) and frozen; every other network takes one full-batch
    momentum step (Nature eq. 9). With cfg.perturb, a network whose best error has not
    fallen by a fraction cfg.perturb_min_improvement within cfg.perturb_window sweeps
    is shaken (see perturb) after its step; perturbed sweeps count as sweeps like any
    other. Training stops at cfg.max_epochs updates.

    record_history: keep per-sweep loss (T, S), accuracy (T, S) (fraction of patterns
    within tol), weight L2 norm (T, S), outputs (T, S, 4) and parameters (dict of
    (T, S, ...)), T = sweeps evaluated. progress_every: print a progress line every
    that many sweeps (0: never). Raises ValueError on an empty seed list.
    """
    if not seeds:
        raise ValueError("need at least one seed")
    start = time.perf_counter()
    S = len(seeds)
    rngs = [seed_rngs(s) for s in seeds]
    per_seed = [init_params(cfg.arch, init_rng, cfg.init_range) for init_rng, _ in rngs]
    params = {k: np.stack([p[k] for p in per_seed]) for k in per_seed[0]}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}

    converged_epoch = np.full(S, -1, dtype=np.int64)
    epochs_run = np.zeros(S, dtype=np.int64)
    active = np.ones(S, dtype=bool)
    ref_loss = np.full(S, np.inf)
    ref_epoch = np.zeros(S, dtype=np.int64)
    n_perturb = np.zeros(S, dtype=np.int64)
    perturb_epochs: list[list[int]] = [[] for _ in range(S)]
    hist: dict[str, list] = {"loss": [], "accuracy": [], "weight_norm": [], "outputs": []}
    hist_params: dict[str, list] = {k: [] for k in params}

    for t in range(cfg.max_epochs + 1):
        o, h = forward(params)
        E = loss(o, reduction=cfg.reduction)
        if record_history:
            within = np.abs(o - Y) < cfg.tol
            hist["loss"].append(E)
            hist["accuracy"].append(within.mean(axis=(1, 2)))
            sq = sum((v.reshape(S, -1) ** 2).sum(axis=1) for v in params.values())
            hist["weight_norm"].append(np.sqrt(sq))
            hist["outputs"].append(o[:, :, 0])
            for k, v in params.items():
                hist_params[k].append(v.copy())
        newly = active & converged_mask(o, tol=cfg.tol)
        converged_epoch[newly] = t
        epochs_run[active] = t
        active &= ~newly
        if progress_every and t % progress_every == 0 and t > 0:
            elapsed = time.perf_counter() - start
            eta = elapsed / t * (cfg.max_epochs - t)
            log(
                f"  epoch {t:6d}/{cfg.max_epochs}  converged {int((converged_epoch >= 0).sum())}"
                f"/{S}  mean E {float(E[active].mean()) if active.any() else 0.0:.5f}"
                f"  elapsed {elapsed:.1f}s  ETA <= {eta:.1f}s"
            )
        if not active.any() or t == cfg.max_epochs:
            break
        grads = backward(params, o, h, reduction=cfg.reduction)
        momentum_step(params, velocity, grads, cfg.lr, cfg.momentum, active)
        improved = active & (E < ref_loss * (1.0 - cfg.perturb_min_improvement))
        ref_loss = np.where(improved, E, ref_loss)
        ref_epoch = np.where(improved, t, ref_epoch)
        if cfg.perturb:
            for s in np.flatnonzero(active & (t - ref_epoch >= cfg.perturb_window)):
                perturb(params, velocity, s, rngs[s][1], cfg.perturb_scale, cfg.perturb_shrink)
                n_perturb[s] += 1
                perturb_epochs[s].append(t)
                ref_loss[s] = np.inf  # the next sweep's error becomes the new reference
                ref_epoch[s] = t

    o, _ = forward(params)
    history = None
    if record_history:
        history = {k: np.array(v) for k, v in hist.items()}
        history["params"] = {k: np.array(v) for k, v in hist_params.items()}
    return TrainResult(
        seeds=list(seeds),
        converged_epoch=converged_epoch,
        epochs_run=epochs_run,
        params=params,
        outputs=o[:, :, 0],
        final_loss=loss(o, reduction=cfg.reduction),
        n_perturbations=n_perturb,
        perturb_epochs=perturb_epochs,
        train_time_s=time.perf_counter() - start,
        history=history,
    )


# ----------------------------------------------------------------------------------------
# Evaluation: metrics and the result record
# ----------------------------------------------------------------------------------------


def reproduces_from_fraction(fraction: float) -> str:
    """'yes' at >= 99% converged (the goal), 'partial' at >= 90%, else 'no'."""
    if fraction >= GOAL_CONVERGED_FRACTION:
        return "yes"
    if fraction >= PARTIAL_CONVERGED_FRACTION:
        return "partial"
    return "no"


def single_metrics(res: TrainResult) -> dict:
    """Metrics of a one-seed run: converged_epoch (None if not), final_outputs, ..."""
    ep = int(res.converged_epoch[0])
    return {
        "converged": ep >= 0,
        "converged_epoch": ep if ep >= 0 else None,
        "epochs_run": int(res.epochs_run[0]),
        "final_outputs": [float(v) for v in res.outputs[0]],
        "final_loss": float(res.final_loss[0]),
        "n_perturbations": int(res.n_perturbations[0]),
        "perturb_epochs": [int(v) for v in res.perturb_epochs[0]],
        "final_params": {k: v[0].tolist() for k, v in res.params.items()},
        "train_time_s": res.train_time_s,
    }


def sweep_metrics(res: TrainResult) -> dict:
    """Aggregate metrics of a sweep; epoch statistics are over converged runs only."""
    ep = res.converged_epoch
    ok = ep >= 0
    conv = ep[ok].astype(float)

    def stat(fn):
        return float(fn(conv)) if conv.size else None

    pct = {
        f"p{q}": (float(np.percentile(conv, q)) if conv.size else None) for q in (10, 25, 75, 90)
    }
    return {
        "n_runs": len(res.seeds),
        "n_converged": int(ok.sum()),
        "n_failed": int((~ok).sum()),
        "failed_seeds": [int(s) for s, k in zip(res.seeds, ok, strict=True) if not k],
        "median_epochs": stat(np.median),
        "mean_epochs": stat(np.mean),
        "std_epochs": stat(np.std),
        "min_epochs": int(conv.min()) if conv.size else None,
        "max_epochs_seen": int(conv.max()) if conv.size else None,
        "epoch_percentiles": pct,
        "failed_outputs_near_half": {
            str(s): int((np.abs(res.outputs[i] - 0.5) < 0.05).sum())
            for i, s in enumerate(res.seeds)
            if not ok[i]
        },
        "n_perturbed_runs": int((res.n_perturbations > 0).sum()),
        "n_perturbations_total": int(res.n_perturbations.sum()),
        "converged_epoch_per_seed": [int(v) if v >= 0 else None for v in ep],
        "perturbations_per_seed": [int(v) for v in res.n_perturbations],
        "train_time_s": res.train_time_s,
    }


def env_info() -> dict:
    """Python, numpy, platform and CPU count of this machine."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def make_record(cfg: Config, seeds: list[int], res: TrainResult, smoke: bool, t0: float) -> dict:
    """The STUB_SPEC result record of a single run (one seed) or a sweep."""
    config = dict(vars(cfg), seeds=[seeds[0], seeds[-1]], smoke=smoke)
    if len(seeds) == 1:
        m = single_metrics(res)
        value = m["converged_epoch"] if m["converged"] else m["epochs_run"]
        headline = {
            "name": f"sweeps to converge (seed {seeds[0]}, {cfg.arch})",
            "claim": (
                "PDP ch. 8 reports one run of the one-hidden-unit XOR net solved after "
                "558 sweeps (eta 0.5); we count full-batch sweeps until every output is "
                f"within {cfg.tol} of its target (goal: the run converges)."
            ),
            "value": value,
            "unit": "sweeps",
            "paper_value": PAPER_SWEEPS,
            "better": "lower",
        }
        reproduces = "yes" if m["converged"] else "no"
    else:
        m = sweep_metrics(res)
        headline = {
            "name": f"seeds converged ({cfg.arch}, {'perturb' if cfg.perturb else 'no perturb'})",
            "claim": (
                "PDP ch. 8 reports XOR stuck in a local minimum in only 2 of several hundred "
                f"runs; we count how many of {len(seeds)} seeds converge within "
                f"{cfg.max_epochs} sweeps (goal >= 99%); the paper gives no per-100 count."
            ),
            "value": m["n_converged"],
            "unit": f"of {len(seeds)} seeds",
            "paper_value": None,
            "better": "higher",
        }
        reproduces = reproduces_from_fraction(m["n_converged"] / m["n_runs"])
    return {
        "stub": "xor",
        "paper": PAPER,
        "seed": seeds[0],
        "n_seeds": len(seeds),
        "config": config,
        "headline": headline,
        "metrics": m,
        "reproduces": reproduces,
        "wall_time_s": time.perf_counter() - t0,
        "env": env_info(),
    }


# ----------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------


class CleanArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str):  # argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def check_json_path(path: str) -> str | None:
    """Why ``path`` cannot take the record, or None if it can (checked before training).

    The nearest existing ancestor must be a writable directory (probed by creating and
    deleting a temporary file there); the path itself must not be a directory.
    """
    p = Path(path).expanduser().absolute()
    if p.is_dir():
        return f"--json {path}: is a directory"
    anc = p.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        return f"--json {path}: {anc} is not a directory"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".xor-probe-", dir=anc)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return f"--json {path}: cannot write in {anc} ({exc.strerror or exc})"
    if p.exists() and not os.access(p, os.W_OK):
        return f"--json {path}: file is not writable"
    return None


def write_json_atomic(path: str, record: dict) -> None:
    """Write the record as JSON via a temporary file in the same folder and os.replace."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1)
            fh.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; records are ordinary files
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_parser() -> CleanArgumentParser:
    """The command-line interface (flags as in STUB_SPEC plus this problem's own)."""
    d = Config()
    ap = CleanArgumentParser(
        prog="xor.py", description="XOR by back-propagation (Rumelhart, Hinton & Williams 1986)."
    )
    ap.add_argument("--arch", choices=sorted(ARCHS), default=d.arch, help="network (%(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="seed, or first seed of a sweep")
    ap.add_argument("--sweep", type=int, default=None, metavar="N", help="run seeds seed..seed+N-1")
    ap.add_argument("--lr", type=float, default=d.lr, help="learning rate eps (%(default)s)")
    ap.add_argument("--momentum", type=float, default=d.momentum, help="alpha (%(default)s)")
    ap.add_argument("--init-range", type=float, default=d.init_range, help="U(-r, r) init")
    ap.add_argument(
        "--reduction",
        choices=["mean", "sum"],
        default=d.reduction,
        help="E = 1/2 mean (default) or 1/2 sum (paper eq. 3) over patterns",
    )
    ap.add_argument(
        "--tol",
        type=float,
        default=d.tol,
        help="converged: every output within tol of its target (%(default)s)",
    )
    ap.add_argument("--max-epochs", type=int, default=d.max_epochs, help="sweep limit")
    ap.add_argument(
        "--perturb",
        action=argparse.BooleanOptionalAction,
        default=d.perturb,
        help="perturb-on-plateau wrapper (default on)",
    )
    ap.add_argument(
        "--perturb-window",
        type=int,
        default=d.perturb_window,
        help="plateau length in sweeps (%(default)s)",
    )
    ap.add_argument(
        "--perturb-min-improvement",
        type=float,
        default=d.perturb_min_improvement,
        help="relative fall of the best E that counts as progress (%(default)s)",
    )
    ap.add_argument(
        "--perturb-scale",
        type=float,
        default=d.perturb_scale,
        help="noise half-width (%(default)s)",
    )
    ap.add_argument(
        "--perturb-shrink",
        type=float,
        default=d.perturb_shrink,
        help="factor on the weights before adding noise (%(default)s)",
    )
    ap.add_argument("--smoke", action="store_true", help="tiny CI run: 8 seeds, 3000 sweeps")
    ap.add_argument("--json", default=None, metavar="PATH", help="write the result record here")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    return ap


def validate(ap: CleanArgumentParser, a: argparse.Namespace) -> None:
    """Reject bad numeric flags and an unwritable --json path (exits 2 via ap.error)."""
    finite = (
        "lr",
        "momentum",
        "init_range",
        "tol",
        "perturb_min_improvement",
        "perturb_scale",
        "perturb_shrink",
    )
    for name in finite:
        if not math.isfinite(getattr(a, name)):
            ap.error(f"--{name.replace('_', '-')} must be a finite number")
    if a.sweep is not None and a.sweep < 1:
        ap.error(f"--sweep must be >= 1 (got {a.sweep})")
    if a.seed < 0:
        ap.error(f"--seed must be >= 0 (got {a.seed})")
    if a.lr <= 0:
        ap.error(f"--lr must be > 0 (got {a.lr})")
    if not 0 <= a.momentum < 1:
        ap.error(f"--momentum must be in [0, 1) (got {a.momentum})")
    if a.init_range <= 0:
        ap.error(f"--init-range must be > 0 (got {a.init_range})")
    if not 0 < a.tol < 1:
        ap.error(f"--tol must be in (0, 1) (got {a.tol})")
    if a.max_epochs < 1:
        ap.error(f"--max-epochs must be >= 1 (got {a.max_epochs})")
    if a.perturb_window < 1:
        ap.error(f"--perturb-window must be >= 1 (got {a.perturb_window})")
    if not 0 <= a.perturb_min_improvement < 1:
        ap.error(f"--perturb-min-improvement must be in [0, 1) (got {a.perturb_min_improvement})")
    if a.perturb_scale < 0:
        ap.error(f"--perturb-scale must be >= 0 (got {a.perturb_scale})")
    if not 0 <= a.perturb_shrink <= 1:
        ap.error(f"--perturb-shrink must be in [0, 1] (got {a.perturb_shrink})")
    if a.json is not None:
        why = check_json_path(a.json)
        if why:
            ap.error(why)


def main(argv: list[str] | None = None) -> int:
    """Parse flags, train, print a summary and optionally write the record."""
    t0 = time.perf_counter()
    ap = build_parser()
    a = ap.parse_args(argv)
    validate(ap, a)
    cfg = Config(
        arch=a.arch,
        lr=a.lr,
        momentum=a.momentum,
        init_range=a.init_range,
        reduction=a.reduction,
        tol=a.tol,
        max_epochs=a.max_epochs,
        perturb=a.perturb,
        perturb_window=a.perturb_window,
        perturb_min_improvement=a.perturb_min_improvement,
        perturb_scale=a.perturb_scale,
        perturb_shrink=a.perturb_shrink,
    )
    n = a.sweep if a.sweep is not None else 1
    if a.smoke:
        n = 8 if a.sweep is None else min(a.sweep, 8)
        cfg.max_epochs = min(cfg.max_epochs, 3000)
    seeds = list(range(a.seed, a.seed + n))
    print(f"xor: config {json.dumps(vars(cfg))} seeds {seeds[0]}..{seeds[-1]} smoke={a.smoke}")
    res = train(seeds, cfg, progress_every=0 if a.quiet else 2000)
    record = make_record(cfg, seeds, res, a.smoke, t0)
    m = record["metrics"]
    if n == 1:
        outs = ", ".join(f"{v:.3f}" for v in m["final_outputs"])
        what = (
            f"converged at epoch {m['converged_epoch']}"
            if m["converged"]
            else f"NOT converged in {m['epochs_run']} epochs"
        )
        print(
            f"xor: {cfg.arch} seed {seeds[0]}: {what}, outputs [{outs}], "
            f"{m['n_perturbations']} perturbation(s), train {m['train_time_s']:.3f}s "
            f"(paper: {PAPER_SWEEPS} sweeps, one run, 2-1-skip)"
        )
    else:
        print(
            f"xor: {cfg.arch} sweep of {n} seeds ({'perturb' if cfg.perturb else 'no perturb'}): "
            f"{m['n_converged']}/{n} converged, median {m['median_epochs']} mean "
            f"{m['mean_epochs'] if m['mean_epochs'] is None else round(m['mean_epochs'], 1)} "
            f"max {m['max_epochs_seen']} epochs, {m['n_perturbed_runs']} runs perturbed, "
            f"train {m['train_time_s']:.2f}s, reproduces={record['reproduces']}"
        )
    if a.json is not None:
        record["wall_time_s"] = time.perf_counter() - t0
        write_json_atomic(a.json, record)
        print(f"xor: wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
