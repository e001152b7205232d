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
from pathlib import Path

if __name__ == "__main__":  # before the heavy imports: an early Ctrl-C / SIGTERM gives one line
    import signal as _signal

    def _early_exit(signum, frame):
        word, code = ("interrupted", 130) if signum == _signal.SIGINT else ("terminated", 143)
        sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {word}\n")
        os._exit(code)

    _signal.signal(_signal.SIGINT, _early_exit)
    _signal.signal(_signal.SIGTERM, _early_exit)

import matplotlib  # noqa: E402
import matplotlib.ticker  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import spline_images_factorial_vq as s  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110
WIDTH = 7.5  # inches: 825 px at DPI, the README column
plt.rcParams.update(
    {
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
    }
)
COLORS = {
    "factorial4x6_linear": "#17becf",
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
    """The record results_dir/name, or None if missing; s.DataError if unreadable."""
    p = Path(results_dir) / name
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise s.DataError(f"cannot read record {p}: {exc}") from None


def save(fig, path):
    """Save a figure as PNG through the folder's atomic write, then close it."""
    s.write_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=DPI))
    plt.close(fig)


# ------------------------------------------------------------------------ figures of one run


def fig_data_samples(X, ctrl, path):
    fig, axes = plt.subplots(3, 4, figsize=(WIDTH, 4.2))
    xk = np.linspace(0, s.IMG_W - 1, s.N_CONTROL)
    for i, ax in enumerate(axes.flat):
        ax.imshow(X[i].reshape(s.IMG_H, s.IMG_W), cmap="gray", vmin=0, vmax=1)
        ax.plot(xk, ctrl[i], "o", color="#ff4136", ms=4)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("12 training images (8 x 12 pixels) with their 5 control points (red)")
    fig.tight_layout()
    save(fig, path)


def fig_training_curves(curves, metrics, path):
    fig, ax = plt.subplots(figsize=(WIDTH, 4.4))
    for name, hist in curves.items():
        if hist:
            st = [h["step"] for h in hist]
            ax.plot(st, [h["test_total_bits"] for h in hist], color=COLORS.get(name), label=name)
        else:  # PCA (closed form) and the sequential stages: final value only
            ax.axhline(
                metrics[name]["total_bits"],
                color=COLORS.get(name),
                ls="--",
                label=name + " (final)",
            )
    ax.set_xlabel("Adam step")
    ax.set_ylabel("held-out exact DL (bits/image)")
    ax.set_title("Exact description length of held-out images during training (seed 0)")
    ax.set_ylim(top=min(ax.get_ylim()[1], 250))
    ax.legend(ncol=3, loc="upper right")
    fig.tight_layout()
    save(fig, path)


def fig_codebooks(fitted, path):
    C = fitted.stages[0]["codebook"]
    F, K, _ = C.shape
    lim = np.abs(C).max()
    fig, axes = plt.subplots(F, K, figsize=(WIDTH, 1.1 * F + 0.9))
    prior = np.exp(s.log_prior_of(fitted.stages[0], fitted.cfg))
    for f in range(F):
        for k in range(K):
            ax = axes[f, k]
            im = ax.imshow(C[f, k].reshape(s.IMG_H, s.IMG_W), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"p = {prior[f, k]:.2f}", fontsize=9)
            if k == 0:
                ax.set_ylabel(f"factor {f + 1}")
    fig.suptitle("factorial4x6 codebook, one row per factor, with the prior p(k)")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    cax = fig.add_axes((0.88, 0.12, 0.02, 0.72))
    fig.colorbar(im, cax=cax, label="pixel value")
    save(fig, path)


def fig_contributions(fitted, X_test, path):
    q, C = fitted.posterior(X_test)
    m_f = np.matmul(q.transpose(1, 0, 2), C)  # (F, N, D)
    F = C.shape[0]
    mean_lim = max(np.abs(m_f.mean(1)).max(), 1e-12)
    sd_lim = max(m_f.std(1).max(), 1e-12)
    fig, axes = plt.subplots(2, F, figsize=(WIDTH, 3.6))
    for f in range(F):
        a0 = axes[0, f].imshow(
            m_f[f].mean(0).reshape(s.IMG_H, s.IMG_W), cmap="RdBu_r", vmin=-mean_lim, vmax=mean_lim
        )
        a1 = axes[1, f].imshow(
            m_f[f].std(0).reshape(s.IMG_H, s.IMG_W), cmap="viridis", vmin=0, vmax=sd_lim
        )
        axes[0, f].set_title(f"factor {f + 1}: mean")
        axes[1, f].set_title(f"factor {f + 1}: std")
        for ax in axes[:, f]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("What each factor adds to held-out images (posterior-mean codeword)")
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    fig.colorbar(a0, cax=fig.add_axes((0.89, 0.53, 0.02, 0.33)), label="mean")
    fig.colorbar(a1, cax=fig.add_axes((0.89, 0.08, 0.02, 0.33)), label="std")
    save(fig, path)


