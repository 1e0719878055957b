"""``fairmine sweep``: the accuracy-fairness front of a table, on loky, Dask or Ray."""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from joblib import parallel_config

from .experiments import (
    BUNDLED_TABLES,
    SweepGrid,
    SweepInputError,
    check_folds,
    degenerate_erm_note,
    load_sweep_table,
    run_sweep,
    summarise_sweep,
    write_sweep,
)
from .experiments._output import SweepWriteError
from .experiments._sweep import (
    MAX_CLASS_VALUES,
    TASKS,
    SweepTable,
    SweepTask,
    markdown_table,
)
from .experiments._sweep_report import git_commit, recommendation, write_sweep_report
from .experiments._sweep_store import SweepStore, table_fingerprint
from .mi import CRITERIA

__all__ = ["add_sweep_parser"]

BACKENDS = ("loky", "dask", "ray")
DEFAULT_GRID = SweepGrid()
#: training epochs of every fit unless ``--max-epochs`` is given (the estimator's default)
DEFAULT_EPOCHS = 30


def add_sweep_parser(commands: Any, log: Callable[[str], None]) -> None:
    """Add the ``sweep`` subcommand to the ``fairmine`` parser's subcommands.

    Parameters
    ----------
    commands : argparse subparsers action
        ``parser.add_subparsers(...)`` of the ``fairmine`` command.
    log : callable
        Where progress lines go (stderr).
    """
    sweep = commands.add_parser(
        "sweep",
        help="accuracy-fairness front of a CSV/Parquet table over lambda x criterion x seeds",
        description=(
            "Fit ERM and fairmine at every criterion and lambda, for every seed, on stratified "
            "K-fold splits of a table; encode it on each training fold (one-hot for text, "
            "categories and booleans, median imputation and scaling for numbers); score "
            "accuracy, equal opportunity (EO), equalized odds (EOdds), demographic parity (DP) "
            "and the MI a fresh critic finds in z on each test fold. Writes "
            "sweep_summary.{csv,md}, sweep_runs.csv and sweep_fronts.png into --out and prints "
            "the summary; each fit's row is saved to sweep_runs.csv as it finishes, so that "
            "--resume finishes an interrupted sweep. The attribute is needed at fit time only, "
            "never to predict. A numeric target (--task) is fitted with MIUnbiasedRegressor "
            "on plain K-fold splits and scored by R², MSE, the gap in mean prediction, the "
            "KS distance of the predictions, the gap in group MAE and the worst group's MAE."
        ),
    )
    sweep.add_argument(
        "source",
        metavar="PATH",
        help=f"a .csv or .parquet file, or a bundled data set: {', '.join(BUNDLED_TABLES)}",
    )
    sweep.add_argument(
        "--target", help="the column to predict (two classes, or numbers: see --task)"
    )
    sweep.add_argument(
        "--task",
        choices=["auto", *TASKS],
        default="auto",
        help="what the target is (auto: regression when it is a numeric column with more than "
        f"{MAX_CLASS_VALUES} distinct values, else classification; regression skips "
        "equal_opportunity, which needs a positive class)",
    )
    sweep.add_argument("--sensitive", help="the attribute's column (at most 20 groups)")
    sweep.add_argument("--drop", nargs="+", default=[], metavar="COL", help="columns to ignore")
    sweep.add_argument(
        "--keep-sensitive",
        action="store_true",
        help="keep the attribute among the features (default: left out)",
    )
    sweep.add_argument("--pos-label", help="the positive class (default: the greater one)")
    sweep.add_argument("--rows", type=_positive_int, help="a random sample of this many rows")
    sweep.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=list(DEFAULT_GRID.mi_weights),
        help="positive values of lambda; ERM (0) is always fitted (1 3 10)",
    )
    sweep.add_argument(
        "--criteria", nargs="+", choices=CRITERIA, default=list(CRITERIA), help="(all three)"
    )
    sweep.add_argument(
        "--seeds", type=_positive_int, default=len(DEFAULT_GRID.seeds), help="model seeds (2)"
    )
    sweep.add_argument(
        "--folds", type=int, default=DEFAULT_GRID.folds, help="stratified folds, >= 2 (3)"
    )
    sweep.add_argument("--repeats", type=_positive_int, default=1, help="K-fold repeats (1)")
    sweep.add_argument(
        "--split-seed", type=_non_negative_int, default=0, help="seed of the folds (0)"
    )
    sweep.add_argument(
        "--max-epochs", type=_positive_int, default=DEFAULT_EPOCHS, help=f"({DEFAULT_EPOCHS})"
    )
    sweep.add_argument(
        "--class-weight",
        choices=["balanced"],
        help="weigh the classes inversely to their frequency (for an imbalanced target)",
    )
    sweep.add_argument(
        "--metric",
        choices=list(dict.fromkeys(m for t in TASKS.values() for m in (*t.scores, *t.disparities))),
        action="append",
        default=[],
        help="the axes of the marked front, one score and one disparity, each given at most "
        "once: accuracy, balanced_accuracy or roc_auc (accuracy); eo, eodds or dp (eo); for "
        "regression r2 (r2) and mean_prediction_gap, prediction_ks_distance, group_mae_gap or "
        "worst_group_mae (mean_prediction_gap)",
    )
    sweep.add_argument("--backend", choices=BACKENDS, default="loky", help="joblib backend (loky)")
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing cluster: a Dask scheduler (tcp://host:8786) or a Ray address "
        "(auto, ray://host:10001); default: start one on this machine",
    )
    sweep.add_argument(
        "--n-jobs",
        type=_positive_int,
        help="fits at a time (default: every core, or every worker)",
    )
    sweep.add_argument(
        "--torch-threads",
        type=_positive_int,
        help="torch threads per fit (default: each worker's share of its machine's cores)",
    )
    sweep.add_argument("--out", default=".", help="folder for the outputs (.)")
    again = sweep.add_mutually_exclusive_group()
    again.add_argument(
        "--overwrite", action="store_true", help="replace an earlier sweep's results in --out"
    )
    again.add_argument(
        "--resume",
        action="store_true",
        help="finish the sweep whose fits --out holds: fit only the missing ones",
    )
    sweep.set_defaults(handler=lambda args: _sweep(args, log))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text!r}")
    return value


