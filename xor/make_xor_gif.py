#!/usr/bin/env python3
"""Animated xor.gif: the decision surface and the training curves evolving.

    python3 xor/make_xor_gif.py [--seed 0] [--arch 2-2-1] [--outdir xor]

Retrains one network with the default configuration (xor.train, with history) and
draws ~60 frames from sweep 0 to convergence: left, the output surface with its 0.5
contour and the four patterns; right, the error E so far, with perturbations (red
dotted) and the convergence sweep (green dashed) marked.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import imageio.v2 as imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import visualize_xor as viz  # noqa: E402
from PIL import Image  # noqa: E402

import xor  # noqa: E402

HERE = Path(__file__).resolve().parent


def frame_epochs(n_sweeps: int, n_frames: int, events: list[int]) -> list[int]:
    """Sweeps to draw: evenly spaced over [0, n_sweeps] plus the sweeps around events."""
    ts = set(np.linspace(0, n_sweeps, n_frames).round().astype(int).tolist())
    for e in events:
        ts.update(t for t in (e, e + 1, e + 10, e + 30) if 0 <= t <= n_sweeps)
    return sorted(ts)


def render_frame(res: xor.TrainResult, t: int, arch: str, seed: int) -> np.ndarray:
    """One RGB frame (H, W, 3) uint8 at sweep t."""
    fig = plt.figure(figsize=(8.4, 3.6), dpi=80)
    ax_s = fig.add_axes([0.06, 0.14, 0.36, 0.74])
    ax_l = fig.add_axes([0.55, 0.14, 0.42, 0.74])
    viz.draw_surface(ax_s, viz.params_at(res, t), f"{arch}, seed {seed}: sweep {t}")
    E = res.history["loss"][:, 0]
    ax_l.plot(np.arange(t + 1), E[: t + 1], color="C0", lw=1.8)
    ax_l.plot([t], [E[t]], "o", color="C0")
    ax_l.set_xlim(0, len(E) - 1)
    ax_l.set_ylim(E.min() * 0.9, E.max() * 1.1)
    ax_l.set_yscale("log")
    ax_l.set_xlabel("sweep (epoch)")
    ax_l.set_ylabel("error E (mean over patterns)")
    for pe in res.perturb_epochs[0]:
        if pe <= t:
            ax_l.axvline(pe, color="C3", ls=":", lw=1.5)
            ax_l.text(pe, E.max() * 1.05, " perturbed", color="C3", fontsize=8, va="top")
    ce = int(res.converged_epoch[0])
    if 0 <= ce <= t:
        ax_l.axvline(ce, color="C2", ls="--", lw=1.5)
        ax_l.text(ce, E.max(), "converged ", color="C2", fontsize=8, ha="right", va="top")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def make_gif(seed: int, arch: str, outdir: Path, n_frames: int = 56) -> Path:
    """Write outdir/xor.gif and return its path."""
    res = xor.train([seed], xor.Config(arch=arch), record_history=True)
    n = len(res.history["loss"]) - 1
    ts = frame_epochs(n, n_frames, res.perturb_epochs[0])
    frames = [render_frame(res, t, arch, seed) for t in ts]
    frames += [frames[-1]] * 12  # hold the final state
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / "xor.gif"
    imageio.mimsave(path, frames, duration=0.12, loop=0)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = xor.CleanArgumentParser(prog="make_xor_gif.py", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="seed of the pictured run")
    ap.add_argument("--arch", choices=sorted(xor.ARCHS), default="2-2-1")
    ap.add_argument("--outdir", type=Path, default=HERE, help="folder for xor.gif")
    a = ap.parse_args(argv)
    if a.seed < 0:
        ap.error(f"--seed must be >= 0 (got {a.seed})")
    path = make_gif(a.seed, a.arch, a.outdir)
    print(f"make_xor_gif: wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
