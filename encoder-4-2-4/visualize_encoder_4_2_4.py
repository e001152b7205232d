"""Figures for the 4-2-4 encoder and the README's generated result blocks.

    python3 encoder-4-2-4/visualize_encoder_4_2_4.py [--seed 0] [--outdir DIR]
    python3 encoder-4-2-4/visualize_encoder_4_2_4.py --readme   # rewrite README blocks

Figures (written to --outdir, default encoder-4-2-4/viz):
  code_trajectories.png   mean hidden code of each pattern on the unit square over
                          learning (anneal), for four seeds: solutions and traps
  weights_hinton.png      Hinton diagram of the learned weights; V1[i] and V2[i] rows agree
  pattern_like_probs.png  free-running p(v) of the 16 "pattern-like" states vs the data
  success_by_method.png   seeds with four codes per method from results/*.json
  cycles_to_codes.png     cumulative share of seeds with four codes over learning cycles
  learning_curves.png     KL(data || model) per cycle, solved vs trapped seeds
The training code is imported from encoder_4_2_4.py.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import encoder_4_2_4 as E  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110
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
    ax.set_xlabel("p(H[0] = 1 | pattern)")
    ax.set_ylabel("p(H[1] = 1 | pattern)")
    if title:
        ax.set_title(title, fontsize=10)


def draw_hinton(ax, W, L1, L2, b_v, b_h, max_w=None, title=None):
    """Hinton diagram: squares of area proportional to |w| (white +, black -).

    Layout: columns H[0], H[1], bias, then the four within-group weights of the row's own
    group (column "unit j" of row V1[i] is L1[i, j]; the diagonal is empty); rows V1[0..3],
    a gap, V2[0..3]; the hidden biases sit in a last row."""
    ax.set_facecolor("0.55")
    L = [L1, L2]
    max_w = max_w or max(np.abs(x).max() for x in (W, L1, L2, b_v, b_h, np.ones(1) * 1e-9))
    xs = [0, 1, 2, 3.6, 4.6, 5.6, 6.6]
    rows, ys = [], []
    for g, y0 in ((0, 0.0), (1, 4.6)):
        for i in range(4):
            k = 4 * g + i
            rows.append((f"V{g + 1}[{i}]", [W[k, 0], W[k, 1], b_v[k], *L[g][i]]))
            ys.append(y0 + i)
    rows.append(("H bias", list(b_h)))
    ys.append(9.2)

    def square(x, y, val):
        s = np.sqrt(abs(val) / max_w) * 0.9
        color = "white" if val > 0 else "black"
        ax.add_patch(plt.Rectangle((x - s / 2, y - s / 2), s, s, color=color))

    for (_, vals), y in zip(rows, ys, strict=True):
        for x, val in zip(xs, vals, strict=False):
            square(x, y, val)
    ax.set_xlim(-0.6, 7.2)
    ax.set_ylim(9.8, -0.6)
    ax.set_xticks(xs, ["H[0]", "H[1]", "bias", "unit 0", "unit 1", "unit 2", "unit 3"])
    ax.tick_params(axis="x", labelrotation=90, labelsize=8)
    ax.set_yticks(ys, [r[0] for r in rows])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)


# ---------------------------------------------------------------------------------------
# Figures


def fig_code_trajectories(outdir, seed):
    cfg, res, hist = train_with_history(range(seed, seed + 4))
    fig, axes = plt.subplots(1, 4, figsize=(15, 4.5))
    for k, ax in enumerate(axes):
        fc = res["first_success_cycle"][k]
        first = f"four codes first at cycle {fc}" if res["success"][k] else "never four codes"
        state = f"{first};\n{res['n_codes'][k]} codes at the end"
        draw_codes(ax, hist["code_mean"], k, title=f"seed {seed + k}: {state}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(
        f"Hidden code of each pattern over {cfg.cycles} annealing learning cycles "
        "(+ = start, dot = end; grey squares = the four corners)",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(outdir / "code_trajectories.png", dpi=DPI)
    plt.close(fig)


def fig_weights_and_probs(outdir, seed):
    cfg, res, hist = train_with_history(range(seed, seed + 8))
    k = first_solved(res)
    params = [np.array(res[x])[k] for x in E.PARAM_NAMES]
    max_w = max(np.abs(x).max() for x in params)
    fig, ax = plt.subplots(figsize=(6.2, 6.8))
    draw_hinton(
        ax,
        *params,
        title=f"anneal, seed {seed + k}, after {cfg.cycles} cycles\n"
        f"max |w| = {max_w:.0f} (T = {cfg.temperature:g})",
    )
    fig.tight_layout()
    fig.savefig(outdir / "weights_hinton.png", dpi=DPI)
    plt.close(fig)

    p = E.pattern_like_probs(*(x[None] for x in params), cfg.temperature)[0]
    q_noisy = E.data_distribution(cfg.noise_on, cfg.noise_off)[E.PATTERN_LIKE_INDEX]
    q_clean = E.data_distribution()[E.PATTERN_LIKE_INDEX]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    x = np.arange(16)
    ax.bar(x - 0.27, q_clean.ravel(), 0.27, label="data (clean patterns)", color="0.3")
    ax.bar(x, q_noisy.ravel(), 0.27, label="data with noisy clamping", color="0.65")
    ax.bar(x + 0.27, p.ravel(), 0.27, label="model, free-running at T", color="#1f77b4")
    ax.set_xticks(x, [f"{i}{j}" for i in range(4) for j in range(4)])
    ax.set_xlabel("pattern-like state: V1 unit i on, V2 unit j on (label ij)")
    ax.set_ylabel("probability")
    ax.set_title(
        f"Free-phase probability of the 16 pattern-like states (anneal, seed {seed + k}; "
        f"these hold {p.sum():.2f} of the model's mass)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "pattern_like_probs.png", dpi=DPI)
    plt.close(fig)

    # learning curves of the same 8 seeds
    T = cfg.temperature
    kl = np.array(
        [
            E.evaluate(*(hist[x][c] for x in E.PARAM_NAMES), T)["kl_bits"]
            for c in range(len(hist["W"]))
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for j in range(kl.shape[1]):
        ok = res["success"][j]
        ax.plot(kl[:, j], color="#2ca02c" if ok else "#d62728", lw=1, alpha=0.8)
        fc = res["first_success_cycle"][j]
        if fc is not None:
            ax.plot(fc, kl[fc, j], "o", color="#2ca02c", mec="k", ms=5)
    ax.plot([], [], color="#2ca02c", label="found four codes (dot: first cycle with four)")
    if not all(res["success"]):
        ax.plot([], [], color="#d62728", label="two patterns still share a code")
    ax.set_xlabel("learning cycle")
    ax.set_ylabel("KL(data || model), bits")
    ax.set_title(f"Exact KL during annealing-based learning, seeds {seed}..{seed + 7}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "learning_curves.png", dpi=DPI)
    plt.close(fig)


RECORD_STYLE = {  # record -> (bar colour, label in the success figure)
    "headline": ("#1f77b4", "paper's model (within-group weights)"),
    "bipartite": ("#7f7f7f", "bipartite model (no within-group weights)"),
    "restarts": ("#ff7f0e", "with restart-if-unsolved"),
}


def fig_success(outdir, results_dir):
    """Bar chart of seeds with four codes per method and record (from results/*.json)."""
    recs = load_records(results_dir)
    if "headline" not in recs:
        return
    fig, ax = plt.subplots(figsize=(9, 4.0))
    names, vals, ends, cols = [], [], [], []
    for key, (colour, _) in RECORD_STYLE.items():
        rec = recs.get(key)
        if rec is None:
            continue
        for m in E.METHODS:
            if m in rec["metrics"]:
                r = rec["metrics"][m]
                cfgm = rec["config"][m]
                tag = f"\nrestart {cfgm['restart_every']}" if cfgm["restart_every"] else ""
                tag += "" if cfgm.get("within", False) else "\nbipartite"
                names.append(METHOD_LABEL[m] + tag)
                vals.append(100 * r["n_success"] / r["n_runs"])
                ends.append(100 * r["n_solved_at_end"] / r["n_runs"])
                cols.append(colour)
    x = np.arange(len(vals))
    ax.bar(x, vals, color=cols, width=0.75)
    ax.plot(x, ends, "v", color="k", ms=6, label="four codes and recall 4/4 at the end")
    for i, v in enumerate(vals):
        ax.text(i, v + 1.5, f"{v:.0f}", ha="center", fontsize=8)
    ax.axhline(100, color="k", ls="--", lw=1, label="paper: 250/250 runs")
    ax.axhline(
        100 * E.EARLIER_SUCCESS_PER_ATTEMPT,
        color="0.5",
        ls=":",
        lw=1,
        label="earlier CD-5 reproduction, per attempt",
    )
    for key, (colour, label) in RECORD_STYLE.items():
        if key in recs:
            ax.bar([0], [0], color=colour, label=label)
    ax.set_xticks(x, names, fontsize=7)
    ax.set_ylabel("% of seeds with four different codes")
    ax.set_ylim(0, 135)
    n = recs["headline"]["n_seeds"]
    ax.set_title(f"Seeds that found four different codes, per method (same {n} seeds)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", ncol=3)
    fig.tight_layout()
    fig.savefig(outdir / "success_by_method.png", dpi=DPI)
    plt.close(fig)


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
    ax.set_xlabel("learning cycle")
    ax.set_ylabel("% of seeds with four codes")
    ax.set_ylim(0, 102)
    ax.set_title("When the four codes first become distinct (headline record)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(outdir / "cycles_to_codes.png", dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------------------------------
# README blocks

RECORD_NAMES = ("headline", "restarts", "bipartite", "step1", "clamp4", "exact_traps")


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
                "earlier reproduction (CD-5 RBM)",
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
    headline record."""
    g = E.GOAL_SUCCESS

    def row(label, k, n):
        return [label, _of(k, n), "yes" if k >= g else "no"]

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
    head = ["goal (seeds 0..99; bar: >= 98 of 100)", "measured", "met?"]
    if a:
        rows.append(
            [
                f"100-seed anneal sweep < {E.GOAL_ANNEAL_SWEEP_S:.0f} s on 2 cores",
                f"{a['wall_time_s']:.0f} s",
                "yes" if h["metrics"].get("anneal_sweep_under_5_min") else "no",
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
        return "n/a" if d["n"] == 0 else f"{d['min']:.{nd}g} .. {d['max']:.{nd}g}"

    head = [
        "seeds after the headline exact run",
        "n",
        "KL(noisy data || model), bits",
        "gradient norm (median)",
        "top Hessian eigenvalue (range)",
    ]
    rows = [
        [
            name,
            str(ex[name]["kl_noisy_bits"]["n"]),
            med(ex[name]["kl_noisy_bits"], 3),
            med(ex[name]["gradient_norm"], 2),
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
        "KL before -> after (median bits)",
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
                f"{med(c['kl_noisy_bits_before'], 3)} -> {med(c['kl_noisy_bits_after'], 3)}",
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
            f"{h['wall_time_s']:.0f} s on a {env['cpu_count']}-core virtual machine "
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
    return out


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Return ``readme_text`` with every ``<!-- results:NAME:start/end -->`` block
    re-rendered from the records in ``results_dir``. Blocks without a record are left as
    they are."""
    blocks = block_texts(Path(results_dir))
    text = readme_text
    for name, body in blocks.items():
        start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
        i, j = text.find(start), text.find(end)
        if i < 0 or j < i:
            continue
        text = text[: i + len(start)] + "\n" + body + "\n" + text[j:]
    return text


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = E.CleanParser(prog="visualize_encoder_4_2_4.py", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="first seed of the figure runs")
    p.add_argument("--outdir", type=Path, default=HERE / "viz")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--readme", action="store_true", help="only rewrite README result blocks")
    a = p.parse_args(argv)
    if a.seed < 0:
        p.error("--seed must be >= 0")
    if a.readme:
        path = HERE / "README.md"
        write_text_atomic(path, render_readme(path.read_text(encoding="utf-8"), a.results))
        print(f"rewrote result blocks in {path}")
        return 0
    a.outdir.mkdir(parents=True, exist_ok=True)
    fig_code_trajectories(a.outdir, a.seed)
    fig_weights_and_probs(a.outdir, a.seed)
    fig_success(a.outdir, a.results)
    fig_cycles(a.outdir, a.results)
    print(f"wrote figures to {a.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
