"""Figures for the 4-2-4 encoder and the README's generated result blocks.

    python3 encoder-4-2-4/visualize_encoder_4_2_4.py [--seed 0] [--outdir DIR]
    python3 encoder-4-2-4/visualize_encoder_4_2_4.py --readme   # rewrite README blocks

Figures (written to --outdir, default encoder-4-2-4/viz):
  code_trajectories.png   mean hidden code of each pattern on the unit square over
                          learning (anneal), for four seeds: solutions and traps
  weights.png             heat map of one network's learned weights, with a colorbar
  pattern_like_probs.png  free-running p(v) of the 16 "pattern-like" states vs the data
  learning_curves.png     KL(data || model) per cycle, solved vs trapped seeds
  success_by_method.png   seeds with four codes per method from results/*.json
  cycles_to_codes.png     cumulative share of seeds with four codes over learning cycles
  noise_ablation.png      sampled vs exact statistics under each update rule and init
  lockin.png              seeds that found four codes vs seeds that kept them
Every figure is 7.5 in wide at 110 dpi (825 px) with text of at least 9 pt. The training
code is imported from encoder_4_2_4.py. Exit codes: 0 ok, 2 bad input, 74 cannot write
output, 130 interrupted, 143 terminated.
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
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import encoder_4_2_4 as E  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110
SMOKE_DPI = 30  # --smoke: every figure drawn, small
PATTERN_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
METHOD_LABEL = {"anneal": "anneal (paper)", "exact": "exact gradient", "cd": "CD-5"}


# ---------------------------------------------------------------------------------------
# Training runs used by the figures


def train_with_history(seeds, method="anneal", cycles=400):
    """Train ``seeds`` with the method's default config and keep per-cycle history."""
    cfg = E.method_config(E.Config(), method, {"cycles": cycles})
    hist = E.new_history()
    res = E.run_seeds(list(seeds), cfg, hist=hist)
    return cfg, res, {k: np.array(v) for k, v in hist.items()}


def first_solved(res) -> int:
    """Index of the first seed in ``res`` whose final network has four codes and recall
    4/4; else the first that found four codes at some cycle; else 0."""
    for key in ("solved_at_end", "success"):
        ok = np.flatnonzero(res[key])
        if len(ok):
            return int(ok[0])
    return 0


# ---------------------------------------------------------------------------------------
# Drawing helpers (shared with make_encoder_4_2_4_gif.py)


def draw_codes(ax, code_mean, k, upto=None, title=None):
    """Trajectories of p(h = 1 | pattern) for seed index k; code_mean (cycles+1, S, 4, 2)."""
    traj = code_mean[: None if upto is None else upto + 1, k]
    for i in range(4):
        ax.plot(traj[:, i, 0], traj[:, i, 1], "-", color=PATTERN_COLORS[i], lw=1.0, alpha=0.6)
        ax.plot(
            traj[-1, i, 0],
            traj[-1, i, 1],
            "o",
            color=PATTERN_COLORS[i],
            ms=9,
            mec="k",
            label=f"pattern {i}",
        )
    ax.plot(traj[0, 0, 0], traj[0, 0, 1], "k+", ms=10)
    for cx in (0, 1):
        for cy in (0, 1):
            ax.plot(cx, cy, "s", color="0.85", ms=16, zorder=0)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    ax.set_aspect("equal")
    ax.set_xlabel("p(H[0] = 1 | pattern)", fontsize=9)
    ax.set_ylabel("p(H[1] = 1 | pattern)", fontsize=9)
    ax.tick_params(labelsize=9)
    if title:
        ax.set_title(title, fontsize=10)


WEIGHT_COLS = ["H[0]", "H[1]", "bias", "0", "1", "2", "3"]
WEIGHT_ROWS = [f"V1[{i}]" for i in range(4)] + [f"V2[{i}]" for i in range(4)] + ["H bias"]


def weight_matrix(W, L1, L2, b_v, b_h) -> np.ndarray:
    """The weights of one network as a (9, 7) array for a heat map: rows V1[0..3],
    V2[0..3], then the hidden biases; columns the weights to H[0], H[1], the unit's bias,
    and its within-group weights to units 0..3 of its own group (NaN on the diagonal, where
    there is no connection, and in the unused cells of the last row)."""
    M = np.full((9, 7), np.nan)
    for g, L in enumerate((L1, L2)):
        for i in range(4):
            k = 4 * g + i
            M[k, :3] = W[k, 0], W[k, 1], b_v[k]
            M[k, 3:] = L[i]
            M[k, 3 + i] = np.nan
    M[8, :2] = b_h
    return M


