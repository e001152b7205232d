#!/usr/bin/env python3
"""Figures for the XOR problem, and the README's generated result blocks.

    python3 xor/visualize_xor.py [--seed 0] [--outdir xor/viz]   # write viz/*.png
    python3 xor/visualize_xor.py --readme                         # rewrite README blocks

The seed figures retrain seed ``--seed`` of both networks with the paper's rule (the
defaults of xor.py, training code imported from it); the distribution and sensitivity
figures read the committed records in results/. README blocks are rendered from
results/*.json only, by render_readme, so rewriting them is idempotent.
"""

from __future__ import annotations

import os
import signal
import sys

if __name__ == "__main__":  # a signal during the imports below still gives one line

    def _early_signal(signum, frame):
        word = b"interrupted" if signum == signal.SIGINT else b"terminated"
        os.write(2, b"visualize_xor.py: " + word + b"\n")
        os._exit(130 if signum == signal.SIGINT else 143)

    signal.signal(signal.SIGINT, _early_signal)
    signal.signal(signal.SIGTERM, _early_signal)

import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import xor  # noqa: E402

HERE = Path(__file__).resolve().parent

DPI = 110  # 7.5 in x 110 dpi = 825 px, the width of the site's column
WIDTH = 7.5
FONT = 9  # smallest text, in points
ARCH_ORDER = ["2-2-1", "2-1-skip"]
plt.rcParams.update(
    {
        "font.size": FONT + 1,
        "axes.titlesize": FONT + 1,
        "axes.labelsize": FONT + 1,
        "xtick.labelsize": FONT,
        "ytick.labelsize": FONT,
        "legend.fontsize": FONT,
    }
)

# ----------------------------------------------------------------------------------------
# Training with history (the code lives in xor.py)
# ----------------------------------------------------------------------------------------


def run_with_history(arch: str, seed: int, max_epochs: int = 10000) -> xor.TrainResult:
    """Train one network with the paper's rule (xor.Config defaults), with history."""
    cfg = xor.Config(arch=arch, max_epochs=max_epochs)
    return xor.train([seed], cfg, record_history=True)


def params_at(res: xor.TrainResult, t: int) -> dict:
    """Parameters of the (single) network after t sweeps, arrays with seed axis 1."""
    return {k: v[t] for k, v in res.history["params"].items()}


def surface(params: dict, n: int = 121, lo: float = -0.25, hi: float = 1.25):
    """Network output on an n x n grid over [lo, hi]^2: (xs, ys, Z (n, n))."""
    xs = np.linspace(lo, hi, n)
    g1, g2 = np.meshgrid(xs, xs)
    grid = np.stack([g1.ravel(), g2.ravel()], axis=1)
    o, _ = xor.forward(params, X=grid)
    return xs, xs, o[0, :, 0].reshape(n, n)


#: resolution of saved figures and layout engine; the smoke run lowers the resolution and
#: skips the layout engine (same figures, fewer pixels, rougher margins)
SAVE_DPI = {"dpi": DPI}
LAYOUT = {"layout": "constrained"}


def save_figure(fig, path: Path) -> None:
    """savefig into a temporary file next to path, then move it over path (atomic)."""
    xor.write_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=SAVE_DPI["dpi"]))
    plt.close(fig)


# ----------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------


def draw_surface(ax, params: dict, title: str):
    """Output surface, its 0.5 contour and the four patterns on one axis."""
    xs, ys, Z = surface(params)
    im = ax.imshow(
        Z,
        origin="lower",
        extent=(xs[0], xs[-1], ys[0], ys[-1]),
        cmap="RdBu_r",
        vmin=0,
        vmax=1,
        aspect="equal",
    )
    if Z.min() < 0.5 < Z.max():
        ax.contour(xs, ys, Z, levels=[0.5], colors="k", linewidths=2)
    for (x1, x2), y in zip(xor.X, xor.Y[:, 0], strict=True):
        ax.scatter(
            x1,
            x2,
            s=120,
            c="white" if y == 0 else "black",
            edgecolors="k",
            linewidths=1.5,
            zorder=3,
        )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xticks([0, 1])
    ax.set_yticks([0, 1])
    ax.set_title(title)
    return im


def fig_decision_surface(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.9), layout=LAYOUT["layout"])
    for ax, arch in zip(axes, ARCH_ORDER, strict=True):
        res = runs[arch]
        t = len(res.history["loss"]) - 1
        im = draw_surface(ax, params_at(res, t), f"{arch}, seed {seed}, sweep {t}")
    fig.colorbar(im, ax=axes, shrink=0.85, label="output $o$")
    fig.suptitle("Output at convergence (black line: $o = 0.5$; filled dots: target 1)")
    save_figure(fig, path)


