"""Fairness-accuracy sweeps: mi_weight x criterion x seeds over cross-validation folds.

Every fit of a sweep is one joblib task, run through scikit-learn's
``Parallel`` on whatever joblib backend is active (loky by default, Dask or
Ray inside ``joblib.parallel_config(backend=...)``). A task's result depends
only on its own settings, seed and fold, never on which worker ran it or in
which order, so that a sweep resumed from its saved fits
(`SweepStore`) ends with the table
an uninterrupted one gives.
"""

from __future__ import annotations

import io
import json
import textwrap
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from fairlearn.metrics import count as group_size
from sklearn.metrics import (
    balanced_accuracy_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.parallel import Parallel, delayed

from .._classifier import MIUnbiasedClassifier
from .._degenerate import check_constant
from .._devices import torch_threads
from .._regressor import MIUnbiasedRegressor
from ..datasets import load_adult, load_communities, load_german
from ..exceptions import FairmineWarning, SmallGroupWarning
from ..metrics import (
    group_mae_gap,
    mean_prediction_gap,
    prediction_ks_distance,
    worst_group_mae,
)
from ..mi import CRITERIA
from ..model_selection import pareto_front
from ._encoding import tabular_preprocessor
from ._german import fairness_scores
from ._mi_figures import mi_figures
from ._output import write_atomically

__all__ = [
    "BUNDLED_TABLES",
    "TASKS",
    "SweepGrid",
    "SweepInputError",
    "SweepTable",
    "SweepTask",
    "check_folds",
    "degenerate_erm_note",
    "load_sweep_table",
    "run_sweep",
    "summarise_sweep",
    "write_sweep",
]

#: the fairness disparities of a sweep, by column (fairlearn's metrics)
DISPARITIES = {
    "eo": "equal-opportunity difference",
    "eodds": "equalized-odds difference",
    "dp": "demographic-parity difference",
}
#: the task scores of a sweep (higher is better); ``--metric`` picks the front's from them
SCORES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC AUC",
}
#: an attribute with more distinct values than this is refused (bin it first)
MAX_GROUPS = 20
#: ``--task auto`` takes a numeric target with more distinct values than this for regression
MAX_CLASS_VALUES = 20
#: numbers beyond this size overflow when a column is scaled (its variance exceeds float64)
MAX_MAGNITUDE = 1e150


class SweepInputError(ValueError):
    """A sweep's input table or column choice cannot be used; the message says why."""


@dataclass(frozen=True)
class SweepTable:
    """A table ready to sweep: features, 0/1 target and the attribute's groups.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns (before encoding).
    y : ndarray of int
        1 for the positive class, 0 for the other.
    groups : ndarray of str
        The attribute's value of each row, as text.
    description : str
        Where the table came from and which columns play which part.
    task : {"classification", "regression"}, default="classification"
        The kind of target (a key of `TASKS`); a regression table's
        ``y`` holds the numeric target as float64.
    notes : tuple of str, default=()
        What the reading changed that the user should hear of, such as rows
        dropped for a missing target; ``fairmine sweep`` prints each as a
        warning and its report shows them.
    sensitive : str, default="group"
        The attribute's column name, which the report uses to name its groups.
    """

    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    description: str
    task: str = "classification"
    notes: tuple[str, ...] = ()
    sensitive: str = "group"

    def group_name(self, group: str) -> str:
        """How the report names a group: a boolean attribute's by the attribute's name.

        Examples
        --------
        >>> import numpy as np
        >>> from fairmine.experiments import SweepTable
        >>> groups = np.array(["False", "True"])
        >>> table = SweepTable(None, np.zeros(2), groups, "", sensitive="young")
        >>> table.group_name("True"), table.group_name("False")
        ('young', 'not young')
        """
        if set(np.unique(self.groups)) == {"False", "True"}:
            return self.sensitive if group == "True" else f"not {self.sensitive}"
        return group


def _communities_frame() -> pd.DataFrame:
    """Communities and Crime with its binary attribute (black share above median) as a column."""
    data = load_communities()
    frame = data.frame.copy()  # one block: a column added to the loader's frame would warn
    frame["black_share_above_median"] = data.sensitive_features.to_numpy()
    return frame


BUNDLED_TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str, str, tuple[str, ...]]] = {
    # the paper's attribute: age < 25 (age itself stays a feature, as in the paper)
    "german": (lambda: load_german().frame.assign(young=lambda f: f["age"] < 25), "credit",
               "young", ()),
    "adult": (lambda: load_adult(subset="all").frame, "income", "sex", ("fnlwgt",)),
    # a numeric target (regression); the share itself stays a feature, as in the benchmark
    "communities": (_communities_frame, "ViolentCrimesPerPop", "black_share_above_median", ()),
}  # fmt: skip
"""The tables ``fairmine sweep`` takes by name: name -> (loader of the frame, target column,
attribute column, columns dropped by default)."""


