"""Animated ff_hybrid_mnist.gif: goodness separation and first-layer receptive fields
developing over the epochs of a mid-size unsupervised FF run (784-500-500-500-500 on
10,000 training digits; a few minutes on 2 cores).

    python3 ff-hybrid-mnist/make_ff_hybrid_mnist_gif.py [--seed 0] [--outdir ff-hybrid-mnist]
    python3 ff-hybrid-mnist/make_ff_hybrid_mnist_gif.py --smoke --outdir /tmp/g  # tiny check
"""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path


def _early_signal_exit(signum, frame):  # until main() installs its own handlers
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    sys.stderr.write(f"make_ff_hybrid_mnist_gif.py: {word}\n")
    os._exit(130 if signum == signal.SIGINT else 143)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _early_signal_exit)
    signal.signal(signal.SIGINT, _early_signal_exit)
    # the CPU kernels of ff_hybrid_mnist.py's runs (its PINNED_KERNELS; its top explains
    # why), set here because matplotlib imports numpy before that module can be imported
    if "avx2" in (Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""):
        os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
        os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import ff_hybrid_mnist as ff  # noqa: E402
import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

PROG = "make_ff_hybrid_mnist_gif.py"
HERE = Path(__file__).resolve().parent
FRAME_MS = 700  # per epoch frame
LAST_FRAME_MS = 2500
GIF_DPI = 80  # 9 pt text = 10 px at 80 dpi


def gif_config(seed: int, epochs: int, smoke: bool = False) -> dict:
    """The GIF's run: the FF recipe of the presets on a 784-500x4 network and 10,000
    training digits (smoke: 784-40x3 on 500 digits)."""
    cfg = {**ff.DEFAULTS, **ff.PRESETS["fast"], "preset": "gif", "seed": seed}
    cfg.update(layer_sizes=[784, 500, 500, 500, 500], epochs=epochs, n_train=10000)
    if smoke:
        cfg.update(layer_sizes=[784, 40, 40, 40], n_train=500)
    return cfg


def render_frame(epoch, layers, hist, Xpos, Xneg, units, cfg) -> np.ndarray:
    """One frame (RGB uint8): goodness histograms per layer, the digit-minus-hybrid
    goodness over epochs, and the first-layer weights of a few units."""
    # goodness per unit (mean of h^2), so every layer shares one axis and one threshold
    gp = ff.layer_goodness(layers, Xpos, "mean")
    gn = ff.layer_goodness(layers, Xneg, "mean")
    n = len(layers)
    fig = plt.figure(figsize=(10.0, 5.4))
    gs = fig.add_gridspec(2, n + 2, height_ratios=[1.3, 1])
    for i in range(n):
        a = fig.add_subplot(gs[0, i])
        lo, hi = np.percentile(np.r_[gp[i], gn[i]], [0.5, 99.5])
        lo, hi = min(lo, 0.9 * cfg["threshold"]), max(hi, 1.1 * cfg["threshold"])
        edges = np.linspace(lo, hi, 31)
        a.hist(np.clip(gp[i], lo, hi), edges, alpha=0.6, label="digits")
        a.hist(np.clip(gn[i], lo, hi), edges, alpha=0.6, label="hybrids")
        a.axvline(cfg["threshold"], color="k", lw=0.7, ls="--")
        a.set_title(f"layer {i + 1}", fontsize=11)
        a.set_xlabel("mean squared activity", fontsize=9)
        a.set_yticks([])
        a.tick_params(labelsize=9)
        if i == 0:
            a.legend(fontsize=9, loc="upper right")
    a = fig.add_subplot(gs[0, n:])
    sep = np.array(hist["g_pos"]) - np.array(hist["g_neg"])
    for i in range(n):
        a.plot(hist["epoch"], sep[:, i], label=f"layer {i + 1}")
    a.set_xlim(1, max(cfg["epochs"], 2))
    a.set_title("digit minus hybrid goodness", fontsize=11)
    a.set_xlabel("epoch", fontsize=9)
    a.tick_params(labelsize=9)
    a.legend(fontsize=9)
    W = layers[0]["W"][:, units]
    v = float(np.max(np.abs(W))) + 1e-12
    k = len(units)
    sub = gs[1, :].subgridspec(1, k)
    for j in range(k):
        a = fig.add_subplot(sub[0, j])
        a.imshow(W[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-v, vmax=v)
        a.axis("off")
    fig.text(0.5, 0.03, "first-layer weights of 8 units (red +, blue -)", ha="center", fontsize=11)
    fig.suptitle(f"Unsupervised FF on MNIST, hybrid negatives: epoch {epoch}", fontsize=13)
    fig.subplots_adjust(left=0.03, right=0.98, top=0.88, bottom=0.08, wspace=0.35, hspace=0.55)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=GIF_DPI, format="png")
    plt.close(fig)
    buf.seek(0)
    return np.array(Image.open(buf).convert("P", palette=Image.ADAPTIVE).convert("RGB"))


def build_parser() -> ff.CleanParser:
    p = ff.CleanParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=ff.int_in(0, 2**32 - 1), default=0, help="seed (0..2^32-1)")
    p.add_argument("--outdir", type=str, default=str(HERE), help="folder for the GIF")
    p.add_argument("--epochs", type=ff.int_in(2, 60), default=12, help="FF epochs = frames (2..60)")
    p.add_argument("--data-dir", type=str, default=str(ff.DEFAULT_DATA_DIR), help="MNIST folder")
    p.add_argument("--smoke", action="store_true", help="tiny network, 2 epochs: a quick check")
    return p


def _main(argv) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.outdir.strip():
        parser.error("--outdir: empty path")
    path = Path(args.outdir) / "ff_hybrid_mnist.gif"
    ff.check_output_path(parser, "--outdir", str(path))
    epochs = 2 if args.smoke else args.epochs
    cfg = gif_config(args.seed, epochs, smoke=args.smoke)
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

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        ff.train_ff(X, cfg, rng_ff, layers=layers0, on_epoch=on_epoch)
    delays = [FRAME_MS] * (len(frames) - 1) + [LAST_FRAME_MS]

    def writer(f):
        iio.imwrite(f, np.stack(frames), extension=".gif", duration=delays, loop=0)

    ff.write_atomic(path, writer)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def main(argv=None) -> int:
    """Exit 0 ok, 2 bad input or data, 3 diverged, 74 cannot write, 130/143 on signals."""
    signal.signal(signal.SIGTERM, ff._raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _main(argv)
    except ff.DataError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except ff.Diverged as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 3
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
