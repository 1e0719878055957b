"""Provenance headers for the results files in ``benchmarks/results/``.

Every results file starts with a few ``# key: value`` lines that say how to regenerate it: the
exact command, the date, fairmine's version and git commit, torch's version and threads, and the
machine. :func:`write_results` writes them above a table; :func:`recording` tees what a script
prints into a results file under the same header; :func:`strip_header` gives the table back.

Run as a script, it records what any command prints (a ``fairmine reproduce`` table, say)::

    python benchmarks/_provenance.py benchmarks/results/reproduce_german.txt -- \
        fairmine reproduce german

A results file that the README or the docs include must come from a clean commit: the script
refuses to record from a working tree with uncommitted changes (``--allow-uncommitted`` records
anyway, for a file no page includes), the benchmarks warn when they start from one, and
``tests/test_results_tables.py`` fails on an included file whose header says so.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import io
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

HEADER_PREFIX = "# "
ROOT = Path(__file__).resolve().parents[1]


def script_command() -> str:
    """The command line that started this Python process, as a shell would read it."""
    return shlex.join(["python", *sys.argv])


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def provenance_lines(command: str | None = None) -> list[str]:
    """The header lines of a results file measured by this process.

    Computed once per process and command, at the first call: call it when the run starts
    (:func:`recording` does), so that the date and commit are those the run began with.

    Parameters
    ----------
    command : str or None, default=None
        The command that produced the results; None takes this process's command line.

    Returns
    -------
    list of str
        ``# key: value`` lines.
    """
    # one cache key per command, whether it is given or taken from the command line: a run
    # that called ``provenance_lines()`` as it started gets that header back at its end
    return _provenance_lines(command or script_command())


UNCOMMITTED = "with uncommitted changes"


def uncommitted() -> bool:
    """Whether tracked files of the checkout differ from its commit."""
    return bool(_git("status", "--porcelain", "--untracked-files=no"))


@functools.cache
def _provenance_lines(command: str) -> list[str]:
    # imported here, not at the top: speed.py's subprocesses measure their own imports
    from fairmine.experiments._sweep_report import environment

    found = environment()
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if uncommitted():
        commit += f" {UNCOMMITTED}"
        print(
            "warning: the working tree has uncommitted changes, which the results file's "
            "header will say; the README and the docs include only files recorded at a clean "
            "commit (tests/test_results_tables.py)",
            file=sys.stderr,
        )
    fields = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "fairmine": f"{found['fairmine']}, git {commit}",
        "torch": f"{found['torch']}, {found['torch threads']} thread(s) in the main process",
        "python": found["python"],
        "cpu": found["cpu"],
        "gpu": found["gpu"],
    }
    return [f"{HEADER_PREFIX}{key}: {value}" for key, value in fields.items()]


def write_results(path: str | os.PathLike, text: str, command: str | None = None) -> Path:
    """Write ``text`` to ``path`` under a provenance header.

    Parameters
    ----------
    path : path-like
        The results file.
    text : str
        The table (and any notes) the benchmark printed.
    command : str or None, default=None
        The command that produced it; None takes this process's command line.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*provenance_lines(command), "", text.rstrip("\n"), ""]))
    return path


class _Tee(io.TextIOBase):
    def __init__(self, *streams: io.TextIOBase) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextlib.contextmanager
def recording(path: str | os.PathLike | None) -> Iterator[None]:
    """Print as usual and, with a path, also write what was printed there under a header.

    Parameters
    ----------
    path : path-like or None
        The results file; None only prints.
    """
    if path is None:
        yield
        return
    provenance_lines()  # the header of the run as it starts
    captured = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, captured)):
        yield
    write_results(path, captured.getvalue())


def strip_header(text: str) -> str:
    """The body of a results file: its text without the leading provenance lines.

    Parameters
    ----------
    text : str
        A results file's text.

    Returns
    -------
    str
        The text after the ``# ...`` header and the blank line below it.
    """
    lines = text.splitlines()
    start = 0
    while start < len(lines) and lines[start].startswith(HEADER_PREFIX):
        start += 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    return "\n".join(lines[start:])


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command and write its standard output, under a header, to a results file."""
    argv = list(sys.argv[1:] if argv is None else argv)
    allow = argv[:1] == ["--allow-uncommitted"]
    argv = argv[allow:]
    if len(argv) < 3 or argv[1] != "--":
        print(
            "usage: python benchmarks/_provenance.py [--allow-uncommitted] OUT -- COMMAND ...",
            file=sys.stderr,
        )
        return 2
    out, command = argv[0], argv[2:]
    if uncommitted() and not allow:
        print(
            f"refused: the working tree has uncommitted changes, so {out} could not be "
            "included in the README or the docs; commit first (or pass --allow-uncommitted "
            "for a file no page includes)",
            file=sys.stderr,
        )
        return 2
    provenance_lines(shlex.join(command))  # the header of the run as it starts
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    sys.stdout.write(result.stdout)
    if result.returncode == 0:
        write_results(out, result.stdout, command=shlex.join(command))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
