"""Figures for ff-hybrid-mnist and the generated README blocks.

Static figures (viz/*.png) come from the committed result records (results/*.json),
which hold the training curves, goodness histograms, confusion matrix and a sample of
first-layer receptive fields; only the hybrid-example figure needs the MNIST files.

    python3 ff-hybrid-mnist/visualize_ff_hybrid_mnist.py            # figures into viz/
    python3 ff-hybrid-mnist/visualize_ff_hybrid_mnist.py --readme   # rewrite README blocks
    python3 ff-hybrid-mnist/visualize_ff_hybrid_mnist.py --smoke --outdir /tmp/v  # tiny check
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sys
from pathlib import Path


def _early_signal_exit(signum, frame):  # until main() installs its own handlers
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    sys.stderr.write(f"visualize_ff_hybrid_mnist.py: {word}\n")
    os._exit(130 if signum == signal.SIGINT else 143)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _early_signal_exit)
    signal.signal(signal.SIGINT, _early_signal_exit)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import ff_hybrid_mnist as ff  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PROG = "visualize_ff_hybrid_mnist.py"
HERE = Path(__file__).resolve().parent
DPI = 110  # 7.5 in x 110 dpi = 825 px: the width of the site's text column
WIDTH = 7.5
plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "legend.fontsize": 9})
plt.rcParams.update({"xtick.labelsize": 9, "ytick.labelsize": 9, "axes.labelsize": 10})


def load_record(results_dir: Path, name: str) -> dict | None:
    """results_dir/<name>.json as a dict, or None if absent."""
    p = Path(results_dir) / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


#: FF runs shown in the README: record file -> label. full.json is the catalog's headline
#: (the full preset on all 60,000 images, two seeds); full_seed2.json and full_seed3.json
#: more seeds of the same preset, each run on its own; full_55k_seed0.json the earlier
#: 100-epoch run on 55,000 images with 5,000 held out; headline.json the fast preset (written by
#: tools/run_all.py); fast_seeds.json the fast preset over seeds 0-2 (one BLAS thread each);
#: fast_adam.json the fast network with the first recipe; full_batch200_seed3.json the full
#: preset's seed 3 again with 200 positives per step (FULL_BATCH).
FULL_B200 = "full_batch200_seed3"
RUNS = {
    "full": "full",
    "full_seed2": "full_seed2",
    "full_seed3": "full_seed3",
    FULL_B200: FULL_B200,
    "full_55k_seed0": "full_55k",
    "headline": "fast",
    "fast_seeds": "fast_seeds",
    "fast_adam": "fast_adam",
}
#: Held-out ablations at fast scale, in the order they ran; each row's settings are read
#: from its record's config.
ABLATIONS = [
    "ablation_peer_on_blur6",
    "ablation_peer_off_blur6",
    "ablation_peer_on_blur10",
    "ablation_peer_off_blur10",
    "ablation_epochs4",
    "ablation_epochs5",
    "ablation_epochs6",
    "ablation_epochs5_lr001",
    "ablation_epochs5_wc002",
    "ablation_epochs5_wc008",
    "ablation_epochs6_rerun",
    "ablation_epochs6_batch200",
    "ablation_epochs6_batch200_lr001",
]
#: The batch-size ablations and the 6-epoch run they are compared with, all made on one
#: machine in one sitting, so their training times can be compared.
BATCH_ABLATIONS = [
    "ablation_epochs6_rerun",
    "ablation_epochs6_batch200",
    "ablation_epochs6_batch200_lr001",
]


def ablation_settings(rec: dict) -> tuple[str, int, int, float, float, int]:
    """(peer normalisation "on"/"off", mask blurs, FF epochs, FF rate, weight cost,
    positives per step)."""
    c = rec["config"]
    peer = "on" if c.get("peer_norm") else "off"
    return (peer, c["n_blur"], c["epochs"], c["lr"], c.get("weight_cost") or 0.0, c["batch_size"])


def run_records(results_dir: Path):
    """Yield (label, record) for the FF run records (RUNS) that exist."""
    for name, label in RUNS.items():
        rec = load_record(results_dir, name)
        if rec is not None:
            yield label, rec


def timing(rec: dict) -> dict:
    """A record's machine-dependent figures (records before the timing object kept them
    in metrics); for a sweep, the first seed's."""
    t = rec.get("timing") or rec["metrics"]
    return t["per_seed"][0] if "per_seed" in t else t


# ------------------------------------------------------------------ figures


def save(fig, path: Path) -> Path:
    """savefig through the folder's atomic write."""
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    plt.close(fig)
    ff.write_atomic(path, buf.getvalue())
    return path


