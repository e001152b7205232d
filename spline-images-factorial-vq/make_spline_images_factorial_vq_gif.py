"""Animated GIF of factorial-VQ training on spline images.

    python3 spline-images-factorial-vq/make_spline_images_factorial_vq_gif.py --seed 0

Each frame: held-out images vs the factorial VQ's posterior-mean reconstructions, the
four factors' posteriors q_f(k|x) for those images, and the held-out exact description
length so far against the final DL of the baselines (vq24, separate4x6, pca5) trained at
the same seed. Training code is imported from spline_images_factorial_vq.py.
"""

from __future__ import annotations

import copy
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import imageio.v2 as imageio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import spline_images_factorial_vq as s  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
N_SHOW = 4


def frame(fitted, X_show, step, hist, baselines, n_steps):
    q, C = fitted.posterior(X_show)
    rec = np.einsum("nfk,fkd->nd", q, C)
    F, K = q.shape[1], q.shape[2]
    fig = plt.figure(figsize=(9, 4.2))
    gs = fig.add_gridspec(N_SHOW, 4, width_ratios=[1, 1, 1.3, 2.4], wspace=0.35, hspace=0.35)
    for i in range(N_SHOW):
        for j, img in enumerate([X_show[i], rec[i]]):
            ax = fig.add_subplot(gs[i, j])
            ax.imshow(img.reshape(s.IMG_H, s.IMG_W), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(["held-out", "reconstruction"][j], fontsize=8)
        ax = fig.add_subplot(gs[i, 2])
        ax.imshow(q[i], cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(K))
        ax.set_yticks(range(F), [f"f{f + 1}" for f in range(F)], fontsize=6)
        ax.tick_params(labelsize=6)
        if i == 0:
            ax.set_title("q_f(k|x)", fontsize=8)
    ax = fig.add_subplot(gs[:, 3])
    st = [h[0] for h in hist]
    ax.plot(st, [h[1] for h in hist], color="#1f77b4", label="factorial4x6")
    for (name, val), col in zip(baselines.items(), ["#d62728", "#ff7f0e", "#7f7f7f"], strict=False):
        ax.axhline(val, color=col, ls="--", lw=1, label=f"{name} (final)")
    ax.set_xlim(0, n_steps)
    ax.set_ylim(min(80, min(h[1] for h in hist) - 5), max(baselines.values()) + 25)
    ax.set_xlabel("Adam step")
    ax.set_ylabel("bits/image")
    ax.set_title(f"held-out exact DL, step {step}: {hist[-1][1]:.1f} bits", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    buf = io.BytesIO()
    fig.savefig(buf, dpi=70)
    plt.close(fig)
    buf.seek(0)
    return np.array(Image.open(buf).convert("RGB"))


def main(argv=None):
    p = s.CleanParser(
        prog="make_spline_images_factorial_vq_gif.py", description=__doc__.split("\n")[0]
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outdir", type=str, default=str(HERE))
    args = p.parse_args(argv)
    outdir = Path(args.outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        p.error(f"cannot create --outdir {outdir}: {exc}")
    cfg = s.config_from_args(s.build_parser().parse_args(["--seed", str(args.seed)]))
    snaps = []

    def on_log(name, step, fitted, loss, beta):
        if name == "factorial4x6":
            snaps.append((step, copy.deepcopy(fitted.stages[0])))

    run = s.train_seed(args.seed, cfg, s.CLASSIC_MODELS, verbose=False, on_log=on_log)
    X_test = run["X_test"]
    baselines = {n: run["metrics"][n]["total_bits"] for n in ["vq24", "separate4x6", "pca5"]}
    rng = np.random.default_rng(0)
    frames, hist = [], []
    for step, params in snaps:
        fitted = s.FittedSVQ("factorial4x6", [params], cfg)
        hist.append((step, fitted.score(X_test, rng, n_samples=2)["total_bits"]))
        frames.append(frame(fitted, X_test[:N_SHOW], step, hist, baselines, cfg["steps"]))
    frames += [frames[-1]] * 8
    path = outdir / "spline_images_factorial_vq.gif"
    imageio.mimsave(path, frames, duration=0.15, loop=0)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {len(frames)} frames)")


if __name__ == "__main__":
    sys.exit(main())
