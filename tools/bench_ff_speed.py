#!/usr/bin/env python3
"""Side-by-side speed of ff_hybrid_mnist's non-matmul passes against their plain versions.

Each pair computes the same numbers (the tests check that to the bit); this script only
times them, alternating A and B in one process so a change in the machine's load hits
both, and reports the median time of each and the median of the pairwise ratios B / A
(the speed-up). It then runs train_ff for one short epoch on each preset's network and
reports its matmul_fraction (with 100 and 200 positives per step) next to that of its
matmuls alone, and, on a CPU with AVX-512, times that loop with the AVX2
kernels every ff_hybrid_mnist.py run pins against the CPU's own. Shapes are the fast
preset's (784-1000x4, batch 100 + 100, read-out on 3,000 features in batches of 500) and
the full preset's 2000 x 2000 weight matrices.

    python3 tools/bench_ff_speed.py --json ff-hybrid-mnist/results/speed_bench.json

Writes nothing without --json (prints the table). Exit 2 on bad arguments, 130 on
Ctrl-C, 74 when the record cannot be written.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np

FF_DIR = Path(__file__).resolve().parent.parent / "ff-hybrid-mnist"
sys.path.insert(0, str(FF_DIR))

import ff_hybrid_mnist as ff  # noqa: E402
import run_all  # noqa: E402  (tools/ is this script's own folder)


def plain_masks(rng: np.random.Generator, n: int, n_blur: int = 6) -> np.ndarray:
    """The v1 mask loop: padded blur on blocks of 1024 masks, one thread."""
    bits = rng.random((n, 28, 28), dtype=np.float32) < 0.5
    out = np.empty((n, 784), np.float32)
    for s in range(0, n, 1024):
        M = bits[s : s + 1024].astype(np.float32)
        for _ in range(n_blur):
            M = ff.blur_kernel_pass(M)
        out[s : s + 1024] = (M > 0.5).reshape(-1, 784)
    return out


def plain_softmax_backward(cache):
    """dW = F^T dZ without the power-of-two scaling (subnormal operands stay)."""
    P, F, y = cache["P"], cache["F"], cache["y"]
    D = P.copy()
    D[np.arange(F.shape[0]), y] -= 1.0
    D /= F.shape[0]
    return F.T @ D, D.sum(axis=0)


class PlainSGD:
    """The momentum-SGD step as the catalog had it before: the same row blocks, but the
    weight cost and the rate scaled into the gradient buffer in place, through a
    scratch array the size of the whole matrix (the same rounding as ff.SGD)."""

    def __init__(self, shape):
        self.m = np.zeros(shape, np.float32)
        self.tmp = np.zeros(shape, np.float32)
        self.mu = 0.9

    def step(self, p, grad, lr, weight_cost=0.0):
        for sl in ff.row_blocks(p):
            g, m, w = grad[sl], self.m[sl], p[sl]
            if weight_cost:
                tmp = self.tmp[sl]
                np.multiply(w, weight_cost, out=tmp)
                g += tmp
            m *= self.mu
            g *= lr
            m += g
            w -= m


def sgd_pair(rng: np.random.Generator):
    """(new, plain, setup) for one SGD step on a 2000 x 2000 layer; setup (untimed)
    restores the gradient that the plain step overwrites."""
    p = rng.standard_normal((2000, 2000), dtype=np.float32)
    g = rng.standard_normal((2000, 2000), dtype=np.float32)
    p_new, p_plain, gbuf = p.copy(), p.copy(), np.empty_like(g)
    new, plain = ff.SGD(p.shape), PlainSGD(p.shape)
    return (
        lambda: new.step(p_new, gbuf, 1e-6, 0.004),
        lambda: plain.step(p_plain, gbuf, 1e-6, 0.004),
        lambda: np.copyto(gbuf, g),
    )


def cases(rng: np.random.Generator) -> dict:
    """name -> (new callable, plain callable, what)."""
    # read-out step on sharp logits: most class probabilities are subnormal, as late in
    # a read-out's training
    F = np.abs(rng.standard_normal((500, 3000), dtype=np.float32))
    y = rng.integers(0, 10, 500)
    W = (30 * rng.standard_normal((3000, 10)) / np.sqrt(3000)).astype(np.float32)
    _, cache = ff.softmax_forward(W, np.zeros(10, np.float32), F, y)
    layers = ff.init_layers(rng, [784, 1000, 1000, 1000, 1000])
    X = rng.random((10000, 784), dtype=np.float32)
    sgd_new, sgd_plain, sgd_setup = sgd_pair(rng)
    return {
        "sgd_step_2000x2000": (
            sgd_new,
            sgd_plain,
            "momentum-SGD step with weight cost, one 2000 x 2000 layer",
            sgd_setup,
        ),
        "readout_backward_500x3000": (
            lambda: ff.softmax_backward(cache),
            lambda: plain_softmax_backward(cache),
            "read-out weight gradient, batch 500, 3,000 features, subnormal probabilities",
        ),
        "masks_60000": (
            lambda: ff.make_masks(np.random.default_rng(1), 60000),
            lambda: plain_masks(np.random.default_rng(1), 60000),
            "one epoch of hybrid masks (60,000, 6 blurs)",
        ),
        "readout_features_10000": (
            lambda: ff.readout_features(layers, X),
            lambda: np.concatenate(ff.forward_features(layers, X)[-3:], axis=1),
            "read-out features of 10,000 images through 784-1000x4",
        ),
    }


def bench(new, plain, reps: int, setup=None) -> dict:
    """Median times of new() and plain(), alternating, and the ratios plain / new;
    setup(), when given, runs untimed before every call."""
    setup = setup or (lambda: None)
    for fn in (new, plain):  # warm up
        setup()
        fn()
    tn, tp = [], []
    for _ in range(reps):
        for fn, out in ((new, tn), (plain, tp)):
            setup()
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    ratios = [b / a for a, b in zip(tn, tp, strict=True)]
    return {
        "new_median_s": round(statistics.median(tn), 6),
        "plain_median_s": round(statistics.median(tp), 6),
        "speedup_median": round(statistics.median(ratios), 3),
        "speedup_min": round(min(ratios), 3),
        "speedup_max": round(max(ratios), 3),
    }


def sgd_step_s(reps: int) -> float:
    """Median seconds of one momentum-SGD step (with weight cost) on a 2000 x 2000
    layer, the full preset's optimiser work per layer and training step."""
    rng = np.random.default_rng(1)
    p = rng.standard_normal((2000, 2000), dtype=np.float32)
    g = rng.standard_normal((2000, 2000), dtype=np.float32)
    gbuf = np.empty_like(g)
    opt = ff.SGD(p.shape)
    times = []
    for _ in range(reps + 1):
        gbuf[...] = g
        t = time.perf_counter()
        opt.step(p, gbuf, 1e-6, 0.004)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def matmuls_alone_s(layers: list[dict], X: np.ndarray, steps: int) -> float:
    """Seconds per step of train_ff's matmuls and nothing else: per layer the forward
    product of the stacked (2B, d_in) batch and the weight-gradient product, into the
    same preallocated buffers and in the same order as the training loop, `steps` times
    (best of three blocks). Every other pass is left out, so this is the loop's ceiling:
    the fraction no removal or fusion of the other passes can exceed."""
    Hs = [np.empty((X.shape[0], L["W"].shape[1]), np.float32) for L in layers]
    dWs = [np.empty_like(L["W"]) for L in layers]
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(steps):
            h = X
            for L, H, dW in zip(layers, Hs, dWs, strict=True):
                np.matmul(h, L["W"], out=H)
                np.matmul(h.T, H, out=dW)
                h = H
        best = min(best, (time.perf_counter() - t) / steps)
    return best


