"""Animated GIF: hidden codes and weights settling during annealing-based learning.

    python3 encoder-4-2-4/make_encoder_4_2_4_gif.py [--seed 0] [--outdir encoder-4-2-4]

Trains seeds seed..seed+7 with the paper's procedure (encoder_4_2_4.py, method anneal)
and animates the first one whose final network has four codes and recall 4/4: left, the
mean hidden code p(H = 1 | pattern) of each pattern on the unit square with its trail;
right, a Hinton diagram of the weights, within-group weights included. Writes
<outdir>/encoder_4_2_4.gif (kept under 2 MB).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import encoder_4_2_4 as E  # noqa: E402
import imageio.v2 as imageio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import visualize_encoder_4_2_4 as V  # noqa: E402

HERE = Path(__file__).resolve().parent


def frame_cycles(n_cycles: int) -> list[int]:
    """Dense frames early (where the codes form), sparser later."""
    early = list(range(0, min(n_cycles, 100) + 1, 2))
    late = list(range(early[-1] + 6, n_cycles + 1, 6))
    return early + late + [n_cycles] * 8  # hold the last frame


def render(hist, k, c, T, max_w):
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(9.6, 4.4), gridspec_kw={"width_ratios": [1.5, 1.3]}
    )
    params = [hist[x][c][k] for x in E.PARAM_NAMES]
    ev = E.evaluate(*(x[None] for x in params), T)
    V.draw_codes(ax1, hist["code_mean"], k, upto=c)
    ax1.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    V.draw_hinton(ax2, *params, max_w=max_w)
    fig.suptitle(
        f"learning cycle {c}: {ev['n_codes'][0]} distinct codes, recall {ev['recall'][0]}/4, "
        f"KL {ev['kl_bits'][0]:.2f} bits",
        fontsize=10,
    )
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return img


def main(argv=None) -> int:
    p = E.CleanParser(prog="make_encoder_4_2_4_gif.py", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="first of the 8 candidate seeds")
    p.add_argument("--outdir", type=Path, default=HERE)
    p.add_argument("--cycles", type=int, default=250)
    p.add_argument("--fps", type=float, default=12.0)
    a = p.parse_args(argv)
    if a.seed < 0 or a.cycles < 1 or a.fps <= 0:
        p.error("--seed must be >= 0, --cycles >= 1 and --fps > 0")
    cfg, res, hist = V.train_with_history(range(a.seed, a.seed + 8), cycles=a.cycles)
    k = V.first_solved(res)
    max_w = float(max(max(np.abs(hist[x][:, k]).max() for x in E.PARAM_NAMES), 1.0))
    frames = [render(hist, k, c, cfg.temperature, max_w) for c in frame_cycles(a.cycles)]
    a.outdir.mkdir(parents=True, exist_ok=True)
    out = a.outdir / "encoder_4_2_4.gif"
    imageio.mimsave(out, frames, duration=1000.0 / a.fps, loop=0)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, seed {a.seed + k}, {len(frames)} frames)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