def fig_reconstructions(fitted_all, X_test, path, n=8):
    names = list(fitted_all)
    fig, axes = plt.subplots(
        len(names) + 1, n, figsize=(WIDTH, 0.62 * (len(names) + 1) + 0.5), squeeze=False
    )
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
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    fig.suptitle("Held-out images and posterior-mean reconstructions (seed 0)")
    fig.tight_layout()
    save(fig, path)


# ------------------------------------------------------------------------ figures of sweeps


def stacked_bars(ax, models, names, rec_key, code_key, tot_key, mf_key=None):
    x = np.arange(len(names))
    rec = np.array([np.mean(models[n][rec_key]) for n in names])
    code = np.array([np.mean(models[n][code_key]) for n in names])
    sd = np.array([np.std(models[n][tot_key], ddof=1) for n in names])
    ax.bar(x, rec, color=[COLORS.get(n) for n in names], alpha=0.85, label="reconstruction")
    ax.bar(x, code, bottom=rec, color="#cccccc", edgecolor="k", lw=0.5, label="code KL(q||p)")
    ax.errorbar(x, rec + code, yerr=sd, fmt="none", ecolor="k", capsize=4, label="sample sd")
    for i, n in enumerate(names):
        v = models[n][tot_key]
        ax.plot(np.full(len(v), i) + 0.25, v, "k.", ms=3)
        if mf_key:
            ax.plot(i - 0.25, np.mean(models[n][mf_key]), "v", color="#555", ms=6)
    ax.set_xticks(x, [n.replace("factorial4x6_", "factorial4x6\n") for n in names], rotation=30)


def fig_dl_bars(record, path):
    """Held-out exact DL of every model at the record's fixed sigma_x (modern.json)."""
    models = record["metrics"]["models"]
    names = [n for n in s.ALL_MODELS if n in models]
    fig, ax = plt.subplots(figsize=(WIDTH, 5.0))
    stacked_bars(ax, models, names, "recon_bits", "code_bits", "total_bits", "meanfield_total_bits")
    ax.plot([], [], "v", color="#555", label="mean-field figure (not a bound)")
    ax.set_ylabel("bits per held-out image")
    ax.set_title(
        f"Exact description length, $\\sigma_x$ = {record['config']['sigma_x']:g}, "
        f"{record['n_seeds']} seeds (dots)"
    )
    ax.legend(ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.32))
    fig.tight_layout()
    save(fig, path)


