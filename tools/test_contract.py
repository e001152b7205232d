"""The command-line and file contract of every entry script, generated from its parser.

Entry scripts are found here, not listed by hand: every ``*.py`` with a top-level
``if __name__ == "__main__":`` guard in a problem folder (a top-level folder holding
``<mod>.py``, ``mod`` = folder name with ``-`` -> ``_``) or in ``tools/``, except
``test_*.py`` and ``conftest.py``. Each script's module-level ``build_parser()`` is
imported in-process and its flags are read from the parser: every numeric flag carries
a range-checking type with ``.kind`` / ``.lo`` / ``.hi`` / ``.lo_open`` / ``.hi_open``,
from which ``hypothesis`` (derandomised, fixed example budget) generates bad values:
just outside each bound, NaN, inf, non-numbers, huge integers, and strings outside a
flag's ``choices``.

In-process (fast): ``--help`` exits 0 and gives every flag a help text stating a bound;
every bad value exits 2 with exactly one stderr line naming the flag, and no traceback.

In child processes (each in its own session, killed whole afterwards), run two at a
time: a bad value and a bad output path end the real script with exit 2 and one line,
writing nothing; configurations pushed to the extremes of their step-size flags either
succeed with a finite record or stop (exit 3, no record); a record write that fails
(the child's ``RLIMIT_FSIZE`` is a few bytes) exits 74 with one line, leaving the old
target and no temporary file; SIGINT / SIGTERM at generated moments (counted from when the
child has loaded numpy, i.e. is past interpreter start-up) leave the target old
or complete and no temporary file, exiting 130 / 143 with one line; every visualize and
GIF script runs end to end with ``--smoke --outdir TMP``.

Test ids start with the area (``xor``, ``encoder``, ``bars``, ``spline``, ``ff``,
``tools``: the folder name up to its first ``-``), so ``-k xor`` selects one area.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
TMP_PREFIX = ".tmp_"
HYPOTHESIS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=list(HealthCheck),
)
#: Flags whose extremes are likely to make training diverge (matched on the dest name).
STEP_FLAG = re.compile(r"(^|_)(lr|rate|momentum|temperature|temp|alpha|beta|sigma|scale|init)")
#: Flags naming an output file / an output folder (matched on the dest name; ``--out``
#: is a folder when its help says "folder" or "directory" and not "file").
FILE_OUTPUTS = ("json", "save_weights")
DIR_OUTPUTS = ("outdir", "screenshots")


# ---------------------------------------------------------------------------------------
# Discovery


def has_main_guard(path: Path) -> bool:
    """True when ``path`` has a top-level ``if __name__ == "__main__":`` block."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError):
        return True  # an unparsable entry script must still show up (and fail)
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [n for n in ast.walk(node.test) if isinstance(n, ast.Name)]
            consts = [n for n in ast.walk(node.test) if isinstance(n, ast.Constant)]
            if any(n.id == "__name__" for n in names) and any(
                c.value == "__main__" for c in consts
            ):
                return True
    return False


def problem_folders(root: Path = ROOT) -> list[Path]:
    """Top-level folders holding ``<mod>.py`` (the same rule as tools/run_all.py)."""
    return sorted(
        f
        for f in root.iterdir()
        if f.is_dir()
        and not f.name.startswith((".", "_"))
        and (f / f"{f.name.replace('-', '_')}.py").is_file()
    )


def entry_scripts(root: Path = ROOT) -> list[Path]:
    """Every entry script of the problem folders and of tools/, sorted."""
    found = []
    for folder in [*problem_folders(root), root / "tools"]:
        for py in sorted(folder.glob("*.py")):
            if py.name.startswith("test_") or py.name == "conftest.py":
                continue
            if has_main_guard(py):
                found.append(py)
    return found


def area(script: Path) -> str:
    """``xor``, ``encoder``, ``bars``, ``spline``, ``ff`` or ``tools``."""
    return script.parent.name.split("-")[0]


def script_id(script: Path) -> str:
    return f"{area(script)}:{script.relative_to(ROOT)}"


