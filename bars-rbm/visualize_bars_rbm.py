#!/usr/bin/env python3
"""Figures for the bars-rbm problem and the generated blocks of its README.

    python3 bars-rbm/visualize_bars_rbm.py [--seed 0] [--outdir bars-rbm/viz]
    python3 bars-rbm/visualize_bars_rbm.py --readme     # rewrite README blocks only

Figures (PNG, 7.5 in wide at dpi 110 = 825 px, text >= 9 pt) are drawn from a fresh
training run with the default configuration (imported from bars_rbm.py) and, for the
method comparison, from the committed records in results/. Exit codes as bars_rbm.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def _early_signal(signum, frame):  # until bars_rbm.run_main takes over: one line, exit
    word, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
    os.write(2, f"visualize_bars_rbm.py: {word}\n".encode())
    os._exit(code)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _early_signal)
    signal.signal(signal.SIGTERM, _early_signal)

import matplotlib  # noqa: E402
import matplotlib.ticker  # noqa: E402

matplotlib.use("Agg")
import bars_rbm as m  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110
WIDTH = 7.5  # inches: 825 px at DPI, the width of the site's text column
FONT = 10  # points; nothing smaller than 9
METHODS = ("cd1", "cdk", "pcd")
CURVE_METHODS = ("cd1", "cdk", "pcd", "exact")
LABEL = {"cd1": "CD-1", "cdk": "CD-10", "pcd": "PCD", "exact": "exact gradient"}
COLOR = {"cd1": "tab:orange", "cdk": "tab:green", "pcd": "tab:blue", "exact": "tab:purple"}
plt.rcParams.update(
    {
        "font.size": FONT,
        "axes.titlesize": FONT,
        "axes.labelsize": FONT,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "figure.titlesize": 11,
    }
)

# Records of the exact-gradient comparison: (file, label, whose choice).
EXACT_ROWS = (
    ("sweep_cd1_h8.json", "CD-1"),
    ("sweep_cdk_h8.json", "CD-10"),
    ("sweep_pcd_h8.json", "PCD (default)"),
    ("sweep_exact_h8.json", "exact gradient, same recipe"),
    ("sweep_exactml_h8.json", "exact ML: no weight decay, no sparsity"),
)
FLOOR = "floor_exactml_h8.json"
ABLATIONS = (
    ("sweep_pcd_h8.json", "default recipe (below)", None),
    ("ablation_init_b_h_0.json", "hidden biases start at 0", "init_b_h"),
    ("ablation_init_b_h_-2.json", "hidden biases start at -2", "init_b_h"),
    ("ablation_batch_20.json", "mini-batch 20", "batch_size"),
    ("ablation_batch_50.json", "mini-batch 50", "batch_size"),
    ("ablation_weight_decay_1e-4.json", "weight decay 1e-4", "weight_decay"),
    ("ablation_n_chains_10.json", "10 PCD chains (= batch size)", "n_chains"),
    ("ablation_sparsity_bias_only.json", "sparsity term on biases only", "sparsity_weights"),
    ("ablation_sparsity_cost_0.json", "no sparsity term", "sparsity_cost"),
)


# ---------------------------------------------------------------------------------------
# Drawing helpers


def draw_image(ax, x, cmap="gray_r", vmin=0.0, vmax=1.0):
    """Draw a 16-vector as a 4x4 image without ticks; returns the AxesImage."""
    im = ax.imshow(np.asarray(x).reshape(m.SIDE, m.SIDE), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def draw_weights(ax, w, title=None, lim=None):
    """Draw one hidden unit's 16 weights as a 4x4 panel, red positive, blue negative."""
    lim = lim if lim is not None else max(np.abs(w).max(), 1e-9)
    im = draw_image(ax, w, cmap="RdBu_r", vmin=-lim, vmax=lim)
    if title:
        ax.set_title(title, fontsize=9)
    return im


