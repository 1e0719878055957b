"""Where a sweep's results live: the output folder, checked first, and the fits saved as they end.

A sweep writes each finished fit's row to ``sweep_runs.csv`` at once, so that
an interrupted or crashed sweep loses no finished fit; ``sweep_config.json``
records what the sweep fits (data, grid, settings), so that a resumed sweep
redoes no finished fit and never mixes rows of two different sweeps. One
process at a time writes into the folder: a sweep holds a lock on it
(``.fairmine-sweep.lock``) from its first check to its last file, and a second
sweep on the same folder is refused. A row that a killed writer left
unfinished at the end of ``sweep_runs.csv`` is dropped when the sweep
resumes, and its fit made again.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ._output import append_atomically, write_atomically
from ._sweep import SweepInputError, SweepTable, task_key

__all__ = ["LOCK_FILE", "RESULT_FILES", "SweepStore", "table_fingerprint"]

#: the files a sweep writes into its folder; none that is there already is silently replaced
RESULT_FILES = (
    "sweep_config.json",
    "sweep_runs.csv",
    "sweep_summary.csv",
    "sweep_summary.md",
    "sweep_fronts.png",
    "report.html",
)
RUNS_FILE = "sweep_runs.csv"
CONFIG_FILE = "sweep_config.json"
#: held by the sweep that writes into the folder; removed when it ends
LOCK_FILE = ".fairmine-sweep.lock"


def table_fingerprint(table: SweepTable) -> str:
    """Return a hash of a sweep table's features, target and groups (its rows, in order)."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(table.X, index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, table.X.columns)).encode())
    # class targets as integers (as before regression sweeps), numeric ones in full
    digest.update((table.y if table.y.dtype.kind == "f" else table.y.astype("int64")).tobytes())
    digest.update("\x00".join(table.groups).encode())
    return digest.hexdigest()


def _try_lock(descriptor: int) -> bool:
    """Take an exclusive lock on an open file without waiting; the system frees it at exit."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _FolderLock:
    """The lock that makes a sweep the folder's only writer.

    Held as an OS lock on ``LOCK_FILE``, which the system releases when the
    process ends however it ends (Ctrl-C, a kill, a crash), so a lock file left
    behind by a dead sweep stops no one.
    """

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_FILE
        for _ in range(10):  # another sweep may remove the file between our open and lock
            try:
                self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise SweepInputError(
                    f"cannot write into --out {out}: {error.strerror or error}"
                ) from None
            if not _try_lock(self.descriptor):
                os.lseek(self.descriptor, 0, os.SEEK_SET)
                holder = os.read(self.descriptor, 300).decode("utf-8", "replace").strip()
                os.close(self.descriptor)
                raise SweepInputError(
                    f"--out {out} is being written by another fairmine sweep "
                    f"({holder or 'a process that holds ' + str(self.path)}): a folder takes one "
                    "sweep at a time; wait for that one to end (then --resume finishes it if it "
                    "was interrupted), or name another --out"
                )
            if self._still_named():
                break
            os.close(self.descriptor)
        else:
            raise SweepInputError(f"--out {out}: cannot take the lock {self.path}")
        started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        stamp = f"process {os.getpid()} on {socket.gethostname()}, since {started}\n"
        os.ftruncate(self.descriptor, 0)
        os.lseek(self.descriptor, 0, os.SEEK_SET)
        os.write(self.descriptor, stamp.encode("utf-8"))

    def _still_named(self) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(self.descriptor).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Remove the lock file and release the lock (removed first: no one locks a stale file)."""
        if self.descriptor < 0:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.descriptor)
        self.descriptor = -1


