#!/usr/bin/env python3
"""Figures for the bars-rbm problem and the generated blocks of its README.

    python3 bars-rbm/visualize_bars_rbm.py [--seed 0] [--outdir bars-rbm/viz]
    python3 bars-rbm/visualize_bars_rbm.py --readme     # rewrite README blocks only

Figures (PNG, dpi 110) are drawn from a fresh training run with the default
configuration (imported from bars_rbm.py) and, for the method comparison, from the
committed records in results/.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import bars_rbm as m  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110
METHODS = ("cd1", "cdk", "pcd")
LABEL = {"cd1": "CD-1", "cdk": "CD-10", "pcd": "PCD"}
COLOR = {"cd1": "tab:orange", "cdk": "tab:green", "pcd": "tab:blue"}


# ---------------------------------------------------------------------------------------
# Drawing helpers


def draw_image(ax, x, cmap="gray_r", vmin=0.0, vmax=1.0):
    """Draw a 16-vector as a 4x4 image without ticks."""
    ax.imshow(np.asarray(x).reshape(m.SIDE, m.SIDE), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_weights(ax, w, title=None, lim=None):
    """Draw one hidden unit's 16 weights as a 4x4 panel, red positive, blue negative."""
    lim = lim if lim is not None else max(np.abs(w).max(), 1e-9)
    draw_image(ax, w, cmap="RdBu_r", vmin=-lim, vmax=lim)
    if title:
        ax.set_title(title, fontsize=9)


def unit_label(best, cos, thr=0.5):
    """'r2 0.97' for a unit that represents bar r2, '(r2 0.31)' when below threshold."""
    name = m.bar_name(int(best))
    return f"{name}  cos {cos:.2f}" if cos >= thr else f"({name}  cos {cos:.2f})"


def plain_log_axis(ax):
    """Log-scale y axis labelled with plain numbers (0.8, 1, 2, ...) instead of 10^x."""
    ax.set_yscale("log")
    fmt = matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(fmt)
    ax.tick_params(axis="y", which="minor", labelsize=7)


def save(fig, outdir: Path, name: str) -> Path:
    path = outdir / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------
# Figures


def fig_receptive_fields(out, outdir, title_extra=""):
    W = out["W"][0]
    n, best, cos = m.bar_recovery(W)
    H = W.shape[1]
    order = np.lexsort((-cos, best))  # group units by bar, r0..r3 then c0..c3
    cols = min(H, 8)
    rows = int(np.ceil(H / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.75 * rows + 0.4), squeeze=False)
    lim = np.abs(W).max()
    for ax in axes.ravel():
        ax.axis("off")
    for i, j in enumerate(order):
        ax = axes.ravel()[i]
        ax.axis("on")
        draw_weights(ax, W[:, j], f"h{j}: {unit_label(best[j], cos[j])}", lim)
    fig.suptitle(f"Receptive fields (weights into each hidden unit): {n}/8 bars{title_extra}")
    return save(fig, outdir, "receptive_fields.png")


def fig_templates(outdir):
    T = m.bar_templates()
    fig, axes = plt.subplots(1, 8, figsize=(10, 1.6))
    for b, ax in enumerate(axes):
        draw_image(ax, T[b])
        ax.set_title(m.bar_name(b), fontsize=9)
    fig.suptitle("The 8 bar templates (rows r0-r3, columns c0-c3)")
    return save(fig, outdir, "templates.png")