def fig_hidden_activations(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.0), layout=LAYOUT["layout"])
    labels = ["00", "01", "10", "11"]
    for ax, arch in zip(axes, ARCH_ORDER, strict=True):
        o, h = xor.forward(runs[arch].params)
        rows = [h[0, :, j] for j in range(h.shape[2])] + [o[0, :, 0]]
        names = [f"hidden {j + 1}" for j in range(h.shape[2])] + ["output"]
        M = np.array(rows)
        ax.imshow(M, cmap="gray_r", vmin=0, vmax=1, aspect="auto")
        for i in range(M.shape[0]):
            for p in range(4):
                ax.text(
                    p,
                    i,
                    f"{M[i, p]:.2f}",
                    ha="center",
                    va="center",
                    color="white" if M[i, p] > 0.5 else "black",
                    fontsize=FONT,
                )
        ticks = [f"{lab} (y={int(y)})" for lab, y in zip(labels, xor.Y[:, 0], strict=True)]
        ax.set_xticks(range(4), ticks)
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_yticks(range(len(names)), names)
        ax.set_title(f"{arch}, seed {seed}")
    fig.suptitle("Unit activities on the four patterns at convergence (dark = 1)")
    save_figure(fig, path)


def weight_matrix(params: dict) -> tuple[np.ndarray, list[str], list[str]]:
    """Receiving-unit x sending-unit weight matrix of one network (NaN = no connection)."""
    H = params["W_ih"].shape[-1]
    senders = ["x1", "x2", "bias"] + [f"h{j + 1}" for j in range(H)]
    receivers = [f"h{j + 1}" for j in range(H)] + ["out"]
    M = np.full((H + 1, 3 + H), np.nan)
    M[:H, 0:2] = params["W_ih"][0].T
    M[:H, 2] = params["b_h"][0]
    M[H, 3:] = params["W_ho"][0][:, 0]
    M[H, 2] = params["b_o"][0][0]
    if "W_io" in params:
        M[H, 0:2] = params["W_io"][0][:, 0]
    return M, receivers, senders


def hinton(ax, M: np.ndarray, max_w: float) -> None:
    """Hinton diagram: square area ~ |w|, white positive, black negative; NaN left empty."""
    ax.set_facecolor("0.55")
    for (i, j), w in np.ndenumerate(M):
        if np.isnan(w):
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, color="0.85"))
            continue
        side = np.sqrt(abs(w) / max_w) * 0.8
        ax.add_patch(
            plt.Rectangle(
                (j - side / 2, i - side / 2 - 0.08),
                side,
                side,
                color="white" if w > 0 else "black",
            )
        )
        ax.text(j, i + 0.48, f"{w:+.1f}", ha="center", va="bottom", fontsize=FONT, color="0.05")
    ax.set_xlim(-0.5, M.shape[1] - 0.5)
    ax.set_ylim(M.shape[0] - 0.5, -0.5)
    ax.set_aspect("equal")


