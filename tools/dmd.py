"""A data-movement tracer: the ByteDMD cost model, with nothing escaping.

The cost model (Bulatov's ByteDMD, main branch 2cc2a62, as measured and written up in
the catalog's DATA_MOVEMENT.md; this module is an independent implementation):

* A program is a sequence of scalar operations. Each operation reads its tracked inputs
  (one read per occurrence, left to right) and pushes one output. Literals and plain
  (untraced) constants are free and never on the stack.
* A read costs f(d), d the value's depth in an LRU stack of live values (top = 1),
  f(d) = sum_{i=(d-1)B+1}^{dB} ceil(sqrt(i)) with B bytes per element (B = 1:
  ceil(sqrt(d))). Computation and writes are free.
* All reads of one operation are priced against the stack before the operation; then
  its distinct inputs move to the top in first-occurrence order, every value whose last
  read was this operation is removed, and the output is pushed.
* Liveness comes from a second pass: a value leaves the stack right after its last read;
  a value never read takes no slot; values in the result stay to the end.
* Arguments are pushed last argument first, each in row-major order.

Numpy semantics (this catalog's choices, stated once):

* Elementwise ufuncs (arithmetic, exp, log, log1p, tanh, sqrt, maximum, comparisons,
  ...) emit one operation per output element in row-major order, reading the tracked
  inputs in argument order. ``np.where(c, x, y)`` is a select reading c, x and y.
* ``A @ B`` (and ``np.dot``/``np.matmul``) is the naive i, j, k loop: for each output
  (i, j) in row-major order, s = A[i,0]*B[0,j], then s = s + A[i,k]*B[k,j] for k = 1..
  ``np.einsum`` is the same loop over its output indices (row-major, in the order the
  output subscripts name them) with the summed indices innermost (in the order they
  first appear in the subscripts); each term multiplies its operands left to right.
* A reduction (sum, prod, max, min, all, any) starts from the first element and folds
  the rest in, one output element at a time (row-major), the reduced axes innermost.
  ``mean`` is that sum divided by the count (one more operation reading the sum).
* Indexing, slicing, reshapes, transposes, concatenation, copies, dtype conversions
  (``astype``) and assignment are free. ``argmax``/``argmin`` are charged like
  ``max``/``min`` and return a tracked index; ``np.add.at`` is one operation per index,
  in index order. Functions of constants only (literals, random numbers, tables) are
  computed untraced: constants in, constants out, nothing charged.
* Values of every operation are computed by numpy itself on the real arrays, so a traced
  call returns bit-identical numbers to the untraced call; only the charge follows the
  loop orders above.

Nothing escapes: converting a tracked float to a plain array or a Python float, or
passing a traced array to a numpy function this module does not implement, raises
``Escape`` or ``Unsupported``. An integer or bool value that leaves the trace (a branch,
an index, a boolean selection) is charged one read per element, like ByteDMD's
``__bool__``/``__index__``; the values it selects keep their ids. ``Tracer(allow_float=
True)`` lets ``float()`` of a scalar through, charged one read and counted (for code that
turns a loss into a float for logging). ``NumpyNamespace`` stands in for a measured
module's ``np`` so that buffers the code allocates keep traced values tracked.

The trace is kept as integer arrays recorded in bulk per numpy operation; depths come
from a Fenwick tree over last-move times, computed by a small C routine compiled at
first use with the system C compiler (a pure-Python fallback gives identical numbers
when no compiler is available, slowly).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "Escape",
    "Unsupported",
    "Tracer",
    "TracedArray",
    "TraceResult",
    "read_cost",
    "costs_from_histogram",
]


class Escape(TypeError):
    """A traced value was about to leave the trace (to a plain array, float or int)."""


class Unsupported(TypeError):
    """A numpy function or ufunc method the tracer does not implement was called."""


# ----------------------------------------------------------------------------------------
# The read-cost function f_B(d)
# ----------------------------------------------------------------------------------------


def _isqrt_ceil(n: np.ndarray) -> np.ndarray:
    """ceil(sqrt(n)) exactly for an int64 array n >= 0."""
    n = np.asarray(n, dtype=np.int64)
    m = np.ceil(np.sqrt(n.astype(np.float64))).astype(np.int64)
    m = np.where(m * m < n, m + 1, m)
    m = np.where((m - 1) * (m - 1) >= n, m - 1, m)
    return np.maximum(m, 0)


def _ceil_sqrt_prefix(n: np.ndarray) -> np.ndarray:
    """g(n) = sum_{i=1}^{n} ceil(sqrt(i)) exactly, int64, for an int64 array n >= 0."""
    n = np.asarray(n, dtype=np.int64)
    m = _isqrt_ceil(n)
    mm = m - 1
    # sum_{k=1}^{m-1} k (2k - 1) = 2 * sum k^2 - sum k
    full = 2 * (mm * (mm + 1) * (2 * mm + 1) // 6) - mm * (mm + 1) // 2
    return np.where(n > 0, full + m * (n - mm * mm), 0)


def read_cost(depth, bytes_per_element: int = 1):
    """f_B(d): cost of one read at LRU depth d >= 1 (int or int array), B bytes per element.

    f_B(d) = sum_{i=(d-1)B+1}^{dB} ceil(sqrt(i)); B = 1 gives ceil(sqrt(d)).
    Raises ValueError for d < 1 or B < 1.
    """
    d = np.asarray(depth, dtype=np.int64)
    B = int(bytes_per_element)
    if B < 1 or (d.size and d.min() < 1):
        raise ValueError("depth and bytes_per_element must be >= 1")
    out = _ceil_sqrt_prefix(d * B) - _ceil_sqrt_prefix((d - 1) * B)
    return int(out) if out.ndim == 0 else out


def costs_from_histogram(hist: np.ndarray, bytes_per_element: int = 1) -> int:
    """Total cost sum_d hist[d] * f_B(d) of a depth histogram (hist[0] unused), exact int."""
    hist = np.asarray(hist, dtype=np.int64)
    nz = np.flatnonzero(hist)
    nz = nz[nz > 0]
    if nz.size == 0:
        return 0
    f = read_cost(nz, bytes_per_element)
    return int(sum(int(h) * int(c) for h, c in zip(hist[nz], f, strict=True)))


# ----------------------------------------------------------------------------------------
# The depth pass: C (compiled at first use) or pure Python
# ----------------------------------------------------------------------------------------

_C_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Last read (operation index) of every value; values flagged in keep get n_ops.
   Returns the largest number of live values at any time, or -1 on a bad id. */
int64_t dmd_prepare(int64_t n_init, int64_t n_ops, const uint8_t *counts,
                    const int32_t *reads, const uint8_t *keep, int32_t *last) {
    int64_t n_values = n_init + n_ops, r = 0;
    for (int64_t v = 0; v < n_values; v++) last[v] = -1;
    for (int64_t o = 0; o < n_ops; o++) {
        for (int c = 0; c < counts[o]; c++, r++) {
            int32_t v = reads[r];
            if (v < 0 || v >= n_init + o) return -1;
            last[v] = (int32_t)o;
        }
    }
    for (int64_t v = 0; v < n_values; v++) if (keep[v]) last[v] = (int32_t)n_ops;
    int64_t live = 0, max_live = 0;
    for (int64_t v = 0; v < n_init; v++) if (last[v] >= 0) live++;
    max_live = live;
    r = 0;
    for (int64_t o = 0; o < n_ops; o++) {
        for (int c = 0; c < counts[o]; c++, r++) {
            int32_t v = reads[r];
            if (last[v] == o) { last[v] = -2 - (int32_t)o; live--; }  /* mark: removed */
        }
        int64_t out = n_init + o;
        if (last[out] > o) { live++; if (live > max_live) max_live = live; }
    }
    /* undo the marks */
    for (int64_t v = 0; v < n_values; v++) if (last[v] <= -2) last[v] = -2 - last[v];
    return max_live;
}

typedef struct { int64_t cap; int32_t *tree; int32_t *owner; } fen_t;

static void fen_add(fen_t *f, int64_t i, int32_t d) {
    for (i++; i <= f->cap; i += i & (-i)) f->tree[i - 1] += d;
}
static int64_t fen_prefix(const fen_t *f, int64_t i) {  /* count of slots < i */
    int64_t s = 0;
    for (; i > 0; i -= i & (-i)) s += f->tree[i - 1];
    return s;
}
static int fen_rebuild(fen_t *f, int64_t live, int64_t need) {
    int64_t cap = f->cap;
    while (cap < 2 * live + need) cap *= 2;
    if (cap != f->cap) {
        int32_t *t = realloc(f->tree, cap * sizeof(int32_t));
        if (!t) return -1;
        f->tree = t;
        int32_t *ow = realloc(f->owner, cap * sizeof(int32_t));
        if (!ow) return -1;
        f->owner = ow;
        for (int64_t i = f->cap; i < cap; i++) f->owner[i] = -1;
        f->cap = cap;
    }
    for (int64_t i = 0; i < f->cap; i++) f->tree[i] = 0;
    for (int64_t i = 0; i < live; i++) f->tree[i] = 1;
    for (int64_t i = 1; i <= f->cap; i++) {
        int64_t j = i + (i & (-i));
        if (j <= f->cap) f->tree[j - 1] += f->tree[i - 1];
    }
    return 0;
}

/* Simulate the LRU stack; hist[d] counts reads at depth d. Returns 0, or -1 (memory),
   -2 (a read of a value not on the stack). */
int64_t dmd_simulate(int64_t n_init, int64_t n_ops, const uint8_t *counts,
                     const int32_t *reads, const int32_t *last, int64_t *hist) {
    int64_t n_values = n_init + n_ops;
    int32_t *ts = malloc(n_values * sizeof(int32_t));
    int64_t *mark = malloc(n_values * sizeof(int64_t));
    fen_t f; f.cap = 1 << 16;
    f.tree = calloc(f.cap, sizeof(int32_t)); f.owner = malloc(f.cap * sizeof(int32_t));
    if (!ts || !mark || !f.tree || !f.owner) return -1;
    for (int64_t i = 0; i < f.cap; i++) f.owner[i] = -1;
    for (int64_t v = 0; v < n_values; v++) { ts[v] = -1; mark[v] = -1; }
    int64_t clock = 0, live = 0, r = 0, rc = 0;
    int32_t scratch[256];

#define COMPACT(NEED) do { \
        int64_t j_ = 0; \
        for (int64_t t_ = 0; t_ < clock; t_++) { int32_t v_ = f.owner[t_]; \
            if (v_ >= 0) { f.owner[t_] = -1; f.owner[j_] = v_; ts[v_] = (int32_t)j_; j_++; } } \
        clock = j_; \
        if (fen_rebuild(&f, live, (NEED)) < 0) { rc = -1; goto done; } \
    } while (0)
#define PUSH(V) do { if (clock >= f.cap) COMPACT(1024); \
        ts[(V)] = (int32_t)clock; f.owner[clock] = (V); fen_add(&f, clock, 1); \
        clock++; live++; } while (0)
#define REMOVE(V) do { fen_add(&f, ts[(V)], -1); f.owner[ts[(V)]] = -1; \
        ts[(V)] = -1; live--; } while (0)

    for (int64_t v = 0; v < n_init; v++) if (last[v] >= 0) PUSH((int32_t)v);
    for (int64_t o = 0; o < n_ops; o++) {
        int nc = counts[o], nd = 0;
        for (int c = 0; c < nc; c++) {
            int32_t v = reads[r + c];
            if (ts[v] < 0) { rc = -2; goto done; }
            int64_t depth = live - fen_prefix(&f, ts[v]);
            hist[depth]++;
            if (mark[v] != o) { mark[v] = o; scratch[nd++] = v; }
        }
        r += nc;
        for (int c = 0; c < nd; c++) {
            int32_t v = scratch[c];
            REMOVE(v);
            if (last[v] > o) PUSH(v);
        }
        int32_t out = (int32_t)(n_init + o);
        if (last[out] > o) PUSH(out);
    }
done:
    free(ts); free(mark); free(f.tree); free(f.owner);
    return rc;
}
"""

