"""Animated ff_hybrid_mnist.gif: goodness separation and first-layer receptive fields
developing over the epochs of a mid-size unsupervised FF run (784-500-500-500-500 on
10,000 training digits; a few minutes on 2 cores).

    python3 ff-hybrid-mnist/make_ff_hybrid_mnist_gif.py [--seed 0] [--outdir ff-hybrid-mnist]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ff_hybrid_mnist as ff  # noqa: E402
import imageio.v2 as imageio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent


def gif_config(seed: int, epochs: int) -> dict:
    cfg = {**ff.DEFAULTS, **ff.PRESETS["fast"], "preset": "gif", "seed": seed}
    cfg.update(layer_sizes=[784, 500, 500, 500, 500], epochs=epochs, n_train=10000)
    return cfg


def render_frame(epoch, layers, hist, Xpos, Xneg, units, cfg) -> np.ndarray:
    # goodness per unit (mean of h^2), so every layer shares one axis and one threshold
    gp = ff.layer_goodness(layers, Xpos, "mean")
    gn = ff.layer_goodness(layers, Xneg, "mean")
    n = len(layers)
    fig = plt.figure(figsize=(9.0, 4.4))
    gs = fig.add_gridspec(2, n + 2)
    for i in range(n):
        a = fig.add_subplot(gs[0, i])
        lo, hi = np.percentile(np.r_[gp[i], gn[i]], [0.5, 99.5])
        lo, hi = min(lo, 0.9 * cfg["threshold"]), max(hi, 1.1 * cfg["threshold"])
        edges = np.linspace(lo, hi, 41)
        a.hist(np.clip(gp[i], lo, hi), edges, alpha=0.6, label="digits")
        a.hist(np.clip(gn[i], lo, hi), edges, alpha=0.6, label="hybrids")
        a.axvline(cfg["threshold"], color="k", lw=0.7, ls="--")
        a.set_title(f"layer {i + 1}: mean h^2", fontsize=8)
        a.set_yticks([])
        a.tick_params(labelsize=6)
        if i == 0:
            a.legend(fontsize=6)
    a = fig.add_subplot(gs[0, n:])
    sep = np.array(hist["g_pos"]) - np.array(hist["g_neg"])
    for i in range(n):
        a.plot(hist["epoch"], sep[:, i], label=f"L{i + 1}")
    a.set_xlim(1, cfg["epochs"])
    unit = "sum h^2" if cfg["goodness"] == "sum" else "mean h^2"
    a.set_title(f"goodness ({unit}): digit - hybrid, train", fontsize=8)
    a.tick_params(labelsize=6)
    a.legend(fontsize=6)
    W = layers[0]["W"][:, units]
    k = len(units)
    sub = gs[1, :].subgridspec(1, k)
    for j in range(k):
        a = fig.add_subplot(sub[0, j])
        v = np.max(np.abs(W[:, j])) + 1e-12
        a.imshow(W[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-v, vmax=v)
        a.axis("off")
    fig.suptitle(f"Unsupervised FF on MNIST with hybrid negatives: epoch {epoch}", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=70)
    plt.close(fig)
    buf.seek(0)
    return np.array(Image.open(buf).convert("P", palette=Image.ADAPTIVE).convert("RGB"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="make_ff_hybrid_mnist_gif.py")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outdir", type=str, default=str(HERE))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--data-dir", type=str, default=str(ff.DEFAULT_DATA_DIR))
    args = p.parse_args(argv)
    cfg = gif_config(args.seed, args.epochs)
    data = ff.load_mnist(Path(args.data_dir))
    X = data["train_images"][: cfg["n_train"]].astype(np.float32) / 255.0
    Xte = data["test_images"][:1000].astype(np.float32) / 255.0
    rng = np.random.default_rng(args.seed)
    rng_ff, rng_neg = rng.spawn(2)
    Xneg = ff.make_hybrids(Xte, rng_neg, cfg["n_blur"])[0]
    units = np.arange(8)
    frames = []
    layers0 = ff.init_layers(rng_ff.spawn(1)[0], cfg["layer_sizes"])

    def on_epoch(epoch, layers, hist):
        frames.append(render_frame(epoch, layers, hist, Xte, Xneg, units, cfg))
        print(f"  frame {epoch}", flush=True)

    ff.train_ff(X, cfg, rng_ff, layers=layers0, on_epoch=on_epoch)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ff_hybrid_mnist.gif"
    imageio.mimsave(path, frames, duration=0.6, loop=0)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