def loop_fraction(sizes: list[int], steps: int = 40, batch: int | None = None) -> dict:
    """matmul_fraction of train_ff itself on random images: one epoch of `steps` steps
    of batch + batch rows (default: the fast preset's batch), against the fastest
    same-process benchmark of the largest layer (the definition the records use); and
    the same fraction for the loop's matmuls alone (matmuls_alone_s), its ceiling."""
    B = batch or ff.PRESETS["fast"]["batch_size"]
    rng = np.random.default_rng(2)
    X = rng.random((B * steps, 784), dtype=np.float32)
    cfg = {
        **ff.DEFAULTS,
        **ff.PRESETS["fast"],
        "layer_sizes": sizes,
        "batch_size": B,
        "epochs": 1,
        "bench_min_time_s": 0.5,
    }
    bench = ff.measure_matmul_gflops(sizes, 2 * B, 0.5)
    layers, hist = ff.train_ff(X, cfg, rng, log=lambda *a, **k: None)
    alone = matmuls_alone_s(layers, ff.length_normalise(X[: 2 * B]), steps)
    best = max([bench, *hist["matmul_gflops_samples"], ff.measure_matmul_gflops(sizes, 2 * B, 0.5)])
    achieved = hist["matmul_flops"] / hist["ff_train_s"] / 1e9
    flops_per_step = hist["matmul_flops"] / steps
    return {
        "layer_sizes": sizes,
        "batch_size": B,
        "steps": steps,
        "ms_per_step": round(1e3 * hist["ff_train_s"] / steps, 4),
        "achieved_gflops": round(achieved, 4),
        "benchmark_gflops": round(best, 4),
        "matmul_fraction": round(achieved / best, 4),
        "matmuls_alone_ms_per_step": round(1e3 * alone, 4),
        "matmuls_alone_fraction": round(flops_per_step / alone / 1e9 / best, 4),
    }