_LIB = None
_LIB_TRIED = False


def _compiled():
    """The compiled depth pass (ctypes library) or None when no C compiler is usable."""
    global _LIB, _LIB_TRIED
    if _LIB_TRIED:
        return _LIB
    _LIB_TRIED = True
    if os.environ.get("DMD_PURE_PYTHON"):
        return None
    tag = hashlib.sha256(_C_SOURCE.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dmd"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = Path(tempfile.gettempdir())
    so = cache / f"dmd_{tag}_{sys.implementation.cache_tag}.so"
    if not so.exists():
        fd, tmp_c = tempfile.mkstemp(prefix=".tmp_dmd_", suffix=".c", dir=cache)
        tmp_so = tmp_c[:-2] + ".so"
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(_C_SOURCE)
            cc = os.environ.get("CC", "cc")
            subprocess.run(
                [cc, "-O2", "-shared", "-fPIC", "-o", tmp_so, tmp_c],
                check=True,
                capture_output=True,
                timeout=120,
            )
            os.replace(tmp_so, so)
        except (OSError, subprocess.SubprocessError):
            return None
        finally:
            for p in (tmp_c, tmp_so):
                if os.path.exists(p):
                    os.unlink(p)
    try:
        lib = ctypes.CDLL(str(so))
    except OSError:
        return None
    P = ctypes.c_void_p
    lib.dmd_prepare.restype = ctypes.c_int64
    lib.dmd_prepare.argtypes = [ctypes.c_int64, ctypes.c_int64, P, P, P, P]
    lib.dmd_simulate.restype = ctypes.c_int64
    lib.dmd_simulate.argtypes = [ctypes.c_int64, ctypes.c_int64, P, P, P, P]
    _LIB = lib
    return lib


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


def _depth_pass_python(n_init, counts, reads, keep):
    """Reference depth pass in pure Python (same algorithm, a Fenwick tree, no C)."""
    n_ops = len(counts)
    n_values = n_init + n_ops
    last = [-1] * n_values
    r = 0
    for o in range(n_ops):
        for _ in range(int(counts[o])):
            last[int(reads[r])] = o
            r += 1
    for v in np.flatnonzero(keep):
        last[int(v)] = n_ops
    cap = n_values + int(np.sum(counts)) + 1
    tree = [0] * (cap + 1)

    def add(i, d):
        i += 1
        while i <= cap:
            tree[i] += d
            i += i & -i

    def prefix(i):
        s = 0
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s

    ts = [-1] * n_values
    clock = live = 0
    hist: dict[int, int] = {}

    def push(v):
        nonlocal clock, live
        ts[v] = clock
        add(clock, 1)
        clock += 1
        live += 1

    for v in range(n_init):
        if last[v] >= 0:
            push(v)
    r = 0
    for o in range(n_ops):
        seen = []
        for _ in range(int(counts[o])):
            v = int(reads[r])
            r += 1
            if ts[v] < 0:
                raise RuntimeError(f"read of value {v} that is not on the stack")
            d = live - prefix(ts[v])
            hist[d] = hist.get(d, 0) + 1
            if v not in seen:
                seen.append(v)
        for v in seen:
            add(ts[v], -1)
            ts[v] = -1
            live -= 1
            if last[v] > o:
                push(v)
        if last[n_init + o] > o:
            push(n_init + o)
    size = max(hist) + 1 if hist else 1
    out = np.zeros(size, dtype=np.int64)
    for d, c in hist.items():
        out[d] = c
    return out


def depth_histogram(n_init: int, counts: np.ndarray, reads: np.ndarray, keep: np.ndarray):
    """Histogram of read depths of a recorded trace (index d = depth, int64 array).

    n_init: number of argument values (ids 0..n_init-1, in push order); operation o
    pushes value n_init + o. counts: reads per operation (uint8); reads: the read ids in
    order (int32); keep: per value, 1 if it is part of the result (live to the end).
    """
    counts = np.ascontiguousarray(counts, dtype=np.uint8)
    reads = np.ascontiguousarray(reads, dtype=np.int32)
    keep = np.ascontiguousarray(keep, dtype=np.uint8)
    n_ops = len(counts)
    lib = _compiled()
    if lib is None:
        return _depth_pass_python(n_init, counts, reads, keep)
    last = np.empty(n_init + n_ops, dtype=np.int32)
    max_live = lib.dmd_prepare(n_init, n_ops, _ptr(counts), _ptr(reads), _ptr(keep), _ptr(last))
    if max_live < 0:
        raise RuntimeError("trace reads a value before it exists")
    hist = np.zeros(max_live + 2, dtype=np.int64)
    rc = lib.dmd_simulate(n_init, n_ops, _ptr(counts), _ptr(reads), _ptr(last), _ptr(hist))
    if rc == -1:
        raise MemoryError("depth pass: out of memory")
    if rc == -2:
        raise RuntimeError("trace reads a value that is not on the stack")
    nz = np.flatnonzero(hist)
    return hist[: (nz[-1] + 1 if nz.size else 1)]


# ----------------------------------------------------------------------------------------
# The tracer and the traced array
# ----------------------------------------------------------------------------------------


class TraceResult:
    """Reads, operations and cost of a finished trace.

    Attributes: reads (int), ops (int: traced scalar operations, the FLOP count), hist
    (int64 array, reads per depth), max_depth (int), and cost(B) for any B.
    """

    def __init__(self, hist: np.ndarray, ops: int, n_args: int):
        self.hist = hist
        self.reads = int(hist.sum())
        self.ops = int(ops)
        self.n_args = int(n_args)
        nz = np.flatnonzero(hist)
        self.max_depth = int(nz[-1]) if nz.size else 0
        self._cost: dict[int, int] = {}

    def cost(self, bytes_per_element: int = 1) -> int:
        """Total read cost with B = bytes_per_element bytes per element (exact int)."""
        B = int(bytes_per_element)
        if B not in self._cost:
            self._cost[B] = costs_from_histogram(self.hist, B)
        return self._cost[B]

    def summary(self, dtype_bytes: int) -> dict:
        """A JSON-ready dict: reads, flops, cost at B=1 and B=dtype_bytes, cost per flop."""
        c1 = self.cost(1)
        cb = self.cost(dtype_bytes)
        return {
            "reads": self.reads,
            "flops": self.ops,
            "cost_B1": c1,
            "bytes_per_element": int(dtype_bytes),
            "cost_Bdtype": cb,
            "cost_per_flop_B1": c1 / self.ops if self.ops else 0.0,
            "cost_per_flop_Bdtype": cb / self.ops if self.ops else 0.0,
            "max_depth": self.max_depth,
        }


class Tracer:
    """Records one traced program. Typical use::

        tr = Tracer()
        A, x = tr.args(A_np, x_np)      # pushed last argument first
        y = A @ x                        # any numpy code
        res = tr.finish(y)               # TraceResult: res.reads, res.cost(1)

    escape: names of elementwise functions that behave like ByteDMD's ``math.exp``
    (charge the reads, return an untracked constant); only for showing what an escape
    hides, never for a measurement.
    allow_float: let ``float()`` of a tracked scalar through (charged one read, counted in
    ``float_escapes``) instead of raising Escape; for code that turns a loss into a
    Python float for logging. A measurement made this way reports the count.
    """

    def __init__(self, escape: tuple[str, ...] = (), allow_float: bool = False):
        self.allow_float = allow_float
        self.float_escapes = 0
        self._counts: list[np.ndarray] = []
        self._reads: list[np.ndarray] = []
        self.n_init = 0
        self.n_ops = 0
        self._started = False
        self.escape = frozenset(escape)
        self.result: TraceResult | None = None

    # -- arguments ------------------------------------------------------------------
    def args(self, *arrays):
        """Wrap the program's arguments (arrays or scalars); returns TracedArrays.

        Pushed last argument first, each in row-major order, so the stack's top is the
        last element of the first argument. Must be called before any operation.
        """
        if self._started:
            raise RuntimeError("arguments must be registered before the first operation")
        out = [None] * len(arrays)
        for i in range(len(arrays) - 1, -1, -1):
            a = np.array(arrays[i])  # a private copy
            ids = self.n_init + np.arange(a.size, dtype=np.int64).reshape(a.shape)
            self.n_init += a.size
            out[i] = TracedArray(a, ids, self)
        return out[0] if len(out) == 1 else out

    def tree(self, obj):
        """Wrap a nested dict/list/tuple of arrays as arguments, leaves in that order."""
        leaves: list = []
        _leaves(obj, leaves)
        wrapped = self.args(*leaves) if leaves else []
        if len(leaves) == 1:
            wrapped = [wrapped]
        it = iter(wrapped)
        return _rebuild(obj, it)

    # -- recording ------------------------------------------------------------------
    def _record(self, mat: np.ndarray) -> np.ndarray:
        """Record operations whose read ids are the rows of mat (n, k) (-1 = literal).

        Returns the n output ids (new values, in order).
        """
        self._started = True
        n = mat.shape[0]
        if n == 0:
            return np.empty(0, dtype=np.int64)
        m = mat >= 0
        self._counts.append(m.sum(axis=1).astype(np.uint8))
        self._reads.append(mat[m].astype(np.int32))
        start = self.n_init + self.n_ops
        self.n_ops += n
        if start + n >= 2**31:
            raise MemoryError("trace exceeds 2**31 values")
        return start + np.arange(n, dtype=np.int64)

    def _record_sequence(self, mat: np.ndarray) -> np.ndarray:
        """Record ops whose rows may read earlier rows of the same call.

        mat (n, k): entries >= 0 are value ids, entries <= -2 mean "the output of row
        (-2 - entry) of this call", -1 is a literal. Returns all n output ids.
        """
        start = self.n_init + self.n_ops
        local = mat <= -2
        mat = np.where(local, start + (-2 - mat), mat)
        return self._record(mat)

    def finish(self, result=None) -> TraceResult:
        """End the trace: values in ``result`` (any nesting of TracedArray, list, tuple,
        dict) stay live to the end. Returns the TraceResult (also stored in .result)."""
        keep = np.zeros(self.n_init + self.n_ops, dtype=np.uint8)
        leaves: list = []
        _leaves(result, leaves)
        for leaf in leaves:
            if isinstance(leaf, TracedArray):
                ids = leaf.ids[leaf.ids >= 0]
                keep[ids] = 1
        counts = np.concatenate(self._counts) if self._counts else np.zeros(0, np.uint8)
        reads = np.concatenate(self._reads) if self._reads else np.zeros(0, np.int32)
        self._counts = [counts]
        self._reads = [reads]
        self.keep = keep
        hist = depth_histogram(self.n_init, counts, reads, keep)
        self.result = TraceResult(hist, self.n_ops, self.n_init)
        return self.result


def _leaves(obj, out: list) -> None:
    if isinstance(obj, dict):
        for k in obj:
            _leaves(obj[k], out)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _leaves(x, out)
    elif obj is not None:
        out.append(obj)


def _rebuild(obj, it):
    if isinstance(obj, dict):
        return {k: _rebuild(v, it) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rebuild(x, it) for x in obj)
    if obj is None:
        return None
    return next(it)


# Elementwise ufuncs charged as one operation per output element.
_ELEMENTWISE = {
    np.add, np.subtract, np.multiply, np.true_divide, np.floor_divide, np.power,
    np.float_power, np.remainder, np.negative, np.positive, np.absolute, np.fabs,
    np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.logaddexp,
    np.logaddexp2, np.tanh, np.sinh, np.cosh, np.sin, np.cos, np.tan, np.arctan,
    np.arctanh, np.sqrt, np.cbrt, np.square, np.reciprocal, np.maximum, np.minimum,
    np.fmax, np.fmin, np.greater, np.greater_equal, np.less, np.less_equal, np.equal,
    np.not_equal, np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.sign, np.floor, np.ceil, np.trunc, np.rint, np.isfinite, np.isnan, np.isinf,
    np.copysign, np.heaviside, np.signbit, np.bitwise_and, np.bitwise_or,
    np.bitwise_xor, np.invert, np.arctan2, np.hypot, np.right_shift, np.left_shift,
}  # fmt: skip

# Reductions: the ufunc that folds the elements.
_REDUCERS = {
    np.add: np.add,
    np.multiply: np.multiply,
    np.maximum: np.maximum,
    np.minimum: np.minimum,
    np.logical_and: np.logical_and,
    np.logical_or: np.logical_or,
}


def _ids_of(x, shape=None) -> np.ndarray:
    """Value ids of an operand: a TracedArray's ids, or -1 everywhere for a constant."""
    if isinstance(x, TracedArray):
        return x.ids
    return np.full(np.shape(x) if shape is None else shape, -1, dtype=np.int64)


def _val(x):
    return x.val if isinstance(x, TracedArray) else x


def _tracer_of(objs):
    for o in objs:
        if isinstance(o, TracedArray):
            return o.tracer
        if isinstance(o, (list, tuple)):
            t = _tracer_of(o)
            if t is not None:
                return t
    return None


class TracedArray:
    """A numpy array whose every element carries a value id in a Tracer's trace.

    .val: the real ndarray (computed by numpy itself); .ids: int64 ids of the same
    shape (-1 for a constant element). Supports numpy ufuncs and the array functions
    listed in _FUNCTIONS; anything else raises Unsupported, and any conversion to a
    plain array or number raises Escape.
    """

    __array_priority__ = 1000

    def __init__(self, val, ids, tracer: Tracer):
        self.val = val if isinstance(val, np.ndarray) else np.asarray(val)
        self.ids = ids
        self.tracer = tracer

    # -- array attributes (free) -----------------------------------------------------
    shape = property(lambda self: self.val.shape)
    ndim = property(lambda self: self.val.ndim)
    size = property(lambda self: self.val.size)
    dtype = property(lambda self: self.val.dtype)
    itemsize = property(lambda self: self.val.itemsize)
    nbytes = property(lambda self: self.val.nbytes)
    T = property(lambda self: self.transpose())
    flags = property(lambda self: self.val.flags)

    def __len__(self):
        return len(self.val)

    def __repr__(self):
        return f"TracedArray(shape={self.shape}, dtype={self.dtype})"

    def _new(self, val, ids):
        return TracedArray(val, ids, self.tracer)

    # -- escapes ----------------------------------------------------------------------
    # A conversion is an escape only when a tracked value would leave the trace; an array
    # of constants (every id -1: literals, random numbers, zero-filled buffers) converts
    # freely, like the literal it is.
    def is_constant(self) -> bool:
        """True when no element of this array is a tracked value."""
        return bool((self.ids < 0).all())

    def _leave(self, what: str):
        """The plain values, when they may leave: constants freely; integer and bool
        values (indices, branch conditions, selections) charged one read per tracked
        element, like a branch; a tracked float never (raises Escape)."""
        if self.is_constant():
            return self.val
        if self.val.dtype.kind in "iub":
            ids = self.ids.reshape(-1)
            self.tracer._record(ids[ids >= 0].reshape(-1, 1))
            return self.val
        raise Escape(f"a traced value was converted {what}")

    def __array__(self, dtype=None, copy=None):
        v = self._leave("to a plain numpy array")
        return v if dtype is None else v.astype(dtype)

    def __float__(self):
        if self.tracer.allow_float and self.size == 1 and not self.is_constant():
            self.tracer._record(self.ids.reshape(1, 1))  # the conversion reads the value
            self.tracer.float_escapes += 1
            return float(self.val.reshape(()))
        return float(self._leave("to a Python float (e.g. by math.exp)"))

    def __int__(self):
        return int(self._leave("to a Python int"))

    def __index__(self):
        return int(self._leave("to an index"))

    def __complex__(self):
        return complex(self._leave("to complex"))

    def item(self, *a):
        return self._leave("with .item()").item(*a)

    def tolist(self):
        return self._leave("with .tolist()").tolist()

    def __bool__(self):
        if self.size != 1:
            raise ValueError("truth value of a traced array with more than one element")
        self.tracer._record(self.ids.reshape(1, 1))  # a branch reads its condition
        return bool(self.val.reshape(()))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # -- indexing (free) ------------------------------------------------------------
    def __getitem__(self, idx):
        idx = _plain_index(idx)
        return self._new(self.val[idx], self.ids[idx])

    def __setitem__(self, idx, value):
        idx = _plain_index(idx)
        self.val[idx] = _val(value)
        self.ids[idx] = _ids_of(value)

    # -- shape methods (free) -----------------------------------------------------
    def reshape(self, *shape, **kw):
        return self._new(self.val.reshape(*shape, **kw), self.ids.reshape(*shape, **kw))

    def transpose(self, *axes):
        return self._new(self.val.transpose(*axes), self.ids.transpose(*axes))

    def swapaxes(self, a, b):
        return self._new(self.val.swapaxes(a, b), self.ids.swapaxes(a, b))

    def ravel(self, order="C"):
        return self._new(self.val.ravel(order), self.ids.ravel(order))

    def flatten(self, order="C"):
        return self._new(self.val.flatten(order), self.ids.flatten(order))

    def squeeze(self, axis=None):
        return self._new(self.val.squeeze(axis), self.ids.squeeze(axis))

    def copy(self, order="C"):
        return self._new(self.val.copy(order), self.ids.copy(order))

    def astype(self, dtype, copy=True, **kw):
        return self._new(self.val.astype(dtype, copy=True), self.ids.copy())

    def view(self, *a, **kw):
        raise Unsupported("TracedArray.view")

    # -- reductions -------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return _reduce(np.add, self, axis, keepdims, dtype=dtype, out=out, **kw)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return _reduce(np.multiply, self, axis, keepdims, dtype=dtype, out=out, **kw)

    def max(self, axis=None, out=None, keepdims=False, **kw):
        return _reduce(np.maximum, self, axis, keepdims, out=out, **kw)

    def min(self, axis=None, out=None, keepdims=False, **kw):
        return _reduce(np.minimum, self, axis, keepdims, out=out, **kw)

    def all(self, axis=None, out=None, keepdims=False, **kw):
        return _reduce(np.logical_and, self, axis, keepdims, out=out, **kw)

    def any(self, axis=None, out=None, keepdims=False, **kw):
        return _reduce(np.logical_or, self, axis, keepdims, out=out, **kw)

    def argmax(self, axis=None, out=None, keepdims=False):
        return _arg_reduce(np.argmax, self, axis, keepdims, out)

    def argmin(self, axis=None, out=None, keepdims=False):
        return _arg_reduce(np.argmin, self, axis, keepdims, out)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return _mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)

    def dot(self, other):
        return np.dot(self, other)

    # -- operators -------------------------------------------------------------------
    def _bin(uf, reflect=False):  # noqa: N805
        if reflect:
            return lambda self, o: uf(o, self)
        return lambda self, o: uf(self, o)

    def _inplace(uf):  # noqa: N805
        def f(self, o):
            uf(self, o, out=(self,))
            return self

        return f

    __add__, __radd__, __iadd__ = _bin(np.add), _bin(np.add, True), _inplace(np.add)
    __sub__, __rsub__, __isub__ = (
        _bin(np.subtract),
        _bin(np.subtract, True),
        _inplace(np.subtract),
    )
    __mul__, __rmul__, __imul__ = (
        _bin(np.multiply),
        _bin(np.multiply, True),
        _inplace(np.multiply),
    )
    __truediv__, __rtruediv__, __itruediv__ = (
        _bin(np.true_divide),
        _bin(np.true_divide, True),
        _inplace(np.true_divide),
    )
    __floordiv__, __rfloordiv__ = _bin(np.floor_divide), _bin(np.floor_divide, True)
    __mod__, __rmod__ = _bin(np.remainder), _bin(np.remainder, True)
    __pow__, __rpow__, __ipow__ = _bin(np.power), _bin(np.power, True), _inplace(np.power)
    __matmul__, __rmatmul__ = _bin(np.matmul), _bin(np.matmul, True)
    __and__, __rand__, __iand__ = (
        _bin(np.bitwise_and),
        _bin(np.bitwise_and, True),
        _inplace(np.bitwise_and),
    )
    __or__, __ror__, __ior__ = (
        _bin(np.bitwise_or),
        _bin(np.bitwise_or, True),
        _inplace(np.bitwise_or),
    )
    __xor__, __rxor__ = _bin(np.bitwise_xor), _bin(np.bitwise_xor, True)
    __rshift__, __rrshift__ = _bin(np.right_shift), _bin(np.right_shift, True)
    __lshift__, __rlshift__ = _bin(np.left_shift), _bin(np.left_shift, True)
    __lt__, __le__ = _bin(np.less), _bin(np.less_equal)
    __gt__, __ge__ = _bin(np.greater), _bin(np.greater_equal)
    __eq__, __ne__ = _bin(np.equal), _bin(np.not_equal)
    __hash__ = None
    del _bin, _inplace

    def __neg__(self):
        return np.negative(self)

    def __pos__(self):
        return np.positive(self)

    def __abs__(self):
        return np.absolute(self)

    def __invert__(self):
        return np.invert(self)

    # -- numpy protocols ------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.pop("out", None)
        if all(not isinstance(x, TracedArray) or x.is_constant() for x in inputs):
            # constants in, constants out: no tracked value is read, nothing is charged
            vals = [_val(x) for x in inputs]
            res = getattr(ufunc, method)(*vals, **kwargs)
            if isinstance(res, tuple):
                return tuple(_constant(r, self.tracer) for r in res)
            res = _constant(res, self.tracer)
        elif method == "__call__":
            if ufunc is np.matmul:
                res = _matmul(inputs[0], inputs[1], **kwargs)
            elif ufunc in _ELEMENTWISE:
                res = _elementwise(ufunc, inputs, kwargs)
            else:
                raise Unsupported(f"ufunc {ufunc.__name__} is not traced")
        elif method == "at" and ufunc in (np.add, np.subtract, np.multiply):
            _ufunc_at(ufunc, *inputs)
            return None
        elif method == "reduce" and ufunc in _REDUCERS:
            axis = kwargs.pop("axis", 0)
            keepdims = kwargs.pop("keepdims", False)
            res = _reduce(ufunc, inputs[0], axis, keepdims, **kwargs)
        else:
            raise Unsupported(f"ufunc {ufunc.__name__}.{method} is not traced")
        if out is not None:
            target = out[0] if isinstance(out, tuple) else out
            if not isinstance(target, TracedArray):
                target[...] = res._leave(f"into a plain array by {ufunc.__name__}(out=...)")
                return target
            target[...] = res
            return target
        return res

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCTIONS.get(func)
        if handler is None:
            raise Unsupported(f"numpy function {func.__module__}.{func.__name__} is not traced")
        return handler(*args, **kwargs)


