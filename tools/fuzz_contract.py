#!/usr/bin/env python3
"""Held-out fuzz run of the command-line and file contract (not part of the test suite).

Generates cases from every entry script's parser (found as tools/test_contract.py finds
them), runs each in its own session with outputs in a scratch folder, and counts:

- tracebacks (any case),
- hangs: a case that should be refused and runs past 60 s, or any run past 180 s,
- bad successes: exit 0 on a value that should be refused, or a record holding NaN/inf,
- leftover temporary files (``.tmp_*``) and targets that are neither old nor complete,
- orphans: processes of the case's session still alive after it exits,
- other contract breaks: wrong exit code, more or less than one stderr line.

Case kinds: ``value`` (a bad value for one flag: outside the range, NaN, inf, junk,
huge integers, not a choice, unknown flags, missing values), ``extreme`` (valid values at
the ends of the step-size ranges with --smoke: must end 0 with a finite record, or 2/3),
``path`` (unwritable or odd output paths), ``fsize`` (the record write fails at a random
file-size limit), ``signal`` (SIGINT/SIGTERM, once or twice, at a random moment after the
child has loaded numpy), ``data`` (corrupt copies of a --data-dir: missing, empty,
truncated, random bytes, bad magic, labels out of range, wrong count, a gzip bomb).

Exit codes: 0 the run completed and found no defect; 1 defects found; 2 bad arguments;
74 cannot write the report; 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import os
import random
import resource
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from cli import (  # noqa: E402
    CleanParser,
    check_output_path,
    dumps_record,
    float_in,
    int_in,
    run_main,
    write_atomic,
)

PROG = "fuzz_contract.py"
#: Process groups of the cases running now (ended on every exit of the fuzz run).
LIVE: set[int] = set()
LIVE_LOCK = threading.Lock()
#: Cases that end at argument parsing run in forked children of a pre-imported process.
FORKED_KINDS = ("value", "path")
REFUSE_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 180.0
OLD = b'{"old": "record"}\n'


@dataclass
class Case:
    """One generated case."""

    kind: str
    script: str
    argv: list[str]
    expect: str  # "refuse" | "run"
    signal_after: float | None = None
    signum: int = 0
    twice: bool = False
    fsize: int | None = None
    target: str | None = None  # pre-existing record that must end old or complete
    data_fault: str = ""
    note: str = ""


@dataclass
class Result:
    """What a case did, and the defects found."""

    case: Case
    code: int | None
    seconds: float
    stderr_tail: str
    defects: list[str] = field(default_factory=list)
    maxrss_mb: float = 0.0


# ---------------------------------------------------------------------------------------
# Case generation


def bad_values(t, choices, rng: random.Random, n: int) -> list[str]:
    """``n`` values a flag must refuse (range type ``t`` or ``choices``)."""
    out: list[str] = []
    junk_pool = ["", " ", "abc", "1,5", "0x1F", "--", "1e", "e5", "½", "None", "true", "١x"]
    if choices is not None:
        allowed = {str(c) for c in choices}
        while len(out) < n:
            k = rng.randrange(3)
            if k == 0:
                v = rng.choice(junk_pool)
            elif k == 1:
                v = "".join(rng.choice("abcdefxyz-_0123456789") for _ in range(rng.randint(1, 12)))
            else:
                v = rng.choice(sorted(allowed)).upper() + "x"
            if v.strip() not in allowed and v not in allowed:
                out.append(v)
        return out
    nan_inf = ["nan", "NaN", "-nan", "+nan", "inf", "-inf", "+inf", "Infinity", "-Infinity"]
    nan_inf += ["1e309", "-1e309", "1e999999"]
    while len(out) < n:
        k = rng.randrange(7)
        if k == 0:
            out.append(rng.choice(nan_inf))
        elif k == 1:
            out.append(rng.choice(junk_pool))
        elif k == 2 and t.lo is not None and math.isfinite(t.lo):
            span = 10 ** rng.uniform(-6, 30)
            v = t.lo - span if t.kind == "float" else int(t.lo) - max(1, int(span))
            if t.kind == "float" and v == t.lo:
                continue
            out.append(repr(float(v)) if t.kind == "float" else str(v))
        elif k == 3 and math.isfinite(t.hi):
            span = 10 ** rng.uniform(-6, 30)
            v = t.hi + span if t.kind == "float" else int(t.hi) + max(1, int(span))
            if t.kind == "float" and v == t.hi:
                continue
            out.append(repr(float(v)) if t.kind == "float" else str(v))
        elif k == 4:
            sign = rng.choice(["", "-"])
            out.append(sign + "9" * rng.randint(20, 400))
        elif k == 5 and t.kind == "int":
            out.append(rng.choice(["2.5", "1e3", "1.0", "0.5", "-0.5", "3.14e2"]))
        elif k == 6:
            if t.lo_open and t.lo is not None:
                out.append(str(t.lo) if t.kind == "int" else repr(float(t.lo)))
            elif t.hi_open:
                out.append(str(t.hi) if t.kind == "int" else repr(float(t.hi)))
    return out


def in_range_extreme(t, end: str, rng: random.Random) -> str | None:
    """A valid value near one end of a range type's interval."""
    if end == "lo":
        if t.lo is None or not math.isfinite(t.lo):
            return None
        if t.kind == "int":
            return str(int(t.lo) + (1 if t.lo_open else 0))
        v = float(t.lo)
        v = math.nextafter(v, math.inf) if t.lo_open else v
        if rng.random() < 0.5 and t.hi > v:
            v = v + (t.hi - v) * 10 ** rng.uniform(-9, -3)
        return repr(v)
    if not math.isfinite(t.hi):
        return None
    if t.kind == "int":
        return str(int(t.hi) - (1 if t.hi_open else 0))
    v = float(t.hi)
    v = math.nextafter(v, -math.inf) if t.hi_open else v
    if rng.random() < 0.5:
        lo = t.lo if t.lo is not None and math.isfinite(t.lo) else v - 1
        v = v - (v - lo) * 10 ** rng.uniform(-9, -3)
    return repr(v)