def fig_weights(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(
        1, 2, figsize=(WIDTH, 3.2), gridspec_kw={"width_ratios": [5, 4]}, layout=LAYOUT["layout"]
    )
    mats = {a: weight_matrix(runs[a].params) for a in ARCH_ORDER}
    max_w = max(np.nanmax(np.abs(m[0])) for m in mats.values())
    for ax, arch in zip(axes, ARCH_ORDER, strict=True):
        M, rec, snd = mats[arch]
        hinton(ax, M, max_w)
        ax.set_xticks(range(len(snd)), snd)
        ax.set_yticks(range(len(rec)), [f"to {r}" for r in rec])
        ax.set_xlabel("from")
        ax.set_title(f"{arch}, seed {seed}")
    fig.suptitle("Weights at convergence (white +, black -, area ~ |w|; pale: no connection)")
    save_figure(fig, path)


def draw_curves(axes, res: xor.TrainResult, upto: int | None = None) -> None:
    """Error / accuracy / weight norm against sweeps on three axes, events marked."""
    h = res.history
    T = len(h["loss"])
    upto = T if upto is None else upto
    t = np.arange(upto)
    series = [
        (h["loss"][:upto, 0], "error $E$", True),
        (h["accuracy"][:upto, 0], "patterns right", False),
        (h["weight_norm"][:upto, 0], "weight norm", False),
    ]
    for ax, (y, label, logy) in zip(axes, series, strict=True):
        ax.plot(t, y, color="C0", lw=1.5)
        if logy:
            ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xlim(0, T)
        for i, pe in enumerate(res.perturb_epochs[0]):
            if pe < upto:
                ax.axvline(pe, color="C3", ls=":", lw=1.2, label="perturbed" if i == 0 else None)
        ce = int(res.converged_epoch[0])
        if 0 <= ce < upto + 1:
            ax.axvline(ce, color="C2", ls="--", lw=1.2, label=f"converged ({ce})")
    axes[-1].set_xlabel("sweep")


def fig_training_curves(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(3, 2, figsize=(WIDTH, 5.6), sharex="col", layout=LAYOUT["layout"])
    for col, arch in enumerate(ARCH_ORDER):
        draw_curves(axes[:, col], runs[arch])
        axes[0, col].set_title(f"{arch}, seed {seed}")
        axes[0, col].legend(loc="lower left")
        axes[1, col].set_ylim(-0.05, 1.05)
    save_figure(fig, path)


def cdf_of(m: dict) -> tuple[np.ndarray, np.ndarray]:
    """Step coordinates of the fraction of seeds converged by each sweep."""
    ep = np.sort([e for e in m["converged_epoch_per_seed"] if e is not None])
    ys = np.arange(1, len(ep) + 1) / m["n_runs"]
    return np.r_[1, ep], np.r_[0, ys]


def fig_epoch_distribution(results_dir: Path, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.6), sharey=True, layout=LAYOUT["layout"])
    rows = [
        ("headline", "paper's rule", "-"),
        ("perturb_both", "+ perturb (catalog)", "--"),
        ("mean_both", "mean E", ":"),
    ]
    for ax, arch in zip(axes, ["2-1-skip", "2-2-1"], strict=True):
        for i, (stem, label, ls) in enumerate(rows):
            m = load_record(results_dir, stem)["metrics"]["networks"][arch]
            xs, ys = cdf_of(m)
            ax.step(xs, ys, where="post", color=f"C{i}", ls=ls, lw=1.6, label=label)
        if arch == "2-1-skip":
            ax.axvline(xor.PAPER_SWEEPS, color="k", lw=1, ls="-.", label="paper: 558 (one run)")
        ax.set_xscale("log")
        ax.set_xlim(50, 12000)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("sweeps to converge")
        ax.set_title(arch)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    axes[0].set_ylabel("fraction of seeds converged")
    fig.suptitle("Sweeps to converge, seeds 0-299 (cumulative)")
    save_figure(fig, path)


def fig_sensitivity(results_dir: Path, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6), layout=LAYOUT["layout"])
    labels, rates, los, his = [], [], [], []
    for stem, label in SENSITIVITY_ROWS:
        m = load_record(results_dir, stem)["metrics"]["networks"]["2-2-1"]
        lo, hi = m["failed_fraction_wilson95"]
        labels.append(label)
        rates.append(100 * m["failed_fraction"])
        los.append(100 * lo)
        his.append(100 * hi)
    y = np.arange(len(labels))[::-1]
    rates, los, his = np.array(rates), np.array(los), np.array(his)
    ax.errorbar(
        rates, y, xerr=[rates - los, his - rates], fmt="o", color="C0", capsize=3, label="ours"
    )
    ax.axvspan(0, 100 * xor.PAPER_STUCK_MAX_FRACTION, color="0.8", label="paper: 2 of hundreds")
    ax.set_yticks(y, labels)
    ax.set_xlabel("2-2-1 runs not converged (%, Wilson 95% interval)")
    ax.set_xlim(0, max(his) * 1.1)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("2-2-1 failure rate under the paper's rule, one setting changed at a time")
    save_figure(fig, path)


def make_figures(seed: int, outdir: Path, results_dir: Path, max_epochs: int = 10000) -> list[Path]:
    """Write every viz/*.png for seed ``seed`` into outdir; returns the paths.

    max_epochs caps the pictured runs (the smoke run draws unconverged ones).
    """
    runs = {arch: run_with_history(arch, seed, max_epochs) for arch in ARCH_ORDER}
    paths = []
    for name, fn in [
        ("decision_surface.png", fig_decision_surface),
        ("hidden_activations.png", fig_hidden_activations),
        ("weights_hinton.png", fig_weights),
        ("training_curves.png", fig_training_curves),
    ]:
        fn(runs, seed, outdir / name)
        paths.append(outdir / name)
    for name, fn in [
        ("epoch_distribution.png", fig_epoch_distribution),
        ("sensitivity.png", fig_sensitivity),
    ]:
        fn(results_dir, outdir / name)
        paths.append(outdir / name)
    return paths