def kind_of(script: Path) -> str:
    """``main`` (a problem's <mod>.py), ``extra`` (another run script of a problem),
    ``visualize``, ``gif`` or ``tool``."""
    if script.parent.name == "tools":
        return "tool"
    if script.name.startswith("visualize_"):
        return "visualize"
    if script.name.startswith("make_") and script.name.endswith("_gif.py"):
        return "gif"
    if script.stem == script.parent.name.replace("-", "_"):
        return "main"
    return "extra"


SCRIPTS = entry_scripts()


def scripts_of(*kinds: str) -> list:
    return [pytest.param(s, id=script_id(s)) for s in SCRIPTS if kind_of(s) in kinds]


ALL = scripts_of("main", "extra", "visualize", "gif", "tool")
RUNNERS = scripts_of("main", "extra")
DRAWERS = scripts_of("visualize", "gif")


_IMPORT_LOCK = threading.RLock()  # the job threads and the main thread both import


def load_module(script: Path):
    """Import ``script`` with its folder on sys.path (module name = file stem when free)."""
    with _IMPORT_LOCK:
        return _load_module(script)


def _load_module(script: Path):
    folder = str(script.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = script.stem
    mod = sys.modules.get(name)
    if mod is not None:
        if Path(getattr(mod, "__file__", "") or "").resolve() == script.resolve():
            return mod
        name = f"_contract_{script.parent.name.replace('-', '_')}_{script.stem}"
    spec = importlib.util.spec_from_file_location(name, script)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


def get_parser(script: Path) -> argparse.ArgumentParser:
    """The script's ``build_parser()`` result (fails the test when missing)."""
    mod = load_module(script)
    build = getattr(mod, "build_parser", None)
    assert callable(build), f"{script.name}: no module-level build_parser()"
    parser = build()
    assert isinstance(parser, argparse.ArgumentParser), f"{script.name}: not an ArgumentParser"
    return parser


# ---------------------------------------------------------------------------------------
# Reading flags


@dataclass
class Flag:
    """One option of a parser that takes a value."""

    option: str  # the long option string, e.g. "--lr"
    action: argparse.Action

    @property
    def dest(self) -> str:
        return self.action.dest

    @property
    def rtype(self):
        """The range-checking type, or None."""
        t = self.action.type
        return t if t is not None and hasattr(t, "kind") else None


def value_flags(parser: argparse.ArgumentParser) -> list[Flag]:
    """Options that take a value (not --help, not switches)."""
    flags = []
    for action in parser._actions:  # argparse keeps no public list of actions
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if not action.option_strings or action.nargs == 0:
            continue
        longs = [o for o in action.option_strings if o.startswith("--")]
        flags.append(Flag((longs or action.option_strings)[0], action))
    return flags


def is_numeric_without_range(flag: Flag) -> bool:
    a = flag.action
    if flag.rtype is not None or a.choices is not None:
        return False
    if a.type in (int, float):
        return True
    default = a.default
    return a.type is None and isinstance(default, (int, float)) and not isinstance(default, bool)


def bound_texts(v) -> set[str]:
    """Ways a bound may be written in a help text."""
    out = {str(v), repr(v)}
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        out.add(str(int(v)))
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return out
    out.add(f"{f:g}")
    if f != 0:
        mant, exp = f"{f:e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        out.add(f"{mant}e{int(exp)}")
        out.add(f"{mant}e+{int(exp)}" if int(exp) >= 0 else f"{mant}e{int(exp)}")
        p = math.log2(abs(f) + 1)
        if abs(p - round(p)) < 1e-12:
            out.update({f"2**{round(p)}", f"2^{round(p)}"})
        p = math.log2(abs(f))
        if abs(p - round(p)) < 1e-12:
            out.update({f"2**{round(p)}", f"2^{round(p)}"})
    return out


def finite_bound(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def fixed_bad_values(flag: Flag) -> list[str]:
    """Deterministic bad values for one flag (every flag gets all of these)."""
    if flag.action.choices is not None:
        allowed = {str(c) for c in flag.action.choices}
        return [v for v in ("", "--", "nan", "NOT-A-CHOICE", "-1", "1e999") if v not in allowed]
    t = flag.rtype
    if t is None:
        return []
    bad = ["nan", "NaN", "inf", "-inf", "abc", "", "--", "1e999", "9" * 40, "-" + "9" * 40]
    bad += ["9" * 400, "-" + "9" * 400, "0x10"]
    if t.kind == "int":
        bad += ["1.5", "2.0e0", "1e3"]
    for bound, is_open, step in ((t.lo, t.lo_open, -1), (t.hi, t.hi_open, +1)):
        if not finite_bound(bound):
            continue
        if is_open:
            bad.append(repr(bound) if t.kind == "float" else str(bound))
        if t.kind == "int":
            bad.append(str(int(bound) + step))
        else:
            bad.append(repr(math.nextafter(float(bound), step * math.inf)))
            bad.append(repr(float(bound) + step * max(1.0, abs(float(bound)))))
    # an int flag may legitimately accept "0x10"? no: int_in takes decimal integers only
    return bad


def bad_value_strategy(flag: Flag):
    """Hypothesis strategy of values the flag must refuse."""
    junk = st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=8)
    if flag.action.choices is not None:
        allowed = {str(c) for c in flag.action.choices}
        return junk.filter(lambda s: s not in allowed)
    t = flag.rtype
    parts = [
        st.sampled_from(["nan", "inf", "-inf", "+inf", "NAN", "Infinity", "-nan"]),
        junk.filter(lambda s: not _parses_in_range(t, s)),
    ]
    if finite_bound(t.lo):
        lo = float(t.lo)
        if t.kind == "int":
            parts.append(st.integers(max_value=int(t.lo) - 1).map(str))
        else:
            parts.append(
                st.floats(max_value=lo, exclude_max=not t.lo_open, allow_nan=False).map(repr)
            )
    if finite_bound(t.hi):
        hi = float(t.hi)
        if t.kind == "int":
            parts.append(st.integers(min_value=int(t.hi) + 1).map(str))
        else:
            parts.append(
                st.floats(min_value=hi, exclude_min=not t.hi_open, allow_nan=False).map(repr)
            )
    if t.kind == "int":
        parts.append(
            st.floats(allow_nan=False, allow_infinity=False)
            .filter(lambda x: not x.is_integer())
            .map(repr)
        )
    return st.one_of(parts)


def _parses_in_range(t, s: str) -> bool:
    """Would a correct range type accept ``s``? (used to keep generated junk bad)"""
    try:
        x = int(s) if t.kind == "int" else float(s)
    except (ValueError, OverflowError):
        return False
    if not math.isfinite(x):
        return False
    if finite_bound(t.lo) and (x < t.lo or (t.lo_open and x == t.lo)):
        return False
    if finite_bound(t.hi) and (x > t.hi or (t.hi_open and x == t.hi)):
        return False
    return True


def parse_in_process(parser: argparse.ArgumentParser, argv: list[str]):
    """Run ``parser.parse_args(argv)``; return (exit code or None, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # the user would see a traceback
            pytest.fail(f"{parser.prog} {' '.join(argv)!r}: {type(exc).__name__}: {exc}")
    return code, out.getvalue(), err.getvalue()


def assert_refused(parser, flag: Flag, value: str) -> None:
    code, _, err = parse_in_process(parser, [f"{flag.option}={value}"])
    shown = f"{parser.prog} {flag.option}={value!r}"
    assert code == 2, f"{shown}: exit {code} (want 2); stderr {err!r}"
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, f"{shown}: {len(lines)} stderr lines (want 1): {err!r}"
    assert "Traceback" not in err, f"{shown}: traceback"
    assert flag.option in err or flag.dest in err, f"{shown}: message does not name the flag"


# ---------------------------------------------------------------------------------------
# In-process tests


@pytest.mark.parametrize("script", ALL)
def test_help_exits_0_and_states_ranges(script):
    parser = get_parser(script)
    code, out, err = parse_in_process(parser, ["--help"])
    assert code == 0, f"--help exit {code}: {err!r}"
    assert "usage:" in out
    formatter = parser._get_formatter()
    problems = []
    for flag in value_flags(parser):
        text = formatter._expand_help(flag.action) if flag.action.help else ""
        if not text.strip():
            problems.append(f"{flag.option}: no help")
            continue
        t = flag.rtype
        if t is not None:
            shown = set()
            for b in (t.lo, t.hi):
                if finite_bound(b):
                    shown |= bound_texts(b)
            if shown and not any(s in text for s in shown):
                problems.append(f"{flag.option}: help {text!r} states no bound")
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("script", ALL)
def test_parser_error_is_one_line_exit_2(script):
    parser = get_parser(script)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        parser.error("a test message")
    assert exc.value.code == 2
    assert err.getvalue().endswith(": error: a test message\n")
    assert err.getvalue().count("\n") == 1, err.getvalue()


@pytest.mark.parametrize("script", ALL)
def test_numeric_flags_have_range_types(script):
    parser = get_parser(script)
    flags = value_flags(parser)
    bare = [f.option for f in flags if is_numeric_without_range(f)]
    assert not bare, f"numeric flags without int_in/float_in: {', '.join(bare)}"
    for f in flags:
        t = f.rtype
        if t is None:
            continue
        assert t.kind in ("int", "float"), f"{f.option}: kind {t.kind!r}"
        assert finite_bound(t.lo) or t.lo is None, f"{f.option}: lo {t.lo!r}"
        assert finite_bound(t.hi), f"{f.option}: no finite upper bound (hi {t.hi!r})"
        if t.kind == "int":
            assert finite_bound(t.lo), f"{f.option}: int flag without a lower bound"
    seed = [f for f in flags if f.option == "--seed"]
    if kind_of(script) != "tool":
        assert seed, "no --seed flag"
    for f in seed:
        t = f.rtype
        # int_in(0, 2**32 - 1); a script drawing seeds S..S+k may lower hi by k (<= 1024)
        ok = t.kind == "int" and t.lo == 0 and 2**32 - 1 - 1024 <= t.hi <= 2**32 - 1
        assert ok, f"--seed is {t.kind} in [{t.lo}, {t.hi}], want int_in(0, 2**32 - 1)"


@pytest.mark.parametrize("script", ALL)
def test_range_types_accept_their_bounds(script):
    """The attributes describe the callable: an inside value and each closed bound pass."""
    parser = get_parser(script)
    for f in value_flags(parser):
        t = f.rtype
        if t is None:
            continue
        inside = []
        for bound, is_open in ((t.lo, t.lo_open), (t.hi, t.hi_open)):
            if finite_bound(bound) and not is_open:
                inside.append(bound)
        if finite_bound(t.lo) and finite_bound(t.hi) and t.hi > t.lo:
            mid = (t.lo + t.hi) / 2 if t.kind == "float" else (int(t.lo) + int(t.hi)) // 2
            if t.kind == "int" or (mid != t.lo and mid != t.hi):
                inside.append(mid)
        for v in inside:
            text = str(int(v)) if t.kind == "int" else repr(float(v))
            try:
                got = t(text)
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                pytest.fail(f"{f.option}={text} refused although in range: {exc}")
            assert got == (int(v) if t.kind == "int" else float(v)), f"{f.option}={text}: {got}"


@pytest.mark.parametrize("script", ALL)
def test_every_flag_refuses_fixed_bad_values(script):
    parser = get_parser(script)
    checked = 0
    for f in value_flags(parser):
        for value in fixed_bad_values(f):
            assert_refused(parser, f, value)
            checked += 1
    if any(f.rtype is not None or f.action.choices is not None for f in value_flags(parser)):
        assert checked


@pytest.mark.parametrize("script", ALL)
def test_generated_bad_values_are_refused(script):
    parser = get_parser(script)
    flags = [f for f in value_flags(parser) if f.rtype is not None or f.action.choices]
    if not flags:
        pytest.skip("no range-typed or choice flags")

    @HYPOTHESIS
    @given(data=st.data())
    def check(data):
        flag = data.draw(st.sampled_from(flags), label="flag")
        value = data.draw(bad_value_strategy(flag), label="value")
        assert_refused(parser, flag, value)

    check()


def test_discovery_finds_every_area():
    """Every problem folder contributes its main module; tools/run_all.py is found."""
    found = {script_id(s) for s in SCRIPTS}
    for folder in problem_folders():
        main = folder / f"{folder.name.replace('-', '_')}.py"
        assert script_id(main) in found
    assert "tools:tools/run_all.py" in found
    assert not any(s.name.startswith("test_") for s in SCRIPTS)


# ---------------------------------------------------------------------------------------
# Child processes


def child_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update(
        MPLBACKEND="Agg",
        PYTHONDONTWRITEBYTECODE="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    return env


@dataclass
class Done:
    """What a child process did."""

    cmd: list[str]
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    hung: bool = False

    def show(self) -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-6:])
        return f"`{' '.join(self.cmd[1:])}` -> exit {self.code} in {self.seconds:.1f} s\n{tail}"


def wait_started(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait until the child has loaded numpy (its script is past its first lines).

    Under load the interpreter's own start-up can take over a second, and a signal
    then lands before any line of the script has run; no script can handle that. So
    the signal clock starts when numpy's core extension is mapped into the child
    (scripts install their signal handlers before importing numpy). False if the
    child ended first or the deadline passed.
    """
    maps = Path(f"/proc/{proc.pid}/maps")
    while time.perf_counter() < deadline and proc.poll() is None:
        try:
            if "_multiarray_umath" in maps.read_text():
                return True
        except OSError:
            return False
        time.sleep(0.01)
    return False


def run_child(
    cmd: list[str],
    cwd: Path,
    env: dict,
    timeout: float = 60,
    fsize: int | None = None,
    signal_after: float | None = None,
    signum: int = signal.SIGINT,
) -> Done:
    """Run ``cmd`` in its own session; optionally send ``signum`` after ``signal_after`` s.

    The whole process group is killed afterwards, so no grandchild outlives the test.
    """

    def limit():  # runs in the child between fork and exec
        # a shell's background job inherits SIGINT ignored; a terminal's Ctrl-C does not
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=limit,
    )
    hung = False
    try:
        if signal_after is not None:
            wait_started(proc, time.perf_counter() + timeout)
            try:
                proc.wait(timeout=signal_after)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Done(cmd, proc.returncode, out or "", err or "", time.perf_counter() - start, hung)


