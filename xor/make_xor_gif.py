#!/usr/bin/env python3
"""Animated xor.gif: both networks' decision surfaces and errors evolving, one seed.

    python3 xor/make_xor_gif.py [--seed 0] [--frames 40] [--outdir xor]

Retrains seed ``--seed`` of the 2-2-1 and the one-hidden-unit (2-1-skip) net with the
paper's rule (xor.train with history) and draws frames from sweep 0 until both have
converged, denser at the start: top, each net's output surface with its 0.5 contour and
the four patterns; bottom, both errors so far, each net's convergence marked. A net
that has converged stays frozen. Frame delays are in milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys

if __name__ == "__main__":  # a signal during the imports below still gives one line

    def _early_signal(signum, frame):
        word = b"interrupted" if signum == signal.SIGINT else b"terminated"
        os.write(2, b"make_xor_gif.py: " + word + b"\n")
        os._exit(130 if signum == signal.SIGINT else 143)

    signal.signal(signal.SIGINT, _early_signal)
    signal.signal(signal.SIGTERM, _early_signal)

import io  # noqa: E402
from pathlib import Path  # noqa: E402

import imageio.v3 as iio  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import visualize_xor as viz  # noqa: E402
from PIL import Image  # noqa: E402

import xor  # noqa: E402

HERE = Path(__file__).resolve().parent
ARCHS = ["2-2-1", "2-1-skip"]
FRAME_MS = 400  # delay of every frame but the last, in milliseconds
LAST_MS = 3000  # the last frame is held longer
GIF_DPI = 88  # 7.5 in x 88 dpi = 660 px; 9 pt text = 11 px


def frame_epochs(n_sweeps: int, n_frames: int, events: list[int]) -> list[int]:
    """Sweeps to draw: quadratically spaced over [0, n_sweeps] (dense early) plus events.

    Returns sorted unique ints in [0, n_sweeps]; always includes 0 and n_sweeps.
    """
    u = np.linspace(0.0, 1.0, n_frames)
    ts = set((n_sweeps * u**2).round().astype(int).tolist())
    ts.update(e for e in events if 0 <= e <= n_sweeps)
    ts.update({0, n_sweeps})
    return sorted(ts)


def render_frame(runs: dict, t: int, seed: int, n_total: int, dpi: int = GIF_DPI) -> np.ndarray:
    """One RGB frame (H, W, 3) uint8 at sweep t, drawn at ``dpi``."""
    fig = plt.figure(figsize=(7.5, 5.4), dpi=dpi)
    gs = fig.add_gridspec(
        2, 2, height_ratios=[1.25, 1], hspace=0.4, wspace=0.3, top=0.94, bottom=0.09, right=0.97
    )
    for i, arch in enumerate(ARCHS):
        res = runs[arch]
        last = len(res.history["loss"]) - 1
        ax = fig.add_subplot(gs[0, i])
        done = " (converged)" if t >= last and res.converged_epoch[0] >= 0 else ""
        viz.draw_surface(
            ax, viz.params_at(res, min(t, last)), f"{arch}: sweep {min(t, last)}{done}"
        )
    ax = fig.add_subplot(gs[1, :])
    lo = min(float(runs[a].history["loss"].min()) for a in ARCHS)
    hi = max(float(runs[a].history["loss"].max()) for a in ARCHS)
    for i, arch in enumerate(ARCHS):
        res = runs[arch]
        E = res.history["loss"][:, 0]
        upto = min(t, len(E) - 1)
        ax.plot(np.arange(upto + 1), E[: upto + 1], color=f"C{i}", lw=1.8, label=arch)
        ax.plot([upto], [E[upto]], "o", color=f"C{i}")
        ce = int(res.converged_epoch[0])
        if 0 <= ce <= t:
            ax.axvline(ce, color=f"C{i}", ls="--", lw=1.2)
    ax.set_xlim(0, n_total * 1.03)
    ax.set_ylim(lo * 0.8, hi * 1.25)
    ax.set_yscale("log")
    ax.set_xlabel("sweep")
    ax.set_ylabel("error $E$ (summed)")
    ax.legend(loc="lower left", fontsize=9)
    ax.set_title(f"seed {seed}, the paper's rule (dashed: converged)", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def make_gif(
    seed: int, outdir: Path, n_frames: int = 40, max_epochs: int = 10000, dpi: int = GIF_DPI
) -> Path:
    """Write outdir/xor.gif (delays FRAME_MS, last LAST_MS, in ms) and return its path.

    max_epochs caps the pictured runs (the smoke run draws unconverged ones); dpi sets
    the frame size (the smoke run draws small frames).
    """
    runs = {arch: viz.run_with_history(arch, seed, max_epochs) for arch in ARCHS}
    n_total = max(len(r.history["loss"]) - 1 for r in runs.values())
    events = [int(r.converged_epoch[0]) for r in runs.values()]
    ts = frame_epochs(n_total, n_frames, events)
    frames = np.stack([render_frame(runs, t, seed, n_total, dpi) for t in ts])
    durations = [FRAME_MS] * (len(frames) - 1) + [LAST_MS]
    data = iio.imwrite("<bytes>", frames, extension=".gif", duration=durations, loop=0)
    path = outdir / "xor.gif"
    xor.write_atomic(path, data)
    return path


def build_parser() -> xor.CleanParser:
    """Flags of make_xor_gif.py (range-checked like xor.py's)."""
    ap = xor.CleanParser(prog="make_xor_gif.py", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--seed",
        type=xor.int_in(0, 2**32 - 1),
        default=0,
        help="seed of the pictured runs (int, 0 <= seed <= 2^32-1; default 0)",
    )
    ap.add_argument(
        "--frames",
        type=xor.int_in(2, 200),
        default=40,
        help="number of evenly planned frames before events are added (int, 2..200; default 40)",
    )
    ap.add_argument("--outdir", default=str(HERE), help="folder for xor.gif (default xor/)")
    ap.add_argument(
        "--smoke", action="store_true", help="tiny run for CI: 3 frames, runs capped at 100 sweeps"
    )
    return ap


def _main(argv: list[str] | None) -> int:
    a = build_parser().parse_args(argv)
    outdir = xor.check_output_path(a.outdir, "--outdir", folder=True)
    if a.smoke:
        path = make_gif(a.seed, outdir, 3, 100, dpi=30)
    else:
        path = make_gif(a.seed, outdir, a.frames)
    print(f"make_xor_gif: wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write xor.gif (exit code)."""
    return xor.run_guarded("make_xor_gif.py", _main, argv)


if __name__ == "__main__":
    code = main()
    # The work is done; interpreter teardown resets Python-level handlers to the default
    # action, so a late signal is ignored instead of killing the exit without a line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)