def draw_weights(ax, W, L1, L2, b_v, b_h, max_w=None, title=None, annotate=True):
    """Heat map of one network's weights (``weight_matrix``), diverging colours centred
    on zero; returns the image for a colorbar."""
    M = weight_matrix(W, L1, L2, b_v, b_h)
    max_w = max_w or max(float(np.nanmax(np.abs(M))), 1e-9)
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("0.85")
    im = ax.imshow(M, cmap=cmap, vmin=-max_w, vmax=max_w, aspect="auto")
    if annotate:
        for (r, c), v in np.ndenumerate(M):
            if np.isfinite(v):
                dark = abs(v) > 0.6 * max_w
                ax.text(
                    c,
                    r,
                    f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if dark else "black",
                )
    ax.set_xticks(range(7), WEIGHT_COLS, fontsize=9)
    ax.set_yticks(range(9), WEIGHT_ROWS, fontsize=9)
    ax.set_xlabel("to H, bias | to unit j of the same group", fontsize=9)
    ax.axhline(3.5, color="k", lw=1.5)
    ax.axhline(7.5, color="k", lw=1.5)
    ax.axvline(2.5, color="k", lw=1.5)
    if title:
        ax.set_title(title, fontsize=10)
    return im


# ---------------------------------------------------------------------------------------
# Figures (each ~830 px wide: figsize width 7.5 in at DPI 110; text >= 9 pt)


def _layout(fig, **kw) -> None:
    """tight_layout, skipped under --smoke (it is most of a figure's drawing time)."""
    if DPI != SMOKE_DPI:
        fig.tight_layout(**kw)


def save_figure(fig, path: Path) -> None:
    """Write a figure atomically as PNG (``encoder_4_2_4.write_atomic``) and close it;
    at ``DPI`` (``--smoke`` lowers it to SMOKE_DPI to save time)."""
    E.write_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=DPI))
    plt.close(fig)


