"""Tests of the data-movement tracer (tools/dmd.py).

Reference figures are ByteDMD's (main 2cc2a62) as listed in the catalog's
DATA_MOVEMENT.md; the held-out programs are checked against a deliberately naive
list-based LRU simulator written here from the same rules, and against the literal
scalar-loop form of each numpy operation.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dmd  # noqa: E402
from dmd import Escape, TracedArray, Tracer, Unsupported  # noqa: E402


def run(prog, *args, escape=()):
    tr = Tracer(escape=escape)
    w = tr.args(*args)
    if len(args) == 1:
        w = [w]
    res = tr.finish(prog(*w))
    return res


def dot_first(a, b):
    s = a[0] * b[0]
    for i in range(1, 4):
        s = s + a[i] * b[i]
    return s


def dot_zero(a, b):
    s = 0
    for i in range(4):
        s = s + a[i] * b[i]
    return s


def matvec(A, x):
    n = len(x)
    y = []
    for i in range(n):
        s = A[i][0] * x[0]
        for j in range(1, n):
            s = s + A[i][j] * x[j]
        y.append(s)
    return y


def vecmat(A, x):
    n = len(x)
    y = []
    for j in range(n):
        s = x[0] * A[0][j]
        for i in range(1, n):
            s = s + x[i] * A[i][j]
        y.append(s)
    return y


def matmul_loops(A, B):
    m, k = A.shape
    n = B.shape[1]
    C = [[None] * n for _ in range(m)]
    for i in range(m):
        for j in range(n):
            s = A[i][0] * B[0][j]
            for q in range(1, k):
                s = s + A[i][q] * B[q][j]
            C[i][j] = s
    return C


ONE = np.float64(1.0)
REFERENCE = [
    # (name, program, args, reads, {B: cost})
    ("a+b", lambda a, b: a + b, (1.0, 2.0), 2, {1: 3, 4: 19}),
    ("a+a", lambda a: a + a, (1.0,), 2, {1: 2, 4: 14}),
    ("(ab+cd)+e", lambda a, b, c, d, e: ((a * b) + (c * d)) + e, (1.0,) * 5, 8, {1: 13, 4: 84}),
    ("dot4", dot_first, (np.ones(4), np.ones(4)), 14, {1: 28, 4: 198}),
    ("dot4 from 0", dot_zero, (np.ones(4), np.ones(4)), 15, {1: 29}),
    ("sum builtin", lambda x: sum(x[i] for i in range(4)), (np.ones(4),), 7, {1: 11}),
    ("matvec4", matvec, (np.ones((4, 4)), np.ones(4)), 56, {1: 157}),
    ("matvec16", matvec, (np.ones((16, 16)), np.ones(16)), 992, {1: 5354, 4: 40787}),
    ("vecmat4", vecmat, (np.ones((4, 4)), np.ones(4)), 56, {1: 150}),
    ("vecmat16", vecmat, (np.ones((16, 16)), np.ones(16)), 992, {1: 4688}),
    ("matmul4", matmul_loops, (np.ones((4, 4)),) * 2, 224, {1: 720, 4: 5493}),
    ("matmul8", matmul_loops, (np.ones((8, 8)),) * 2, 1920, {1: 8867}),
    ("matmul16", matmul_loops, (np.ones((16, 16)),) * 2, 15872, {1: 109783, 4: 871470}),
    ("A@B 8", lambda A, B: A @ B, (np.ones((8, 8)),) * 2, 1920, {1: 8867}),
]


@pytest.mark.parametrize("name,prog,args,reads,costs", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_reference_figures(name, prog, args, reads, costs):
    res = run(prog, *args)
    assert res.reads == reads
    for B, c in costs.items():
        assert res.cost(B) == c


def test_matmul_read_count_formula():
    for n in (1, 2, 3, 5, 7):
        assert run(lambda A, B: A @ B, np.ones((n, n)), np.ones((n, n))).reads == n * n * (
            4 * n - 2
        )


def test_sigmoid_escape_figures():
    """DATA_MOVEMENT.md: a sigmoid on 8 inputs costs 27 with math.exp (escapes), 48 with E**-x."""

    def sig(x):
        return [1 / (1 + np.exp(-x[i])) for i in range(8)]

    def sig_pow(x):
        return [1 / (1 + math.e ** (-x[i])) for i in range(8)]

    assert run(sig, np.ones(8), escape=("exp",)).cost(1) == 27
    assert run(sig_pow, np.ones(8)).cost(1) == 48
    # without the escape, np.exp is an operation like any other: same as E**-x
    assert run(sig, np.ones(8)).cost(1) == 48


def test_read_cost_matches_the_definition():
    for B in (1, 2, 3, 4, 8):
        for d in (1, 2, 3, 7, 16, 17, 100, 1001):
            want = sum(math.isqrt(i - 1) + 1 for i in range((d - 1) * B + 1, d * B + 1))
            assert dmd.read_cost(d, B) == want
    with pytest.raises(ValueError):
        dmd.read_cost(0)


# ----------------------------------------------------------------------------------------
# Held-out programs: a naive simulator written from the rules, and scalar-loop forms
# ----------------------------------------------------------------------------------------


def naive_depths(n_init, counts, reads, keep):
    """The cost model with a Python list as the stack (a scan per read): the reference."""
    counts = [int(c) for c in counts]
    n_ops = len(counts)
    last = {}
    r = 0
    for o in range(n_ops):
        for _ in range(counts[o]):
            last[int(reads[r])] = o
            r += 1
    for v in np.flatnonzero(keep):
        last[int(v)] = n_ops
    stack = [v for v in range(n_init) if v in last]  # bottom ... top
    depths = []
    r = 0
    for o in range(n_ops):
        ins = [int(x) for x in reads[r : r + counts[o]]]
        r += counts[o]
        depths += [len(stack) - stack.index(v) for v in ins]
        for v in dict.fromkeys(ins):
            stack.remove(v)
            stack.append(v)
        stack = [v for v in stack if not (last.get(v) == o)]
        if last.get(n_init + o, -1) > o:
            stack.append(n_init + o)
    return depths


def hist_of(depths):
    h = np.zeros(max(depths, default=0) + 1, dtype=np.int64)
    np.add.at(h, np.asarray(depths, dtype=np.int64), 1)
    return h


def test_depth_pass_against_naive_simulator_on_random_traces():
    rng = np.random.default_rng(7)
    for trial in range(40):
        n_init = int(rng.integers(0, 12))
        n_ops = int(rng.integers(1, 200))
        counts, reads = [], []
        for o in range(n_ops):
            avail = n_init + o
            k = int(rng.integers(0, 4)) if avail else 0
            counts.append(k)
            # favour recent values so that some values die and some stay deep
            for _ in range(k):
                lo = max(0, avail - int(rng.integers(1, 30)))
                reads.append(int(rng.integers(lo, avail)))
        keep = (rng.random(n_init + n_ops) < 0.05).astype(np.uint8)
        counts = np.array(counts, dtype=np.uint8)
        reads = np.array(reads, dtype=np.int32)
        want = hist_of(naive_depths(n_init, counts, reads, keep))
        got = dmd.depth_histogram(n_init, counts, reads, keep)
        assert np.array_equal(got, want[: len(got)]) and want[len(got) :].sum() == 0, trial
        got_py = dmd._depth_pass_python(n_init, counts, reads, keep)
        assert np.array_equal(got_py, got)


def test_fenwick_compaction_on_a_long_trace():
    """More timestamps than the tree's first capacity (65536): compaction and growth."""
    n = 150
    tr = Tracer()
    A, B = tr.args(np.ones((n, 3)), np.ones((3, n)))
    C = A @ B  # 150*150 outputs alive at once: the tree must grow
    res = tr.finish(C.sum(axis=0))
    counts = tr._counts[0]
    reads = tr._reads[0]
    keep = tr.keep
    assert keep.sum() == n
    assert res.reads == n * n * (4 * 3 - 2) + n * (n - 1) * 2
    assert np.array_equal(dmd._depth_pass_python(tr.n_init, counts, reads, keep), res.hist)