_POOL = ThreadPoolExecutor(max_workers=2)
_JOBS: dict[str, Future] = {}


def submit(key: str, fn, *args) -> Future:
    if key not in _JOBS:
        _JOBS[key] = _POOL.submit(fn, *args)
    return _JOBS[key]


def result(key: str, fn, *args):
    return submit(key, fn, *args).result()


@pytest.fixture(scope="session", autouse=True)
def _start_child_jobs(request):
    """Start the selected tests' child processes up front, two at a time."""
    subprocess.run(  # build matplotlib's font cache now, not inside a limited child
        [sys.executable, "-c", "import matplotlib.font_manager"],
        env=child_env(ROOT),
        capture_output=True,
        check=False,
    )
    for item in request.session.items:
        if item.module is None or Path(str(item.fspath)).name != "test_contract.py":
            continue
        starter = getattr(item.function, "start_job", None)
        callspec = getattr(item, "callspec", None)
        if starter and callspec is not None:
            starter(callspec.params["script"])
    yield
    _POOL.shutdown(wait=True, cancel_futures=True)
    for base in _BASE:
        shutil.rmtree(base, ignore_errors=True)


def starts(fn):
    """Mark a test whose child process can start before the test runs."""

    def deco(test):
        test.start_job = fn
        return test

    return deco