def fig_code_trajectories(outdir, seed, cycles=400):
    cfg, res, hist = train_with_history(range(seed, seed + 4), cycles=cycles)
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 8.0))
    for k, ax in enumerate(axes.ravel()):
        fc = res["first_success_cycle"][k]
        first = f"four codes first at cycle {fc}" if res["success"][k] else "never four codes"
        state = f"{first};\n{res['n_codes'][k]} codes at the end"
        draw_codes(ax, hist["code_mean"], k, title=f"seed {seed + k}: {state}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9)
    fig.suptitle(
        f"Hidden code of each pattern over {cfg.cycles} annealing learning cycles\n"
        "(+ = start, dot = end; grey squares = the four corners)",
        fontsize=10,
    )
    _layout(fig, rect=(0, 0.04, 1, 1))
    save_figure(fig, outdir / "code_trajectories.png")


def fig_weights_and_probs(outdir, seed, cycles=400):
    cfg, res, hist = train_with_history(range(seed, seed + 8), cycles=cycles)
    k = first_solved(res)
    params = [np.array(res[x])[k] for x in E.PARAM_NAMES]
    fig, ax = plt.subplots(figsize=(7.5, 6.0))
    im = draw_weights(
        ax,
        *params,
        title=f"Weights after {cfg.cycles} annealing cycles (seed {seed + k}; T = "
        f"{cfg.temperature:g})\nleft: to H and bias; right: within the unit's own group",
    )
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cb.set_label("weight (paper's units)", fontsize=9)
    cb.ax.tick_params(labelsize=9)
    _layout(fig)
    save_figure(fig, outdir / "weights.png")

    p = E.pattern_like_probs(*(x[None] for x in params), cfg.temperature)[0]
    q_noisy = E.data_distribution(cfg.noise_on, cfg.noise_off)[E.PATTERN_LIKE_INDEX]
    q_clean = E.data_distribution()[E.PATTERN_LIKE_INDEX]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    x = np.arange(16)
    ax.bar(x - 0.27, q_clean.ravel(), 0.27, label="data (clean patterns)", color="0.3")
    ax.bar(x, q_noisy.ravel(), 0.27, label="data with noisy clamping", color="0.65")
    ax.bar(x + 0.27, p.ravel(), 0.27, label="model, free-running at T", color="#1f77b4")
    ax.set_xticks(x, [f"{i}{j}" for i in range(4) for j in range(4)], fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_xlabel("pattern-like state: V1 unit i and V2 unit j on (label ij)", fontsize=9)
    ax.set_ylabel("probability", fontsize=9)
    ax.set_title(
        f"Free-phase probability of the 16 pattern-like states (seed {seed + k});\n"
        f"they hold {p.sum():.2f} of the model's probability mass",
        fontsize=10,
    )
    ax.legend(fontsize=9)
    _layout(fig)
    save_figure(fig, outdir / "pattern_like_probs.png")

    T = cfg.temperature
    kl = np.array(
        [
            E.evaluate(*(hist[x][c] for x in E.PARAM_NAMES), T)["kl_bits"]
            for c in range(len(hist["W"]))
        ]
    )
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for j in range(kl.shape[1]):
        ok = res["success"][j]
        ax.plot(kl[:, j], color="#2ca02c" if ok else "#d62728", lw=1, alpha=0.8)
        fc = res["first_success_cycle"][j]
        if fc is not None:
            ax.plot(fc, kl[fc, j], "o", color="#2ca02c", mec="k", ms=5)
    ax.plot([], [], color="#2ca02c", label="found four codes (dot: first cycle with four)")
    if not all(res["success"]):
        ax.plot([], [], color="#d62728", label="two patterns still share a code")
    ax.set_xlabel("learning cycle", fontsize=9)
    ax.set_ylabel("KL(data ‖ model), bits", fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_title(f"Exact KL during annealing-based learning, seeds {seed}..{seed + 7}", fontsize=10)
    ax.legend(fontsize=9)
    _layout(fig)
    save_figure(fig, outdir / "learning_curves.png")


RECORD_STYLE = {  # record -> (bar colour, label in the success figure)
    "headline": ("#1f77b4", "paper's model"),
    "bipartite": ("#7f7f7f", "bipartite model"),
    "restarts": ("#ff7f0e", "with restarts"),
}
SHORT_LABEL = {"anneal": "anneal", "exact": "exact", "cd": "CD-5"}


def fig_success(outdir, results_dir):
    """Bar chart of seeds with four codes per method and record (from results/*.json)."""
    recs = load_records(results_dir)
    if "headline" not in recs:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    names, vals, ends, cols = [], [], [], []
    for key, (colour, _) in RECORD_STYLE.items():
        rec = recs.get(key)
        if rec is None:
            continue
        for m in E.METHODS:
            if m in rec["metrics"]:
                r = rec["metrics"][m]
                names.append(SHORT_LABEL[m])
                vals.append(100 * r["n_success"] / r["n_runs"])
                ends.append(100 * r["n_solved_at_end"] / r["n_runs"])
                cols.append(colour)
    x = np.arange(len(vals))
    ax.bar(x, vals, color=cols, width=0.75)
    ax.plot(x, ends, "v", color="k", ms=6, label="final: four codes + recall 4/4")
    for i, v in enumerate(vals):
        ax.text(i, 3, f"{v:.0f}", ha="center", fontsize=9, color="white")
    ax.axhline(100, color="k", ls="--", lw=1, label="paper: 250/250 runs")
    ax.axhline(
        100 * E.EARLIER_SUCCESS_PER_ATTEMPT,
        color="0.5",
        ls=":",
        lw=1,
        label="reference v1 (CD-5), per attempt",
    )
    for key, (colour, label) in RECORD_STYLE.items():
        if key in recs:
            ax.bar([0], [0], color=colour, label=label)
    ax.set_xticks(x, names, fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_ylabel("% of seeds with four codes", fontsize=9)
    ax.set_ylim(0, 145)
    n = recs["headline"]["n_seeds"]
    ax.set_title(f"Seeds that found four different codes (same {n} seeds)", fontsize=10)
    ax.legend(fontsize=9, loc="upper center", ncol=2)
    _layout(fig)
    save_figure(fig, outdir / "success_by_method.png")


def fig_cycles(outdir, results_dir):
    """Cumulative share of seeds with four codes against learning cycles (headline)."""
    recs = load_records(results_dir)
    if "headline" not in recs:
        return
    h = recs["headline"]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for m in E.METHODS:
        if m not in h["metrics"]:
            continue
        ps = h["metrics"]["per_seed"][m]
        cyc = np.sort([c for c in ps["first_success_cycle"] if c is not None])
        n = len(ps["seeds"])
        share = np.arange(1, len(cyc) + 1) / n
        ax.step(
            np.r_[1, cyc, h["config"][m]["cycles"]],
            100 * np.r_[0, share, share[-1] if len(share) else 0],
            where="post",
            lw=1.5,
            label=METHOD_LABEL[m],
        )
    ax.axvline(E.PAPER_MEDIAN_CYCLES, color="k", ls=":", lw=1, label="paper: median 110")
    ax.axvline(E.PAPER_LONGEST_CYCLES, color="k", ls="--", lw=1, label="paper: longest 1810")
    ax.axhline(50, color="0.7", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(1, max(h["config"][m]["cycles"] for m in E.METHODS if m in h["config"]))
    ax.set_xlabel("learning cycle", fontsize=9)
    ax.set_ylabel("% of seeds with four codes", fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_ylim(0, 102)
    ax.set_title("When the four codes first become distinct (headline record)", fontsize=10)
    ax.legend(fontsize=9, loc="upper left")
    _layout(fig)
    save_figure(fig, outdir / "cycles_to_codes.png")


def fig_noise_ablation(outdir, results_dir):
    """Seeds with four codes in the 2 x 2 x 2 ablation: sampled vs exact statistics, for
    each pairing of update rule and initial weights (records noise_*.json)."""
    recs = load_records(results_dir)
    cells = [k for k in NOISE_RECORDS if k in recs]
    if not cells:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    x = np.arange(len(cells))
    for j, (m, colour) in enumerate((("anneal", "#1f77b4"), ("exact", "#d62728"))):
        found = [100 * recs[k]["metrics"][m]["n_success"] / recs[k]["n_seeds"] for k in cells]
        kept = [
            100 * recs[k]["metrics"][m]["n_four_codes_at_end"] / recs[k]["n_seeds"] for k in cells
        ]
        xs = x + (j - 0.5) * 0.38
        ax.bar(xs, found, 0.36, color=colour, label=STATS_LABEL[m])
        ax.plot(xs, kept, "v", color="k", ms=6, label="final network: four codes" if j else None)
        for xi, v in zip(xs, found, strict=True):
            ax.text(xi, 3, f"{v:.0f}", ha="center", fontsize=9, color="white")
    ax.set_xticks(x, [cell_label(recs[k]["config"]["anneal"]) for k in cells], fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_ylabel("% of seeds with four codes", fontsize=9)
    ax.set_ylim(0, 130)
    ax.axhline(100, color="k", ls="--", lw=0.8)
    ax.set_title(
        "Sampling noise isolated: same update rule and initial weights, sampled vs exact "
        "statistics",
        fontsize=10,
    )
    ax.legend(fontsize=9, loc="upper center", ncol=3)
    _layout(fig)
    save_figure(fig, outdir / "noise_ablation.png")


def fig_lockin(outdir, results_dir):
    """Share of seeds whose four codes are in place from cycle c to the end of the run
    (settled by c), next to the share that has found them by c: headline anneal
    (statistics recorded after every time unit) and the lock-in run (after every probe)."""
    recs = load_records(results_dir)
    runs = [(k, recs[k]) for k in ("headline", "lockin") if k in recs]
    if not runs:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for (_, rec), colour in zip(runs, ("#1f77b4", "#9467bd"), strict=False):
        ps = rec["metrics"]["per_seed"]["anneal"]
        n, cycles = len(ps["seeds"]), rec["config"]["anneal"]["cycles"]
        tag = (
            "per time unit"
            if rec["config"]["anneal"].get("collect", "unit") == "unit"
            else ("per probe")
        )
        for field, style, what in (
            ("first_success_cycle", "-", "found"),
            ("settled_cycle", "--", "in place to the end"),
        ):
            c = np.sort([v for v in ps[field] if v is not None])
            share = 100 * np.arange(1, len(c) + 1) / n
            ax.step(
                np.r_[1, c, cycles],
                np.r_[0, share, share[-1] if len(share) else 0],
                style,
                where="post",
                color=colour,
                lw=1.5,
                label=f"{what}; statistics {tag}",
            )
    ax.axvline(E.PAPER_LONGEST_CYCLES, color="k", ls=":", lw=1, label="paper: longest 1810")
    ax.set_xscale("log")
    ax.set_xlabel("learning cycle", fontsize=9)
    ax.set_ylabel("% of seeds with four codes", fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_ylim(0, 102)
    ax.set_title("Found vs. kept: four codes first found, and in place to the end", fontsize=10)
    ax.legend(fontsize=9, loc="upper left")
    _layout(fig)
    save_figure(fig, outdir / "lockin.png")


# ---------------------------------------------------------------------------------------
# README blocks

#: the four records of the noise ablation: --method anneal,exact with one update rule
#: and one initial-weight scale each, so each record's two rows differ only in the noise
NOISE_RECORDS = (
    "noise_sign_zero",
    "noise_sign_random",
    "noise_gradient_zero",
    "noise_gradient_random",
)
RECORD_NAMES = (
    "headline",
    "restarts",
    "bipartite",
    "step1",
    "clamp4",
    "exact_traps",
    "lockin",
    *NOISE_RECORDS,
)
STATS_LABEL = {"anneal": "sampled (annealing)", "exact": "exact (enumeration)", "cd": "CD-5"}


def cell_label(cfg: dict) -> str:
    """Update rule and initial weights of a configuration, e.g. "sign rule, step 2\n
    initial W std 0.01" (two lines, for a tick label)."""
    upd = (
        f"sign rule, step {cfg['step']:g}"
        if cfg["update"] == "sign"
        else (f"gradient, lr {cfg['lr']:g}")
    )
    return f"{upd}\ninitial W std {cfg['init_scale']:g}"


def load_records(results_dir: Path) -> dict:
    """The committed records in ``results_dir`` by name (missing ones left out)."""
    out = {}
    for name in RECORD_NAMES:
        path = Path(results_dir) / f"{name}.json"
        if path.is_file():
            out[name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _fmt(x, nd=0):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _of(k, n):
    return f"{k}/{n}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def method_table(rec: dict, paper_rows: bool) -> str:
    """Finding the codes: one row per method of ``rec`` (the paper's criterion)."""
    n = rec["n_seeds"]
    restarts = any(rec["config"][m]["restart_every"] for m in E.METHODS if m in rec["config"])
    head = [
        "method",
        "four different codes",
        "of them within 1810 cycles",
        "cycles to four codes, median / longest",
        f"four clear codes (each p > {E.CLEAR_CODE:g}): seeds, median cycles",
        "codes distinct for good from cycle (median)",
        *(["restarts"] if restarts else []),
        "wall time",
    ]
    rows = []
    for m in E.METHODS:
        if m not in rec["metrics"]:
            continue
        r, cfg = rec["metrics"][m], rec["config"][m]
        rest = []
        if restarts:
            every = cfg["restart_every"]
            rest = [f"every {every} ({r['n_attempts'] - r['n_runs']} in all)" if every else "none"]
        rows.append(
            [
                METHOD_LABEL[m],
                _of(r["n_success"], n),
                _of(r["n_success_within_paper_longest"], n),
                f"{_fmt(r['median_learning_cycles'])} / {_fmt(r['max_learning_cycles'])}",
                f"{_of(r['n_clear_codes'], n)}, {_fmt(r['median_cycles_clear'])}",
                _fmt(r["median_settled_cycles"]),
                *rest,
                f"{r['wall_time_s']:.1f} s",
            ]
        )
    if paper_rows:
        pr = E.PAPER_SUCCESS_RUNS
        rows.append(
            [
                "paper (annealing, 1985)",
                f"{pr}/{pr}",
                f"{pr}/{pr}",
                f"{E.PAPER_MEDIAN_CYCLES} / {E.PAPER_LONGEST_CYCLES}",
                "—",
                '"once there it remained there"',
                "—",
            ]
        )
        rows.append(
            [
                "reference v1 (CD-5 RBM)",
                f"about {100 * E.EARLIER_SUCCESS_PER_ATTEMPT:.0f}% per attempt",
                *["—"] * 5,
            ]
        )
    return _table(head, rows)


def recall_table(rec: dict) -> str:
    """Recall and the final networks: one row per method of ``rec``."""
    n = rec["n_seeds"]
    head = [
        "method",
        "four codes and recall 4/4 together at some cycle",
        "recall 4/4 at the cycle the codes first differ",
        "final network: four codes",
        "final network: four codes and recall 4/4",
        "mean final KL(data‖model), bits",
    ]
    rows = []
    for m in E.METHODS:
        if m not in rec["metrics"]:
            continue
        r = rec["metrics"][m]
        rows.append(
            [
                METHOD_LABEL[m],
                _of(r["n_success_recall"], n),
                _of(r["n_recall_at_first_success"], n),
                _of(r["n_four_codes_at_end"], n),
                _of(r["n_solved_at_end"], n),
                f"{r['mean_kl_bits']:.3f}",
            ]
        )
    return _table(head, rows)


def ablation_table(recs: dict) -> str:
    """One row per method of each ablation record, against the headline configuration."""
    label = {
        "bipartite": "bipartite: no weights within V1 or V2 (`--within off`)",
        "step1": "weight step 1 instead of 2 (`--step 1`)",
        "clamp4": "4 noisy clampings per pattern instead of 2 (`--anneals-per-pattern 4`)",
    }
    lines = [
        "| variant | method | cycles | four different codes | cycles to four codes, median / "
        "longest | at the end: four codes / and recall 4/4 | mean final KL, bits | wall time "
        "| record |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in ("bipartite", "step1", "clamp4"):
        rec = recs.get(key)
        if rec is None:
            continue
        n = rec["n_seeds"]
        for m in E.METHODS:
            if m not in rec["metrics"]:
                continue
            r = rec["metrics"][m]
            lines.append(
                f"| {label[key]} | {METHOD_LABEL[m]} | {rec['config'][m]['cycles']} | "
                f"{_of(r['n_success'], n)} | {_fmt(r['median_learning_cycles'])} / "
                f"{_fmt(r['max_learning_cycles'])} | {_of(r['n_four_codes_at_end'], n)} / "
                f"{_of(r['n_solved_at_end'], n)} | {r['mean_kl_bits']:.3f} | "
                f"{r['wall_time_s']:.0f} s | [results/{key}.json](results/{key}.json) |"
            )
    return "\n".join(lines)


def goals_table(h: dict) -> str:
    """The folder's goals (and the recall counts held to the same bar), measured on the
    headline record; the bar is ``encoder_4_2_4.goal_met``."""

    def row(label, k, n):
        return [label, _of(k, n), "yes" if E.goal_met(k, n) else "no"]

    rows = []
    for m in ("anneal", "exact"):
        r = h["metrics"].get(m)
        if r:
            rows.append(row(f"{m}: four different codes, no restarts", r["n_success"], r["n_runs"]))
    a = h["metrics"].get("anneal")
    if a:
        n = a["n_runs"]
        rows += [
            row(
                "anneal, secondary: four codes and recall 4/4 together at some cycle",
                a["n_success_recall"],
                n,
            ),
            row(
                "anneal, secondary: recall 4/4 at the cycle the codes first differ",
                a["n_recall_at_first_success"],
                n,
            ),
            row(
                "anneal, secondary: final network has four codes and recall 4/4",
                a["n_solved_at_end"],
                n,
            ),
        ]
    n_seeds = h["n_seeds"]
    head = [
        f"goal (seeds {h['seed']}..{h['seed'] + n_seeds - 1}; bar: at least "
        f"{E.GOAL_SUCCESS}% of seeds)",
        "measured",
        "met?",
    ]
    tm = h.get("timing", {})
    if "anneal_sweep_s" in tm:
        rows.append(
            [
                f"{n_seeds}-seed anneal sweep under {tm['anneal_sweep_goal_s']:.0f} s on 2 cores",
                f"{tm['anneal_sweep_s']:.0f} s",
                "yes" if tm["anneal_sweep_under_goal"] else "no",
            ]
        )
    return _table(head, rows) + f"\n\nRecorded verdict (`reproduces`): **{h['reproduces']}**."


def traps_table(rec: dict) -> str:
    """The exact method's solved vs trapped seeds and what further ascent does."""
    m = rec["metrics"]
    ex = m["exact"]

    def med(d, nd):
        return "n/a" if d["n"] == 0 else f"{d['median']:.{nd}g}"

    def rng(d, nd):
        return "n/a" if d["n"] == 0 else f"{d['min']:+.{nd}g} .. {d['max']:+.{nd}g}"

    head = [
        "seeds after the headline exact run",
        "n",
        "$\\mathrm{KL}(q_\\mathrm{noisy} \\Vert p)$, bits (median)",
        "gradient norm (median)",
        "top Hessian eigenvalue, median",
        "top Hessian eigenvalue, range",
    ]
    rows = [
        [
            name,
            str(ex[name]["kl_noisy_bits"]["n"]),
            med(ex[name]["kl_noisy_bits"], 3),
            med(ex[name]["gradient_norm"], 2),
            "n/a"
            if ex[name]["hessian_top_eigenvalue"]["n"] == 0
            else f"{ex[name]['hessian_top_eigenvalue']['median']:+.2g}",
            rng(ex[name]["hessian_top_eigenvalue"], 2),
        ]
        for name in ("solved", "trapped")
    ]
    t1 = _table(head, rows)
    head = [
        "then, on the trapped seeds",
        "update",
        "cycles",
        "found four codes",
        "KL before → after (median bits)",
    ]
    rows = []
    for key, label in (
        ("continued_gradient", "more cycles of the same ascent"),
        ("continued_natural", "natural-gradient ascent"),
    ):
        c = m[key]
        rows.append(
            [
                label,
                f"{c['update']}, lr {c['lr']:g}",
                str(c["extra_cycles"]),
                _of(c["n_escaped"], c["n_trapped"]),
                f"{med(c['kl_noisy_bits_before'], 3)} → {med(c['kl_noisy_bits_after'], 3)}",
            ]
        )
    t2 = _table(head, rows)
    n = m["natural_from_start"]
    text = (
        f"Natural-gradient ascent from the same initial weights ({n['cycles']} cycles, "
        f"lr {n['lr']:g}): {_of(n['n_four_codes'], n['n_seeds'])} seeds with four codes "
        f"(exact gradient: {_of(ex['n_four_codes'], ex['n_seeds'])}); "
        f"{n['same_seeds_trapped_as_gradient']} seeds are trapped under both. "
        f"Wall time {m['wall_time_s']:.0f} s. Record: "
        "[results/exact_traps.json](results/exact_traps.json)."
    )
    return t1 + "\n\n" + t2 + "\n\n" + text


def noise_table(recs: dict) -> str:
    """The 2 x 2 x 2 noise ablation: for each pairing of update rule and initial weights
    (one record each), the sampled and the exact statistics side by side."""
    head = [
        "update rule",
        "initial W (std)",
        "statistics",
        "four codes at some cycle",
        "cycles to four codes, median / longest",
        "kept them to the end",
        "final network: four codes",
        "mean final KL, bits",
        "record",
    ]
    rows = []
    for key in NOISE_RECORDS:
        rec = recs.get(key)
        if rec is None:
            continue
        n = rec["n_seeds"]
        for m in ("anneal", "exact"):
            if m not in rec["metrics"]:
                continue
            r, cfg = rec["metrics"][m], rec["config"][m]
            upd = (
                f"sign, step {cfg['step']:g}"
                if cfg["update"] == "sign"
                else (f"gradient, lr {cfg['lr']:g}")
            )
            rows.append(
                [
                    upd,
                    f"{cfg['init_scale']:g}",
                    STATS_LABEL[m],
                    _of(r["n_success"], n),
                    f"{_fmt(r['median_learning_cycles'])} / {_fmt(r['max_learning_cycles'])}",
                    _of(r["n_kept_four_codes"], n),
                    _of(r["n_four_codes_at_end"], n),
                    f"{r['mean_kl_bits']:.3f}",
                    f"[{key}.json](results/{key}.json)",
                ]
            )
    h = recs.get("headline")
    text = ""
    if h is not None and rows:
        cyc = {rec["config"]["anneal"]["cycles"] for k, rec in recs.items() if k in NOISE_RECORDS}
        text = (
            f"\n\nSeeds {h['seed']}..{h['seed'] + h['n_seeds'] - 1} in every row, "
            f"{', '.join(str(c) for c in sorted(cyc))} cycles, no restarts, within-group "
            "weights on; every other setting as in the headline."
        )
    return _table(head, rows) + text


def lockin_table(recs: dict) -> str:
    """ "Once there it remained there": how many seeds keep their four codes for the rest
    of the run, for the headline anneal run and the every-probe statistics run."""
    head = [
        "annealing run",
        "statistics recorded",
        "cycles",
        "found four codes",
        "kept them at every later cycle",
        "later cycles without four codes (median of those that found them)",
        "codes distinct for good from cycle (median)",
        "final network: four codes",
        "record",
    ]
    rows = []
    for key, label in (("headline", "headline"), ("lockin", "lock-in run")):
        rec = recs.get(key)
        if rec is None or "n_kept_four_codes" not in rec["metrics"].get("anneal", {}):
            continue
        r, cfg, n = rec["metrics"]["anneal"], rec["config"]["anneal"], rec["n_seeds"]
        how = (
            "after every time unit (10 per annealing)"
            if cfg.get("collect", "unit") == "unit"
            else ("after every probe")
        )
        rows.append(
            [
                label,
                how,
                str(cfg["cycles"]),
                _of(r["n_success"], n),
                _of(r["n_kept_four_codes"], n),
                _fmt(r["median_lost_cycles"]),
                _fmt(r["median_settled_cycles"]),
                _of(r["n_four_codes_at_end"], n),
                f"[{key}.json](results/{key}.json)",
            ]
        )
    pr = E.PAPER_SUCCESS_RUNS
    rows.append(
        [
            "paper (1985)",
            "not stated",
            "not stated",
            f"{pr}/{pr}",
            '"remained there"',
            "—",
            "—",
            "—",
            "—",
        ]
    )
    return _table(head, rows)


def block_texts(results_dir: Path) -> dict:
    """Markdown for every README block whose record exists, by block name."""
    recs = load_records(results_dir)
    out = {}
    if "headline" in recs:
        h = recs["headline"]
        env = h["env"]
        out["main"] = (
            method_table(h, paper_rows=True)
            + f"\n\nSeeds {h['seed']}..{h['seed'] + h['n_seeds'] - 1}, "
            f"{h['config']['anneal']['cycles']} learning cycles per method, no restarts, "
            f"{h['config']['workers']} worker processes; total wall time "
            f"{h['wall_time_s']:.0f} s on a {env['cpu_count']}-core machine "
            f"(Python {env['python']}, numpy {env['numpy']}). Record: "
            "[results/headline.json](results/headline.json)."
        )
        out["recall"] = recall_table(h)
        out["goals"] = goals_table(h)
    if "restarts" in recs:
        r = recs["restarts"]
        out["restarts"] = (
            method_table(r, paper_rows=False)
            + f"\n\nSame seeds, {r['config']['anneal']['cycles']} cycles; total wall time "
            f"{r['wall_time_s']:.0f} s. Record: [results/restarts.json](results/restarts.json)."
        )
    if any(k in recs for k in ("bipartite", "step1", "clamp4")):
        out["ablations"] = ablation_table(recs)
    if "exact_traps" in recs:
        out["traps"] = traps_table(recs["exact_traps"])
    if any(k in recs for k in NOISE_RECORDS):
        out["noise"] = noise_table(recs)
    if "lockin" in recs:
        out["lockin"] = lockin_table(recs)
    return out


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Return ``readme_text`` with every ``<!-- results:NAME:start/end -->`` block
    re-rendered from the records in ``results_dir``. Blocks without a record are left as
    they are. Idempotent: rendering its own output again changes nothing."""
    blocks = block_texts(Path(results_dir))
    text = readme_text
    for name, body in blocks.items():
        start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
        i, j = text.find(start), text.find(end)
        if i < 0 or j < i:
            continue
        text = text[: i + len(start)] + "\n" + body + "\n" + text[j:]
    return text


# ---------------------------------------------------------------------------------------


def build_parser() -> E.CleanParser:
    """The command line of visualize_encoder_4_2_4.py."""
    p = E.CleanParser(
        prog="visualize_encoder_4_2_4.py",
        description=__doc__.splitlines()[0]
        + " Exit codes: 0 ok, 2 bad input, 74 cannot write output, 130 interrupted, "
        "143 terminated.",
    )
    add = p.add_argument
    add(
        "--seed",
        type=E.int_in(0, E.MAX_SEED),
        default=0,
        help=f"first seed of the figure runs, which use seeds S..S+7 (int, 0..{E.MAX_SEED}, "
        "S+7 at most that; default 0)",
    )
    add(
        "--cycles",
        type=E.int_in(1, 5000),
        default=400,
        help="learning cycles of the figure runs (int, 1..5000; default 400)",
    )
    add("--outdir", type=str, default=HERE / "viz", help="folder for the figures (path)")
    add(
        "--results",
        type=str,
        default=HERE / "results",
        help="folder of the result records (path; default the folder's results/)",
    )
    add(
        "--smoke",
        action="store_true",
        help="tiny figure runs (8 cycles, small images) for CI; every figure is still drawn",
    )
    add(
        "--readme",
        action="store_true",
        help="only rewrite the README's result blocks from the records (idempotent)",
    )
    add(
        "--readme-path",
        type=str,
        default=HERE / "README.md",
        help="README to rewrite with --readme (path; default the folder's README.md)",
    )
    return p


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.seed + 7 > E.MAX_SEED:
        p.error(f"--seed {a.seed}: the runs use seeds S..S+7, at most {E.MAX_SEED}")
    if not str(a.results).strip() or not Path(a.results).is_dir():
        p.error(f"--results {a.results!r}: no such folder")
    a.results = Path(a.results)
    try:
        recs = load_records(a.results)
    except (OSError, ValueError) as exc:
        p.error(f"--results {a.results}: unreadable record ({exc})")
    if a.readme:
        path = E.check_output_path(p, a.readme_path, "--readme-path", ".md")
        if not path.is_file():
            p.error(f"--readme-path {path}: no such file")
        try:
            text = render_readme(path.read_text(encoding="utf-8"), a.results)
        except (KeyError, TypeError, ValueError) as exc:
            p.error(f"--results {a.results}: a record lacks a field ({exc})")
        E.write_atomic(path, text)
        print(f"rewrote result blocks in {path} from {len(recs)} records")
        return 0
    outdir = E.check_dir_path(p, a.outdir, "--outdir")
    cycles = 8 if a.smoke else a.cycles
    if a.smoke:
        global DPI
        DPI = SMOKE_DPI
    fig_code_trajectories(outdir, a.seed, cycles)
    fig_weights_and_probs(outdir, a.seed, cycles)
    fig_success(outdir, a.results)
    fig_cycles(outdir, a.results)
    fig_noise_ablation(outdir, a.results)
    fig_lockin(outdir, a.results)
    print(f"wrote figures to {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(E.run_main(main, "visualize_encoder_4_2_4.py", final=True))