# ----------------------------------------------------------------------------------------
# README blocks, rendered from results/*.json
# ----------------------------------------------------------------------------------------

#: (record stem, label) of the sweeps table, in order.
SWEEP_ROWS = [
    ("headline", "paper's rule (summed $E$), headline"),
    ("perturb_both", "paper's rule + perturb-on-plateau (catalog's)"),
    ("mean_both", "mean $E$ (catalog's earlier default)"),
    ("mean_perturb_both", "mean $E$ + perturb-on-plateau"),
]
#: (record stem, label) of the 2-2-1 sensitivity table; "headline" is the base row.
SENSITIVITY_ROWS = [
    ("headline", "paper's rule (base)"),
    ("sens_init0.1", "init range 0.1"),
    ("sens_init1", "init range 1"),
    ("sens_lr0.25", "lr 0.25"),
    ("sens_lr1", "lr 1"),
    ("sens_lr2", "lr 2"),
    ("sens_mom0", "momentum 0"),
    ("sens_mom0.5", "momentum 0.5"),
    ("sens_mom0.95", "momentum 0.95"),
    ("sens_cap100k", "cap 100000 sweeps"),
]
#: (record stem, label) of the wrapper-settings table (2-2-1, seeds 1000-1099).
TUNING_ROWS = [
    ("tune_default", "default: window 500, shrink 0.1, scale 1, 1% drop"),
    ("tune_w200", "window 200"),
    ("tune_w1000", "window 1000"),
    ("tune_anydrop", "any drop counts as progress"),
    ("tune_half", "shrink 0.5, scale 0.5"),
    ("tune_smallnoise", "shrink 1, scale 0.3 (small noise)"),
]
#: every committed record, in the order its command is listed in the README
RECORD_ORDER = (
    ["headline", "seed0"]
    + [s for s, _ in SWEEP_ROWS[1:]]
    + [s for s, _ in SENSITIVITY_ROWS[1:]]
    + [s for s, _ in TUNING_ROWS]
)


def load_record(results_dir: Path, stem: str) -> dict:
    """results_dir/<stem>.json as a dict; UsageError names a missing or unreadable record."""
    path = Path(results_dir) / f"{stem}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise xor.UsageError(f"missing record {path}") from None
    except (OSError, ValueError) as exc:
        raise xor.UsageError(f"cannot read record {path}: {exc}") from None