@dataclass(frozen=True)
class SweepGrid:
    """What a sweep fits: ERM once, then every criterion at every positive weight.

    Parameters
    ----------
    mi_weights : tuple of float, default=(1.0, 3.0, 10.0)
        The positive values of lambda (``mi_weight``); ERM (0) is always fitted.
    criteria : tuple of str, default=all three
        ``MIUnbiasedClassifier(criterion=...)`` values.
    seeds : tuple of int, default=(0, 1)
        ``random_state`` values of the models (weights, shuffling, critic).
    folds : int, default=3
        Stratified folds; each is the test part once.
    repeats : int, default=1
        Repetitions of the K-fold split, each shuffled anew.
    split_seed : int, default=0
        Seed of the folds (``RepeatedStratifiedKFold(random_state=...)``).
    estimator_params : dict, default={}
        Further ``MIUnbiasedClassifier`` parameters, such as ``max_epochs``.
    """

    mi_weights: tuple[float, ...] = (1.0, 3.0, 10.0)
    criteria: tuple[str, ...] = CRITERIA
    seeds: tuple[int, ...] = (0, 1)
    folds: int = 3
    repeats: int = 1
    split_seed: int = 0
    estimator_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.criteria) - set(CRITERIA))
        if unknown:
            raise SweepInputError(f"criteria must be among {CRITERIA}, got {unknown}")
        weights = np.asarray(self.mi_weights, dtype=float)
        if not len(weights) or not (np.isfinite(weights) & (weights > 0)).all():
            raise SweepInputError(
                f"mi_weights (--weights) must be positive finite numbers, got "
                f"{', '.join(f'{w:g}' for w in weights) or 'none'}"
            )
        if not self.seeds or self.folds < 2 or self.repeats < 1:
            raise SweepInputError(
                "a sweep needs at least one seed, 2 folds (--folds) and 1 repeat, got "
                f"{len(self.seeds)} seeds, {self.folds} folds, {self.repeats} repeats"
            )

    def settings(self) -> list[tuple[str, float]]:
        """``(criterion, mi_weight)`` of each setting, ERM first (criterion ``"ERM"``)."""
        return [("ERM", 0.0)] + [(c, w) for c in self.criteria for w in self.mi_weights]

    def tasks(self) -> list[tuple[str, float, int, int]]:
        """``(criterion, mi_weight, seed, fold)`` of every fit, in grid order."""
        n_folds = self.folds * self.repeats
        return [
            (criterion, float(weight), seed, fold)
            for criterion, weight in self.settings()
            for seed in self.seeds
            for fold in range(n_folds)
        ]

    def splits(self, y: np.ndarray, stratified: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return the (train, test) row indices of every fold, stratified by ``y`` or not."""
        splitter = (RepeatedStratifiedKFold if stratified else RepeatedKFold)(
            n_splits=self.folds, n_repeats=self.repeats, random_state=self.split_seed
        )
        return list(splitter.split(np.zeros(len(y)), y))


def check_folds(table: SweepTable, grid: SweepGrid) -> None:
    """Refuse more folds than the rarer class has rows (a stratified split needs one per fold).

    Raises
    ------
    SweepInputError
        Naming ``--folds`` and the largest number that works.
    """
    if not TASKS[table.task].stratified:
        if grid.folds > len(table.y):
            raise SweepInputError(
                f"--folds {grid.folds} is more than the table's {len(table.y)} rows"
            )
        return
    rarer = int(np.bincount(table.y, minlength=2).min())
    if grid.folds > rarer:
        raise SweepInputError(
            f"--folds {grid.folds} is more than the {rarer} rows of the rarer class: every "
            f"stratified fold needs one; use --folds {max(2, min(rarer, 10))} or fewer"
        )


def load_sweep_table(
    source: str | Path,
    *,
    target: str | None = None,
    sensitive: str | None = None,
    drop: Sequence[str] = (),
    keep_sensitive: bool = False,
    pos_label: str | None = None,
    rows: int | None = None,
    sample_seed: int = 0,
    task: str = "auto",
) -> SweepTable:
    """Read a CSV or Parquet file, or a bundled data set by name, for a sweep.

    Parameters
    ----------
    source : str or path
        A ``.csv`` (or any other text table pandas reads with ``read_csv``),
        ``.parquet`` or ``.pq`` file; or ``"german"``, ``"adult"`` or
        ``"communities"`` for the bundled data (then ``target`` and
        ``sensitive`` default to ``credit``/``young`` (age < 25),
        ``income``/``sex`` and ``ViolentCrimesPerPop``/
        ``black_share_above_median`` (a regression target)).
    target : str or None
        The column to predict: two classes, or a numeric target (see ``task``).
    sensitive : str or None
        The attribute's column (at most ``MAX_GROUPS`` distinct values, no
        missing ones). It is left out of the features unless
        ``keep_sensitive``.
    drop : sequence of str, default=()
        Further columns left out of the features (identifiers, leaks).
    keep_sensitive : bool, default=False
        Keep the attribute among the features.
    pos_label : str or None, default=None
        The positive class (compared as text); None takes the greater one.
    rows : int or None, default=None
        Keep a random sample of this many rows (seeded by ``sample_seed``).
    sample_seed : int, default=0
        Seed of that sample.
    task : {"auto", "classification", "regression"}, default="auto"
        What the target is. ``"auto"`` takes a numeric column with more than
        ``MAX_CLASS_VALUES`` (20) distinct values for a regression target and
        any other column for two classes.

    Returns
    -------
    SweepTable

    Raises
    ------
    SweepInputError
        When the file cannot be read, a column is missing, the target does not
        hold two classes (classification) or numbers (regression), or the
        attribute a usable set of groups.
    """
    if task not in ("auto", *TASKS):
        raise SweepInputError(f"task (--task) must be auto, {' or '.join(TASKS)}, got {task!r}")
    name = str(source)
    if name in BUNDLED_TABLES:
        loader, default_target, default_sensitive, default_drop = BUNDLED_TABLES[name]
        frame = loader()
        target = target or default_target
        sensitive = sensitive or default_sensitive
        drop = (*default_drop, *drop)
    else:
        frame = _read_table(Path(source))
    if target is None or sensitive is None:
        raise SweepInputError(f"{name} is not a bundled data set: name --target and --sensitive")
    missing = [c for c in (target, sensitive, *drop) if c not in frame.columns]
    if missing:
        raise SweepInputError(
            f"{name} has no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(str, frame.columns))}"
        )
    if target == sensitive:
        raise SweepInputError(f"the target and the sensitive column are both {target!r}")
    missing = frame[target].isna().to_numpy()
    frame = frame[~missing]
    if rows is not None and rows < len(frame):
        frame = frame.sample(n=rows, random_state=sample_seed).sort_index()
    if task == "auto":
        task = "regression" if _many_numbers(frame[target]) else "classification"
    if task == "regression":
        if pos_label is not None:
            raise SweepInputError("--pos-label names a class: a numeric target has none")
        y, target_text = _numeric_target(frame[target], target)
    else:
        y = _binary_target(frame[target], target, pos_label)
        target_text = f"positive: {_positive_name(frame[target], pos_label)}, rate {y.mean():.3f}"
    groups = _groups(frame[sensitive], sensitive)
    dropped = {target, *drop} | (set() if keep_sensitive else {sensitive})
    X = frame.drop(columns=[c for c in frame.columns if c in dropped])
    if X.shape[1] == 0:
        raise SweepInputError("no feature columns are left after dropping the target and others")
    _check_numbers(X)
    dropped = int(missing.sum())
    notes: tuple[str, ...] = ()
    if dropped:  # scikit-learn refuses a missing target; a sweep drops the rows and says so
        notes = (
            f"{dropped} of the {len(missing)} rows of {name} have no value in the target column "
            f"{target!r} and were dropped (the first is data row "
            f"{int(np.flatnonzero(missing)[0]) + 1}); fill in or remove them to silence this",
        )
    description = (
        f"{name}: {len(X)} rows"
        f"{f' ({dropped} more without a target value, dropped)' if dropped else ''}, "
        f"{X.shape[1]} feature columns, target {target!r} "
        f"({target_text}), attribute {sensitive!r} ({len(np.unique(groups))} groups"
        f"{', also a feature' if keep_sensitive else ', not a feature'})"
    )
    return SweepTable(
        X=X.reset_index(drop=True), y=y, groups=groups, description=description, task=task,
        notes=notes, sensitive=sensitive,
    )  # fmt: skip


def _many_numbers(column: pd.Series) -> bool:
    """Tell a numeric target (more than ``MAX_CLASS_VALUES`` distinct numbers) from classes."""
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return numeric and column.nunique() > MAX_CLASS_VALUES


def _numeric_target(column: pd.Series, name: str) -> tuple[np.ndarray, str]:
    """Return a regression target as float64, and its description."""
    if column.empty:
        raise SweepInputError(f"the target column {name!r} has no values")
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any():
        bad = column[values.isna()].astype(str).unique()[:3]
        raise SweepInputError(
            f"--task regression needs a numeric target, but {name!r} holds text such as "
            f"{', '.join(map(repr, bad))}"
        )
    y = values.to_numpy(np.float64)
    if not np.isfinite(y).all() or np.ptp(y) == 0:
        raise SweepInputError(
            f"the target column {name!r} must hold finite numbers that vary, for regression"
        )
    if np.abs(y).max() > MAX_MAGNITUDE:
        raise SweepInputError(
            f"the target column {name!r} holds values beyond {MAX_MAGNITUDE:g}, whose squared "
            "errors (MSE) overflow; rescale it first (divide it by a power of ten)"
        )
    return y, f"numeric, mean {y.mean():.3g}, std {y.std():.3g}: regression"


def _check_numbers(X: pd.DataFrame) -> None:
    """Refuse numeric columns holding infinities or numbers too large to scale."""
    numbers = X.select_dtypes("number")
    for name in numbers.columns:
        values = numbers[name].to_numpy(dtype=float, na_value=np.nan)
        infinite, huge = np.isinf(values), np.abs(values) > MAX_MAGNITUDE
        if infinite.any() or huge.any():
            bad = infinite | huge
            what = "infinite values" if infinite.any() else f"values beyond {MAX_MAGNITUDE:g}"
            raise SweepInputError(
                f"the column {name!r} holds {what} ({int(bad.sum())} rows, the first is data row "
                f"{int(np.flatnonzero(bad)[0]) + 1}), which cannot be scaled; fix them, drop "
                "the rows, or leave the column out with --drop"
            )


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except ImportError as error:
        raise SweepInputError(f"cannot read {path}: {error}") from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        # FileNotFoundError, IsADirectoryError, pandas' parser and empty-file errors, Arrow's
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise SweepInputError(f"cannot read {path}: {reason}") from None


def _positive_name(column: pd.Series, pos_label: str | None) -> str:
    classes = sorted(column.astype(str).unique())
    return pos_label if pos_label is not None else classes[-1]


def _binary_target(column: pd.Series, name: str, pos_label: str | None) -> np.ndarray:
    if column.empty:
        raise SweepInputError(f"the target column {name!r} has no values")
    classes = sorted(column.astype(str).unique())
    if len(classes) != 2:
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        hint = "; for a numeric target use --task regression" if _many_numbers(column) else ""
        raise SweepInputError(
            f"the target column {name!r} must hold two classes (the fairness metrics compare "
            f"true-positive rates), it holds {len(classes)}: {shown}{hint}"
        )
    positive = _positive_name(column, pos_label)
    if positive not in classes:
        raise SweepInputError(f"--pos-label {positive!r} is not a class of {name!r}: {classes}")
    return (column.astype(str) == positive).to_numpy(dtype=np.int64)


def _groups(column: pd.Series, name: str) -> np.ndarray:
    if column.isna().any():
        raise SweepInputError(
            f"the sensitive column {name!r} has {int(column.isna().sum())} missing values; "
            "fill or drop those rows first"
        )
    groups = column.astype(str).to_numpy()
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise SweepInputError(
            f"the sensitive column {name!r} holds a single value ({groups[0]!r}): there is "
            "nothing to be fair about"
        )
    if n_groups > MAX_GROUPS:
        raise SweepInputError(
            f"the sensitive column {name!r} holds {n_groups} distinct values (at most "
            f"{MAX_GROUPS}); bin it first, for example age into 'under 25' and '25 or over'"
        )
    return groups


def run_sweep(
    table: SweepTable,
    grid: SweepGrid,
    *,
    n_jobs: int | None = None,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
    finished: pd.DataFrame | None = None,
    record: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Fit and score every setting, seed and fold of ``grid`` on the active joblib backend.

    Parameters
    ----------
    table : SweepTable
        The data ([`load_sweep_table`][fairmine.experiments.load_sweep_table]).
    grid : SweepGrid
        The settings, seeds and folds.
    n_jobs : int or None, default=None
        Tasks at a time (joblib's ``n_jobs``; None: the active
        ``joblib.parallel_config``'s, 1 outside one; -1: all workers).
    threads : int or None, default=None
        Torch threads per fit; None keeps each worker's own count (loky,
        Dask and Ray start workers with their share of the cores).
    progress : callable or None, default=None
        Called with one line of text per finished fit.
    finished : pandas.DataFrame or None, default=None
        Rows of fits made before (an interrupted sweep's): their tasks are
        not run again, and the rows are part of the result.
    record : callable or None, default=None
        Called with each fit's row as soon as it finishes (to save it).

    Returns
    -------
    pandas.DataFrame
        One row per (setting, seed, fold): ``criterion``, ``mi_weight``,
        ``seed``, ``fold``, ``accuracy``, ``balanced_accuracy``, ``roc_auc``,
        ``eo``, ``eodds``, ``dp``, ``train_mi``, ``audit_mi`` (a fresh critic
        on the test fold's ``z``, under the setting's criterion),
        ``fit_seconds``, ``group_metrics`` (JSON: each group's figures on the
        test fold, `SweepTask.group_metrics`) and ``degenerate`` (the fit is no better than a
        constant on its training fold, the rule of
        [`DegenerateModelWarning`][fairmine.exceptions.DegenerateModelWarning]), in grid
        order. A disparity is NaN on a fold where some group of the
        attribute has no test rows (DP), no positive ones (EO, EOdds) or no
        negative ones (EOdds).
    """
    check_folds(table, grid)
    task = TASKS[table.task]
    folds = grid.splits(table.y, task.stratified)
    done_rows = [] if finished is None else finished.to_dict("records")
    done = {task_key(row) for row in done_rows}
    all_tasks = grid.tasks()
    tasks = [task for task in all_tasks if task not in done]
    jobs = (
        delayed(_fit_and_score)(
            table, *folds[fold], criterion, weight, seed, fold, grid.estimator_params, threads
        )
        for criterion, weight, seed, fold in tasks
    )
    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    except ValueError:  # Ray's joblib backend returns whole lists only: progress comes at the end
        parallel = Parallel(n_jobs=n_jobs)
    rows = list(done_rows)
    for count, row in enumerate(parallel(jobs) if tasks else (), len(done_rows) + 1):
        rows.append(row)
        if record is not None:
            record(row)
        if progress is not None:
            figures = "  ".join(f"{label} {row[name]:.3f}" for label, name in task.progress)
            progress(
                f"[{count}/{len(all_tasks)}] {_setting_name(row['criterion'], row['mi_weight'])} "
                f"seed {row['seed']} fold {row['fold']}: {figures}  "
                f"({row['fit_seconds']:.1f} s)"
            )
    order = {task: i for i, task in enumerate(all_tasks)}
    rows.sort(key=lambda r: order[task_key(r)])
    return pd.DataFrame(rows)


