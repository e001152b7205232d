#!/usr/bin/env python3
"""Figures for the XOR stub, and the README's generated result blocks.

    python3 xor/visualize_xor.py [--seed 0] [--outdir xor/viz]   # write viz/*.png
    python3 xor/visualize_xor.py --readme                         # rewrite README blocks

The figures retrain seed ``--seed`` of both networks with the default configuration
(training code imported from xor.py) and read the committed sweep records in
results/ for the epoch distribution. README blocks are rendered from results/*.json
only, by render_readme.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import xor  # noqa: E402

HERE = Path(__file__).resolve().parent

DPI = 110
ARCH_ORDER = ["2-2-1", "2-1-skip"]

# ----------------------------------------------------------------------------------------
# Training with history (the code lives in xor.py)
# ----------------------------------------------------------------------------------------


def run_with_history(arch: str, seed: int) -> xor.TrainResult:
    """Train one default-configuration network with per-sweep history (xor.train)."""
    return xor.train([seed], xor.Config(arch=arch), record_history=True)


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


# ----------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------


def draw_surface(ax, params: dict, title: str) -> None:
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
    ax.contour(xs, ys, Z, levels=[0.5], colors="k", linewidths=2)
    for (x1, x2), y in zip(xor.X, xor.Y[:, 0], strict=True):
        ax.scatter(
            x1,
            x2,
            s=160,
            c="white" if y == 0 else "black",
            edgecolors="k",
            linewidths=1.5,
            zorder=3,
        )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=10)
    return im


def fig_decision_surface(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, arch in zip(axes, ARCH_ORDER, strict=True):
        res = runs[arch]
        t = len(res.history["loss"]) - 1
        im = draw_surface(ax, params_at(res, t), f"{arch}, seed {seed}, after {t} sweeps")
    fig.colorbar(im, ax=axes, shrink=0.8, label="output o")
    fig.suptitle("Decision surface (black line: o = 0.5; filled dots: target 1)", fontsize=11)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_hidden_activations(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    labels = ["00", "01", "10", "11"]
    for ax, arch in zip(axes, ARCH_ORDER, strict=True):
        res = runs[arch]
        params = {k: v for k, v in res.params.items()}
        o, h = xor.forward(params)
        cols = [h[0, :, j] for j in range(h.shape[2])] + [o[0, :, 0]]
        names = [f"hidden {j + 1}" for j in range(h.shape[2])] + ["output"]
        M = np.array(cols)
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
                    fontsize=10,
                )
        ax.set_xticks(
            range(4), [f"{lab}\n(y={int(y)})" for lab, y in zip(labels, xor.Y[:, 0], strict=True)]
        )
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("input pattern $x_1x_2$")
        ax.set_title(f"{arch}, seed {seed}, at convergence", fontsize=10)
    fig.suptitle("Unit activities on the four patterns (dark = 1)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


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
        side = np.sqrt(abs(w) / max_w) * 0.9
        ax.add_patch(
            plt.Rectangle(
                (j - side / 2, i - side / 2), side, side, color="white" if w > 0 else "black"
            )
        )
        ax.text(
            j,
            i + 0.47,
            f"{w:+.1f}",
            ha="center",
            va="bottom",
            fontsize=7,
            color="0.1",
            bbox={"facecolor": "white", "alpha": 0.8, "pad": 1, "linewidth": 0},
        )
    ax.set_xlim(-0.5, M.shape[1] - 0.5)
    ax.set_ylim(M.shape[0] - 0.5, -0.5)
    ax.set_aspect("equal")


def fig_weights(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [5, 4]})
    mats = {a: weight_matrix(runs[a].params) for a in ARCH_ORDER}
    max_w = max(np.nanmax(np.abs(m[0])) for m in mats.values())
    for ax, arch in zip(axes, ARCH_ORDER, strict=True):
        M, rec, snd = mats[arch]
        hinton(ax, M, max_w)
        ax.set_xticks(range(len(snd)), [f"from {s}" for s in snd], fontsize=8)
        ax.set_yticks(range(len(rec)), [f"to {r}" for r in rec], fontsize=8)
        ax.set_title(f"{arch}, seed {seed}, at convergence", fontsize=10)
    fig.suptitle("Weights (white +, black -, area ~ |w|; light cells: no connection)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def draw_curves(axes, res: xor.TrainResult, upto: int | None = None) -> None:
    """Loss / accuracy / weight norm against sweeps on three axes, events marked."""
    h = res.history
    T = len(h["loss"])
    upto = T if upto is None else upto
    t = np.arange(upto)
    series = [
        (h["loss"][:upto, 0], "error E", True),
        (h["accuracy"][:upto, 0], "fraction of patterns within tol", False),
        (h["weight_norm"][:upto, 0], "weight L2 norm", False),
    ]
    for ax, (y, label, logy) in zip(axes, series, strict=True):
        ax.plot(t, y, color="C0", lw=1.5)
        if logy:
            ax.set_yscale("log")
        ax.set_ylabel(label, fontsize=9)
        ax.set_xlim(0, T)
        for i, pe in enumerate(res.perturb_epochs[0]):
            if pe < upto:
                ax.axvline(pe, color="C3", ls=":", lw=1.2, label="perturbation" if i == 0 else None)
        ce = int(res.converged_epoch[0])
        if 0 <= ce < upto + 1:
            ax.axvline(ce, color="C2", ls="--", lw=1.2, label=f"converged ({ce})")
    axes[-1].set_xlabel("sweep (epoch)")


def fig_training_curves(runs: dict, seed: int, path: Path) -> None:
    fig, axes = plt.subplots(3, 2, figsize=(10, 7), sharex="col")
    for col, arch in enumerate(ARCH_ORDER):
        draw_curves(axes[:, col], runs[arch])
        axes[0, col].set_title(f"{arch}, seed {seed}", fontsize=10)
        axes[0, col].legend(fontsize=8, loc="lower left")
    axes[1, 0].set_ylim(-0.05, 1.05)
    axes[1, 1].set_ylim(-0.05, 1.05)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def fig_epoch_distribution(results_dir: Path, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (name, label) in enumerate(SWEEP_ROWS):
        rec = load_record(results_dir, name)
        if rec["config"]["seeds"][0] != 0:
            continue
        ep = np.array([e for e in rec["metrics"]["converged_epoch_per_seed"] if e is not None])
        n = rec["metrics"]["n_runs"]
        xs = np.sort(ep)
        ys = np.arange(1, len(xs) + 1) / n
        ax.step(
            np.r_[1, xs],
            np.r_[0, ys],
            where="post",
            label=label,
            color=f"C{i}",
            ls="-" if rec["config"]["perturb"] else "--",
        )
    ax.axvline(xor.PAPER_SWEEPS, color="k", lw=1, ls=":", label="paper: 558 sweeps (one run)")
    ax.set_xscale("log")
    ax.set_xlim(50, 12000)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("sweeps to convergence")
    ax.set_ylabel("fraction of seeds converged")
    ax.set_title("Sweeps to converge, seeds 0-99 (cumulative)", fontsize=11)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def make_figures(seed: int, outdir: Path, results_dir: Path) -> list[Path]:
    """Write every viz/*.png for seed ``seed`` into outdir; returns the paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    runs = {arch: run_with_history(arch, seed) for arch in ARCH_ORDER}
    paths = []
    for name, fn in [
        ("decision_surface.png", fig_decision_surface),
        ("hidden_activations.png", fig_hidden_activations),
        ("weights_hinton.png", fig_weights),
        ("training_curves.png", fig_training_curves),
    ]:
        fn(runs, seed, outdir / name)
        paths.append(outdir / name)
    fig_epoch_distribution(results_dir, outdir / "epoch_distribution.png")
    paths.append(outdir / "epoch_distribution.png")
    return paths


# ----------------------------------------------------------------------------------------
# README blocks, rendered from results/*.json
# ----------------------------------------------------------------------------------------

#: (record file stem, row label) of the sweeps table, in order.
SWEEP_ROWS = [
    ("sweep_2-2-1_perturb", "2-2-1, perturb (default = headline)"),
    ("sweep_2-2-1_noperturb", "2-2-1, no perturb"),
    ("sweep_2-1-skip_perturb", "2-1-skip, perturb"),
    ("sweep_2-1-skip_noperturb", "2-1-skip, no perturb"),
    ("sweep_2-2-1_smallnoise", "2-2-1, small-noise perturb (shrink 1, scale 0.3)"),
    ("sweep_2-2-1_sum_noperturb", "2-2-1, paper's summed E, no perturb"),
    ("sweep_2-1-skip_sum_noperturb", "2-1-skip, paper's summed E, no perturb"),
    ("sweep_2-2-1_perturb_seed1000", "2-2-1, perturb, held-out seeds 1000-1099"),
]
SINGLE_ROWS = [("seed0", "2-2-1"), ("seed0_2-1-skip", "2-1-skip")]


def load_record(results_dir: Path, stem: str) -> dict:
    """results_dir/<stem>.json as a dict; FileNotFoundError names the missing record."""
    path = Path(results_dir) / f"{stem}.json"
    if not path.is_file():
        raise FileNotFoundError(f"missing record {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _num(v, digits: int = 0) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}"


def block_single(results_dir: Path) -> str:
    rows = [
        "| network | seed | converged at sweep | final outputs (00, 01, 10, 11) "
        "| perturbations (at sweep) | training time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for stem, arch in SINGLE_ROWS:
        rec = load_record(results_dir, stem)
        m = rec["metrics"]
        outs = ", ".join(f"{v:.3f}" for v in m["final_outputs"])
        conv = str(m["converged_epoch"]) if m["converged"] else f"not in {m['epochs_run']}"
        pe = ", ".join(str(v) for v in m["perturb_epochs"])
        rows.append(
            f"| {arch} | {rec['seed']} | {conv} | {outs} | {m['n_perturbations']}"
            f"{f' ({pe})' if pe else ''} | {m['train_time_s']:.3f} |"
        )
    return "\n".join(rows)


def failure_kinds(m: dict) -> str:
    """'a / b / c': failed runs with all 4, exactly 2, or another number of outputs
    within 0.05 of 0.5 (the flat all-0.5 region, the PDP Fig. 5 kind of minimum, other)."""
    near = list(m["failed_outputs_near_half"].values())
    four, two = near.count(4), near.count(2)
    return f"{four} / {two} / {len(near) - four - two}"


def block_sweeps(results_dir: Path) -> str:
    rows = [
        "| run | seeds | converged | median | mean | p90 | max | perturbed runs "
        "| failures: all 4 / 2 / other outputs at 0.5 | training time (s) | reproduces |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for stem, label in SWEEP_ROWS:
        rec = load_record(results_dir, stem)
        m = rec["metrics"]
        s0, s1 = rec["config"]["seeds"]
        rows.append(
            f"| {label} | {s0}-{s1} | **{m['n_converged']}/{m['n_runs']}** "
            f"| {_num(m['median_epochs'])} | {_num(m['mean_epochs'])} "
            f"| {_num(m['epoch_percentiles']['p90'])} | {_num(m['max_epochs_seen'])} "
            f"| {m['n_perturbed_runs']} | {failure_kinds(m)} "
            f"| {m['train_time_s']:.2f} | {rec['reproduces']} |"
        )
    return "\n".join(rows)


def block_goals(results_dir: Path) -> str:
    head = load_record(results_dir, "sweep_2-2-1_perturb")
    bare = load_record(results_dir, "sweep_2-2-1_noperturb")
    one = load_record(results_dir, "seed0")
    m, b = head["metrics"], bare["metrics"]
    n_ok, n = m["n_converged"], m["n_runs"]
    goal1 = "met" if n_ok >= xor.GOAL_CONVERGED_FRACTION * n else "NOT met"
    t1 = one["metrics"]["train_time_s"]
    t100 = m["train_time_s"]
    wall = head["wall_time_s"]
    failed = ", ".join(str(s) for s in b["failed_seeds"]) or "none"
    return "\n".join(
        [
            "| goal (issue 2) | measured | status |",
            "|---|---|---|",
            f"| `--sweep 100` with the defaults: >= 99/100 converge | {n_ok}/{n} "
            f"(bare rule: {b['n_converged']}/{b['n_runs']}; its failures: seeds {failed}) "
            f"| {goal1} |",
            f"| seed-0 run well under 1 s of training | {t1:.3f} s "
            f"| {'met' if t1 < 0.5 else 'NOT met'} |",
            f"| 100-seed sweep under 30 s | {t100:.2f} s of training, "
            f"{wall:.2f} s wall | {'met' if wall < 30 else 'NOT met'} |",
            "",
            f"Machine of these records: {head['env']['platform']}, "
            f"{head['env']['cpu_count']} CPUs (shared with other jobs while measured), "
            f"Python {head['env']['python']}, numpy {head['env']['numpy']}.",
        ]
    )


def block_paper(results_dir: Path) -> str:
    skip_sum = load_record(results_dir, "sweep_2-1-skip_sum_noperturb")["metrics"]
    skip = load_record(results_dir, "sweep_2-1-skip_noperturb")["metrics"]
    s221 = load_record(results_dir, "sweep_2-2-1_sum_noperturb")["metrics"]
    b221 = load_record(results_dir, "sweep_2-2-1_noperturb")["metrics"]
    head = load_record(results_dir, "sweep_2-2-1_perturb")["metrics"]
    return "\n".join(
        [
            "| quantity | paper (as we read it) | ours |",
            "|---|---|---|",
            "| sweeps to solve XOR, one-hidden-unit net with direct connections, "
            f"eta 0.5 on the summed E | 558 (one run reported) | median "
            f"{_num(skip_sum['median_epochs'])} (p25 {_num(skip_sum['epoch_percentiles']['p25'])}"
            f", p75 {_num(skip_sum['epoch_percentiles']['p75'])}) over "
            f"{skip_sum['n_converged']} converged seeds of {skip_sum['n_runs']} |",
            "| same net, our default mean E (4x smaller steps) | - | median "
            f"{_num(skip['median_epochs'])} over {skip['n_converged']} of {skip['n_runs']} |",
            "| runs stuck in a local minimum, bare rule | 2 of several hundred (2-2-1) | "
            f"2-2-1: {s221['n_failed']}/{s221['n_runs']} (summed E), "
            f"{b221['n_failed']}/{b221['n_runs']} (mean E) not converged in "
            "10000 sweeps |",
            f"| runs not converged with perturb-on-plateau (ours, not the paper's) | - | "
            f"{head['n_failed']}/{head['n_runs']} |",
        ]
    )


BLOCKS = {
    "single": block_single,
    "sweeps": block_sweeps,
    "goals": block_goals,
    "paper": block_paper,
}


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Return readme_text with every <!-- results:NAME:start/end --> block regenerated.

    NAME must be one of BLOCKS; raises KeyError for an unknown block and
    FileNotFoundError when a record the block needs is missing.
    """
    pattern = re.compile(
        r"(<!-- results:(?P<name>[\w-]+):start -->\n)(?P<body>.*?)(<!-- results:(?P=name):end -->)",
        re.DOTALL,
    )

    def sub(match: re.Match) -> str:
        body = BLOCKS[match.group("name")](Path(results_dir))
        return f"{match.group(1)}{body}\n{match.group(4)}"

    return pattern.sub(sub, readme_text)


def write_text_atomic(path: Path, text: str) -> None:
    """Write text via a temporary file in the same folder and os.replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; records are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = xor.CleanArgumentParser(prog="visualize_xor.py", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="seed of the pictured runs")
    ap.add_argument("--outdir", type=Path, default=HERE / "viz", help="folder for the PNGs")
    ap.add_argument("--results", type=Path, default=HERE / "results", help="records folder")
    ap.add_argument("--readme", action="store_true", help="only rewrite README.md's blocks")
    a = ap.parse_args(argv)
    if a.seed < 0:
        ap.error(f"--seed must be >= 0 (got {a.seed})")
    try:
        if a.readme:
            readme = HERE / "README.md"
            old = readme.read_text(encoding="utf-8")
            new = render_readme(old, a.results)
            write_text_atomic(readme, new)
            print(f"visualize_xor: {'updated' if new != old else 'unchanged'} {readme}")
            return 0
        for p in make_figures(a.seed, a.outdir, a.results):
            print(f"visualize_xor: wrote {p}")
    except (FileNotFoundError, OSError) as exc:
        print(f"visualize_xor.py: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