def _constant(val, tracer):
    """A constant TracedArray holding val (an array or scalar result)."""
    val = np.asarray(val)
    return TracedArray(val, np.full(val.shape, -1, dtype=np.int64), tracer)


def _plain_index(idx):
    """An index must be plain (ints, slices, plain arrays); a traced index escapes."""
    if isinstance(idx, TracedArray):
        return idx._leave("to an index (a float index)")
    if isinstance(idx, tuple) and any(isinstance(it, TracedArray) for it in idx):
        return tuple(it._leave("to an index") if isinstance(it, TracedArray) else it for it in idx)
    return idx


# -- elementwise --------------------------------------------------------------------


def _elementwise(ufunc, inputs, kwargs):
    tracer = _tracer_of(inputs)
    for k in kwargs:
        if k not in ("dtype", "casting", "where", "signature"):
            raise Unsupported(f"{ufunc.__name__} keyword {k}")
    if "where" in kwargs:
        raise Unsupported(f"{ufunc.__name__}(where=...)")
    vals = [_val(x) for x in inputs]
    val = ufunc(*vals, **kwargs)
    val = np.asarray(val)
    shape = val.shape
    cols = [np.broadcast_to(_ids_of(x), shape).reshape(-1) for x in inputs]
    mat = np.stack(cols, axis=1) if cols else np.empty((val.size, 0), np.int64)
    ids = np.full(val.size, -1, dtype=np.int64)
    tracked = (mat >= 0).any(axis=1)
    if ufunc.__name__ in tracer.escape:
        tracer._record(mat[tracked])  # charged, then the value leaves the trace
    else:
        ids[tracked] = tracer._record(mat[tracked])
    return TracedArray(val, ids.reshape(shape), tracer)