def task_key(row: Mapping[str, Any]) -> tuple[str, float, int, int]:
    """Return a fit's identity in a sweep: ``(criterion, mi_weight, seed, fold)``."""
    return str(row["criterion"]), float(row["mi_weight"]), int(row["seed"]), int(row["fold"])


def fit_setting(
    table: SweepTable,
    train: np.ndarray,
    test: np.ndarray,
    criterion: str,
    mi_weight: float,
    seed: int,
    estimator_params: dict[str, Any],
) -> tuple[MIUnbiasedClassifier | MIUnbiasedRegressor, Any, Any]:
    """Encode on the training fold and fit one setting; return the model and the encoded X.

    The model is the table's task's estimator (`TASKS`).
    """
    prep = tabular_preprocessor().fit(table.X.iloc[train])
    model = TASKS[table.task].estimator(
        mi_weight=mi_weight,
        criterion="demographic_parity" if criterion == "ERM" else criterion,
        random_state=seed,
        **estimator_params,
    )
    X_train, X_test = prep.transform(table.X.iloc[train]), prep.transform(table.X.iloc[test])
    model.fit(X_train, table.y[train], sensitive_features=table.groups[train])
    return model, X_train, X_test


def _fit_and_score(
    table: SweepTable,
    train: np.ndarray,
    test: np.ndarray,
    criterion: str,
    mi_weight: float,
    seed: int,
    fold: int,
    estimator_params: dict[str, Any],
    threads: int | None,
) -> dict[str, Any]:
    """One task: encode on the training fold, fit, score on the test fold."""
    task = TASKS[table.task]
    with torch_threads(threads), warnings.catch_warnings():
        # the table counts degenerate fits itself: a warning per fit would only be noise
        warnings.simplefilter("ignore", FairmineWarning)
        start = time.perf_counter()
        model, X_train, X_test = fit_setting(
            table, train, test, criterion, mi_weight, seed, estimator_params
        )
        seconds = time.perf_counter() - start
        y_test, c_test = table.y[test], table.groups[test]
        scores = task.measure(model, X_test, y_test, c_test, np.unique(table.groups))
        scores.update(mi_figures(model, X_test, y_test, c_test))
        by_group = group_figures(task, y_test, model.predict(X_test), c_test)
        degenerate = task.degenerate(model, X_train, table.y[train], estimator_params)
    return {
        "criterion": criterion,
        "mi_weight": mi_weight,
        "seed": seed,
        "fold": fold,
        **{name: scores[name] for name in (*task.measured, "train_mi", "audit_mi")},
        "fit_seconds": seconds,
        "group_metrics": by_group,
        "degenerate": degenerate,  # last: a row cut short lacks it (SweepStore)
    }


