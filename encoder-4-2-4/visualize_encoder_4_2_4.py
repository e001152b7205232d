"""Figures for the 4-2-4 encoder and the README's generated result blocks.

    python3 encoder-4-2-4/visualize_encoder_4_2_4.py [--seed 0] [--outdir DIR]
    python3 encoder-4-2-4/visualize_encoder_4_2_4.py --readme   # rewrite README blocks

Figures (written to --outdir, default encoder-4-2-4/viz):
  code_trajectories.png   mean hidden code of each pattern on the unit square over
                          learning (anneal), for four seeds: solutions and traps
  weights_hinton.png      Hinton diagram of the learned weights; V1[i] and V2[i] rows agree
  pattern_like_probs.png  free-running p(v) of the 16 "pattern-like" states vs the data
  success_by_method.png   success rate per method from results/*.json
  learning_curves.png     KL(data || model) per cycle, solved vs trapped seeds
The training code is imported from encoder_4_2_4.py.
"""

from __future__ import annotations

import argparse
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
    """Index of the first solved seed in ``res`` (0 if none)."""
    ok = np.flatnonzero(res["success"])
    return int(ok[0]) if len(ok) else 0


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


def draw_hinton(ax, W, b_v, b_h, max_w=None, title=None):
    """Hinton diagram: squares of area proportional to |w| (white +, black -).

    Layout: columns H[0], H[1], bias; rows V1[0..3], a gap, V2[0..3]; the hidden biases
    sit in a last row."""
    ax.set_facecolor("0.55")
    max_w = max_w or max(np.abs(W).max(), np.abs(b_v).max(), np.abs(b_h).max(), 1e-9)
    rows = [(f"V1[{i}]", W[i], b_v[i]) for i in range(4)]
    rows += [(f"V2[{i}]", W[4 + i], b_v[4 + i]) for i in range(4)]
    ys = [0, 1, 2, 3, 4.6, 5.6, 6.6, 7.6]
    for (_, w, b), y in zip(rows, ys, strict=True):
        for x, val in enumerate([w[0], w[1], b]):
            s = np.sqrt(abs(val) / max_w) * 0.9
            ax.add_patch(
                plt.Rectangle((x - s / 2, y - s / 2), s, s, color="white" if val > 0 else "black")
            )
    y = 9.2
    for x, val in enumerate(b_h):
        s = np.sqrt(abs(val) / max_w) * 0.9
        ax.add_patch(
            plt.Rectangle((x - s / 2, y - s / 2), s, s, color="white" if val > 0 else "black")
        )
    ax.set_xlim(-0.6, 2.6)
    ax.set_ylim(9.8, -0.6)
    ax.set_xticks([0, 1, 2], ["H[0]", "H[1]", "bias"])
    ax.set_yticks(ys + [9.2], [r[0] for r in rows] + ["H bias"])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)


# ---------------------------------------------------------------------------------------
# Figures


