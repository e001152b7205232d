#!/usr/bin/env python3
"""Run every problem in the catalog and collate the result records.

Each problem folder ``<slug>/`` holds ``<mod>.py`` (``mod`` = slug with ``-`` -> ``_``),
which declares two module-level constants read here with :mod:`ast` (never imported):

    HEADLINE_ARGS = ["--sweep", "100"]   # extra CLI arguments of the headline run
    HEADLINE_BUDGET_S = 120              # wall-time budget of that run, in seconds

and may declare a long configuration, run only on request:

    FULL_ARGS = ["--preset", "full"]     # extra CLI arguments of the full run
    FULL_BUDGET_S = 7200                 # its wall-time budget, in seconds

Modes
-----
default      run each problem's headline configuration in its own process with
             ``--json``, store the record as ``<slug>/results/headline.json``, then
             rewrite RESULTS.md and the problems table in README.md (both atomically).
--smoke      run each problem's ``--smoke`` configuration; check and time everything,
             write the table to ``--out`` (default: a temporary file), never touch
             RESULTS.md, README.md or any committed record.
--collect    run nothing; rebuild RESULTS.md and the README table from the committed
             ``<slug>/results/headline.json`` records.
--full       run the FULL_ARGS configuration of each problem that declares one, store
             the record as ``<slug>/results/full.json``; the tables are not touched.

Exits 0 when every selected problem ran inside its budget and wrote a valid record,
1 naming the problems that failed or overran, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import ast
import json
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

ROOT = Path(__file__).resolve().parent.parent

#: Catalog order (by decade, then year); problems not listed here follow alphabetically.
CATALOG_ORDER = [
    "encoder-4-2-4",
    "xor",
    "spline-images-factorial-vq",
    "bars-rbm",
    "ff-hybrid-mnist",
]
RECORD_KEYS = ("stub", "paper", "seed", "headline", "metrics", "reproduces", "wall_time_s")
HEADLINE_KEYS = ("name", "value", "unit", "paper_value", "better")
CONSTANTS = ("HEADLINE_ARGS", "HEADLINE_BUDGET_S", "FULL_ARGS", "FULL_BUDGET_S")
README_START = "<!-- problems:start -->"
README_END = "<!-- problems:end -->"
DEFAULT_SMOKE_BUDGET_S = 60.0
DEFAULT_SMOKE_TOTAL_S = 300.0


class CleanArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass
class Problem:
    """One problem folder and the headline settings its module declares."""

    slug: str
    folder: Path
    script: Path
    headline_args: list[str] = field(default_factory=list)
    headline_budget_s: float = 600.0
    full_args: list[str] | None = None
    full_budget_s: float = 7200.0

    @property
    def mod(self) -> str:
        return self.slug.replace("-", "_")

    @property
    def record_path(self) -> Path:
        return self.folder / "results" / "headline.json"


def read_constants(script: Path) -> dict:
    """Return the literal module-level constants HEADLINE_ARGS / HEADLINE_BUDGET_S (and
    the optional FULL_ARGS / FULL_BUDGET_S; FULL_ARGS is None when absent).

    Parses ``script`` with :mod:`ast`; nothing is executed. Raises ValueError when a
    constant is present but not a literal of the right type.
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
    args = found.get("HEADLINE_ARGS", [])
    if not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
        raise ValueError(f"{script}: HEADLINE_ARGS must be a list of strings")
    budget = found.get("HEADLINE_BUDGET_S", 600)
    if not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"{script}: HEADLINE_BUDGET_S must be a positive number")
    full = found.get("FULL_ARGS")
    if full is not None and not (isinstance(full, list) and all(isinstance(a, str) for a in full)):
        raise ValueError(f"{script}: FULL_ARGS must be a list of strings")
    full_budget = found.get("FULL_BUDGET_S", 7200)
    if not (isinstance(full_budget, (int, float)) and full_budget > 0):
        raise ValueError(f"{script}: FULL_BUDGET_S must be a positive number")
    return {
        "HEADLINE_ARGS": args,
        "HEADLINE_BUDGET_S": float(budget),
        "FULL_ARGS": full,
        "FULL_BUDGET_S": float(full_budget),
    }