def group_figures(
    task: SweepTask, y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray
) -> str:
    """Each group's figures (``task.group_metrics``) on one test fold, as JSON.

    Returns
    -------
    str
        ``{"group": {"figure": value, ...}, ...}``, the groups in sorted order.

    Examples
    --------
    >>> import numpy as np
    >>> from fairmine.experiments._sweep import TASKS, group_figures
    >>> y = np.array([1, 0, 1, 1])
    >>> group_figures(TASKS["classification"], y, y, np.array(["a", "a", "b", "b"]))[:67]
    '{"a": {"selection rate": 0.5, "TPR": 1.0, "FPR": 0.0, "count": 2.0}'
    """
    with warnings.catch_warnings():  # a group without negatives has no FPR: NaN, said so below
        warnings.simplefilter("ignore")
        frame = MetricFrame(
            metrics=task.group_metrics, y_true=y_true, y_pred=y_pred,
            sensitive_features=pd.Series(groups, name="group"),
        )  # fmt: skip
    by_group = frame.by_group.astype(float)
    return json.dumps(
        {
            str(group): {name: (None if np.isnan(v) else float(v)) for name, v in row.items()}
            for group, row in by_group.iterrows()
        }
    )


def _classification_scores(
    model: Any, X_test: Any, y_test: np.ndarray, c_test: np.ndarray, every_group: np.ndarray
) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC AUC and fairlearn's disparities on a test fold."""
    predicted = model.predict(X_test)
    scores = fairness_scores(y_test, predicted, c_test)
    scores["balanced_accuracy"] = float(balanced_accuracy_score(y_test, predicted))
    scores["roc_auc"] = float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
    for metric in _unmeasurable(y_test, c_test, every_group):
        scores[metric] = np.nan
    return scores