def tmp_files(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p) for p in folder.rglob(f"{TMP_PREFIX}*"))


def listing(folder: Path) -> list[str]:
    """Files (not folders) under ``folder``, relative."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def strict_json(text: str):
    """Parse ``text`` as strict JSON: NaN / Infinity are errors."""

    def refuse(name):
        raise ValueError(f"non-finite number {name} in record")

    return json.loads(text, parse_constant=refuse)


def assert_finite(obj, where="record") -> None:
    if isinstance(obj, float):
        assert math.isfinite(obj), f"{where} is {obj}"
    elif isinstance(obj, dict):
        for k, v in obj.items():
            assert_finite(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_finite(v, f"{where}[{i}]")


def assert_one_line(done: Done, what: str) -> str:
    assert not done.hung, f"{what}: hung\n{done.show()}"
    assert "Traceback" not in done.stderr, f"{what}: traceback\n{done.show()}"
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"{what}: {len(lines)} stderr lines (want 1)\n{done.show()}"
    return lines[0]


_BASE: list[Path] = []


def scratch(key: str) -> Path:
    """A fresh empty folder under this session's scratch folder."""
    if not _BASE:
        _BASE.append(Path(tempfile.mkdtemp(prefix="contract_")))
    return Path(tempfile.mkdtemp(prefix=f"{key}_", dir=_BASE[0]))