def _front_axes(metrics: list[str], task: str) -> tuple[str, str]:
    """Split ``--metric`` values into the front's score and disparity of ``task``."""
    definition = TASKS[task]
    scores = [m for m in metrics if m in definition.scores]
    disparities = [m for m in metrics if m in definition.disparities]
    other = [m for m in metrics if m not in (*scores, *disparities)]
    if other:
        raise SweepInputError(
            f"--metric {', '.join(other)} does not measure a {task} sweep; it takes "
            f"{', '.join([*definition.scores, *definition.disparities])}"
        )
    if len(scores) > 1 or len(disparities) > 1:
        raise SweepInputError(
            f"--metric takes one score and one disparity, got {', '.join(metrics)}"
        )
    return (scores or list(definition.scores))[0], (disparities or list(definition.disparities))[0]


def _criteria(asked: list[str], task: SweepTask, log: Callable[[str], None]) -> tuple[str, ...]:
    """Keep the ``--criteria`` the task's estimator takes; say which are skipped."""
    kept = tuple(c for c in asked if c in task.criteria)
    skipped = [c for c in asked if c not in task.criteria]
    if not kept:
        raise SweepInputError(
            f"--criteria {', '.join(asked)}: {task.estimator.__name__} takes none of them; "
            f"use {' or '.join(task.criteria)}"
        )
    if skipped:
        log(
            f"note: {', '.join(skipped)} skipped: {task.estimator.__name__} takes "
            f"{' and '.join(task.criteria)} only"
        )
    return kept