def _where(cond, x=None, y=None):
    if x is None or y is None:
        raise Unsupported("np.where with one argument (index lookup on traced values)")
    tracer = _tracer_of((cond, x, y))
    val = np.asarray(np.where(_val(cond), _val(x), _val(y)))
    shape = val.shape
    mat = np.stack([np.broadcast_to(_ids_of(a), shape).reshape(-1) for a in (cond, x, y)], 1)
    ids = np.full(val.size, -1, dtype=np.int64)
    tracked = (mat >= 0).any(axis=1)
    ids[tracked] = tracer._record(mat[tracked])
    return TracedArray(val, ids.reshape(shape), tracer)


def _clip(a, a_min=None, a_max=None, out=None, **kw):
    if out is not None or kw:
        raise Unsupported("np.clip with out= or keywords")
    r = a
    if a_min is not None:
        r = np.maximum(r, a_min)
    if a_max is not None:
        r = np.minimum(r, a_max)
    if not isinstance(r, TracedArray):
        raise Unsupported("np.clip of a constant")
    # the values: numpy's own clip (identical to maximum/minimum for finite floats)
    r.val[...] = np.clip(_val(a), _val(a_min), _val(a_max))
    return r


# -- contractions: reductions, matmul, einsum -------------------------------------------


def _contract(tracer: Tracer, T: np.ndarray) -> np.ndarray:
    """Emit the fold of terms for every output: T (n_out, K, m) operand ids.

    For each output (in order): term k = T[o,k,0]*T[o,k,1]*...*T[o,k,m-1] (left to right),
    s = term 0, then s = s + term k for k = 1..K-1. Returns the n_out result ids.
    With m = 1 this is a plain sum from the first element.
    """
    n_out, K, m = T.shape
    L = m - 1
    if K == 1 and L == 0:
        return T[:, 0, 0].copy()
    P = K * L + (K - 1)
    rows = np.full((n_out, P, 2), -1, dtype=np.int64)
    base = np.arange(n_out, dtype=np.int64)[:, None] * P  # row offsets of each output
    ks = np.arange(K)
    start = ks * L + np.maximum(ks - 1, 0)  # first op position of term k
    if L > 0:
        for j in range(L):
            pos = start + j  # (K,)
            first = T[:, :, 0] if j == 0 else -2 - (base + (pos - 1)[None, :])
            rows[:, pos, 0] = first
            rows[:, pos, 1] = T[:, :, j + 1]
        term = -2 - (base + (start + L - 1)[None, :])  # (n_out, K) local refs
    else:
        term = T[:, :, 0]
    if K > 1:
        add_pos = start[1:] + L  # (K-1,)
        prev = np.empty((n_out, K - 1), dtype=np.int64)
        prev[:, 0] = term[:, 0]
        if K > 2:
            prev[:, 1:] = -2 - (base + add_pos[None, :-1])
        rows[:, add_pos, 0] = prev
        rows[:, add_pos, 1] = term[:, 1:]
        final = base[:, 0] + add_pos[-1]
    else:
        final = base[:, 0] + start[0] + L - 1
    out = tracer._record_sequence(rows.reshape(-1, 2))
    return out[final]