def _classification_degenerate(
    model: Any, X_train: Any, y_train: np.ndarray, estimator_params: dict[str, Any]
) -> bool:
    """No better than a constant class on the training fold (the classifier's own rule)."""
    # under class weights, "no better than a constant" is judged with the weights the fit
    # used (the estimator's own rule): a balanced fit trades accuracy for the rare class
    class_weight = estimator_params.get("class_weight")
    weight = None if class_weight is None else compute_sample_weight(class_weight, y_train)
    return bool(check_constant(y_train, model.predict(X_train), weight).degenerate)


#: the regression disparities of a sweep, by column: ``fairmine.metrics``' functions
REGRESSION_DISPARITIES = {
    "mean_prediction_gap": mean_prediction_gap,
    "prediction_ks_distance": prediction_ks_distance,
    "group_mae_gap": group_mae_gap,
    "worst_group_mae": worst_group_mae,
}


def _regression_scores(
    model: Any, X_test: Any, y_test: np.ndarray, c_test: np.ndarray, every_group: np.ndarray
) -> dict[str, float]:
    """R², MSE and the regression disparities on a test fold (NaN when a group is absent)."""
    predicted = model.predict(X_test)
    scores = {"r2": float(r2_score(y_test, predicted)),
              "mse": float(mean_squared_error(y_test, predicted))}  # fmt: skip
    measurable = np.isin(every_group, c_test).all()
    for name, disparity in REGRESSION_DISPARITIES.items():
        value = disparity(y_test, predicted, sensitive_features=c_test) if measurable else np.nan
        scores[name] = float(value)
    return scores