def bundled_openblas():
    """(sgemm, saxpy) from the OpenBLAS inside numpy's wheel through ctypes, or None.

    Only this benchmark uses them, to measure a design the catalog does not ship: the
    symbols are private to the wheel (64-bit-integer CBLAS, prefix scipy_), and the
    fused update rounds differently from the numpy one, so results would depend on
    which numpy is installed.
    """
    import ctypes

    libs = sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(str(path))
            sgemm, saxpy = lib.scipy_cblas_sgemm64_, lib.scipy_cblas_saxpy64_
        except (OSError, AttributeError):
            continue
        i32, i64, f32, ptr = ctypes.c_int, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
        sgemm.argtypes = [i32, i32, i32, i64, i64, i64, f32, ptr, i64, ptr, i64, f32, ptr, i64]
        saxpy.argtypes = [i64, f32, ptr, i64, ptr, i64]
        sgemm.restype = saxpy.restype = None
        return sgemm, saxpy
    return None


def ff_steps(layers, opts, X, steps: int, lr: float, blas=None) -> None:
    """`steps` FF updates of every layer on the stacked batch X (first half positive),
    with the fast preset's recipe (sum goodness, threshold 1 per unit, peer
    normalisation 0.06, momentum 0.9, weight cost 0.004).

    blas=None: train_ff's numpy update (ff_layer_backward, then SGD.step). blas=(sgemm,
    saxpy): the fused update, m <- 0.9 m + X^T (lr dZ) in one sgemm call (beta = 0.9),
    m += lr * 0.004 W and W -= m as two saxpy calls: the same rule, other rounding.
    """
    B = X.shape[0] // 2
    sign = np.concatenate([np.ones(B), -np.ones(B)]).astype(np.float32)
    for _ in range(steps):
        h = X
        for L, (oW, ob, mean_act) in zip(layers, opts, strict=True):
            d = L["W"].shape[1]
            _, cache = ff.ff_layer_forward(L["W"], L["b"], h, sign, float(d), "sum")
            nxt = ff.length_normalise(cache["H"])
            mean_act *= 0.9
            mean_act += 0.1 * cache["H"][:B].mean(axis=0)
            pdz = ff.peer_norm_dz(mean_act, 0.06, B)
            if blas is None:
                dW, db = ff.ff_layer_backward(cache, overwrite_H=True, peer_dz=pdz)
                oW.step(L["W"], dW, lr, weight_cost=0.004)
                ob.step(L["b"], db, lr)
            else:
                sgemm, saxpy = blas
                dg = -sign * ff.sigmoid(-cache["margin"]) * cache["weight"] * 2.0
                dZ = cache["H"]
                dZ *= (lr * dg).astype(np.float32)[:, None]
                dZ[:B] += (lr * pdz).astype(np.float32)
                W, m = L["W"], oW.m
                a = h.ctypes.data
                sgemm(101, 112, 111, *W.shape, 2 * B, 1.0, a, h.shape[1], dZ.ctypes.data,
                      d, 0.9, m.ctypes.data, d)  # fmt: skip
                saxpy(W.size, lr * 0.004, W.ctypes.data, 1, m.ctypes.data, 1)
                saxpy(W.size, -1.0, m.ctypes.data, 1, W.ctypes.data, 1)
                ob.m *= 0.9
                ob.m += dZ.sum(axis=0)
                L["b"] -= ob.m
            h = nxt


