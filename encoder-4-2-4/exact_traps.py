"""Are the exact method's failures traps of the objective? Measurements behind its gap.

The ``exact`` method (both phases' statistics by enumeration, exact log-likelihood
gradient) finds four different codes on fewer seeds than the goal asks. This script
measures whether the failed seeds are merely slow or are caught in a region of the
objective that deterministic ascent does not leave:

1. **The headline exact runs** (``exact``): seeds trained exactly as in the headline
   sweep (same code, config, cycle count and 25-seed chunks), then split into solved
   (four codes) and trapped seeds. For each group: the training objective KL(noisy data || model) in
   bits, the norm of the exact gradient, and the largest eigenvalue of the Hessian of the
   log-likelihood (central differences of the exact gradient in the 38 free parameters).
   A largest eigenvalue at or below about zero means no direction of ascent is left; a
   tiny positive one means a saddle-like, near-flat region.
2. **More cycles** (``continued_gradient``): the trapped seeds continue with the same
   gradient update for ``--extra-cycles`` more cycles: how many find four codes, and
   how much their KL moves.
3. **A different path** (``continued_natural``): the trapped seeds continue with
   natural-gradient ascent (the exact gradient preconditioned by the exact Fisher
   information of p(v), ``fisher_information``), which follows the objective's geometry
   rather than the parameters' and makes large moves where the plain gradient crawls.
4. **Natural gradient from the start** (``natural_from_start``): the same seeds and
   initial weights trained by natural-gradient ascent alone, to see whether the share of
   trapped seeds depends on the optimiser's path.

Writes one JSON record (``--json``). Run from the repository root (about 5 minutes):

    python3 encoder-4-2-4/exact_traps.py --json encoder-4-2-4/results/exact_traps.json

Exit codes: 0 ok, 2 bad input, 3 diverged, 74 cannot write output, 130 interrupted,
143 terminated.
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

import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import encoder_4_2_4 as E  # noqa: E402
import numpy as np  # noqa: E402

NATURAL_DAMPING = 1e-4  # added to the Fisher's diagonal (it is near-singular once units saturate)
MAX_SEED_CYCLES = 10_000_000  # seeds x (cycles + extra + 20 x natural cycles): ~8 min


def flat_gradient(theta: np.ndarray, q: np.ndarray, T: float) -> np.ndarray:
    """Exact gradient of the expected log-likelihood (nats) in flat coordinates, (S, 38)."""
    return E.flatten_params(*E.exact_gradient(*E.unflatten_params(theta), q, T))


def hessian_top_eigenvalue(theta, q, T, eps=1e-4) -> np.ndarray:
    """Largest eigenvalue (S,) of the log-likelihood's Hessian (nats per unit^2), by
    central differences of the exact gradient."""
    S, n = theta.shape
    H = np.empty((S, n, n))
    for k in range(n):
        d = np.zeros(n)
        d[k] = eps
        H[:, :, k] = (flat_gradient(theta + d, q, T) - flat_gradient(theta - d, q, T)) / (2 * eps)
    H = 0.5 * (H + np.swapaxes(H, 1, 2))
    return np.linalg.eigvalsh(H)[:, -1]


def ascent_step(theta, q, T, kind, lr) -> np.ndarray:
    """One step of deterministic ascent of the exact log-likelihood at theta (S, 38).

    kind "gradient": the exact method's update, T * lr * (p - p') = T^2 lr g (g in nats per
    parameter unit); kind "natural": lr (F + NATURAL_DAMPING I)^-1 g with F the exact Fisher
    information of p(v) (``fisher_information``; Amari 1998). Returns the step (S, 38)."""
    g = flat_gradient(theta, q, T)
    if kind == "gradient":
        return T * T * lr * g
    F = E.fisher_information(*E.unflatten_params(theta), T)
    eye = NATURAL_DAMPING * np.eye(theta.shape[1])
    return lr * np.linalg.solve(F + eye, g[..., None])[..., 0]


def train_exact(seeds, cfg):
    """The exact method's runs of ``seeds`` in the sweep's fixed chunks (``run_sweep``),
    so every seed's arithmetic is the headline's. Returns params [W, L1, L2, b_v, b_h]."""
    parts = [
        E.train(seeds[i : i + E.SWEEP_CHUNK], cfg)[0] for i in range(0, len(seeds), E.SWEEP_CHUNK)
    ]
    return [np.concatenate(x) for x in zip(*parts, strict=True)]


def ascend(theta, q, T, cycles, kind, lr):
    """Deterministic ascent of the exact log-likelihood from theta (S, 38), in place of a
    copy. kind "gradient": the exact method's update, w += T * lr * (p - p') = T^2 lr g;
    kind "natural": w += lr * (F + damping I)^-1 g. Returns (theta, first), first (S,) the
    first cycle with four different codes (-1 if none)."""
    theta = theta.copy()
    first = np.full(theta.shape[0], -1)
    for c in range(1, cycles + 1):
        theta += ascent_step(theta, q, T, kind, lr)
        if not np.isfinite(theta).all():
            raise E.Diverged(c, f"{kind} ascent")
        n_codes = E.codes_and_recall(*E.unflatten_params(theta), T)[2]
        first[(first < 0) & (n_codes == E.N_GROUP)] = c
    return theta, first


def kl_noisy_bits(theta, cfg) -> np.ndarray:
    return E.evaluate(*E.unflatten_params(theta), cfg.temperature, cfg.noise_on, cfg.noise_off)[
        "kl_noisy_bits"
    ]


def summary(x: np.ndarray) -> dict:
    if x.size == 0:
        return {"n": 0}
    return {
        "n": int(x.size),
        "median": float(np.median(x)),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def _log(text: str) -> None:
    print(text, flush=True)


def run(seeds, cycles, extra_cycles, natural_cycles, natural_lr, log=_log) -> dict:
    """All four measurements on ``seeds``; returns the record's ``metrics`` dict."""
    t0 = time.perf_counter()
    cfg = E.method_config(E.Config(), "exact", {"cycles": cycles})
    q = E.data_distribution(cfg.noise_on, cfg.noise_off)
    T = cfg.temperature
    params = train_exact(seeds, cfg)
    theta = E.flatten_params(*params)
    four = E.codes_and_recall(*params, T)[2] == E.N_GROUP
    trapped = ~four
    kl = kl_noisy_bits(theta, cfg)
    gnorm = np.linalg.norm(flat_gradient(theta, q, T), axis=1)
    top = hessian_top_eigenvalue(theta, q, T)
    log(f"  exact, {cycles} cycles: {four.sum()}/{len(seeds)} with four codes")
    groups = {}
    for name, m in (("solved", four), ("trapped", trapped)):
        groups[name] = {
            "kl_noisy_bits": summary(kl[m]),
            "gradient_norm": summary(gnorm[m]),
            "hessian_top_eigenvalue": summary(top[m]),
        }
    rec = {
        "exact": {
            "cycles": cycles,
            "n_seeds": len(seeds),
            "n_four_codes": int(four.sum()),
            "trapped_seeds": [int(s) for s, t in zip(seeds, trapped, strict=True) if t],
            **groups,
        }
    }
    t_idx = np.flatnonzero(trapped)
    for key, kind, n_cyc, lr in (
        ("continued_gradient", "gradient", extra_cycles, cfg.lr),
        ("continued_natural", "natural", natural_cycles, natural_lr),
    ):
        t = time.perf_counter()
        th, first = ascend(theta[t_idx], q, T, n_cyc, kind, lr)
        kl_after = kl_noisy_bits(th, cfg)
        rec[key] = {
            "update": kind,
            "lr": lr,
            "extra_cycles": n_cyc,
            "n_trapped": int(t_idx.size),
            "n_escaped": int((first > 0).sum()),
            "kl_noisy_bits_before": summary(kl[t_idx]),
            "kl_noisy_bits_after": summary(kl_after),
            "time_s": time.perf_counter() - t,
        }
        log(f"  {key}: {rec[key]['n_escaped']}/{t_idx.size} escaped")
    t = time.perf_counter()
    init = E.flatten_params(*E.init_params(cfg, [E.seed_generators(s)[0] for s in seeds]))
    th, first = ascend(init, q, T, natural_cycles, "natural", natural_lr)
    n4 = E.codes_and_recall(*E.unflatten_params(th), T)[2] == E.N_GROUP
    rec["natural_from_start"] = {
        "update": "natural",
        "lr": natural_lr,
        "cycles": natural_cycles,
        "n_seeds": len(seeds),
        "n_four_codes": int(n4.sum()),
        "n_ever_four_codes": int((first > 0).sum()),
        "median_cycles_to_four_codes": float(np.median(first[first > 0]))
        if (first > 0).any()
        else None,
        "same_seeds_trapped_as_gradient": int((~n4 & trapped).sum()),
        "time_s": time.perf_counter() - t,
    }
    log(f"  natural from the start: {n4.sum()}/{len(seeds)} with four codes")
    rec["natural_damping"] = NATURAL_DAMPING
    rec["wall_time_s"] = time.perf_counter() - t0
    return rec


