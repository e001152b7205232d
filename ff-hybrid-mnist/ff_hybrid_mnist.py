"""Unsupervised Forward-Forward on real MNIST with hybrid-image negatives.

Hinton, G. (2022). "The Forward-Forward Algorithm: Some Preliminary Investigations."
arXiv:2212.13345, section 3.2 ("A simple unsupervised example of FF").

Read top to bottom:

1. data      -- IDX parser, sha256 check of the uncompressed bytes, 60k/10k split
2. negatives -- hybrid images m*a + (1-m)*b with a blurred, thresholded random mask
3. model     -- fully connected ReLU layers, input length-normalised, goodness
4. learning  -- per-layer logistic FF loss, forward/backward as pure functions, SGD, Adam
5. training  -- all layers trained together on each mini-batch, no gradient between layers
6. read-out  -- linear softmax on the normalised activities of the last three layers
7. CLI       -- presets smoke|fast|full, record written atomically with --json

Float32 in the hot path; the gradients are finite-difference checked in float64 by
test_ff_hybrid_mnist.py.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _early_signal_exit(signum, frame):  # until main() installs its own handlers
    code = 130 if signum == signal.SIGINT else 143
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {word}\n")
    os._exit(code)


SMOKE_ARGS = ("--smoke", "--preset=smoke")
#: The AVX2 kernels of OpenBLAS and numpy, which every run uses on a CPU with AVX2 (set in
#: the environment before numpy starts; see below).
PINNED_KERNELS = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}


def _cpu_flag(flag: str) -> bool | None:
    """Whether /proc/cpuinfo lists `flag` (None where there is no /proc/cpuinfo)."""
    try:
        return flag in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return None


if __name__ == "__main__":  # before the slow numpy import: a signal never shows a traceback
    signal.signal(signal.SIGTERM, _early_signal_exit)
    signal.signal(signal.SIGINT, _early_signal_exit)
    _argv = sys.argv[1:]
    _preset = _argv[_argv.index("--preset") + 1 :][:1] if "--preset" in _argv else []
    if any(a in SMOKE_ARGS for a in _argv) or "smoke" in _preset:
        # The smoke run (CI, golden record) uses one BLAS thread, so its result does not
        # depend on the machine's core count (the thread count changes float32 sums).
        for _k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(_k, "1")
    # Every run uses the AVX2 kernels of OpenBLAS and numpy on any x86-64 CPU that has
    # them, so its result does not depend on the CPU model: an AVX-512 CPU's own kernels
    # round differently, and FF training amplifies that to whole test digits (the README's
    # "CPU kernels" table, from results/headline.json and results/fast_kernel_avx512.json).
    # An explicit setting in the environment wins; an empty one restores the CPU's own.
    if _cpu_flag("avx2"):
        for _k, _v in PINNED_KERNELS.items():
            os.environ.setdefault(_k, _v)

import numpy as np  # noqa: E402

HEADLINE_ARGS = ["--preset", "fast"]
HEADLINE_BUDGET_S = 1500
# The catalog's full run (results/full.json): the paper's network on all 60,000 images,
# two seeds side by side (one core and one BLAS thread each), planned for the paper's 100
# epochs; the FF time budget of 8,100 s per seed refits the epoch count to the machine's
# pace, so both seeds fit one working session on 2 cores. The choices it uses were made
# on held-out images (the ablations and results/full_55k_seed0.json).
FULL_ARGS = [
    "--preset",
    "full",
    "--sweep",
    "2",
    "--workers",
    "2",
    "--time-budget-s",
    "8100",
]
FULL_BUDGET_S = 9600

PROG = "ff_hybrid_mnist.py"
HERE = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = HERE / "data"
PAPER = "Hinton (2022), The Forward-Forward Algorithm, arXiv:2212.13345"
PAPER_TEST_ERROR_PCT = 1.37
REFERENCE_V1_TEST_ERROR_PCT = 5.21
FAST_GOAL_TEST_ERROR_PCT = 2.0

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(Exception):
    """Missing, unreadable or corrupt input data (reported as a one-line CLI error)."""


# ----------------------------------------------------------------------------- 1. data


def parse_idx(raw: bytes) -> np.ndarray:
    """Parse an IDX file (LeCun's MNIST format) from its uncompressed bytes.

    Layout: two zero bytes, a type code (0x08 = uint8 is the only one MNIST uses), the
    number of dimensions d, then d big-endian uint32 sizes, then the data in C order.

    Args:
        raw: the whole uncompressed file.
    Returns:
        uint8 array of the stored shape (e.g. (60000, 28, 28) or (60000,)).
    Raises:
        DataError: bad magic number, unsupported type code, or wrong data length.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError("not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise DataError(f"unsupported IDX type code 0x{raw[2]:02x} (only uint8 0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n = int(np.prod(shape, dtype=np.int64)) if ndim else 1
    if len(raw) - header != n:
        raise DataError(f"IDX data length {len(raw) - header} does not match shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_checksums(data_dir: Path) -> dict[str, str]:
    """Read SHA256SUMS.uncompressed ("<hex>  <name>" lines) from data_dir.

    Raises:
        DataError: the file is missing or unreadable.
    """
    path = Path(data_dir) / "SHA256SUMS.uncompressed"
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise DataError(f"cannot read checksum file {path}: {e.strerror or e}") from None
    sums = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


#: The shape each MNIST file must have; the uncompressed size follows from it.
MNIST_SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


def idx_size(shape: tuple[int, ...]) -> int:
    """Bytes of an uint8 IDX file of this shape: 4-byte magic, 4 bytes per dimension, data."""
    return 4 + 4 * len(shape) + int(np.prod(shape, dtype=np.int64))


def read_gzip_capped(path: Path, limit: int) -> bytes:
    """Decompress a gzip file, refusing to expand it beyond `limit` bytes (gzip bomb).

    Raises:
        DataError: corrupt or truncated gzip stream, or more than `limit` bytes; the
            message names the file.
        OSError: the file cannot be opened or read.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read(limit + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip stream ({e})") from None
    if len(raw) > limit:
        raise DataError(f"{path}: expands beyond the expected {limit} bytes; refusing to read it")
    return raw


def load_idx_file(data_dir: Path, name: str, sums: dict[str, str]) -> np.ndarray:
    """Load `<name>.gz` (or uncompressed `<name>`), verify its sha256, shape and values.

    The checksum is of the uncompressed bytes, so it does not depend on the compressor.
    Decompression stops at the expected size (MNIST_SHAPES), so a gzip bomb is refused
    without being expanded; label files must hold values 0-9.

    Returns:
        uint8 array of the file's MNIST shape.
    Raises:
        DataError: file missing/unreadable, corrupt gzip stream, too large, checksum
            mismatch, bad IDX header, wrong shape or labels outside 0-9; every message
            names the file.
    """
    data_dir = Path(data_dir)
    expected = sums.get(name)
    if expected is None:
        raise DataError(f"no checksum for {name} in {data_dir / 'SHA256SUMS.uncompressed'}")
    gz, plain = data_dir / (name + ".gz"), data_dir / name
    shape = MNIST_SHAPES.get(name)
    limit = idx_size(shape) if shape is not None else 1 << 28
    shown = gz if gz.exists() else plain
    try:
        if gz.exists():
            raw = read_gzip_capped(gz, limit)
        else:
            with open(plain, "rb") as f:
                raw = f.read(limit + 1)
            if len(raw) > limit:
                raise DataError(f"{plain}: larger than the expected {limit} bytes")
    except OSError as e:
        raise DataError(
            f"cannot read {gz} ({e.strerror or e}); "
            f"expected sha256 {expected} of the uncompressed bytes"
        ) from None
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise DataError(
            f"checksum mismatch for {shown}: sha256 of uncompressed bytes is {got}, "
            f"expected {expected}"
        )
    try:
        arr = parse_idx(raw)
    except DataError as e:
        raise DataError(f"{shown}: {e}") from None
    if shape is not None and arr.shape != shape:
        raise DataError(f"{shown}: shape {arr.shape}, expected {shape}")
    if "labels" in name and arr.size and int(arr.max()) > 9:
        raise DataError(f"{shown}: label values outside 0-9 (max {int(arr.max())})")
    return arr


def load_mnist(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, np.ndarray]:
    """Load and verify the four MNIST IDX files.

    Returns:
        dict with "train_images" uint8 (60000, 784), "train_labels" uint8 (60000,),
        "test_images" uint8 (10000, 784), "test_labels" uint8 (10000,).
    Raises:
        DataError: see load_idx_file.
    """
    sums = read_checksums(data_dir)
    out = {}
    for key, name in MNIST_FILES.items():
        arr = load_idx_file(data_dir, name, sums)
        out[key] = arr.reshape(arr.shape[0], -1) if arr.ndim == 3 else arr
    return out


# ------------------------------------------------------------------- elementwise threads

_POOL: dict[int, ThreadPoolExecutor] = {}


def elementwise_threads() -> int:
    """How many threads share the large elementwise passes (hybrid masks and mixing).

    The BLAS thread count when OPENBLAS_NUM_THREADS is set (1 in a sweep's workers and in
    the smoke run, so those stay single-threaded), else the CPUs this process may run on;
    at most 8. Elementwise results do not depend on it: every element is computed by the
    same float32 operations in the same order whichever thread does it.
    """
    try:
        n = int(os.environ.get("OPENBLAS_NUM_THREADS") or len(os.sched_getaffinity(0)))
    except (ValueError, AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def run_split(fn, items: list, threads: int | None = None) -> None:
    """Call fn(item) for every item, split into contiguous groups over threads.

    numpy releases the interpreter lock inside large ufunc loops, so the groups run in
    parallel. fn must write disjoint outputs per item. An exception in any group is raised
    here after all groups have finished.
    """
    k = min(threads or elementwise_threads(), len(items))
    if k <= 1:
        for it in items:
            fn(it)
        return
    if k not in _POOL:
        _POOL[k] = ThreadPoolExecutor(k, thread_name_prefix="ff-elementwise")
    size = -(-len(items) // k)
    groups = [items[i : i + size] for i in range(0, len(items), size)]

    def work(group):
        for it in group:
            fn(it)

    for f in [_POOL[k].submit(work, g) for g in groups]:
        f.result()


# ------------------------------------------------------------------------ 2. negatives


def blur_kernel_pass(M: np.ndarray) -> np.ndarray:
    """One pass of the [1/4, 1/2, 1/4] filter along both image axes (edge-padded).

    The reference for blur_pass_inplace (same values to the bit).

    Args:
        M: float array (n, H, W). Returns a new array of the same shape and dtype.
    """
    P = np.pad(M, ((0, 0), (1, 1), (0, 0)), mode="edge")
    M = 0.25 * P[:, :-2] + 0.5 * P[:, 1:-1] + 0.25 * P[:, 2:]
    P = np.pad(M, ((0, 0), (0, 0), (1, 1)), mode="edge")
    return 0.25 * P[:, :, :-2] + 0.5 * P[:, :, 1:-1] + 0.25 * P[:, :, 2:]


def blur_pass_inplace(M: np.ndarray, T: np.ndarray, Q: np.ndarray) -> None:
    """M <- blur_kernel_pass(M), in place and without padded copies.

    Each output element is (1/4 up + 1/2 centre) + 1/4 down (edges repeat), the same two
    roundings as blur_kernel_pass: scaling by 1/4 and 1/2 is exact and float addition
    is commutative, so the result is identical to the bit.

    Args:
        M: float32 (n, H, W), overwritten with the result. T, Q: float32 scratch buffers
            of M's shape.
    """
    for axis, src, dst in ((1, M, T), (2, T, M)):
        np.multiply(src, 0.25, out=Q)
        np.multiply(src, 0.5, out=dst)
        tail, head, first, last = ([slice(None)] * 3 for _ in range(4))
        tail[axis], head[axis] = slice(1, None), slice(None, -1)
        first[axis], last[axis] = slice(0, 1), slice(-1, None)
        dst[tuple(tail)] += Q[tuple(head)]  # the neighbour before (edge: itself)
        dst[tuple(first)] += Q[tuple(first)]
        dst[tuple(head)] += Q[tuple(tail)]  # the neighbour after (edge: itself)
        dst[tuple(last)] += Q[tuple(last)]


def make_masks(rng: np.random.Generator, n: int, n_blur: int = 6, side: int = 28) -> np.ndarray:
    """Hybrid-image masks of section 3.2: a random binary image blurred n_blur times with
    [1/4, 1/2, 1/4] in both directions, then thresholded at 0.5.

    Returns:
        float32 array (n, side*side) of 0/1 values with large coherent regions.
    """
    bits = rng.random((n, side, side), dtype=np.float32) < 0.5
    out = np.empty((n, side * side), np.float32)
    chunk = 256  # blur a cache-sized block of masks at a time

    def blur_chunk(s: int) -> None:
        M = bits[s : s + chunk].astype(np.float32)
        buf, Q = np.empty_like(M), np.empty_like(M)
        for _ in range(n_blur):
            blur_pass_inplace(M, buf, Q)
        np.greater(M, 0.5, out=buf)
        out[s : s + chunk] = buf.reshape(-1, side * side)

    run_split(blur_chunk, list(range(0, n, chunk)))
    return out


def make_hybrids(
    X: np.ndarray, rng: np.random.Generator, n_blur: int = 6
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Negative data: hybrids m*a + (1-m)*b of two different random digits a, b.

    Args:
        X: float32 (n, 784) images in [0, 1].
    Returns:
        (hybrids float32 (n, 784), masks float32 (n, 784), index of a, index of b).
    """
    n = X.shape[0]
    ia = rng.permutation(n)
    ib = rng.permutation(n)
    same = ia == ib
    ib[same] = (ib[same] + 1) % n
    m = make_masks(rng, n, n_blur)
    H = np.empty_like(X)
    chunk = 2048

    def mix(s: int) -> None:  # H = X[ib] * (1 - m) + m * X[ia], a block of rows at a time
        sl = slice(s, s + chunk)
        np.take(X, ib[sl], axis=0, out=H[sl])
        H[sl] *= 1.0 - m[sl]
        H[sl] += m[sl] * X[ia[sl]]

    run_split(mix, list(range(0, n, chunk)))
    return H, m, ia, ib


def neighbour_agreement(M: np.ndarray, side: int = 28) -> float:
    """Fraction of horizontally/vertically adjacent pixel pairs with equal mask values.

    About 0.5 for i.i.d. random binary masks; close to 1 for masks with large regions.
    """
    M = M.reshape(-1, side, side)
    h = (M[:, :, 1:] == M[:, :, :-1]).mean()
    v = (M[:, 1:, :] == M[:, :-1, :]).mean()
    return float((h + v) / 2)


# ---------------------------------------------------------------------------- 3. model


def length_normalise(X: np.ndarray, out: np.ndarray | None = None, eps: float = 1e-8):
    """Scale each row to unit root-mean-square (length sqrt(n_features)).

    This is the paper's "normalise the length of the activity vector" so that only the
    orientation, not the goodness, of the previous layer is passed on. We use unit RMS
    rather than unit length so the scale does not depend on the layer width (the constant
    factor is absorbed by W).

    Args:
        X: float (n, d). out: optional float (n, d) buffer (may be X itself).
    Returns:
        float (n, d), same dtype as X.
    """
    scale = np.einsum("ij,ij->i", X, X)
    scale /= X.shape[1]
    np.sqrt(scale, out=scale)
    scale += eps
    np.reciprocal(scale, out=scale)
    if out is None:
        return X * scale[:, None]
    np.multiply(X, scale[:, None], out=out)
    return out


def init_layers(rng: np.random.Generator, sizes: list[int], dtype=np.float32) -> list[dict]:
    """Weights W (d_in, d_out) ~ N(0, 1/d_in) and zero biases b (d_out,) for each layer."""
    layers = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = (rng.standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(dtype)
        layers.append({"W": W, "b": np.zeros(d_out, dtype=dtype)})
    return layers


def goodness(H: np.ndarray, kind: str = "mean") -> np.ndarray:
    """Goodness of each row: mean (or sum) of squared activities. (n, d) -> (n,)."""
    g = np.einsum("ij,ij->i", H, H)
    if kind == "mean":
        g /= H.shape[1]
    return g


# ------------------------------------------------------------------------- 4. learning


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), numerically stable."""
    return np.logaddexp(0.0, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, numerically stable."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def ff_layer_forward(W, b, X, sign, threshold, kind="mean", H=None):
    """Forward pass of one FF layer and its logistic loss (section 2 of the paper).

    p(positive | x) = sigmoid(goodness(relu(x W + b)) - threshold). The loss is the mean
    over positives of softplus(threshold - g) plus the mean over negatives of
    softplus(g - threshold), in nats.

    Args:
        W: (d_in, d_out), b: (d_out,), X: (n, d_in) already length-normalised input.
        sign: (n,) +1 for positive rows, -1 for negative rows (both kinds present).
        threshold: goodness threshold. kind: "mean" or "sum" goodness.
        H: optional (n, d_out) output buffer.
    Returns:
        (loss float, cache dict with H (n, d_out) activities, g (n,) goodness, and what
        the backward pass needs).
    """
    if H is None:
        H = X @ W
    else:
        np.matmul(X, W, out=H)
    H += b
    np.maximum(H, 0, out=H)
    g = goodness(H, kind)
    margin = sign * (g - threshold)
    n_pos = float(np.count_nonzero(sign > 0))
    n_neg = float(sign.shape[0] - n_pos)
    weight = np.where(sign > 0, 1.0 / n_pos, 1.0 / n_neg).astype(H.dtype)
    loss = float(np.sum(weight * softplus(-margin)))
    cache = {"X": X, "H": H, "g": g, "sign": sign, "margin": margin, "weight": weight}
    cache["kind"] = kind
    k = int(n_pos)
    cache["n_pos_first"] = k if bool(np.all(sign[:k] > 0)) else None
    return loss, cache


def ff_layer_backward(cache, dW=None, overwrite_H=False, peer_dz=None):
    """Gradient of ff_layer_forward's loss with respect to W and b.

    dL/dg = -sign * sigmoid(-margin) * weight; dg/dz = 2h/d (mean) or 2h (sum), since
    relu'(z) h = h. No gradient is passed to the layer below (FF is layer-local).

    Args:
        cache: from ff_layer_forward. dW: optional (d_in, d_out) output buffer.
        overwrite_H: reuse cache["H"] as the dZ buffer (saves a copy in the hot path).
        peer_dz: optional (d_out,) pseudo-gradient added to dZ on every positive row,
            not gated by the ReLU (peer normalisation, see peer_norm_dz). It is not the
            gradient of any loss, so the finite-difference test runs without it.
    Returns:
        (dW (d_in, d_out), db (d_out,)) with W's dtype.
    """
    H, X = cache["H"], cache["X"]
    dg = -cache["sign"] * sigmoid(-cache["margin"]) * cache["weight"]
    dg *= 2.0 / H.shape[1] if cache["kind"] == "mean" else 2.0
    dZ = H if overwrite_H else H.copy()
    dZ *= dg.astype(H.dtype)[:, None]
    if peer_dz is not None:
        n_pos = cache.get("n_pos_first")
        if n_pos is not None:  # positives are the first rows: a view, no gather/scatter
            dZ[:n_pos] += peer_dz.astype(H.dtype)
        else:
            dZ[cache["sign"] > 0] += peer_dz.astype(H.dtype)
    if dW is None:
        dW = X.T @ dZ
    else:
        np.matmul(X.T, dZ, out=dW)
    return dW, dZ.sum(axis=0)


def ff_layer_update_reference(
    W,
    b,
    mW,
    mb,
    X,
    sign,
    threshold,
    lr,
    kind="sum",
    momentum=0.9,
    weight_cost=0.0,
    peer_strength=0.0,
    mean_act=None,
):
    """One FF layer update in plain numpy (no buffers, no in-place tricks): the reference
    the fast training loop (train_ff) is tested against bit for bit, and the function a
    data-movement tracer can run on its own array type.

    Forward: z = X W + b, h = relu(z), goodness g = sum (or mean) of h^2 per row,
    loss = mean over positives of softplus(threshold - g) + mean over negatives of
    softplus(g - threshold) (section 2 of the paper; nats). Backward: dL/dz = dL/dg *
    2h / d_g (d_g = 1 for sum, the width for mean), plus peer_dz on every positive row;
    dW = X^T dZ, db = column sums of dZ. Update (momentum SGD, Hinton's FF code):
    m <- momentum m + lr (grad + weight_cost W) (no weight cost on b); W <- W - m.

    Args:
        W: float32 (d_in, d_out), b: float32 (d_out,), mW, mb: momentum buffers of the
            same shapes. X: float32 (n, d_in), rows already length-normalised.
        sign: float32 (n,), +1 positive rows, -1 negative rows (both present).
        threshold, lr, momentum, weight_cost: floats. kind: "sum" or "mean".
        peer_strength: peer normalisation (0 = off); then mean_act (float32 (d_out,),
            running mean activity on positives) is updated as 0.9 mean_act + 0.1 * (mean
            of h over the positive rows) and drives peer_norm_dz.
    Returns:
        dict with W, b, mW, mb (new arrays), loss (float, nats), h (n, d_out) the
        layer's activities before the update, next_input = length_normalise(h) and
        mean_act (the updated running mean, or None).
    """
    h = np.maximum(X @ W + b, 0)
    g = np.einsum("ij,ij->i", h, h)
    if kind == "mean":
        g = g / h.shape[1]
    margin = sign * (g - threshold)
    n_pos = float(np.count_nonzero(sign > 0))
    weight = np.where(sign > 0, 1.0 / n_pos, 1.0 / (sign.shape[0] - n_pos)).astype(h.dtype)
    loss = float(np.sum(weight * softplus(-margin)))
    dg = -sign * sigmoid(-margin) * weight
    dg = dg * (2.0 / h.shape[1] if kind == "mean" else 2.0)
    dZ = h * dg.astype(h.dtype)[:, None]
    if peer_strength:
        mean_act = mean_act * 0.9 + 0.1 * h[sign > 0].mean(axis=0)
        peer_dz = peer_norm_dz(mean_act, peer_strength, int(n_pos))
        dZ = dZ + np.where((sign > 0)[:, None], peer_dz.astype(h.dtype), 0).astype(h.dtype)
    dW = X.T @ dZ
    db = dZ.sum(axis=0)
    if weight_cost:
        dW = dW + W * weight_cost
    mW = mW * momentum + dW * lr
    mb = mb * momentum + db * lr
    scale = np.sqrt(np.einsum("ij,ij->i", h, h) / h.shape[1]) + 1e-8
    return {
        "W": W - mW,
        "b": b - mb,
        "mW": mW,
        "mb": mb,
        "loss": loss,
        "h": h,
        "next_input": h * (1.0 / scale)[:, None],
        "mean_act": mean_act if peer_strength else None,
    }


def peer_norm_dz(mean_act: np.ndarray, strength: float, n_pos: int) -> np.ndarray:
    """Peer normalisation (Hinton 2022, section 6 and his released FF code): regress each
    unit's running mean activity towards the mean over its layer, so no unit stays off or
    becomes hysterical.

    Added to dZ of every positive row, so a unit whose mean activity is below the layer
    average gets its total input pushed up, even while it is off (not gated by the ReLU,
    which lets it revive dead units).

    Args:
        mean_act: float32 (d_out,) running mean activity of each unit on positive data.
        strength: the regression strength (0 turns it off). n_pos: positive rows per batch.
    Returns:
        float32 (d_out,) to add to each positive row of dZ (descent direction).
    """
    return (-strength / n_pos) * (mean_act.mean() - mean_act)


def row_blocks(p: np.ndarray, block_bytes: int = 1 << 18) -> list[slice]:
    """Slices of p's first axis, each about block_bytes long.

    The optimisers make several elementwise passes over a weight matrix; doing them one
    cache-sized row block at a time keeps the block in cache between passes instead of
    streaming the whole 16 MB matrix from memory once per pass. The arithmetic is the
    same, element by element. 256 KB blocks (four arrays of them fit the 1-2 MB L2 of
    common x86 cores) were the fastest of 16 KB-16 MB in a benchmark on this machine.
    (Sharing the blocks over two threads made no measurable difference to the training
    loop, whose BLAS threads keep the second core busy between matmuls.)
    """
    row_bytes = max(p.itemsize * (p.size // max(p.shape[0], 1)), 1)
    rows = max(block_bytes // row_bytes, 1)
    return [slice(s, min(s + rows, p.shape[0])) for s in range(0, p.shape[0], rows)]


class Adam:
    """Adam (Kingma & Ba 2015) with in-place float32 updates; one per parameter array."""

    def __init__(self, shape, dtype=np.float32, b1=0.9, b2=0.999, eps=1e-8):
        self.m = np.zeros(shape, dtype)
        self.v = np.zeros(shape, dtype)
        self.tmp = np.zeros(shape, dtype)
        self.b1, self.b2, self.eps, self.t = b1, b2, eps, 0

    def step(self, p: np.ndarray, grad: np.ndarray, lr: float, weight_cost: float = 0.0) -> None:
        """p -= lr_t * m / (sqrt(v) + eps) for the gradient grad + weight_cost * p.

        p, grad: float32 arrays of the same shape; grad is overwritten.
        """
        self.t += 1
        b1, b2 = self.b1, self.b2
        lr_t = lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for sl in row_blocks(p):
            g, m, v, tmp, w = grad[sl], self.m[sl], self.v[sl], self.tmp[sl], p[sl]
            if weight_cost:
                np.multiply(w, weight_cost, out=tmp)
                g += tmp
            m *= b1
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            g *= 1 - b1
            m += g
            np.sqrt(v, out=tmp)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr_t
            w -= tmp


class SGD:
    """Momentum SGD, the optimiser of Hinton's FF code (--optimizer sgd).

    m = momentum * m + lr * (grad + weight_cost * p);  p -= m.

    The update runs one cache-sized row block at a time (row_blocks), with the scaled
    gradient lr * (grad + weight_cost * p) formed in a block-sized scratch buffer that
    stays in cache, so each step streams p and m through memory once and grad once,
    read only. Every element sees the same float operations in the same order as the
    plain formula (ff_layer_update_reference), so results are identical to the bit.
    """

    def __init__(self, shape, dtype=np.float32, momentum=0.9, block_bytes: int = 1 << 18):
        self.m = np.zeros(shape, dtype)
        self.blocks = row_blocks(self.m, block_bytes)
        rows = max(sl.stop - sl.start for sl in self.blocks)
        self.scratch = np.empty((rows, *self.m.shape[1:]), dtype)
        self.mu = momentum

    def step(self, p: np.ndarray, grad: np.ndarray, lr: float, weight_cost: float = 0.0) -> None:
        """One update of p in place (L2 weight cost coupled into the gradient, as in the
        paper's code; no weight cost on biases is the caller's choice).

        Args:
            p: float32 array of the optimiser's shape, updated in place.
            grad: float32 array of the same shape, the loss gradient (not modified).
            lr: learning rate. weight_cost: L2 coefficient (0 = none).
        """
        for sl in self.blocks:
            g, m, w = grad[sl], self.m[sl], p[sl]
            s = self.scratch[: g.shape[0]]
            if weight_cost:
                np.multiply(w, weight_cost, out=s)
                np.add(g, s, out=s)
                s *= lr
            else:
                np.multiply(g, lr, out=s)
            m *= self.mu
            m += s
            w -= m


def lr_at(epoch_frac: float, lr: float, schedule: str) -> float:
    """Learning rate at a fraction of training in [0, 1).

    "halfdecay": constant for the first half, then linear decay towards 0 over the second
    half (the schedule of Hinton's FF description); "constant": no decay.
    """
    if schedule == "constant" or epoch_frac < 0.5:
        return lr
    return lr * max(2.0 * (1.0 - epoch_frac), 0.0)


# ------------------------------------------------------------------------- 5. training


class Diverged(Exception):
    """Training produced a non-finite loss or weight (the CLI exits with code 3).

    Attributes: epoch (int, 1-based), what (str: which quantity is not finite).
    """

    def __init__(self, epoch: int, what: str):
        super().__init__(f"diverged at epoch {epoch} ({what} is not finite); lower --lr")
        self.epoch, self.what = epoch, what

    def __reduce__(self):  # picklable across a sweep's worker processes
        return (Diverged, (self.epoch, self.what))


def check_finite_training(epoch: int, losses, layers) -> None:
    """Raise Diverged if a loss or any weight/bias is NaN or inf (once per epoch: one pass
    over the weights, negligible next to an epoch of training)."""
    if not np.all(np.isfinite(losses)):
        raise Diverged(epoch, "the FF loss")
    for i, L in enumerate(layers):
        if not (np.isfinite(L["W"]).all() and np.isfinite(L["b"]).all()):
            raise Diverged(epoch, f"a weight of layer {i + 1}")


def refit_epochs(budget_s: float, elapsed_s: float, done: int, planned: int, current: int) -> int:
    """The total number of FF epochs that fits a time budget, from the pace so far.

    Args:
        budget_s: the FF time budget (seconds); elapsed_s: training time so far (seconds,
            > 0); done: epochs completed (>= 1); planned: the configured epoch count;
            current: the total in force now (planned, or an earlier re-fit).
    Returns:
        done + the whole epochs that fit in the time left at the mean pace, at least done.
        While the learning rate is still constant (done <= current / 2: lr_at starts the
        decay at the first step of epoch floor(current / 2) + 1) the total may move either
        way but never above planned; once the decay has started it can only shrink, which
        compresses the decay. This catalog's rule, for shared machines.
    """
    fit = max(int((budget_s - elapsed_s) // (elapsed_s / done)) + done, done)
    in_first_half = done <= current / 2
    return min(fit, planned) if in_first_half else min(fit, current)


def _bench_s(cfg: dict) -> float:
    """Seconds each matmul benchmark repeats for (cfg "bench_min_time_s", default 0.2;
    the tests lower it: it only affects timing figures, never a result)."""
    return cfg.get("bench_min_time_s", 0.2)


def measure_matmul_gflops(sizes: list[int], batch: int, min_time_s: float = 0.2) -> float:
    """The machine's float32 matmul speed (GFLOP/s) on this run's largest layer.

    Times the pair of products one training step makes per layer -- the forward
    (batch, d_in) @ (d_in, d_out) and the weight gradient (d_in, batch) @ (batch, d_out)
    -- repeatedly for at least min_time_s (and at least 3 times) and returns the speed of
    the fastest repetition, so a momentary stall does not lower the benchmark.
    """
    rng = np.random.default_rng(12345)
    d_in, d_out = max(zip(sizes[:-1], sizes[1:], strict=True), key=lambda t: t[0] * t[1])
    A = rng.standard_normal((batch, d_in), dtype=np.float32)
    B = rng.standard_normal((d_in, d_out), dtype=np.float32)
    C = np.empty((batch, d_out), np.float32)
    D = np.empty((d_in, d_out), np.float32)
    np.matmul(A, B, out=C)
    np.matmul(A.T, C, out=D)
    best, spent, reps = np.inf, 0.0, 0
    while reps < 3 or spent < min_time_s:
        t = time.perf_counter()
        np.matmul(A, B, out=C)
        np.matmul(A.T, C, out=D)
        dt = time.perf_counter() - t
        best, spent, reps = min(best, dt), spent + dt, reps + 1
    return 2.0 * 2.0 * batch * d_in * d_out / best / 1e9


def forward_features(layers, X, batch=2000, dtype=np.float32):
    """Length-normalised activities of every hidden layer for images X (n, 784) in [0,1].

    Returns:
        list of float32 (n, d_l) arrays, one per layer, each row unit-RMS.
    """
    outs = [np.empty((X.shape[0], L["W"].shape[1]), dtype) for L in layers]
    for s in range(0, X.shape[0], batch):
        h = length_normalise(X[s : s + batch].astype(dtype))
        for L, o in zip(layers, outs, strict=True):
            z = h @ L["W"]
            z += L["b"]
            np.maximum(z, 0, out=z)
            o[s : s + batch] = z
            h = length_normalise(z)
    for o in outs:
        length_normalise(o, out=o)
    return outs


def layer_goodness(layers, X, kind="mean", batch=2000):
    """Goodness (n,) of each layer for images X (n, 784); list of float arrays."""
    gs = [np.empty(X.shape[0], np.float32) for _ in layers]
    for s in range(0, X.shape[0], batch):
        h = length_normalise(X[s : s + batch].astype(np.float32))
        for L, g in zip(layers, gs, strict=True):
            z = h @ L["W"]
            z += L["b"]
            np.maximum(z, 0, out=z)
            g[s : s + batch] = goodness(z, kind)
            h = length_normalise(z)
    return gs


def layer_thresholds(cfg: dict) -> list[float]:
    """Each layer's goodness threshold. --threshold is per unit, so with sum goodness a
    layer's threshold is threshold * width (Hinton's FF code compares the sum of squares
    with the number of units); with mean goodness it is used as is."""
    per = cfg["threshold"]
    return [per * (d if cfg["goodness"] == "sum" else 1) for d in cfg["layer_sizes"][1:]]


def train_ff(
    X: np.ndarray,
    cfg: dict,
    rng: np.random.Generator,
    layers: list[dict] | None = None,
    on_epoch=None,
    log=print,
) -> tuple[list[dict], dict]:
    """Unsupervised FF training of all layers at once (section 3.2).

    Each mini-batch stacks B real digits (positives) and B hybrids (negatives) into one
    (2B, d) matrix; every layer does one forward matmul, one weight-gradient matmul and an
    optimiser step; its normalised output is the next layer's input. No gradient crosses
    layers. Hybrids are regenerated every epoch.

    Args:
        X: float32 (n, 784) training images in [0, 1].
        cfg: dict with layer_sizes, epochs, batch_size, lr, lr_schedule, threshold,
             goodness, n_blur, optimizer.
        rng: generator for initialisation, hybrids and shuffling.
        on_epoch: optional callback(epoch, layers, history) after every epoch.
    Returns:
        (layers, history) with per-epoch loss/goodness per layer and timing.
    """
    sizes = cfg["layer_sizes"]
    B = min(cfg["batch_size"], X.shape[0])
    n = X.shape[0]
    steps = n // B
    rng_init, rng_neg, rng_shuf = rng.spawn(3)
    if layers is None:
        layers = init_layers(rng_init, sizes)
    Opt = Adam if cfg["optimizer"] == "adam" else SGD
    opts = [(Opt(L["W"].shape), Opt(L["b"].shape)) for L in layers]
    # Preallocated buffers for the hot path.
    Xin = np.empty((2 * B, sizes[0]), np.float32)
    Hs = [np.empty((2 * B, d), np.float32) for d in sizes[1:]]
    Ns = [np.empty((2 * B, d), np.float32) for d in sizes[1:-1]]
    dWs = [np.empty_like(L["W"]) for L in layers]
    sign = np.concatenate([np.ones(B), -np.ones(B)]).astype(np.float32)
    # forward (X W) and weight gradient (X^T dZ) matmuls on 2B rows, 2 flops per MAC
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    flops_per_step = sum(2 * 2 * (2 * B) * a * b for a, b in pairs)
    hist = {"epoch": [], "loss": [], "g_pos": [], "g_neg": [], "lr": [], "time_s": []}
    epochs = cfg["epochs"]
    t0 = time.perf_counter()
    t_last = t0
    # Adam moves every weight by about lr per step, so a layer's pre-activations move by
    # about lr * fan_in * mean(input): wide layers get a proportionally smaller rate.
    ref = cfg.get("lr_fanin_ref")
    lr_scale = [1.0 if not ref else min(1.0, ref / a) for a in sizes[:-1]]
    budget = cfg.get("time_budget_s")
    hist["epochs_planned"] = epochs
    thr = layer_thresholds(cfg)
    wc = cfg.get("weight_cost") or 0.0
    peer = cfg.get("peer_norm") or 0.0
    mean_act = [np.full(d, 0.5, np.float32) for d in sizes[1:]]
    # The machine's matmul speed, sampled after every epoch (its time is not counted as
    # training time); matmul_fraction is taken against the fastest sample of the run.
    hist["matmul_gflops_samples"] = []
    bench_s = 0.0
    ep = -1
    while ep + 1 < epochs:
        ep += 1
        neg, _, _, _ = make_hybrids(X, rng_neg, cfg["n_blur"])
        order = rng_shuf.permutation(n)
        losses = np.zeros(len(layers))
        gp = np.zeros(len(layers))
        gn = np.zeros(len(layers))
        for s in range(steps):
            lr = lr_at((ep + s / steps) / epochs, cfg["lr"], cfg["lr_schedule"])
            idx = order[s * B : (s + 1) * B]
            np.take(X, idx, axis=0, out=Xin[:B])
            np.take(neg, idx, axis=0, out=Xin[B:])
            h = length_normalise(Xin, out=Xin)
            for i, L in enumerate(layers):
                loss, cache = ff_layer_forward(
                    L["W"], L["b"], h, sign, thr[i], cfg["goodness"], H=Hs[i]
                )
                losses[i] += loss
                g = cache["g"]
                gp[i] += g[:B].mean()
                gn[i] += g[B:].mean()
                if i + 1 < len(layers):
                    h = length_normalise(Hs[i], out=Ns[i])
                pdz = None
                if peer:
                    mean_act[i] *= 0.9
                    mean_act[i] += 0.1 * Hs[i][:B].mean(axis=0)
                    pdz = peer_norm_dz(mean_act[i], peer, B)
                dW, db = ff_layer_backward(cache, dW=dWs[i], overwrite_H=True, peer_dz=pdz)
                opts[i][0].step(L["W"], dW, lr * lr_scale[i], weight_cost=wc)
                opts[i][1].step(L["b"], db, lr * lr_scale[i])
        check_finite_training(ep + 1, losses, layers)
        t_b = time.perf_counter()
        hist["matmul_gflops_samples"].append(measure_matmul_gflops(sizes, 2 * B, _bench_s(cfg)))
        bench_s += time.perf_counter() - t_b
        el = time.perf_counter() - t0 - bench_s
        hist["epoch"].append(ep + 1)
        hist["loss"].append((losses / steps).tolist())
        hist["g_pos"].append((gp / steps).tolist())
        hist["g_neg"].append((gn / steps).tolist())
        hist["lr"].append(lr)
        hist["time_s"].append(el)
        if on_epoch is not None:
            on_epoch(ep + 1, layers, hist)
        if budget is not None and ep + 1 < epochs:
            # Safety for shared machines: fit the run into the time budget by choosing the
            # total number of epochs from the pace so far. While the learning rate is still
            # constant (first half) the total may move either way, never above the planned
            # number; once the decay has started it can only shrink (compressing the decay).
            new = refit_epochs(budget, el, ep + 1, hist["epochs_planned"], epochs)
            if new != epochs:
                epochs = new
                log(f"  time budget: total epochs now {epochs}", flush=True)
        now = time.perf_counter()
        if now - t_last > 20 or ep + 1 == epochs or ep == 0:
            eta = el / (ep + 1) * (epochs - ep - 1)
            loss_s = " ".join(f"{v:.3f}" for v in hist["loss"][-1])
            sep_s = " ".join(f"{p - q:.2f}" for p, q in zip(gp / steps, gn / steps, strict=True))
            log(
                f"  epoch {ep + 1:3d}/{epochs}  loss/layer {loss_s}  g_pos-g_neg {sep_s}  "
                f"lr {lr:.2e}  elapsed {el:7.1f}s  ETA {eta:7.1f}s",
                flush=True,
            )
            t_last = now
    hist["ff_train_s"] = max(time.perf_counter() - t0 - bench_s, 1e-9)
    hist["matmul_benchmark_s"] = bench_s
    hist["epochs_completed"] = epochs
    hist["examples"] = epochs * steps * B
    hist["matmul_flops"] = float(epochs * steps * flops_per_step)
    return layers, hist


# ------------------------------------------------------------------------- 6. read-out


def softmax_forward(W, b, F, y):
    """Linear softmax read-out: mean cross-entropy (nats) of labels y under F W + b.

    Args:
        W: (d, k), b: (k,), F: (n, d) features, y: (n,) int labels in [0, k).
    Returns:
        (loss float, cache) where cache holds the class probabilities P (n, k).
    """
    Z = F @ W
    Z += b
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    n = F.shape[0]
    loss = float(-np.mean(np.log(Z[np.arange(n), y] + 1e-30)))
    return loss, {"F": F, "P": Z, "y": y}


def softmax_backward(cache):
    """Gradients (dW (d, k), db (k,)) of softmax_forward's mean cross-entropy.

    The probabilities of very unlikely classes are subnormal floats (below about 1e-38),
    and subnormal operands make x86 matmul about 50 times slower. So dL/dZ is scaled by
    2^64 before the weight-gradient matmul and the product by 2^-64 after it: scaling by
    a power of two is exact, so this changes no normal-range result, only the speed.

    Returns:
        (dW float32 (d, k), db float32 (k,)); the loss is in nats.
    """
    P, F, y = cache["P"], cache["F"], cache["y"]
    n = F.shape[0]
    D = P.copy()
    D[np.arange(n), y] -= 1.0
    D /= n
    db = D.sum(axis=0)
    D *= 2.0**64
    dW = F.T @ D
    dW *= 2.0**-64
    return dW, db


def predict(W, b, F, batch=5000):
    """Arg-max class of F W + b; int array (n,)."""
    out = np.empty(F.shape[0], np.int64)
    for s in range(0, F.shape[0], batch):
        out[s : s + batch] = np.argmax(F[s : s + batch] @ W + b, axis=1)
    return out


def train_readout(F, y, F_val, y_val, cfg, rng, log=print):
    """Train the linear softmax on frozen features with Adam (decaying lr) on mini-batches.

    Returns:
        (W (d, 10) float32, b (10,), history dict with per-epoch train/val error %).
    """
    d = F.shape[1]
    W = np.zeros((d, 10), np.float32)
    b = np.zeros(10, np.float32)
    oW, ob = Adam(W.shape), Adam(b.shape)
    n = F.shape[0]
    B = min(cfg["readout_batch"], n)
    epochs = cfg["readout_epochs"]
    hist = {"epoch": [], "loss": [], "train_err_pct": [], "val_err_pct": []}
    for ep in range(epochs):
        order = rng.permutation(n)
        tot = 0.0
        steps = max(n // B, 1)
        for s in range(steps):
            idx = order[s * B : (s + 1) * B]
            lr = cfg["readout_lr"] * (1.0 - (ep + s / steps) / epochs)
            loss, cache = softmax_forward(W, b, F[idx], y[idx])
            dW, db = softmax_backward(cache)
            dW += cfg["readout_l2"] * W
            oW.step(W, dW.astype(np.float32), lr)
            ob.step(b, db.astype(np.float32), lr)
            tot += loss
        if not np.isfinite(tot):
            raise Diverged(ep + 1, "the read-out loss")
        hist["epoch"].append(ep + 1)
        hist["loss"].append(tot / steps)
        hist["train_err_pct"].append(float(100 * np.mean(predict(W, b, F) != y)))
        if F_val is not None and len(y_val):
            hist["val_err_pct"].append(float(100 * np.mean(predict(W, b, F_val) != y_val)))
    if hist["val_err_pct"]:
        log(
            f"  read-out: train err {hist['train_err_pct'][-1]:.2f}%  "
            f"held-out err {hist['val_err_pct'][-1]:.2f}%",
            flush=True,
        )
    return W, b, hist


# ------------------------------------------------------------ 7. backprop reference


def bp_init(rng: np.random.Generator, sizes: list[int], dtype=np.float32) -> list[dict]:
    """Weights of the backprop reference: hidden layers sizes[1:] and a 10-way softmax.

    W (d_in, d_out) ~ N(0, 2/d_in) (He et al. 2015, for ReLU; this catalog's choice),
    zero biases. Returns one dict {"W", "b"} per layer, the last one (sizes[-1], 10).
    """
    dims = [*sizes, 10]
    return [
        {
            "W": (rng.standard_normal((a, c)) * np.sqrt(2.0 / a)).astype(dtype),
            "b": np.zeros(c, dtype),
        }
        for a, c in zip(dims[:-1], dims[1:], strict=True)
    ]


def bp_forward(params: list[dict], X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Forward pass: ReLU hidden layers, linear output. Inputs are pixels in [0, 1].

    Args:
        params: from bp_init. X: float (n, 784).
    Returns:
        (logits (n, 10), acts) where acts[l] is the input of layer l (acts[0] = X).
    """
    acts = [X]
    h = X
    for L in params[:-1]:
        h = np.maximum(h @ L["W"] + L["b"], 0)
        acts.append(h)
    return h @ params[-1]["W"] + params[-1]["b"], acts


def bp_loss_and_grads(params: list[dict], X: np.ndarray, y: np.ndarray):
    """Mean softmax cross-entropy (nats) of labels y and its gradient, by backprop.

    dL/dlogits = (softmax - onehot) / n; for each layer, top down: dW = a^T d,
    db = sum of d over rows, d_below = (d W^T) * [a > 0] (ReLU derivative; 0 at 0).

    Args:
        params: from bp_init. X: (n, 784). y: int (n,) in 0..9.
    Returns:
        (loss float, list of {"W": dW, "b": db} matching params).
    """
    logits, acts = bp_forward(params, X)
    Z = logits - logits.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P = P / P.sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = float(-np.mean(np.log(P[np.arange(n), y] + 1e-30)))
    d = P.copy()
    d[np.arange(n), y] -= 1.0
    d = d / n
    grads = [None] * len(params)
    for li in range(len(params) - 1, -1, -1):
        a = acts[li]
        grads[li] = {"W": a.T @ d, "b": d.sum(axis=0)}
        if li > 0:
            d = (d @ params[li]["W"].T) * (a > 0)
    return loss, grads


def bp_update_reference(params, moms, X, y, lr, momentum=0.9, weight_cost=0.0):
    """One backprop step in plain numpy (no buffers, no in-place tricks): the reference
    train_bp is tested against, and the function a data-movement tracer can run.

    m <- momentum m + lr (grad + weight_cost W) (no weight cost on biases); W <- W - m.

    Args:
        params, moms: lists of {"W", "b"} (moms: momentum buffers, same shapes).
        X: float32 (n, 784), y: int (n,), lr/momentum/weight_cost: floats.
    Returns:
        (new params, new moms, loss in nats before the step).
    """
    loss, grads = bp_loss_and_grads(params, X, y)
    new_p, new_m = [], []
    for L, M, G in zip(params, moms, grads, strict=True):
        gW = G["W"] + L["W"] * weight_cost if weight_cost else G["W"]
        mW = M["W"] * momentum + gW * lr
        mb = M["b"] * momentum + G["b"] * lr
        new_m.append({"W": mW, "b": mb})
        new_p.append({"W": L["W"] - mW, "b": L["b"] - mb})
    return new_p, new_m, loss


def bp_matmul_flops(sizes: list[int], n: int) -> float:
    """Matmul flops of one backprop step on n examples: forward a W, weight gradient
    a^T d, and (above the first layer) the backward d W^T; 2 flops per multiply-add."""
    dims = [*sizes, 10]
    pairs = list(zip(dims[:-1], dims[1:], strict=True))
    return float(sum((4 if i == 0 else 6) * n * a * c for i, (a, c) in enumerate(pairs)))


def train_bp(X, y, cfg, rng, Xho=None, yho=None, log=print):
    """Backprop training of the reference network: momentum SGD (0.9) on mini-batches,
    the FF run's learning-rate schedule (cfg lr_schedule), weight cost on W.

    The fast path: optimiser updates in place (SGD.step, row-blocked) on the gradients of
    bp_loss_and_grads; the arithmetic equals bp_update_reference (tested bit for bit).

    Returns:
        (params, history with per-epoch loss, held-out error % and timing).
    Raises:
        Diverged: the loss or a weight became non-finite.
    """
    rng_init, rng_shuf = rng.spawn(2)
    params = bp_init(rng_init, cfg["layer_sizes"])
    opts = [(SGD(L["W"].shape), SGD(L["b"].shape)) for L in params]
    n = X.shape[0]
    B = min(cfg["batch_size"], n)
    steps = n // B
    epochs = cfg["epochs"]
    wc = cfg.get("weight_cost") or 0.0
    hist = {"epoch": [], "loss": [], "holdout_err_pct": [], "lr": [], "time_s": []}
    hist["matmul_gflops_samples"] = []
    t0 = time.perf_counter()
    bench_s = 0.0
    for ep in range(epochs):
        order = rng_shuf.permutation(n)
        tot = 0.0
        for s in range(steps):
            lr = lr_at((ep + s / steps) / epochs, cfg["lr"], cfg["lr_schedule"])
            idx = order[s * B : (s + 1) * B]
            loss, grads = bp_loss_and_grads(params, X[idx], y[idx])
            for L, (oW, ob), G in zip(params, opts, grads, strict=True):
                oW.step(L["W"], G["W"], lr, weight_cost=wc)
                ob.step(L["b"], G["b"], lr)
            tot += loss
        if not np.isfinite(tot) or not all(np.isfinite(L["W"]).all() for L in params):
            raise Diverged(ep + 1, "the backprop loss or a weight")
        t_b = time.perf_counter()
        hist["matmul_gflops_samples"].append(
            measure_matmul_gflops(cfg["layer_sizes"], cfg["batch_size"], _bench_s(cfg))
        )
        bench_s += time.perf_counter() - t_b
        el = time.perf_counter() - t0 - bench_s
        hist["epoch"].append(ep + 1)
        hist["loss"].append(tot / steps)
        hist["lr"].append(lr)
        hist["time_s"].append(el)
        ho = None
        if Xho is not None and len(Xho):
            ho = float(100 * np.mean(bp_predict(params, Xho) != yho))
            hist["holdout_err_pct"].append(ho)
        log(
            f"  backprop epoch {ep + 1}/{epochs}  loss {tot / steps:.4f}  held-out err {ho}  "
            f"elapsed {el:.0f}s",
            flush=True,
        )
    hist["train_s"] = max(time.perf_counter() - t0 - bench_s, 1e-9)
    hist["examples"] = epochs * steps * B
    hist["matmul_flops"] = epochs * steps * bp_matmul_flops(cfg["layer_sizes"], B)
    return params, hist


def bp_predict(params, X, batch=2000) -> np.ndarray:
    """Arg-max class of the backprop network for images X (n, 784); int (n,)."""
    out = np.empty(X.shape[0], np.int64)
    for s in range(0, X.shape[0], batch):
        out[s : s + batch] = np.argmax(bp_forward(params, X[s : s + batch])[0], axis=1)
    return out


def run_bp(cfg: dict, data: dict, log=print) -> dict:
    """One seed of the backprop reference with FF's data protocol: train on the first
    n_train images, held-out tail for choices, the test set once at the end."""
    t_start = time.perf_counter()
    X, y, Xho, yho, Xte, yte = split_data(cfg, data)
    gflops = measure_matmul_gflops(cfg["layer_sizes"], cfg["batch_size"], _bench_s(cfg))
    params, hist = train_bp(X, y, cfg, np.random.default_rng(cfg["seed"]), Xho, yho, log=log)
    gflops_after = measure_matmul_gflops(cfg["layer_sizes"], cfg["batch_size"], _bench_s(cfg))
    samples = [gflops, *hist.pop("matmul_gflops_samples"), gflops_after]
    achieved = hist["matmul_flops"] / hist["train_s"] / 1e9
    train_err = float(100 * np.mean(bp_predict(params, X) != y))
    ho_err = float(100 * np.mean(bp_predict(params, Xho) != yho)) if len(yho) else None
    pred = bp_predict(params, Xte)
    test_err = float(100 * np.mean(pred != yte))
    conf = np.zeros((10, 10), np.int64)
    np.add.at(conf, (yte, pred), 1)
    wall = time.perf_counter() - t_start
    return {
        "stub": "ff-hybrid-mnist",
        "paper": PAPER,
        "learner": "backprop",
        "seed": cfg["seed"],
        "n_seeds": 1,
        "config": dict(cfg),
        "headline": {
            "name": "test error of the same network trained end to end by backprop",
            "claim": "reference point for FF (this catalog's addition)",
            "value": round(test_err, 3),
            "unit": "%",
            "paper_value": PAPER_TEST_ERROR_PCT,
            "better": "lower",
        },
        "metrics": {
            "test_error_pct": round(test_err, 3),
            "train_error_pct": round(train_err, 3),
            "holdout_error_pct": None if ho_err is None else round(ho_err, 3),
            "epochs_completed": len(hist["epoch"]),
            "matmul_tflop": round(hist["matmul_flops"] / 1e12, 3),
            "confusion_matrix": conf.tolist(),
        },
        "timing": {
            "train_s": round(hist["train_s"], 2),
            "examples_per_s": round(hist["examples"] / hist["train_s"], 1),
            "achieved_gflops": round(achieved, 2),
            "machine_matmul_gflops": round(max(samples), 2),
            "machine_matmul_gflops_min": round(min(samples), 2),
            "matmul_gflops_samples": [round(v, 2) for v in samples],
            "matmul_fraction": round(achieved / max(samples), 4),
            "epoch_time_s": [round(v, 2) for v in hist.pop("time_s")],
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        },
        "history": {"backprop": {k: v for k, v in hist.items() if isinstance(v, list)}},
        "reproduces": "n/a",
        "wall_time_s": round(wall, 2),
        "env": env_block(),
    }


# ------------------------------------------------------------------------ 8. experiment


def goodness_histograms(layers, X_pos, X_neg, kind, bins=40):
    """Per-layer histogram counts of goodness for real digits vs hybrids (for figures)."""
    gp = layer_goodness(layers, X_pos, kind)
    gn = layer_goodness(layers, X_neg, kind)
    out = []
    for a, c in zip(gp, gn, strict=True):
        hi = float(np.percentile(np.concatenate([a, c]), 99.5))
        edges = np.linspace(0.0, hi, bins + 1)
        out.append(
            {
                "edges": np.round(edges, 4).tolist(),
                "pos": np.histogram(a, edges)[0].tolist(),
                "neg": np.histogram(c, edges)[0].tolist(),
            }
        )
    return gp, gn, out


def split_data(cfg: dict, data: dict):
    """Training images (first n_train), held-out images (last n_holdout of the 60,000
    training images, never overlapping the training part) and the first n_test test
    images, as float32 in [0, 1] with int64 labels."""
    n_tr, n_ho = cfg["n_train"], cfg["n_holdout"]
    Xall = data["train_images"]
    yall = data["train_labels"].astype(np.int64)
    X = Xall[:n_tr].astype(np.float32) / 255.0
    Xho = Xall[Xall.shape[0] - n_ho :].astype(np.float32) / 255.0
    yho = yall[yall.shape[0] - n_ho :]
    Xte = data["test_images"][: cfg["n_test"]].astype(np.float32) / 255.0
    yte = data["test_labels"][: cfg["n_test"]].astype(np.int64)
    return X, yall[:n_tr], Xho, yho, Xte, yte


def readout_features(layers, X, batch=2000):
    """Read-out input: the unit-RMS activities of the last three hidden layers, side by
    side (section 3.2). float32 (n, sum of the last three widths).

    The same values as concatenating forward_features(layers, X, batch)[-3:], to the bit
    (each row is normalised on its own), written straight into one array: no per-layer
    copies and no second normalisation pass over the n rows. With another batch the
    values may differ in the last bit (a BLAS kernel may round a row differently in a
    taller matmul).
    """
    keep = list(range(len(layers)))[-3:]
    widths = [layers[i]["W"].shape[1] for i in keep]
    col = dict(zip(keep, np.cumsum([0, *widths[:-1]]).tolist(), strict=True))
    F = np.empty((X.shape[0], sum(widths)), np.float32)
    for s in range(0, X.shape[0], batch):
        h = length_normalise(X[s : s + batch].astype(np.float32))
        for i, L in enumerate(layers):
            z = h @ L["W"]
            z += L["b"]
            np.maximum(z, 0, out=z)
            if i in col:
                c = col[i]
                h = length_normalise(z, out=F[s : s + batch, c : c + z.shape[1]])
            else:
                h = length_normalise(z, out=z)
    return F


def error_pct(W, b, F, y) -> float:
    """Percentage of rows of F whose arg-max class under F W + b is not y."""
    return float(100 * np.mean(predict(W, b, F) != y))


def run(cfg: dict, data: dict, log=print, on_epoch=None, keep=False) -> dict:
    """One seed of the experiment: FF training, frozen read-out, one test evaluation.

    The held-out images (cfg n_holdout > 0) are the only data used for choices (the
    read-out rate grid); the test images are used once, at the end (and once for the
    untrained-network control's read-out, which is trained before FF starts).

    Returns:
        the result record (dict); machine-dependent figures sit under "timing". With
        keep=True also record["_layers"] (the network).
    Raises:
        Diverged: a loss or weight became non-finite.
    """
    t_start = time.perf_counter()
    root = np.random.default_rng(cfg["seed"])
    rng_init, rng_ff, rng_ro, rng_eval, rng_base = root.spawn(5)
    n_ho = cfg["n_holdout"]
    X, y, Xho, yho, Xte, yte = split_data(cfg, data)
    gflops = measure_matmul_gflops(cfg["layer_sizes"], 2 * cfg["batch_size"], _bench_s(cfg))
    log(f"  machine float32 matmul: {gflops:.1f} GFLOP/s (measured in this process)")

    layers = init_layers(rng_init, cfg["layer_sizes"])
    base = None
    if cfg["random_baseline"]:
        # Control: the same read-out on the untrained (random) network's features.
        t_b = time.perf_counter()
        F = readout_features(layers, X)
        Fho = readout_features(layers, Xho) if n_ho else None
        Wb, bb, _ = train_readout(F, y, Fho, yho, cfg, rng_base, log=lambda *a, **k: None)
        base = {
            "train_error_pct": error_pct(Wb, bb, F, y),
            "holdout_error_pct": error_pct(Wb, bb, Fho, yho) if n_ho else None,
        }
        del F, Fho
        base["test_error_pct"] = error_pct(Wb, bb, readout_features(layers, Xte), yte)
        base["time_s"] = time.perf_counter() - t_b
        log(
            f"  control, read-out on the untrained network: train err "
            f"{base['train_error_pct']:.2f}%  held-out err {base['holdout_error_pct']}%",
            flush=True,
        )
    layers, ff_hist = train_ff(X, cfg, rng_ff, layers=layers, on_epoch=on_epoch, log=log)
    gflops_after = measure_matmul_gflops(cfg["layer_sizes"], 2 * cfg["batch_size"], _bench_s(cfg))
    achieved = ff_hist["matmul_flops"] / ff_hist["ff_train_s"] / 1e9
    # Against the fastest benchmark of the run (start, after every epoch, end): on a
    # machine whose load changes, a slow sample must not flatter the fraction.
    samples = [gflops, *ff_hist.pop("matmul_gflops_samples"), gflops_after]
    machine = max(samples)

    t_ro = time.perf_counter()
    F = readout_features(layers, X)
    Fho = readout_features(layers, Xho) if n_ho else None
    grid = cfg.get("readout_lr_grid") or []
    if grid and n_ho:
        # Choose the read-out learning rate on the held-out training images (never test).
        best = None
        ro_grid = {}
        for lr_ro in grid:
            c = {**cfg, "readout_lr": lr_ro}
            res = train_readout(F, y, Fho, yho, c, rng_ro.spawn(1)[0], log=lambda *a, **k: None)
            ro_grid[str(lr_ro)] = res[2]["val_err_pct"][-1]
            log(f"  read-out lr {lr_ro:g}: held-out err {ro_grid[str(lr_ro)]:.2f}%", flush=True)
            if best is None or ro_grid[str(lr_ro)] < best[0]:
                best = (ro_grid[str(lr_ro)], lr_ro, res)
        W_ro, b_ro, ro_hist = best[2]
        ro_hist["chosen_lr"] = best[1]
        ro_hist["grid_holdout_err_pct"] = ro_grid
    else:
        W_ro, b_ro, ro_hist = train_readout(F, y, Fho, yho, cfg, rng_ro, log=log)
    if cfg.get("save_weights"):
        arrays = {f"{k}{i + 1}": L[k] for i, L in enumerate(layers) for k in ("W", "b")}
        write_atomic(cfg["save_weights"], lambda f: np.savez(f, **arrays))
    train_err = error_pct(W_ro, b_ro, F, y)
    ho_err = error_pct(W_ro, b_ro, Fho, yho) if n_ho else None
    softmax_s = time.perf_counter() - t_ro
    del F, Fho

    # The test set, evaluated once.
    pred = predict(W_ro, b_ro, readout_features(layers, Xte))
    test_err = float(100 * np.mean(pred != yte))
    conf = np.zeros((10, 10), np.int64)
    np.add.at(conf, (yte, pred), 1)

    # Goodness of test digits vs hybrids of test digits.
    Xneg, masks, ia, ib = make_hybrids(Xte, rng_eval, cfg["n_blur"])
    gp, gn, hists = goodness_histograms(layers, Xte, Xneg, cfg["goodness"])
    sep = [float(np.mean(a) - np.mean(c)) for a, c in zip(gp, gn, strict=True)]
    thr = layer_thresholds(cfg)
    acc = [
        float(np.mean(a > t) / 2 + np.mean(c <= t) / 2) for a, c, t in zip(gp, gn, thr, strict=True)
    ]
    W1 = layers[0]["W"]
    top = np.argsort(-np.linalg.norm(W1, axis=0))[:25]
    wall = time.perf_counter() - t_start

    goal, met = goal_for(cfg, test_err)

    def r3(v):
        return None if v is None else round(v, 3)

    record = {
        "stub": "ff-hybrid-mnist",
        "paper": PAPER,
        "learner": "ff",
        "seed": cfg["seed"],
        "n_seeds": 1,
        "config": {k: v for k, v in cfg.items()},
        "headline": headline_block(round(test_err, 3)),
        "metrics": {
            "test_error_pct": round(test_err, 3),
            "train_error_pct": round(train_err, 3),
            "holdout_error_pct": r3(ho_err),
            "goal_test_error_pct": goal,
            "goal_met": bool(met),
            "goodness_separation_per_layer": [round(s, 4) for s in sep],
            "goodness_pos_mean_per_layer": [round(float(np.mean(a)), 4) for a in gp],
            "goodness_neg_mean_per_layer": [round(float(np.mean(c)), 4) for c in gn],
            "goodness_threshold_accuracy_per_layer": [round(a, 4) for a in acc],
            "ff_epochs_completed": ff_hist["epochs_completed"],
            "ff_matmul_tflop": round(ff_hist["matmul_flops"] / 1e12, 3),
            "random_features_train_error_pct": None
            if base is None
            else r3(base["train_error_pct"]),
            "random_features_holdout_error_pct": None
            if base is None
            else r3(base["holdout_error_pct"]),
            "random_features_test_error_pct": None if base is None else r3(base["test_error_pct"]),
            "confusion_matrix": conf.tolist(),
        },
        "timing": {
            "ff_train_s": round(ff_hist["ff_train_s"], 2),
            "softmax_train_s": round(softmax_s, 2),
            "random_features_s": None if base is None else round(base["time_s"], 2),
            "examples_per_s": round(ff_hist["examples"] / ff_hist["ff_train_s"], 1),
            "achieved_gflops": round(achieved, 2),
            "machine_matmul_gflops": round(machine, 2),
            "machine_matmul_gflops_start": round(gflops, 2),
            "machine_matmul_gflops_after": round(gflops_after, 2),
            "machine_matmul_gflops_min": round(min(samples), 2),
            "matmul_benchmark_samples": len(samples),
            "matmul_gflops_samples": [round(v, 2) for v in samples],
            "matmul_fraction": round(achieved / machine, 4),
            "epoch_time_s": [round(v, 2) for v in ff_hist.pop("time_s")],
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        },
        "history": {
            "ff": {k: v for k, v in ff_hist.items() if isinstance(v, list)},
            "readout": ro_hist,
        },
        "figures_data": {
            "goodness_hist": hists,
            "rf_units": top.tolist(),
            "rf": np.round(W1[:, top].T, 4).tolist(),
        },
        "reproduces": verdict(met, test_err, cfg),
        "wall_time_s": round(wall, 2),
        "env": env_block(),
    }
    if keep:
        record["_layers"] = layers
    return record


def goal_for(cfg: dict, test_err: float) -> tuple[float, bool]:
    """The preset's goal and whether test_err meets it.

    full: at most the paper's 1.37% (section 3.2). fast and smaller runs: below 2.0%
    (this catalog's goal for a two-minute run). An untrained network (--epochs 0) is the
    control, never a success.
    """
    if cfg["preset"] == "full":
        goal, met = PAPER_TEST_ERROR_PCT, test_err <= PAPER_TEST_ERROR_PCT
    else:
        goal, met = FAST_GOAL_TEST_ERROR_PCT, test_err < FAST_GOAL_TEST_ERROR_PCT
    return goal, bool(met and cfg["epochs"] > 0)


def verdict(met: bool, test_err: float, cfg: dict) -> str:
    """Catalog verdict: "yes" at or below the paper's 1.37%, "partial" at or below 2.0%
    (the catalog's bar for a documented run on 2 cores), else "no"; never "yes" or
    "partial" for the untrained control (--epochs 0)."""
    if cfg["epochs"] == 0:
        return "no"
    if test_err <= PAPER_TEST_ERROR_PCT:
        return "yes"
    return "partial" if test_err <= 2.0 else "no"


def headline_block(value: float) -> dict:
    """The record's headline: test error (%) of the linear read-out on FF features."""
    return {
        "name": "test error (linear read-out on unsupervised FF features)",
        "claim": (
            "Unsupervised FF with hybrid-image negatives learns features on which a "
            "linear softmax reaches 1.37% MNIST test error (paper, 4x2000 ReLUs)."
        ),
        "value": value,
        "unit": "%",
        "paper_value": PAPER_TEST_ERROR_PCT,
        "better": "lower",
    }


def env_block() -> dict:
    """Machine and library versions (skipped by the golden comparison)."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE") or "auto",
        "npy_disable_cpu_features": os.environ.get("NPY_DISABLE_CPU_FEATURES", ""),
        "cpu_has_avx512f": _cpu_flag("avx512f"),
    }


#: Per-seed scalar metrics that a sweep reports as mean, sample std and per-seed list.
SWEEP_METRICS = (
    "test_error_pct",
    "train_error_pct",
    "holdout_error_pct",
    "random_features_train_error_pct",
    "random_features_holdout_error_pct",
    "random_features_test_error_pct",
)


def mean_and_sample_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof = 1; None for a single value)."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), (float(a.std(ddof=1)) if a.size > 1 else None)


def combine_seeds(recs: list[dict], wall_s: float) -> dict:
    """One record for a sweep: per-seed metrics, their mean and sample std (the mean is
    the headline and decides goal and verdict); histories, figures data and the confusion
    matrix are the first seed's. recs must be in seed order."""
    if len(recs) == 1:
        return recs[0]
    out = dict(recs[0])
    m = dict(recs[0]["metrics"])
    for k in SWEEP_METRICS:
        vals = [r["metrics"][k] for r in recs]
        if any(v is None for v in vals):
            continue
        mu, sd = mean_and_sample_std(vals)
        m[k] = round(mu, 3)
        m[k + "_sample_std"] = round(sd, 3)
        m[k + "_per_seed"] = vals
    cfg = recs[0]["config"]
    if cfg.get("learner") != "backprop":
        m["ff_epochs_completed_per_seed"] = [r["metrics"]["ff_epochs_completed"] for r in recs]
        m["goodness_separation_per_layer_per_seed"] = [
            r["metrics"]["goodness_separation_per_layer"] for r in recs
        ]
        m["goal_test_error_pct"], m["goal_met"] = goal_for(cfg, m["test_error_pct"])
    out["metrics"] = m
    out["n_seeds"] = len(recs)
    out["seeds"] = [r["seed"] for r in recs]
    out["per_seed_note"] = (
        f"metrics *_per_seed are in seed order; histories, figures data and the confusion "
        f"matrix are seed {recs[0]['seed']}'s"
    )
    if cfg.get("learner") != "backprop":
        out["headline"] = headline_block(m["test_error_pct"])
        out["reproduces"] = verdict(m["goal_met"], m["test_error_pct"], cfg)
    else:
        out["headline"] = {**out["headline"], "value": m["test_error_pct"]}
    out["timing"] = {"per_seed": [r["timing"] for r in recs], "sweep_wall_s": round(wall_s, 2)}
    out["wall_time_s"] = round(wall_s, 2)
    return out


# ------------------------------------------------------------------------------ 9. CLI

PRESETS = {
    # seconds; CI runs it. Small net, 3,000 images, 2 epochs: exercises every code path,
    # the untrained-network control included (its golden record pins the control too).
    "smoke": {
        "layer_sizes": [784, 200, 200, 200, 200],
        "epochs": 2,
        "batch_size": 100,
        "lr": 0.0005,
        "n_train": 3000,
        "n_holdout": 500,
        "n_test": 1000,
        "readout_epochs": 4,
        "random_baseline": True,
    },
    # goal: test error < 2.0 % in < 120 s on 2 cores. All 60,000 training images (the
    # choices were made on runs with the last 5,000 held out: --n-train 55000
    # --n-holdout 5000). 6 epochs: the held-out error fell with every epoch from 3 to 6
    # (1.98, 1.92, 1.83, 1.79 % mean over 3 seeds). The untrained-network control is a
    # separate run (--epochs 0, results/fast_control.json), which frees about one epoch's time.
    "fast": {
        "layer_sizes": [784, 1000, 1000, 1000, 1000],
        "epochs": 6,
        "batch_size": 100,
        "lr": 0.0005,
        "n_train": 60000,
        "n_holdout": 0,
        "n_test": 10000,
        "readout_epochs": 30,
        "random_baseline": False,
    },
    # the paper's network on all 60,000 training images, planned for the paper's 100
    # epochs; the FF time budget (per seed) re-fits the epoch count to the machine's pace.
    # No untrained-network control here (it costs a read-out on 60,000 x 6,000 features;
    # results/fast_control.json and results/full_55k_seed0.json carry it).
    # Read-out rate 0.03: the best of {0.03, 0.1, 0.3} on held-out images in the earlier
    # 100-epoch run on 55,000 images (results/full_55k_seed0.json).
    "full": {
        "layer_sizes": [784, 2000, 2000, 2000, 2000],
        "epochs": 100,
        "batch_size": 100,
        "lr": 0.0005,
        "n_train": 60000,
        "n_holdout": 0,
        "n_test": 10000,
        "readout_epochs": 30,
        "readout_lr": 0.03,
        "time_budget_s": 3500,
        "random_baseline": False,
    },
}

# The learning recipe of Hinton's released FF code (matlab, supervised FF), in this
# file's units: goodness = sum of squares against 1 per unit; plain SGD on a gradient
# smoothed with 0.9 (lr 0.0005 here = his 0.01, because his goodness derivative omits the
# factor 2 and his smoothing has a (1 - 0.9) factor); weight cost 0.004 (= his 0.002);
# peer normalisation 0.06 (= his 0.03); mini-batches of 100.
DEFAULTS = {
    "threshold": 1.0,
    "goodness": "sum",
    "n_blur": 6,
    "optimizer": "sgd",
    "lr_schedule": "halfdecay",
    "readout_lr": 0.1,
    "readout_batch": 500,
    "readout_l2": 1e-4,
    "random_baseline": True,
    "time_budget_s": None,
    "lr_fanin_ref": 0,
    "readout_lr_grid": None,
    "weight_cost": 0.004,
    "peer_norm": 0.06,
}

#: The backprop reference (--learner backprop): the same hidden layers plus a 10-way
#: softmax, trained end to end on the FF presets' data. Momentum SGD (0.9) at lr 0.02,
#: the FF runs' schedule (constant, then linear decay over the second half), no weight
#: cost, batch 100: this catalog's choices, not tuned on held-out images. The full preset
#: trains 20 epochs (this catalog's choice; the record's per-epoch loss shows the curve).
BP_PRESETS = {
    "smoke": {**PRESETS["smoke"], "lr": 0.02, "weight_cost": 0.0, "random_baseline": False},
    "fast": {**PRESETS["fast"], "lr": 0.02, "weight_cost": 0.0},
    "full": {**PRESETS["full"], "epochs": 20, "lr": 0.02, "weight_cost": 0.0},
}

#: Golden smoke records: results/<file> is rerun by tools/test_golden.py with these
#: arguments (plus --json) and compared with the committed record.
GOLDEN_RUNS = {
    "smoke.json": ["ff_hybrid_mnist.py", "--smoke"],
    "smoke_backprop.json": ["ff_hybrid_mnist.py", "--smoke", "--learner", "backprop"],
}
#: 0.0: the smoke runs use one BLAS thread and the AVX2 kernels of OpenBLAS and numpy on
#: any x86-64 CPU (see the top of this file), and are bit-reproducible (measured: repeated
#: runs identical). The thread count alone changes float32 sgemm results in the last bit,
#: and two epochs of FF amplify that to whole test digits (measured: the smoke test error
#: moved from 26.4% with 2 threads to 24.9% with 1; an AVX-512 and an AVX2 CPU with their
#: own kernels gave 24.9% and 25.3%), so no float tolerance would absorb a kernel change;
#: on a CPU without AVX2 regenerate with `python3 tools/run_all.py --golden`.
GOLDEN_RTOL = 0.0


class CleanParser(argparse.ArgumentParser):
    """argparse parser whose errors are one line "<prog>: error: <message>", exit 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)

    def parse_known_args(self, args=None, namespace=None):
        # argparse drops a value "--" (e.g. --preset=--) and then stores an empty list
        # without checking choices or types: refuse that here.
        ns, extras = super().parse_known_args(args, namespace)
        for a in self._actions:
            if not a.option_strings or a.nargs == 0:
                continue
            v = getattr(ns, a.dest, None)
            if isinstance(v, list) and (a.nargs in (None, "?") or not v):
                self.error(f"argument {a.option_strings[0]}: expected a value")
        return ns, extras


def _num_type(kind: str, lo, hi, lo_open: bool, hi_open: bool):
    cast = int if kind == "int" else float

    def parse(text: str):
        try:
            v = cast(text) if kind == "float" else int(str(text).strip(), 10)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"not an {kind}: {text!r}") from None
        if kind == "float" and not np.isfinite(v):
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        below = v <= lo if lo_open else v < lo
        above = v >= hi if hi_open else v > hi
        if below or above:
            lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
            raise argparse.ArgumentTypeError(f"{text} is outside {lb}{lo:g}, {hi:g}{rb}")
        return v

    parse.kind, parse.lo, parse.hi, parse.lo_open, parse.hi_open = kind, lo, hi, lo_open, hi_open
    parse.__name__ = f"{kind}_in"
    return parse


def int_in(lo: int, hi: int):
    """argparse type: an integer in [lo, hi] (attributes kind, lo, hi, lo_open, hi_open)."""
    return _num_type("int", lo, hi, False, False)


def float_in(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    """argparse type: a finite float in the interval lo..hi (open ends as flagged)."""
    return _num_type("float", lo, hi, lo_open, hi_open)


class Terminated(BaseException):
    """Raised by the SIGTERM handler so that finally blocks run."""


class OutputError(Exception):
    """A result file could not be written (exit code 74)."""


def _raise_terminated(signum, frame):
    raise Terminated()


_BLOCKED = {signal.SIGINT, signal.SIGTERM}


def write_atomic(path, data_or_writer) -> None:
    """Write bytes/str, or call writer(binary file), into path atomically.

    A temporary file in the target's folder is written, flushed and os.replace'd onto
    path; SIGINT/SIGTERM are blocked from just before the temporary file is created until
    it is renamed or removed, and it is removed on every failure path.

    Raises:
        OutputError: the write failed (the message names the path).
    """
    path = Path(path)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                if callable(data_or_writer):
                    data_or_writer(f)
                else:
                    data = data_or_writer
                    f.write(data.encode() if isinstance(data, str) else data)
                f.flush()
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual mode
            os.replace(tmp, path)
            tmp = None
        except BaseException:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            raise
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def assert_finite_record(obj, where="record") -> None:
    """Raise ValueError if any float in a (nested) record is NaN or inf."""
    if isinstance(obj, float):
        if not np.isfinite(obj):
            raise ValueError(f"non-finite number at {where}")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            assert_finite_record(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            assert_finite_record(v, f"{where}[{i}]")


def record_json(record: dict) -> str:
    """Strict JSON text of a record (raises ValueError on NaN/inf)."""
    assert_finite_record(record)
    return json.dumps(record, allow_nan=False, indent=1) + "\n"


def check_output_path(parser, flag: str, path: str, suffix: str | None = None) -> None:
    """Before any training: the parent folder exists (created if missing) and is writable,
    the target is not a folder, the name is not too long, the suffix is right. Probes by
    creating and deleting a temporary file. Failure: parser.error naming the path."""
    if not str(path).strip():
        parser.error(f"{flag}: empty path")
    p = Path(path)
    if suffix is not None and p.suffix != suffix:
        parser.error(f"{flag} {path}: the file name must end in {suffix}")
    if len(p.name.encode()) > 240 or any(len(part.encode()) > 255 for part in p.parts):
        parser.error(f"{flag} {path}: file name too long")
    try:
        is_dir = p.is_dir()
    except OSError as e:
        parser.error(f"{flag} {path}: cannot use this path ({e.strerror or e})")
    if is_dir:
        parser.error(f"{flag} {path}: is a folder")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=p.parent)
            os.close(fd)
            os.unlink(tmp)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    except OSError as e:
        parser.error(f"{flag} {path}: cannot write there ({e.strerror or e})")
    if os.path.exists(p) and not os.access(p, os.W_OK):
        parser.error(f"{flag} {path}: not writable")


def fail(message: str) -> None:
    """One-line error on stderr, exit code 2."""
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.exit(2)


def build_parser() -> CleanParser:
    """The command line; every numeric flag is range-checked when parsed."""
    p = CleanParser(prog=PROG, description=__doc__.splitlines()[0])
    a = p.add_argument
    a("--preset", choices=sorted(PRESETS), default="fast", help="settings (default fast)")
    a("--smoke", action="store_true", help="same as --preset smoke")
    a(
        "--learner",
        choices=["ff", "backprop"],
        default="ff",
        help="ff (default) or the backprop reference on the same data",
    )
    a("--seed", type=int_in(0, 2**32 - 1), default=0, help="first seed (int, 0..2^32-1)")
    a("--sweep", type=int_in(1, 100), default=1, help="run seeds seed..seed+N-1 (1..100)")
    a(
        "--workers",
        type=int_in(1, 64),
        default=1,
        help="processes for a sweep (1..64; results do not depend on it)",
    )
    a("--json", type=str, default=None, help="write the result record to this path")
    a("--data-dir", type=str, default=str(DEFAULT_DATA_DIR), help="folder of the MNIST files")
    a(
        "--layer-sizes",
        type=int_in(1, 4000),
        nargs="+",
        default=None,
        help="784 then 3-6 hidden widths (each 1..4000 units), e.g. 784 2000 2000 2000 2000",
    )
    a("--epochs", type=int_in(0, 1000), default=None, help="FF epochs (0..1000; 0 = control)")
    a("--batch-size", type=int_in(1, 2000), default=None, help="positives per step (1..2000)")
    a("--lr", type=float_in(0, 1e6, lo_open=True), default=None, help="FF rate (0 < lr <= 1e6)")
    a("--lr-schedule", choices=["halfdecay", "constant"], default=None, help="FF rate schedule")
    a("--optimizer", choices=["adam", "sgd"], default=None, help="FF optimiser")
    a(
        "--threshold",
        type=float_in(0, 1e6, lo_open=True),
        default=None,
        help="goodness threshold per unit (0 < t <= 1e6; with --goodness sum times the width)",
    )
    a("--goodness", choices=["mean", "sum"], default=None, help="mean or sum of squares")
    a("--n-blur", type=int_in(0, 100), default=None, help="mask blur passes (0..100)")
    a("--n-train", type=int_in(1, 60000), default=None, help="training images (1..60000)")
    a(
        "--n-holdout",
        type=int_in(0, 59999),
        default=None,
        help="held-out tail of the training images (0..59999; n-train + n-holdout <= 60000)",
    )
    a("--n-test", type=int_in(1, 10000), default=None, help="test images (1..10000)")
    a("--readout-epochs", type=int_in(1, 1000), default=None, help="read-out epochs (1..1000)")
    a(
        "--readout-lr",
        type=float_in(0, 10, lo_open=True),
        default=None,
        help="read-out Adam rate (0 < lr <= 10)",
    )
    a("--readout-l2", type=float_in(0, 10), default=None, help="read-out L2 (0..10)")
    a(
        "--readout-lr-grid",
        type=float_in(0, 10, lo_open=True),
        nargs="+",
        default=None,
        help="read-out rates (each 0 < lr <= 10); the best on held-out images is used",
    )
    a("--save-weights", type=str, default=None, help="write the FF network to this .npz file")
    a(
        "--lr-fanin-ref",
        type=int_in(0, 100000),
        default=None,
        help="scale a layer's rate by min(1, ref/fan_in) (0..100000; 0 = off)",
    )
    a(
        "--time-budget-s",
        type=float_in(0, 1e6, lo_open=True),
        default=None,
        help="FF time budget per seed in seconds (0 < s <= 1e6); re-fits the epoch count",
    )
    a("--weight-cost", type=float_in(0, 1), default=None, help="L2 cost on W (0..1)")
    a("--peer-norm", type=float_in(0, 100), default=None, help="peer-norm strength (0..100)")
    a(
        "--random-baseline",
        type=int,
        choices=[0, 1],
        default=None,
        help="also train the read-out on the untrained network (control; 0 or 1)",
    )
    return p


def resolve_config(args, parser) -> dict:
    """Preset values overridden by explicit flags; cross-flag limits via parser.error."""
    preset = "smoke" if args.smoke else args.preset
    table = BP_PRESETS if args.learner == "backprop" else PRESETS
    cfg = {"preset": preset, "learner": args.learner, **DEFAULTS, **table[preset]}
    for key in list(DEFAULTS) + list(PRESETS["full"]):
        val = getattr(args, key, None)
        if val is not None:
            cfg[key] = val
    cfg["random_baseline"] = bool(cfg["random_baseline"])
    cfg["save_weights"] = args.save_weights
    ls = list(cfg["layer_sizes"])
    if not (4 <= len(ls) <= 7) or ls[0] != 784:
        parser.error("--layer-sizes needs 784 then 3 to 6 hidden widths")
    cfg["layer_sizes"] = ls
    if cfg["n_train"] + cfg["n_holdout"] > 60000:
        parser.error("--n-train plus --n-holdout must be at most 60000")
    if cfg["readout_lr_grid"] and not cfg["n_holdout"]:
        parser.error("--readout-lr-grid needs held-out images (--n-holdout > 0)")
    cfg["seed"] = args.seed
    return cfg


def _child_init() -> None:
    # Ctrl-C reaches the whole process group; only the parent reports it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _seed_job(job):
    cfg, data_dir = job
    data = load_mnist(Path(data_dir))

    def log(*a, **k):
        print(f"[seed {cfg['seed']}]", *a, flush=True)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return run_learner(cfg, data, log=log)


def run_learner(cfg: dict, data: dict, log=print) -> dict:
    """run (FF) or run_bp (backprop reference), by cfg["learner"]."""
    return (run_bp if cfg.get("learner") == "backprop" else run)(cfg, data, log=log)


def run_seeds(cfg: dict, n: int, workers: int, data_dir: str, data=None, log=print) -> dict:
    """Seeds cfg["seed"] .. +n-1, reduced in seed order (combine_seeds).

    A single seed runs in this process. A sweep runs every seed in a child process with
    one BLAS thread (OPENBLAS_NUM_THREADS=1, also OMP/MKL), whatever --workers is, so its
    results do not depend on the number of workers (the thread count changes float32
    matmul results in the last bit).
    """
    t0 = time.perf_counter()
    if n == 1:
        if data is None:
            data = load_mnist(Path(data_dir))
        return run_learner(cfg, data, log=log)
    import multiprocessing as mp

    jobs = [({**cfg, "seed": cfg["seed"] + k}, data_dir) for k in range(n)]
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: "1" for k in names})
    try:
        pool = mp.get_context("spawn").Pool(min(workers, n), initializer=_child_init)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        recs = pool.map(_seed_job, jobs, chunksize=1)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    return combine_seeds(recs, time.perf_counter() - t0)


def _main(argv) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = resolve_config(args, parser)
    if args.json is not None:
        check_output_path(parser, "--json", args.json)
    if args.save_weights is not None:
        if args.sweep > 1:
            parser.error("--save-weights goes with a single seed (no --sweep)")
        check_output_path(parser, "--save-weights", args.save_weights, suffix=".npz")
    print(f"{PROG}: config {json.dumps(cfg)}", flush=True)
    data = None
    if args.sweep == 1:
        data = load_mnist(Path(args.data_dir))  # DataError before any training
    else:
        load_mnist(Path(args.data_dir))  # check in the parent too: one clean error
    rec = run_seeds(cfg, args.sweep, args.workers, args.data_dir, data=data)
    m = rec["metrics"]
    if args.json is not None:
        write_atomic(args.json, record_json(rec))
    seeds = f"seeds {cfg['seed']}..{cfg['seed'] + args.sweep - 1}" if args.sweep > 1 else ""
    print(
        f"{PROG}: preset {cfg['preset']} seed {cfg['seed']} {seeds}: test error "
        f"{m['test_error_pct']:.2f}% (paper {PAPER_TEST_ERROR_PCT}%), train "
        f"{m['train_error_pct']:.2f}%, wall {rec['wall_time_s']:.0f}s",
        flush=True,
    )
    return 0


def main(argv=None, exiting: bool = False) -> int:
    """Entry point: exit 0 ok, 2 bad input or data, 3 diverged, 74 cannot write,
    130 interrupted, 143 terminated; one line on stderr, never a traceback.

    exiting=True (the command line): once the work has ended, however it ended, SIGINT
    and SIGTERM stay blocked until the process exits, so a second signal can neither
    interrupt the one-line message nor kill the interpreter's teardown (which restores
    the default handlers) with no line at all."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                return _main(argv)
        finally:
            if exiting:
                signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
    except DataError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except Diverged as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 3
    except OutputError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 74
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Terminated:
        sys.stderr.write(f"{PROG}: terminated\n")
        return 143


if __name__ == "__main__":
    sys.exit(main(exiting=True))
