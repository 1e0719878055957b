"""fairmine's three fairness criteria against fairlearn's peers on Adult (sex) and German credit.

    python benchmarks/fairness_criteria.py [--dataset adult|german|both] [--runs N] [--rows 10000]
        [--full] [--processes 2] [--weights 1,3,10] [--out benchmarks/results] [--quick]
        [--critic-type concat|classifier|auto] [--replot]

Adult: a seeded random sample of 10,000 of the 48,842 rows of ``load_adult(subset="all")``
(``--full``: all rows), 5 random 60/40 splits (``ShuffleSplit``, random_state 0), sensitive
attribute sex; ``fnlwgt`` is dropped, missing categories become a category of their own, and
``sex`` stays in the features (as in fairlearn's Adult examples). German credit: the paper's
protocol (10 random 70/30 splits, seed 0, young = age < 25). Every model sees the same splits;
one-hot encoding and scaling are fitted on each training part.

Models: a constant, logistic regression, an ERM MLP (``MIUnbiasedClassifier(mi_weight=0)``),
fairlearn's ExponentiatedGradient (demographic parity, true-positive-rate parity, equalized
odds), ThresholdOptimizer (true-positive-rate parity; it needs the attribute at predict time)
and AdversarialFairnessClassifier (demographic parity, equalized odds), and fairmine with each
criterion (``demographic_parity``, ``equalized_odds``, ``equal_opportunity``) at each
``mi_weight`` of ``--weights``.

Measured on the test part of each split: accuracy, the equal-opportunity difference (EO), the
equalized-odds difference (EOdds) and the demographic-parity difference (DP) of fairlearn, the
EO floor (``fairmine.metrics.disparity_noise_floor``: the EO that the model's own predictions
show once shuffled among the positive test rows, i.e. at the same true-positive rate but
ignoring the attribute; a mean EO near it cannot be told from a fair model's), the EOdds floor
(the same for the equalized-odds difference), the fit time, and on Adult three fresh-critic
audits (``estimate_mi``) of the representation ``z`` of the MLP models on the test part: I(Z;C),
I(Z;C|Y) and I(Z;C|Y=1), the quantities that the three criteria remove. Prints a table per data
set (mean +- std over the finished runs) and writes it, the per-run rows (CSV) and a figure of
accuracy against EO and DP to ``--out``. Fits run in a spawn pool of ``--processes`` workers
with one torch thread each.
``--quick`` is a smoke run (2 runs, 1,500 Adult rows, 2 epochs, weight 1 only).
``--critic-type`` sets the ``critic_type`` of fairmine's critic (and names the output files after
it).
``--replot`` redraws the figures from the per-run CSVs in ``--out`` without fitting anything.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import multiprocessing as mp
import os
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import fairlearn
import numpy as np
import pandas as pd
import sklearn
import torch
from _provenance import provenance_lines, write_results
from fairlearn.adversarial import AdversarialFairnessClassifier
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import (
    DemographicParity,
    EqualizedOdds,
    ExponentiatedGradient,
    TruePositiveRateParity,
)
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ShuffleSplit

import fairmine
from fairmine import MIUnbiasedClassifier, estimate_mi
from fairmine.datasets import load_adult, load_german
from fairmine.experiments import fairness_scores, german_preprocessor, summarise_runs
from fairmine.metrics import disparity_noise_floor
from fairmine.mi import DonskerVaradhan
from fairmine.plotting import label_points

SPLIT_SEED = 0  # ShuffleSplit(random_state=...) of both data sets (the paper's for German)
SAMPLE_SEED = 0  # numpy RandomState of the Adult row sample
MI_AUDIT_STEPS = 1000  # estimate_mi(max_steps=...) of the Adult MI audit
CRITERIA = {  # short name in tables -> MIUnbiasedClassifier(criterion=...)
    "DP": "demographic_parity",
    "EOdds": "equalized_odds",
    "EO": "equal_opportunity",
}
METRICS = {  # column of the runs table -> heading of the printed table
    "accuracy": "accuracy",
    "eo": "EO",
    "eo_floor": "EO floor",
    "eodds": "EOdds",
    "eodds_floor": "EOdds floor",
    "dp": "DP",
    "mi": "MI(z;C)",
    "mi_given_y": "MI(z;C|Y)",
    "mi_positive": "MI(z;C|Y=1)",
}
#: the fresh-critic audits of the Adult MLP rows, one per criterion's quantity
MI_AUDITS = ("mi", "mi_given_y", "mi_positive")
# mirrors fairmine's default encoder: hidden (64,), z of size 8 (as benchmarks/german_peers.py)
ADVERSARY_NETWORKS = {
    "predictor_model": [64, "relu", 8, "relu"],
    "adversary_model": [8, "leaky_relu"],
}
QUICK = {"runs": 2, "rows": 1500, "epochs": 2, "weights": (1.0,)}


@dataclass(frozen=True)
class Setup:
    """Everything that defines one data set's experiment (hashable: a cache key in workers)."""

    dataset: str  # "adult" or "german"
    runs: int
    test_size: float
    rows: int | None  # size of the Adult sample; None: all rows
    net: tuple[tuple[str, Any], ...]  # MIUnbiasedClassifier settings of ERM and fairmine
    adversary_batch_size: int
    weights: tuple[float, ...]
    audit_mi: bool
    quick: bool = False

    @property
    def net_params(self) -> dict[str, Any]:
        """The estimator's parameters; ``penalty__*`` entries set its Donsker-Varadhan critic."""
        params = {key: value for key, value in self.net if not key.startswith("penalty__")}
        critic = {
            key.removeprefix("penalty__"): value
            for key, value in self.net
            if key.startswith("penalty__")
        }
        return {**params, "penalty": DonskerVaradhan(**critic)} if critic else params

    @property
    def epochs(self) -> int:
        return self.net_params["max_epochs"]