def fig_code_trajectories(outdir, seed):
    cfg, res, hist = train_with_history(range(seed, seed + 4))
    fig, axes = plt.subplots(1, 4, figsize=(15, 4.2))
    for k, ax in enumerate(axes):
        fc = res["first_success_cycle"][k]
        state = (
            f"solved (cycle {fc})" if res["success"][k] else (f"trapped: {res['n_codes'][k]} codes")
        )
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
    W, b_v, b_h = (np.array(res[x])[k] for x in ("W", "b_v", "b_h"))
    fig, ax = plt.subplots(figsize=(4.2, 6.5))
    draw_hinton(
        ax,
        W,
        b_v,
        b_h,
        title=f"anneal, seed {seed + k}, after {cfg.cycles} cycles\n"
        f"max |w| = {np.abs(np.r_[W.ravel(), b_v, b_h]).max():.0f} (T = {cfg.temperature:g})",
    )
    fig.tight_layout()
    fig.savefig(outdir / "weights_hinton.png", dpi=DPI)
    plt.close(fig)

    p = E.pattern_like_probs(W[None], b_v[None], b_h[None], cfg.temperature)[0]
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
            E.evaluate(hist["W"][c], hist["b_v"][c], hist["b_h"][c], T)["kl_bits"]
            for c in range(len(hist["W"]))
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for j in range(kl.shape[1]):
        ok = res["success"][j]
        ax.plot(
            kl[:, j],
            color="#2ca02c" if ok else "#d62728",
            lw=1,
            alpha=0.8,
            label=("solved" if ok else "trapped (2 patterns share a code)")
            if j == (first_solved(res) if ok else int(np.argmin(res["success"])))
            else None,
        )
    ax.set_xlabel("learning cycle")
    ax.set_ylabel("KL(data || model), bits")
    ax.set_title(f"Exact KL during annealing-based learning, seeds {seed}..{seed + 7}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "learning_curves.png", dpi=DPI)
    plt.close(fig)


def fig_success(outdir, results_dir):
    recs = load_records(results_dir)
    if "headline" not in recs:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    names, vals, cols = [], [], []
    for key, style in (("headline", "#1f77b4"), ("restarts", "#ff7f0e")):
        rec = recs.get(key)
        if rec is None:
            continue
        for m in E.METHODS:
            if m in rec["metrics"]:
                cfgm = rec["config"][m]
                tag = f"\nrestart {cfgm['restart_every']}" if cfgm["restart_every"] else ""
                names.append(METHOD_LABEL[m] + tag)
                vals.append(100 * rec["metrics"][m]["success_rate"])
                cols.append(style)
    ax.bar(range(len(vals)), vals, color=cols)
    for i, v in enumerate(vals):
        ax.text(i, v + 1, f"{v:.0f}", ha="center", fontsize=8)
    ax.axhline(100, color="k", ls="--", lw=1, label="paper: 250/250 runs")
    ax.axhline(
        100 * E.EARLIER_SUCCESS_PER_ATTEMPT,
        color="0.5",
        ls=":",
        lw=1,
        label="earlier CD-5 reproduction, per attempt",
    )
    ax.set_xticks(range(len(vals)), names, fontsize=7)
    ax.set_ylabel("% of seeds solved")
    ax.set_ylim(0, 128)
    n = recs["headline"]["n_seeds"]
    ax.set_title(
        f"Seeds solved per method (same {n} seeds; blue: defaults, orange: with "
        "restart-if-unsolved)",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    fig.tight_layout()
    fig.savefig(outdir / "success_by_method.png", dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------------------------------
# README blocks


def load_records(results_dir: Path) -> dict:
    out = {}
    for name in ("headline", "restarts", "step1"):
        path = Path(results_dir) / f"{name}.json"
        if path.is_file():
            out[name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _fmt(x, nd=2):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def method_table(rec: dict, paper_rows: bool) -> str:
    n = rec["n_seeds"]
    lines = [
        "| method | seeds that found a solution | success per attempt | cycles to solution, "
        "median / mean | still solved at the end | mean final KL(data‖model), bits | restarts "
        "| wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in E.METHODS:
        if m not in rec["metrics"]:
            continue
        r = rec["metrics"][m]
        cfg = rec["config"][m]
        rest = (
            f"every {cfg['restart_every']} ({r['n_attempts'] - r['n_runs']} in all)"
            if cfg["restart_every"]
            else "none"
        )
        lines.append(
            f"| {METHOD_LABEL[m]} | {r['n_success']}/{n} | "
            f"{r['n_success']}/{r['n_attempts']} = {100 * r['success_per_attempt']:.0f}% | "
            f"{_fmt(r['median_learning_cycles'], 0)} / {_fmt(r['mean_learning_cycles'], 0)} | "
            f"{r['n_solved_at_end']}/{n} | "
            f"{r['mean_kl_bits']:.3f} | {rest} | {r['wall_time_s']:.1f} s |"
        )
    if paper_rows:
        lines.append(
            f"| paper (annealing, 1985) | {E.PAPER_SUCCESS_RUNS}/{E.PAPER_SUCCESS_RUNS} | "
            f"100% | — / about {E.PAPER_MEAN_CYCLES} | — | — | none | — |"
        )
        lines.append(
            f"| earlier reproduction (CD-5 RBM) | — | about "
            f"{100 * E.EARLIER_SUCCESS_PER_ATTEMPT:.0f}% | — | — | — | up to 5 restarts | — |"
        )
    return "\n".join(lines)


def block_texts(results_dir: Path) -> dict:
    recs = load_records(results_dir)
    out = {}
    if "headline" in recs:
        h = recs["headline"]
        env = h["env"]
        out["main"] = (
            method_table(h, paper_rows=True)
            + f"\n\nSeeds {h['seed']}..{h['seed'] + h['n_seeds'] - 1}, "
            f"{h['config']['anneal']['cycles']} learning cycles per method, "
            f"{h['config']['workers']} worker processes; total wall time "
            f"{h['wall_time_s']:.0f} s on a {env['cpu_count']}-core machine shared with other "
            f"jobs (Python {env['python']}, numpy {env['numpy']}). Record: "
            "[results/headline.json](results/headline.json)."
        )
        a = h["metrics"].get("anneal")
        e = h["metrics"].get("exact")
        goals = ["| goal | measured | met? |", "|---|---|---|"]
        if a:
            goals.append(
                f"| anneal solves >= {E.GOAL_SUCCESS}/100 seeds (no restarts) | "
                f"{a['n_success']}/{a['n_runs']} | "
                f"{'yes' if a['n_success'] >= E.GOAL_SUCCESS else 'no'} |"
            )
        if e:
            goals.append(
                f"| exact solves >= {E.GOAL_SUCCESS}/100 seeds (no restarts) | "
                f"{e['n_success']}/{e['n_runs']} | "
                f"{'yes' if e['n_success'] >= E.GOAL_SUCCESS else 'no'} |"
            )
        r = recs.get("restarts")
        if r:
            for m in ("anneal", "exact"):
                rm = r["metrics"][m]
                goals.append(
                    f"| {m} solves >= {E.GOAL_SUCCESS}/100 seeds with restart-if-unsolved "
                    f"every {r['config'][m]['restart_every']} cycles | "
                    f"{rm['n_success']}/{rm['n_runs']} | "
                    f"{'yes' if rm['n_success'] >= E.GOAL_SUCCESS else 'no'} |"
                )
        if a:
            goals.append(
                f"| 100-seed anneal sweep < {E.GOAL_ANNEAL_SWEEP_S:.0f} s on 2 cores | "
                f"{a['wall_time_s']:.0f} s | "
                f"{'yes' if h['metrics'].get('anneal_sweep_under_5_min') else 'no'} |"
            )
        goals.append(f"\nRecorded verdict (`reproduces`): **{h['reproduces']}**.")
        out["goals"] = "\n".join(goals)
    if "restarts" in recs:
        r = recs["restarts"]
        out["restarts"] = (
            method_table(r, paper_rows=False)
            + f"\n\nSame seeds, {r['config']['anneal']['cycles']} cycles; total wall time "
            f"{r['wall_time_s']:.0f} s. Record: [results/restarts.json](results/restarts.json)."
        )
    if "step1" in recs:
        s = recs["step1"]
        a = s["metrics"]["anneal"]
        out["step1"] = (
            "| anneal variant | seeds solved | median cycles | mean KL, bits |\n|---|---|---|---|\n"
            f"| weight step {s['config']['anneal']['step']:g} instead of 2 | "
            f"{a['n_success']}/{a['n_runs']} | {_fmt(a['median_learning_cycles'], 0)} | "
            f"{a['mean_kl_bits']:.3f} |\n\nRecord: [results/step1.json](results/step1.json)."
        )
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


class CleanParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv=None) -> int:
    p = CleanParser(prog="visualize_encoder_4_2_4.py", description=__doc__.splitlines()[0])
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
    print(f"wrote figures to {a.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
