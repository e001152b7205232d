"""Figures for ff-hybrid-mnist and the generated README blocks.

Static figures (viz/*.png) come from the committed result records (results/*.json),
which hold the training curves, goodness histograms, confusion matrix and a sample of
first-layer receptive fields; only the hybrid-example figure needs the MNIST files.

    python3 ff-hybrid-mnist/visualize_ff_hybrid_mnist.py            # figures into viz/
    python3 ff-hybrid-mnist/visualize_ff_hybrid_mnist.py --readme   # rewrite README blocks
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ff_hybrid_mnist as ff  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110


def load_record(results_dir: Path, name: str) -> dict | None:
    p = Path(results_dir) / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


#: FF runs shown in the README: the two presets, and the fast network trained with the
#: earlier recipe (Adam, mean goodness against 2.0, batch 500) as an ablation.
RUN_TAGS = ("fast", "fast_adam", "full")
ALL_TAGS = ("smoke", *RUN_TAGS)


def run_records(results_dir: Path):
    """Yield (tag, record) for the FF run records (RUN_TAGS) that exist."""
    for tag in RUN_TAGS:
        rec = load_record(results_dir, tag)
        if rec is not None:
            yield tag, rec


# ------------------------------------------------------------------ figures


def fig_hybrids(outdir: Path, seed: int, data_dir: Path) -> Path:
    data = ff.load_mnist(data_dir)
    rng = np.random.default_rng(seed)
    X = data["test_images"][:2000].astype(np.float32) / 255.0
    H, m, ia, ib = ff.make_hybrids(X, rng, 6)
    k = 6
    fig, ax = plt.subplots(4, k, figsize=(1.4 * k, 6.0))
    rows = [("digit a", X[ia]), ("digit b", X[ib]), ("mask m", m), ("hybrid m*a+(1-m)*b", H)]
    for r, (title, A) in enumerate(rows):
        for c in range(k):
            ax[r, c].imshow(A[c].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            ax[r, c].set_xticks([])
            ax[r, c].set_yticks([])
        ax[r, 0].set_ylabel(title, fontsize=8)
    fig.suptitle("Hybrid negatives: mask = random bits blurred 6x, thresholded at 0.5")
    fig.tight_layout()
    p = outdir / "hybrid_examples.png"
    fig.savefig(p, dpi=DPI)
    plt.close(fig)
    return p


def fig_goodness_hist(rec: dict, outdir: Path, tag: str) -> Path:
    hs = rec["figures_data"]["goodness_hist"]
    n = len(hs)
    fig, ax = plt.subplots(1, n, figsize=(3.2 * n, 2.8))
    thr = ff.layer_thresholds(rec["config"])
    kind = rec["config"]["goodness"]
    for i, h in enumerate(hs):
        e = np.array(h["edges"])
        ctr = (e[:-1] + e[1:]) / 2
        w = e[1] - e[0]
        ax[i].bar(ctr, h["pos"], width=w, alpha=0.6, label="test digits")
        ax[i].bar(ctr, h["neg"], width=w, alpha=0.6, label="hybrids")
        ax[i].axvline(thr[i], color="k", lw=0.8, ls="--")
        ax[i].set_title(f"layer {i + 1}")
        ax[i].set_xlabel(f"goodness ({kind} of h^2)")
    ax[0].legend(fontsize=7)
    fig.suptitle(f"Goodness of test digits vs hybrids ({tag} run; dashed = threshold)")
    fig.tight_layout()
    p = outdir / f"goodness_hist_{tag}.png"
    fig.savefig(p, dpi=DPI)
    plt.close(fig)
    return p


def fig_curves(recs: dict, outdir: Path) -> Path:
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    # colour = run, line style = layer (left) or train / held-out (right)
    styles = ["-", "--", "-.", ":"]
    for k, (tag, rec) in enumerate(recs.items()):
        colour = f"C{k}"
        ffh = rec["history"]["ff"]
        loss = np.array(ffh["loss"])
        for i in range(loss.shape[1]):
            ax[0].plot(
                ffh["epoch"],
                loss[:, i],
                color=colour,
                ls=styles[i % len(styles)],
                label=f"{tag} layer {i + 1}",
            )
        ro = rec["history"]["readout"]
        ax[1].plot(ro["epoch"], ro["train_err_pct"], color=colour, label=f"{tag} train")
        if ro["val_err_pct"]:
            ax[1].plot(
                ro["epoch"], ro["val_err_pct"], color=colour, ls="--", label=f"{tag} held-out"
            )
    ax[0].set_xlabel("FF epoch")
    ax[0].set_ylabel("per-layer FF loss (nats)")
    ax[0].set_yscale("log")  # sum goodness (fast, full) and mean goodness (full_adam) differ
    ax[0].set_title("FF loss per layer")
    ax[0].legend(fontsize=6, ncol=2)
    ax[1].set_xlabel("read-out epoch (FF network frozen)")
    ax[1].set_ylabel("error %")
    ax[1].set_yscale("log")
    ax[1].set_title("Linear softmax read-out error")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    p = outdir / "training_curves.png"
    fig.savefig(p, dpi=DPI)
    plt.close(fig)
    return p


def fig_receptive_fields(rec: dict, outdir: Path, tag: str) -> Path:
    rf = np.array(rec["figures_data"]["rf"])
    k = int(np.ceil(np.sqrt(len(rf))))
    fig, ax = plt.subplots(k, k, figsize=(1.2 * k, 1.2 * k))
    for i, a in enumerate(ax.flat):
        a.axis("off")
        if i < len(rf):
            v = np.max(np.abs(rf[i]))
            a.imshow(rf[i].reshape(28, 28), cmap="RdBu_r", vmin=-v, vmax=v)
    fig.suptitle(f"First-layer receptive fields (largest-norm units, {tag} run)", fontsize=9)
    fig.tight_layout()
    p = outdir / f"receptive_fields_{tag}.png"
    fig.savefig(p, dpi=DPI)
    plt.close(fig)
    return p


def fig_confusion(rec: dict, outdir: Path, tag: str) -> Path:
    C = np.array(rec["metrics"]["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    off = C.copy()
    np.fill_diagonal(off, 0)
    im = ax.imshow(off, cmap="Reds")
    for i in range(10):
        for j in range(10):
            if C[i, j] and i != j:
                ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=6)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Test errors by class ({tag} run; diagonal omitted)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    p = outdir / f"confusion_{tag}.png"
    fig.savefig(p, dpi=DPI)
    plt.close(fig)
    return p


# ------------------------------------------------------------------ README blocks


def _fmt(v, nd=2):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def block_results(results_dir: Path) -> str:
    rows = [
        "| run | layer sizes | FF epochs | batch | test error % | train error % | "
        "held-out error % | goal | met | FF train s | read-out s | wall s | examples/s | "
        "matmul GFLOP/s (machine) | matmul_fraction |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tag in ALL_TAGS:
        rec = load_record(results_dir, tag)
        if rec is None:
            continue
        c, m = rec["config"], rec["metrics"]
        sizes = "-".join(str(s) for s in c["layer_sizes"])
        goal = ("<= " if tag.startswith("full") else "< ") + _fmt(m["goal_test_error_pct"])
        met = "yes" if m["goal_met"] else "no"
        if c["epochs"] == 0:  # untrained-network control: no FF, so no goal
            goal, met = "control", "n/a"

        rows.append(
            f"| {tag} (seed {rec['seed']}) | {sizes} | {m['ff_epochs_completed']} | "
            f"{c['batch_size']} | "
            f"{_fmt(m['test_error_pct'])} | {_fmt(m['train_error_pct'])} | "
            f"{_fmt(m['holdout_error_pct'])} | {goal} | {met} | "
            f"{_fmt(m['ff_train_s'], 0)} | {_fmt(m['softmax_train_s'], 0)} | "
            f"{_fmt(rec['wall_time_s'], 0)} | {_fmt(m['examples_per_s'], 0)} | "
            f"{_fmt(m['achieved_gflops'], 1)} ({_fmt(m['machine_matmul_gflops'], 1)}) | "
            f"{_fmt(m['matmul_fraction'], 2)} |"
        )
    return "\n".join(rows)


def block_goodness(results_dir: Path) -> str:
    rows = [
        "| run | layer | goodness of test digits | goodness of hybrids | separation | "
        "digit-vs-hybrid accuracy at threshold |",
        "|---|---|---|---|---|---|",
    ]
    for tag, rec in run_records(results_dir):
        m = rec["metrics"]
        for i, s in enumerate(m["goodness_separation_per_layer"]):
            rows.append(
                f"| {tag} | {i + 1} | {_fmt(m['goodness_pos_mean_per_layer'][i], 3)} | "
                f"{_fmt(m['goodness_neg_mean_per_layer'][i], 3)} | {_fmt(s, 3)} | "
                f"{_fmt(m['goodness_threshold_accuracy_per_layer'][i], 3)} |"
            )
    return "\n".join(rows)


def block_comparison(results_dir: Path) -> str:
    rows = [
        "| | network | FF epochs | test error % |",
        "|---|---|---|---|",
        "| paper (Hinton 2022, section 3.2) | 784-2000-2000-2000-2000 | 100 | "
        f"{ff.PAPER_TEST_ERROR_PCT} |",
        "| reference v1 (earlier numpy reproduction) | 784-1000-1000-1000-1000 | 30 | "
        f"{ff.REFERENCE_V1_TEST_ERROR_PCT} |",
    ]
    for tag, rec in run_records(results_dir):
        c = rec["config"]
        sizes = "-".join(str(s) for s in c["layer_sizes"])
        rows.append(
            f"| ours, {tag} | {sizes} | {rec['metrics']['ff_epochs_completed']} | "
            f"{_fmt(rec['metrics']['test_error_pct'])} |"
        )
    return "\n".join(rows)


def block_env(results_dir: Path) -> str:
    lines = []
    for tag, rec in run_records(results_dir):
        e = rec["env"]
        lines.append(
            f"- {tag}: Python {e['python']}, numpy {e['numpy']}, {e['platform']}, "
            f"{e['cpu_count']} CPUs; reproduces = `{rec['reproduces']}`"
        )
    return "\n".join(lines)


def block_control(results_dir: Path) -> str:
    rows = [
        "| run | read-out held-out error %, untrained (random) network | "
        "read-out held-out error %, after FF | read-out train error %, random / FF |",
        "|---|---|---|---|",
    ]
    for tag, rec in run_records(results_dir):
        m = rec["metrics"]
        rows.append(
            f"| {tag} | {_fmt(m['random_features_holdout_error_pct'])} | "
            f"{_fmt(m['holdout_error_pct'])} | {_fmt(m['random_features_train_error_pct'])} / "
            f"{_fmt(m['train_error_pct'])} |"
        )
    return "\n".join(rows)


def block_speed(results_dir: Path) -> str:
    rows = [
        "| run | FF matmul work (TFLOP) | FF train s | examples/s | achieved GFLOP/s | "
        "machine matmul GFLOP/s: fastest / slowest of n samples | matmul_fraction |",
        "|---|---|---|---|---|---|---|",
    ]
    speed = load_record(results_dir, "full_speed")
    extra = [("full_speed", speed)] if speed is not None else []
    for tag, rec in [*run_records(results_dir), *extra]:
        m = rec["metrics"]
        rows.append(
            f"| {tag} | {_fmt(m['ff_matmul_tflop'], 2)} | {_fmt(m['ff_train_s'], 0)} | "
            f"{_fmt(m['examples_per_s'], 0)} | {_fmt(m['achieved_gflops'], 1)} | "
            f"{_fmt(m['machine_matmul_gflops'], 1)} / {_fmt(m['machine_matmul_gflops_min'], 1)}"
            f" (n = {m['matmul_benchmark_samples']}) | {_fmt(m['matmul_fraction'], 2)} |"
        )
    return "\n".join(rows)


BLOCKS = {
    "control": block_control,
    "speed": block_speed,
    "results": block_results,
    "goodness": block_goodness,
    "comparison": block_comparison,
    "env": block_env,
}


def render_readme(readme_text: str, results_dir: Path) -> str:
    """Replace every `<!-- results:NAME:start -->...<!-- results:NAME:end -->` block with
    markdown generated from results_dir/*.json. Returns the updated text."""

    def sub(mt):
        name = mt.group(1)
        if name not in BLOCKS:
            return mt.group(0)
        body = BLOCKS[name](Path(results_dir))
        return f"<!-- results:{name}:start -->\n{body}\n<!-- results:{name}:end -->"

    pat = re.compile(r"<!-- results:(\w+):start -->.*?<!-- results:\1:end -->", re.S)
    return pat.sub(sub, readme_text)


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="visualize_ff_hybrid_mnist.py")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outdir", type=str, default=str(HERE / "viz"))
    p.add_argument("--results", type=str, default=str(HERE / "results"))
    p.add_argument("--data-dir", type=str, default=str(ff.DEFAULT_DATA_DIR))
    p.add_argument("--readme", action="store_true", help="rewrite README blocks only")
    args = p.parse_args(argv)
    results = Path(args.results)
    if args.readme:
        readme = HERE / "README.md"
        write_atomic(readme, render_readme(readme.read_text(), results))
        print(f"updated {readme}")
        return 0
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    made = [fig_hybrids(outdir, args.seed, Path(args.data_dir))]
    recs = dict(run_records(results))
    if recs:
        made.append(fig_curves(recs, outdir))
    for tag, rec in recs.items():
        made += [
            fig_goodness_hist(rec, outdir, tag),
            fig_receptive_fields(rec, outdir, tag),
            fig_confusion(rec, outdir, tag),
        ]
    for m in made:
        print(f"wrote {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