def output_kind(flag: Flag) -> str | None:
    """``"file"``, ``"dir"`` or None (not an output flag)."""
    if flag.dest in FILE_OUTPUTS:
        return "file"
    if flag.dest in DIR_OUTPUTS:
        return "dir"
    if flag.dest == "out":
        text = flag.action.help or ""
        folder = re.search(r"folder|directory", text) and not re.search(r"\bfile\b", text)
        return "dir" if folder else "file"
    return None


def output_args(parser, tmp: Path) -> list[str]:
    """Point every output flag the parser has into ``tmp``."""
    args = []
    for f in value_flags(parser):
        kind = output_kind(f)
        if kind == "file":
            suffix = "npz" if "weights" in f.dest else "json"
            args += [f.option, str(tmp / "out" / f"target.{suffix}")]
        elif kind == "dir":
            args += [f.option, str(tmp / "out")]
    return args


def smoke_args(parser) -> list[str]:
    return ["--smoke"] if any("--smoke" in a.option_strings for a in parser._actions) else []


# --- bad value and bad path, end to end ------------------------------------------------


def _bad_value_job(script: Path) -> tuple[Done | None, Path, str]:
    parser = get_parser(script)
    flags = [f for f in value_flags(parser) if f.rtype is not None]
    flag = next((f for f in flags if f.option == "--seed"), flags[0] if flags else None)
    tmp = scratch("bad")
    if flag is None:
        return None, tmp, ""
    value = "-1" if flag.option == "--seed" else "nan"
    cmd = [sys.executable, str(script), *smoke_args(parser), *output_args(parser, tmp)]
    cmd.append(f"{flag.option}={value}")
    return run_child(cmd, tmp, child_env(tmp), timeout=60), tmp, flag.option