def unit_label(best, cos, thr=0.5):
    """'r2 0.97' for a unit that represents bar r2, '(r2 0.31)' when below threshold."""
    name = m.bar_name(int(best))
    return f"{name} {cos:.2f}" if cos >= thr else f"({name} {cos:.2f})"


def plain_log_axis(ax):
    """Log-scale y axis labelled with plain numbers (0.8, 1, 2, ...) instead of 10^x."""
    ax.set_yscale("log")
    fmt = matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}")

    def minor(y, _):  # label 2, 3 and 5 times a power of ten only: no overlaps
        mant = y / 10 ** np.floor(np.log10(y) + 1e-9)
        return f"{y:g}" if any(abs(mant - d) < 1e-6 for d in (2, 3, 5)) else ""

    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(minor))
    ax.tick_params(axis="y", which="minor", labelsize=9)


def save(fig, outdir: Path, name: str) -> Path:
    """Write ``fig`` as PNG atomically at the fixed size (no tight bbox: 825 px wide)."""
    path = Path(outdir) / name
    try:
        m.write_atomic(path, lambda fh: fig.savefig(fh, dpi=DPI, format="png"))
    finally:
        plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------
# Figures


def fig_receptive_fields(W, outdir, title, name="receptive_fields.png"):
    """Receptive fields of every hidden unit of one RBM (W (V, H)), with a colorbar."""
    n, best, cos = m.bar_recovery(W)
    H = W.shape[1]
    order = np.lexsort((-cos, best))  # group units by bar, r0..r3 then c0..c3
    cols = min(H, 8)
    rows = int(np.ceil(H / cols))
    fig = plt.figure(figsize=(WIDTH, 1.25 * rows + 0.75))
    gs = fig.add_gridspec(rows, cols + 1, width_ratios=[1] * cols + [0.12], wspace=0.15)
    lim = max(np.abs(W).max(), 1e-9)
    im = None
    for i, j in enumerate(order):
        ax = fig.add_subplot(gs[i // cols, i % cols])
        im = draw_weights(ax, W[:, j], f"h{j}: {unit_label(best[j], cos[j])}", lim)
    cb = fig.colorbar(im, cax=fig.add_subplot(gs[:, cols]))
    cb.set_label("weight")
    fig.suptitle(f"{title}: {n}/8 bars (best bar, cosine)")
    fig.subplots_adjust(left=0.01, right=0.93, top=0.8, bottom=0.03)
    return save(fig, outdir, name)


def fig_templates(outdir):
    T = m.bar_templates()
    fig, axes = plt.subplots(1, 8, figsize=(WIDTH, 1.45))
    for b, ax in enumerate(axes):
        draw_image(ax, T[b])
        ax.set_title(m.bar_name(b))
    fig.suptitle("The 8 bar templates (rows r0-r3, columns c0-c3)")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.72, bottom=0.03, wspace=0.15)
    return save(fig, outdir, "templates.png")


def mosaic(images, cols, pad=1):
    """Tile 16-vectors as 4x4 images into one array, ``cols`` per row, framed by NaN.

    One imshow of a mosaic draws in a fraction of the time of one axes per image."""
    images = np.asarray(images, dtype=float)
    rows = int(np.ceil(len(images) / cols))
    step = m.SIDE + pad
    out = np.full((rows * step + pad, cols * step + pad), np.nan)
    for k, x in enumerate(images):
        r, c = divmod(k, cols)
        y0, x0 = pad + r * step, pad + c * step
        out[y0 : y0 + m.SIDE, x0 : x0 + m.SIDE] = x.reshape(m.SIDE, -1)
    return out


def draw_mosaic(ax, images, cols, cmap="gray_r"):
    """Draw ``mosaic(images, cols)`` on ``ax`` with grey frames and no ticks."""
    cm = plt.get_cmap(cmap).copy()
    cm.set_bad("0.6")
    ax.imshow(mosaic(images, cols), cmap=cm, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def fig_data_samples(out, outdir, n=24):
    x = out["train"][0][:n]
    fig, ax = plt.subplots(figsize=(WIDTH, 1.75))
    draw_mosaic(ax, x, n // 2)
    ax.set_title(f"First {n} training images (each bar on with p = 1/8, pixelwise OR)")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.84, bottom=0.02)
    return save(fig, outdir, "data_samples.png")


def fig_reconstructions(out, outdir, n=6):
    W, b_v, b_h = out["W"][0], out["b_v"][0], out["b_h"][0]
    x = out["train"][0]
    # show a variety: images with 1, 2 and 3 bars rather than many blanks
    k = x.sum(axis=1)
    pick = np.concatenate([np.where(k == 4)[0][:2], np.where(k == 7)[0][:2], np.where(k > 7)[0]])
    v = x[pick[:n]]
    n = len(v)
    q = m.sigmoid(v @ W + b_h)
    _, best, cos = m.bar_recovery(W)
    order = np.lexsort((-cos, best))
    recon = m.sigmoid(q @ W.T + b_v)
    fig, axes = plt.subplots(3, n, figsize=(WIDTH, 4.4), height_ratios=[1, 1.1, 1], squeeze=False)
    for i in range(n):
        draw_image(axes[0, i], v[i])
        axes[1, i].bar(np.arange(W.shape[1]), q[i, order], color="tab:blue")
        axes[1, i].set_ylim(0, 1)
        axes[1, i].set_xticks(range(W.shape[1]))
        axes[1, i].set_xticklabels([m.bar_name(b) for b in best[order]], rotation=90)
        if i:
            axes[1, i].set_yticklabels([])
        draw_image(axes[2, i], recon[i])
    axes[0, 0].set_ylabel("data")
    axes[1, 0].set_ylabel("p(h|v)")
    axes[2, 0].set_ylabel("p(v|q)")
    fig.suptitle("Data, hidden probabilities (units by bar), reconstruction p(v | p(h|v))")
    fig.subplots_adjust(left=0.09, right=0.99, top=0.92, bottom=0.02, wspace=0.25, hspace=0.35)
    return save(fig, outdir, "reconstructions.png")


def fig_model_samples(out, outdir, seed, n=24, burn=1000):
    """Samples from the trained model (Gibbs, independent chains) next to data samples."""
    W, b_v, b_h = out["W"][0], out["b_v"][0], out["b_h"][0]
    rng = np.random.default_rng([seed, 12345])
    v = (rng.random((n, m.N_VISIBLE)) < 0.5).astype(float)
    for _ in range(burn):
        h = (rng.random((n, W.shape[1])) < m.sigmoid(v @ W + b_h)).astype(float)
        v = (rng.random((n, m.N_VISIBLE)) < m.sigmoid(h @ W.T + b_v)).astype(float)
    data = out["heldout"][0][:n]
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 3.0))
    draw_mosaic(axes[0], data, n // 2)
    draw_mosaic(axes[1], v, n // 2, cmap="Blues")
    axes[0].set_ylabel("data")
    axes[1].set_ylabel("model")
    fig.suptitle(f"Held-out data (black), model samples (blue; {n} chains, {burn} Gibbs steps)")
    fig.subplots_adjust(left=0.05, right=0.99, top=0.9, bottom=0.02, hspace=0.1)
    return save(fig, outdir, "model_samples.png")


def fig_learning_kl(curves, outdir):
    """Exact KL against epoch, thin per seed, thick median, for every method."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    for meth, out in curves.items():
        h = out["history"]
        ep = np.array(h["epoch"])
        kl = np.array(h["kl_bits"])  # (T, S)
        c = COLOR[meth]
        ax.plot(ep, kl, color=c, alpha=0.2, lw=0.8)
        ax.plot(ep, np.median(kl, axis=1), color=c, lw=2, label=f"{LABEL[meth]} (median)")
    n_seeds = np.array(next(iter(curves.values()))["history"]["kl_bits"]).shape[1]
    plain_log_axis(ax)
    ax.set_ylabel("KL(data || model), bits")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"Exact KL during training, 8 hidden units, {n_seeds} seeds, one shared recipe")
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.14)
    return save(fig, outdir, "learning_kl.png")


def fig_learning_bars_recon(curves, outdir):
    """Bars recovered and reconstruction error against epoch (two panels)."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2))
    for meth, out in curves.items():
        h = out["history"]
        ep = np.array(h["epoch"])
        nb = np.array(h["n_bars"])
        rec = np.array(h["recon_err"], dtype=float)
        c = COLOR[meth]
        axes[0].plot(ep, nb.mean(axis=1), color=c, lw=2, label=LABEL[meth])
        axes[1].plot(ep[1:], rec[1:].mean(axis=1), color=c, lw=2, label=LABEL[meth])
    axes[0].set_ylabel("bars recovered (seed mean)")
    axes[0].set_ylim(0, 8.3)
    axes[1].set_ylabel("reconstruction error / pixel")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.subplots_adjust(left=0.08, right=0.98, top=0.95, bottom=0.15, wspace=0.3)
    return save(fig, outdir, "learning_bars_recon.png")


def fig_kl_by_method(results_dir, outdir):
    """Exact KL per seed for each method and hidden size, and the exact-gradient floor."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.9))
    ticks, labels = [], []
    x = 0.0
    groups = [
        (8, [(f"sweep_{meth}_h8.json", LABEL[meth], COLOR[meth]) for meth in METHODS]),
        (
            8,
            [
                ("sweep_exact_h8.json", "exact\nrecipe", COLOR["exact"]),
                ("sweep_exactml_h8.json", "exact\nML", "tab:red"),
            ],
        ),
        (16, [(f"sweep_{meth}_h16.json", LABEL[meth], COLOR[meth]) for meth in METHODS]),
    ]
    for h, items in groups:
        for name, lab, color in items:
            rec = load(results_dir, name)
            if rec is None:
                continue
            kl = rec["metrics"]["kl_bits_per_seed"]
            jitter = np.linspace(-0.15, 0.15, len(kl))
            ax.scatter(x + jitter, kl, color=color, s=14)
            ax.hlines(np.mean(kl), x - 0.3, x + 0.3, color="k", lw=1.5)
            ticks.append(x)
            labels.append(f"{lab}\n{h} hid." if "\n" not in lab else lab)
            x += 1
        x += 0.5
    floor = load(results_dir, FLOOR)
    if floor is not None:
        best = floor["metrics"]["kl_bits_min"]
        ax.axhline(best, color="k", ls="--", lw=1)
        ax.text(
            0.02,
            best * 1.06,
            f"lowest KL found for 8 hidden units: {best:.3f} bits",
            va="bottom",
            transform=ax.get_yaxis_transform(),
        )
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=9)
    plain_log_axis(ax)
    ax.set_ylabel("KL(data || model), bits")
    ax.set_title("Exact KL per seed (dots) and mean (bar), seeds 0-9")
    ax.grid(alpha=0.3, axis="y")
    fig.subplots_adjust(left=0.1, right=0.99, top=0.92, bottom=0.2)
    return save(fig, outdir, "kl_by_method.png")


# ---------------------------------------------------------------------------------------
# README blocks (numbers rendered from results/*.json only)


def load(results_dir: Path, name: str) -> dict | None:
    """The record ``results_dir/name``, or None if it does not exist."""
    path = Path(results_dir) / name
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise m.UsageError(f"cannot read record {path}: {exc}") from None


def f(x, nd=3):
    """Format a number for a table ('—' for None)."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{nd}f}"


def method_name(rec: dict) -> str:
    c = rec["config"]
    if c["method"] == "cd1":
        return "CD-1"
    if c["method"] == "cdk":
        return f"CD-{c['k']}"
    if c["method"] == "exact":
        return "exact gradient"
    return f"PCD ({c['n_chains']} chains, k={c['k']})"


def kl_cell(x: dict) -> str:
    return f"{f(x['kl_bits_mean'])} ± {f(x['kl_bits_std'])}"


def block_bars(results_dir: Path) -> str:
    """Bar recovery per method and hidden size."""
    lines = [
        "| method | hidden | all 8 bars | ≥ 7 bars | all 8 at cosine ≥ 0.8 |",
        "|---|---|---|---|---|",
    ]
    ref = m.REFERENCE_V1
    lines.append(
        f"| reference v1 (CD-1, sparsity) | 8 | {ref['n_all_bars']}/{ref['n_runs']} "
        f"| {ref['n_at_least_7']}/{ref['n_runs']} | — |"
    )
    for h in (8, 16):
        for meth in METHODS:
            rec = load(results_dir, f"sweep_{meth}_h{h}.json")
            if rec is None:
                continue
            x, n = rec["metrics"], rec["metrics"]["n_runs"]
            lines.append(
                f"| {method_name(rec)} | {h} | {x['n_all_bars']}/{n} | {x['n_at_least_7']}/{n} "
                f"| {x['n_all_bars_strict']}/{n} |"
            )
    return "\n".join(lines)


def block_methods(results_dir: Path) -> str:
    """Exact fit per method and hidden size."""
    lines = [
        "| method | hidden | KL bits | held-out LL bits | mass on bars images | p(blank) "
        "| recon. error |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in (8, 16):
        for meth in METHODS:
            rec = load(results_dir, f"sweep_{meth}_h{h}.json")
            if rec is None:
                continue
            x = rec["metrics"]
            lines.append(
                f"| {method_name(rec)} | {h} | {kl_cell(x)} | {f(x['heldout_ll_bits_mean'])} "
                f"| {f(x['support_mass_mean'])} | {f(x['blank_prob_mean'])} "
                f"| {f(x['recon_err_mean'], 4)} |"
            )
    ref_rec = next(
        (r for r in (load(results_dir, f"sweep_{x}_h8.json") for x in METHODS) if r), None
    )
    if ref_rec is not None:
        x = ref_rec["metrics"]
        lines.append("")
        lines.append(
            f"Seeds {ref_rec['seeds'][0]}-{ref_rec['seeds'][-1]} in every row; KL as mean ± "
            "sample standard deviation over seeds. Data: entropy "
            f"$H = {f(x['data_entropy_bits'], 4)}$ bits per image over "
            f"{x['n_distinct_images']} distinct images (exact); $p(\\text{{blank}}) = "
            f"{f(x['data_blank_prob'])}$. A perfect model has KL = 0, held-out LL about "
            "$-H$, all its mass on the bars images and the data's $p(\\text{blank})$."
        )
    return "\n".join(lines)


def block_exact(results_dir: Path) -> str:
    """How far each rule stops from the lowest KL found with the exact gradient."""
    floor = load(results_dir, FLOOR)
    if floor is None:
        return "(not run yet)"
    best = floor["metrics"]["kl_bits_min"]
    lines = [
        "| training (8 hidden, seeds 0-9) | KL bits | best seed | above the floor | all 8 bars |",
        "|---|---|---|---|---|",
    ]
    for name, label in EXACT_ROWS:
        rec = load(results_dir, name)
        if rec is None:
            continue
        x = rec["metrics"]
        lines.append(
            f"| {label} | {kl_cell(x)} | {f(x['kl_bits_min'])} "
            f"| {f(x['kl_bits_mean'] - best)} | {x['n_all_bars']}/{x['n_runs']} |"
        )
    x = floor["metrics"]
    lines.append(
        f"| exact ML from a bars-shaped start, exact data distribution | {kl_cell(x)} "
        f"| **{f(best)}** | 0 (floor) | {x['n_all_bars']}/{x['n_runs']} |"
    )
    c = floor["config"]
    steps = c["epochs"] * (c["n_train"] // c["batch_size"])
    lines += [
        "",
        f"Floor: the lowest KL found, {f(best)} bits, is an upper bound on the best an "
        f"8-hidden RBM can do. It took {steps} full-batch steps of the exact gradient of "
        f"the exact data distribution (learning rate {c['lr']:g} decayed linearly to "
        f"{c['lr_final']:g}, momentum {c['momentum']:g}), starting with unit $j$ at "
        f"{c['init_bars']:g} times bar template $j$; wall time "
        f'{f(floor["wall_time_s"], 1)} s for {x["n_runs"]} seeds. "Above the floor" is '
        "the row's mean KL minus the floor. Exact-gradient rows make as many updates as "
        "the sampling rows (200 per epoch, 80 epochs).",
    ]
    return "\n".join(lines)


def block_ablations(results_dir: Path) -> str:
    """One setting changed at a time from the default recipe."""
    lines = [
        "| change from the default (PCD, 8 hidden) | all 8 bars | KL bits | wall s |",
        "|---|---|---|---|",
    ]
    n_rows = 0
    for name, label, _ in ABLATIONS:
        rec = load(results_dir, name)
        if rec is None:
            continue
        x = rec["metrics"]
        lines.append(
            f"| {label} | {x['n_all_bars']}/{x['n_runs']} | {kl_cell(x)} "
            f"| {f(rec['wall_time_s'], 1)} |"
        )
        n_rows += 1
    return "\n".join(lines) if n_rows > 1 else "(not run yet)"


def block_goals(results_dir: Path) -> str:
    head = load(results_dir, "sweep_pcd_h8.json")
    single = load(results_dir, "single_pcd_h8_seed0.json")
    kls = {}
    for meth in METHODS:
        rec = load(results_dir, f"sweep_{meth}_h8.json")
        if rec is not None:
            kls[meth] = rec["metrics"]["kl_bits_mean"]
    lines = ["| goal | measured | met? |", "|---|---|---|"]
    if head is not None:
        x = head["metrics"]
        lines.append(
            f"| 8 hidden, default method: all 8 bars on 10 of 10 seeds "
            f"| {x['n_all_bars']}/{x['n_runs']} seeds | {f(x['n_all_bars'] == x['n_runs'])} |"
        )
    if len(kls) == 3:
        best = min(kls, key=kls.get)
        others = ", ".join(f"{LABEL[k]} {f(v)}" for k, v in kls.items() if k != best)
        lines.append(
            f"| PCD has the lowest exact KL of the three sampling rules (8 hidden, mean of 10 "
            f"seeds) | lowest: {LABEL[best]} {f(kls[best])} bits; {others} "
            f"| {f(best == 'pcd')} |"
        )
    if single is not None:
        t = single["metrics"]["train_time_s"]
        lines.append(
            f"| one headline run (seed 0) trains in < 3 s | {f(t, 2)} s training, "
            f"{f(single['wall_time_s'], 2)} s wall | {f(t < 3.0)} |"
        )
    if head is not None:
        lines.append(
            f"| 10-seed sweep in < 30 s | {f(head['wall_time_s'], 2)} s wall "
            f"({f(head['metrics']['train_time_s'], 2)} s training) "
            f"| {f(head['wall_time_s'] < 30.0)} |"
        )
    return "\n".join(lines)


def block_robustness(results_dir: Path) -> str:
    rec = load(results_dir, "sweep100_pcd_h8.json")
    if rec is None:
        return "(not run yet)"
    x = rec["metrics"]
    failed = [s for s, n in zip(rec["seeds"], x["n_bars_per_seed"], strict=True) if n < 8]
    return (
        f"Default method, 8 hidden units, seeds {rec['seeds'][0]}-{rec['seeds'][-1]}: all 8 "
        f"bars on **{x['n_all_bars']}/{x['n_runs']}** seeds (≥ 7 bars on {x['n_at_least_7']}); "
        f"seeds with fewer than 8: {failed if failed else 'none'}. "
        f"Exact KL {kl_cell(x)} bits (mean ± sample sd; range "
        f"{f(x['kl_bits_min'])}-{f(x['kl_bits_max'])}). "
        f"Wall time {f(rec['wall_time_s'], 1)} s for all {x['n_runs']} seeds."
    )


CONFIG_KEYS = (
    "method",
    "k",
    "n_chains",
    "epochs",
    "batch_size",
    "lr",
    "lr_final",
    "initial_momentum",
    "momentum_epochs",
    "momentum",
    "weight_decay",
    "sparsity_target",
    "sparsity_cost",
    "sparsity_decay",
    "sparsity_weights",
    "init_std",
    "init_b_h",
    "n_train",
    "n_heldout",
    "p_bar",
)


def block_config(results_dir: Path) -> str:
    rec = load(results_dir, "sweep_pcd_h8.json")
    cfg = rec["config"] if rec is not None else m.asdict(m.Config())
    cells = ", ".join(
        f"`{k}` = {cfg[k]:g}" if isinstance(cfg[k], float) else f"`{k}` = {cfg[k]}"
        for k in CONFIG_KEYS
    )
    return "Config of the headline run (from `results/sweep_pcd_h8.json`): " + cells


def block_headline(results_dir: Path) -> str:
    rec = load(results_dir, "sweep_pcd_h8.json")
    if rec is None:
        return "(not run yet)"
    x = rec["metrics"]
    return "\n".join(
        [
            "| seeds | all 8 bars | KL bits | held-out LL bits | expected LL bits | wall s |",
            "|---|---|---|---|---|---|",
            f"| {rec['seeds'][0]}-{rec['seeds'][-1]} | {x['n_all_bars']}/{x['n_runs']} "
            f"| {kl_cell(x)} | {f(x['heldout_ll_bits_mean'])} "
            f"| {f(x['expected_ll_bits_mean'])} | {f(rec['wall_time_s'], 2)} |",
            "",
            f"Per-seed bars: {x['n_bars_per_seed']}; per-seed KL (bits): "
            f"{[round(k, 3) for k in x['kl_bits_per_seed']]}. KL is mean ± sample standard "
            "deviation; expected LL is the exact $-(H + \\mathrm{KL})$.",
        ]
    )


BLOCKS = {
    "headline": block_headline,
    "goals": block_goals,
    "exact": block_exact,
    "bars": block_bars,
    "methods": block_methods,
    "ablations": block_ablations,
    "robustness": block_robustness,
    "config": block_config,
}


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Return ``readme_text`` with every results:NAME block regenerated from the records.

    Blocks are delimited by the marker lines ``<!-- results:NAME:start -->`` and
    ``<!-- results:NAME:end -->``; unmatched markers raise ValueError. Text outside the
    blocks is returned unchanged, so rendering twice gives the same text.
    """
    text = readme_text
    for name, fn in BLOCKS.items():
        start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
        i, j = text.find(start), text.find(end)
        if i < 0 and j < 0:
            continue
        if i < 0 or j < i:
            raise ValueError(f"README markers for block {name!r} are broken")
        text = text[: i + len(start)] + "\n" + fn(Path(results_dir)) + "\n" + text[j:]
    return text


# ---------------------------------------------------------------------------------------
# CLI


def build_parser() -> m.CleanParser:
    """The command-line interface of visualize_bars_rbm.py."""
    p = m.CleanParser(
        prog="visualize_bars_rbm.py",
        description="Figures of bars-rbm into --outdir, or (--readme) the README's result "
        "blocks from results/. Exit codes: 0 ok, 2 bad input, 3 diverged, 74 cannot write, "
        "130 interrupted, 143 terminated.",
        allow_abbrev=False,
    )
    p.add_argument(
        "--seed",
        type=m.int_in(0, 2**32 - 1),
        default=0,
        help="seed of the run drawn; curves use seeds S..S+9 mod 2^32 (int, 0..2^32-1; default 0)",
    )
    p.add_argument(
        "--outdir", type=m.path_arg, default=HERE / "viz", help="folder for the PNGs (path)"
    )
    p.add_argument(
        "--results", type=m.path_arg, default=HERE / "results", help="records folder to read (path)"
    )
    p.add_argument(
        "--readme",
        type=m.path_arg,
        nargs="?",
        const=HERE / "README.md",
        default=None,
        help="only rewrite the generated blocks of this README (path; default bars-rbm/README.md)",
    )
    p.add_argument("--no-curves", action="store_true", help="skip the learning-curve figures")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny training (3 epochs, 300 images, 2 curve seeds) to test the drawing code",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.readme is not None:
        try:
            if not args.readme.is_file():
                parser.error(f"--readme {args.readme}: no such file")
            if not args.results.is_dir():
                parser.error(f"--results {args.results}: no such folder")
            m.check_output_path(args.readme, "--readme")
            text = args.readme.read_text(encoding="utf-8")
            new = render_readme(text, args.results)
        except (m.UsageError, ValueError, KeyError, OSError) as exc:
            parser.error(f"--readme {args.readme}: {exc}")
        if new != text:
            m.write_atomic(args.readme, new)
        print(f"visualize_bars_rbm: {'rewrote' if new != text else 'unchanged'} {args.readme}")
        return 0
    try:
        m.check_output_path(args.outdir / "probe.png", "--outdir")
    except m.UsageError as exc:
        parser.error(str(exc))
    try:  # unreadable records are bad input: refuse them before any training
        floor = load(args.results, FLOOR)
        for name in ("sweep_exact_h8.json", "sweep_exactml_h8.json"):
            load(args.results, name)
        for h in (8, 16):
            for x in METHODS:
                load(args.results, f"sweep_{x}_h{h}.json")
    except m.UsageError as exc:
        parser.error(str(exc))
    small = {"epochs": 3, "n_train": 300, "n_heldout": 300} if args.smoke else {}
    cfg = m.Config(eval_every=2, **small)
    print(f"visualize_bars_rbm: training seed {args.seed} with the default config ...")
    with np.errstate(all="ignore"):
        out = m.train(cfg, [args.seed])
    title = f"Receptive fields, seed {args.seed}, {cfg.method.upper()}"
    paths = [
        fig_receptive_fields(out["W"][0], args.outdir, title),
        fig_templates(args.outdir),
        fig_data_samples(out, args.outdir),
        fig_reconstructions(out, args.outdir),
        fig_model_samples(out, args.outdir, args.seed, burn=50 if args.smoke else 1000),
    ]
    if not args.no_curves:
        seeds = [(args.seed + i) % 2**32 for i in range(2 if args.smoke else 10)]
        curves = {}
        for meth in CURVE_METHODS:
            print(f"visualize_bars_rbm: curves for {LABEL[meth]}, seeds {seeds[0]}-{seeds[-1]}")
            c = m.Config(method=meth, k=10 if meth == "cdk" else 1, eval_every=2, **small)
            with np.errstate(all="ignore"):
                curves[meth] = m.train(c, seeds)
        paths.append(fig_learning_kl(curves, args.outdir))
        paths.append(fig_learning_bars_recon(curves, args.outdir))
    try:
        if any((args.results / f"sweep_{x}_h8.json").is_file() for x in METHODS):
            paths.append(fig_kl_by_method(args.results, args.outdir))
    except (m.UsageError, KeyError, TypeError) as exc:
        parser.error(f"--results {args.results}: {exc}")
    if floor is not None and not args.smoke:
        fc = m.Config(**{k: v for k, v in floor["config"].items() if k in m.Config().__dict__})
        print(f"visualize_bars_rbm: floor run, seed {floor['seeds'][0]}")
        with np.errstate(all="ignore"):
            fo = m.train(fc, [floor["seeds"][0]])
        paths.append(
            fig_receptive_fields(
                fo["W"][0], args.outdir, "Lowest-KL RBM (exact ML)", "receptive_fields_floor.png"
            )
        )
    for path in paths:
        print(f"visualize_bars_rbm: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(m.run_main(main, "visualize_bars_rbm.py"))