def _regression_degenerate(
    model: Any, X_train: Any, y_train: np.ndarray, estimator_params: dict[str, Any]
) -> bool:
    """No better than predicting the training mean: R² on the training fold at most 0."""
    return bool(r2_score(y_train, model.predict(X_train)) <= 0)


@dataclass(frozen=True)
class SweepTask:
    """What a sweep fits and measures for one kind of target (an entry of `TASKS`).

    Parameters
    ----------
    estimator : type
        The fairmine estimator fitted at every setting.
    criteria : tuple of str
        The criteria it takes; a sweep skips the others.
    scores : dict of str to str
        The figures a front may maximise (``--metric``), by column, with their
        names; the first is the default.
    disparities : dict of str to str
        The figures a front may minimise, by column, with their names; the
        first is the default.
    figures : dict of str to str
        Every figure of the summary, by column, with its Markdown heading, in
        table order (``audit_mi`` last).
    progress : tuple of (str, str)
        ``(label, column)`` of the figures each fit's progress line shows.
    stratified : bool
        Whether the folds are stratified by the target.
    measure : callable
        ``measure(model, X_test, y_test, c_test, every_group)``: the scores and
        disparities of one fit on its test fold.
    degenerate : callable
        ``degenerate(model, X_train, y_train, estimator_params)``: whether the
        fit is no better than a constant on its training fold.
    group_title : str
        What the per-group figures are called in the report.
    group_metrics : dict of str to callable
        The per-group figures of each fit, fairlearn ``MetricFrame`` metrics
        by name (``count`` last).
    """

    estimator: type
    criteria: tuple[str, ...]
    scores: dict[str, str]
    disparities: dict[str, str]
    figures: dict[str, str]
    progress: tuple[tuple[str, str], ...]
    stratified: bool
    measure: Callable[..., dict[str, float]]
    degenerate: Callable[..., bool]
    group_title: str
    group_metrics: dict[str, Callable[..., float]]

    @property
    def measured(self) -> tuple[str, ...]:
        """The columns `measure` returns, in table order (all figures but the MI)."""
        return tuple(name for name in self.figures if name != "audit_mi")


def _mean_prediction(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(y_pred))


#: the task-specific definitions of a sweep, by ``SweepTable.task``
TASKS = {
    "classification": SweepTask(
        estimator=MIUnbiasedClassifier,
        criteria=CRITERIA,
        scores=SCORES,
        disparities=DISPARITIES,
        figures={
            "accuracy": "accuracy",
            "balanced_accuracy": "balanced acc.",
            "roc_auc": "ROC AUC",
            "eo": "EO",
            "eodds": "EOdds",
            "dp": "DP",
            "audit_mi": "audit MI (nats)",
        },
        progress=(("accuracy", "accuracy"), ("EO", "eo"), ("DP", "dp")),
        stratified=True,
        measure=_classification_scores,
        degenerate=_classification_degenerate,
        group_title="rates",
        group_metrics={
            "selection rate": selection_rate,
            "TPR": true_positive_rate,
            "FPR": false_positive_rate,
            "count": group_size,
        },
    ),
    "regression": SweepTask(
        estimator=MIUnbiasedRegressor,
        criteria=("demographic_parity", "equalized_odds"),
        scores={"r2": "R²"},
        disparities={
            "mean_prediction_gap": "gap in mean prediction",
            "prediction_ks_distance": "KS distance of the predictions",
            "group_mae_gap": "gap in group MAE",
            "worst_group_mae": "worst group's MAE",
        },
        figures={
            "r2": "R²",
            "mse": "MSE",
            "mean_prediction_gap": "mean gap",
            "prediction_ks_distance": "KS",
            "group_mae_gap": "MAE gap",
            "worst_group_mae": "worst MAE",
            "audit_mi": "audit MI (nats)",
        },
        progress=(("R2", "r2"), ("gap", "mean_prediction_gap"), ("KS", "prediction_ks_distance")),
        stratified=False,
        measure=_regression_scores,
        degenerate=_regression_degenerate,
        group_title="mean prediction and MAE",
        group_metrics={
            "mean prediction": _mean_prediction,
            "MAE": mean_absolute_error,
            "count": group_size,
        },
    ),
}


def task_of(frame: pd.DataFrame) -> SweepTask:
    """Return the task whose figures a sweep's runs or summary hold (by their columns)."""
    for task in TASKS.values():
        if next(iter(task.scores)) in frame.columns:
            return task
    raise ValueError(f"the frame holds no sweep's scores; its columns: {list(frame.columns)}")