@starts(lambda s: submit(f"bad:{s}", _bad_value_job, s))
@pytest.mark.parametrize("script", ALL)
def test_bad_value_end_to_end(script):
    done, tmp, option = result(f"bad:{script}", _bad_value_job, script)
    if done is None:
        pytest.skip("no range-typed flag")
    line = assert_one_line(done, f"{script.name} {option}=<bad>")
    assert done.code == 2, done.show()
    assert option in line, f"message does not name {option}: {line!r}"
    assert listing(tmp) == [], f"wrote {listing(tmp)} although the input was refused"


def _bad_path_job(script: Path):
    parser = get_parser(script)
    tmp = scratch("path")
    blocker = tmp / "a_file"
    blocker.write_text("not a folder\n")
    (tmp / "a_dir").mkdir()
    cases = []
    for f in value_flags(parser):
        kind = output_kind(f)
        long_name = str(tmp / ("n" * 300 + ".json"))
        if kind == "file":
            cases += [(f, str(blocker / "x.json")), (f, str(tmp / "a_dir"))]
            cases += [(f, long_name), (f, "")]
        elif kind == "dir":
            cases += [(f, str(blocker / "sub")), (f, str(tmp / ("d" * 300))), (f, "")]
    runs = []
    for f, bad in cases:
        others = [a for a in output_args(parser, tmp) if a]
        # drop this flag's own redirection, keep the others inside tmp
        if f.option in others:
            i = others.index(f.option)
            del others[i : i + 2]
        cmd = [sys.executable, str(script), *smoke_args(parser), *others, f.option, bad]
        runs.append((f.option, bad, run_child(cmd, tmp, child_env(tmp), timeout=60)))
    return runs, tmp


