#!/usr/bin/env python3
"""Run every problem in the catalog, check its result record, and regenerate the docs.

Each problem folder ``<slug>/`` holds ``<mod>.py`` (``mod`` = slug with ``-`` -> ``_``),
whose module-level literals are read here with :mod:`ast` (never imported):

    HEADLINE_ARGS = ["--sweep", "100"]   # extra CLI arguments of the headline run
    HEADLINE_BUDGET_S = 120              # its wall-time budget, seconds
    FULL_ARGS = ["--preset", "full"]     # optional: a long configuration, run on request
    FULL_BUDGET_S = 7200                 # its wall-time budget, seconds
    GOLDEN_RUNS = {"smoke.json": ["<mod>.py", "--smoke"]}   # golden smoke records
    GOLDEN_RTOL = 0.0                    # float tolerance of tools/test_golden.py

Modes (one at a time)
---------------------
(default)    run each problem's headline configuration, store the checked record as
             ``<slug>/results/headline.json``, then regenerate every generated block
             from the records (as --collect does).
--smoke      run each problem's ``--smoke`` configuration and check its record; write
             the table to ``--out`` (default: a temporary file); never touch a
             committed file.
--full       run FULL_ARGS of each problem that declares it into
             ``<slug>/results/full.json``; nothing else is written (run --collect next).
             A full run can take hours: add --progress to see the problem's own
             progress lines (epochs, ETA) as it runs.
--golden     rerun every GOLDEN_RUNS entry and rewrite those records under
             ``<slug>/results/`` (after a deliberate change to a problem).
--collect    run no problem; regenerate every generated block from the committed
             records: each problem's ``visualize_<mod>.py --readme``, its README's
             glance block, RESULTS.md and the root README's problems table (the last
             three all together or not at all).

A problem's catalog record (its headline everywhere) is ``results/full.json`` when its
module declares FULL_ARGS and that record exists, else ``results/headline.json``.

Every problem runs in its own process group, which is terminated and reaped when the
problem ends and on every exit of this script (normal, error, Ctrl-C, SIGTERM);
run_all also adopts (as Linux child subreaper) and kills processes a problem leaves.

Exit codes: 0 ok; 1 a problem failed, overran or wrote a bad record; 2 bad arguments;
74 cannot write an output; 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli import (  # noqa: E402
    CleanParser,
    check_output_path,
    dumps_record,
    float_in,
    loads_strict,
    run_main,
    write_all_or_nothing,
    write_atomic,
)

ROOT = Path(__file__).resolve().parent.parent
PROG = "run_all.py"

#: Catalog order (by year); problems not listed here follow alphabetically.
CATALOG_ORDER = [
    "encoder-4-2-4",
    "xor",
    "spline-images-factorial-vq",
    "bars-rbm",
    "ff-hybrid-mnist",
]
RECORD_KEYS = ("stub", "paper", "seed", "headline", "metrics", "reproduces", "wall_time_s")
HEADLINE_KEYS = ("name", "value", "unit", "paper_value", "better")
CONSTANTS = (
    "HEADLINE_ARGS",
    "HEADLINE_BUDGET_S",
    "FULL_ARGS",
    "FULL_BUDGET_S",
    "GOLDEN_RUNS",
    "GOLDEN_RTOL",
)
README_START, README_END = "<!-- problems:start -->", "<!-- problems:end -->"
GLANCE_START, GLANCE_END = "<!-- glance:start -->", "<!-- glance:end -->"
DEFAULT_SMOKE_BUDGET_S = 60.0
DEFAULT_SMOKE_TOTAL_S = 300.0
README_BUDGET_S = 300.0  # visualize_<mod>.py --readme
GRACE_S = 5.0  # between SIGTERM and SIGKILL of a problem's process group


class RecordError(ValueError):
    """A record is missing, unreadable, truncated or incomplete; names problem and file."""


# ---------------------------------------------------------------------------------------
# Problems


@dataclass
class Problem:
    """One problem folder and the run settings its module declares."""

    slug: str
    folder: Path
    script: Path
    headline_args: list[str] = field(default_factory=list)
    headline_budget_s: float = 600.0
    full_args: list[str] | None = None
    full_budget_s: float = 7200.0
    golden_runs: dict[str, list[str]] = field(default_factory=dict)
    golden_rtol: float = 0.0

    @property
    def mod(self) -> str:
        return self.slug.replace("-", "_")

    @property
    def record_path(self) -> Path:
        return self.folder / "results" / "headline.json"

    @property
    def full_path(self) -> Path:
        return self.folder / "results" / "full.json"

    @property
    def catalog_path(self) -> Path:
        """The record the catalog headlines: full.json if declared and present."""
        if self.full_args is not None and self.full_path.is_file():
            return self.full_path
        return self.record_path


def problem_folders(root: Path = ROOT) -> list[Path]:
    """Top-level folders holding ``<mod>.py`` (not hidden)."""
    return [
        f
        for f in sorted(root.iterdir())
        if f.is_dir()
        and not f.name.startswith((".", "_"))
        and (f / f"{f.name.replace('-', '_')}.py").is_file()
    ]


def read_constants(script: Path) -> dict:
    """The literal run constants of ``script`` (see the module docstring), with defaults.

    Parses with :mod:`ast`; nothing is executed. Raises ValueError naming the script and
    the constant when one is present but not a literal of the right type.
    """
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name) and target.id in CONSTANTS:
            try:
                found[target.id] = ast.literal_eval(node.value)
            except ValueError as exc:
                raise ValueError(f"{script}: {target.id} is not a literal") from exc

    def str_list(name, value):
        if not (isinstance(value, list) and all(isinstance(a, str) for a in value)):
            raise ValueError(f"{script}: {name} must be a list of strings")
        return value

    def positive(name, value):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (ok and math.isfinite(value) and value > 0):
            raise ValueError(f"{script}: {name} must be a positive number")
        return float(value)

    golden = found.get("GOLDEN_RUNS", {})
    if not isinstance(golden, dict):
        raise ValueError(f"{script}: GOLDEN_RUNS must be a dict")
    for name, cmd in golden.items():
        if not (isinstance(name, str) and re.fullmatch(r"[\w.-]+\.json", name)):
            raise ValueError(f"{script}: GOLDEN_RUNS key {name!r} is not a .json file name")
        str_list(f"GOLDEN_RUNS[{name!r}]", cmd)
        if not cmd or not re.fullmatch(r"[\w-]+\.py", cmd[0]):
            raise ValueError(f"{script}: GOLDEN_RUNS[{name!r}] must start with a script name")
    rtol = found.get("GOLDEN_RTOL", 0.0)
    if not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool) and 0 <= rtol < 1):
        raise ValueError(f"{script}: GOLDEN_RTOL must be a number in [0, 1)")
    full = found.get("FULL_ARGS")
    return {
        "HEADLINE_ARGS": str_list("HEADLINE_ARGS", found.get("HEADLINE_ARGS", [])),
        "HEADLINE_BUDGET_S": positive("HEADLINE_BUDGET_S", found.get("HEADLINE_BUDGET_S", 600)),
        "FULL_ARGS": None if full is None else str_list("FULL_ARGS", full),
        "FULL_BUDGET_S": positive("FULL_BUDGET_S", found.get("FULL_BUDGET_S", 7200)),
        "GOLDEN_RUNS": golden,
        "GOLDEN_RTOL": float(rtol),
    }


def discover(root: Path = ROOT) -> list[Problem]:
    """Every problem folder under ``root`` with its constants, in catalog order."""
    problems = []
    for folder in problem_folders(root):
        script = folder / f"{folder.name.replace('-', '_')}.py"
        c = read_constants(script)
        problems.append(
            Problem(
                folder.name,
                folder,
                script,
                c["HEADLINE_ARGS"],
                c["HEADLINE_BUDGET_S"],
                c["FULL_ARGS"],
                c["FULL_BUDGET_S"],
                c["GOLDEN_RUNS"],
                c["GOLDEN_RTOL"],
            )
        )

    def key(p: Problem):
        if p.slug in CATALOG_ORDER:
            return (0, CATALOG_ORDER.index(p.slug), p.slug)
        return (1, 0, p.slug)

    return sorted(problems, key=key)


# ---------------------------------------------------------------------------------------
# Records


def _finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_record(record: object) -> str | None:
    """None if ``record`` has the result-record shape with a finite headline, else why not."""
    if not isinstance(record, dict):
        return "record is not a JSON object"
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        return f"record lacks {', '.join(missing)}"
    headline = record["headline"]
    if not isinstance(headline, dict):
        return "headline is not an object"
    missing = [k for k in HEADLINE_KEYS if k not in headline]
    if missing:
        return f"headline lacks {', '.join(missing)}"
    if not _finite_number(headline["value"]):
        return f"headline.value is {headline['value']!r}, not a finite number"
    if headline["paper_value"] is not None and not _finite_number(headline["paper_value"]):
        return f"headline.paper_value is {headline['paper_value']!r}, not a finite number"
    if record["reproduces"] not in ("yes", "partial", "no"):
        return f"reproduces is {record['reproduces']!r}, not yes/partial/no"
    if headline["better"] not in ("lower", "higher"):
        return f"headline.better is {headline['better']!r}, not lower/higher"
    if not (_finite_number(record["wall_time_s"]) and record["wall_time_s"] >= 0):
        return f"wall_time_s is {record['wall_time_s']!r}, not a finite number >= 0"
    n = record.get("n_seeds", 1)
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
        return f"n_seeds is {n!r}, not an integer >= 1"
    return None


def read_json_file(path: Path, label: str):
    """Strict JSON from ``path``; RecordError('<label>: <why>') when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{label}: no record") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(
            f"{label}: unreadable ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    try:
        return loads_strict(text)
    except json.JSONDecodeError as exc:
        why = "empty" if not text.strip() else "truncated or not JSON"
        raise RecordError(f"{label}: {why} ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # NaN / Infinity
        raise RecordError(f"{label}: {exc}") from None


def read_record(path: Path, label: str) -> dict:
    """A checked result record (RecordError naming ``label`` otherwise)."""
    record = read_json_file(path, label)
    why = validate_record(record)
    if why:
        raise RecordError(f"{label}: {why}")
    return record


def rel(path: Path, root: Path = ROOT) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def load_records(problems: list[Problem], root: Path = ROOT) -> dict[str, dict | None]:
    """slug -> catalog record (None when there is none yet). Raises RecordError."""
    records: dict[str, dict | None] = {}
    for p in problems:
        path = p.catalog_path
        if not path.is_file():
            records[p.slug] = None
            continue
        records[p.slug] = read_record(path, f"{p.slug}: {rel(path, root)}")
    return records


# ---------------------------------------------------------------------------------------
# Child processes


def _set_subreaper() -> bool:
    """Adopt orphaned descendants (Linux prctl PR_SET_CHILD_SUBREAPER); False elsewhere."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _adopted() -> list[int]:
    """Pids whose parent is this process (orphans adopted as subreaper, or children)."""
    me, pids = os.getpid(), []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == me:
            pids.append(int(entry))
    return pids


class Children:
    """The process groups run_all started; every one is ended and reaped on exit."""

    def __init__(self) -> None:
        self.live: list[subprocess.Popen] = []
        self.subreaper = False  # set by main(); only then are orphans adopted and reaped

    def start(
        self, cmd: list[str], cwd: Path, stderr, show_output: bool = False
    ) -> subprocess.Popen:
        """Start ``cmd`` in a new session (its own process group); stderr to a file, so
        a descendant that keeps the stream open cannot stall run_all. Its stdout is
        discarded, or with ``show_output`` shares run_all's own (never a pipe)."""
        env = dict(os.environ, MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"))
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=None if show_output else subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        self.live.append(proc)
        return proc

    def end(self, proc: subprocess.Popen, grace: float = GRACE_S) -> None:
        """Terminate ``proc``'s group (SIGTERM, then SIGKILL after ``grace`` s) and reap."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group's leftovers, if any
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc in self.live:
            self.live.remove(proc)
        if not self.live:
            self.reap_orphans()

    def reap_orphans(self) -> None:
        """Kill and reap descendants that outlived their parent (adopted by run_all)."""
        if not self.subreaper:
            return
        for _ in range(50):
            pids = _adopted()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            for pid in pids:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
            time.sleep(0.02)

    def end_all(self) -> None:
        for proc in list(self.live):
            self.end(proc, grace=2.0)
        self.reap_orphans()


CHILDREN = Children()


@dataclass
class Outcome:
    """What happened when one problem (or one golden run) ran."""

    problem: Problem
    ok: bool
    seconds: float
    record: dict | None = None
    reason: str = ""
    command: str = ""


def run_child(
    cmd: list[str], cwd: Path, budget_s: float, show_output: bool = False
) -> tuple[int | None, str, float]:
    """Run ``cmd`` in its own process group within ``budget_s``; (exit code, stderr, s).

    The exit code is None when the budget ran out. The group is terminated and reaped
    when the command ends, however it ends. With ``show_output`` the command's stdout
    (its progress lines) goes to run_all's stdout instead of being discarded.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = CHILDREN.start(cmd, cwd, err, show_output)
        try:
            try:
                code = proc.wait(timeout=budget_s)
            except subprocess.TimeoutExpired:
                code = None
        finally:
            CHILDREN.end(proc)
        err.seek(0)
        stderr = err.read().decode("utf-8", errors="replace")
    return code, stderr, time.perf_counter() - start


def describe_exit(code: int, stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit {code}: {lines[-1] if lines else '(no stderr)'}"


def shown_command(cmd: list[str]) -> str:
    return " ".join(["python3", *cmd[1:]])


def run_problem(
    problem: Problem,
    smoke: bool,
    budget_s: float,
    json_path: Path,
    full: bool = False,
    root: Path | None = None,
    show_output: bool = False,
) -> Outcome:
    """Run one problem (smoke: --smoke; full: FULL_ARGS; else HEADLINE_ARGS), check its record.

    A run is ok only if it exits 0 inside its budget and writes a record that passes
    :func:`validate_record` (strict JSON, finite headline).
    """
    if smoke:
        extra = ["--smoke"]
    elif full:
        extra = list(problem.full_args or [])
    else:
        extra = list(problem.headline_args)
    root = root or problem.folder.parent
    cmd = [sys.executable, rel(problem.script, root), *extra, "--json", str(json_path)]
    command = shown_command(cmd[:-2])
    code, stderr, seconds = run_child(cmd, root, budget_s, show_output)
    if code is None:
        return Outcome(
            problem, False, seconds, None, f"overran its {budget_s:.0f} s budget", command
        )
    if code != 0:
        return Outcome(problem, False, seconds, None, describe_exit(code, stderr), command)
    try:
        record = read_record(json_path, f"{problem.slug}: record of `{command}`")
    except RecordError as exc:
        return Outcome(problem, False, seconds, None, str(exc), command)
    record["provenance"] = {
        "command": command,
        "commit": "",
        "machine": "",
        "run_all_seconds": round(seconds, 2),
    }
    return Outcome(problem, True, seconds, record, "", command)


def run_golden(problem: Problem, name: str, args: list[str], tmp: Path, budget_s: float):
    """Run one GOLDEN_RUNS entry into ``tmp``; (Outcome, strict record or None)."""
    root = problem.folder.parent
    script = problem.folder / args[0]
    out = tmp / f"{problem.slug}__{name}"
    cmd = [sys.executable, rel(script, root), *args[1:], "--json", str(out)]
    command = shown_command(cmd[:-2])
    code, stderr, seconds = run_child(cmd, root, budget_s)
    if code is None:
        return Outcome(problem, False, seconds, None, f"overran {budget_s:.0f} s", command)
    if code != 0:
        return Outcome(problem, False, seconds, None, describe_exit(code, stderr), command)
    try:
        record = read_json_file(out, f"{problem.slug}: record of `{command}`")
    except RecordError as exc:
        return Outcome(problem, False, seconds, None, str(exc), command)
    return Outcome(problem, True, seconds, record, "", command)


# ---------------------------------------------------------------------------------------
# Generated text: RESULTS.md, the README table, glance blocks


def git_commit(root: Path = ROOT) -> str:
    """Short hash of HEAD, with ``+dirty`` when tracked files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        sha = git("rev-parse", "--short=10", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def machine_description() -> str:
    """CPU model, logical core count and OS, e.g. ``AMD EPYC, 2 cores, Linux x86_64``."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def fmt_number(x: object) -> str:
    """A record value for a table: ints as is, floats to 4 significant digits."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e5:
            return str(int(x))
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.3g}"
        return f"{x:.4g}"
    return str(x)


def fmt_value(x: object, unit: str) -> str:
    text = fmt_number(x)
    if x is None or not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def fmt_duration(seconds: float) -> str:
    """``0.4 s``, ``42 s``, ``1 min 39 s``, ``1 h 37 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def paper_year(paper: str) -> str:
    """The first four-digit year in a citation string, or ``""``."""
    match = re.search(r"\b(1[89]\d\d|20\d\d)\b", paper)
    return match.group(1) if match else ""


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def verdict(rec: dict) -> str:
    return f"**{rec['reproduces']}**"


RESULTS_INTRO = """\
Our headline number for each problem next to the paper's, and whether it reproduces.
Generated by `python3 tools/run_all.py` from the records linked below; do not edit by
hand.

A problem's headline is its `results/full.json` record when its main module declares a
full configuration (`FULL_ARGS`) and that record is committed, and its
`results/headline.json` record otherwise. Every page of the catalog shows the same
record, so a problem has one verdict everywhere."""


def results_markdown(records: dict[str, dict | None], problems: dict[str, Problem]) -> str:
    """The RESULTS.md text (deterministic): a short table, then one section per problem."""
    lines = [
        "# Results",
        "",
        RESULTS_INTRO,
        "",
        "| problem | ours | paper | verdict |",
        "|---|---|---|---|",
    ]
    for slug, rec in records.items():
        link = f"[{slug}]({slug}/README.md)"
        if rec is None:
            lines.append(f"| {link} | not run yet | | |")
            continue
        h = rec["headline"]
        unit = h.get("unit", "")
        lines.append(
            f"| {link} | {cell(fmt_value(h['value'], unit))} "
            f"| {cell(fmt_value(h['paper_value'], unit))} | {verdict(rec)} |"
        )
    lines += ["", "## Details", ""]
    for slug, rec in records.items():
        if rec is None:
            continue
        p = problems[slug]
        h = rec["headline"]
        prov = rec.get("provenance") or {}
        record_rel = rel(p.catalog_path, p.folder.parent)
        lines += [f"### {slug}", "", f"{rec['paper']}.", ""]
        if h.get("claim"):
            lines += [f"- **Claim:** {h['claim']}"]
        lines += [
            f"- **Measured:** {h['name']} ({'lower' if h['better'] == 'lower' else 'higher'}"
            " is better)",
            f"- **Seeds:** {rec.get('n_seeds', 1)} · **wall time:** "
            f"{fmt_duration(rec['wall_time_s'])}",
            f"- **Record:** [{record_rel}]({record_rel})",
        ]
        if prov.get("command"):
            lines.append(f"- **Command:** `{prov['command']}`")
        where = [f"commit `{prov['commit']}`" if prov.get("commit") else ""]
        where.append(prov.get("machine") or "")
        where = [w for w in where if w]
        if where:
            lines.append(f"- **Run at:** {', '.join(where)}")
        lines.append("")
    return "\n".join(lines)


def readme_table(records: dict[str, dict | None], problems: dict[str, Problem]) -> str:
    """The root README's problems table (short cells; the same records as RESULTS.md)."""
    lines = [
        "| problem | ours | paper | verdict | year |",
        "|---|---|---|---|---|",
    ]
    for slug, rec in records.items():
        link = f"[{slug}]({slug}/README.md)"
        if rec is None:
            lines.append(f"| {link} | not run yet | | | |")
            continue
        h = rec["headline"]
        unit = h.get("unit", "")
        lines.append(
            f"| {link} | {cell(fmt_value(h['value'], unit))} "
            f"| {cell(fmt_value(h['paper_value'], unit))} | {verdict(rec)} "
            f"| {paper_year(rec['paper'])} |"
        )
    return "\n".join(lines)


def glance_block(problem: Problem, rec: dict) -> str:
    """The generated 'Result at a glance' lines of a problem README."""
    h = rec["headline"]
    unit = h.get("unit", "")
    record_rel = rel(problem.catalog_path, problem.folder)
    paper = fmt_value(h["paper_value"], unit)
    if h["paper_value"] is None:
        paper = "no comparable number"
    return "\n".join(
        [
            "**Result at a glance**",
            "",
            f"- **Measure:** {h['name']}",
            f"- **Paper:** {paper} · **ours:** {fmt_value(h['value'], unit)}",
            f"- **Verdict:** **{rec['reproduces']}**",
            f"- **Seeds:** {rec.get('n_seeds', 1)} · **wall time:** "
            f"{fmt_duration(rec['wall_time_s'])}",
            f"- **Code:** [{problem.mod}.py]({problem.mod}.py) · **record:** "
            f"[{record_rel}]({record_rel})",
        ]
    )


def replace_block(text: str, start: str, end: str, body: str) -> str:
    """Replace what lies between the ``start`` and ``end`` markers with ``body``.

    Raises ValueError when the markers are missing, repeated or out of order.
    """
    i, j = text.find(start), text.find(end)
    if i < 0 or j < 0 or j < i or text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"markers {start} ... {end} not found once, in order")
    return text[: i + len(start)] + "\n" + body + "\n" + text[j:]


def generated_texts(
    problems: list[Problem], root: Path = ROOT, glance_of: list[Problem] | None = None
) -> list[tuple[Path, str]]:
    """(path, new text) of RESULTS.md, README.md and the README of every problem in
    ``glance_of`` (default: all) that has a glance block, all from the catalog records.
    Raises RecordError or ValueError (nothing is written by this function)."""
    records = load_records(problems, root)
    by_slug = {p.slug: p for p in problems}
    readme = root / "README.md"
    out = [
        (root / "RESULTS.md", results_markdown(records, by_slug)),
        (
            readme,
            replace_block(
                readme.read_text(encoding="utf-8"),
                README_START,
                README_END,
                readme_table(records, by_slug),
            ),
        ),
    ]
    chosen = {p.slug for p in (problems if glance_of is None else glance_of)}
    for p in problems:
        if p.slug not in chosen:
            continue
        page = p.folder / "README.md"
        rec = records[p.slug]
        if rec is None or not page.is_file():
            continue
        text = page.read_text(encoding="utf-8")
        if GLANCE_START not in text:
            continue  # this README has no glance block yet
        try:
            new = replace_block(text, GLANCE_START, GLANCE_END, glance_block(p, rec))
        except ValueError as exc:
            raise ValueError(f"{p.slug}/README.md: {exc}") from None
        out.append((page, new))
    return out


def write_generated(
    problems: list[Problem], root: Path = ROOT, glance_of: list[Problem] | None = None
) -> list[Path]:
    """Rewrite RESULTS.md, the README table and the glance blocks together (or none of
    them); files whose text is unchanged are left alone. Returns the files written."""
    items = generated_texts(problems, root, glance_of)
    changed = [(p, t) for p, t in items if not p.is_file() or p.read_text(encoding="utf-8") != t]
    if changed:
        write_all_or_nothing(changed)
    return [p for p, _ in changed]


def visualize_readme(problem: Problem) -> str | None:
    """Run ``visualize_<mod>.py --readme`` of ``problem``; None if ok, else why not."""
    script = problem.folder / f"visualize_{problem.mod}.py"
    if not script.is_file():
        return None
    root = problem.folder.parent
    cmd = [sys.executable, rel(script, root), "--readme"]
    code, stderr, _ = run_child(cmd, root, README_BUDGET_S)
    if code is None:
        return f"{rel(script, root)} --readme overran {README_BUDGET_S:.0f} s"
    if code != 0:
        return f"{rel(script, root)} --readme: {describe_exit(code, stderr)}"
    return None


def collect(problems: list[Problem], readme_of: list[Problem], root: Path = ROOT) -> list[str]:
    """Regenerate every generated block; returns the failures (empty when all went well).

    First each problem in ``readme_of`` rewrites its own README blocks from its records
    (``visualize_<mod>.py --readme``), then RESULTS.md, the README table and the glance
    blocks of those problems are written together.
    """
    failures = []
    for p in readme_of:
        why = visualize_readme(p)
        if why:
            failures.append(f"{p.slug} ({why})")
    written = write_generated(problems, root, readme_of)
    for path in written:
        print(f"run_all: rewrote {rel(path, root)}", flush=True)
    return failures


# ---------------------------------------------------------------------------------------
# CLI


def build_parser() -> CleanParser:
    """The command line of run_all.py."""
    parser = CleanParser(
        prog=PROG,
        description="Run every problem of the catalog, check its result record, and "
        "regenerate RESULTS.md, the README table and the problem READMEs' generated blocks.",
        allow_abbrev=False,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--smoke",
        action="store_true",
        help="run every problem's --smoke configuration; write no committed file",
    )
    mode.add_argument(
        "--collect",
        action="store_true",
        help="run no problem; regenerate every generated block from the committed records",
    )
    mode.add_argument(
        "--full",
        action="store_true",
        help="run FULL_ARGS of the problems that declare it into results/full.json only",
    )
    mode.add_argument(
        "--golden",
        action="store_true",
        help="rerun every GOLDEN_RUNS entry and rewrite those records in results/",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="SLUG",
        help="this problem only (repeatable; a problem folder's name, e.g. xor)",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show each problem's own output (its progress lines) while it runs; by "
        "default only run_all's summary lines are printed",
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="catalog root folder holding the problem folders (default: this repository)",
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="with --smoke: file to write the smoke table to (default: in the system temp dir)",
    )
    parser.add_argument(
        "--smoke-budget",
        type=float_in(0, 3600, lo_open=True),
        default=DEFAULT_SMOKE_BUDGET_S,
        help="with --smoke or --golden: seconds allowed per run (float, 0 < s <= 3600; default "
        f"{DEFAULT_SMOKE_BUDGET_S:g})",
    )
    parser.add_argument(
        "--smoke-total",
        type=float_in(0, 36000, lo_open=True),
        default=DEFAULT_SMOKE_TOTAL_S,
        help="with --smoke: seconds allowed for all smoke runs together (float, "
        f"0 < s <= 36000; default {DEFAULT_SMOKE_TOTAL_S:g})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run the selected mode, return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is not None:
        if not args.smoke:
            parser.error("--out goes with --smoke (the other modes write committed files)")
        why = check_output_path(args.out, "file")
        if why:
            parser.error(f"--out {why}")
    if args.progress and (args.collect or args.golden):
        parser.error("--progress goes with a run mode (default, --smoke or --full)")
    root = Path(args.root).resolve() if args.root else ROOT
    if not root.is_dir():
        parser.error(f"--root {args.root}: not a folder")
    try:
        problems = discover(root)
    except (ValueError, SyntaxError, OSError, UnicodeDecodeError) as exc:
        parser.error(str(exc))
    known = [p.slug for p in problems]
    for slug in args.only or []:
        if slug not in known:
            parser.error(f"--only {slug!r}: no such problem (known: {', '.join(known)})")
    selected = [p for p in problems if not args.only or p.slug in args.only]
    CHILDREN.subreaper = _set_subreaper()
    try:
        if args.collect:
            return do_collect(problems, selected, root)
        if args.golden:
            return do_golden(selected, args.smoke_budget)
        return do_runs(args, problems, selected, parser, root)
    finally:
        CHILDREN.end_all()


def do_collect(problems: list[Problem], selected: list[Problem], root: Path) -> int:
    try:
        failures = collect(problems, selected, root)
    except (RecordError, ValueError) as exc:
        print(f"{PROG}: error: {exc}; nothing rewritten", file=sys.stderr)
        return 1
    if failures:
        print(f"run_all: FAILED — {', '.join(failures)}")
        return 1
    print("run_all: every generated block matches the committed records")
    return 0


def do_golden(selected: list[Problem], budget_s: float) -> int:
    runs = [(p, name, args) for p in selected for name, args in p.golden_runs.items()]
    if not runs:
        print("run_all: no GOLDEN_RUNS declared in the selected problems")
        return 1
    failed = []
    with tempfile.TemporaryDirectory(prefix="run_all_golden_") as tmp:
        for i, (p, name, gargs) in enumerate(runs, 1):
            out = run_golden(p, name, gargs, Path(tmp), budget_s)
            tag = f"[{i}/{len(runs)}] {p.slug}/results/{name}"
            if out.ok:
                write_atomic(p.folder / "results" / name, dumps_record(out.record))
                print(f"{tag}: rewritten from `{out.command}` ({out.seconds:.1f} s)", flush=True)
            else:
                print(f"{tag}: FAILED — {out.reason}", flush=True)
                failed.append(f"{p.slug}/results/{name}")
    if failed:
        print(f"run_all: FAILED — {', '.join(failed)}")
        return 1
    print(f"run_all: {len(runs)} golden record(s) rewritten")
    return 0


def do_runs(args, problems: list[Problem], selected: list[Problem], parser, root: Path) -> int:
    if args.full:
        selected = [p for p in selected if p.full_args is not None]
    if not selected:
        parser.error("no problem to run" + (" (none declares FULL_ARGS)" if args.full else ""))
    commit, machine = git_commit(root), machine_description()
    kind = "smoke" if args.smoke else "full" if args.full else "headline"
    print(f"run_all: {kind} run of {len(selected)} problem(s) at {commit} on {machine}", flush=True)
    outcomes: list[Outcome] = []
    total_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="run_all_") as tmp:
        for i, p in enumerate(selected, 1):
            if args.smoke:
                budget, shown = args.smoke_budget, "--smoke"
            elif args.full:
                budget, shown = p.full_budget_s, " ".join(p.full_args or []) or "(defaults)"
            else:
                budget, shown = p.headline_budget_s, " ".join(p.headline_args) or "(defaults)"
            tag = f"[{i}/{len(selected)}] {p.slug}"
            print(f"{tag}: {shown} (budget {budget:.0f} s) ...", flush=True)
            out = run_problem(
                p,
                args.smoke,
                budget,
                Path(tmp) / f"{p.slug}.json",
                args.full,
                show_output=args.progress,
            )
            outcomes.append(out)
            if not out.ok:
                print(f"{tag}: FAILED — {out.reason}", flush=True)
                continue
            out.record["provenance"].update(commit=commit, machine=machine)
            h = out.record["headline"]
            print(
                f"{tag}: ok in {out.seconds:.1f} s — {h['name']} = "
                f"{fmt_value(h['value'], h.get('unit', ''))} "
                f"(reproduces: {out.record['reproduces']})",
                flush=True,
            )
            if not args.smoke:
                dest = p.full_path if args.full else p.record_path
                write_atomic(dest, dumps_record(out.record))
    total = time.perf_counter() - total_start
    failed = [o for o in outcomes if not o.ok]
    failures = [f"{o.problem.slug} ({o.reason})" for o in failed]

    if args.smoke:
        records = {o.problem.slug: o.record for o in outcomes}
        by_slug = {p.slug: p for p in problems}
        out_path = Path(args.out or Path(tempfile.gettempdir()) / "hinton-problems-smoke.md")
        text = results_markdown(records, by_slug).replace(
            RESULTS_INTRO, f"Smoke run (not the headline results) at {commit}; {total:.1f} s."
        )
        write_atomic(out_path, text)
        print(f"run_all: smoke table written to {out_path}")
    elif args.full:
        print("run_all: wrote results/full.json only; `run_all.py --collect` updates the docs")
    else:
        try:
            failures += collect(problems, [o.problem for o in outcomes if o.ok], root)
        except (RecordError, ValueError) as exc:
            failures.append(f"docs not regenerated ({exc})")

    print(f"run_all: {len(outcomes) - len(failed)}/{len(outcomes)} ok in {total:.1f} s")
    if args.smoke and not args.only and total > args.smoke_total:
        failures.append(f"smoke runs took {total:.1f} s, over {args.smoke_total:.0f} s")
    if failures:
        print(f"run_all: FAILED — {'; '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, PROG))
