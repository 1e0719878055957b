"""Where a sweep's results live: the output folder, checked first, and the fits saved as they end.

A sweep writes each finished fit's row to ``sweep_runs.csv`` at once, so that
an interrupted or crashed sweep loses no finished fit; ``sweep_config.json``
records what the sweep fits (data, grid, settings), so that a resumed sweep
redoes no finished fit and never mixes rows of two different sweeps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ._sweep import SweepInputError, SweepTable, task_key

__all__ = ["RESULT_FILES", "SweepStore", "table_fingerprint"]

#: the files a sweep writes into its folder; an earlier sweep's are never silently replaced
RESULT_FILES = (
    "sweep_config.json",
    "sweep_runs.csv",
    "sweep_summary.csv",
    "sweep_summary.md",
    "sweep_fronts.png",
)
RUNS_FILE = "sweep_runs.csv"
CONFIG_FILE = "sweep_config.json"


def table_fingerprint(table: SweepTable) -> str:
    """Return a hash of a sweep table's features, target and groups (its rows, in order)."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(table.X, index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, table.X.columns)).encode())
    # class targets as integers (as before regression sweeps), numeric ones in full
    digest.update((table.y if table.y.dtype.kind == "f" else table.y.astype("int64")).tobytes())
    digest.update("\x00".join(table.groups).encode())
    return digest.hexdigest()


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
        (:attr:`finished`) and add the others to them.

    Attributes
    ----------
    finished : pandas.DataFrame
        The rows of fits saved by an earlier run (empty unless ``resume``).

    Raises
    ------
    SweepInputError
        When ``out`` is a file or cannot be written, holds an earlier sweep's
        results and neither ``overwrite`` nor ``resume`` is set, or holds
        another sweep's results when ``resume`` is set.
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
            probe = self.out / ".sweep_write_check"
            probe.touch()
            probe.unlink()
        except OSError as error:
            raise SweepInputError(
                f"cannot write into --out {self.out}: {error.strerror or error}"
            ) from None
        earlier = [name for name in RESULT_FILES if (self.out / name).exists()]
        self.finished = pd.DataFrame()
        if earlier and resume:
            self.finished = self._earlier_fits(config)
        elif earlier and not overwrite:
            raise SweepInputError(
                f"--out {self.out} already holds a sweep's results ({', '.join(earlier)}): "
                "pass --resume to finish that sweep, --overwrite to replace them, or name "
                "another --out"
            )
        elif earlier:
            for name in earlier:
                (self.out / name).unlink()
        if self.finished.empty:
            (self.out / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
            self.runs_path.unlink(missing_ok=True)

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
        try:
            return pd.read_csv(self.runs_path)
        except (OSError, ValueError) as error:
            raise SweepInputError(f"--resume: cannot read {self.runs_path}: {error}") from None

    def add(self, row: Mapping[str, Any]) -> None:
        """Append one finished fit's row to ``sweep_runs.csv`` (a header first when new)."""
        header = not self.runs_path.exists() or self.runs_path.stat().st_size == 0
        text = pd.DataFrame([row]).to_csv(index=False, header=header)
        with self.runs_path.open("a", encoding="utf-8") as file:
            file.write(text)  # one write per row: an interrupt leaves whole rows only

    def runs(self, order: Iterable[tuple[str, float, int, int]]) -> pd.DataFrame:
        """Read every saved fit back, in the order of ``order``'s task keys."""
        runs = pd.read_csv(self.runs_path)
        position = {key: i for i, key in enumerate(order)}
        rank = [position[task_key(row)] for row in runs.to_dict("records")]
        return runs.iloc[sorted(range(len(rank)), key=rank.__getitem__)].reset_index(drop=True)
