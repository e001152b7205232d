"""The command-line and file contract shared by the scripts in tools/.

Problem folders carry their own copies (folders never import from tools/); the scripts
in tools/ import these from here:

- :class:`CleanParser`: argparse errors are one line ``<prog>: error: <message>``, exit 2.
- :func:`int_in` / :func:`float_in`: range-checking argument types that refuse
  non-numbers, NaN, inf and out-of-range values, and carry ``.kind`` / ``.lo`` / ``.hi``
  / ``.lo_open`` / ``.hi_open`` for the contract test.
- :func:`check_output_path`: checks an output file or folder before any work starts.
- :func:`write_atomic`: temporary file in the target's folder, write, flush, fsync,
  ``os.replace``; SIGINT / SIGTERM blocked meanwhile; the temporary file is removed on
  every failure path; an OSError becomes :class:`CannotWrite`.
- :func:`run_main`: SIGTERM raises :class:`Terminated`; Ctrl-C prints one line and exits
  130, SIGTERM 143, a failed write 74; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_CANNOT_WRITE = 74
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
TMP_PREFIX = ".tmp_"
BLOCKED = {signal.SIGINT, signal.SIGTERM}


class CleanParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line ``<prog>: error: <message>``, exit 2."""

    def error(self, message: str):  # argparse hook
        message = " ".join(str(message).split())
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")

    def _get_values(self, action, arg_strings):  # argparse hook
        # argparse drops a lone "--" given as an option's value ("--lr=--") and stores []
        # without calling the type; refuse it instead.
        if action.option_strings and arg_strings and set(arg_strings) == {"--"}:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, not '--'")
        return super()._get_values(action, arg_strings)


class Terminated(BaseException):
    """Raised by the SIGTERM handler so that ``finally`` blocks run."""


class CannotWrite(OSError):
    """A file could not be written; ``str()`` is ``cannot write <path>: <reason>``."""

    def __init__(self, path: os.PathLike | str, reason: str):
        super().__init__(f"cannot write {path}: {reason}")
        self.path = str(path)


def _number_type(kind: str, lo, hi, lo_open: bool, hi_open: bool):
    lo_sign = "<" if lo_open else "<="
    hi_sign = "<" if hi_open else "<="
    what = "an integer" if kind == "int" else "a finite number"
    span = f"{lo} {lo_sign} x {hi_sign} {hi}"

    def parse(text: str):
        try:
            value = int(text, 10) if kind == "int" else float(text)
        except (TypeError, ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} ({span})") from None
        if kind == "float" and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} ({span})")
        low_bad = value < lo or (lo_open and value == lo)
        high_bad = value > hi or (hi_open and value == hi)
        if low_bad or high_bad:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise argparse.ArgumentTypeError(f"{shown} is out of range ({span})")
        return value

    parse.kind, parse.lo, parse.hi = kind, lo, hi
    parse.lo_open, parse.hi_open = lo_open, hi_open
    parse.__name__ = f"{kind}_in"
    return parse


def int_in(lo: int, hi: int):
    """Argument type accepting decimal integers ``lo <= x <= hi``."""
    return _number_type("int", int(lo), int(hi), False, False)


def float_in(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    """Argument type accepting finite floats between ``lo`` and ``hi`` (open ends optional)."""
    return _number_type("float", lo, hi, lo_open, hi_open)


def check_output_path(path: os.PathLike | str, kind: str = "file") -> str | None:
    """Why ``path`` cannot be written, or None. Creates a missing parent (or the folder).

    kind: ``"file"`` (the target must not be a folder) or ``"dir"`` (an output folder).
    Probes by creating and deleting a temporary file in the folder that will hold it.
    """
    if not str(path).strip():
        return f"{str(path)!r}: empty path"
    p = Path(path).expanduser()
    try:
        name_max = os.pathconf(p.parent if p.parent.exists() else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if any(len(part.encode()) > name_max for part in p.parts):
        return f"{path}: file name too long"
    if kind == "file" and p.is_dir():
        return f"{path}: is a folder"
    if kind == "dir" and p.exists() and not p.is_dir():
        return f"{path}: not a folder"
    folder = p if kind == "dir" else p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return f"{path}: cannot write there ({exc.strerror or exc})"
    if kind == "file" and p.exists() and not os.access(p, os.W_OK):
        return f"{path}: not writable"
    return None


def write_atomic(path: os.PathLike | str, data: str | bytes | Callable) -> None:
    """Write ``data`` (text, bytes, or a callable taking a binary file) to ``path``.

    Raises CannotWrite (an OSError) naming the path; leaves no temporary file behind.
    """
    path = Path(path)
    tmp = None
    old = signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
    try:
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise CannotWrite(path, exc.strerror or str(exc)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_all_or_nothing(items: list[tuple[Path, str]]) -> None:
    """Replace several files so that either all take their new text or none does.

    Every new text goes to a temporary file first; only then are they renamed into
    place, with SIGINT / SIGTERM blocked. If a rename fails, the files already renamed
    get their old bytes back. Raises CannotWrite naming the file that failed.
    """
    old = {p: (p.read_bytes() if p.exists() else None) for p, _ in items}
    temps: list[tuple[str, Path]] = []
    renamed: list[Path] = []
    current = items[0][0] if items else Path(".")
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
    try:
        for p, text in items:
            current = p
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=p.parent)
            temps.append((tmp, p))
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
        for tmp, p in temps:
            current = p
            os.replace(tmp, p)
            renamed.append(p)
    except OSError as exc:
        for p in renamed:
            try:
                if old[p] is None:
                    p.unlink()
                else:
                    p.write_bytes(old[p])
            except OSError:
                pass
        raise CannotWrite(current, exc.strerror or str(exc)) from None
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def check_finite(obj, where: str = "record") -> None:
    """Raise ValueError naming the first non-finite float inside ``obj``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"{where} is {obj}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_finite(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_finite(v, f"{where}[{i}]")


def dumps_record(record: dict) -> str:
    """Strict JSON text of a record (ValueError if any float is non-finite)."""
    check_finite(record)
    return json.dumps(record, allow_nan=False, indent=1) + "\n"


def loads_strict(text: str):
    """Parse JSON, refusing NaN / Infinity (ValueError)."""

    def refuse(name):
        raise ValueError(f"non-finite number {name}")

    return json.loads(text, parse_constant=refuse)


def _raise_terminated(signum, frame):
    raise Terminated()


def run_main(main: Callable[[], int], prog: str) -> int:
    """Call ``main()`` with SIGTERM turned into Terminated; map interrupts to exit codes.

    SIGINT raises KeyboardInterrupt even when the script was started with SIGINT ignored
    (as a shell does for background jobs), so Ctrl-C and ``kill -INT`` always work.
    """
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return main()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except CannotWrite as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_WRITE
    except BrokenPipeError:
        return 1
