"""Animated GIF of factorial-VQ training on spline images.

    python3 spline-images-factorial-vq/make_spline_images_factorial_vq_gif.py --seed 0

Each frame: held-out images vs the factorial VQ's posterior-mean reconstructions, the
four factors' posteriors q_f(k|x) for those images, and the held-out exact description
length so far against the final DL of the baselines (vq24, separate4x6, pca5) trained at
the same seed (v1's sigma_x = 0.15). Training code is imported from
spline_images_factorial_vq.py; the file is written through its write_atomic.
"""

from __future__ import annotations

import copy
import io
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

matplotlib.use("Agg")
import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import spline_images_factorial_vq as s  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
N_SHOW = 3
GIF_DPI = 100  # 7.5 x 4.0 inches -> 750 x 400 pixels; 9 pt text = 12.5 px
FRAME_MS = 500  # per training frame
LAST_FRAME_MS = 3000  # the final state stays on screen


def frame(fitted, X_show, step, hist, baselines, n_steps):
    """One GIF frame as an (H, W, 3) uint8 array."""
    q, C = fitted.posterior(X_show)
    rec = np.einsum("nfk,fkd->nd", q, C)
    F, K = q.shape[1], q.shape[2]
    fig = plt.figure(figsize=(7.5, 4.0))
    gs = fig.add_gridspec(
        N_SHOW, 3, width_ratios=[1, 1, 1.2], wspace=0.3, hspace=0.45, left=0.02, right=0.5
    )
    for i in range(N_SHOW):
        for j, img in enumerate([X_show[i], rec[i]]):
            ax = fig.add_subplot(gs[i, j])
            ax.imshow(img.reshape(s.IMG_H, s.IMG_W), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(["held-out", "recon."][j], fontsize=9)
        ax = fig.add_subplot(gs[i, 2])
        ax.imshow(q[i], cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks([])
        ax.set_yticks(range(F), [f"f{f + 1}" for f in range(F)], fontsize=9)
        if i == 0:
            ax.set_title(f"q(k|x), {K} codes", fontsize=9)
    ax = fig.add_axes((0.61, 0.13, 0.37, 0.77))  # clear of the heatmaps' labels
    st = [h[0] for h in hist]
    ax.plot(st, [h[1] for h in hist], color="#1f77b4", lw=2, label="factorial4x6")
    for (name, val), col in zip(baselines.items(), ["#d62728", "#ff7f0e", "#7f7f7f"], strict=False):
        ax.axhline(val, color=col, ls="--", lw=1.2, label=f"{name} (final)")
    ax.set_xlim(0, n_steps)
    lo = min(min(h[1] for h in hist), min(baselines.values()))
    ax.set_ylim(lo - 10, max(baselines.values()) + 60)
    ax.set_xlabel("Adam step", fontsize=9)
    ax.set_ylabel("bits per held-out image", fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_title(f"step {step}: {hist[-1][1]:.1f} bits", fontsize=10)
    ax.legend(fontsize=9, loc="upper right")
    buf = io.BytesIO()
    fig.savefig(buf, dpi=GIF_DPI, format="png")
    plt.close(fig)
    buf.seek(0)
    return np.array(Image.open(buf).convert("RGB"))


def build_parser():
    """The CLI of the GIF script (CleanParser; ranges in every help)."""
    p = s.CleanParser(
        prog="make_spline_images_factorial_vq_gif.py", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--seed",
        type=s.int_in(0, 2**32 - 1),
        default=0,
        help="seed of the training run shown (int, 0..2^32-1; default 0)",
    )
    p.add_argument(
        "--outdir", type=str, default=str(HERE), help="folder for the GIF (the only file written)"
    )
    p.add_argument("--smoke", action="store_true", help="tiny training run (a few frames)")
    return p


def main(argv=None):
    """Train at --seed, draw the frames and write spline_images_factorial_vq.gif."""
    p = build_parser()
    args = p.parse_args(argv)
    outdir = s.check_output_dir(p, args.outdir, "--outdir")
    argv_cfg = ["--seed", str(args.seed)] + (["--smoke"] if args.smoke else [])
    cfg = s.config_from_args(s.build_parser().parse_args(argv_cfg))
    snaps = []

    def on_log(name, step, fitted, loss, beta):
        if name == "factorial4x6":
            snaps.append((step, copy.deepcopy(fitted.stages[0])))

    run = s.train_seed(args.seed, cfg, s.CLASSIC_MODELS, verbose=False, on_log=on_log)
    X_test = run["X_test"]
    baselines = {n: run["metrics"][n]["total_bits"] for n in ["vq24", "separate4x6", "pca5"]}
    rng = np.random.default_rng(0)
    frames, hist = [], []
    every = max(1, len(snaps) // 24)  # at most ~24 training frames
    for i, (step, params) in enumerate(snaps):
        fitted = s.FittedSVQ("factorial4x6", [params], cfg)
        hist.append((step, fitted.score(X_test, rng, n_samples=2)["total_bits"]))
        if i % every == 0 or i == len(snaps) - 1:
            frames.append(frame(fitted, X_test[:N_SHOW], step, hist, baselines, cfg["steps"]))
    durations = [FRAME_MS] * (len(frames) - 1) + [LAST_FRAME_MS]
    path = outdir / "spline_images_factorial_vq.gif"

    def writer(fh):
        fh.write(
            iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=durations, loop=0)
        )

    s.write_atomic(path, writer)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {len(frames)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(s.run_cli(main, "make_spline_images_factorial_vq_gif.py", exiting=True))