def _unmeasurable(y: np.ndarray, groups: np.ndarray, every_group: np.ndarray) -> list[str]:
    """List the disparities a test fold cannot measure (a group lacks rows of a class)."""
    present = [groups[y == label] for label in (1, 0)]
    missing_rows = not np.isin(every_group, groups).all()
    missing_positive = not np.isin(every_group, present[0]).all()
    missing_negative = not np.isin(every_group, present[1]).all()
    return [
        metric
        for metric, unmeasured in (
            ("eo", missing_rows or missing_positive),
            ("eodds", missing_rows or missing_positive or missing_negative),
            ("dp", missing_rows),
        )
        if unmeasured
    ]


def _setting_name(criterion: str, mi_weight: float) -> str:
    return "ERM" if criterion == "ERM" else f"{criterion} w={mi_weight:g}"


def summarise_sweep(
    runs: pd.DataFrame, metric: str | None = None, score: str | None = None
) -> pd.DataFrame:
    """Mean and standard deviation of each figure per setting, and the score-fairness front.

    Parameters
    ----------
    runs : pandas.DataFrame
        Output of [`run_sweep`][fairmine.experiments.run_sweep].
    metric : str or None, default=None
        The disparity that decides the front: ``"eo"`` (the default),
        ``"eodds"`` or ``"dp"`` for classification runs;
        ``"mean_prediction_gap"`` (the default), ``"prediction_ks_distance"``,
        ``"group_mae_gap"`` or ``"worst_group_mae"`` for regression runs.
    score : str or None, default=None
        The task score that decides the front: ``"accuracy"`` (the default),
        ``"balanced_accuracy"`` or ``"roc_auc"``; ``"r2"`` for regression.

    Returns
    -------
    pandas.DataFrame
        One row per setting (grid order): ``setting``, ``criterion``,
        ``mi_weight``, ``<figure>`` and ``<figure>_std`` (ddof 0) for
        accuracy, balanced accuracy, ROC AUC, EO, EOdds, DP and the audited
        MI (over the fits that measured it; for regression R², MSE, the four
        regression disparities and the MI), ``fit_seconds`` (median),
        ``fits``, ``degenerate`` (fits no better than a constant on their
        training fold: a constant class, or for regression R² at most 0) and
        ``front``: the setting is not degenerate (fewer
        than half of its fits are) and no other such setting has a higher
        ``score`` and a lower ``metric``.

    Warns
    -----
    SmallGroupWarning
        When a group of the attribute was too small on some test fold to
        measure a disparity (those fits' values are NaN and left out).

    Examples
    --------
    >>> import pandas as pd
    >>> from fairmine.experiments import summarise_sweep
    >>> runs = pd.DataFrame({"criterion": ["ERM", "ERM", "demographic_parity"],
    ...     "mi_weight": [0.0, 0.0, 3.0], "accuracy": [0.8, 0.7, 0.74], "eo": [0.2, 0.1, 0.05],
    ...     "balanced_accuracy": 0.7, "roc_auc": 0.8, "eodds": 0.1, "dp": 0.1, "audit_mi": 0.0,
    ...     "fit_seconds": 1.0, "degenerate": False})
    >>> summarise_sweep(runs)[["setting", "accuracy", "eo", "front"]]
                      setting  accuracy    eo  front
    0                     ERM      0.75  0.15   True
    1  demographic_parity w=3      0.74  0.05   True
    """
    task = task_of(runs)
    metric = next(iter(task.disparities)) if metric is None else metric
    score = next(iter(task.scores)) if score is None else score
    if metric not in task.disparities:
        raise ValueError(f"metric must be one of {list(task.disparities)}, got {metric!r}")
    if score not in task.scores:
        raise ValueError(f"score must be one of {list(task.scores)}, got {score!r}")
    unmeasured = runs[list(task.disparities)].isna()
    if unmeasured.to_numpy().any():
        names = task.figures
        counts = ", ".join(f"{names[k]} {int(n)}" for k, n in unmeasured.sum().items() if n)
        lacking = (
            "no test rows, no positive or no negative ones" if task.stratified else "no test rows"
        )
        warnings.warn(
            f"a group of the attribute had {lacking} on "
            f"some folds, so a disparity could not be measured there (unmeasured of the "
            f"{len(runs)} fits: {counts}; NaN, left out of the means). Use fewer --folds, or "
            "merge the smallest groups.",
            SmallGroupWarning,
            stacklevel=2,
        )
    figures = list(task.figures)
    grouped = runs.groupby(["criterion", "mi_weight"], sort=False)
    summary = grouped[figures].mean()
    stds = grouped[figures].std(ddof=0).add_suffix("_std")
    summary = summary.join(stds)[[c for f in figures for c in (f, f"{f}_std")]]
    summary["fit_seconds"] = grouped["fit_seconds"].median()
    summary["fits"] = grouped[score].count()
    summary["degenerate"] = grouped["degenerate"].sum().astype(int)
    summary = summary.reset_index()
    summary.insert(0, "setting", [_setting_name(*key) for key in grouped.groups])
    usable = ~_degenerate_settings(summary)
    summary["front"] = False
    summary.loc[usable, "front"] = pareto_front(
        summary.loc[usable, score], summary.loc[usable, metric]
    )
    return summary


def _degenerate_settings(summary: pd.DataFrame) -> pd.Series:
    """Mark the settings half or more of whose fits are no better than a constant."""
    return 2 * summary["degenerate"] >= summary["fits"]