@dataclass(frozen=True)
class Model:
    """How to build, fit and query one model of the table."""

    build: Callable[[int], BaseEstimator]  # run index (the seed) -> unfitted estimator
    attribute_at_fit: bool = False
    attribute_at_predict: bool = False  # ThresholdOptimizer only
    randomized_predict: bool = False  # predict takes random_state (seeded with the run index)
    mlp: bool = False  # has transform() -> z, audited with estimate_mi


#: the figures are 7.2 inches wide: at this resolution about the width of the docs' column
FIGURE_DPI = 110


def make_setups(args: argparse.Namespace) -> list[Setup]:
    """The experiments the command line asks for, quick defaults applied where not overridden."""
    weights = args.weights or (QUICK["weights"] if args.quick else (1.0, 3.0, 10.0))
    epochs = {"adult": 20, "german": 30}
    if args.quick:
        epochs = dict.fromkeys(epochs, QUICK["epochs"])
    rows = args.rows or (QUICK["rows"] if args.quick else 10_000)
    adult = Setup(
        dataset="adult",
        runs=args.runs or (QUICK["runs"] if args.quick else 5),
        test_size=0.4,
        rows=None if args.full else rows,
        net=(
            ("max_epochs", epochs["adult"]),
            ("batch_size", 256),
            ("lr", 1e-3),
            ("hidden_units", (64,)),
            ("embedding_dim", 8),
            ("penalty__steps", 10),
        ),
        adversary_batch_size=64,
        weights=weights,
        audit_mi=True,
        quick=args.quick,
    )
    german = replace(
        adult,
        dataset="german",
        runs=args.runs or (QUICK["runs"] if args.quick else 10),
        test_size=0.3,
        rows=None,
        net=(("max_epochs", epochs["german"]), ("batch_size", 64)),
        audit_mi=False,
    )
    setups = [s for s in (adult, german) if args.dataset in (s.dataset, "both")]
    if args.critic_type is not None:
        setups = [
            replace(s, net=(*s.net, ("penalty__critic_type", args.critic_type))) for s in setups
        ]
    return setups