def fig_hybrids(outdir: Path, seed: int, data_dir: Path, n: int = 2000) -> Path:
    data = ff.load_mnist(data_dir)
    rng = np.random.default_rng(seed)
    X = data["test_images"][:n].astype(np.float32) / 255.0
    H, m, ia, ib = ff.make_hybrids(X, rng, 6)
    m10 = ff.make_masks(np.random.default_rng(seed + 1), 6, n_blur=10)
    k = 6
    fig, ax = plt.subplots(5, k, figsize=(WIDTH, 6.6))
    rows = [
        ("digit a", X[ia]),
        ("digit b", X[ib]),
        ("mask m", m),
        ("hybrid", H),
        ("mask, 10 blurs", m10),
    ]
    for r, (title, A) in enumerate(rows):
        for c in range(k):
            ax[r, c].imshow(A[c].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            ax[r, c].set_xticks([])
            ax[r, c].set_yticks([])
        ax[r, 0].set_ylabel(title)
    fig.suptitle("Hybrid negatives: mask = random bits blurred 6 times, thresholded at 0.5")
    fig.tight_layout()
    return save(fig, outdir / "hybrid_examples.png")


def fig_goodness_hist(rec: dict, outdir: Path, tag: str) -> Path:
    hs = rec["figures_data"]["goodness_hist"]
    n = len(hs)
    cols = 2
    rows = int(np.ceil(n / cols))
    fig, axs = plt.subplots(rows, cols, figsize=(WIDTH, 2.4 * rows + 0.6))
    thr = ff.layer_thresholds(rec["config"])
    kind = rec["config"]["goodness"]
    for i, ax in enumerate(axs.flat):
        if i >= n:
            ax.axis("off")
            continue
        h = hs[i]
        e = np.array(h["edges"])
        ctr = (e[:-1] + e[1:]) / 2
        w = e[1] - e[0]
        ax.bar(ctr, h["pos"], width=w, alpha=0.6, label="test digits")
        ax.bar(ctr, h["neg"], width=w, alpha=0.6, label="hybrids")
        ax.axvline(thr[i], color="k", lw=0.8, ls="--")
        ax.set_title(f"layer {i + 1}")
        ax.set_xlabel(f"goodness ({kind} of squared activities)")
        ax.set_ylabel("images")
    axs.flat[0].legend()
    fig.suptitle(f"Goodness of test digits vs hybrids ({tag} run; dashed = threshold)")
    fig.tight_layout()
    return save(fig, outdir / f"goodness_hist_{tag}.png")


def fig_curves(recs: dict, outdir: Path) -> list[Path]:
    out = []
    fig, ax = plt.subplots(figsize=(WIDTH, 4.8))
    styles = ["-", "--", "-.", ":"]
    for k, (tag, rec) in enumerate(recs.items()):
        ffh = rec["history"]["ff"]
        loss = np.array(ffh["loss"])
        for i in range(loss.shape[1]):
            ax.plot(
                ffh["epoch"], loss[:, i], color=f"C{k}", ls=styles[i % 4], label=f"{tag} L{i + 1}"
            )
    ax.set_xlabel("FF epoch")
    ax.set_ylabel("per-layer FF loss (nats)")
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_title("FF loss per layer (colour = run, line style = layer)")
    ax.legend(ncol=4, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.tight_layout()
    out.append(save(fig, outdir / "training_curves.png"))
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    for k, (tag, rec) in enumerate(recs.items()):
        ro = rec["history"]["readout"]
        ax.plot(ro["epoch"], ro["train_err_pct"], color=f"C{k}", label=f"{tag} train")
        if ro["val_err_pct"]:
            ax.plot(ro["epoch"], ro["val_err_pct"], color=f"C{k}", ls="--", label=f"{tag} held-out")
    ax.set_xlabel("read-out epoch (FF network frozen)")
    ax.set_ylabel("error %")
    ax.set_yscale("log")
    ax.set_title("Linear softmax read-out error")
    ax.legend(ncol=2)
    fig.tight_layout()
    out.append(save(fig, outdir / "readout_curves.png"))
    return out


def fig_receptive_fields(rec: dict, outdir: Path, tag: str) -> Path:
    rf = np.array(rec["figures_data"]["rf"])
    k = int(np.ceil(np.sqrt(len(rf))))
    fig, axs = plt.subplots(k, k, figsize=(WIDTH * 0.8, WIDTH * 0.8))
    v = float(np.max(np.abs(rf))) or 1.0
    im = None
    for i, a in enumerate(axs.flat):
        a.axis("off")
        if i < len(rf):
            im = a.imshow(rf[i].reshape(28, 28), cmap="RdBu_r", vmin=-v, vmax=v)
    fig.suptitle(f"First-layer weights of the 25 largest-norm units ({tag} run)")
    fig.subplots_adjust(left=0.02, right=0.80, top=0.92, bottom=0.03)
    cax = fig.add_axes([0.83, 0.1, 0.03, 0.76])
    fig.colorbar(im, cax=cax, label="weight (one scale)")
    return save(fig, outdir / f"receptive_fields_{tag}.png")


def fig_confusion(rec: dict, outdir: Path, tag: str) -> Path:
    C = np.array(rec["metrics"]["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, WIDTH * 0.65))
    off = C.copy()
    np.fill_diagonal(off, 0)
    im = ax.imshow(off, cmap="Reds")
    for i in range(10):
        for j in range(10):
            if C[i, j] and i != j:
                ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Test errors by class ({tag} run; diagonal omitted)")
    fig.colorbar(im, ax=ax, fraction=0.046, label="test digits")
    fig.tight_layout()
    return save(fig, outdir / f"confusion_{tag}.png")


def fig_ablation(results_dir: Path, outdir: Path) -> Path | None:
    rows = [load_record(results_dir, k) for k in ABLATIONS]
    rows = [r for r in rows if r is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH, 1.2 + 0.4 * len(rows)))
    for y, rec in enumerate(rows):
        m = rec["metrics"]
        vals = m.get("holdout_error_pct_per_seed", [m["holdout_error_pct"]])
        ax.plot(vals, [y] * len(vals), "o", color="C0", alpha=0.7)
        ax.plot([np.mean(vals)], [y], "|", color="k", ms=18, mew=2)
    ax.set_yticks(range(len(rows)))
    labels = []
    for rec in rows:
        p, b, e, lr, wc, bs = ablation_settings(rec)
        labels.append(f"peer {p}, {b} blurs, {e} ep, lr {lr:g}, wc {wc:g}, B {bs}")
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel("held-out error % on 5,000 images (dots: seeds, bar: mean)")
    ax.set_title("Fast-scale ablations, 784-1000x4 on 55,000 images", loc="right")
    fig.tight_layout()
    return save(fig, outdir / "ablation_holdout.png")


# ------------------------------------------------------------------ README blocks


def _fmt(v, nd=2):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _err(m: dict, key: str) -> str:
    """'mean (sample std s, n seeds)' for a sweep, the single value otherwise."""
    per = m.get(key + "_per_seed")
    if per is None:
        return _fmt(m.get(key))
    return f"{_fmt(m[key])} (sample std {_fmt(m[key + '_sample_std'])}, {len(per)} seeds)"


def _images(c: dict) -> str:
    n = f"{c['n_train']:,}"
    return n + (f" + {c['n_holdout']:,} held out" if c["n_holdout"] else "")


def _net(c: dict) -> str:
    """'784-2000x4' from a record's config."""
    return "784-" + "x".join([str(c["layer_sizes"][1]), str(len(c["layer_sizes"]) - 1)])


def _epochs(m: dict) -> str:
    """FF epochs completed: each seed's for a sweep, comma-separated."""
    per = m.get("ff_epochs_completed_per_seed", [m["ff_epochs_completed"]])
    return ", ".join(str(e) for e in per)


def block_results(results_dir: Path) -> str:
    rows = [
        "| run | network | training images | FF epochs | test error % | held-out error % | "
        "verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for tag, rec in run_records(results_dir):
        c, m = rec["config"], rec["metrics"]
        sizes = _net(c)
        epochs = _epochs(m)
        rows.append(
            f"| {tag} | {sizes} | {_images(c)} | {epochs} | {_err(m, 'test_error_pct')} | "
            f"{_err(m, 'holdout_error_pct')} | {ff.verdict(None, m['test_error_pct'], c)} |"
        )
    return "\n".join(rows)


def block_speed(results_dir: Path) -> str:
    rows = [
        "| run | FF train s | matmuls alone, s | examples/s | achieved GFLOP/s | "
        "machine GFLOP/s, best / worst sample | matmul_fraction |",
        "|---|---|---|---|---|---|---|",
    ]
    recs = list(run_records(results_dir))
    bp = load_record(results_dir, "backprop_full")
    for tag, rec in recs + ([("backprop", bp)] if bp else []):
        t, m = timing(rec), rec["metrics"]
        train_s = t.get("ff_train_s", t.get("train_s"))
        tflop = m.get("ff_matmul_tflop", m.get("matmul_tflop"))
        alone = None if tflop is None else 1e3 * tflop / t["machine_matmul_gflops"]
        rows.append(
            f"| {tag} | {_fmt(train_s, 0)} | {_fmt(alone, 0)} | {_fmt(t['examples_per_s'], 0)} | "
            f"{_fmt(t['achieved_gflops'], 1)} | {_fmt(t['machine_matmul_gflops'], 1)} / "
            f"{_fmt(t['machine_matmul_gflops_min'], 1)} | {_fmt(t['matmul_fraction'], 2)} |"
        )
    return "\n".join(rows)


def block_speedbench(results_dir: Path) -> str:
    rec = load_record(results_dir, "speed_bench")
    if rec is None:
        return "Not run yet: `python3 tools/bench_ff_speed.py --json ...`."
    rows = [
        "| pass | new ms | plain ms | speed-up, median (range) |",
        "|---|---|---|---|",
    ]
    for c in rec["cases"].values():
        rows.append(
            f"| {c['what']} | {_fmt(1e3 * c['new_median_s'], 2)} | "
            f"{_fmt(1e3 * c['plain_median_s'], 2)} | x{_fmt(c['speedup_median'], 2)} "
            f"({_fmt(c['speedup_min'], 2)}-{_fmt(c['speedup_max'], 2)}) |"
        )
    rows += [
        "",
        f"Medians of {rec['reps']} alternating pairs, {rec['elementwise_threads']} "
        f"element-wise thread(s), BLAS threads {rec['blas_threads']}, {rec['machine']}. "
        f"The same run's train_ff, one epoch of "
        f"{next(iter(rec['train_ff_loop'].values()))['steps']} steps on random images:",
        "",
        "| network | positives per step | ms per step | achieved GFLOP/s | benchmark GFLOP/s "
        "| matmul_fraction | its matmuls alone: ms per step, fraction |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rec["train_ff_loop"].values():
        alone = (
            f"{_fmt(r['matmuls_alone_ms_per_step'], 1)}, {_fmt(r['matmuls_alone_fraction'], 2)}"
            if "matmuls_alone_fraction" in r
            else "not measured"
        )
        rows.append(
            f"| {'-'.join(map(str, r['layer_sizes'][:2]))}x{len(r['layer_sizes']) - 1} | "
            f"{r.get('batch_size', 100)} | "
            f"{_fmt(r['ms_per_step'], 1)} | {_fmt(r['achieved_gflops'], 1)} | "
            f"{_fmt(r['benchmark_gflops'], 1)} | {_fmt(r['matmul_fraction'], 2)} | {alone} |"
        )
    full = next(
        (
            r
            for r in rec["train_ff_loop"].values()
            if r["layer_sizes"][1] == 2000 and r.get("batch_size", 100) == 100
        ),
        None,
    )
    sgd = rec.get("sgd_step_2000x2000_s")
    if full and sgd:
        pair_ms = 2 * 2 * 200 * 2000 * 2000 / full["benchmark_gflops"] / 1e6
        rows += [
            "",
            f"One 2000 x 2000 layer's optimiser step took {_fmt(1e3 * sgd, 1)} "
            f"ms; the same layer's two matmuls (forward and weight gradient, 200 rows) take "
            f"{_fmt(pair_ms, 1)} ms at the benchmark speed.",
        ]
    fu = rec.get("fused_blas_update") or {}
    if fu.get("available"):
        rows += [
            "",
            "The same network's update fused into BLAS calls (measured here, not used by the "
            f"catalog), {fu['steps']} steps each, alternating:",
            "",
            "| update | ms per step | matmul_fraction |",
            "|---|---|---|",
            f"| numpy (train_ff's) | {_fmt(fu['numpy_ms_per_step'], 1)} | "
            f"{_fmt(fu['numpy_matmul_fraction'], 2)} |",
            f"| fused: sgemm with beta = momentum, two saxpy | {_fmt(fu['fused_ms_per_step'], 1)} "
            f"| {_fmt(fu['fused_matmul_fraction'], 2)} |",
            "",
            f"After one step from the same start the two differ by "
            f"{fu['first_step_difference']:.1e} of the largest weight change (rounding).",
        ]
    ck = rec.get("cpu_kernels") or {}
    if ck.get("available"):
        rows += [
            "",
            "The CPU kernels: train_ff as above, with the AVX2 kernels every run pins and "
            f"with this AVX-512 CPU's own, each in a fresh process, {ck['reps']} alternating "
            "pairs:",
            "",
            "| network | pinned AVX2, ms per step | CPU's own, ms per step | own / pinned, "
            "median of pairs | benchmark GFLOP/s, pinned / own |",
            "|---|---|---|---|---|",
        ]
        for net in ("784-1000x4", "784-2000x4"):
            k = ck[net]
            rows.append(
                f"| {net} | {_fmt(k['pinned_ms_per_step'], 1)} | {_fmt(k['own_ms_per_step'], 1)} "
                f"| x{_fmt(k['own_over_pinned_median'], 2)} | "
                f"{_fmt(k['pinned_benchmark_gflops'], 1)} / {_fmt(k['own_benchmark_gflops'], 1)} |"
            )
    return "\n".join(rows)


def record_table(results_dir: Path, header: list[str], names: list[str], row) -> str:
    """A markdown table with one row per record name: row(name, record) gives the cells;
    an absent record gives a "not run" row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        rec = load_record(results_dir, name)
        cells = row(name, rec) if rec is not None else [name, "not run"]
        cells += [""] * (len(header) - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The full preset's seed 3 with 100 and with 200 positives per step, run one after the
#: other on the same machine with the same pinned kernels, so their times compare.
FULL_BATCH = ["full_seed3", FULL_B200]


def _fullbatch_row(name: str, rec: dict) -> list[str]:
    c, m, t = rec["config"], rec["metrics"], timing(rec)
    return [
        f"[{name}](results/{name}.json)",
        str(c["batch_size"]),
        _epochs(m),
        _err(m, "test_error_pct"),
        _fmt(t["ff_train_s"], 0),
        _fmt(rec["wall_time_s"], 0),
        _fmt(t["machine_matmul_gflops"], 1),
        _fmt(t["matmul_fraction"], 2),
    ]


def block_fullbatch(results_dir: Path) -> str:
    """The full preset's seed 3 at 100 and 200 positives per step, side by side."""
    if all(load_record(results_dir, n) is None for n in FULL_BATCH):
        return "Not run yet."
    header = ["record", "positives per step", "FF epochs", "test error %", "FF train s"]
    header += ["run wall s", "machine GFLOP/s, best sample", "matmul_fraction"]
    return record_table(results_dir, header, FULL_BATCH, _fullbatch_row)


def _ablation_row(name: str, rec: dict) -> list[str]:
    peer, blur, epochs, lr, wc, bs = ablation_settings(rec)
    m = rec["metrics"]
    per = m.get("holdout_error_pct_per_seed", [m["holdout_error_pct"]])
    seeds = ", ".join(str(s) for s in rec.get("seeds", [rec["seed"]]))
    return [
        peer,
        str(blur),
        str(epochs),
        f"{lr:g}",
        f"{wc:g}",
        str(bs),
        f"{', '.join(_fmt(v) for v in per)} (seeds {seeds})",
        _fmt(m["holdout_error_pct"], 3),
        _fmt(m.get("holdout_error_pct_sample_std"), 3),
    ]


def block_ablation(results_dir: Path) -> str:
    header = ["peer normalisation", "mask blurs", "FF epochs", "FF rate", "weight cost"]
    header += ["positives per step"]
    header += ["held-out error % per seed", "mean", "sample std"]
    return record_table(results_dir, header, ABLATIONS, _ablation_row)


def block_batch(results_dir: Path) -> str:
    """The batch-size ablations side by side: held-out mean and the first seed's FF time."""
    rows = [
        "| record | positives per step | FF rate | seeds | held-out error %, mean (sample "
        "std) | FF train s, first seed | matmul_fraction, first seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in BATCH_ABLATIONS:
        rec = load_record(results_dir, name)
        if rec is None:
            continue
        c, m, t = rec["config"], rec["metrics"], timing(rec)
        rows.append(
            f"| [{name}](results/{name}.json) | {c['batch_size']} | {c['lr']:g} | "
            f"{rec.get('n_seeds', 1)} | "
            f"{_fmt(m['holdout_error_pct'], 3)} ({_fmt(m.get('holdout_error_pct_sample_std'), 3)})"
            f" | {_fmt(t['ff_train_s'], 0)} | "
            f"{_fmt(t['matmul_fraction'], 2)} |"
        )
    return "\n".join(rows) if len(rows) > 2 else "Not run yet."


#: Untrained-network controls run on their own (--epochs 0): control record -> the FF run
#: record it is the control of (same preset and seed, so the same initial network).
CONTROLS = {"fast_control": "headline"}


def block_control(results_dir: Path) -> str:
    rows = [
        "| run | untrained network, held-out / test error % | after FF, held-out / test error % |",
        "|---|---|---|",
    ]
    labels = dict(RUNS)
    for tag, rec in run_records(results_dir):
        m = rec["metrics"]
        if m.get("random_features_train_error_pct") is None:
            continue
        rows.append(
            f"| {tag} | {_fmt(m['random_features_holdout_error_pct'])} / "
            f"{_fmt(m.get('random_features_test_error_pct'))} | "
            f"{_fmt(m['holdout_error_pct'])} / {_fmt(m['test_error_pct'])} |"
        )
    for name, run_name in CONTROLS.items():
        ctl, rec = load_record(results_dir, name), load_record(results_dir, run_name)
        if ctl is None or rec is None:
            continue
        mc, m = ctl["metrics"], rec["metrics"]
        rows.append(
            f"| {labels[run_name]} (control: `{name}`) | {_fmt(mc['holdout_error_pct'])} / "
            f"{_fmt(mc['test_error_pct'])} | "
            f"{_fmt(m['holdout_error_pct'])} / {_fmt(m['test_error_pct'])} |"
        )
    return "\n".join(rows)


#: The fast preset's seed 0 run with different CPU kernels: the catalog's headline (the
#: AVX2 kernels that every run pins), the same run at an earlier commit on an AVX2-only
#: machine, and the same run with an AVX-512 machine's own kernels (the pin switched off
#: with empty OPENBLAS_CORETYPE and NPY_DISABLE_CPU_FEATURES).
KERNEL_RUNS = ["headline", "fast_kernel_avx2", "fast_kernel_avx512"]


def _numbers(obj, key: str = ""):
    """obj without its machine-dependent parts (times, speeds, env, provenance)."""
    if isinstance(obj, dict):
        return {
            k: _numbers(v, k)
            for k, v in obj.items()
            if k not in ("env", "provenance", "timing")
            and not k.endswith(("_s", "_samples"))
            and "gflops" not in k
        }
    if isinstance(obj, list):
        return [_numbers(v, key) for v in obj]
    return obj


def same_numbers(a: dict, b: dict) -> bool:
    """Whether two records hold the same config, metrics and training history, every
    float equal to the bit (times and machine speeds aside)."""
    return all(_numbers(a.get(k)) == _numbers(b.get(k)) for k in ("config", "metrics", "history"))


def block_kernels(results_dir: Path) -> str:
    recs = [(n, load_record(results_dir, n)) for n in KERNEL_RUNS]
    recs = [(n, r) for n, r in recs if r is not None]
    if not recs:
        return "Not run yet."
    ref = recs[0][1]
    rows = [
        "| record | machine | CPU has AVX-512 | OpenBLAS kernel | numpy AVX-512 paths | "
        "commit | FF train s | test error % | every number equal to the headline's |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rec in recs:
        e, prov = rec["env"], rec.get("provenance", {})
        avx512 = {True: "yes", False: "no"}.get(e.get("cpu_has_avx512f"), "not recorded")
        numpy512 = "off" if "X86_V4" in e.get("npy_disable_cpu_features", "") else "on if present"
        rows.append(
            f"| [{name}](results/{name}.json) | {prov.get('machine', 'n/a')} | {avx512} | "
            f"{e.get('openblas_coretype', 'auto')} | {numpy512} | {prov.get('commit', 'n/a')} | "
            f"{_fmt(timing(rec).get('ff_train_s'), 0)} | "
            f"{_fmt(rec['metrics']['test_error_pct'])} | "
            f"{'(itself)' if rec is ref else ('yes' if same_numbers(rec, ref) else 'no')} |"
        )
    return "\n".join(rows)


def block_backprop(results_dir: Path) -> str:
    rows = [
        "| learner | network | training images | epochs | test error % | train s | examples/s |",
        "|---|---|---|---|---|---|---|",
    ]
    full = load_record(results_dir, "full")
    bp = load_record(results_dir, "backprop_full")
    for name, rec in (("FF (full, seed 0)", full), ("backprop", bp)):
        if rec is None:
            rows.append(f"| {name} | not run | | | | | |")
            continue
        c, m, t = rec["config"], rec["metrics"], timing(rec)
        sizes = _net(c)
        if rec.get("learner") == "backprop":
            sizes += "-10"
        ep = m.get("ff_epochs_completed_per_seed", [m.get("ff_epochs_completed")])[0]
        if ep is None:
            ep = m.get("epochs_completed")
        err = m.get("test_error_pct_per_seed", [m["test_error_pct"]])[0]
        train_s = t.get("ff_train_s", t.get("train_s"))
        rows.append(
            f"| {name} | {sizes} | {_images(c)} | {ep} | {_fmt(err)} | "
            f"{_fmt(train_s, 0)} | {_fmt(t['examples_per_s'], 0)} |"
        )
    return "\n".join(rows)


#: Held-out runs of the backprop reference (55,000 training images, the last 5,000 held
#: out), one weight cost each.
BP_HOLDOUT = ["backprop_holdout_wc0", "backprop_holdout_wc2e-4"]


def _bpchoice_row(name: str, rec: dict) -> list[str]:
    c, m = rec["config"], rec["metrics"]
    return [
        f"{c.get('weight_cost') or 0:g}",
        str(c["epochs"]),
        _fmt(m["holdout_error_pct"]),
        f"{rec['history']['backprop']['loss'][-1]:.1e}",
        f"[{name}](results/{name}.json)",
    ]


def block_bpchoice(results_dir: Path) -> str:
    header = ["weight cost", "epochs", "held-out error %", "training loss, last epoch (nats)"]
    return record_table(results_dir, [*header, "record"], BP_HOLDOUT, _bpchoice_row)


def block_goodness(results_dir: Path) -> str:
    rows = [
        "| run | layer | test digits | hybrids | separation | accuracy at threshold |",
        "|---|---|---|---|---|---|",
    ]
    for tag, rec in run_records(results_dir):
        m = rec["metrics"]
        for i, s in enumerate(m["goodness_separation_per_layer"]):
            rows.append(
                f"| {tag} | {i + 1} | {_fmt(m['goodness_pos_mean_per_layer'][i], 1)} | "
                f"{_fmt(m['goodness_neg_mean_per_layer'][i], 1)} | {_fmt(s, 1)} | "
                f"{_fmt(m['goodness_threshold_accuracy_per_layer'][i], 3)} |"
            )
    return "\n".join(rows)


def block_comparison(results_dir: Path) -> str:
    rows = [
        "| | network | training images | FF epochs | test error % |",
        "|---|---|---|---|---|",
        "| paper (Hinton 2022, section 3.2) | 784-2000x4 | 60,000 | 100 | "
        f"{ff.PAPER_TEST_ERROR_PCT} |",
        "| reference v1 (earlier numpy reproduction) | 784-1000x4 | not recorded | 30 | "
        f"{ff.REFERENCE_V1_TEST_ERROR_PCT} |",
    ]
    for tag, rec in run_records(results_dir):
        c, m = rec["config"], rec["metrics"]
        sizes = _net(c)
        epochs = _epochs(m)
        rows.append(
            f"| ours, {tag} | {sizes} | {c['n_train']:,} | {epochs} | {_err(m, 'test_error_pct')} |"
        )
    return "\n".join(rows)


def block_env(results_dir: Path) -> str:
    lines = []
    for tag, rec in run_records(results_dir):
        e = rec["env"]
        prov = rec.get("provenance", {})
        extra = f", commit {prov['commit']}" if prov.get("commit") else ""
        lines.append(
            f"- {tag}: Python {e['python']}, numpy {e['numpy']}, {e['cpu_count']} CPUs{extra}"
        )
    return "\n".join(lines)


def full_preset_seeds(results_dir: Path) -> list[tuple[int, float, int]]:
    """(seed, test error %, FF epochs) of every committed full-preset seed: full.json's
    seeds, then each full_seed<k>.json whose config equals full.json's but for the seed.
    Empty when full.json is absent."""
    full = load_record(results_dir, "full")
    if full is None:
        return []
    m, c0 = full["metrics"], full["config"]
    n = full.get("n_seeds", 1)
    errs = m.get("test_error_pct_per_seed", [m["test_error_pct"]])
    eps = m.get("ff_epochs_completed_per_seed", [m["ff_epochs_completed"]])
    out = [(c0["seed"] + i, errs[i], eps[i]) for i in range(n)]
    same = {k: v for k, v in c0.items() if k != "seed"}
    for p in sorted(Path(results_dir).glob("full_seed*.json")):
        rec = load_record(results_dir, p.stem)
        c, mk = rec["config"], rec["metrics"]
        if {k: v for k, v in c.items() if k != "seed"} == same and rec.get("n_seeds", 1) == 1:
            out.append((c["seed"], mk["test_error_pct"], mk["ff_epochs_completed"]))
    return sorted(out)


def block_bound(results_dir: Path) -> str:
    """What the per-seed time goal asks of matmul_fraction, for each full-preset record.

    A run of n seeds side by side (one core each) takes about (FF matmul flops / best
    benchmark) / matmul_fraction, and its time per seed is that over n; so the goal of
    2700 s per seed needs matmul_fraction >= matmuls-alone / (2700 n)."""
    lines = []
    names = ["full"] + sorted(p.stem for p in Path(results_dir).glob("full_seed*.json"))
    for name in names + [FULL_B200]:
        rec = load_record(results_dir, name)
        if rec is None:
            continue
        t, m, n = timing(rec), rec["metrics"], rec.get("n_seeds", 1)
        alone = 1e3 * m["ff_matmul_tflop"] / t["machine_matmul_gflops"]
        need = alone / (2700 * n)
        verdict = (
            "out of reach on that machine at any fraction"
            if need > 1
            else f"it reached {_fmt(t['matmul_fraction'], 2)}"
        )
        where = "one core each" if n > 1 else "both cores"
        lines.append(
            f"- `{name}` ({n} seed{'s' if n > 1 else ''} on {where}): the FF matmuls of "
            f"{'one seed' if n > 1 else 'the seed'} alone take {_fmt(alone, 0)} s at the "
            f"run's best benchmark sample, so 2,700 s per seed needs matmul_fraction >= "
            f"{_fmt(need, 2)}; {verdict}."
        )
    return "\n".join(lines) if lines else "No full-preset record yet."


def block_goals(results_dir: Path) -> str:
    """The targets set for this problem next to what the committed records measured."""
    rows = ["| goal | target | measured | met |", "|---|---|---|---|"]
    full = load_record(results_dir, "full")
    fast = load_record(results_dir, "headline")

    def row(goal, target, value, met, unit=""):
        shown = "not run" if value is None else f"{_fmt(value)}{unit}"
        rows.append(f"| {goal} | {target} | {shown} | {'yes' if met else 'no'} |")

    if full is not None:
        m, t = full["metrics"], timing(full)
        n = full.get("n_seeds", 1)
        row("full preset, test error (mean over seeds)", "<= 1.37% (paper)", m["test_error_pct"],
            m["test_error_pct"] <= ff.PAPER_TEST_ERROR_PCT, "%")  # fmt: skip
        row("full preset, seeds", ">= 2", n, n >= 2)
        every = full_preset_seeds(results_dir)
        if len(every) > n:
            mean = round(sum(e for _, e, _ in every) / len(every), 3)
            row(f"full preset, test error (mean over all {len(every)} seeds on record)",
                "<= 1.37% (paper)", mean, mean <= ff.PAPER_TEST_ERROR_PCT, "%")  # fmt: skip
        per_seed_s = full["wall_time_s"] / n  # seeds run side by side, one core each
        row("full preset, wall time per seed (run wall time / seeds)", "<= 2700 s (45 min)",
            round(per_seed_s), per_seed_s <= 2700, " s")  # fmt: skip
        epochs = min(m.get("ff_epochs_completed_per_seed", [m["ff_epochs_completed"]]))
        row("full preset, FF epochs (fewest of any seed)", "100 (paper)", epochs,
            epochs >= 100)  # fmt: skip
        label = "full preset, matmul_fraction" + (" (first seed)" if n > 1 else "")
        row(label, ">= 0.8", t["matmul_fraction"], t["matmul_fraction"] >= 0.8)
    b200 = load_record(results_dir, FULL_B200)
    if b200 is not None:  # one seed on both cores: its wall time is the time per seed
        what = "full preset with 200 positives per step (seed 3)"
        row(f"{what}, wall time", "<= 2700 s (45 min)", round(b200["wall_time_s"]),
            b200["wall_time_s"] <= 2700, " s")  # fmt: skip
        frac = timing(b200)["matmul_fraction"]
        row(f"{what}, matmul_fraction", ">= 0.8", frac, frac >= 0.8)
    if fast is not None:
        m, t = fast["metrics"], timing(fast)
        row("fast preset, test error", "< 2.0%", m["test_error_pct"],
            m["test_error_pct"] < 2.0, "%")  # fmt: skip
        seeds = load_record(results_dir, "fast_seeds")
        same = {k: v for k, v in fast["config"].items() if k != "seed"}
        if seeds is not None and {k: v for k, v in seeds["config"].items() if k != "seed"} == same:
            ms = seeds["metrics"]
            row(f"fast preset, test error (mean over {seeds.get('n_seeds', 1)} seeds, "
                "one BLAS thread each)", "< 2.0%", ms["test_error_pct"],
                ms["test_error_pct"] < 2.0, "%")  # fmt: skip
        row("fast preset, wall time", "< 120 s on 2 cores", round(fast["wall_time_s"]),
            fast["wall_time_s"] < 120, " s")  # fmt: skip
        row("fast preset, matmul_fraction", ">= 0.8", t["matmul_fraction"],
            t["matmul_fraction"] >= 0.8)  # fmt: skip
    return "\n".join(rows)


BLOCKS = {
    "goals": block_goals,
    "results": block_results,
    "speed": block_speed,
    "speedbench": block_speedbench,
    "ablation": block_ablation,
    "control": block_control,
    "backprop": block_backprop,
    "bpchoice": block_bpchoice,
    "goodness": block_goodness,
    "comparison": block_comparison,
    "env": block_env,
    "kernels": block_kernels,
    "bound": block_bound,
    "batch": block_batch,
    "fullbatch": block_fullbatch,
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


# ------------------------------------------------------------------ CLI


def build_parser() -> ff.CleanParser:
    p = ff.CleanParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument(
        "--seed", type=ff.int_in(0, 2**32 - 1), default=0, help="hybrid-figure seed (0..2^32-1)"
    )
    p.add_argument("--outdir", type=str, default=str(HERE / "viz"), help="figure folder")
    p.add_argument("--results", type=str, default=str(HERE / "results"), help="records folder")
    p.add_argument("--data-dir", type=str, default=str(ff.DEFAULT_DATA_DIR), help="MNIST folder")
    p.add_argument("--readme", action="store_true", help="rewrite README blocks only")
    p.add_argument(
        "--readme-path", type=str, default=str(HERE / "README.md"), help="README to rewrite"
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny check: a smoke run's record in memory, its figures into --outdir",
    )
    return p


def _main(argv) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    results = Path(args.results)
    if args.readme:
        readme = Path(args.readme_path)
        if not readme.is_file():
            parser.error(f"--readme-path {readme}: no such file")
        ff.check_output_path(parser, "--readme-path", str(readme))
        ff.write_atomic(readme, render_readme(readme.read_text(), results))
        print(f"updated {readme}")
        return 0
    if not args.outdir.strip():
        parser.error("--outdir: empty path")
    outdir = Path(args.outdir)
    ff.check_output_path(parser, "--outdir", str(outdir / "probe.png"))
    if args.smoke:
        cfg = {**ff.DEFAULTS, **ff.PRESETS["smoke"], "preset": "smoke", "seed": args.seed}
        cfg.update(layer_sizes=[784, 30, 30, 30], n_train=500, n_holdout=100, n_test=200)
        cfg.update(epochs=1, readout_epochs=1, save_weights=None)
        data = ff.load_mnist(Path(args.data_dir))
        rec = ff.run(cfg, data, log=lambda *a, **k: None)
        recs = {"smoke": rec}
        made = [fig_hybrids(outdir, args.seed, Path(args.data_dir), n=200)]
    else:
        # extra seeds of a preset would only overlay that preset's curves
        recs = {
            t: r
            for t, r in run_records(results)
            if not t.startswith("full_seed") and t != "fast_seeds"
        }
        made = [fig_hybrids(outdir, args.seed, Path(args.data_dir))]
        a = fig_ablation(results, outdir)
        made += [a] if a else []
    if recs:
        made += fig_curves(recs, outdir)
    for tag, rec in recs.items():
        if tag not in ("full", "fast", "smoke"):
            continue  # per-run figures only for the two presets
        made += [
            fig_goodness_hist(rec, outdir, tag),
            fig_receptive_fields(rec, outdir, tag),
            fig_confusion(rec, outdir, tag),
        ]
    for m in made:
        print(f"wrote {m}")
    return 0


def main(argv=None) -> int:
    """Exit 0 ok, 2 bad input or data, 74 cannot write, 130 interrupted, 143 terminated."""
    signal.signal(signal.SIGTERM, ff._raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _main(argv)
    except ff.DataError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except ff.OutputError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 74
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except ff.Terminated:
        sys.stderr.write(f"{PROG}: terminated\n")
        return 143


if __name__ == "__main__":
    sys.exit(main())