def _reduce(ufunc, a, axis, keepdims, dtype=None, out=None, initial=None, where=None):
    if initial is not None or where is not None:
        raise Unsupported("reduction with initial= or where=")
    if not isinstance(a, TracedArray):
        raise Unsupported("reduction of a constant through the tracer")
    tracer = a.tracer
    kw = {} if dtype is None else {"dtype": dtype}
    val = np.asarray(ufunc.reduce(a.val, axis=axis, keepdims=keepdims, **kw))
    nd = a.ndim
    axes = tuple(range(nd)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(sorted(ax % nd for ax in axes)) if nd else ()
    keep_axes = [ax for ax in range(nd) if ax not in axes]
    ids = a.ids.transpose(keep_axes + list(axes))
    n_out = int(np.prod([a.shape[ax] for ax in keep_axes], dtype=np.int64))
    K = int(np.prod([a.shape[ax] for ax in axes], dtype=np.int64))
    if K == 0:
        raise Unsupported("reduction over an empty axis")
    T = ids.reshape(n_out, K, 1)
    res = _contract(tracer, T)  # the same fold for every operator (+, *, max, ...)
    res_ids = res.reshape(val.shape)
    r = TracedArray(val, res_ids, tracer)
    if out is not None:
        if not isinstance(out, TracedArray):
            raise Escape("reduction wrote into a plain array")
        out[...] = r
        return out
    return r


def _ufunc_at(ufunc, target, indices, values=None):
    """ufunc.at(target, indices, values): unbuffered, in index order; every element
    update is one operation reading the target's current value, then the value."""
    if not isinstance(target, TracedArray):
        raise Escape(f"{ufunc.__name__}.at of traced values into a plain array")
    tracer = target.tracer
    idx = _plain_index(indices)
    if isinstance(idx, tuple):
        raise Unsupported(f"{ufunc.__name__}.at with a tuple index")
    idx = np.asarray(idx)
    vals = _val(values)
    # values broadcast against target[idx] (shape idx.shape + target.shape[1:])
    sub_shape = idx.shape + target.shape[1:]
    vids = np.broadcast_to(_ids_of(values, np.shape(vals)), sub_shape).reshape(
        len(idx.reshape(-1)), -1
    )
    # numbers: numpy's own (bit-identical)
    ufunc.at(target.val, idx, vals)
    cur = target.ids.reshape(target.shape[0], -1)
    flat_idx = idx.reshape(-1)
    for n, i in enumerate(flat_idx):
        rows = np.stack([cur[i], vids[n]], axis=1)
        tracked = (rows >= 0).any(axis=1)
        new = cur[i].copy()
        new[tracked] = tracer._record(rows[tracked])
        cur[i] = new
    target.ids[...] = cur.reshape(target.shape)


def _arg_reduce(fn, a, axis=None, keepdims=False, out=None):
    """argmax/argmin: charged as the fold of comparisons along the axis (like max/min),
    returning a tracked integer index per output."""
    if out is not None:
        raise Unsupported(f"{fn.__name__}(out=)")
    if not isinstance(a, TracedArray):
        raise Unsupported(f"{fn.__name__} of a constant through the tracer")
    val = np.asarray(fn(a.val, axis=axis, keepdims=keepdims))
    folded = _reduce(np.maximum, a, axis, keepdims)
    return TracedArray(val, folded.ids.reshape(val.shape), a.tracer)


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    if not isinstance(a, TracedArray):
        raise Unsupported("mean of a constant through the tracer")
    s = _reduce(np.add, a, axis, keepdims, dtype=dtype)
    n = a.size // max(s.size, 1)
    val = np.asarray(np.mean(a.val, axis=axis, dtype=dtype, keepdims=keepdims, **kw))
    r = s / n
    r.val = val  # numpy's own mean (bit-identical to the untraced call)
    if out is not None:
        out[...] = r
        return out
    return r


def _matmul(a, b, **kw):
    if kw:
        raise Unsupported("matmul keywords")
    tracer = _tracer_of((a, b))
    av, bv = _val(a), _val(b)
    val = np.asarray(np.matmul(av, bv))
    A = _ids_of(a, np.shape(av))
    Bm = _ids_of(b, np.shape(bv))
    a1, b1 = A.ndim == 1, Bm.ndim == 1
    if a1:
        A = A[None, :]
    if b1:
        Bm = Bm[:, None]
    M, K = A.shape[-2:]
    N = Bm.shape[-1]
    batch = np.broadcast_shapes(A.shape[:-2], Bm.shape[:-2])
    A = np.broadcast_to(A, batch + (M, K))
    Bm = np.broadcast_to(Bm, batch + (K, N))
    # T[o, k] for o = (batch..., i, j) row-major: (A[..., i, k], B[..., k, j])
    TA = np.broadcast_to(A[..., :, None, :], batch + (M, N, K))
    TB = np.broadcast_to(np.swapaxes(Bm, -1, -2)[..., None, :, :], batch + (M, N, K))
    T = np.stack([TA.reshape(-1, K), TB.reshape(-1, K)], axis=2)
    res = _contract(tracer, T).reshape(batch + (M, N))
    if a1:
        res = res[..., 0, :]
    if b1:
        res = res[..., 0]
    return TracedArray(val, res.reshape(val.shape), tracer)


def _dot(a, b, out=None):
    if out is not None:
        raise Unsupported("np.dot(out=)")
    if np.ndim(_val(a)) > 2 or np.ndim(_val(b)) > 2:
        raise Unsupported("np.dot of arrays with more than 2 dimensions")
    if np.ndim(_val(a)) == 0 or np.ndim(_val(b)) == 0:
        return np.multiply(a, b)
    return _matmul(a, b)


def _einsum(subscripts, *operands, optimize=False, out=None, **kw):
    """np.einsum charged as the naive loop (see module docstring); explicit '->' only."""
    if out is not None or kw:
        raise Unsupported("np.einsum with out= or other keywords")
    if "..." in subscripts or "->" not in subscripts:
        raise Unsupported("np.einsum needs explicit '->' output and no ellipsis")
    tracer = _tracer_of(operands)
    vals = [_val(o) for o in operands]
    val = np.asarray(np.einsum(subscripts, *vals, optimize=optimize))
    ins, outs = subscripts.replace(" ", "").split("->")
    ins = ins.split(",")
    sizes: dict[str, int] = {}
    for s, v in zip(ins, vals, strict=True):
        for c, n in zip(s, np.shape(v), strict=True):
            sizes[c] = n
    summed = []
    for s in ins:
        for c in s:
            if c not in outs and c not in summed:
                summed.append(c)
    order = list(outs) + summed
    full = tuple(sizes[c] for c in order)
    cols = []
    for s, o in zip(ins, operands, strict=True):
        ids = _ids_of(o, np.shape(_val(o)))
        # bring the operand's axes into `order`, inserting broadcast axes
        if len(set(s)) != len(s):
            raise Unsupported("np.einsum with a repeated index in one operand (diagonal)")
        perm = [s.index(c) for c in order if c in s]
        t = ids.transpose(perm)
        shape = [sizes[c] if c in s else 1 for c in order]
        cols.append(np.broadcast_to(t.reshape(shape), full))
    n_out = int(np.prod([sizes[c] for c in outs], dtype=np.int64))
    K = int(np.prod([sizes[c] for c in summed], dtype=np.int64))
    T = np.stack([c.reshape(n_out, K) for c in cols], axis=2)
    res = _contract(tracer, T)
    return TracedArray(val, res.reshape(val.shape), tracer)


# -- free structural functions ----------------------------------------------------------


def _structural(fn):
    """A numpy function applied to values and ids alike (free: moves no data).

    Only the first argument (an array or a sequence of arrays) carries data; the other
    arguments (shapes, axes, index arrays, repeat counts) are passed unchanged.
    """

    def conv(x, which):
        if isinstance(x, TracedArray):
            return x.val if which == "val" else x.ids
        if isinstance(x, (list, tuple)):
            return type(x)(conv(e, which) for e in x)
        if which == "ids":
            return np.full(np.shape(x), -1, dtype=np.int64)
        return x

    def run(*args, **kwargs):
        tracer = _tracer_of(args[:1])
        if tracer is None:
            raise Unsupported(f"np.{fn.__name__} with a traced array in a parameter")
        val = fn(conv(args[0], "val"), *args[1:], **kwargs)
        ids = fn(conv(args[0], "ids"), *args[1:], **kwargs)
        if isinstance(val, (list, tuple)):
            return type(val)(TracedArray(v, i, tracer) for v, i in zip(val, ids, strict=True))
        return TracedArray(np.asarray(val), np.asarray(ids, dtype=np.int64), tracer)

    return run


def _like(fill):
    def run(a, dtype=None, order="K", subok=True, shape=None, **kw):
        v = np.full_like(a.val, fill, dtype=dtype, shape=shape)
        return TracedArray(v, np.full(v.shape, -1, dtype=np.int64), a.tracer)

    return run


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    if isinstance(fill_value, TracedArray):
        raise Unsupported("np.full_like with a traced fill value")
    return _like(fill_value)(a, dtype=dtype, shape=shape)


def _empty_like(a, dtype=None, order="K", subok=True, shape=None):
    return _like(0)(a, dtype=dtype, shape=shape)


def _shape(a):
    return np.shape(_val(a))


def _ndim(a):
    return np.ndim(_val(a))


def _size(a, axis=None):
    return np.size(_val(a), axis)


def _result_type(*arrays_and_dtypes):
    return np.result_type(
        *[_val(a) if isinstance(a, TracedArray) else a for a in arrays_and_dtypes]
    )


def _outer(a, b, out=None):
    if out is not None:
        raise Unsupported("np.outer(out=)")
    return np.multiply(np.ravel(a)[:, None], np.ravel(b)[None, :])


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return _reduce(np.add, a, axis, keepdims, dtype=dtype, out=out, **kw)


def _amax(a, axis=None, out=None, keepdims=False, **kw):
    return _reduce(np.maximum, a, axis, keepdims, out=out, **kw)


def _amin(a, axis=None, out=None, keepdims=False, **kw):
    return _reduce(np.minimum, a, axis, keepdims, out=out, **kw)


def _all(a, axis=None, out=None, keepdims=False, **kw):
    return _reduce(np.logical_and, a, axis, keepdims, out=out, **kw)


def _any(a, axis=None, out=None, keepdims=False, **kw):
    return _reduce(np.logical_or, a, axis, keepdims, out=out, **kw)


def _prod(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return _reduce(np.multiply, a, axis, keepdims, dtype=dtype, out=out, **kw)


def _copyto(dst, src, casting="same_kind", where=True):
    if where is not True:
        raise Unsupported("np.copyto(where=)")
    if not isinstance(dst, TracedArray):
        raise Escape("np.copyto of a traced value into a plain array")
    dst[...] = src


def _shares_memory(a, b, max_work=None):
    return np.shares_memory(_val(a), _val(b), max_work)


_FUNCTIONS = {
    np.argmax: lambda a, axis=None, out=None, keepdims=False: _arg_reduce(
        np.argmax, a, axis, keepdims, out
    ),
    np.argmin: lambda a, axis=None, out=None, keepdims=False: _arg_reduce(
        np.argmin, a, axis, keepdims, out
    ),
    np.shares_memory: _shares_memory,
    np.may_share_memory: _shares_memory,
    np.sum: _sum,
    np.mean: _mean,
    np.max: _amax,
    np.amax: _amax,
    np.min: _amin,
    np.amin: _amin,
    np.all: _all,
    np.any: _any,
    np.prod: _prod,
    np.where: _where,
    np.clip: _clip,
    np.dot: _dot,
    np.einsum: _einsum,
    np.outer: _outer,
    np.matmul: _matmul,
    np.zeros_like: _like(0),
    np.ones_like: _like(1),
    np.empty_like: _empty_like,
    np.full_like: _full_like,
    np.shape: _shape,
    np.ndim: _ndim,
    np.size: _size,
    np.result_type: _result_type,
    np.copyto: _copyto,
}
for _fn in (
    np.reshape, np.transpose, np.swapaxes, np.moveaxis, np.expand_dims, np.squeeze,
    np.ravel, np.concatenate, np.stack, np.vstack, np.hstack, np.column_stack,
    np.broadcast_to, np.atleast_1d, np.atleast_2d, np.atleast_3d, np.copy, np.tile,
    np.repeat, np.take, np.take_along_axis, np.flip, np.diagonal, np.roll,
    np.array_split, np.split,
):  # fmt: skip
    _FUNCTIONS[_fn] = _structural(_fn)


# ----------------------------------------------------------------------------------------
# A numpy namespace for measuring module code that allocates its own buffers
# ----------------------------------------------------------------------------------------


class NumpyNamespace:
    """Stands in for ``numpy`` inside a measured module (``module.np = NumpyNamespace(tr)``).

    Every function is numpy's own; a float or bool array that a numpy function returns
    untraced (a buffer from zeros/empty/stack, a table computed from constants) comes
    back as a constant TracedArray holding the same values. A buffer the code allocates
    and then fills with traced values therefore keeps them tracked instead of silently
    untracking them (ByteDMD's leak), and constants stay free. Integer arrays (indices)
    are returned as they are. Numbers are unchanged (``empty`` is zero-filled).
    """

    def __init__(self, tracer: Tracer):
        self._tracer = tracer

    def _const(self, val):
        if isinstance(val, np.ndarray) and val.dtype.kind in "fcbiu":
            return TracedArray(val, np.full(val.shape, -1, dtype=np.int64), self._tracer)
        return val

    def __getattr__(self, name):
        obj = getattr(np, name)
        if name == "empty":
            obj = np.zeros
        elif name == "empty_like":
            obj = np.zeros_like
        if isinstance(obj, (type, np.ufunc)) or not callable(obj):
            return obj
        if type(obj).__name__ == "module":
            return obj

        def call(*a, **k):
            return self._const(obj(*a, **k))

        call.__name__ = name
        return call


class patched_numpy:
    """Context manager: ``module.np`` is a NumpyNamespace for the duration."""

    def __init__(self, module, tracer: Tracer):
        self.module, self.tracer = module, tracer

    def __enter__(self):
        self.saved = self.module.np
        self.module.np = NumpyNamespace(self.tracer)
        return self.module

    def __exit__(self, *exc):
        self.module.np = self.saved
        return False