HELD_OUT = [
    ("rect matmul 3x5 @ 5x2", (np.ones((3, 5)), np.ones((5, 2)))),
    ("rect matmul 4x1 @ 1x3", (np.ones((4, 1)), np.ones((1, 3)))),
    ("rect matmul 2x6 @ 6x6", (np.ones((2, 6)), np.ones((6, 6)))),
]


@pytest.mark.parametrize("name,args", HELD_OUT, ids=[h[0] for h in HELD_OUT])
def test_numpy_matmul_equals_scalar_loops(name, args):
    a = run(lambda A, B: A @ B, *args)
    b = run(matmul_loops, *args)
    assert (a.reads, a.cost(1), a.cost(8)) == (b.reads, b.cost(1), b.cost(8))


def test_matvec_vecmat_dot_and_einsum_equal_their_loops():
    A, x = np.ones((5, 5)), np.ones(5)
    assert run(lambda A, x: A @ x, A, x).cost(1) == run(matvec, A, x).cost(1)
    assert run(lambda A, x: np.dot(A, x), A, x).cost(1) == run(matvec, A, x).cost(1)

    def vm_loop(x, A):
        return vecmat(A, x)

    assert run(lambda x, A: x @ A, x, A).cost(1) == run(vm_loop, x, A).cost(1)
    X, Y = np.ones((3, 4)), np.ones((4, 5))
    assert run(lambda X, Y: np.einsum("ij,jk->ik", X, Y), X, Y).cost(1) == run(
        matmul_loops, X, Y
    ).cost(1)

    # einsum with the output transposed: loop over (k, i), j innermost
    def loop_t(X, Y):
        return [[dot_n(X[i], Y[:, k]) for i in range(3)] for k in range(5)]

    def dot_n(a, b):
        s = a[0] * b[0]
        for q in range(1, len(a)):
            s = s + a[q] * b[q]
        return s

    assert run(lambda X, Y: np.einsum("ij,jk->ki", X, Y), X, Y).cost(1) == run(loop_t, X, Y).cost(1)