def generate(scripts, tc, rng: random.Random, scratch: Path, n_values: int) -> list[Case]:
    """Every case for every script (see the module docstring)."""
    cases: list[Case] = []
    for script in scripts:
        try:
            parser = tc.get_parser(script)
        except BaseException as exc:  # a script that cannot even build its parser
            cases.append(
                Case("value", str(script), ["--help"], "run", note=f"no parser: {exc!r}"[:200])
            )
            continue
        flags = tc.value_flags(parser)
        kind = tc.kind_of(script)
        smoke = tc.smoke_args(parser)
        has_json = any(f.dest == "json" for f in flags)
        typed = [f for f in flags if f.rtype is not None or f.action.choices is not None]
        # value cases
        per_flag = max(3, n_values // max(1, len(typed))) if typed else 0
        for f in typed:
            for v in bad_values(f.rtype, f.action.choices, rng, per_flag):
                cases.append(Case("value", str(script), [*smoke, f"{f.option}={v}"], "refuse"))
        for extra in (["--no-such-flag"], ["--no-such-flag=1"], ["stray_positional"]):
            cases.append(Case("value", str(script), [*smoke, *extra], "refuse"))
        for f in [f for f in flags if f.action.nargs in (None, "+")][:6]:
            cases.append(Case("value", str(script), [*smoke, f.option], "refuse", note="no value"))
        # path cases
        for f in flags:
            ok = tc.output_kind(f)
            if ok is None:
                continue
            bads = [
                "/proc/version/x.json",
                "/proc/self/status",
                "{blocker}/x.json",
                "{blocker}/deeper/x.json",
                "{adir}",
                "{tmp}/" + "n" * 300 + ".json",
                "{tmp}/" + "d" * 300 + "/x.json",
                "",
            ]
            if ok == "dir":
                bads = ["{blocker}", "{blocker}/sub", "/proc/version", "{tmp}/" + "d" * 300, ""]
            for b in bads:
                cases.append(Case("path", str(script), [*smoke, f.option, b], "refuse"))
        if kind not in ("main", "extra") or not smoke or not has_json:
            # data faults for drawing scripts that read MNIST
            if any(f.dest == "data_dir" for f in flags) and smoke:
                for fault in DATA_FAULTS:
                    cases.append(Case("data", str(script), [*smoke], "refuse", data_fault=fault))
            continue
        # extreme valid values
        steps = [
            f
            for f in flags
            if f.rtype is not None and f.rtype.kind == "float" and tc.STEP_FLAG.search(f.dest)
        ]
        for _ in range(8 if steps else 0):
            chosen = rng.sample(steps, k=rng.randint(1, min(3, len(steps))))
            argv = ["--smoke"]
            for f in chosen:
                v = in_range_extreme(f.rtype, rng.choice(["lo", "hi"]), rng)
                if v is not None:
                    argv.append(f"{f.option}={v}")
            cases.append(Case("extreme", str(script), argv, "run"))
        # failing writes
        for _ in range(6):
            cases.append(
                Case(
                    "fsize",
                    str(script),
                    ["--smoke"],
                    "run",
                    fsize=rng.choice([0, 1, len(OLD), 64, 512, 1500]),
                )
            )
        # signals
        for i in range(14):
            cases.append(
                Case(
                    "signal",
                    str(script),
                    ["--smoke"],
                    "run",
                    signal_after=round(rng.uniform(0.0, 3.0) ** 1.5, 3),
                    signum=int(signal.SIGINT if i % 2 == 0 else signal.SIGTERM),
                    twice=(i % 5 == 4),
                )
            )
        if any(f.dest == "data_dir" for f in flags):
            for fault in DATA_FAULTS:
                cases.append(Case("data", str(script), ["--smoke"], "refuse", data_fault=fault))
    return cases


# ---------------------------------------------------------------------------------------
# MNIST faults (copies of a data folder with one defect each)

DATA_FAULTS = [
    "missing-dir",
    "empty-dir",
    "missing-file",
    "truncated-gz",
    "random-bytes",
    "bad-magic",
    "label-out-of-range",
    "wrong-count",
    "gzip-bomb",
]


def make_faulty_data(src: Path, fault: str, dest: Path) -> Path:
    """A copy of the MNIST folder ``src`` at ``dest`` with ``fault``; returns the folder."""
    if fault == "missing-dir":
        return dest / "nope"
    dest.mkdir(parents=True)
    if fault == "empty-dir":
        return dest
    for f in src.iterdir():
        if f.is_file():
            shutil.copy(f, dest / f.name)
    labels = dest / "t10k-labels-idx1-ubyte.gz"
    sums_file = dest / "SHA256SUMS.uncompressed"

    def rewrite(name: str, raw: bytes) -> None:
        (dest / name).write_bytes(gzip.compress(raw, compresslevel=1))
        plain = name[:-3]
        lines = []
        for line in sums_file.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == plain:
                line = f"{hashlib.sha256(raw).hexdigest()}  {plain}"
            lines.append(line)
        sums_file.write_text("\n".join(lines) + "\n")

    if fault == "missing-file":
        labels.unlink()
    elif fault == "truncated-gz":
        data = labels.read_bytes()
        labels.write_bytes(data[: len(data) // 2])
    elif fault == "random-bytes":
        labels.write_bytes(os.urandom(4000))
    elif fault == "bad-magic":
        raw = bytearray(gzip.decompress(labels.read_bytes()))
        raw[2:4] = b"\x0d\x09"
        rewrite(labels.name, bytes(raw))
    elif fault == "label-out-of-range":
        raw = bytearray(gzip.decompress(labels.read_bytes()))
        raw[8 + 17] = 11
        rewrite(labels.name, bytes(raw))
    elif fault == "wrong-count":
        raw = bytearray(gzip.decompress(labels.read_bytes()))
        rewrite(labels.name, bytes(raw[:-100]))
    elif fault == "gzip-bomb":
        block = bytes(1 << 22)
        with open(labels, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as comp:
            for _ in range(512):  # 2 GiB of zeros, about 2 MB compressed
                comp.write(block)
    return dest


# ---------------------------------------------------------------------------------------
# Running a case


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 4 and int(fields[4]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def fork_script(script: Path, argv: list[str], cwd: Path, env: dict) -> tuple[int, int]:
    """Run ``script`` as ``__main__`` in a forked child of this (pre-imported) process.

    Much cheaper than a new interpreter for cases that end at argument parsing; the
    child gets its own session, cwd, environment, argv, default signal handling and a
    pipe as stderr. Returns (pid, read end of the stderr pipe). Only call this while the
    process has a single thread.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        return pid, r
    code = 1
    try:
        os.close(r)
        os.setsid()
        os.chdir(cwd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(w, 2)
        os.environ.clear()
        os.environ.update(env)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.argv = [str(script), *argv]
        sys.path[0] = str(script.parent)
        for name, mod in list(sys.modules.items()):  # the repository's code, fresh from disk
            where = getattr(mod, "__file__", None) or ""
            if where.startswith(str(REPO)):
                del sys.modules[name]
        try:
            runpy.run_path(str(script), run_name="__main__")
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        os._exit(code)


def run_case(case: Case, tc, base: Path, data_src: Path | None, fork: bool = False) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix=f"{case.kind}_", dir=base))
    blocker = tmp / "a_file"
    blocker.write_text("not a folder\n")
    (tmp / "a_dir").mkdir()
    fill = {"blocker": str(blocker), "adir": str(tmp / "a_dir"), "tmp": str(tmp)}
    argv = [a.format(**fill) if "{" in a else a for a in case.argv]
    script = Path(case.script)
    parser = tc.get_parser(script)
    outs = tc.output_args(parser, tmp)
    # keep every output inside tmp, except the flag a path case is about
    own = {a for a in argv if a.startswith("--")}
    pairs = [outs[i : i + 2] for i in range(0, len(outs), 2)]
    extra = [x for p in pairs if p[0] not in own for x in p]
    target = None
    if case.kind in ("fsize", "signal", "extreme"):
        target = tmp / "rec.json"
        if case.kind != "extreme":
            target.write_bytes(OLD)
        extra = [x for p in pairs if p[0] != "--json" for x in p] + ["--json", str(target)]
    if case.kind == "data" and data_src is not None:
        folder = make_faulty_data(data_src, case.data_fault, tmp / "data")
        extra += ["--data-dir", str(folder)]
    cmd = [sys.executable, str(script), *argv, *extra]
    env = tc.child_env(tmp)
    timeout = REFUSE_TIMEOUT_S if case.expect == "refuse" else RUN_TIMEOUT_S
    before = set(tc.listing(tmp))

    def limit():
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # as from a terminal, even under nohup
        if case.fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (case.fsize, case.fsize))

    start = time.perf_counter()
    if fork:
        pid, err_fd = fork_script(script, [*argv, *extra], tmp, env)
    else:
        proc = subprocess.Popen(
            cmd,
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # a pipe: RLIMIT_FSIZE does not apply to it
            start_new_session=True,
            preexec_fn=limit,
        )
        pid, err_fd = proc.pid, os.dup(proc.stderr.fileno())
        proc.stderr.close()
        proc.returncode = 0  # reaped below with os.wait4; keep Popen from waiting again
    with LIVE_LOCK:
        LIVE.add(pid)
    chunks: list[bytes] = []

    def read_all():
        with os.fdopen(err_fd, "rb") as fh:
            chunks.append(fh.read())

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    code, rusage, hung = None, None, False
    ready_at = None
    deadline = start + timeout
    sent = 0
    while True:
        done, status, ru = os.wait4(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            rusage = ru
            break
        now = time.perf_counter()
        if case.signal_after is not None and ready_at is None:
            # the clock starts once numpy is loaded: past interpreter start-up, which
            # under load alone can take over a second and which no script can handle
            with contextlib.suppress(OSError):
                if "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text():
                    ready_at = now
        if ready_at is not None and sent < (2 if case.twice else 1):
            if now - ready_at >= case.signal_after + 0.05 * sent:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, case.signum)
                sent += 1
        if now > deadline:
            hung = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            _, status, ru = os.wait4(pid, 0)
            code, rusage = None, ru
            break
        time.sleep(0.005)
    with LIVE_LOCK:
        LIVE.discard(pid)
    seconds = time.perf_counter() - start
    time.sleep(0.05)
    orphans = session_members(pid)
    for other in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(other, signal.SIGKILL)
    reader.join(timeout=5)
    stderr = b"".join(chunks).decode("utf-8", errors="replace")
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    res = Result(case, code, round(seconds, 2), "\n".join(lines[-4:])[-600:])
    res.maxrss_mb = round((rusage.ru_maxrss if rusage else 0) / 1024, 1)
    d = res.defects
    if "Traceback" in stderr:
        d.append("traceback")
    if hung:
        d.append("hang")
    if orphans:
        d.append("orphan")
    # every output of a case points into tmp; the script's own folder is shared with
    # other writers (figures, records), so a .tmp_ file there is not this case's
    leftovers = [p for p in tc.listing(tmp) if Path(p).name.startswith(".tmp_")]
    if leftovers:
        d.append("leftover temporary file")
    if case.expect == "refuse" and not hung:
        if code == 0:
            d.append("bad success (invalid input accepted)")
        elif code != 2:
            d.append(f"wrong exit code {code} (want 2)")
        if len(lines) != 1 and code != 0:
            d.append(f"{len(lines)} stderr lines")
        new = set(tc.listing(tmp)) - before
        new = {p for p in new if not p.startswith("data/")}
        if new and code != 0:
            d.append("wrote although refused")
    if case.kind == "data" and res.maxrss_mb > 1500:
        d.append(f"gzip bomb expanded ({res.maxrss_mb:.0f} MB)")
    if case.kind in ("extreme", "fsize", "signal") and target is not None and not hung:
        data = target.read_bytes() if target.exists() else None
        complete = False
        if data is not None and data != OLD:
            try:
                tc.assert_finite(tc.strict_json(data.decode("utf-8")))
                complete = True
            except (ValueError, AssertionError, UnicodeDecodeError):
                d.append("target neither old nor complete (or non-finite)")
        if case.kind == "extreme":
            if code == 0 and not complete:
                d.append("exit 0 without a finite record")
            if code not in (0, 2, 3):
                d.append(f"wrong exit code {code} (want 0, 2 or 3)")
            if code in (2, 3) and data is not None:
                d.append("refused or diverged but wrote the record")
            if code in (2, 3) and len(lines) != 1:
                d.append(f"{len(lines)} stderr lines")
        elif case.kind == "fsize":
            if code == 0 and not complete:
                d.append("exit 0 although the write failed")
            if code not in (0, 74):
                d.append(f"wrong exit code {code} (want 74)")
            if code == 74 and (len(lines) != 1 or "cannot write" not in stderr):
                d.append("no one-line 'cannot write' message")
            if code == 74 and data != OLD:
                d.append("target changed although the write failed")
        elif case.kind == "signal":
            want = 130 if case.signum == signal.SIGINT else 143
            if code == 0 and not complete:
                d.append("exit 0 without a complete record")
            if code not in (0, want, -case.signum):
                d.append(f"wrong exit code {code} (want {want})")
            if code == want and len(lines) != 1:
                d.append(f"{len(lines)} stderr lines")
            if code == -case.signum:
                d.append("killed by the signal (no handler yet)")
    shutil.rmtree(tmp, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------------------
# CLI


CATEGORIES = {
    "tracebacks": lambda r: "traceback" in r.defects,
    "hangs": lambda r: "hang" in r.defects,
    "bad successes": lambda r: (
        any(x.startswith(("bad success", "exit 0 without", "exit 0 although")) for x in r.defects)
        or any("non-finite" in x for x in r.defects)
    ),
    "leftover temporary files": lambda r: "leftover temporary file" in r.defects,
    "orphans": lambda r: "orphan" in r.defects,
    "other contract breaks": lambda r: any(
        x not in ("traceback", "hang", "orphan", "leftover temporary file")
        and not x.startswith(("bad success", "exit 0 without", "exit 0 although"))
        and "non-finite" not in x
        for x in r.defects
    ),
}


def summarise(results: list[Result]) -> dict[str, int]:
    return {name: sum(1 for r in results if f(r)) for name, f in CATEGORIES.items()}


def recheck(report_path: str, tc, out_json: str | None) -> int:
    """Rerun the defect cases of an earlier report, each in a fresh interpreter."""
    try:
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
        fields = set(Case.__dataclass_fields__)
        cases = [Case(**{k: v for k, v in d.items() if k in fields}) for d in report["defects"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{PROG}: error: cannot read {report_path}: {exc}", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="fuzz_contract_"))
    src = tc.ROOT / "ff-hybrid-mnist" / "data"
    try:
        results = [run_case(c, tc, base, src if src.is_dir() else None) for c in cases]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    before = report.get("counts", {})
    after = summarise(results)
    print(f"recheck: {len(cases)} defect cases of {report.get('cases_run')} rerun fresh")
    for name, n in after.items():
        print(f"  {name}: {before.get(name, '?')} -> {n}")
    if out_json:
        confirmed = [
            {**asdict(r.case), "code": r.code, "stderr_tail": r.stderr_tail, "defects": r.defects}
            for r in results
            if r.defects
        ]
        write_atomic(out_json, dumps_record({"counts": after, "defects": confirmed}))
    return 1 if any(after.values()) else 0


def build_parser() -> CleanParser:
    """The command line of fuzz_contract.py."""
    p = CleanParser(
        prog=PROG,
        description="Held-out fuzz run of the CLI and file contract of every entry script.",
        allow_abbrev=False,
    )
    p.add_argument(
        "--seed",
        type=int_in(0, 2**32 - 1),
        default=0,
        help="case generator seed (int, 0..2**32-1; default 0)",
    )
    p.add_argument(
        "--values-per-script",
        type=int_in(1, 10000),
        default=60,
        help="bad-value cases per entry script (int, 1..10000; default 60)",
    )
    p.add_argument(
        "--workers",
        type=int_in(1, 64),
        default=2,
        help="cases run at once (int, 1..64; default 2)",
    )
    p.add_argument(
        "--only",
        metavar="TEXT",
        help="only scripts whose path contains TEXT (e.g. xor, tools/run_all.py)",
    )
    p.add_argument(
        "--kinds",
        metavar="K,K",
        help="only these case kinds (value, extreme, path, fsize, signal, data)",
    )
    p.add_argument(
        "--max-cases",
        type=int_in(1, 10**6),
        default=None,
        help="run at most this many cases, sampled evenly (int, 1..1000000; default all)",
    )
    p.add_argument(
        "--time-budget-s",
        type=float_in(0, 86400, lo_open=True),
        default=3600.0,
        help="stop starting new cases after this many seconds (float, 0 < s <= 86400; "
        "default 3600)",
    )
    p.add_argument("--json", metavar="PATH", help="write the summary and every defect here")
    p.add_argument("--list", action="store_true", help="print the case counts and exit")
    p.add_argument(
        "--recheck",
        metavar="REPORT",
        help="rerun every defect case of an earlier --json report in a fresh interpreter "
        "and count what is confirmed",
    )
    p.add_argument(
        "--no-fork",
        action="store_true",
        help="run value and path cases in a fresh interpreter each (slower) instead of "
        "forked children of this process",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json is not None:
        why = check_output_path(args.json, "file")
        if why:
            parser.error(f"--json {why}")
    kinds = None
    if args.kinds:
        kinds = set(args.kinds.split(","))
        unknown = kinds - {"value", "extreme", "path", "fsize", "signal", "data"}
        if unknown:
            parser.error(f"--kinds: unknown kind {sorted(unknown)[0]!r}")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # before numpy loads: no BLAS threads in forked children
    os.environ.setdefault("MPLBACKEND", "Agg")
    import test_contract as tc  # noqa: PLC0415 - heavy (pytest, hypothesis); only here

    scripts = [s for s in tc.entry_scripts() if s.name != PROG]
    if args.only:
        scripts = [s for s in scripts if args.only in str(s.relative_to(tc.ROOT))]
    if not scripts:
        parser.error("--only matches no entry script")
    if args.recheck:
        return recheck(args.recheck, tc, args.json)
    rng = random.Random(args.seed)
    base = Path(tempfile.mkdtemp(prefix="fuzz_contract_"))
    try:
        cases = generate(scripts, tc, rng, base, args.values_per_script)
        if kinds:
            cases = [c for c in cases if c.kind in kinds]
        if args.max_cases and len(cases) > args.max_cases:
            step = len(cases) / args.max_cases
            cases = [cases[int(i * step)] for i in range(args.max_cases)]
        counts: dict[str, int] = {}
        for c in cases:
            counts[c.kind] = counts.get(c.kind, 0) + 1
        print(f"fuzz: {len(cases)} cases over {len(scripts)} scripts: {counts}", flush=True)
        if args.list:
            return 0
        data_src = tc.ROOT / "ff-hybrid-mnist" / "data"
        results: list[Result] = []
        lock = threading.Lock()
        start = time.perf_counter()
        order = list(range(len(cases)))
        rng.shuffle(order)  # spread slow scripts over the run

        src = data_src if data_src.is_dir() else None
        forked = [] if args.no_fork else [i for i in order if cases[i].kind in FORKED_KINDS]
        pooled = [i for i in order if i not in set(forked)]
        seen = 0

        def report(r: Result | None) -> None:
            nonlocal seen
            seen += 1
            if r is None:
                return
            with lock:
                results.append(r)
            if r.defects:
                print(
                    f"  [{seen}/{len(cases)}] {r.case.kind} {Path(r.case.script).name} "
                    f"{' '.join(r.case.argv)[:120]}: {', '.join(r.defects)}",
                    flush=True,
                )
            elif seen % 100 == 0:
                print(f"  [{seen}/{len(cases)}] ...", flush=True)

        # parse-time cases first, forked from this pre-imported single-threaded process;
        # a case that shows a defect there is rerun in a fresh interpreter, which decides
        for i in forked:
            if time.perf_counter() - start > args.time_budget_s:
                break
            r = run_case(cases[i], tc, base, src, fork=True)
            if r.defects:
                r = run_case(cases[i], tc, base, src)
            report(r)

        def one(i: int) -> Result | None:
            if time.perf_counter() - start > args.time_budget_s:
                return None
            return run_case(cases[i], tc, base, src)

        pool = ThreadPoolExecutor(max_workers=args.workers)
        try:
            for fut in as_completed([pool.submit(one, i) for i in pooled]):
                report(fut.result())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    finally:
        with LIVE_LOCK:
            for pid in LIVE:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
    summary = {name: sum(1 for r in results if f(r)) for name, f in CATEGORIES.items()}
    by_kind: dict[str, int] = {}
    for r in results:
        by_kind[r.case.kind] = by_kind.get(r.case.kind, 0) + 1
    by_script: dict[str, int] = {}
    for r in results:
        if r.defects:
            key = str(Path(r.case.script).relative_to(tc.ROOT))
            by_script[key] = by_script.get(key, 0) + 1
    print(f"fuzz: {len(results)} cases run ({by_kind}) in {time.perf_counter() - start:.0f} s")
    for name, n in summary.items():
        print(f"  {name}: {n}")
    if by_script:
        print(f"  cases with defects, by script: {by_script}")
    if args.json:
        report = {
            "cases_run": len(results),
            "cases_by_kind": by_kind,
            "counts": summary,
            "defect_cases_by_script": by_script,
            "defects": [
                {
                    **asdict(r.case),
                    "code": r.code,
                    "seconds_s": r.seconds,
                    "stderr_tail": r.stderr_tail,
                    "defects": r.defects,
                }
                for r in results
                if r.defects
            ],
        }
        write_atomic(args.json, dumps_record(report))
    return 1 if any(summary.values()) else 0


if __name__ == "__main__":
    sys.exit(run_main(main, PROG))