def degenerate_erm_note(summary: pd.DataFrame, positive_rate: float) -> str | None:
    """Say that ERM itself is degenerate, and what to try, or return None when it is not.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of [`summarise_sweep`][fairmine.experiments.summarise_sweep].
    positive_rate : float
        The share of positive rows in the table (unused for a regression
        sweep, whose note speaks of the training mean).

    Returns
    -------
    str or None
    """
    erm = summary[summary["criterion"] == "ERM"]
    if erm.empty or not _degenerate_settings(erm).iloc[0]:
        return None
    row = erm.iloc[0]
    majority = max(positive_rate, 1.0 - positive_rate)
    front = "" if summary["front"].any() else " (no setting is on the front)"
    if "r2" in summary.columns:
        return (
            f"ERM itself is degenerate: {row['degenerate']} of its {row['fits']} fits do no "
            f"better than predicting the training mean (R² on the training fold at most 0; "
            f"test R² {row['r2']:.3f}), so the disparities compare near-constant "
            f"predictions{front}. Train longer (--max-epochs), or check that the features "
            "carry information on the target."
        )
    return (
        f"ERM itself is degenerate: {row['degenerate']} of its {row['fits']} fits do no better "
        f"than always predicting the majority class (accuracy {row['accuracy']:.3f}; the "
        f"majority class holds {majority:.3f} of the rows), so the disparities compare "
        f"near-constant predictions{front}. Try class weights "
        "(--class-weight balanced), a balanced sample of the rows, or a decision threshold "
        "other than 0.5, and judge by balanced accuracy or ROC AUC (--metric)."
    )


def write_sweep(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    out: str | Path,
    *,
    metric: str,
    header: str,
    score: str = "accuracy",
    note: str | None = None,
) -> list[Path]:
    """Write the summary (CSV, Markdown), the runs (CSV) and the fronts (PNG) into ``out``.

    The figure needs matplotlib; without it the tables are written alone.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of [`summarise_sweep`][fairmine.experiments.summarise_sweep].
    runs : pandas.DataFrame
        Output of [`run_sweep`][fairmine.experiments.run_sweep].
    out : str or path
        Folder to write into (made when missing).
    metric : str
        The disparity that decided the front (named in the Markdown).
    header : str
        A paragraph describing the sweep, put above the Markdown table.
    score : str, default="accuracy"
        The task score that decided the front (the figures' vertical axis).
    note : str or None, default=None
        A warning put first in the Markdown and on the figure, such as
        [`degenerate_erm_note`][fairmine.experiments.degenerate_erm_note]'s.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    SweepWriteError
        When a file cannot be written (a full disk); it keeps its earlier
        contents, as do the files not yet written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "sweep_summary.csv", out / "sweep_summary.md", out / "sweep_runs.csv"]
    # each file whole or not at all: a full disk leaves the earlier ones, sweep_runs.csv first
    write_atomically(paths[0], summary.to_csv(index=False))
    first = f"**Warning.** {note}\n\n" if note else ""
    table = markdown_table(summary, metric, score)
    write_atomically(paths[1], f"{first}{header}\n\n{table}\n")
    write_atomically(paths[2], runs.to_csv(index=False))
    try:
        import matplotlib
    except ImportError:
        return paths
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = _fronts_figure(summary, metric, score, note)
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=120)
    plt.close(figure)
    return [*paths, write_atomically(out / "sweep_fronts.png", image.getvalue())]


def _fronts_figure(summary: pd.DataFrame, metric: str, score: str, note: str | None) -> Any:
    """Draw the fronts of the usable settings; degenerate ones as grey crosses, never ringed."""
    from ..plotting import plot_fronts

    task = task_of(summary)
    disparities = task.disparities
    degenerate = _degenerate_settings(summary)
    # every setting is drawn; the degenerate ones as grey crosses, left out of the fronts
    axes = plot_fronts(
        summary[~degenerate], accuracy=score, disparities=tuple(disparities),
        front_metric=metric, degenerate=summary[degenerate],
    )  # fmt: skip
    figure = axes[0].figure
    if note:
        figure.suptitle(
            textwrap.fill(note, 110), color="firebrick", fontsize="small", ha="left", x=0.01
        )
    return figure


def markdown_table(summary: pd.DataFrame, metric: str, score: str = "accuracy") -> str:
    """Render a sweep's summary as a Markdown table, mean +- std per figure.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of [`summarise_sweep`][fairmine.experiments.summarise_sweep].
    metric : str
        The disparity that decided the front column.
    score : str, default="accuracy"
        The task score that decided it.

    Returns
    -------
    str
        One row per setting; ``degenerate`` counts its fits no better than a
        constant out of all its fits ("6 of 6"), and the front column says
        **yes** for a setting on the front.
    """
    figures = task_of(summary).figures
    headings = ["setting", *figures.values(), "fit s", "degenerate",
                f"front ({score}, {metric})"]  # fmt: skip
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    for _, row in summary.iterrows():
        cells = [row["setting"]]
        cells += [_mean_std(row[f], row[f"{f}_std"]) for f in figures]
        cells += [f"{row['fit_seconds']:.1f}", f"{row['degenerate']} of {row['fits']}"]
        cells.append("**yes**" if row["front"] else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean_std(mean: float, std: float) -> str:
    return "n/a" if np.isnan(mean) else f"{mean:.3f} ± {std:.3f}"