class SweepStore:
    """The output folder of one sweep: checked before the first fit, appended to after each.

    Parameters
    ----------
    out : str or path
        The folder (made when missing).
    config : dict
        What the sweep fits, JSON-serialisable; a resumed sweep must match it.
    overwrite : bool, default=False
        Delete an earlier sweep's result files in ``out`` first.
    resume : bool, default=False
        Keep the fits an earlier run of the same sweep saved in ``out``
        (`finished`) and add the others to them.

    Attributes
    ----------
    finished : pandas.DataFrame
        The rows of fits saved by an earlier run (empty unless ``resume``).
    torn_row : bool
        Whether ``sweep_runs.csv`` ended in an unfinished row (a writer killed
        mid-row), which was dropped: its fit is not among `finished`.

    Raises
    ------
    SweepInputError
        When ``out`` is a file or cannot be written, is being written by
        another sweep, holds files a sweep writes and neither ``overwrite`` nor
        ``resume`` is set, or holds another sweep's results when ``resume`` is
        set.

    Notes
    -----
    The store holds the folder's lock from its creation until `close`
    (or the end of the process).
    """

    def __init__(
        self,
        out: str | Path,
        config: dict[str, Any],
        *,
        overwrite: bool = False,
        resume: bool = False,
    ) -> None:
        if overwrite and resume:
            raise SweepInputError("--overwrite and --resume exclude each other: choose one")
        config = json.loads(json.dumps(config))  # as it reads back: tuples become lists
        self.out = Path(out)
        self.runs_path = self.out / RUNS_FILE
        if self.out.exists() and not self.out.is_dir():
            raise SweepInputError(f"--out {self.out} is a file, not a folder: name a folder")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SweepInputError(
                f"cannot write into --out {self.out}: {error.strerror or error}"
            ) from None
        self._lock = _FolderLock(self.out)  # before any file of the folder is read or changed
        try:
            self._prepare(config, overwrite=overwrite, resume=resume)
        except BaseException:
            self.close()
            raise

    def _prepare(self, config: dict[str, Any], *, overwrite: bool, resume: bool) -> None:
        earlier = [name for name in RESULT_FILES if (self.out / name).exists()]
        self.finished = pd.DataFrame()
        self.torn_row = False
        if earlier and resume:
            self.finished = self._earlier_fits(config)
        elif earlier and not overwrite:
            raise SweepInputError(
                f"--out {self.out} already holds files that a sweep writes "
                f"({', '.join(earlier)}), an earlier sweep's results or files of your own: pass "
                "--resume to finish that sweep, --overwrite to replace them, or name another "
                "--out"
            )
        elif earlier:
            for name in earlier:
                (self.out / name).unlink()
        if self.finished.empty:
            write_atomically(self.out / CONFIG_FILE, json.dumps(config, indent=1))
            self.runs_path.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the folder for another sweep (at the end of this one)."""
        self._lock.release()

    def _earlier_fits(self, config: dict[str, Any]) -> pd.DataFrame:
        path = self.out / CONFIG_FILE
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SweepInputError(
                f"--resume: {path} is missing or unreadable, so the results in {self.out} "
                "cannot be matched to this sweep; pass --overwrite to start again"
            ) from None
        changed = sorted(k for k in config.keys() | saved.keys() if config.get(k) != saved.get(k))
        if changed:
            raise SweepInputError(
                f"--resume: the results in {self.out} come from another sweep (it differs in "
                f"{', '.join(changed)}); rerun with the same arguments, or pass --overwrite"
            )
        if not self.runs_path.exists():
            return pd.DataFrame()
        self.torn_row = self._drop_torn_row()
        try:
            runs = pd.read_csv(self.runs_path) if self.runs_path.stat().st_size else None
        except (OSError, ValueError) as error:
            raise SweepInputError(
                f"--resume: cannot read {self.runs_path}: {str(error).strip()}; pass "
                "--overwrite to start the sweep again"
            ) from None
        if runs is None or runs.empty:
            return pd.DataFrame()
        # the last column is empty in a row cut short (pandas fills the missing cells with NaN)
        if "degenerate" not in runs or runs["degenerate"].isna().any():
            raise SweepInputError(
                f"--resume: {self.runs_path} holds incomplete rows, which no sweep of this "
                "version writes; pass --overwrite to start the sweep again"
            )
        return runs

    def _drop_torn_row(self) -> bool:
        """Cut an unfinished last row (no line end: its writer was killed); say whether."""
        with self.runs_path.open("r+b") as file:
            data = file.read()
            if not data or data.endswith(b"\n"):
                return False
            file.truncate(data.rfind(b"\n") + 1)  # the header alone, or nothing, may remain
        return True

    def add(self, row: Mapping[str, Any]) -> None:
        """Append one finished fit's row to ``sweep_runs.csv`` (a header first when new).

        The row is written whole or not at all (`append_atomically`): a
        full disk raises `SweepWriteError`
        and leaves the rows before it as they were.
        """
        header = not self.runs_path.exists() or self.runs_path.stat().st_size == 0
        append_atomically(self.runs_path, pd.DataFrame([row]).to_csv(index=False, header=header))

    def runs(self, order: Iterable[tuple[str, float, int, int]]) -> pd.DataFrame:
        """Read every saved fit back, in the order of ``order``'s task keys."""
        runs = pd.read_csv(self.runs_path)
        position = {key: i for i, key in enumerate(order)}
        rank = [position[task_key(row)] for row in runs.to_dict("records")]
        return runs.iloc[sorted(range(len(rank)), key=rank.__getitem__)].reset_index(drop=True)