def make_models(setup: Setup) -> dict[str, Model]:
    """The table's rows, in order: baselines, fairlearn's mitigations, then fairmine."""

    def logistic(run: int) -> LogisticRegression:
        return LogisticRegression(max_iter=1000)

    def expgrad(constraint: type) -> Model:
        return Model(
            lambda run: ExponentiatedGradient(logistic(run), constraint()),
            attribute_at_fit=True,
            randomized_predict=True,
        )

    def adversarial(constraints: str) -> Model:
        return Model(
            lambda run: AdversarialFairnessClassifier(
                backend="torch",
                **ADVERSARY_NETWORKS,
                constraints=constraints,
                epochs=setup.epochs,
                batch_size=setup.adversary_batch_size,
                shuffle=True,
                random_state=run,
            ),
            attribute_at_fit=True,
        )

    def mlp(mi_weight: float, criterion: str = "demographic_parity") -> Model:
        return Model(
            lambda run: MIUnbiasedClassifier(
                mi_weight=mi_weight, criterion=criterion, random_state=run, **setup.net_params
            ),
            attribute_at_fit=True,
            mlp=True,
        )

    models = {
        "constant": Model(lambda run: DummyClassifier(strategy="most_frequent")),
        "LogisticRegression": Model(logistic),
        "ERM MLP": mlp(0.0),
        "ExpGrad DP": expgrad(DemographicParity),
        "ExpGrad TPR": expgrad(TruePositiveRateParity),
        "ExpGrad EOdds": expgrad(EqualizedOdds),
        "ThresholdOpt TPR": Model(
            lambda run: ThresholdOptimizer(
                estimator=logistic(run),
                constraints="true_positive_rate_parity",
                predict_method="predict_proba",
                prefit=False,
            ),
            attribute_at_fit=True,
            attribute_at_predict=True,
            randomized_predict=True,
        ),
        "Adversarial DP": adversarial("demographic_parity"),
        "Adversarial EOdds": adversarial("equalized_odds"),
    }
    for short, criterion in CRITERIA.items():
        for weight in setup.weights:
            models[f"fairmine {short} w={weight:g}"] = mlp(weight, criterion)
    return models