def discover(root: Path = ROOT) -> list[Problem]:
    """Find problem folders: top-level folders holding ``<mod>.py``, in catalog order."""
    problems = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith((".", "_")):
            continue
        script = folder / f"{folder.name.replace('-', '_')}.py"
        if script.is_file():
            consts = read_constants(script)
            problems.append(
                Problem(
                    folder.name,
                    folder,
                    script,
                    consts["HEADLINE_ARGS"],
                    consts["HEADLINE_BUDGET_S"],
                    consts["FULL_ARGS"],
                    consts["FULL_BUDGET_S"],
                )
            )

    def key(p: Problem):
        if p.slug in CATALOG_ORDER:
            return (0, CATALOG_ORDER.index(p.slug), p.slug)
        return (1, 0, p.slug)

    return sorted(problems, key=key)


def validate_record(record: object) -> str | None:
    """Return None if ``record`` follows the STUB_SPEC result-record shape, else why not."""
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
    if not isinstance(headline["value"], (int, float)) or isinstance(headline["value"], bool):
        return "headline.value is not a number"
    if record["reproduces"] not in ("yes", "partial", "no"):
        return f"reproduces is {record['reproduces']!r}, not yes/partial/no"
    if headline["better"] not in ("lower", "higher"):
        return f"headline.better is {headline['better']!r}, not lower/higher"
    return None


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
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Outcome:
    """What happened when one problem ran."""

    problem: Problem
    ok: bool
    seconds: float
    record: dict | None = None
    reason: str = ""


