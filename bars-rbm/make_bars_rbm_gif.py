#!/usr/bin/env python3
"""Animated GIF of the receptive fields forming during training (default config).

    python3 bars-rbm/make_bars_rbm_gif.py [--seed 0] [--outdir bars-rbm]

Each frame shows the 8 hidden units' weights (4x4, red positive, blue negative, with a
colorbar), labelled with their best-matching bar and cosine, plus the epoch, the number
of bars recovered and the exact KL(data || model) in bits. Frames are shown for
FRAME_MS milliseconds, the last one for LAST_FRAME_MS. Writes <outdir>/bars_rbm.gif.
Exit codes as bars_rbm.py.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path


def _early_signal(signum, frame):  # until bars_rbm.run_main takes over: one line, exit
    word, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
    os.write(2, f"make_bars_rbm_gif.py: {word}\n".encode())
    os._exit(code)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _early_signal)
    signal.signal(signal.SIGTERM, _early_signal)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import bars_rbm as m  # noqa: E402
import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
FRAME_MS = 450  # per epoch frame: a readable pace
LAST_FRAME_MS = 3000  # hold the final state
DPI = 100
# Epochs shown: every epoch early on, where the bars appear, then sparser.
FRAME_EPOCHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80)


def render_frame(W, epoch, kl, title):
    """One frame as an RGB uint8 array: the receptive fields of every hidden unit."""
    n, best, cos = m.bar_recovery(W)
    H = W.shape[1]
    lim = max(np.abs(W).max(), 1e-9)
    fig = plt.figure(figsize=(8.0, 1.9))
    gs = fig.add_gridspec(1, H + 1, width_ratios=[1] * H + [0.1], wspace=0.12)
    im = None
    for j in range(H):
        ax = fig.add_subplot(gs[0, j])
        im = ax.imshow(W[:, j].reshape(m.SIDE, m.SIDE), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ok = cos[j] >= 0.5
        ax.set_title(
            f"{m.bar_name(int(best[j]))} {cos[j]:.2f}", fontsize=10, color="k" if ok else "0.55"
        )
    cb = fig.colorbar(im, cax=fig.add_subplot(gs[0, H]))
    cb.ax.tick_params(labelsize=9)
    kl_text = f", KL {kl:.2f} bits" if kl is not None else ""
    fig.suptitle(f"{title}  epoch {epoch:3d}: {n}/8 bars{kl_text}", fontsize=11)
    fig.subplots_adjust(left=0.01, right=0.92, bottom=0.04, top=0.72)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    plt.close(fig)
    buf.seek(0)
    return np.array(Image.open(buf).convert("RGB"))


def frame_durations(n_frames: int) -> list[int]:
    """Per-frame delays in milliseconds: FRAME_MS each, LAST_FRAME_MS for the last."""
    return [FRAME_MS] * (n_frames - 1) + [LAST_FRAME_MS]


def build_parser() -> m.CleanParser:
    """The command-line interface of make_bars_rbm_gif.py."""
    p = m.CleanParser(
        prog="make_bars_rbm_gif.py",
        description="Animated GIF of bars-rbm receptive fields forming during training. "
        "Exit codes: 0 ok, 2 bad input, 3 diverged, 74 cannot write, 130 interrupted, "
        "143 terminated.",
        allow_abbrev=False,
    )
    p.add_argument(
        "--seed",
        type=m.int_in(0, 2**32 - 1),
        default=0,
        help="seed of the run shown (int, 0..2^32-1; default 0)",
    )
    p.add_argument("--outdir", type=m.path_arg, default=HERE, help="folder for bars_rbm.gif (path)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny training (3 epochs, 300 images) to test the drawing code",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    path = args.outdir / "bars_rbm.gif"
    try:
        m.check_output_path(path, "--outdir")
    except m.UsageError as exc:
        parser.error(str(exc))
    small = {"epochs": 3, "n_train": 300, "n_heldout": 300} if args.smoke else {}
    cfg = m.Config(eval_every=1, **small)
    print(f"make_bars_rbm_gif: training seed {args.seed} ({cfg.method}, {cfg.epochs} epochs)")
    with np.errstate(all="ignore"):
        out = m.train(cfg, [args.seed], snapshot_every=1)
    hist = out["history"]
    kl_by_epoch = dict(zip(hist["epoch"], hist["kl_bits"], strict=True))
    title = f"{cfg.method.upper()}, seed {args.seed}"
    frames = [
        render_frame(W[0], ep, kl_by_epoch[ep][0], title)
        for ep, W, _ in hist["snapshots"]
        if ep in FRAME_EPOCHS or ep == cfg.epochs
    ]
    data = iio.imwrite(
        "<bytes>",
        np.stack(frames),
        extension=".gif",
        duration=frame_durations(len(frames)),
        loop=0,
    )
    m.write_atomic(path, data)
    print(f"make_bars_rbm_gif: wrote {path} ({len(frames)} frames, {len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(m.run_main(main, "make_bars_rbm_gif.py"))