def _num(v, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def net(rec: dict, arch: str) -> dict:
    return rec["metrics"]["networks"][arch]


def failure_kinds(m: dict) -> str:
    """'a / b / c': failed runs with all 4, exactly 2, or another number of outputs
    within 0.05 of 0.5 (the flat all-0.5 region, the PDP Fig. 5 kind of minimum, other)."""
    near = list(m["failed_outputs_near_half"].values())
    four, two = near.count(4), near.count(2)
    return f"{four} / {two} / {len(near) - four - two}"


def stuck_cell(m: dict) -> str:
    lo, hi = m["failed_fraction_wilson95"]
    return f"{m['n_failed']}/{m['n_runs']} = {_pct(m['failed_fraction'])} ({_pct(lo)}-{_pct(hi)})"


def block_paper(results_dir: Path) -> str:
    head = load_record(results_dir, "headline")
    wrap = load_record(results_dir, "perturb_both")
    cmp = head["metrics"]["paper_comparison"]
    skip, two = net(head, "2-1-skip"), net(head, "2-2-1")
    p25, p75 = cmp["skip_iqr"]
    n = head["n_seeds"]
    ws, w2 = net(wrap, "2-1-skip"), net(wrap, "2-2-1")
    return "\n".join(
        [
            "| | paper (PDP ch. 8) | ours, same rule |",
            "|---|---|---|",
            f"| sweeps, 1 hidden unit + direct links | 558, one run (p. 331) | median "
            f"{_num(skip['median_epochs'])}, IQR {_num(p25)}-{_num(p75)} "
            f"({skip['n_converged']}/{n} seeds) |",
            f"| 2-2-1 runs stuck | 2 of several hundred (pp. 331-332) | {two['n_failed']}/{n} = "
            f"{_pct(two['failed_fraction'])} (95% CI {_pct(cmp['stuck_wilson95_2_2_1'][0])}-"
            f"{_pct(cmp['stuck_wilson95_2_2_1'][1])}) |",
            f"| verdict | | **{head['reproduces']}**: 558 "
            f"{'inside' if cmp['paper_sweeps_within_iqr'] else 'outside'} our IQR; stuck rate "
            f"{'compatible with' if cmp['stuck_consistent_with_paper'] else 'above'} the "
            "paper's |",
            f"| with perturb-on-plateau (catalog's addition, not the paper's) | - | converged "
            f"{ws['n_converged']}/{ws['n_runs']} (1 hidden) and {w2['n_converged']}/"
            f"{w2['n_runs']} (2-2-1) |",
            f"| wall time of the headline run | - | {head['wall_time_s']:.1f} s |",
        ]
    )


def block_single(results_dir: Path) -> str:
    rec = load_record(results_dir, "seed0")
    rows = [
        "| network | converged at sweep | outputs 00, 01, 10, 11 | training time (s) |",
        "|---|---|---|---|",
    ]
    for arch in ARCH_ORDER:
        m = net(rec, arch)
        outs = ", ".join(f"{v:.3f}" for v in m["final_outputs"])
        conv = str(m["converged_epoch"]) if m["converged"] else f"not in {m['epochs_run']}"
        rows.append(f"| {arch} | {conv} | {outs} | {m['train_time_s']:.3f} |")
    return "\n".join(rows)


def block_sweeps(results_dir: Path) -> str:
    rows = [
        "| rule | network | converged | median | IQR | p90 | stuck: 4 / 2 / other at 0.5 |",
        "|---|---|---|---|---|---|---|",
    ]
    for stem, label in SWEEP_ROWS:
        rec = load_record(results_dir, stem)
        for arch in ["2-1-skip", "2-2-1"]:
            m = net(rec, arch)
            pc = m["epoch_percentiles"]
            rows.append(
                f"| {label} | {arch} | {m['n_converged']}/{m['n_runs']} "
                f"| {_num(m['median_epochs'])} | {_num(pc['p25'])}-{_num(pc['p75'])} "
                f"| {_num(pc['p90'])} | {failure_kinds(m)} |"
            )
    return "\n".join(rows)


def stuck_by(m: dict, cap: int) -> int:
    """Runs of a sweep not converged within ``cap`` sweeps (cap <= the run's own cap)."""
    return sum(1 for e in m["converged_epoch_per_seed"] if e is None or e > cap)


def block_sensitivity(results_dir: Path) -> str:
    rows = [
        "| setting (rest as the paper's rule) | not converged (95% CI) | stuck: 4 / 2 / other "
        "at 0.5 | median sweeps |",
        "|---|---|---|---|",
    ]
    for stem, label in SENSITIVITY_ROWS:
        m = net(load_record(results_dir, stem), "2-2-1")
        rows.append(
            f"| {label} | {stuck_cell(m)} | {failure_kinds(m)} | {_num(m['median_epochs'])} |"
        )
    cap = net(load_record(results_dir, "sens_cap100k"), "2-2-1")
    rows += [
        "",
        f"In the 100000-sweep record, {stuck_by(cap, 10000)} of {cap['n_runs']} runs are "
        f"unconverged at sweep 10000 and {stuck_by(cap, cap['max_epochs'])} at sweep "
        f"{cap['max_epochs']}.",
    ]
    return "\n".join(rows)


def block_tuning(results_dir: Path) -> str:
    rows = [
        "| wrapper setting (2-2-1, seeds 1000-1099) | converged | median | p90 | max "
        "| runs perturbed |",
        "|---|---|---|---|---|---|",
    ]
    for stem, label in TUNING_ROWS:
        m = net(load_record(results_dir, stem), "2-2-1")
        rows.append(
            f"| {label} | {m['n_converged']}/{m['n_runs']} | {_num(m['median_epochs'])} "
            f"| {_num(m['epoch_percentiles']['p90'])} | {_num(m['max_epochs_seen'])} "
            f"| {m['n_perturbed_runs']} |"
        )
    return "\n".join(rows)


def block_goals(results_dir: Path) -> str:
    wrap = load_record(results_dir, "perturb_both")
    head = load_record(results_dir, "headline")
    one = load_record(results_dir, "seed0")
    rows = ["| goal (this catalog's) | measured | status |", "|---|---|---|"]
    for arch in ["2-2-1", "2-1-skip"]:
        m = net(wrap, arch)
        ok = m["n_converged"] >= xor.GOAL_CONVERGED_FRACTION * m["n_runs"]
        rows.append(
            f"| perturb-on-plateau, {arch}: >= 99% of seeds converge | "
            f"{m['n_converged']}/{m['n_runs']} | {'met' if ok else 'NOT met'} |"
        )
    t1 = max(net(one, a)["train_time_s"] for a in ARCH_ORDER)
    rows.append(
        f"| seed-0 run under 1 s of training | {t1:.3f} s | {'met' if t1 < 1 else 'NOT met'} |"
    )
    wall = head["wall_time_s"]
    rows.append(
        f"| headline run ({head['n_seeds']} seeds, both nets) under 60 s | {wall:.1f} s wall "
        f"| {'met' if wall < 60 else 'NOT met'} |"
    )
    env = head["env"]
    rows += [
        "",
        f"Machine of the headline record: {env['platform']}, {env['cpu_count']} CPUs "
        f"(shared with other jobs), Python {env['python']}, numpy {env['numpy']}.",
    ]
    return "\n".join(rows)


def block_commands(results_dir: Path) -> str:
    lines = ["```bash"]
    for stem in RECORD_ORDER:
        rec = load_record(results_dir, stem)
        lines.append(f"{rec['command']} --json xor/results/{stem}.json")
    lines.append("```")
    return "\n".join(lines)


BLOCKS = {
    "paper": block_paper,
    "single": block_single,
    "sweeps": block_sweeps,
    "sensitivity": block_sensitivity,
    "tuning": block_tuning,
    "goals": block_goals,
    "commands": block_commands,
}


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Return readme_text with every <!-- results:NAME:start/end --> block regenerated.

    NAME must be one of BLOCKS (KeyError otherwise); UsageError when a record the block
    needs is missing. Rendering twice gives the same text.
    """
    pattern = re.compile(
        r"(<!-- results:(?P<name>[\w-]+):start -->\n)(?P<body>.*?)(<!-- results:(?P=name):end -->)",
        re.DOTALL,
    )

    def sub(match: re.Match) -> str:
        body = BLOCKS[match.group("name")](Path(results_dir))
        return f"{match.group(1)}{body}\n{match.group(4)}"

    return pattern.sub(sub, readme_text)


# ----------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------


def build_parser() -> xor.CleanParser:
    """Flags of visualize_xor.py (range-checked like xor.py's)."""
    ap = xor.CleanParser(prog="visualize_xor.py", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--seed",
        type=xor.int_in(0, 2**32 - 1),
        default=0,
        help="seed of the pictured runs (int, 0 <= seed <= 2^32-1; default 0)",
    )
    ap.add_argument(
        "--outdir", default=str(HERE / "viz"), help="folder for the PNGs (default xor/viz)"
    )
    ap.add_argument(
        "--results",
        default=str(HERE / "results"),
        help="folder of the result records (default xor/results)",
    )
    ap.add_argument(
        "--readme",
        action="store_true",
        help="only rewrite the generated blocks of the README from the records",
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run for CI: every figure, pictured runs capped at 200 sweeps",
    )
    ap.add_argument(
        "--readme-path",
        default=str(HERE / "README.md"),
        help="README to rewrite with --readme (default xor/README.md)",
    )
    return ap


def _main(argv: list[str] | None) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    results = Path(a.results)
    if not results.is_dir():
        ap.error(f"--results {a.results}: not a folder")
    if a.readme:
        readme = Path(a.readme_path)
        try:
            old = readme.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            ap.error(f"--readme-path {a.readme_path}: cannot read ({exc})")
        xor.check_output_path(readme, "--readme-path")
        new = render_readme(old, results)
        if new != old:
            xor.write_atomic(readme, new)
        print(f"visualize_xor: {'updated' if new != old else 'unchanged'} {readme}")
        return 0
    outdir = xor.check_output_path(a.outdir, "--outdir", folder=True)
    for stem in ("headline", "perturb_both", "mean_both", *[s for s, _ in SENSITIVITY_ROWS]):
        load_record(results, stem)  # every record the figures need, before any work
    cap = 200 if a.smoke else 10000
    if a.smoke:
        SAVE_DPI["dpi"], LAYOUT["layout"] = 30, None
    for p in make_figures(a.seed, outdir, results, cap):
        print(f"visualize_xor: wrote {p}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write the figures, or with --readme the README blocks (exit code)."""
    return xor.run_guarded("visualize_xor.py", _main, argv)


if __name__ == "__main__":
    code = main()
    # The work is done; interpreter teardown resets Python-level handlers to the default
    # action, so a late signal is ignored instead of killing the exit without a line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)