@starts(lambda s: submit(f"path:{s}", _bad_path_job, s))
@pytest.mark.parametrize("script", ALL)
def test_bad_output_path_end_to_end(script):
    runs, tmp = result(f"path:{script}", _bad_path_job, script)
    if not runs:
        pytest.skip("no output flag")
    for option, bad, done in runs:
        line = assert_one_line(done, f"{script.name} {option} {bad}")
        assert done.code == 2, done.show()
        if bad:
            named = [bad, *(str(a) for a in Path(bad).parents if tmp in a.parents)]
            named += [Path(bad).name[:40], Path(bad).parent.name[:40]]
            assert any(n in line for n in named), f"message does not name the path: {line!r}"
    assert listing(tmp) == ["a_file"], f"wrote {listing(tmp)}"


# --- divergence --------------------------------------------------------------------------


def extreme(t, end: str) -> str | None:
    """The largest / smallest value a range type accepts, as text (None if unbounded)."""
    if end == "hi":
        if not finite_bound(t.hi):
            return None
        v = (
            t.hi
            if not t.hi_open
            else (t.hi - 1 if t.kind == "int" else math.nextafter(t.hi, -1e308))
        )
    else:
        if not finite_bound(t.lo):
            return None
        v = (
            t.lo
            if not t.lo_open
            else (t.lo + 1 if t.kind == "int" else math.nextafter(t.lo, 1e308))
        )
    return str(int(v)) if t.kind == "int" else repr(float(v))


def divergence_configs(parser) -> list[list[str]]:
    """A configuration with step-size-like flags at the top of their ranges (temperatures
    at the bottom): the likeliest to diverge."""
    flags = [f for f in value_flags(parser) if f.rtype is not None and f.rtype.kind == "float"]
    steps = [f for f in flags if STEP_FLAG.search(f.dest)]
    if not steps:
        return []
    configs = []
    for end in ("hi",):  # the low ends are the fuzz runner's (tools/fuzz_contract.py)
        args = []
        for f in steps:
            v = extreme(f.rtype, end if not f.dest.startswith(("temp", "temperature")) else "lo")
            if v is not None:
                args.append(f"{f.option}={v}")
        if args:
            configs.append(args)
    return configs


def _divergence_job(script: Path):
    parser = get_parser(script)
    if not smoke_args(parser) or not any(f.dest == "json" for f in value_flags(parser)):
        return [], None
    tmp = scratch("diverge")
    runs = []
    for i, extra in enumerate(divergence_configs(parser)):
        target = tmp / f"rec{i}.json"
        cmd = [sys.executable, str(script), "--smoke", *extra, "--json", str(target)]
        runs.append((extra, target, run_child(cmd, tmp, child_env(tmp), timeout=90)))
    return runs, tmp


@starts(lambda s: submit(f"diverge:{s}", _divergence_job, s))
@pytest.mark.parametrize("script", RUNNERS)
def test_extreme_steps_never_record_non_finite_numbers(script):
    runs, tmp = result(f"diverge:{script}", _divergence_job, script)
    if not runs:
        pytest.skip("no --smoke/--json, or no step-size flag")
    for extra, target, done in runs:
        what = f"{script.name} --smoke {' '.join(extra)}"
        assert not done.hung, f"{what}: hung\n{done.show()}"
        assert "Traceback" not in done.stderr, f"{what}: traceback\n{done.show()}"
        if done.code == 0:
            record = strict_json(target.read_text(encoding="utf-8"))
            assert_finite(record)
        else:
            assert done.code in (2, 3), f"{what}: exit {done.code}\n{done.show()}"
            line = assert_one_line(done, what)
            if done.code == 3:
                assert "diverged" in line, line
            assert not target.exists(), f"{what}: exit {done.code} but wrote the record"
        assert tmp_files(tmp) == [], f"{what}: left {tmp_files(tmp)}"


# --- a write that fails ------------------------------------------------------------------

OLD = b'{"old": "record"}\n'


def _fsize_job(script: Path):
    parser = get_parser(script)
    if not smoke_args(parser) or not any(f.dest == "json" for f in value_flags(parser)):
        return None, None
    tmp = scratch("fsize")
    target = tmp / "rec.json"
    target.write_bytes(OLD)
    cmd = [sys.executable, str(script), "--smoke", "--json", str(target)]
    return run_child(cmd, tmp, child_env(tmp), timeout=90, fsize=len(OLD)), tmp


