#!/usr/bin/env python3
"""A small mutation-testing harness for this catalog's layout (folders, not packages).

For one module (e.g. ``xor/xor.py``) it lists mutation sites with :mod:`ast` and applies
one change at a time to the source text of a clean clone of the committed HEAD (never
to the working tree), then runs that module's tests there. A mutant is killed when the
tests fail or overrun, survived when they pass. Operators:

- arithmetic swaps (``+``/``-``, ``*``/``/``, ``**`` -> ``*``, ``//`` -> ``/``),
  augmented assignments likewise;
- comparisons (``<``/``<=``, ``>``/``>=``, ``==``/``!=``), ``and``/``or``, ``not`` dropped;
- constants: an integer ``n`` -> ``n + 1``; a float ``x`` -> ``1.1 x`` (``0.0`` -> ``0.1``);
  ``True``/``False`` flipped;
- unary minus dropped.

Nothing inside ``print(...)``, f-strings, ``build_parser``/``main``, or the argparse
calls is mutated (messages and flags are not behaviour the tests must pin). Sites are
sampled evenly (seeded) when there are more than ``--max-mutants``.

Hand-made mutants (``--patches FILE``): a JSON list of objects ``{"module", "old", "new",
"kind", "what"}``; ``old`` must occur exactly once in the module's committed text and is
replaced by ``new``. Each module's mutants run against that module's default tests; the
report gives the score per module and per kind. ``tools/mutants_handmade.json`` is such a
set: semantic changes (learning rules, schedules, metrics and their data sets, success
thresholds, per-seed bookkeeping, writes, run_all modes) written by reading the code.

Default tests: ``tools/test_golden.py`` then the module folder's ``test_*.py``, with ``-k <area>``
(for ``tools/run_all.py``: ``tools/test_run_all.py``). The score is killed / run; no
mutant is classified as equivalent automatically, so the true score on non-equivalent
mutants is at least this.

Exit codes: 0 done; 1 the unmutated tests fail (no score); 2 bad arguments;
74 cannot write the report; 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli import (  # noqa: E402
    CleanParser,
    check_output_path,
    dumps_record,
    float_in,
    int_in,
    run_main,
    write_atomic,
)

ROOT = Path(__file__).resolve().parent.parent
PROG = "mutate.py"
LIVE: set[int] = set()  # process groups of the test runs going on now
SKIP_FUNCTIONS = {"build_parser", "main", "validate_args", "parse_args"}
BIN_SWAP = {
    ast.Add: (ast.Sub, "+", "-"),
    ast.Sub: (ast.Add, "-", "+"),
    ast.Mult: (ast.Div, "*", "/"),
    ast.Div: (ast.Mult, "/", "*"),
    ast.Pow: (ast.Mult, "**", "*"),
    ast.FloorDiv: (ast.Div, "//", "/"),
}
CMP_SWAP = {
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.Eq: "!=",
    ast.NotEq: "==",
}
CMP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


@dataclass
class Mutant:
    """One change: replace ``old`` at (line, col) .. (end_line, end_col) with ``new``."""

    line: int
    col: int
    end_line: int
    end_col: int
    old: str
    new: str
    what: str
    function: str


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout | error
    seconds: float


def line_offsets(text: str) -> list[int]:
    offs, total = [0], 0
    for line in text.splitlines(keepends=True):
        total += len(line.encode("utf-8"))
        offs.append(total)
    return offs


class Sites(ast.NodeVisitor):
    """Collect mutation sites, tracking the enclosing function and skipped regions."""

    def __init__(self, source: bytes):
        self.src = source
        self.offs = line_offsets(source.decode("utf-8"))
        self.found: list[Mutant] = []
        self.func = "<module>"
        self.skip = 0

    def seg(self, line, col, end_line, end_col) -> str:
        a = self.offs[line - 1] + col
        b = self.offs[end_line - 1] + end_col
        return self.src[a:b].decode("utf-8")

    def add(self, node_span, old, new, what):
        if self.skip or self.func in SKIP_FUNCTIONS:
            return
        line, col, end_line, end_col = node_span
        self.found.append(Mutant(line, col, end_line, end_col, old, new, what, self.func))

    def visit_FunctionDef(self, node):
        outer = self.func
        self.func = node.name if outer == "<module>" else f"{outer}.{node.name}"
        # the docstring is not code
        self.generic_visit(node)
        self.func = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        outer = self.func
        self.func = node.name
        self.generic_visit(node)
        self.func = outer

    def visit_Call(self, node):
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in ("print", "add_argument", "error", "exit", "ArgumentTypeError", "format"):
            self.skip += 1
            self.generic_visit(node)
            self.skip -= 1
        else:
            self.generic_visit(node)

    def visit_JoinedStr(self, node):
        self.skip += 1
        self.generic_visit(node)
        self.skip -= 1

    def visit_Assign(self, node):
        # module-level constants other than thresholds? keep: they are behaviour
        self.generic_visit(node)

    def _op_between(self, left, right, text):
        """Span of operator ``text`` between two nodes on the source, or None."""
        if left.end_lineno != right.lineno:
            between = self.seg(left.end_lineno, left.end_col_offset, right.lineno, right.col_offset)
            if "\n" in between:
                return None
        else:
            between = self.seg(left.end_lineno, left.end_col_offset, right.lineno, right.col_offset)
        idx = between.find(text)
        if idx < 0:
            return None
        # an operator that is the prefix of a longer one (e.g. * in **) is not it
        rest = between[idx + len(text) : idx + len(text) + 1]
        if text in ("*", "/") and rest == text:
            return None
        col = left.end_col_offset + len(between[:idx].encode("utf-8"))
        return (left.end_lineno, col, left.end_lineno, col + len(text.encode("utf-8")))

    def visit_BinOp(self, node):
        swap = BIN_SWAP.get(type(node.op))
        if swap:
            _, old, new = swap
            span = self._op_between(node.left, node.right, old)
            if span:
                self.add(span, old, new, f"{old} -> {new}")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        swap = BIN_SWAP.get(type(node.op))
        if swap:
            _, old, new = swap
            span = self._op_between(node.target, node.value, old + "=")
            if span:
                self.add(span, old + "=", new + "=", f"{old}= -> {new}=")
        self.generic_visit(node)

    def visit_Compare(self, node):
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) in CMP_SWAP:
                old = CMP_TEXT[type(op)]
                span = self._op_between(left, right, old)
                if span:
                    new = CMP_SWAP[type(op)]
                    self.add(span, old, new, f"{old} -> {new}")
            left = right
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        old = "and" if isinstance(node.op, ast.And) else "or"
        new = "or" if old == "and" else "and"
        for a, b in zip(node.values, node.values[1:], strict=False):
            span = self._op_between(a, b, f" {old} ")
            if span:
                line, col, _, end = span
                self.add((line, col + 1, line, end - 1), old, new, f"{old} -> {new}")
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, (ast.USub, ast.Not)):
            text = self.seg(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
            inner = self.seg(
                node.operand.lineno,
                node.operand.col_offset,
                node.operand.end_lineno,
                node.operand.end_col_offset,
            )
            if "\n" not in text and not (
                isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
            ):
                span = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
                what = "drop unary -" if isinstance(node.op, ast.USub) else "drop not"
                self.add(span, text, f"({inner})", what)
        self.generic_visit(node)

    def visit_Constant(self, node):
        v = node.value
        span = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        if isinstance(v, bool):
            self.add(span, str(v), str(not v), f"{v} -> {not v}")
        elif isinstance(v, int):
            self.add(span, self.seg(*span), str(v + 1), f"{v} -> {v + 1}")
        elif isinstance(v, float):
            new = repr(v * 1.1) if v != 0 else "0.1"
            self.add(span, self.seg(*span), new, f"{v!r} -> {new}")


def sites_of(path: Path) -> list[Mutant]:
    src = path.read_bytes()
    visitor = Sites(src)
    tree = ast.parse(src)
    # skip module docstring and HEADLINE/GOLDEN constants (run settings, not behaviour)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id.startswith(("HEADLINE_", "FULL_", "GOLDEN_", "__"))
            for t in node.targets
        ):
            continue
        if isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
            continue
        visitor.visit(node)
    return visitor.found


class PatchError(ValueError):
    """A hand-made mutant that cannot be applied (reported as a one-line error)."""


def patch_mutants(entries: object, root: Path = ROOT) -> dict[str, list[Mutant]]:
    """Hand-made mutants grouped by module (relative path), in file order.

    entries: the parsed JSON list. Raises PatchError when an entry is malformed, names a
    file outside the repository, or its ``old`` text does not occur exactly once.
    """
    if not isinstance(entries, list) or not entries:
        raise PatchError("the patches file must hold a non-empty JSON list")
    out: dict[str, list[Mutant]] = {}
    texts: dict[str, str] = {}
    for k, e in enumerate(entries):
        keys = ("module", "old", "new", "kind", "what")
        if not isinstance(e, dict) or any(not isinstance(e.get(x), str) for x in keys):
            raise PatchError(f"entry {k}: needs string fields {', '.join(keys)}")
        path = (root / e["module"]).resolve()
        if root not in path.parents or not path.is_file() or path.suffix != ".py":
            raise PatchError(f"entry {k}: {e['module']} is not a .py file of this repository")
        rel = str(path.relative_to(root))
        text = texts.setdefault(rel, path.read_text(encoding="utf-8"))
        n = text.count(e["old"])
        if n != 1 or e["old"] == e["new"]:
            why = "is the same as new" if n == 1 else f"occurs {n} times (needs exactly 1)"
            raise PatchError(f"entry {k} ({rel}: {e['what']}): old text {why}")
        a = text.index(e["old"])
        head = text[:a]
        line = head.count("\n") + 1
        col = len(head[head.rfind("\n") + 1 :].encode("utf-8"))
        full = head + e["old"]
        end_line = full.count("\n") + 1
        end_col = len(full[full.rfind("\n") + 1 :].encode("utf-8"))
        what = f"[{e['kind']}] {e['what']}"
        out.setdefault(rel, []).append(
            Mutant(line, col, end_line, end_col, e["old"], e["new"], what, e["kind"])
        )
    return out


def apply(src: bytes, m: Mutant) -> bytes:
    offs = line_offsets(src.decode("utf-8"))
    a = offs[m.line - 1] + m.col
    b = offs[m.end_line - 1] + m.end_col
    assert src[a:b].decode("utf-8") == m.old, (src[a:b], m.old)
    return src[:a] + m.new.encode("utf-8") + src[b:]


def default_tests(module: Path) -> list[str]:
    rel = module.relative_to(ROOT)
    if rel.parts[0] == "tools":
        return [f"tools/test_{module.stem}.py"]
    folder = ROOT / rel.parts[0]
    area = rel.parts[0].split("-")[0]
    tests = [str(p.relative_to(ROOT)) for p in sorted(folder.glob("test_*.py"))]
    # golden records first: they kill most behaviour changes within seconds (-x stops there)
    return ["tools/test_golden.py", *tests, "-k", area] if len(tests) else []


def run_tests(
    clone: Path, tests: list[str], timeout: float, log: Path | None = None
) -> tuple[str, float]:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    # -n 0: one process per mutant (the suite's addopts ask pytest-xdist for two)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests]
    start = time.perf_counter()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        cwd=clone,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    LIVE.add(proc.pid)
    try:
        code = proc.wait(timeout=timeout)
        status = "survived" if code == 0 else "killed"
        if code not in (0, 1):
            status = "killed" if code in (2, 3) else "error"
    except subprocess.TimeoutExpired:
        status = "timeout"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        LIVE.discard(proc.pid)
        if log:
            out.close()
    return status, time.perf_counter() - start


def build_parser() -> CleanParser:
    """The command line of mutate.py."""
    p = CleanParser(prog=PROG, description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument(
        "--module",
        metavar="PATH",
        help="module to mutate, relative to the repository root (e.g. xor/xor.py)",
    )
    p.add_argument(
        "--tests",
        metavar="ARGS",
        help="pytest arguments, space-separated (default: the folder's tests and golden test)",
    )
    p.add_argument(
        "--max-mutants",
        type=int_in(1, 100000),
        default=60,
        help="mutants to run, sampled evenly from all sites (int, 1..100000; default 60)",
    )
    p.add_argument(
        "--time-budget-s",
        type=float_in(0, 86400, lo_open=True),
        default=900.0,
        help="stop starting mutants after this many seconds (float, 0 < s <= 86400; default 900)",
    )
    p.add_argument(
        "--seed",
        type=int_in(0, 2**32 - 1),
        default=0,
        help="sampling seed (int, 0..2**32-1; default 0)",
    )
    p.add_argument(
        "--workers",
        type=int_in(1, 16),
        default=1,
        help="mutants tested at once, each in its own clone (int, 1..16; default 1)",
    )
    p.add_argument("--json", metavar="PATH", help="write the score and every mutant here")
    p.add_argument(
        "--patches",
        metavar="FILE",
        help="JSON list of hand-made mutants (module, old, new, kind, what) instead of --module",
    )
    p.add_argument("--list", action="store_true", help="list the sites and exit")
    return p


def run_mutants(
    rel: str, chosen: list[Mutant], tests: list[str], workers: int, budget_s: float, work: Path
) -> list[Outcome] | None:
    """Apply each mutant in turn to a clean clone of HEAD and run ``tests`` there.

    Returns the outcomes (in completion order), or None when the unmutated tests fail.
    ``work`` is an empty scratch folder; the clones are made inside it.
    """
    outcomes: list[Outcome] = []
    clone = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    target = clone / rel
    original = target.read_bytes()
    base_log = work / "baseline.log"
    status, base_s = run_tests(clone, tests, timeout=1800, log=base_log)
    print(f"mutate: {rel}: unmutated tests {status} in {base_s:.0f} s", flush=True)
    if status != "survived":
        print(base_log.read_text(errors="replace")[-3000:], flush=True)
        return None
    timeout = max(30.0, 3 * base_s)
    start = time.perf_counter()
    clones = [clone]
    for k in range(1, workers):
        extra = work / f"repo{k}"
        shutil.copytree(clone, extra, symlinks=True)
        clones.append(extra)
    todo = list(enumerate(chosen, 1))
    lock = threading.Lock()

    def worker(repo: Path) -> None:
        target_k = repo / rel
        while True:
            with lock:
                if not todo or time.perf_counter() - start > budget_s:
                    return
                i, m = todo.pop(0)
            target_k.write_bytes(apply(original, m))
            try:
                status, secs = run_tests(repo, tests, timeout)
            finally:
                target_k.write_bytes(original)
            mark = "ok " if status in ("killed", "timeout") else "!! "
            with lock:
                outcomes.append(Outcome(m, status, round(secs, 1)))
                print(
                    f"  {mark}[{i}/{len(chosen)}] {rel}:{m.line} {m.function}: {m.what} -> "
                    f"{status} ({secs:.0f} s)",
                    flush=True,
                )

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clones]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.5)
    if todo:
        print(f"mutate: {rel}: time budget reached after {len(outcomes)} mutants", flush=True)
    return outcomes


def score_of(outcomes: list[Outcome]) -> dict:
    """killed (killed or timed out), run, score = killed / run (0 when nothing ran)."""
    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    run = len(outcomes)
    return {"run": run, "killed": killed, "score": round(killed / run, 4) if run else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json is not None:
        why = check_output_path(args.json, "file")
        if why:
            parser.error(f"--json {why}")
    if (args.module is None) == (args.patches is None):
        parser.error("give --module (e.g. --module xor/xor.py) or --patches FILE")
    groups: dict[str, list[Mutant]] = {}
    n_sites: dict[str, int] = {}
    if args.patches is not None:
        try:
            entries = json.loads(Path(args.patches).read_text(encoding="utf-8"))
            groups = patch_mutants(entries)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, PatchError) as e:
            parser.error(f"--patches {args.patches}: {getattr(e, 'strerror', None) or e}")
        if args.tests:
            parser.error("--tests goes with --module (patches use each module's own tests)")
        n_sites = {rel: len(ms) for rel, ms in groups.items()}
        for rel in groups:
            head = subprocess.run(
                ["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True, check=False
            )
            if head.returncode != 0 or head.stdout != (ROOT / rel).read_bytes():
                parser.error(f"--patches: {rel} differs from HEAD; commit it first")
    else:
        module = (ROOT / args.module).resolve()
        if not module.is_file() or ROOT not in module.parents or module.suffix != ".py":
            parser.error(f"--module {args.module}: not a .py file of this repository")
        rel = str(module.relative_to(ROOT))
        clean = subprocess.run(
            ["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True, check=False
        )
        if clean.returncode == 0 and clean.stdout != module.read_bytes():
            print("mutate: note: the working tree's module differs from HEAD; HEAD is mutated")
            tmp = Path(tempfile.mkdtemp(prefix="mutate_head_")) / module.name
            try:
                tmp.write_bytes(clean.stdout)
                sites = sites_of(tmp)
            finally:
                shutil.rmtree(tmp.parent, ignore_errors=True)
        else:
            sites = sites_of(module)
        rng = random.Random(args.seed)
        # random order (seeded): a run cut short by the time budget is still a fair sample
        chosen = sites if len(sites) <= args.max_mutants else rng.sample(sites, args.max_mutants)
        groups = {rel: chosen}
        n_sites = {rel: len(sites)}
    per_module: dict[str, dict] = {}
    everything: list[Outcome] = []
    for rel, chosen in groups.items():
        tests = shlex.split(args.tests) if args.tests else default_tests(ROOT / rel)
        if not tests:
            parser.error(f"{rel}: no tests found; give --tests")
        print(
            f"mutate: {rel}: {n_sites[rel]} sites, running {len(chosen)}; tests: {' '.join(tests)}"
        )
        if args.list:
            for m in chosen:
                print(f"  {rel}:{m.line}:{m.col} in {m.function}: {m.what}")
            continue
        work = Path(tempfile.mkdtemp(prefix="mutate_"))
        try:
            outcomes = run_mutants(rel, chosen, tests, args.workers, args.time_budget_s, work)
        finally:
            for pgid in list(LIVE):  # interrupted: end the test runs still going
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            shutil.rmtree(work, ignore_errors=True)
        if outcomes is None:
            print(f"{PROG}: error: {rel}: the unmutated tests fail; no score", file=sys.stderr)
            return 1
        everything += outcomes
        sc = score_of(outcomes)
        print(f"mutate: {rel}: {sc['killed']}/{sc['run']} killed ({100 * sc['score']:.0f}%)")
        for o in outcomes:
            if o.status == "survived":
                print(f"  survived: {rel}:{o.mutant.line} {o.mutant.function}: {o.mutant.what}")
        per_module[rel] = {
            "tests": tests,
            "sites": n_sites[rel],
            **sc,
            "mutants": [
                {**asdict(o.mutant), "status": o.status, "seconds_s": o.seconds} for o in outcomes
            ],
        }
    if args.list:
        return 0
    total = score_of(everything)
    if len(per_module) > 1:
        print(f"mutate: all modules: {total['killed']}/{total['run']} killed")
    if args.json:
        if args.patches is None:
            ((rel, rec),) = per_module.items()
            report = {"module": rel, **rec}
        else:
            kinds: dict[str, list[Outcome]] = {}
            for o in everything:
                kinds.setdefault(o.mutant.function, []).append(o)
            report = {
                "patches": str(args.patches),
                **total,
                "per_kind": {k: score_of(v) for k, v in sorted(kinds.items())},
                "modules": per_module,
            }
        write_atomic(args.json, dumps_record(report))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, PROG))