def test_reductions_equal_their_loops():
    X = np.arange(12.0).reshape(3, 4)

    def col_sums(X):
        out = []
        for j in range(4):
            s = X[0][j]
            for i in range(1, 3):
                s = s + X[i][j]
            out.append(s)
        return out

    def all_sum(X):
        s = X[0][0]
        for i in range(3):
            for j in range(4):
                if i or j:
                    s = s + X[i][j]
        return s

    assert run(lambda X: X.sum(axis=0), X).cost(1) == run(col_sums, X).cost(1)
    assert run(lambda X: np.sum(X), X).cost(1) == run(all_sum, X).cost(1)
    assert run(lambda X: X.mean(), X).cost(1) == run(lambda X: all_sum(X) / 12, X).cost(1)
    assert run(lambda X: X.max(axis=0), X).reads == run(col_sums, X).reads


def test_elementwise_order_and_literals():
    # a vectorised a*b+c equals the per-element loop done op by op (all * first, then all +)
    a, b, c = np.ones(3), np.ones(3), np.ones(3)

    def loops(a, b, c):
        t = [a[i] * b[i] for i in range(3)]
        return [t[i] + c[i] for i in range(3)]

    assert run(lambda a, b, c: a * b + c, a, b, c).cost(1) == run(loops, a, b, c).cost(1)
    # literals and plain constant arrays are free
    assert run(lambda x: 2.0 * x + np.ones(3), np.ones(3)).reads == 6
    # where reads the condition and both branches
    assert run(lambda c, x, y: np.where(c > 0, x, y), np.ones(2), np.ones(2), np.ones(2)).reads == 8


def test_unused_arguments_take_no_slot_and_results_stay_live():
    # b unused: a+c must cost as if b did not exist
    assert run(lambda a, b, c: a + c, 1.0, 2.0, 3.0).cost(1) == 3
    # a value in the result keeps its slot: y stays live above x while x is read again
    r1 = run(lambda x: [x * x, x + 1.0], 1.0)
    assert r1.reads == 3


# ----------------------------------------------------------------------------------------
# Nothing escapes
# ----------------------------------------------------------------------------------------


def test_conversions_raise():
    tr = Tracer()
    x = tr.args(np.ones(3))
    with pytest.raises(Escape):
        math.exp(x[0])
    with pytest.raises(Escape):
        float(x[0])
    with pytest.raises(Escape):
        np.asarray(x)
    with pytest.raises(Escape):
        x.tolist()
    with pytest.raises(Escape):
        plain = np.zeros(3)
        np.add(x, 1.0, out=plain)
    with pytest.raises(Escape):
        np.ones(3)[x]  # a float used as an index
    with pytest.raises(Escape):
        np.add.at(np.zeros(3), [0, 1], x[:2])


def test_integer_and_bool_values_leave_charged_one_read_each():
    """A selection or branch on a tracked comparison reads it (ByteDMD's __index__ /
    __bool__ semantics); the selected values keep their ids."""
    tr = Tracer()
    x, y = tr.args(np.array([1.0, -1.0, 2.0]), np.arange(3.0))
    mask = x > 0  # 3 reads
    picked = y[mask]  # 3 reads of the mask, then free indexing
    assert np.array_equal(picked.val, [0.0, 2.0]) and np.all(picked.ids >= 0)
    k = np.argmax(x)  # fold: 2 ops of 2 reads
    assert int(k) == 2  # the index leaves: 1 read
    assert tr.finish(picked).reads == 3 + 3 + 4 + 1