def fig_data_samples(out, outdir, n=32):
    x = out["train"][0][:n]
    fig, axes = plt.subplots(2, n // 2, figsize=(n // 2 * 0.75, 1.9))
    for ax, v in zip(axes.ravel(), x, strict=True):
        draw_image(ax, v)
    fig.suptitle(f"First {n} training images (each bar on with p = 1/8, pixelwise OR)")
    return save(fig, outdir, "data_samples.png")


def fig_reconstructions(out, outdir, n=10):
    W, b_v, b_h = out["W"][0], out["b_v"][0], out["b_h"][0]
    x = out["train"][0]
    # show a variety: images with 1, 2 and 3 bars rather than many blanks
    k = x.sum(axis=1)
    pick = np.concatenate([np.where(k == 4)[0][:4], np.where(k == 7)[0][:3], np.where(k > 7)[0]])
    v = x[pick[:n]]
    n = len(v)
    q = m.sigmoid(v @ W + b_h)
    _, best, cos = m.bar_recovery(W)
    order = np.lexsort((-cos, best))
    recon = m.sigmoid(q @ W.T + b_v)
    fig, axes = plt.subplots(3, n, figsize=(n * 1.05, 3.7))
    for i in range(n):
        draw_image(axes[0, i], v[i])
        axes[1, i].bar(np.arange(W.shape[1]), q[i, order], color="tab:blue")
        axes[1, i].set_ylim(0, 1)
        axes[1, i].set_xticks(range(W.shape[1]))
        axes[1, i].set_xticklabels([m.bar_name(b) for b in best[order]], fontsize=5, rotation=90)
        axes[1, i].tick_params(axis="y", labelsize=6)
        if i:
            axes[1, i].set_yticklabels([])
        draw_image(axes[2, i], recon[i])
    axes[0, 0].set_ylabel("data", fontsize=9)
    axes[1, 0].set_ylabel("p(h|v)", fontsize=9)
    axes[2, 0].set_ylabel("p(v|q)", fontsize=9)
    fig.suptitle("Reconstructions: data, hidden activations (units labelled by bar), p(v | p(h|v))")
    return save(fig, outdir, "reconstructions.png")


def fig_model_samples(out, outdir, seed, n=32, burn=1000):
    """Samples from the trained model (Gibbs, independent chains) next to data samples."""
    W, b_v, b_h = out["W"][0], out["b_v"][0], out["b_h"][0]
    rng = np.random.default_rng([seed, 12345])
    v = (rng.random((n, m.N_VISIBLE)) < 0.5).astype(float)
    for _ in range(burn):
        h = (rng.random((n, W.shape[1])) < m.sigmoid(v @ W + b_h)).astype(float)
        v = (rng.random((n, m.N_VISIBLE)) < m.sigmoid(h @ W.T + b_v)).astype(float)
    data = out["heldout"][0][:n]
    fig, axes = plt.subplots(4, n // 2, figsize=(n // 2 * 0.75, 3.9))
    for ax, x in zip(axes[:2].ravel(), data, strict=True):
        draw_image(ax, x)
    for ax, x in zip(axes[2:].ravel(), v, strict=True):
        draw_image(ax, x, cmap="Blues")
    axes[0, 0].set_ylabel("data", fontsize=9)
    axes[2, 0].set_ylabel("model", fontsize=9)
    fig.suptitle(
        f"Held-out data (black) and model samples (blue; {n} Gibbs chains, {burn} steps each)"
    )
    return save(fig, outdir, "model_samples.png")


def fig_learning_curves(curves, outdir):
    """curves: method -> train() output over seeds, with history every few epochs."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for meth, out in curves.items():
        h = out["history"]
        ep = np.array(h["epoch"])
        kl = np.array(h["kl_bits"])  # (T, S)
        nb = np.array(h["n_bars"])
        rec = np.array(h["recon_err"], dtype=float)
        c = COLOR[meth]
        axes[0].plot(ep, kl, color=c, alpha=0.25, lw=0.8)
        axes[0].plot(ep, np.median(kl, axis=1), color=c, lw=2, label=f"{LABEL[meth]} (median)")
        axes[1].plot(ep, nb.mean(axis=1), color=c, lw=2, label=LABEL[meth])
        axes[2].plot(ep[1:], rec[1:].mean(axis=1), color=c, lw=2, label=LABEL[meth])
    n_seeds = np.array(next(iter(curves.values()))["history"]["n_bars"]).shape[1]
    plain_log_axis(axes[0])
    axes[0].set_ylabel("KL(data || model), bits (exact)")
    axes[1].set_ylabel(f"bars recovered (mean of {n_seeds} seeds)")
    axes[1].set_ylim(0, 8.3)
    axes[2].set_ylabel("reconstruction error per pixel")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Learning curves, 8 hidden units, same schedule for every method")
    fig.tight_layout()
    return save(fig, outdir, "learning_curves.png")


def fig_kl_by_method(results_dir, outdir):
    """Exact KL per seed for each method and hidden size, from the committed records."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ticks, labels = [], []
    x = 0
    for h in (8, 16):
        for meth in METHODS:
            rec = load(results_dir, f"sweep_{meth}_h{h}.json")
            if rec is None:
                continue
            kl = rec["metrics"]["kl_bits_per_seed"]
            jitter = np.linspace(-0.15, 0.15, len(kl))
            ax.scatter(x + jitter, kl, color=COLOR[meth], s=14)
            ax.hlines(np.mean(kl), x - 0.3, x + 0.3, color="k", lw=1.5)
            ticks.append(x)
            labels.append(f"{LABEL[meth]}\n{h} hidden")
            x += 1
        x += 0.5
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=8)
    plain_log_axis(ax)
    ax.set_ylabel("KL(data || model), bits")
    ax.set_title("Exact KL per seed (dots) and mean (bar); records in results/")
    ax.grid(alpha=0.3, axis="y")
    return save(fig, outdir, "kl_by_method.png")


# ---------------------------------------------------------------------------------------
# README blocks (numbers rendered from results/*.json only)


def load(results_dir: Path, name: str) -> dict | None:
    path = Path(results_dir) / name
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


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
    return f"PCD ({c['n_chains']} chains, k={c['k']})"


def block_methods(results_dir: Path) -> str:
    lines = [
        "| method | hidden | seeds | all 8 bars | >= 7 bars | all 8 at cos >= 0.8 "
        "| KL bits (mean ± sd) | held-out LL bits/image | model mass on bars images "
        "| model p(blank) | train s (all seeds) | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ref = m.REFERENCE_V1
    lines.append(
        f"| reference v1: CD-1 + sparsity (earlier reproduction) | 8 | {ref['n_runs']} "
        f"| {ref['n_all_bars']}/{ref['n_runs']} | {ref['n_at_least_7']}/{ref['n_runs']} "
        "| — | not measured | not measured | — | — | — | — |"
    )
    for h in (8, 16):
        for meth in METHODS:
            rec = load(results_dir, f"sweep_{meth}_h{h}.json")
            if rec is None:
                lines.append(f"| {LABEL[meth]} | {h} | not run yet | | | | | | | | | |")
                continue
            x = rec["metrics"]
            default = " (default)" if rec["config"]["method"] == m.Config().method else ""
            lines.append(
                f"| {method_name(rec)}{default} | {h} | {x['n_runs']} "
                f"| {x['n_all_bars']}/{x['n_runs']} | {x['n_at_least_7']}/{x['n_runs']} "
                f"| {x['n_all_bars_strict']}/{x['n_runs']} "
                f"| {f(x['kl_bits_mean'])} ± {f(x['kl_bits_std'])} "
                f"| {f(x['heldout_ll_bits_mean'])} | {f(x['support_mass_mean'])} "
                f"| {f(x['blank_prob_mean'])} | {f(x['train_time_s'], 1)} "
                f"| {f(rec['wall_time_s'], 1)} |"
            )
    ref_rec = next(
        (r for r in (load(results_dir, f"sweep_{x}_h8.json") for x in METHODS) if r), None
    )
    if ref_rec is not None:
        x = ref_rec["metrics"]
        lines.append("")
        lines.append(
            f"Data: entropy H = {f(x['data_entropy_bits'], 4)} bits per image over "
            f"{x['n_distinct_images']} distinct images (exact); p(blank) = "
            f"{f(x['data_blank_prob'])}. A perfect model has KL = 0, held-out LL about -H, "
            "all its mass on the bars images and the data's p(blank)."
        )
    return "\n".join(lines)


def block_goals(results_dir: Path) -> str:
    head = load(results_dir, "sweep_pcd_h8.json")
    single = load(results_dir, "single_pcd_h8_seed0.json")
    kls = {
        meth: load(results_dir, f"sweep_{meth}_h8.json")["metrics"]["kl_bits_mean"]
        for meth in METHODS
        if load(results_dir, f"sweep_{meth}_h8.json") is not None
    }
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
            f"| default method has the lowest exact KL (8 hidden, mean of 10 seeds) "
            f"| lowest: {LABEL[best]} {f(kls[best])} bits; {others} "
            f"| {f(best == m.Config().method)} |"
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
        f"Default method, 8 hidden units, seeds 0-{rec['seeds'][-1]}: all 8 bars on "
        f"**{x['n_all_bars']}/{x['n_runs']}** seeds (>= 7 bars on {x['n_at_least_7']}); "
        f"seeds with fewer than 8: {failed if failed else 'none'}. "
        f"Exact KL {f(x['kl_bits_mean'])} ± {f(x['kl_bits_std'])} bits "
        f"(range {f(x['kl_bits_min'])}-{f(x['kl_bits_max'])}). "
        f"Wall time {f(rec['wall_time_s'], 1)} s for all {x['n_runs']} seeds."
    )


def block_config(results_dir: Path) -> str:
    rec = load(results_dir, "sweep_pcd_h8.json")
    cfg = rec["config"] if rec is not None else m.Config().__dict__
    keys = [
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
    ]
    cells = " | ".join(
        f"`{k}` = {cfg[k]:g}" if isinstance(cfg[k], float) else f"`{k}` = {cfg[k]}" for k in keys
    )
    return "Config of the headline run (from `results/sweep_pcd_h8.json`): " + cells.replace(
        " | ", ", "
    )


def block_headline(results_dir: Path) -> str:
    rec = load(results_dir, "sweep_pcd_h8.json")
    if rec is None:
        return "(not run yet)"
    x = rec["metrics"]
    e = rec["env"]
    return "\n".join(
        [
            "| seeds | all 8 bars | KL bits mean ± sd | held-out LL bits | expected LL "
            "bits (exact) | train s | wall s | machine |",
            "|---|---|---|---|---|---|---|---|",
            f"| {rec['seeds'][0]}-{rec['seeds'][-1]} | {x['n_all_bars']}/{x['n_runs']} "
            f"| {f(x['kl_bits_mean'])} ± {f(x['kl_bits_std'])} "
            f"| {f(x['heldout_ll_bits_mean'])} | {f(x['expected_ll_bits_mean'])} "
            f"| {f(x['train_time_s'], 2)} | {f(rec['wall_time_s'], 2)} "
            f"| {e['cpu_count']} CPUs, Python {e['python']}, numpy {e['numpy']} |",
            "",
            f"Per-seed bars: {x['n_bars_per_seed']}; per-seed KL (bits): "
            f"{[round(k, 3) for k in x['kl_bits_per_seed']]}.",
        ]
    )


BLOCKS = {
    "headline": block_headline,
    "goals": block_goals,
    "methods": block_methods,
    "robustness": block_robustness,
    "config": block_config,
}


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Return ``readme_text`` with every results:NAME block regenerated from the records.

    Blocks are delimited by the marker lines ``<!-- results:NAME:start -->`` and
    ``<!-- results:NAME:end -->``; unknown names raise KeyError, unmatched markers
    ValueError. Text outside the blocks is returned unchanged.
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


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    p = m.CleanArgumentParser(prog="visualize_bars_rbm.py", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0, help="seed of the run drawn (default 0)")
    p.add_argument("--outdir", type=Path, default=HERE / "viz", help="folder for the PNGs")
    p.add_argument("--results", type=Path, default=HERE / "results", help="records folder")
    p.add_argument("--readme", action="store_true", help="only rewrite README.md blocks")
    p.add_argument("--no-curves", action="store_true", help="skip the 3-method curves")
    args = p.parse_args(argv)
    if args.seed < 0:
        p.error("--seed must be >= 0")
    if args.readme:
        readme = HERE / "README.md"
        new = render_readme(readme.read_text(encoding="utf-8"), args.results)
        write_atomic(readme, new)
        print(f"visualize_bars_rbm: rewrote {readme}")
        return 0
    args.outdir.mkdir(parents=True, exist_ok=True)
    cfg = m.Config(eval_every=2)
    print(f"visualize_bars_rbm: training seed {args.seed} with the default config ...")
    out = m.train(cfg, [args.seed])
    paths = [
        fig_receptive_fields(out, args.outdir, f" (seed {args.seed}, {cfg.method.upper()})"),
        fig_templates(args.outdir),
        fig_data_samples(out, args.outdir),
        fig_reconstructions(out, args.outdir),
        fig_model_samples(out, args.outdir, args.seed),
    ]
    if not args.no_curves:
        seeds = list(range(args.seed, args.seed + 10))
        curves = {}
        for meth in METHODS:
            print(f"visualize_bars_rbm: curves for {LABEL[meth]}, seeds {seeds[0]}-{seeds[-1]}")
            c = m.Config(method=meth, k=10 if meth == "cdk" else 1, eval_every=2)
            curves[meth] = m.train(c, seeds)
        paths.append(fig_learning_curves(curves, args.outdir))
    if any((args.results / f"sweep_{x}_h8.json").is_file() for x in METHODS):
        paths.append(fig_kl_by_method(args.results, args.outdir))
    for path in paths:
        print(f"visualize_bars_rbm: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