def build_parser() -> E.CleanParser:
    """The command line of exact_traps.py; every numeric flag is range-checked."""
    p = E.CleanParser(
        prog="exact_traps.py",
        description=__doc__.splitlines()[0]
        + " Exit codes: 0 ok, 2 bad input, 3 diverged, 74 cannot write output, "
        "130 interrupted, 143 terminated.",
    )
    add = p.add_argument
    add(
        "--seed",
        type=E.int_in(0, E.MAX_SEED),
        default=0,
        help=f"first seed (int, 0..{E.MAX_SEED}; default 0)",
    )
    add(
        "--sweep",
        type=E.int_in(1, 1000),
        default=100,
        help="number of seeds, --seed .. --seed+N-1 (int, 1..1000; default 100)",
    )
    add(
        "--cycles",
        type=E.int_in(1, 100_000),
        default=E.Config.cycles,
        help=f"cycles of the exact method (int, 1..100000; default {E.Config.cycles})",
    )
    add(
        "--extra-cycles",
        type=E.int_in(1, 100_000),
        default=10000,
        help="further gradient cycles on the trapped seeds (int, 1..100000; default 10000)",
    )
    add(
        "--natural-cycles",
        type=E.int_in(1, 10_000),
        default=1000,
        help="natural-gradient cycles (int, 1..10000; default 1000)",
    )
    add(
        "--natural-lr",
        type=E.float_in(0.0, 10.0, lo_open=True),
        default=0.3,
        help="natural-gradient step size (float, 0 < lr <= 10; default 0.3)",
    )
    add("--json", type=str, default=None, help="write the record here (path, .json)")
    add("--smoke", action="store_true", help="4 seeds, 60 + 20 + 20 cycles, for CI")
    return p