@starts(lambda s: submit(f"fsize:{s}", _fsize_job, s))
@pytest.mark.parametrize("script", RUNNERS)
def test_failing_write_keeps_old_target(script):
    done, tmp = result(f"fsize:{script}", _fsize_job, script)
    if done is None:
        pytest.skip("no --smoke/--json")
    line = assert_one_line(done, f"{script.name} --smoke --json X with RLIMIT_FSIZE")
    assert done.code == 74, done.show()
    assert "cannot write" in line and "rec.json" in line, line
    assert (tmp / "rec.json").read_bytes() == OLD, "target changed"
    assert tmp_files(tmp) == [], f"left {tmp_files(tmp)}"


# --- signals -----------------------------------------------------------------------------

#: (signal, expected exit code, last word of the one line)
SIGNALS = {"int": (signal.SIGINT, 130, "interrupted"), "term": (signal.SIGTERM, 143, "terminated")}


def signal_delays(script: Path) -> list[float]:
    """Two moments (s after numpy is loaded, 0-1.3 s), one per signal, fixed per script."""
    rng = random.Random(zlib.crc32(str(script.relative_to(ROOT)).encode()))
    return [round(rng.uniform(0.0, 1.3), 3) for _ in SIGNALS]


def _signal_job(script: Path):
    parser = get_parser(script)
    if not smoke_args(parser) or not any(f.dest == "json" for f in value_flags(parser)):
        return []
    runs = []
    for (name, (signum, _, _)), delay in zip(SIGNALS.items(), signal_delays(script), strict=True):
        tmp = scratch("sig")
        target = tmp / "rec.json"
        target.write_bytes(OLD)
        cmd = [sys.executable, str(script), "--smoke", "--json", str(target)]
        done = run_child(cmd, tmp, child_env(tmp), timeout=90, signal_after=delay, signum=signum)
        runs.append((name, delay, tmp, done))
    return runs


@starts(lambda s: submit(f"signal:{s}", _signal_job, s))
@pytest.mark.parametrize("script", RUNNERS)
def test_signals_leave_old_or_complete_target(script):
    runs = result(f"signal:{script}", _signal_job, script)
    if not runs:
        pytest.skip("no --smoke/--json")
    for name, delay, tmp, done in runs:
        signum, code, word = SIGNALS[name]
        what = f"{script.name} --smoke, SIG{name.upper()} {delay:.2f} s after numpy loaded"
        assert not done.hung, f"{what}: hung\n{done.show()}"
        assert "Traceback" not in done.stderr, f"{what}: traceback\n{done.show()}"
        data = (tmp / "rec.json").read_bytes()
        if data != OLD:
            assert_finite(strict_json(data.decode("utf-8")))
        assert tmp_files(tmp) == [], f"{what}: left {tmp_files(tmp)}"
        if done.code == 0:
            assert data != OLD, f"{what}: exit 0 but the record was not written"
            continue
        line = assert_one_line(done, what)
        assert done.code == code, f"{what}: exit {done.code}, want {code}\n{done.show()}"
        assert line.rstrip().endswith(word), f"{what}: {line!r}"


# --- figures and GIFs --------------------------------------------------------------------


def _draw_job(script: Path):
    tmp = scratch("draw")
    out = tmp / "out"
    cmd = [sys.executable, str(script), "--smoke", "--outdir", str(out)]
    return run_child(cmd, tmp, child_env(tmp), timeout=120), tmp, out


@starts(lambda s: submit(f"draw:{s}", _draw_job, s))
@pytest.mark.parametrize("script", DRAWERS)
def test_drawing_scripts_run_at_tiny_size(script):
    done, tmp, out = result(f"draw:{script}", _draw_job, script)
    assert not done.hung, f"hung\n{done.show()}"
    assert done.code == 0 and "Traceback" not in done.stderr, done.show()
    if kind_of(script) == "gif":
        gifs = sorted(out.glob("*.gif"))
        assert len(gifs) == 1, f"want one GIF in --outdir, found {listing(tmp)}"
        from PIL import Image

        with Image.open(gifs[0]) as im:
            assert getattr(im, "n_frames", 1) > 1, "GIF has a single frame"
    else:
        assert sorted(out.glob("*.png")), f"no PNG in --outdir, found {listing(tmp)}"
    assert tmp_files(tmp) == [], f"left {tmp_files(tmp)}"
