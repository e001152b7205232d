"""Animated GIF: hidden codes and weights settling during annealing-based learning.

    python3 encoder-4-2-4/make_encoder_4_2_4_gif.py [--seed 0] [--outdir encoder-4-2-4]

Trains seeds seed..seed+7 with the paper's procedure (encoder_4_2_4.py, method anneal)
and animates the first one whose final network has four codes and recall 4/4: left, the
mean hidden code p(H = 1 | pattern) of each pattern on the unit square with its trail;
right, a heat map of the weights (within-group weights included) with a colorbar.
Writes <outdir>/encoder_4_2_4.gif (kept under 2 MB): frames 825 px wide, text of at
least 9 pt (12 px), FRAME_MS per frame and LAST_FRAME_MS on the last one.
Exit codes: 0 ok, 2 bad input, 74 cannot write output, 130 interrupted, 143 terminated.
"""

from __future__ import annotations

if __name__ == "__main__":  # one line and 130/143 even for a signal during the imports
    import os as _os
    import signal as _signal

    def _early_exit(signum, frame):
        word = "interrupted" if signum == _signal.SIGINT else "terminated"
        _os.write(2, f"{_os.path.basename(__file__)}: {word}\n".encode())
        _os._exit(130 if signum == _signal.SIGINT else 143)

    _signal.signal(_signal.SIGINT, _early_exit)
    _signal.signal(_signal.SIGTERM, _early_exit)

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import encoder_4_2_4 as E  # noqa: E402
import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import visualize_encoder_4_2_4 as V  # noqa: E402

HERE = Path(__file__).resolve().parent
GIF_NAME = "encoder_4_2_4.gif"
FRAME_MS = 500  # delay of every frame but the last, in milliseconds
LAST_FRAME_MS = 3000  # the final network stays on screen longer
GIF_DPI = 110  # 7.5 in x 110 dpi = 825 px wide


def frame_cycles(n_cycles: int) -> list[int]:
    """Learning cycles shown, dense early (where the codes form), sparser later: about
    25 frames from cycle 0 to ``n_cycles`` inclusive, strictly increasing."""
    grid = np.unique(np.round(np.geomspace(1, max(n_cycles, 1), 24)).astype(int))
    return [0, *[int(c) for c in grid if 0 < c <= n_cycles]]


def render(hist, k, c, T, max_w, dpi=GIF_DPI) -> np.ndarray:
    """One frame (RGB uint8) of seed index k at learning cycle c."""
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(7.5, 4.2), gridspec_kw={"width_ratios": [1.0, 1.25]}
    )
    params = [hist[x][c][k] for x in E.PARAM_NAMES]
    ev = E.evaluate(*(x[None] for x in params), T)
    V.draw_codes(ax1, hist["code_mean"], k, upto=c)
    handles, labels = ax1.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, frameon=False)
    im = V.draw_weights(ax2, *params, max_w=max_w, annotate=False)
    cb = fig.colorbar(im, ax=ax2, fraction=0.06, pad=0.03)
    cb.ax.tick_params(labelsize=9)
    cb.set_label("weight", fontsize=9)
    fig.suptitle(
        f"learning cycle {c}: {ev['n_codes'][0]} distinct codes, recall {ev['recall'][0]}/4, "
        f"KL {ev['kl_bits'][0]:.2f} bits",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return iio.imread(buf.getvalue(), extension=".png")[..., :3]


def build_parser() -> E.CleanParser:
    """The command line of make_encoder_4_2_4_gif.py."""
    p = E.CleanParser(
        prog="make_encoder_4_2_4_gif.py",
        description=__doc__.splitlines()[0]
        + " Exit codes: 0 ok, 2 bad input, 74 cannot write output, 130 interrupted, "
        "143 terminated.",
    )
    p.add_argument(
        "--seed",
        type=E.int_in(0, E.MAX_SEED),
        default=0,
        help=f"first of the 8 candidate seeds S..S+7 (int, 0..{E.MAX_SEED}, S+7 at most "
        "that; default 0)",
    )
    p.add_argument(
        "--outdir", type=str, default=HERE, help=f"folder for {GIF_NAME} (path; default here)"
    )
    p.add_argument(
        "--cycles",
        type=E.int_in(1, 2000),
        default=250,
        help="learning cycles to animate (int, 1..2000; default 250)",
    )
    p.add_argument("--smoke", action="store_true", help="4 cycles, 3 small frames, for CI")
    return p


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.seed + 7 > E.MAX_SEED:
        p.error(f"--seed {a.seed}: the runs use seeds S..S+7, at most {E.MAX_SEED}")
    outdir = E.check_dir_path(p, a.outdir, "--outdir")
    n_cycles = 4 if a.smoke else a.cycles
    cfg, res, hist = V.train_with_history(range(a.seed, a.seed + 8), cycles=n_cycles)
    k = V.first_solved(res)
    max_w = float(max(max(np.abs(hist[x][:, k]).max() for x in E.PARAM_NAMES), 1.0))
    cycles = [0, 2, 4] if a.smoke else frame_cycles(n_cycles)
    dpi = 30 if a.smoke else GIF_DPI
    frames = np.stack([render(hist, k, c, cfg.temperature, max_w, dpi) for c in cycles])
    durations = [FRAME_MS] * (len(frames) - 1) + [LAST_FRAME_MS]
    out = outdir / GIF_NAME
    E.write_atomic(
        out,
        lambda fh: iio.imwrite(fh, frames, extension=".gif", duration=durations, loop=0),
    )
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, seed {a.seed + k}, {len(frames)} frames)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(E.run_main(main, "make_encoder_4_2_4_gif.py", final=True))