def _args_without_json(argv) -> list[str]:
    """The command-line arguments minus ``--json PATH`` (the record names its command,
    not where it was written, so reruns into another folder give the same record)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out, skip = [], False
    for x in args:
        if skip:
            skip = False
        elif x == "--json":
            skip = True
        elif not x.startswith("--json="):
            out.append(x)
    return out


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.smoke:
        a.sweep, a.cycles, a.extra_cycles, a.natural_cycles = 4, 60, 20, 20
    if a.seed + a.sweep - 1 > E.MAX_SEED:
        p.error(f"--seed + --sweep - 1 exceeds the largest seed {E.MAX_SEED}")
    cost = a.sweep * (a.cycles + a.extra_cycles + 20 * a.natural_cycles)
    if cost > MAX_SEED_CYCLES:
        p.error(
            f"seeds x (cycles + extra + 20 x natural cycles) = {cost} exceeds "
            f"{MAX_SEED_CYCLES} (too long for one command)"
        )
    if a.json is not None:
        a.json = E.check_output_path(p, a.json, "--json", ".json")
    seeds = list(range(a.seed, a.seed + a.sweep))
    rec = run(seeds, a.cycles, a.extra_cycles, a.natural_cycles, a.natural_lr)
    rec = {
        "stub": "encoder-4-2-4",
        "paper": E.PAPER,
        "seed": a.seed,
        "n_seeds": a.sweep,
        "command": " ".join(["python3 encoder-4-2-4/exact_traps.py", *_args_without_json(argv)]),
        "metrics": rec,
        "env": E.env_info(),
    }
    if a.json is not None:
        E.write_atomic(a.json, E.dumps_record(rec))
    print(json.dumps(rec["metrics"]["exact"]["trapped"], indent=None))
    return 0


if __name__ == "__main__":
    sys.exit(E.run_main(main, "exact_traps.py", final=True))
