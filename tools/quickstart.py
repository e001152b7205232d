#!/usr/bin/env python3
"""Run the README's quickstart commands, in order, on a clean clone in a fresh venv.

The commands are read from README.md between ``<!-- quickstart:start -->`` and
``<!-- quickstart:end -->`` (the lines of the fenced block there, without comments), so
what is checked is what a reader copies. A ``git clone URL [DIR] && cd DIR`` line is
replaced by a local clone of this repository's committed HEAD (uncommitted changes are
not part of a clean clone). Every other command runs with ``bash -c`` in the clone,
with a new virtual environment's ``bin`` first on PATH, so ``python3`` and ``pip`` are
the fresh environment's. Each command must exit 0.

Exit codes: 0 every command exited 0; 1 a command failed or overran; 2 bad arguments or
no commands found; 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli import CleanParser, check_output_path, float_in, run_main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROG = "quickstart.py"
START, END = "<!-- quickstart:start -->", "<!-- quickstart:end -->"
CLONE = re.compile(r"^git\s+clone\s+[^&]+&&\s*cd\s+(\S+)\s*$")


class QuickstartError(ValueError):
    """The README has no usable quickstart block."""


def extract_commands(readme_text: str) -> list[str]:
    """The shell commands of the quickstart block, in order.

    Comment lines and blank lines are dropped; a line ending in a backslash continues on
    the next. Raises QuickstartError when the markers or the fenced block are missing.
    """
    i, j = readme_text.find(START), readme_text.find(END)
    if i < 0 or j < 0 or j < i:
        raise QuickstartError(f"README.md has no {START} ... {END} block")
    block = readme_text[i + len(START) : j]
    fence = re.search(r"^```[^\n]*\n(.*?)^```", block, flags=re.S | re.M)
    if not fence:
        raise QuickstartError("the quickstart block holds no fenced code block")
    commands: list[str] = []
    pending = ""
    for raw in fence.group(1).splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        commands.append(pending + line)
        pending = ""
    if pending:
        commands.append(pending.strip())
    if not commands:
        raise QuickstartError("the quickstart block holds no command")
    return commands


def clone_target(command: str) -> str | None:
    """The folder a ``git clone ... && cd DIR`` line enters, or None for other lines."""
    m = CLONE.match(command)
    return m.group(1) if m else None


def build_parser() -> CleanParser:
    """The command line of quickstart.py."""
    parser = CleanParser(
        prog=PROG,
        description="Run the README's quickstart commands in order on a clean clone, in a "
        "fresh virtual environment; each must exit 0.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="repository to clone and read README.md from (default: this repository)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the commands that would run, and exit",
    )
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="folder to clone into and keep afterwards (default: a temporary folder, removed)",
    )
    parser.add_argument(
        "--timeout-s",
        type=float_in(0, 7200, lo_open=True),
        default=1800.0,
        help="seconds allowed per command (float, 0 < s <= 7200; default 1800)",
    )
    return parser


def start(cmd, cwd: Path, env: dict, shell: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, start_new_session=True, shell=shell
    )


def finish(proc: subprocess.Popen, timeout: float) -> int | None:
    """Wait for ``proc`` up to ``timeout`` s; end its whole group however it ends."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_quickstart(commands: list[str], work: Path, timeout: float, root: Path = ROOT) -> list[str]:
    """Run ``commands`` as described in the module docstring; the failures (or [])."""
    venv = work / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    print(f"quickstart: fresh virtual environment {venv}", flush=True)
    code = finish(start([sys.executable, "-m", "venv", str(venv)], work, env), timeout)
    if code != 0:
        return [f"python3 -m venv {venv}: exit {code}"]
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        MPLBACKEND="Agg",
    )
    cwd = work
    failures = []
    for n, command in enumerate(commands, 1):
        target = clone_target(command)
        t0 = time.perf_counter()
        if target is not None:
            dest = work / target
            shown = f"git clone {root} {dest} (for: {command})"
            print(f"quickstart [{n}/{len(commands)}]: {shown}", flush=True)
            proc = start(["git", "clone", "-q", "--no-hardlinks", str(root), str(dest)], work, env)
            code = finish(proc, timeout)
            if code == 0:
                cwd = dest
        else:
            if cwd == work:  # no clone line: run in a clone all the same
                dest = work / root.name
                code = finish(start(["git", "clone", "-q", str(root), str(dest)], work, env), 600)
                if code != 0:
                    return [f"git clone {root}: exit {code}"]
                cwd = dest
            print(f"quickstart [{n}/{len(commands)}]: {command}", flush=True)
            code = finish(start(["bash", "-c", command], cwd, env), timeout)
        took = time.perf_counter() - t0
        if code == 0:
            print(f"quickstart [{n}/{len(commands)}]: ok in {took:.0f} s", flush=True)
            continue
        why = f"overran {timeout:.0f} s" if code is None else f"exit {code}"
        failures.append(f"`{command}` ({why} after {took:.0f} s)")
        print(f"quickstart [{n}/{len(commands)}]: FAILED — {why}", flush=True)
        break  # later commands depend on earlier ones
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workdir is not None:
        why = check_output_path(args.workdir, "dir")
        if why:
            parser.error(f"--workdir {why}")
        if any(Path(args.workdir).iterdir()):
            parser.error(f"--workdir {args.workdir}: not empty")
    root = Path(args.root).resolve() if args.root else ROOT
    if not (root / ".git").exists():
        parser.error(f"--root {args.root}: not a git repository")
    try:
        commands = extract_commands((root / "README.md").read_text(encoding="utf-8"))
    except (OSError, QuickstartError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for c in commands:
            print(c)
        return 0
    work = Path(args.workdir or tempfile.mkdtemp(prefix="quickstart_")).resolve()
    try:
        failures = run_quickstart(commands, work, args.timeout_s, root)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"quickstart: FAILED — {'; '.join(failures)}")
        return 1
    print(f"quickstart: all {len(commands)} commands exited 0")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, PROG))