def fig_mdl_bars(record, path):
    """Training-set and held-out DL of the paper's models at the MDL noise level."""
    models = record["metrics"]["models"]
    names = [n for n in s.ALL_MODELS if n in models]
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 4.4), sharey=True)
    stacked_bars(axes[0], models, names, "train_recon_bits", "train_code_bits", "train_total_bits")
    stacked_bars(axes[1], models, names, "recon_bits", "code_bits", "total_bits")
    for ax, title in zip(axes, ["training images", "held-out images"], strict=True):
        ax.axhline(s.PAPER_TOTAL_BITS, color="k", ls=":", lw=1.2, label="paper: 18 + 7 = 25 bits")
        ax.set_title(title)
    axes[0].set_ylabel("bits per image")
    h, lab = axes[0].get_legend_handles_labels()
    fig.legend(h, lab, ncol=4, loc="lower center")
    fig.suptitle(
        f"$\\sigma_x$ learned (MDL); $t = \\sqrt{{2\\pi}}\\,\\hat\\sigma_x$ of the factorial VQ "
        f"({record['n_seeds']} seeds, dots)"
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save(fig, path)


def sweep_arrays(rec, model, key, shift_t=None):
    """(sigmas, means, sample sds) of a sigma-sweep metric; with shift_t the recon and
    total values are re-expressed at a fixed quantisation width t."""
    rows = rec["metrics"]["sigma_sweep"]
    sig = np.array([r["sigma_x"] for r in rows])
    vals = np.array([r["models"][model][key] for r in rows], dtype=float)  # (S, seeds)
    if shift_t is not None and "code" not in key:
        vals = vals + s.IMG_H * s.IMG_W * np.log2(np.sqrt(2 * np.pi) * sig / shift_t)[:, None]
    sd = vals.std(axis=1, ddof=1) if vals.shape[1] > 1 else np.zeros(len(sig))
    return sig, vals.mean(axis=1), sd


def fixed_t_of(rec):
    """The fixed quantisation width of the sigma record: sqrt(2 pi) x mean MDL sigma."""
    return float(np.mean(rec["metrics"]["models"]["factorial4x6"]["quant"]))


def fig_sigma_sweep(rec, path, fixed):
    """recon, code and total bits against sigma_x, factorial and vq24, training and
    held-out; t tied to sigma_x (fixed=False) or one fixed t (fixed=True)."""
    t_fix = fixed_t_of(rec) if fixed else None
    mdl = rec["metrics"]["models"]
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 4.2), sharey=True)
    for ax, prefix, title in zip(
        axes, ["train_", ""], ["training images", "held-out images"], strict=True
    ):
        for model in s.SIGMA_SWEEP_MODELS:
            col = COLORS[model]
            for key, ls, lab in [
                ("total_bits", "-o", "total"),
                ("recon_bits", "--", "recon"),
                ("code_bits", ":", "code"),
            ]:
                sg, mu, sd = sweep_arrays(rec, model, prefix + key, t_fix)
                ax.errorbar(
                    sg, mu, yerr=sd, fmt=ls, color=col, ms=3, capsize=2, label=f"{model} {lab}"
                )
            if fixed:
                ax.plot(
                    np.mean(mdl[model]["sigma_x"]),
                    np.mean(mdl[model][prefix + "total_bits"]),
                    "*",
                    color=col,
                    ms=13,
                    mec="k",
                )
        ax.axhline(s.PAPER_TOTAL_BITS, color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xticks(s.SIGMA_SWEEP[::2], [f"{v:g}" for v in s.SIGMA_SWEEP[::2]])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("pixel noise $\\sigma_x$")
        ax.set_title(title)
    axes[0].set_ylabel("bits per image (log scale)")
    axes[0].set_yscale("log")
    conv = (
        f"fixed $t$ = {t_fix:.3f} (stars: $\\sigma_x$ learned, MDL); dotted: paper's 25 bits"
        if fixed
        else "$t = \\sqrt{2\\pi}\\,\\sigma_x$ (pixel constant 0); dotted: paper's 25 bits"
    )
    fig.suptitle(conv)
    h, lab = axes[0].get_legend_handles_labels()
    fig.legend(h, lab, ncol=3, loc="lower center", fontsize=9)
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    save(fig, path)


def fig_factor_grid(record, path):
    grid = record["metrics"]["grid"]
    fig, ax = plt.subplots(figsize=(WIDTH, 4.2))
    g24 = [g for g in grid if g["n_factors"] * g["n_codes"] == 24]
    F = [g["n_factors"] for g in g24]
    for key, lab, st in [
        ("total_bits", "total", "o-"),
        ("recon_bits", "reconstruction", "s--"),
        ("code_bits", "code", "^:"),
    ]:
        mu = [np.mean(g[key]) for g in g24]
        sd = [np.std(g[key], ddof=1) for g in g24]
        ax.errorbar(F, mu, yerr=sd, fmt=st, capsize=3, label=f"{lab}, 24 codewords")
    for g in grid:
        if g["n_factors"] * g["n_codes"] != 24:
            ax.errorbar(
                g["n_factors"],
                np.mean(g["total_bits"]),
                yerr=np.std(g["total_bits"], ddof=1),
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
    ax.set_title(f"Factorial VQ: DL against the number of factors ({record['n_seeds']} seeds)")
    ax.legend(ncol=2)
    fig.tight_layout()
    save(fig, path)


def fig_codebook_usage(record, path):
    models = record["metrics"]["models"]
    names = [n for n in s.ALL_MODELS if n in models and models[n]["perplexity"][0] is not None]
    fig, ax = plt.subplots(figsize=(WIDTH, 4.0))
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
            yerr=pq.std(0, ddof=1) if len(pq) > 1 else None,
            capsize=2,
        )
    K = record["config"]["n_codes"]
    ax.axhline(K, color="k", ls=":", lw=1, label=f"all {K} codes used equally")
    ax.set_xticks(
        range(len(names)),
        [n.replace("factorial4x6_", "factorial4x6\n") for n in names],
        rotation=30,
    )
    ax.set_ylabel("perplexity of mean posterior")
    ax.set_title("Codebook usage per quantiser (one bar per factor; vq24 has 24 codes)")
    ax.legend()
    fig.tight_layout()
    save(fig, path)


def fig_vqdraw_vs_factorial(vqdraw, factorial, X_test, path, n=3):
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
    fig, axes = plt.subplots(n, cols, figsize=(WIDTH, 0.85 * n + 1.0), squeeze=False)
    for i in range(n):
        panels = [("held-\nout", X_test[i])]
        panels += [(f"DRAW\nstage {j + 1}", stages[j][i]) for j in range(len(stages))]
        panels += [(f"factorial\nf1..f{f + 1}", cum[i, f]) for f in range(F)]
        for j, (title, img) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(img.reshape(s.IMG_H, s.IMG_W), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=9)
    fig.suptitle("VQ-DRAW canvas after each stage vs. factorial VQ sum of its first factors")
    fig.tight_layout()
    save(fig, path)


RUN_FIGURES = [
    "data_samples.png",
    "training_curves.png",
    "factor_codebooks.png",
    "factor_contributions.png",
    "reconstructions.png",
    "vqdraw_vs_factorial.png",
]


def figures_of_run(seed, outdir, smoke=False):
    """Retrain every model at `seed` (v1's sigma_x 0.15) and draw the single-run figures."""
    argv = ["--seed", str(seed)] + (["--smoke"] if smoke else [])
    cfg = s.config_from_args(s.build_parser().parse_args(argv))
    # --smoke: the fewest models that still draw every figure
    models = ["vq24", "factorial4x6", "vqdraw"] if smoke else s.ALL_MODELS
    run = s.train_seed(seed, cfg, models, verbose=False, curves=True)
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
    """Figures drawn from the committed records (skipped when a record is missing)."""
    done = []
    head = load(results_dir, "headline.json")
    if head and "train_recon_bits" in next(iter(head["metrics"]["models"].values())):
        fig_mdl_bars(head, outdir / "mdl_bars.png")
        done.append("mdl_bars.png")
    modern = load(results_dir, "modern.json")
    if modern:
        fig_dl_bars(modern, outdir / "dl_bars.png")
        fig_codebook_usage(modern, outdir / "codebook_usage.png")
        done += ["dl_bars.png", "codebook_usage.png"]
    sig = load(results_dir, "sigma.json")
    if sig and "sigma_sweep" in sig["metrics"]:
        fig_sigma_sweep(sig, outdir / "sigma_sweep_tied.png", fixed=False)
        fig_sigma_sweep(sig, outdir / "sigma_sweep_fixed_t.png", fixed=True)
        done += ["sigma_sweep_tied.png", "sigma_sweep_fixed_t.png"]
    grid = load(results_dir, "grid.json")
    if grid and "grid" in grid["metrics"]:
        fig_factor_grid(grid, outdir / "factor_grid.png")
        done.append("factor_grid.png")
    return done


# ------------------------------------------------------------------------ README blocks


def _ms(values, fmt="{:.2f}"):
    """'mean ± sample sd' (ddof=1) of a list of floats."""
    v = np.asarray(values, dtype=float)
    sd = v.std(ddof=1) if v.size > 1 else 0.0
    return f"{fmt.format(v.mean())} ± {fmt.format(sd)}"


def _m(values, fmt="{:.2f}"):
    return fmt.format(float(np.mean(values)))


SPREAD = "Mean ± sample standard deviation (ddof = 1) over seeds."


def block_setup(head):
    c = head["config"]
    mdl = c.get("sigma_mode") == "mdl"
    noise = (
        f"pixel noise $\\sigma_x$ learned per model by minimising its training-set DL (Adam on "
        f"$\\log\\sigma_x$ from {c['sigma_start']:g}, then the exact optimum "
        "$\\sigma_x^2 = \\mathbb{E}_q[\\mathrm{SSE}] / 96$ on the training images); "
        "quantisation width $t = \\sqrt{2\\pi}\\,\\hat\\sigma_x$ of the factorial VQ, per seed, "
        "for every model"
        if mdl
        else f"pixel noise $\\sigma_x$ = {c['sigma_x']:g} (v1's value), quantisation width "
        f"{c['quant']:.4f} $= \\sqrt{{2\\pi}}\\,\\sigma_x$; training noise annealed from "
        f"{c['sigma_start']:g} to {c['sigma_x']:g} over the first {c['anneal_frac']:.0%} of steps"
    )
    return "\n".join(
        [
            f"- seeds {head['seed']}..{head['seed'] + head['n_seeds'] - 1} ({head['n_seeds']} seeds); "
            f"{c['n_images']} training + {c['n_images']} held-out images per seed",
            f"- {noise}",
            f"- prior: {c['prior']}; KL weight 1 throughout; {c['steps']} Adam steps "
            f"(lr {c['lr']:g}, batch {c['batch_size']}); MLP encoders have {c['n_hidden']} tanh "
            "hidden units, factorial4x6_linear has none",
            f"- vq24 and the factorial VQs: best of {c.get('restarts', 1)} restarts by training "
            "free energy (held-out images never used for a choice)",
            f"- models: {', '.join(c['models'])}",
        ]
    )


def block_mdl(head):
    """Training-set and held-out bits of the paper's models at the MDL noise level."""
    m = head["metrics"]["models"]
    rows = [
        "| model | $\\hat\\sigma_x$ (MDL) | training: recon | code | **total** | held-out: recon | code | **total** |",
        "|---|---|---|---|---|---|---|---|",
        f"| paper (factorial 4x6) | not stated | {s.PAPER_RECON_BITS:g} | {s.PAPER_CODE_BITS:g} | "
        f"**{s.PAPER_TOTAL_BITS:g}** | – | – | – |",
    ]
    for n in [x for x in s.ALL_MODELS if x in m]:
        r = m[n]
        rows.append(
            f"| {n} | {_ms(r['sigma_x'], '{:.4f}')} | {_ms(r['train_recon_bits'])} | "
            f"{_ms(r['train_code_bits'])} | **{_ms(r['train_total_bits'])}** | "
            f"{_ms(r['recon_bits'])} | {_ms(r['code_bits'])} | **{_ms(r['total_bits'])}** |"
        )
    rows += ["", SPREAD + " Bits per image."]
    return "\n".join(rows)


def block_goals(head):
    g = head["metrics"]["goals"]
    lines = []
    if "factorial_train_total_bits" in g:
        tr = g["factorial_train_total_bits"]
        lines.append(
            f"- factorial4x6, training images: {g['factorial_train_recon_bits']:.2f} + "
            f"{g['factorial_train_code_bits']:.2f} = **{tr:.2f} bits** (paper {s.PAPER_RECON_BITS:g} + "
            f"{s.PAPER_CODE_BITS:g} = {s.PAPER_TOTAL_BITS:g}); goal within "
            f"{g['paper_goal_rel_tol']:.0%} of {s.PAPER_TOTAL_BITS:g}: "
            f"**{'met' if g['paper_goal_met'] else 'NOT met'}** ({g['paper_goal_rel_gap']:+.0%}, "
            f"{tr - s.PAPER_TOTAL_BITS:+.2f} bits); held-out images: "
            f"{g['factorial_heldout_total_bits']:.2f} bits"
        )
    if "ratio_vq24_over_factorial_mean" in g:
        per = ", ".join(f"{r:.2f}" for r in g["ratio_vq24_over_factorial_per_seed"])
        lines.append(
            f"- vq24 / factorial4x6 held-out DL: **{g['ratio_vq24_over_factorial_mean']:.2f}** "
            f"(ratio of means; per-seed ratios {per}; their sample sd "
            f"{g['ratio_vq24_over_factorial_sd_sample']:.2f}); on training images "
            f"{g['train_ratio_vq24_over_factorial_mean']:.2f}. v1's 3x (a mean-field figure, not "
            f"the paper's claim): {'reached' if g['ratio_v1_target_met'] else 'not reached'}"
        )
    if "classic_four_train_time_seed0_s" in g:
        lines.append(
            f"- training time of the four 1994 models at seed 0: "
            f"{g['classic_four_train_time_seed0_s']:.2f} s (goal < {g['time_goal_s']:g} s: "
            f"{'met' if g['time_goal_met'] else 'NOT met'})"
        )
    lines.append(f"- record verdict `reproduces`: **{head['reproduces']}**")
    return "\n".join(lines)


def _paired_line(label, pt, a, b):
    p = pt["p_sign_flip"]
    tt = "–" if pt["t_stat"] is None else f"{pt['t_stat']:.2f}"
    return (
        f"| {label} | {a} − {b} | {pt['mean_diff']:+.2f} ± {pt['sd_diff_sample']:.2f} | {tt} | "
        f"{pt['wins_a']} of {pt['n']} | {p:.3f} |"
    )


PAIRED_HEAD = [
    "| images | difference | mean ± sample sd (bits) | paired t | seeds where first is shorter "
    "| p (exact sign-flip test, two-sided) |",
    "|---|---|---|---|---|---|",
]


def block_linear(head):
    pts = head["metrics"]["goals"].get("paired_tests", {})
    key = "factorial4x6_linear_vs_factorial4x6"
    if key + "_heldout" not in pts:
        return "(no linear-recognition run in results/headline.json)"
    rows = list(PAIRED_HEAD)
    for split in ["train", "heldout"]:
        rows.append(
            _paired_line(
                "training" if split == "train" else "held-out",
                pts[f"{key}_{split}"],
                "linear",
                "MLP",
            )
        )
    rows += ["", f"{head['n_seeds']} seeds, same data per seed, MDL noise level."]
    return "\n".join(rows)


def block_table(rec):
    models = rec["metrics"]["models"]
    names = [n for n in s.ALL_MODELS if n in models]
    rows = [
        "| model | code budget | exact DL (bits) | recon | code | sampled bits-back | mean-field figure | "
        "training-set DL | perplexity / quantiser |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        m = models[n]
        pp = m["perplexity"]
        ppl = "–" if pp[0] is None else _ms(pp)
        rows.append(
            f"| {n} | {m['code_budget']} | **{_ms(m['total_bits'])}** | {_ms(m['recon_bits'])} | "
            f"{_ms(m['code_bits'])} | {_ms(m['sampled_total_bits'])} | {_ms(m['meanfield_total_bits'])} | "
            f"{_ms(m['train_total_bits'])} | {ppl} |"
        )
    rows.append("")
    rows.append(
        f"{rec['n_seeds']} seeds, $\\sigma_x$ = {rec['config']['sigma_x']:g}; held-out images "
        "unless marked training-set. " + SPREAD
    )
    return "\n".join(rows)


def block_verdict(rec):
    g = rec["metrics"]["goals"]
    means = g["mean_total_bits"]
    rank = " < ".join(f"{n} ({means[n]:.2f})" for n in g["ranking"])
    lines = [f"- ranking by mean held-out DL (bits/image): {rank}"]
    if "ratio_vq24_over_factorial_mean" in g:
        lines.append(
            f"- vq24 / factorial4x6 held-out DL at this noise level: "
            f"**{g['ratio_vq24_over_factorial_mean']:.2f}** (ratio of means; sample sd of the "
            f"per-seed ratios {g['ratio_vq24_over_factorial_sd_sample']:.2f}, range "
            f"{min(g['ratio_vq24_over_factorial_per_seed']):.2f}-"
            f"{max(g['ratio_vq24_over_factorial_per_seed']):.2f})"
        )
    pts = g.get("paired_tests", {})
    key = "gumbel_vs_factorial4x6"
    if key + "_heldout" in pts:
        lines += ["", *PAIRED_HEAD]
        lines.append(_paired_line("held-out", pts[key + "_heldout"], "gumbel", "factorial4x6"))
        lines.append(_paired_line("training", pts[key + "_train"], "gumbel", "factorial4x6"))
        ph = pts[key + "_heldout"]
        verdict = (
            "the Gumbel-softmax VQ describes held-out images more briefly than the factorial "
            f"VQ at the 5% level (p = {ph['p_sign_flip']:.3f})"
            if ph["p_sign_flip"] < 0.05 and ph["mean_diff"] < 0
            else "the held-out difference between the Gumbel-softmax VQ and the factorial VQ is "
            f"not significant at the 5% level (p = {ph['p_sign_flip']:.3f}); no winner is claimed"
        )
        lines += ["", f"- {verdict}"]
    return "\n".join(lines)


def block_sigma(rec):
    """sigma_x sweep: totals under the tied convention, and the MDL point."""
    rows_in = rec["metrics"]["sigma_sweep"]
    rows = [
        "| $\\sigma_x$ | factorial4x6 training: recon + code = total | held-out total | "
        "vq24 training total | held-out total |",
        "|---|---|---|---|---|",
    ]
    fac_tr = []
    for r in rows_in:
        f, v = r["models"]["factorial4x6"], r["models"]["vq24"]
        fac_tr.append(np.mean(f["train_total_bits"]))
        rows.append(
            f"| {r['sigma_x']:g} | {_m(f['train_recon_bits'])} + {_m(f['train_code_bits'])} = "
            f"**{_m(f['train_total_bits'])}** | {_m(f['total_bits'])} | "
            f"{_m(v['train_total_bits'])} | {_m(v['total_bits'])} |"
        )
    mdl = rec["metrics"]["models"]
    f, v = mdl["factorial4x6"], mdl["vq24"]
    rows.append(
        f"| learned (MDL): {_m(f['sigma_x'], '{:.3f}')} (vq24 {_m(v['sigma_x'], '{:.3f}')}) | "
        f"{_m(f['train_recon_bits'])} + {_m(f['train_code_bits'])} = **{_m(f['train_total_bits'])}** | "
        f"{_m(f['total_bits'])} | {_m(v['train_total_bits'])} | {_m(v['total_bits'])} |"
    )
    sig = np.array([r["sigma_x"] for r in rows_in])
    fac_tr = np.array(fac_tr)
    lines = [
        *rows,
        "",
        f"{rec['n_seeds']} seeds, mean bits per image. Fixed rows: $t = \\sqrt{{2\\pi}}\\,\\sigma_x$, "
        "so the pixel constant is 0; learned row: $t = \\sqrt{2\\pi}\\,\\hat\\sigma_x$ of the "
        "factorial VQ.",
    ]
    near = [
        r
        for r, v in zip(rows_in, fac_tr, strict=True)
        if abs(v - s.PAPER_TOTAL_BITS) <= 0.1 * s.PAPER_TOTAL_BITS
    ]
    for r in near:
        f_r = r["models"]["factorial4x6"]
        lines.append(
            f"- at the fixed $\\sigma_x$ = {r['sigma_x']:g} (not the MDL choice) the factorial's "
            f"training total is within 10% of the paper's {s.PAPER_TOTAL_BITS:g} bits: "
            f"{_m(f_r['train_recon_bits'])} + {_m(f_r['train_code_bits'])} = "
            f"{_m(f_r['train_total_bits'])} (paper {s.PAPER_RECON_BITS:g} + {s.PAPER_CODE_BITS:g}); "
            f"held-out {_m(f_r['total_bits'])}"
        )
    below = np.nonzero(fac_tr <= s.PAPER_TOTAL_BITS)[0]
    if below.size and below[0] > 0:
        i = below[0]
        # log-linear interpolation of the training total between the two bracketing sigmas
        x0, x1 = np.log(sig[i - 1]), np.log(sig[i])
        y0, y1 = fac_tr[i - 1], fac_tr[i]
        s25 = float(np.exp(x0 + (s.PAPER_TOTAL_BITS - y0) * (x1 - x0) / (y1 - y0)))
        ratio = s25 / float(np.mean(f["sigma_x"]))
        lines.append(
            f"- with $t$ tied to $\\sigma_x$ the factorial's training total reaches the paper's "
            f"{s.PAPER_TOTAL_BITS:g} bits near $\\sigma_x$ = **{s25:.3f}** (interpolated), "
            f"{ratio:.2f} x its learned (MDL) noise level"
        )
    return "\n".join(lines)


def block_paper(head, modern):
    m = head["metrics"]["models"]
    mm = modern["metrics"]["models"] if modern else {}
    rows = [
        "| quantity | paper (1994, training images) | reference v1 (mean-field, seed 0) | "
        "ours, MDL, training | ours, MDL, held-out | ours, $\\sigma_x$ = 0.15, held-out |",
        "|---|---|---|---|---|---|",
    ]

    def mean(src, n, k):
        return f"{np.mean(src[n][k]):.2f}" if n in src else "–"

    for label, paper, v1, n, k in [
        ("factorial 4x6 total", f"{s.PAPER_TOTAL_BITS:g}", "22.00", "factorial4x6", "total_bits"),
        (
            "factorial 4x6 reconstruction",
            f"{s.PAPER_RECON_BITS:g}",
            "19.84",
            "factorial4x6",
            "recon_bits",
        ),
        ("factorial 4x6 code", f"{s.PAPER_CODE_BITS:g}", "2.16", "factorial4x6", "code_bits"),
        ("24-code VQ total", "–", "65.30", "vq24", "total_bits"),
        ("four separate VQs total", "–", "124.91", "separate4x6", "total_bits"),
        ("PCA 5 total", "–", "100.44", "pca5", "total_bits"),
    ]:
        rows.append(
            f"| {label} | {paper} | {v1} | {mean(m, n, 'train_' + k)} | {mean(m, n, k)} | "
            f"{mean(mm, n, k)} |"
        )
    rows.append("")
    rows.append(
        "The paper's and v1's numbers are quoted (the paper's from its section 5, v1's from "
        "the catalog's problem list), not measured here."
    )
    return "\n".join(rows)


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
    head = load(Path(HERE / "results"), "modern.json")
    if head and "gumbel" in head["metrics"]["models"]:
        g = head["metrics"]["models"]["gumbel"]
        rows.append(
            f"| gumbel (results/modern.json, {head['n_seeds']} seeds) | MLP | Gumbel-softmax relaxation, uniform prior | {_ms(g['total_bits'])} | {_ms(g['recon_bits'])} | {_ms(g['code_bits'])} |"
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
        "Sensitivity to the pixel noise $\\sigma_x$ (quantisation width $\\sqrt{2\\pi}\\,\\sigma_x$; "
        "default training; every other table of this analysis uses $\\sigma_x$ = 0.15):",
        "",
        "| $\\sigma_x$ | factorial4x6 held-out DL | vq24 held-out DL | ratio vq24 / factorial |",
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
        f"of any $\\sigma_x$ {summ['best_ratio_any_sigma']:.2f}",
        f"- the free {k_big}-codeword mixture, which drops the additive constraint and the factorised "
        f"posterior and sees {c['n_large']} images, is {summ['free_mixture_1296_vs_needed_bits']:+.2f} bits from that target",
        "",
        f"{rec['n_seeds']} seeds; whole analysis {rec['wall_time_s']:.0f} s.",
    ]
    return "\n".join(rows)


BLOCKS = {
    "setup": (["headline.json"], block_setup),
    "mdl": (["headline.json"], block_mdl),
    "goals": (["headline.json"], block_goals),
    "linear": (["headline.json"], block_linear),
    "paper": (["headline.json", "modern.json"], block_paper),
    "table": (["modern.json"], block_table),
    "verdict": (["modern.json"], block_verdict),
    "sigma": (["sigma.json"], block_sigma),
    "grid": (["grid.json"], block_grid),
    "meanfield": (["grid.json"], block_meanfield),
    "estimator": (["grid.json"], block_estimator),
    "bounds": (["bounds.json"], block_bounds),
}


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Replace every <!-- results:NAME:start --> ... end block with markdown from records.

    Deterministic in the records: rendering twice gives the same text (idempotent).
    """
    out = readme_text
    for name, (fnames, fn) in BLOCKS.items():
        start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
        if start not in out or end not in out:
            continue
        recs = [load(results_dir, f) for f in fnames]
        if recs[0] is None:
            body = f"(no record results/{fnames[0]} yet)"
        else:
            body = fn(*recs)
        i, j = out.index(start) + len(start), out.index(end)
        out = out[:i] + "\n" + body + "\n" + out[j:]
    return out


def build_parser():
    """The CLI of the visualiser (CleanParser; ranges in every help)."""
    p = s.CleanParser(
        prog="visualize_spline_images_factorial_vq.py", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--seed",
        type=s.int_in(0, 2**32 - 1),
        default=0,
        help="seed of the single-run figures (int, 0..2^32-1; default 0)",
    )
    p.add_argument(
        "--outdir", type=str, default=str(HERE / "viz"), help="folder for every figure written"
    )
    p.add_argument(
        "--results", type=str, default=str(HERE / "results"), help="folder of the records read"
    )
    p.add_argument(
        "--readme",
        action="store_true",
        help="only rewrite the README.md blocks (next to this script) from the records",
    )
    p.add_argument("--records-only", action="store_true", help="only figures drawn from records")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny training for the single-run figures (a few seconds); records as usual",
    )
    return p


def main(argv=None):
    """Draw the figures or rewrite the README blocks; returns 0."""
    p = build_parser()
    args = p.parse_args(argv)
    results = Path(args.results)
    if not results.is_dir():
        p.error(f"--results {results}: not a folder")
    if args.readme:
        readme = HERE / "README.md"
        s.check_output_path(p, readme, "README")
        text = readme.read_text()
        new = render_readme(text, results)
        if new != text:
            s.write_atomic(readme, new)
        print(f"README blocks {'updated' if new != text else 'already up to date'}: {readme}")
        return 0
    outdir = s.check_output_dir(p, args.outdir, "--outdir")
    done = figures_of_records(results, outdir)
    if not args.records_only:
        figures_of_run(args.seed, outdir, smoke=args.smoke)
        done += RUN_FIGURES
    print(f"{len(done)} figures written to {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(s.run_cli(main, "visualize_spline_images_factorial_vq.py", exiting=True))
