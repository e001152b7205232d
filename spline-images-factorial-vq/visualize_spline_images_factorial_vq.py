# ruff: noqa: E501  (markdown table rows are long by nature)
"""Figures and README tables for spline-images-factorial-vq.

    python3 spline-images-factorial-vq/visualize_spline_images_factorial_vq.py --seed 0
    python3 spline-images-factorial-vq/visualize_spline_images_factorial_vq.py --readme

Figures of one training run (data, curves, codebooks, contributions, reconstructions)
are made by retraining at --seed with the training code of spline_images_factorial_vq.py;
figures of sweeps (DL bars, factor grid, codebook usage) are drawn from results/*.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import spline_images_factorial_vq as s  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110
COLORS = {
    "vq24": "#d62728",
    "separate4x6": "#ff7f0e",
    "factorial4x6": "#1f77b4",
    "pca5": "#7f7f7f",
    "vqvae": "#2ca02c",
    "gumbel": "#9467bd",
    "gmvq": "#8c564b",
    "vqdraw": "#e377c2",
}


def load(results_dir: Path, name: str):
    p = Path(results_dir) / name
    return json.loads(p.read_text()) if p.exists() else None


# ------------------------------------------------------------------------ figures of one run


def fig_data_samples(X, ctrl, path):
    fig, axes = plt.subplots(4, 4, figsize=(8, 4.4))
    xk = np.linspace(0, s.IMG_W - 1, s.N_CONTROL)
    for i, ax in enumerate(axes.flat):
        ax.imshow(X[i].reshape(s.IMG_H, s.IMG_W), cmap="gray", vmin=0, vmax=1)
        ax.plot(xk, ctrl[i], "o", color="#ff4136", ms=3)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("16 training images (8x12) with their 5 control points (red)")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_training_curves(curves, metrics, path):
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, hist in curves.items():
        if hist:
            st = [h["step"] for h in hist]
            ax.plot(st, [h["test_total_bits"] for h in hist], color=COLORS.get(name), label=name)
        else:  # PCA (closed form) and the sequential stages: final value only
            ax.axhline(
                metrics[name]["total_bits"],
                color=COLORS.get(name),
                ls="--",
                label=name + " (final value)",
            )
    ax.set_xlabel("Adam step")
    ax.set_ylabel("held-out exact DL (bits/image)")
    ax.set_title("Training: exact bits-back description length of held-out images")
    ax.set_ylim(top=min(ax.get_ylim()[1], 250))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_codebooks(fitted, path):
    C = fitted.stages[0]["codebook"]
    F, K, _ = C.shape
    lim = np.abs(C).max()
    fig, axes = plt.subplots(F, K, figsize=(1.4 * K, 1.05 * F + 0.5))
    prior = np.exp(s.log_prior_of(fitted.stages[0], fitted.cfg))
    for f in range(F):
        for k in range(K):
            ax = axes[f, k]
            ax.imshow(C[f, k].reshape(s.IMG_H, s.IMG_W), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"p={prior[f, k]:.2f}", fontsize=7)
            if k == 0:
                ax.set_ylabel(f"factor {f + 1}", fontsize=8)
    fig.suptitle(
        "factorial4x6 codebook: one row per factor (red +, blue -); prior p(k)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_contributions(fitted, X_test, path):
    q, C = fitted.posterior(X_test)
    m_f = np.matmul(q.transpose(1, 0, 2), C)  # (F, N, D)
    F = C.shape[0]
    fig, axes = plt.subplots(2, F, figsize=(2.2 * F, 3.9))
    for f in range(F):
        for row, (arr, title) in enumerate(
            [(m_f[f].mean(0), "mean"), (m_f[f].std(0), "spread (std)")]
        ):
            ax = axes[row, f]
            lim = np.abs(arr).max() + 1e-12
            cmap, vmin = ("RdBu_r", -lim) if row == 0 else ("viridis", 0)
            ax.imshow(arr.reshape(s.IMG_H, s.IMG_W), cmap=cmap, vmin=vmin, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"factor {f + 1} {title}", fontsize=8)
    fig.suptitle("Per-factor contribution E_q[C_f[k_f]] over held-out images", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_reconstructions(fitted_all, X_test, path, n=8):
    names = list(fitted_all)
    fig, axes = plt.subplots(len(names) + 1, n, figsize=(1.3 * n, 0.95 * (len(names) + 1) + 0.4))
    rows = [("held-out", X_test[:n])] + [
        (nm, fitted_all[nm].reconstruct(X_test[:n])) for nm in names
    ]
    for r, (label, imgs) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(imgs[i].reshape(s.IMG_H, s.IMG_W), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("Held-out images and posterior-mean reconstructions", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


# ------------------------------------------------------------------------ figures of sweeps


def fig_dl_bars(record, path):
    models = record["metrics"]["models"]
    names = [n for n in s.CLASSIC_MODELS + ["vqvae", "gumbel", "gmvq", "vqdraw"] if n in models]
    x = np.arange(len(names))
    rec = np.array([np.mean(models[n]["recon_bits"]) for n in names])
    code = np.array([np.mean(models[n]["code_bits"]) for n in names])
    tot_sd = np.array([np.std(models[n]["total_bits"]) for n in names])
    fig, ax = plt.subplots(figsize=(1.0 * len(names) + 5.5, 4.2))
    ax.bar(
        x,
        rec,
        color=[COLORS.get(n) for n in names],
        alpha=0.85,
        label="reconstruction E_q[-log2 p(x|k)]",
    )
    ax.bar(x, code, bottom=rec, color="#cccccc", edgecolor="k", lw=0.5, label="code KL(q||p)")
    ax.errorbar(
        x, rec + code, yerr=tot_sd, fmt="none", ecolor="k", capsize=4, label="std over seeds"
    )
    for i, n in enumerate(names):
        ax.plot(
            np.full(len(models[n]["total_bits"]), i) + 0.25, models[n]["total_bits"], "k.", ms=3
        )
        ax.plot(i - 0.25, np.mean(models[n]["meanfield_total_bits"]), "v", color="#555", ms=5)
    ax.plot([], [], "v", color="#555", label="mean-field figure (not a bound)")
    ax.axhline(s.PAPER_TOTAL_BITS, color="k", ls=":", lw=1, label="paper factorial (18 + 7 bits)")
    ax.set_xticks(x, names, rotation=20)
    ax.set_ylabel("bits per held-out image")
    ax.set_title(f"Exact description length, {record['n_seeds']} seeds (dots: seeds)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_factor_grid(record, path):
    grid = record["metrics"]["grid"]
    fig, ax = plt.subplots(figsize=(6, 4))
    g24 = [g for g in grid if g["n_factors"] * g["n_codes"] == 24]
    F = [g["n_factors"] for g in g24]
    for key, lab, st in [
        ("total_bits", "total", "o-"),
        ("recon_bits", "reconstruction", "s--"),
        ("code_bits", "code", "^:"),
    ]:
        mu = [g["summary"][key]["mean"] for g in g24]
        sd = [g["summary"][key]["std"] for g in g24]
        ax.errorbar(F, mu, yerr=sd, fmt=st, capsize=3, label=f"{lab}, 24 codewords")
    for g in grid:
        if g["n_factors"] * g["n_codes"] != 24:
            ax.errorbar(
                g["n_factors"],
                g["summary"]["total_bits"]["mean"],
                yerr=g["summary"]["total_bits"]["std"],
                fmt="*",
                ms=11,
                color="k",
                capsize=3,
                label=f"total, {g['n_factors']}x{g['n_codes']}",
            )
    ax.set_xscale("log")
    ax.set_xticks(F, [f"{g['n_factors']}x{g['n_codes']}" for g in g24])
    ax.set_xlabel("factors x codes")
    ax.set_ylabel("held-out bits per image")
    ax.set_title(f"Factorial VQ: DL against number of factors ({record['n_seeds']} seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_codebook_usage(record, path):
    models = record["metrics"]["models"]
    names = [n for n in s.ALL_MODELS if n in models and models[n]["perplexity"][0] is not None]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8
    for i, n in enumerate(names):
        pq = np.array(models[n]["perplexity_per_quantiser"], dtype=float)  # (seeds, quantisers)
        Q = pq.shape[1]
        xs = i + (np.arange(Q) - (Q - 1) / 2) * width / max(Q, 1)
        ax.bar(
            xs,
            pq.mean(0),
            width=width / max(Q, 1) * 0.9,
            color=COLORS.get(n),
            yerr=pq.std(0),
            capsize=2,
        )
    K = record["config"]["n_codes"]
    ax.axhline(K, color="k", ls=":", lw=1, label=f"all {K} codes equally used")
    ax.set_xticks(range(len(names)), names, rotation=15)
    ax.set_ylabel("perplexity 2^H(mean posterior)")
    ax.set_title("Codebook usage per quantiser (one bar per factor/stage; vq24 has 24 codes)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_vqdraw_vs_factorial(vqdraw, factorial, X_test, path, n=4):
    import modern_vq as m

    codes, _ = m.vqdraw_encode(vqdraw.params, X_test[:n], vqdraw.F, vqdraw.K)
    stages = []
    m.vqdraw_decode(vqdraw.params, codes, X_test.shape[1], vqdraw.K, stages=stages)
    q, C = factorial.posterior(X_test[:n])
    kmap = q.argmax(axis=2)  # (n, F) most probable code of each factor
    F = C.shape[0]
    contrib = np.stack([C[f, kmap[:, f]] for f in range(F)], axis=1)  # (n, F, D)
    cum = np.cumsum(contrib, axis=1)
    cols = 1 + len(stages) + F
    fig, axes = plt.subplots(n, cols, figsize=(1.25 * cols, 1.0 * n + 0.7))
    for i in range(n):
        panels = [("held-out", X_test[i])]
        panels += [(f"VQ-DRAW\nstage {j + 1}", stages[j][i]) for j in range(len(stages))]
        panels += [(f"factorial\nf1..f{f + 1}", cum[i, f]) for f in range(F)]
        for j, (title, img) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(img.reshape(s.IMG_H, s.IMG_W), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=7)
    fig.suptitle(
        "VQ-DRAW canvas after each stage vs. factorial VQ sum of its first f factors (MAP codes)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def figures_of_run(seed, outdir, models=None):
    """Retrain at `seed` with the default config and draw the single-run figures."""
    cfg = s.config_from_args(s.build_parser().parse_args(["--seed", str(seed)]))
    models = models or s.ALL_MODELS
    run = s.train_seed(seed, cfg, models, verbose=False, curves=True)
    if "vqdraw" in run["fitted"]:
        fig_vqdraw_vs_factorial(
            run["fitted"]["vqdraw"],
            run["fitted"]["factorial4x6"],
            run["X_test"],
            outdir / "vqdraw_vs_factorial.png",
        )
    fig_data_samples(run["X"], run["ctrl"], outdir / "data_samples.png")
    fig_training_curves(run["curves"], run["metrics"], outdir / "training_curves.png")
    fig_codebooks(run["fitted"]["factorial4x6"], outdir / "factor_codebooks.png")
    fig_contributions(
        run["fitted"]["factorial4x6"], run["X_test"], outdir / "factor_contributions.png"
    )
    fig_reconstructions(run["fitted"], run["X_test"], outdir / "reconstructions.png")
    return run


def figures_of_records(results_dir, outdir):
    head = load(results_dir, "headline.json")
    if head:
        fig_dl_bars(head, outdir / "dl_bars.png")
        fig_codebook_usage(head, outdir / "codebook_usage.png")
    grid = load(results_dir, "grid.json")
    if grid and "grid" in grid["metrics"]:
        fig_factor_grid(grid, outdir / "factor_grid.png")


# ------------------------------------------------------------------------ README blocks


def _ms(values, fmt="{:.2f}"):
    v = np.asarray(values, dtype=float)
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std())}"


def block_setup(head):
    c = head["config"]
    if c["beta_start"] < 1:
        kl = f"KL weight ramp {c['beta_start']:g} -> 1 and training noise"
    else:
        kl = "KL weight 1 throughout (no ramp); training noise"
    restarts = c.get("restarts", 1)
    return "\n".join(
        [
            f"- seeds {head['seed']}..{head['seed'] + head['n_seeds'] - 1} ({head['n_seeds']} seeds); "
            f"{c['n_images']} training + {c['n_images']} held-out images per seed",
            f"- pixel model: Gaussian, sigma_x = {c['sigma_x']:g}; quantisation width "
            f"{c['quant']:.4f} ({c['quant_rule']}); per-image pixel constant {c['pixel_const_bits']:.2f} bits",
            f"- prior: {c['prior']}; {kl} "
            f"{c['sigma_start']:g} -> {c['sigma_x']:g} over the first {c['anneal_frac']:.0%} of "
            f"{c['steps']} Adam steps (lr {c['lr']:g}, batch {c['batch_size']}, {c['n_hidden']} tanh "
            "hidden units)",
            f"- vq24 and the factorial VQs: best of {restarts} restarts by training free energy "
            "(held-out images never used for a choice)",
            f"- sampled bits-back: {c['n_samples']} draws per held-out image",
            f"- whole sweep wall time {head['wall_time_s']:.1f} s on {head['env']['cpu_count']} cores "
            f"({head['env']['platform']}, numpy {head['env']['numpy']})",
        ]
    )


def block_table(head):
    models = head["metrics"]["models"]
    names = [n for n in s.CLASSIC_MODELS + ["vqvae", "gumbel", "gmvq", "vqdraw"] if n in models]
    rows = [
        "| model | code budget | exact DL (bits) | recon | code | sampled bits-back | mean-field figure | "
        "training-set DL | perplexity / quantiser | train time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        m = models[n]
        pp = m["perplexity"]
        ppl = "–" if pp[0] is None else _ms(pp)
        rows.append(
            f"| {n} | {m['code_budget']} | **{_ms(m['total_bits'])}** | {_ms(m['recon_bits'])} | "
            f"{_ms(m['code_bits'])} | {_ms(m['sampled_total_bits'])} | {_ms(m['meanfield_total_bits'])} | "
            f"{_ms(m['train_total_bits'])} | {ppl} | {_ms(m['train_time_s'])} |"
        )
    rows.append("")
    rows.append("Mean ± standard deviation over seeds; held-out images unless marked training-set.")
    return "\n".join(rows)


def block_goals(head):
    g = head["metrics"]["goals"]
    lines = []
    if "ratio_vq24_over_factorial_mean" in g:
        per = ", ".join(f"{r:.2f}" for r in g["ratio_vq24_over_factorial_per_seed"])
        lines.append(
            f"- vq24 / factorial4x6 exact DL ratio: **{g['ratio_vq24_over_factorial_mean']:.2f}** "
            f"(per seed {per}); goal >= {g['ratio_goal']:g}: **{'met' if g['ratio_goal_met'] else 'NOT met'}**"
            + (
                ""
                if g["ratio_goal_met"]
                else f" (short by a factor {g['ratio_goal'] / g['ratio_vq24_over_factorial_mean']:.2f})"
            )
        )
    if "classic_four_train_time_seed0_s" in g:
        lines.append(
            f"- training time of the four models at seed 0: **{g['classic_four_train_time_seed0_s']:.2f} s** "
            f"(goal < {g['time_goal_s']:g} s: {'met' if g['time_goal_met'] else 'NOT met'})"
        )
    m = head["metrics"]["models"]
    if "factorial4x6" in m:
        f = m["factorial4x6"]
        lines.append(
            f"- factorial4x6 held-out: {np.mean(f['recon_bits']):.2f} + {np.mean(f['code_bits']):.2f} = "
            f"{np.mean(f['total_bits']):.2f} bits (paper: {s.PAPER_RECON_BITS:g} + {s.PAPER_CODE_BITS:g} = "
            f"{s.PAPER_TOTAL_BITS:g} bits, conventions below); on its training images "
            f"{np.mean(f['train_total_bits']):.2f} bits"
        )
    lines.append(f"- record verdict `reproduces`: **{head['reproduces']}**")
    return "\n".join(lines)


def block_grid(rec):
    grid = rec["metrics"]["grid"]
    rows = [
        "| factors x codes | exact DL (bits) | recon | code | sampled | mean-field figure |",
        "|---|---|---|---|---|---|",
    ]
    for g in grid:
        rows.append(
            f"| {g['n_factors']}x{g['n_codes']} | **{_ms(g['total_bits'])}** | {_ms(g['recon_bits'])} | "
            f"{_ms(g['code_bits'])} | {_ms(g['sampled_total_bits'])} | {_ms(g['meanfield_total_bits'])} |"
        )
    rows.append("")
    rows.append(
        f"{rec['n_seeds']} seeds, held-out images; whole grid run {rec['wall_time_s']:.1f} s."
    )
    return "\n".join(rows)


def block_paper(head):
    m = head["metrics"]["models"]
    rows = [
        "| quantity | paper (1994) | reference v1 (mean-field, seed 0) | ours (exact, mean of seeds) |",
        "|---|---|---|---|",
    ]

    def mean(n, k):
        return f"{np.mean(m[n][k]):.2f}" if n in m else "–"

    rows.append(
        f"| factorial 4x6 total | {s.PAPER_TOTAL_BITS:g} | 22.00 | {mean('factorial4x6', 'total_bits')} |"
    )
    rows.append(
        f"| factorial 4x6 reconstruction | {s.PAPER_RECON_BITS:g} | 19.84 | {mean('factorial4x6', 'recon_bits')} |"
    )
    rows.append(
        f"| factorial 4x6 code | {s.PAPER_CODE_BITS:g} | 2.16 | {mean('factorial4x6', 'code_bits')} |"
    )
    rows.append(f"| 24-code VQ total | – | 65.30 | {mean('vq24', 'total_bits')} |")
    rows.append(f"| four separate VQs total | – | 124.91 | {mean('separate4x6', 'total_bits')} |")
    rows.append(f"| PCA 5 total | – | 100.44 | {mean('pca5', 'total_bits')} |")
    rows.append(
        f"| factorial 4x6 mean-field figure | – | 22.00 | {mean('factorial4x6', 'meanfield_total_bits')} |"
    )
    rows.append("")
    rows.append(
        "The paper and v1 numbers are quoted from the paper and from PROBLEMS.md, not measured here."
    )
    return "\n".join(rows)


def block_meanfield(rec):
    m = rec["metrics"].get("meanfield_check")
    if m is None:
        return "(no mean-field check in results/grid.json)"
    rows = [
        "| factorial4x6 trained on | mean-field figure (bits) | exact DL (bits) | code (bits) |",
        "|---|---|---|---|",
    ]
    f = rec["metrics"]["models"]["factorial4x6"]
    rows.append(
        f"| exact free energy (ours) | {_ms(f['meanfield_total_bits'])} | {_ms(f['total_bits'])} | {_ms(f['code_bits'])} |"
    )
    rows.append(
        f"| v1's mean-field objective | {_ms(m['meanfield_total_bits'])} | {_ms(m['total_bits'])} | {_ms(m['code_bits'])} |"
    )
    rows.append("")
    rows.append(f"{rec['n_seeds']} seeds, held-out images, same data and training schedule.")
    return "\n".join(rows)


def block_verdict(head):
    g = head["metrics"]["goals"]
    if "ranking" not in g:
        return "(no ranking in the record)"
    means = g["mean_total_bits"]
    rank = " < ".join(f"{n} ({means[n]:.2f})" for n in g["ranking"])
    lines = [f"- ranking by mean exact DL (bits/image, held-out): {rank}"]
    best = g["best_model"]
    if best == "factorial4x6":
        lines.append(
            "- **the factorial VQ gives the shortest description** of all models in the table"
        )
    else:
        lines.append(
            f"- **shortest description: {best}**, {g['factorial_minus_best_bits']:.2f} bits per image "
            f"shorter than factorial4x6 (factorial / {best} = {g['factorial_over_best_ratio']:.2f})"
        )
    beats = g.get("modern_beats_factorial", [])
    if beats:
        lines.append(f"- modern methods that beat the factorial VQ: **{', '.join(beats)}**")
    elif any(n in means for n in ["vqvae", "gumbel", "gmvq", "vqdraw"]):
        lines.append("- no modern method beats the factorial VQ")
    if "all_models_sweep_goal_s" in g:
        lines.append(
            f"- all models x {head['n_seeds']} seeds trained and scored in {g['sweep_wall_time_s']:.1f} s "
            f"(goal < {g['all_models_sweep_goal_s']:g} s: {'met' if g['all_models_sweep_goal_met'] else 'NOT met'})"
        )
    return "\n".join(lines)


def block_estimator(rec):
    ec = rec["metrics"].get("estimator_check")
    if ec is None:
        return "(no estimator check in results/grid.json)"
    f = rec["metrics"]["models"]["factorial4x6"]
    rows = [
        "| model (4x6 code) | decoder | trained with | exact DL (bits) | recon | code |",
        "|---|---|---|---|---|---|",
        f"| factorial4x6 | additive | exact free energy | {_ms(f['total_bits'])} | {_ms(f['recon_bits'])} | {_ms(f['code_bits'])} |",
        f"| factorial4x6_gumbeltrained | additive | Gumbel-softmax relaxation, uniform prior | {_ms(ec['total_bits'])} | {_ms(ec['recon_bits'])} | {_ms(ec['code_bits'])} |",
    ]
    head = load(Path(HERE / "results"), "headline.json")
    if head and "gumbel" in head["metrics"]["models"]:
        g = head["metrics"]["models"]["gumbel"]
        rows.append(
            f"| gumbel (headline record) | MLP | Gumbel-softmax relaxation, uniform prior | {_ms(g['total_bits'])} | {_ms(g['recon_bits'])} | {_ms(g['code_bits'])} |"
        )
    rows.append("")
    rows.append(f"{rec['n_seeds']} seeds, held-out images.")
    return "\n".join(rows)


def block_bounds(rec):
    """Tables of results/bounds.json (dl_bounds.py): training choices, sigma_x, ideals."""
    m, c = rec["metrics"], rec["config"]
    summ = m["summary"]
    rows = [
        "Training choices (one change from the defaults; chosen by the factorial's training-set DL):",
        "",
        "| variant | factorial4x6 training-set DL | factorial4x6 held-out DL | vq24 held-out DL | ratio vq24 / factorial |",
        "|---|---|---|---|---|",
    ]
    for r in m["ablations"]:
        mark = " (chosen)" if r["name"] == summ["chosen_by_training_dl"] else ""
        f, v = r["factorial4x6"], r["vq24"]
        rows.append(
            f"| {r['what']}{mark} | {_ms(f['train_total_bits'])} | {_ms(f['total_bits'])} | "
            f"{_ms(v['total_bits'])} | {r['ratio_vq24_over_factorial']:.2f} |"
        )
    rows += [
        "",
        "Sensitivity to the pixel noise sigma_x (quantisation width sqrt(2 pi) sigma_x; default training; "
        "the reported convention stays sigma_x = 0.15):",
        "",
        "| sigma_x | factorial4x6 held-out DL | vq24 held-out DL | ratio vq24 / factorial |",
        "|---|---|---|---|",
    ]
    for r in m["sigma_sensitivity"]:
        rows.append(
            f"| {r['sigma_x']:g} | {_ms(r['factorial4x6']['total_bits'])} | "
            f"{_ms(r['vq24']['total_bits'])} | {r['ratio_vq24_over_factorial']:.2f} |"
        )
    ld, mix = m["large_data"], m["mixtures"]
    k_small, k_big = (str(k) for k in c["mixture_sizes"])
    rows += [
        "",
        f"How low can it go (held-out bits per image, mean over the same {rec['n_seeds']} held-out sets):",
        "",
        "| code | trained on | factorial-type code (4x6) | 24-code VQ | ratio |",
        "|---|---|---|---|---|",
        f"| stochastic VQs, default training | {c['n_images']} images | {summ['default_factorial_bits']:.2f} | "
        f"{summ['default_vq24_bits']:.2f} | {summ['default_ratio']:.2f} |",
        f"| stochastic VQs, default training | {c['n_large']} images | {ld['factorial4x6']['mean_total_bits']:.2f} | "
        f"{ld['vq24']['mean_total_bits']:.2f} | {ld['ratio_vq24_over_factorial']:.2f} |",
        f"| free-table Gaussian mixture, exact posterior (k-means + EM) | {c['n_large']} images | "
        f"{mix[k_big]['mean_total_bits']:.2f} ({k_big} free codewords) | {mix[k_small]['mean_total_bits']:.2f} | "
        f"{summ['free_mixture_ratio_24_over_1296']:.2f} |",
        "",
        f"- a 3x ratio against the default vq24 needs the factorial at or below **{summ['factorial_needed_for_3x_bits']:.2f}** bits",
        f"- best factorial by training-set DL ({summ['chosen_by_training_dl']}): {summ['chosen_factorial_bits']:.2f} bits, "
        f"ratio {summ['chosen_ratio']:.2f}; best ratio of any variant {summ['best_ratio_any_variant']:.2f}, "
        f"of any sigma_x {summ['best_ratio_any_sigma']:.2f}",
        f"- the free {k_big}-codeword mixture, which drops the additive constraint and the factorised "
        f"posterior and sees {c['n_large']} images, is {summ['free_mixture_1296_vs_needed_bits']:+.2f} bits from that target",
        "",
        f"{rec['n_seeds']} seeds; whole analysis {rec['wall_time_s']:.0f} s.",
    ]
    return "\n".join(rows)


BLOCKS = {
    "setup": ("headline.json", block_setup),
    "table": ("headline.json", block_table),
    "goals": ("headline.json", block_goals),
    "verdict": ("headline.json", block_verdict),
    "paper": ("headline.json", block_paper),
    "grid": ("grid.json", block_grid),
    "meanfield": ("grid.json", block_meanfield),
    "estimator": ("grid.json", block_estimator),
    "bounds": ("bounds.json", block_bounds),
}


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Replace every <!-- results:NAME:start --> ... end block with markdown from records."""
    out = readme_text
    for name, (fname, fn) in BLOCKS.items():
        start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
        if start not in out or end not in out:
            continue
        rec = load(results_dir, fname)
        body = fn(rec) if rec else f"(no record results/{fname} yet)"
        i, j = out.index(start) + len(start), out.index(end)
        out = out[:i] + "\n" + body + "\n" + out[j:]
    return out


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv=None):
    p = s.CleanParser(
        prog="visualize_spline_images_factorial_vq.py", description=__doc__.split("\n")[0]
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outdir", type=str, default=str(HERE / "viz"))
    p.add_argument("--results", type=str, default=str(HERE / "results"))
    p.add_argument(
        "--readme", action="store_true", help="only rewrite README.md blocks from records"
    )
    p.add_argument("--records-only", action="store_true", help="only figures drawn from records")
    args = p.parse_args(argv)
    results = Path(args.results)
    if args.readme:
        readme = HERE / "README.md"
        text = readme.read_text()
        write_text_atomic(readme, render_readme(text, results))
        print(f"updated {readme}")
        return
    outdir = Path(args.outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        p.error(f"cannot create --outdir {outdir}: {exc}")
    figures_of_records(results, outdir)
    if not args.records_only:
        figures_of_run(args.seed, outdir)
    print(f"figures written to {outdir}")


if __name__ == "__main__":
    sys.exit(main())