# ------------------------------------------------------------------ worker side
def adult_features(subset: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Adult's features (``fnlwgt`` dropped, a missing category as its own value "missing"),
    0/1 target and ``female``, for ``load_adult(subset=subset)``; ``speed.py`` uses it too."""
    adult = load_adult(subset=subset)
    X = adult.data.drop(columns="fnlwgt")
    for column in X.select_dtypes("category"):
        X[column] = X[column].cat.add_categories("missing").fillna("missing")
    return X, adult.target.to_numpy(), (X["sex"] == "Female").to_numpy()


@functools.lru_cache(maxsize=2)
def load(dataset: str, rows: int | None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features (before encoding), 0/1 target and boolean attribute of a data set."""
    if dataset == "german":
        german = load_german()
        X = german.data
        return X, german.target.to_numpy(), (X["age"] < 25).to_numpy()
    X, y, female = adult_features("all")
    if rows is not None and rows < len(X):
        sample = np.sort(np.random.RandomState(SAMPLE_SEED).choice(len(X), rows, replace=False))
        X, y, female = X.iloc[sample].reset_index(drop=True), y[sample], female[sample]
    return X, y, female


@functools.lru_cache(maxsize=4)
def split(setup: Setup, run: int) -> tuple[np.ndarray, ...]:
    """``X_train, X_test, y_train, y_test, c_train, c_test`` of one run, encoded on its training
    part: one-hot categories (unknown ones ignored) and standardised numbers."""
    X, y, c = load(setup.dataset, setup.rows)
    splitter = ShuffleSplit(n_splits=setup.runs, test_size=setup.test_size, random_state=SPLIT_SEED)
    train, test = next(itertools.islice(splitter.split(X), run, None))
    # German's encoder suits Adult as is: it selects columns by dtype (category / number)
    prep = german_preprocessor().fit(X.iloc[train])
    X_train, X_test = prep.transform(X.iloc[train]), prep.transform(X.iloc[test])
    return X_train, X_test, y[train], y[test], c[train], c[test]


def init_worker() -> None:
    torch.set_num_threads(1)


def fit_one(task: tuple[Setup, int, str]) -> dict[str, Any]:
    """Fit and score one model on one split; a failure is a row with NaN scores and its error."""
    setup, run, name = task
    model = make_models(setup)[name]
    X_train, X_test, y_train, y_test, c_train, c_test = split(setup, run)
    row: dict[str, Any] = {"dataset": setup.dataset, "run": run, "model": name}
    row.update(dict.fromkeys(METRICS, np.nan))
    row.update(fit_seconds=np.nan, attribute_at_predict=model.attribute_at_predict, error=None)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = model.build(run)
            fit_kwargs = {"sensitive_features": c_train} if model.attribute_at_fit else {}
            estimator.fit(X_train, y_train, **fit_kwargs)
            row["fit_seconds"] = time.perf_counter() - start
            predict_kwargs: dict[str, Any] = {}
            if model.attribute_at_predict:
                predict_kwargs["sensitive_features"] = c_test
            if model.randomized_predict:
                predict_kwargs["random_state"] = run
            y_pred = np.asarray(estimator.predict(X_test, **predict_kwargs))
            metrics = fairness_scores(y_test, y_pred, c_test)
            for key, metric in (
                ("eo_floor", "equal_opportunity"),
                ("eodds_floor", "equalized_odds"),
            ):
                metrics[key] = disparity_noise_floor(
                    y_test, y_pred, sensitive_features=c_test, metric=metric, random_state=run
                )
            if model.mlp and setup.audit_mi:
                metrics.update(audit_mi(estimator.transform(X_test), c_test, y_test, run))
            row.update(metrics)
        except Exception as error:  # a peer that fails is reported, not dropped
            row.update(dict.fromkeys(METRICS, np.nan), error=repr(error))
            if np.isnan(row["fit_seconds"]):  # failed while fitting
                row["fit_seconds"] = time.perf_counter() - start
    row["warnings"] = ";".join(sorted({w.category.__name__ for w in caught}))
    return row


def audit_mi(z: np.ndarray, c: np.ndarray, y: np.ndarray, run: int) -> dict[str, float]:
    """Fresh-critic estimates of what each criterion removes, on the test part's ``z``:
    I(Z;C), I(Z;C|Y) and I(Z;C|Y=1) (the positive test rows only)."""
    audit = functools.partial(estimate_mi, max_steps=MI_AUDIT_STEPS, random_state=run)
    positive = y == 1
    return {
        "mi": audit(z, c),
        "mi_given_y": audit(z, c, given=y),
        "mi_positive": audit(z[positive], c[positive]),
    }


# ------------------------------------------------------------------ parent side
def run_setup(setup: Setup, pool: Any) -> pd.DataFrame:
    """All (run, model) fits of one data set, in table order."""
    names = list(make_models(setup))
    tasks = [(setup, run, name) for run in range(setup.runs) for name in names]
    rows = []
    for done, row in enumerate(pool.imap_unordered(fit_one, tasks), start=1):
        rows.append(row)
        outcome = (
            f"failed: {row['error']}"
            if row["error"]
            else f"accuracy {row['accuracy']:.3f}  EO {row['eo']:.3f}  DP {row['dp']:.3f}"
        )
        print(
            f"[{setup.dataset} {done}/{len(tasks)}] run {row['run']} {row['model']:<20} "
            f"{outcome}  ({row['fit_seconds']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    results = pd.DataFrame(rows)
    results["order"] = results["model"].map({name: i for i, name in enumerate(names)})
    return results.sort_values(["order", "run"]).drop(columns="order").reset_index(drop=True)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """``summarise_runs`` (accuracy, EO, DP, fit time, counts) plus EOdds and the MI audit."""
    summary = summarise_runs(results)
    grouped = results.dropna(subset=["accuracy"]).groupby("model", sort=False)
    for key in ("eo_floor", "eodds", "eodds_floor", *MI_AUDITS):
        summary[key] = grouped[key].mean()
        summary[f"{key}_std"] = grouped[key].std(ddof=0)
    attribute = results.groupby("model", sort=False)["attribute_at_predict"].first()
    summary["attribute_at_predict"] = attribute
    return summary


def header(setup: Setup, processes: int) -> list[str]:
    """The settings of the experiment, one wrapped paragraph each."""
    net = ", ".join(f"{key}={value!r}" for key, value in setup.net)
    weights = ", ".join(f"{w:g}" for w in setup.weights)
    seeded = "random_state = run index"
    if setup.dataset == "adult":
        n_all = len(load("adult", None)[0])
        sample = (
            f"all {n_all:,} rows"
            if setup.rows is None or setup.rows >= n_all
            else f"{setup.rows:,} of {n_all:,} rows drawn at random (numpy RandomState"
            f"({SAMPLE_SEED}).choice, without replacement)"
        )
        lines = [
            f"Adult (UCI census income), sensitive attribute sex (C = female): {sample} of "
            f'load_adult(subset="all"); {setup.runs} random 60/40 splits (ShuffleSplit, '
            f"random_state={SPLIT_SEED}), the same for every model.",
            "Features: the 13 columns other than fnlwgt; categories one-hot encoded (missing "
            'values as their own category "missing", unknown categories ignored) and numbers '
            "standardised, fitted on each training part. sex stays IN the features (as in "
            "fairlearn's Adult examples), so a model may read the attribute directly.",
        ]
    else:
        lines = [
            f"German credit, sensitive attribute young (C = age < 25): the paper's protocol, "
            f"{setup.runs} random 70/30 splits (ShuffleSplit, random_state={SPLIT_SEED}), the "
            "same for every model.",
            "Features: all 20 columns (age included); categories one-hot encoded and numbers "
            "standardised, fitted on each training part (german_preprocessor()).",
        ]
    lines += [
        f"ERM MLP and fairmine: MIUnbiasedClassifier({net}), {seeded}, other parameters at "
        f"their defaults; ERM MLP is mi_weight=0 (no critic). fairmine: mi_weight in "
        f"{{{weights}}} x criterion DP = demographic_parity, EOdds = equalized_odds, EO = "
        "equal_opportunity (pos_label 1).",
        "Peers: constant = DummyClassifier(most_frequent); LogisticRegression(max_iter=1000); "
        "ExpGrad = ExponentiatedGradient(LogisticRegression, DemographicParity() | "
        "TruePositiveRateParity() | EqualizedOdds()), predict with random_state = run index; "
        "ThresholdOpt TPR = ThresholdOptimizer(LogisticRegression, "
        '"true_positive_rate_parity", predict_method="predict_proba", prefit=False), predict '
        "with the test attribute and random_state = run index; Adversarial = "
        'AdversarialFairnessClassifier(backend="torch", predictor_model='
        f"{ADVERSARY_NETWORKS['predictor_model']}, adversary_model="
        f"{ADVERSARY_NETWORKS['adversary_model']}, constraints demographic_parity | "
        f"equalized_odds, epochs={setup.epochs}, batch_size={setup.adversary_batch_size}, "
        f"shuffle=True, {seeded}).",
        "Test-part metrics (fairlearn): EO = equal_opportunity_difference, EOdds = "
        "equalized_odds_difference, DP = demographic_parity_difference; EO floor = "
        "fairmine.metrics.disparity_noise_floor of the model's test predictions (the mean EO "
        "over 1000 shuffles of them among the positive test rows: what predictions with the "
        "same true-positive rate that ignore the attribute would show); EOdds floor = the same "
        "for the equalized-odds difference (shuffles within each class of y); mean +- std (ddof 0) "
        f"over the finished runs. fit s: median fit seconds, {processes} worker process(es) "
        "with one torch thread each.",
    ]
    if setup.audit_mi:
        lines.append(
            "MI columns (nats), MLP models only, each a fresh critic's lower bound on the test "
            "part: MI(z;C) = estimate_mi(model.transform(X_test), C_test, "
            f"max_steps={MI_AUDIT_STEPS}, random_state = run index), what demographic_parity "
            "removes; MI(z;C|Y) = the same with given=y_test, what equalized_odds removes; "
            "MI(z;C|Y=1) = the same on the positive test rows only, what equal_opportunity "
            "removes."
        )
    lines.append(
        f"Versions: fairmine {fairmine.__version__}, fairlearn {fairlearn.__version__}, "
        f"scikit-learn {sklearn.__version__}, torch {torch.__version__}."
    )
    if setup.quick:
        lines.insert(0, "QUICK SMOKE RUN (--quick): settings shrunk, not a result.")
    return [textwrap.fill(line, width=100, subsequent_indent="  ") for line in lines]


def table(summary: pd.DataFrame, results: pd.DataFrame, audit_mi: bool) -> list[str]:
    """The fixed-width table, then the failed runs and the warnings raised during fits."""
    keys = [k for k in METRICS if audit_mi or k not in MI_AUDITS]
    cells = "".join(f"{METRICS[k]:>16}" for k in keys)
    lines = [f"{'model':<20}{cells} {'fit s':>7} {'finished':>9} {'attr. at predict':>17}"]
    for name, row in summary.iterrows():
        cells = "".join(
            f"{row[k]:>7.3f} +- {row[f'{k}_std']:.3f}" if np.isfinite(row[k]) else f"{'-':>16}"
            for k in keys
        )
        finished = f"{int(row.runs)}/{int(row.runs + row.failed)}"
        attribute = "yes" if row.attribute_at_predict else "no"
        lines.append(f"{name:<20}{cells} {row.fit_seconds:>7.1f} {finished:>9} {attribute:>17}")
    for _, row in results.dropna(subset=["error"]).iterrows():
        lines.append(f"run {row.run} {row.model} failed: {row.error}")
    flagged = results[results["warnings"] != ""]
    if len(flagged):
        lines.append("warnings during fits (runs per model):")
        for name, group in flagged.groupby("model", sort=False):
            counts = group["warnings"].str.split(";").explode().value_counts()
            lines.append(f"  {name}: " + ", ".join(f"{w} ({n})" for w, n in counts.items()))
    return lines


def plot(summary: pd.DataFrame, setup: Setup, path: Path) -> None:
    """Save :func:`figure` of ``summary`` to ``path``."""
    import matplotlib.pyplot as plt

    fig = figure(summary, setup.dataset, setup.runs, setup.quick)
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)


def replot(runs_csv: Path) -> Any:
    """Redraw the figure of a per-run CSV beside it (``name_runs.csv`` -> ``name.png``)."""
    import matplotlib.pyplot as plt

    runs = pd.read_csv(runs_csv)
    fig = figure(summarise(runs), runs["dataset"].iloc[0], runs["run"].nunique())
    fig.savefig(
        runs_csv.with_name(runs_csv.name.removesuffix("_runs.csv") + ".png"), dpi=FIGURE_DPI
    )
    plt.close(fig)
    return fig


def figure(summary: pd.DataFrame, dataset: str, runs: int, quick: bool = False) -> Any:
    """Accuracy against EO and against DP: fairmine by criterion, peers in grey.

    ``fairmine.plotting.plot_tradeoff`` draws one series in one colour (or coloured by MI) and
    no peers, so this draws with matplotlib directly; ``label_points`` keeps the labels apart.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finished = summary[summary["runs"] > 0]
    # the panels one above the other, as wide as the docs' column: labels stay legible there
    fig, axes = plt.subplots(2, 1, figsize=(7.2, 9.6), layout="constrained")
    attribute = "sex" if dataset == "adult" else "young (age < 25)"
    fig.suptitle(
        f"{dataset.capitalize()}, attribute {attribute}: mean +- std over {runs} "
        "runs" + (" (QUICK SMOKE RUN)" if quick else "")
    )
    labels = []
    for ax, (key, label) in zip(
        axes,
        [("eo", "equal-opportunity difference"), ("dp", "demographic-parity difference")],
        strict=True,
    ):
        peers = finished[~finished.index.str.startswith("fairmine ")]
        ax.errorbar(
            peers[key], peers["accuracy"], xerr=peers[f"{key}_std"], yerr=peers["accuracy_std"],
            fmt="s", color="0.5", ecolor="0.8", markersize=5, label="peers",
        )  # fmt: skip
        points = [("0.35", name, row) for name, row in peers.iterrows()]
        for i, (short, criterion) in enumerate(CRITERIA.items()):
            mine = finished[finished.index.str.startswith(f"fairmine {short} w=")]
            if mine.empty:
                continue
            ax.errorbar(
                mine[key], mine["accuracy"], xerr=mine[f"{key}_std"], yerr=mine["accuracy_std"],
                fmt="o-", color=f"C{i}", ecolor=f"C{i}", alpha=0.9, capsize=2,
                label=f"fairmine {criterion}",
            )  # fmt: skip
            points += [(f"C{i}", name.rsplit(" ", 1)[-1], row) for name, row in mine.iterrows()]
        ax.margins(0.12)  # room for the labels
        ax.set_xlabel(f"{label} (lower is fairer)")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        labels.append((ax, key, points))
    legend = axes[0].legend(fontsize="small", loc="lower right")
    for ax, key, points in labels:
        for color in dict.fromkeys(color for color, _, _ in points):  # peers, then criteria
            mine = [(row[key], row["accuracy"], text) for c, text, row in points if c == color]
            label_points(ax, mine, avoid=[legend], fontsize="small", color=color)
    return fig


def parse_weights(text: str) -> tuple[float, ...]:
    weights = tuple(float(w) for w in text.split(",") if w.strip())
    if not weights or min(weights) <= 0:
        raise argparse.ArgumentTypeError(f"weights must be positive numbers, got {text!r}")
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("adult", "german", "both"), default="both")
    parser.add_argument(
        "--runs", type=int, help="random splits (default: 5 on Adult, 10 on German)"
    )
    parser.add_argument("--rows", type=int, help="Adult sample size (default 10,000)")
    parser.add_argument("--full", action="store_true", help="all 48,842 Adult rows")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--weights", type=parse_weights, help="fairmine mi_weight values (default 1,3,10)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default benchmarks/results; with --quick a temporary folder)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 runs, 1,500 Adult rows, 2 epochs, w=1"
    )
    parser.add_argument(
        "--critic-type",
        choices=("concat", "classifier", "auto"),
        help="critic_type of fairmine's DonskerVaradhan critic (default: its own)",
    )
    parser.add_argument(
        "--replot", action="store_true", help="redraw the figures from the runs CSVs in --out"
    )
    args = parser.parse_args()
    if args.replot:
        for runs_csv in sorted((args.out or Path(__file__).parent / "results").glob("*_runs.csv")):
            replot(runs_csv)
        return
    out = args.out or (
        Path(tempfile.gettempdir()) / "fairness_criteria_quick"
        if args.quick
        else Path(__file__).parent / "results"
    )
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    provenance_lines()  # the files' headers record the run as it starts
    # one BLAS thread per worker too (read when the spawned workers import numpy)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    with mp.get_context("spawn").Pool(args.processes, initializer=init_worker) as pool:
        for setup in make_setups(args):
            start = time.perf_counter()
            results = run_setup(setup, pool)
            summary = summarise(results)
            lines = [
                *header(setup, args.processes),
                "",
                *table(summary, results, setup.audit_mi),
                f"({time.perf_counter() - start:.0f} s wall-clock)",
            ]
            text = "\n".join(lines) + "\n"
            print(text, flush=True)
            critic = f"_{args.critic_type}_critic" if args.critic_type else ""
            stem = out / f"fairness_criteria_{setup.dataset}{critic}"
            write_results(stem.with_suffix(".txt"), text)
            results.to_csv(f"{stem}_runs.csv", index=False)
            plot(summary, setup, stem.with_suffix(".png"))
            print(f"wrote {stem}.txt, {stem}_runs.csv, {stem}.png\n", flush=True)


if __name__ == "__main__":
    main()