def test_float_conversion_counted_when_allowed():
    tr = Tracer(allow_float=True)
    x = tr.args(np.array([1.0, 2.0]))
    assert float(x.sum()) == 3.0
    assert tr.float_escapes == 1
    assert tr.finish().reads == 3  # the sum's add (2) and the conversion (1)


def test_add_at_and_numpy_namespace_buffers_stay_tracked():
    import types

    mod = types.SimpleNamespace(np=np)

    def prog(v):
        buf = mod.np.zeros(3)  # a buffer allocated inside the measured code
        np.add.at(buf, np.array([0, 0, 2]), v)
        return buf

    tr = Tracer()
    v = tr.args(np.array([1.0, 2.0, 3.0]))
    with dmd.patched_numpy(mod, tr):
        out = prog(v)
    assert np.array_equal(out.val, prog(np.array([1.0, 2.0, 3.0])))
    assert np.all(out.ids[[0, 2]] >= 0) and out.ids[1] < 0
    assert tr.finish(out).reads == 4  # 0+v0 reads v0; (v0)+v1 reads 2; 0+v2 reads v2


def test_unsupported_operations_raise():
    tr = Tracer()
    x = tr.args(np.ones((3, 3)))
    with pytest.raises(Unsupported):
        np.linalg.svd(x)
    with pytest.raises(Unsupported):
        np.cumsum(x)
    with pytest.raises(Unsupported):
        np.add.accumulate(x)
    with pytest.raises(Unsupported):
        np.frexp(x)
    with pytest.raises(Unsupported):
        np.sort(x)


def escaped_elements(fn, *arrays, rng_seed=0):
    """Output elements that carry no trace id yet change when the inputs change.

    Runs fn traced, then untraced on perturbed inputs: an untracked output element
    whose value moves with the inputs is a float that reached the result without
    passing through the trace. Returns their count (0 = nothing escaped).
    """
    tr = Tracer()
    wrapped = tr.args(*arrays)
    if len(arrays) == 1:
        wrapped = [wrapped]
    out = fn(*wrapped)
    rng = np.random.default_rng(rng_seed)
    moved = [a + rng.uniform(0.5, 1.5, np.shape(a)) for a in arrays]
    plain = fn(*moved)
    n = 0
    for t, p in zip(
        out if isinstance(out, list) else [out],
        plain if isinstance(plain, list) else [plain],
        strict=True,
    ):
        assert isinstance(t, TracedArray)
        const = t.ids < 0
        n += int(np.sum(const & (np.asarray(t.val) != np.asarray(p))))
    return n


def test_escape_detector_catches_an_escape_and_passes_a_clean_program():
    def clean(x):
        return 1.0 / (1.0 + np.exp(-x))

    assert escaped_elements(clean, np.linspace(-1, 1, 5)) == 0

    def leaky(x):  # what ByteDMD's math.exp does: the value leaves the trace
        if isinstance(x, TracedArray):
            e = TracedArray(np.exp(-x.val), np.full(x.shape, -1, np.int64), x.tracer)
        else:
            e = np.exp(-x)
        return 1.0 / (1.0 + e)

    assert escaped_elements(leaky, np.linspace(-1, 1, 5)) == 5
    # the tracer's own escape mode leaks exactly like that
    tr = Tracer(escape=("exp",))
    x = tr.args(np.linspace(-1, 1, 5))
    assert np.all((1.0 / (1.0 + np.exp(-x))).ids < 0)


def test_traced_values_are_bit_identical():
    rng = np.random.default_rng(1)
    A, B, c = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)

    def prog(A, B, c):
        h = np.tanh(A @ B + c)
        return np.log1p(np.exp(h)).sum(axis=0) / np.sqrt(np.maximum(h, 0.1)).mean()

    tr = Tracer()
    out = prog(*tr.args(A, B, c))
    assert np.array_equal(out.val, prog(A, B, c))
    assert np.all(out.ids >= 0)


def test_in_place_updates_and_views_are_tracked():
    tr = Tracer()
    W, g = tr.args(np.ones((2, 3)), np.full((2, 3), 0.5))
    row = W[1]
    row -= 0.1 * g[1]  # in place through a view
    assert np.all(W.ids[1] >= tr.n_init) and np.all(W.ids[0] < tr.n_init)
    assert np.allclose(W.val[1], 0.95)
    res = tr.finish(W)
    assert res.reads == 9  # 3 multiplies (read g), 3 subtracts (read W and the product)


def test_branch_on_a_traced_value_is_charged():
    tr = Tracer()
    x = tr.args(np.array(2.0))
    if x > 1.0:
        pass
    assert tr.finish().reads == 2  # the comparison, then the branch reads its result