def _sweep(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    store = None
    try:
        store, status = _sweep_into_store(args, log)
        return status
    finally:  # the folder is another sweep's to write once this one ends, however it ends
        if store is not None:
            store.close()


def _sweep_into_store(
    args: argparse.Namespace, log: Callable[[str], None]
) -> tuple[SweepStore | None, int]:
    """Run the sweep; return its store (None when refused before it was made) and exit status."""
    store = None
    git_commit()  # the commit the sweep starts from is the one its report records
    try:
        if args.scheduler is not None and args.backend == "loky":
            raise SweepInputError("--scheduler needs --backend dask or --backend ray")
        table = load_sweep_table(
            args.source,
            target=args.target,
            sensitive=args.sensitive,
            drop=args.drop,
            keep_sensitive=args.keep_sensitive,
            pos_label=args.pos_label,
            rows=args.rows,
            task=args.task,
        )
        task = TASKS[table.task]
        score, metric = _front_axes(args.metric, table.task)
        estimator_params = {"max_epochs": args.max_epochs}
        if args.class_weight:
            if not task.stratified:
                raise SweepInputError("--class-weight weighs classes: a numeric target has none")
            estimator_params["class_weight"] = args.class_weight
        grid = SweepGrid(
            mi_weights=tuple(args.weights),
            criteria=_criteria(args.criteria, task, log),
            seeds=tuple(range(args.seeds)),
            folds=args.folds,
            repeats=args.repeats,
            split_seed=args.split_seed,
            estimator_params=estimator_params,
        )
        check_folds(table, grid)
        # the output folder is locked and checked, and an earlier run's fits read, before the
        # first fit
        store = SweepStore(
            args.out,
            _identity(args, grid, table_fingerprint(table)),
            overwrite=args.overwrite,
            resume=args.resume,
        )
        fits = len(grid.tasks())
        header = (
            f"{table.description}. {fits} fits: ERM and criteria {', '.join(grid.criteria)} "
            f"at lambda {', '.join(f'{w:g}' for w in grid.mi_weights)}; seeds "
            f"0-{args.seeds - 1}; {grid.folds}-fold {'stratified ' if task.stratified else ''}"
            f"splits x {grid.repeats} "
            f"(seed {grid.split_seed}); {args.max_epochs} epochs"
            f"{', class_weight=' + repr(args.class_weight) if args.class_weight else ''}, other "
            f"parameters at {task.estimator.__name__}'s defaults; backend {args.backend}."
        )
        log(header)
        for text in table.notes:
            log(f"fairmine sweep: warning: {text}")
        if store.torn_row:
            log(
                f"note: the last row of {store.runs_path} was cut off (its writer was killed, "
                "or the disk was full): dropped, and its fit is made again"
            )
        if len(store.finished):
            log(f"resuming: {len(store.finished)} of {fits} fits are saved in {store.runs_path}")
        start = time.perf_counter()
        with _joblib_backend(args.backend, args.scheduler, args.n_jobs):
            run_sweep(
                table, grid, threads=args.torch_threads, progress=log,
                finished=store.finished, record=store.add,
            )  # fmt: skip
        seconds = time.perf_counter() - start
        header += (
            f" Wall time {seconds:.0f} s. Figures: mean ± std over seeds and folds, on the test "
            f"folds; audit MI: a fresh critic on the test fold's z, under each setting's "
            f"criterion (ERM: I(Z;C)); front: no other setting that is not degenerate has "
            f"higher {score} and lower {metric}."
        )
        paths, text = _write_outputs(args, log, store, table, grid, metric, score, header)
    except SweepInputError as error:
        log(f"fairmine sweep: error: {error}")
        return store, 2
    except SweepWriteError as error:  # a full disk: the rows written before it are whole
        log(
            f"fairmine sweep: error: {error}. The fits that finished are saved in "
            f"{store.runs_path if store else args.out}: free some space, then run the same "
            "command with --resume"
        )
        return store, 1
    except KeyboardInterrupt:
        if store is None:
            raise
        log(
            f"fairmine sweep: interrupted; every finished fit is saved in {store.runs_path}: "
            "run the same command with --resume to finish the sweep"
        )
        return store, 130
    except Exception:
        if store is not None:
            log(
                f"fairmine sweep: a fit failed; the fits that finished are saved in "
                f"{store.runs_path}: fix the cause and run the same command with --resume"
            )
        raise
    print(text)
    log(f"done in {seconds:.0f} s; wrote {', '.join(str(p) for p in paths)}")
    return store, 0


def _write_outputs(
    args: argparse.Namespace,
    log: Callable[[str], None],
    store: SweepStore,
    table: SweepTable,
    grid: SweepGrid,
    metric: str,
    score: str,
    header: str,
) -> tuple[list[Any], str]:
    """Summarise the saved fits and write the tables, figure and report; return their paths."""
    runs = store.runs(grid.tasks())  # read back: a resumed sweep ends with the same table
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = summarise_sweep(runs, metric=metric, score=score)
    for warning in caught:
        log(f"fairmine sweep: warning: {warning.message}")
    note = degenerate_erm_note(summary, float(table.y.mean()))
    words, _ = recommendation(summary, table, grid, metric, score)
    # what to pick comes first, in the Markdown and on the terminal as in the report
    paths = write_sweep(
        summary,
        runs,
        args.out,
        metric=metric,
        score=score,
        header=f"{words}\n\n{header}",
        note=note,
    )
    paths.append(write_sweep_report(summary, runs, table, grid, args.out, metric=metric,
                                    score=score, note=note, header=header,
                                    command=args.command_line))  # fmt: skip
    if note:
        log(f"fairmine sweep: warning: {note}")
    return paths, f"{words}\n\n{markdown_table(summary, metric, score)}"


def _identity(args: argparse.Namespace, grid: SweepGrid, fingerprint: str) -> dict[str, Any]:
    """Describe what a sweep fits (data, grid, settings), which a resumed sweep must match."""
    return {
        "data": fingerprint,
        "mi_weights": [float(w) for w in grid.mi_weights],
        "criteria": list(grid.criteria),
        "seeds": list(grid.seeds),
        "folds": grid.folds,
        "repeats": grid.repeats,
        "split_seed": grid.split_seed,
        "estimator_params": grid.estimator_params,
    }


@contextmanager
def _joblib_backend(name: str, scheduler: str | None, n_jobs: int | None) -> Iterator[None]:
    """Make ``name`` the active joblib backend, starting a local cluster when none is named."""
    with ExitStack() as stack:
        if name == "dask":
            stack.enter_context(_dask_client(scheduler, n_jobs))
        elif name == "ray":
            stack.enter_context(_ray_session(scheduler, n_jobs))
        stack.enter_context(parallel_config(backend=name, n_jobs=n_jobs or -1))
        yield


@contextmanager
def _dask_client(scheduler: str | None, n_jobs: int | None) -> Iterator[None]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepInputError(
            "--backend dask needs dask.distributed: pip install 'fairmine[distributed]'"
        ) from None
    with ExitStack() as stack:
        if scheduler is None:
            # one single-threaded worker process per core: Dask's nanny starts each with
            # OMP_NUM_THREADS=1, which torch reads, so the fits do not oversubscribe the cores
            address: Any = stack.enter_context(
                LocalCluster(
                    n_workers=n_jobs or os.cpu_count(),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
        else:
            address = scheduler
        try:
            stack.enter_context(Client(address, timeout=30))
        except OSError as error:  # TimeoutError among them
            raise SweepInputError(f"cannot reach the Dask scheduler {scheduler}: {error}") from None
        yield


@contextmanager
def _ray_session(scheduler: str | None, n_jobs: int | None) -> Iterator[None]:
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError:
        raise SweepInputError(
            "--backend ray needs ray: pip install 'fairmine[distributed]'"
        ) from None
    try:
        ray.init(
            address=scheduler,
            num_cpus=None if scheduler else n_jobs,
            include_dashboard=False,
            log_to_driver=False,
        )
    except (ConnectionError, RuntimeError) as error:
        raise SweepInputError(f"cannot start or reach Ray at {scheduler}: {error}") from None
    register_ray()
    try:
        yield
    finally:
        ray.shutdown()