def run_problem(
    problem: Problem, smoke: bool, budget_s: float, json_path: Path, full: bool = False
) -> Outcome:
    """Run one problem in its own process (own session, killed whole on overrun).

    smoke: its --smoke configuration; full: its FULL_ARGS; otherwise HEADLINE_ARGS.
    """
    if smoke:
        extra = ["--smoke"]
    elif full:
        extra = list(problem.full_args or [])
    else:
        extra = list(problem.headline_args)
    root = problem.folder.parent
    cmd = [sys.executable, str(problem.script.relative_to(root)), *extra, "--json", str(json_path)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=budget_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        seconds = time.perf_counter() - start
        return Outcome(problem, False, seconds, reason=f"overran its {budget_s:.0f} s budget")
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (stderr or "").strip().splitlines()[-1:] or ["(no stderr)"]
        return Outcome(problem, False, seconds, reason=f"exit {proc.returncode}: {tail[0]}")
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return Outcome(problem, False, seconds, reason=f"no readable record ({exc})")
    why = validate_record(record)
    if why:
        return Outcome(problem, False, seconds, record, reason=f"invalid record: {why}")
    record["provenance"] = {
        "command": " ".join(["python3", *cmd[1:-2]]),
        "commit": "",
        "machine": "",
        "run_all_seconds": round(seconds, 2),
    }
    return Outcome(problem, True, seconds, record)


# ---------------------------------------------------------------------------------------
# Tables


def fmt_number(x: object) -> str:
    """Format a record value for a table: ints as is, floats to 4 significant digits."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.3g}"
        return f"{x:.4g}"
    return str(x)


def fmt_value(x: object, unit: str) -> str:
    text = fmt_number(x)
    return text if x is None or not unit else f"{text} {unit}"


def paper_year(paper: str) -> str:
    """The first four-digit year in a citation string, or ``""``."""
    match = re.search(r"\b(1[89]\d\d|20\d\d)\b", paper)
    return match.group(1) if match else ""


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def results_markdown(records: dict[str, dict | None], note: str) -> str:
    """The RESULTS.md text for ``records`` (slug -> record or None), deterministic."""
    lines = [
        "# Results",
        "",
        note,
        "",
        "| problem | paper | claim | paper value | our value | reproduces? | seeds "
        "| wall time | machine | commit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for slug, rec in records.items():
        link = f"[{slug}]({slug}/README.md)"
        if rec is None:
            lines.append(f"| {link} | | not run yet | | | | | | | |")
            continue
        h = rec["headline"]
        prov = rec.get("provenance", {})
        unit = h.get("unit", "")
        claim = h.get("claim") or h["name"]
        lines.append(
            "| "
            + " | ".join(
                cell(c)
                for c in (
                    link,
                    rec["paper"],
                    claim,
                    fmt_value(h["paper_value"], unit),
                    f"{h['name']}: {fmt_value(h['value'], unit)}",
                    rec["reproduces"],
                    rec.get("n_seeds", 1),
                    f"{rec['wall_time_s']:.1f} s",
                    prov.get("machine") or "—",
                    f"`{prov['commit']}`" if prov.get("commit") else "—",
                )
            )
            + " |"
        )
    lines.append("")
    return "\n".join(lines)


def readme_table(records: dict[str, dict | None]) -> str:
    """The problems table for README.md, built from the same records as RESULTS.md."""
    lines = [
        "| problem | paper | year | what it shows | headline (ours / paper) | reproduces? "
        "| animation |",
        "|---|---|---|---|---|---|---|",
    ]
    for slug, rec in records.items():
        link = f"[{slug}]({slug}/README.md)"
        gif = f"[GIF]({slug}/{slug.replace('-', '_')}.gif)"
        if rec is None:
            lines.append(f"| {link} | | | not run yet | | | {gif} |")
            continue
        h = rec["headline"]
        unit = h.get("unit", "")
        ours = f"{h['name']}: {fmt_value(h['value'], unit)} / {fmt_value(h['paper_value'], unit)}"
        lines.append(
            "| "
            + " | ".join(
                cell(c)
                for c in (
                    link,
                    rec["paper"],
                    paper_year(rec["paper"]),
                    h.get("claim") or h["name"],
                    ours,
                    rec["reproduces"],
                    gif,
                )
            )
            + " |"
        )
    return "\n".join(lines)


def replace_block(text: str, start: str, end: str, body: str) -> str:
    """Replace what lies between the ``start`` and ``end`` marker lines with ``body``.

    Raises ValueError when the markers are missing or out of order.
    """
    i, j = text.find(start), text.find(end)
    if i < 0 or j < 0 or j < i:
        raise ValueError(f"markers {start} ... {end} not found in order")
    return text[: i + len(start)] + "\n" + body + "\n" + text[j:]


def load_records(problems: list[Problem]) -> dict[str, dict | None]:
    """slug -> committed headline record (None when absent). Raises ValueError if invalid."""
    records: dict[str, dict | None] = {}
    for p in problems:
        if not p.record_path.is_file():
            records[p.slug] = None
            continue
        rec = json.loads(p.record_path.read_text(encoding="utf-8"))
        why = validate_record(rec)
        if why:
            raise ValueError(f"{p.slug}/results/headline.json: {why}")
        records[p.slug] = rec
    return records


RESULTS_NOTE = (
    "Generated by `python3 tools/run_all.py` from each problem's "
    "`results/headline.json`; do not edit by hand. Each row is one headline run "
    "(the command is in the record's `provenance`); wall time is the problem's own "
    "measurement of its run."
)


def write_tables(problems: list[Problem], root: Path = ROOT) -> None:
    """Rewrite RESULTS.md and README.md's problems table from the committed records."""
    records = load_records(problems)
    write_atomic(root / "RESULTS.md", results_markdown(records, RESULTS_NOTE))
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    write_atomic(readme, replace_block(text, README_START, README_END, readme_table(records)))


# ---------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    parser = CleanArgumentParser(
        prog="run_all.py", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="run every --smoke configuration")
    mode.add_argument(
        "--collect", action="store_true", help="rebuild the tables from committed records only"
    )
    mode.add_argument(
        "--full",
        action="store_true",
        help="run the long FULL_ARGS configuration of the problems that declare one",
    )
    parser.add_argument("--only", action="append", metavar="SLUG", help="run this problem only")
    parser.add_argument(
        "--out", type=Path, help="with --smoke: where to write the table (default: a temp file)"
    )
    parser.add_argument(
        "--smoke-budget", type=float, default=DEFAULT_SMOKE_BUDGET_S, help="seconds per problem"
    )
    parser.add_argument(
        "--smoke-total",
        type=float,
        default=DEFAULT_SMOKE_TOTAL_S,
        help="seconds for all smoke runs together",
    )
    args = parser.parse_args(argv)
    if args.out is not None and not args.smoke:
        parser.error("--out goes with --smoke (the headline run writes RESULTS.md)")
    if args.smoke_budget <= 0 or args.smoke_total <= 0:
        parser.error("budgets must be positive")

    try:
        problems = discover()
    except (ValueError, SyntaxError) as exc:
        parser.exit(2, f"run_all.py: error: {exc}\n")
    if args.only:
        known = {p.slug for p in problems}
        unknown = [s for s in args.only if s not in known]
        if unknown:
            parser.error(f"unknown problem {unknown[0]!r} (known: {', '.join(sorted(known))})")
        selected = [p for p in problems if p.slug in args.only]
    else:
        selected = problems
    if args.collect:
        try:
            write_tables(problems)
        except (ValueError, json.JSONDecodeError) as exc:
            parser.exit(1, f"run_all.py: error: {exc}\n")
        print("rewrote RESULTS.md and the README problems table from committed records")
        return 0

    if args.full:
        selected = [p for p in selected if p.full_args is not None]
    if not selected:
        parser.error("no problem folders found" + (" with FULL_ARGS" if args.full else ""))
    commit, machine = git_commit(), machine_description()
    kind = "smoke" if args.smoke else "full" if args.full else "headline"
    print(f"run_all: {kind} run of {len(selected)} problem(s) at {commit} on {machine}")
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
            print(
                f"[{i}/{len(selected)}] {p.slug}: {shown} (budget {budget:.0f} s) ...", flush=True
            )
            out = run_problem(p, args.smoke, budget, Path(tmp) / f"{p.slug}.json", args.full)
            if out.ok:
                out.record["provenance"].update(commit=commit, machine=machine)
                h = out.record["headline"]
                print(
                    f"[{i}/{len(selected)}] {p.slug}: ok in {out.seconds:.1f} s — {h['name']} = "
                    f"{fmt_value(h['value'], h.get('unit', ''))} (reproduces: "
                    f"{out.record['reproduces']})",
                    flush=True,
                )
                if not args.smoke:
                    dest = p.folder / "results" / "full.json" if args.full else p.record_path
                    write_atomic(dest, json.dumps(out.record, indent=2) + "\n")
            else:
                print(f"[{i}/{len(selected)}] {p.slug}: FAILED — {out.reason}", flush=True)
            outcomes.append(out)
    total = time.perf_counter() - total_start

    failed = [o for o in outcomes if not o.ok]
    if args.smoke:
        records = {o.problem.slug: o.record if o.ok else None for o in outcomes}
        note = f"Smoke run (not the headline results) at {commit}; {total:.1f} s in total."
        out_path = args.out or Path(tempfile.gettempdir()) / "hinton-problems-smoke.md"
        write_atomic(out_path, results_markdown(records, note))
        print(f"run_all: smoke table written to {out_path}")
    elif not args.full:
        write_tables(problems)
        print("run_all: rewrote RESULTS.md and the README problems table")

    print(f"run_all: {len(outcomes) - len(failed)}/{len(outcomes)} ok in {total:.1f} s")
    if args.smoke and not args.only and total > args.smoke_total:
        print(f"run_all: FAILED — smoke runs took {total:.1f} s, over {args.smoke_total:.0f} s")
        return 1
    if failed:
        names = ", ".join(f"{o.problem.slug} ({o.reason})" for o in failed)
        print(f"run_all: FAILED — {names}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