def fused_update(sizes: list[int], steps: int, reps: int) -> dict:
    """ms per step and matmul_fraction of the numpy update and the fused BLAS update
    (ff_steps), alternating blocks of `steps` steps `reps` times on two copies of the
    same network. first_step_difference: after one step from the same start, the largest
    difference between the two updated weight matrices over the largest weight change
    (rounding level when both compute the same rule)."""
    blas = bundled_openblas()
    if blas is None:
        return {"layer_sizes": sizes, "available": False}
    X = ff.length_normalise(np.random.default_rng(3).random((200, sizes[0]), dtype=np.float32))
    nets = []
    for _ in range(2):
        layers = ff.init_layers(np.random.default_rng(4), sizes)
        opts = [(ff.SGD(L["W"].shape), ff.SGD(L["b"].shape), np.full(L["b"].shape, 0.5, np.float32))
                for L in layers]  # fmt: skip
        nets.append((layers, opts))
    W0 = [L["W"].copy() for L in nets[0][0]]
    for (layers, opts), b in zip(nets, (None, blas), strict=True):
        ff_steps(layers, opts, X, 1, 1e-4, b)
    first = max(
        float(np.abs(p["W"] - q["W"]).max() / np.abs(p["W"] - w).max())
        for p, q, w in zip(nets[0][0], nets[1][0], W0, strict=True)
    )
    times = {"numpy": [], "fused": []}
    for _ in range(reps):
        for (layers, opts), name, b in zip(nets, times, (None, blas), strict=True):
            t = time.perf_counter()
            ff_steps(layers, opts, X, steps, 1e-4, b)
            times[name].append((time.perf_counter() - t) / steps)
    flops = sum(2 * 2 * 200 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    bench = ff.measure_matmul_gflops(sizes, 200, 0.5)
    out = {"layer_sizes": sizes, "available": True, "steps": steps * reps}
    for name, ts in times.items():
        sec = statistics.median(ts)
        out[f"{name}_ms_per_step"] = round(1e3 * sec, 3)
        out[f"{name}_matmul_fraction"] = round(flops / sec / 1e9 / bench, 4)
    out["benchmark_gflops"] = round(bench, 2)
    out["first_step_difference"] = first
    return out


PIN = ff.PINNED_KERNELS
OWN = dict.fromkeys(PIN, "")
_PROBE = (
    "import json, sys; sys.path[:0] = sys.argv[1:3]; import bench_ff_speed as b; "
    "print(json.dumps([b.loop_fraction(s) for s in ([784] + [1000] * 4, [784] + [2000] * 4)]))"
)


def kernel_pair(reps: int) -> dict:
    """train_ff's ms per step (loop_fraction, both presets' networks) with the AVX2
    kernels that ff_hybrid_mnist.py pins and with the CPU's own, each in a fresh process
    (the kernels are chosen when numpy starts), alternating; the median ratio own / pinned
    per network. Only measured on a CPU with AVX-512, where the two differ."""
    import json
    import subprocess

    if not ff._cpu_flag("avx512f"):
        return {"available": False, "why": "the CPU has no AVX-512: both choices are the same"}
    here = str(Path(__file__).resolve().parent)
    runs = {"pinned": [], "own": []}
    for _ in range(reps):
        for name, env in (("pinned", PIN), ("own", OWN)):
            out = subprocess.run(
                [sys.executable, "-c", _PROBE, here, str(FF_DIR)],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    res = {"available": True, "reps": reps}
    for k, net in enumerate(("784-1000x4", "784-2000x4")):
        pin = [r[k]["ms_per_step"] for r in runs["pinned"]]
        own = [r[k]["ms_per_step"] for r in runs["own"]]
        res[net] = {
            "pinned_ms_per_step": round(statistics.median(pin), 3),
            "own_ms_per_step": round(statistics.median(own), 3),
            "own_over_pinned_median": round(
                statistics.median(b / a for a, b in zip(pin, own, strict=True)), 3
            ),
            "pinned_benchmark_gflops": round(
                statistics.median(r[k]["benchmark_gflops"] for r in runs["pinned"]), 1
            ),
            "own_benchmark_gflops": round(
                statistics.median(r[k]["benchmark_gflops"] for r in runs["own"]), 1
            ),
        }
    return res


def build_parser():
    p = ff.CleanParser(prog="bench_ff_speed.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--reps", type=ff.int_in(1, 50), default=7, help="alternating pairs (int, 1..50)"
    )
    p.add_argument("--json", help="write the record to this path (.json; default: no file)")
    return p


def _stop(signum, frame):
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    sys.stderr.write(f"bench_ff_speed.py: {word}\n")
    os._exit(130 if signum == signal.SIGINT else 143)


def main(argv=None) -> int:
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json is not None:
        ff.check_output_path(parser, "--json", args.json, ".json")
    t0 = time.perf_counter()
    rows = {}
    for name, (new, plain, what, *setup) in cases(np.random.default_rng(0)).items():
        rows[name] = {"what": what, **bench(new, plain, args.reps, *setup)}
        r = rows[name]
        print(
            f"{name:28s} new {r['new_median_s'] * 1e3:9.2f} ms  plain "
            f"{r['plain_median_s'] * 1e3:9.2f} ms  speed-up x{r['speedup_median']:.2f} "
            f"({r['speedup_min']:.2f}-{r['speedup_max']:.2f})",
            flush=True,
        )
    loops = {}
    for sizes in ([784, 1000, 1000, 1000, 1000], [784, 2000, 2000, 2000, 2000]):
        for batch in (100, 200):
            net = f"{sizes[0]}-{sizes[1]}x{len(sizes) - 1}"
            r = loops[f"{net} B{batch}"] = loop_fraction(sizes, batch=batch)
            print(
                f"train_ff {net}, {batch} + {batch} rows: {r['ms_per_step']:.1f} ms/step, "
                f"{r['achieved_gflops']:.0f} of {r['benchmark_gflops']:.0f} GFLOP/s, "
                f"matmul_fraction {r['matmul_fraction']:.3f} (matmuls alone "
                f"{r['matmuls_alone_fraction']:.3f})",
                flush=True,
            )
    fused = fused_update([784, 2000, 2000, 2000, 2000], steps=10, reps=max(args.reps // 2, 1))
    if fused["available"]:
        print(
            f"fused BLAS update, 784-2000x4: numpy {fused['numpy_ms_per_step']:.1f} ms/step "
            f"(fraction {fused['numpy_matmul_fraction']:.3f}), fused "
            f"{fused['fused_ms_per_step']:.1f} ms/step (fraction "
            f"{fused['fused_matmul_fraction']:.3f}), first-step difference "
            f"{fused['first_step_difference']:.1e}",
            flush=True,
        )
    kernels = kernel_pair(args.reps)
    if kernels["available"]:
        for net in ("784-1000x4", "784-2000x4"):
            k = kernels[net]
            print(
                f"CPU kernels, {net}: pinned AVX2 {k['pinned_ms_per_step']:.1f} ms/step, the "
                f"CPU's own {k['own_ms_per_step']:.1f} ms/step (own / pinned "
                f"x{k['own_over_pinned_median']:.2f})",
                flush=True,
            )
    record = {
        "what": "non-matmul passes of ff_hybrid_mnist, new vs plain, alternating in one process",
        "command": "python3 tools/bench_ff_speed.py --json "
        "ff-hybrid-mnist/results/speed_bench.json",
        "reps": args.reps,
        "elementwise_threads": ff.elementwise_threads(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "cases": rows,
        "train_ff_loop": loops,
        "fused_blas_update": fused,
        "cpu_kernels": kernels,
        "sgd_step_2000x2000_s": round(sgd_step_s(5 * args.reps), 6),
        "machine": run_all.machine_description(),
        "env": ff.env_block(),
        "wall_time_s": round(time.perf_counter() - t0, 2),
    }
    if args.json is not None:
        try:
            ff.write_atomic(args.json, ff.record_json(record))
        except ff.OutputError as e:
            print(f"bench_ff_speed.py: {e}", file=sys.stderr)
            return 74
    return 0


if __name__ == "__main__":
    sys.exit(main())
