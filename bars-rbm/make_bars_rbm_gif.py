#!/usr/bin/env python3
"""Animated GIF of the receptive fields forming during training (default config).

    python3 bars-rbm/make_bars_rbm_gif.py [--seed 0] [--outdir bars-rbm]

Each frame shows the 8 hidden units' weights (4x4, red positive, blue negative),
labelled with their best-matching bar and cosine, plus the epoch, the number of bars
recovered and the exact KL(data || model) in bits. Writes <outdir>/bars_rbm.gif.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import bars_rbm as m  # noqa: E402
import imageio.v2 as imageio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent


def render_frame(W, epoch, kl, title):
    """One frame as an RGB uint8 array: the receptive fields of every hidden unit."""
    n, best, cos = m.bar_recovery(W)
    H = W.shape[1]
    lim = max(np.abs(W).max(), 1e-9)
    fig, axes = plt.subplots(1, H, figsize=(1.2 * H, 1.75))
    for j, ax in enumerate(axes):
        ax.imshow(W[:, j].reshape(m.SIDE, m.SIDE), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ok = cos[j] >= 0.5
        ax.set_title(
            f"{m.bar_name(int(best[j]))} {cos[j]:.2f}",
            fontsize=8,
            color="k" if ok else "0.6",
        )
    kl_text = f", KL {kl:.2f} bits" if kl is not None else ""
    fig.suptitle(f"{title}  epoch {epoch:3d}: {n}/8 bars{kl_text}", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.72, wspace=0.08)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=80, format="png")
    plt.close(fig)
    buf.seek(0)
    return np.array(Image.open(buf).convert("RGB"))


def main(argv: list[str] | None = None) -> int:
    p = m.CleanArgumentParser(prog="make_bars_rbm_gif.py", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0, help="seed of the run shown (default 0)")
    p.add_argument("--outdir", type=Path, default=HERE, help="folder for bars_rbm.gif")
    p.add_argument("--every", type=int, default=1, help="epochs between frames (default 1)")
    args = p.parse_args(argv)
    if args.seed < 0 or args.every < 1:
        p.error("--seed must be >= 0 and --every >= 1")
    cfg = m.Config(eval_every=args.every)
    print(f"make_bars_rbm_gif: training seed {args.seed} ({cfg.method}, {cfg.epochs} epochs)")
    out = m.train(cfg, [args.seed], snapshot_every=args.every)
    hist = out["history"]
    kl_by_epoch = dict(zip(hist["epoch"], hist["kl_bits"], strict=True))
    title = f"{cfg.method.upper()}, seed {args.seed}"
    frames = [
        render_frame(W[0], ep, kl_by_epoch.get(ep, [None])[0], title)
        for ep, W, _ in hist["snapshots"]
    ]
    frames += [frames[-1]] * 12  # hold the final state
    args.outdir.mkdir(parents=True, exist_ok=True)
    path = args.outdir / "bars_rbm.gif"
    tmp = path.with_name(".bars_rbm.gif.tmp")
    imageio.mimsave(tmp, frames, format="GIF", duration=0.12, loop=0)
    tmp.replace(path)
    print(f"make_bars_rbm_gif: wrote {path} ({len(frames)} frames, {path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
