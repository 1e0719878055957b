"""What a downstream model reads back from fairmine's z, and why: probes against the critic.

    python benchmarks/representation_leakage.py [--dataset german,adult] [--splits 10]
        [--adult-splits 3] [--rows 10000] [--out benchmarks/results]

The splits and encodings of ``benchmarks/representations.py`` (German credit, young; Adult, sex,
``--rows`` rows). One ``MIUnbiasedTransformer(criterion="demographic_parity", mi_weight=3)`` per
critic setting (and ERM's z), on the data set's settings of that benchmark:

* the estimators' default critic, ``penalty="donsker_varadhan"`` (MINE's statistics network
  on ``[z, c]``, K critic updates per encoder update counted from the FLOPs: 3 on these MLPs);
* the same network at K = 10 and K = 20;
* a classifier critic (``critic_type="classifier"``) at K = 10: the transformer's default;
* ``penalty="hsic"``, a closed-form kernel penalty with no critic to lag behind.

Measured on the test part: the ROC AUC for the attribute of three fresh probes (gradient
boosting, logistic regression, an MLP of 32), each 5-fold cross-fitted on the test rows' z; the
boosted probe on the ReLU's zero pattern alone (which units are exactly 0) and on the training
rows' z; the training critic's own estimate on its last epoch (``train_mi``) and a fresh critic's
(``estimate_mi``, 1000 steps) on the test rows; and, for models trained on the training rows' z
to predict the label, the accuracy, the DP difference and the ROC AUC of their scores for the
attribute ("reads back": .5 = nothing), for a logistic regression on the standardised z, the
same on the raw ReLU z (the scaling question) and a gradient-boosted model. Prints the tables
and writes them to ``representation_leakage.txt`` in ``--out``; every fit's row goes to
``representation_leakage_runs.csv`` as it ends (a rerun skips the rows it finds).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _provenance import provenance_lines, write_results
from representations import DATASETS, Settings, git_commit, probe_auc, split
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairmine import MIUnbiasedTransformer, estimate_mi
from fairmine.experiments import fairness_scores
from fairmine.mi import DonskerVaradhan

MI_WEIGHT = 3.0
#: the critic settings compared, in table order; None is ERM (mi_weight 0)
VARIANTS = {
    "ERM (no penalty)": None,
    "statistics net, K auto": "donsker_varadhan",
    "statistics net, K 10": DonskerVaradhan(steps=10),
    "statistics net, K 20": DonskerVaradhan(steps=20),
    "classifier critic, K 10": DonskerVaradhan(steps=10, critic_type="classifier"),
    "HSIC (no critic)": "hsic",
}
PROBES = {"auc_hgb": "hgb", "auc_lin": "linear", "auc_mlp": "mlp"}
RUNS_CSV = "representation_leakage_runs.csv"


def mlp_probe_auc(z: np.ndarray, c: np.ndarray, run: int) -> float:
    probe = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=500, random_state=run)
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=run)
    return float(
        roc_auc_score(c, cross_val_predict(probe, z, c, cv=folds, method="predict_proba")[:, 1])
    )


def reads_back(model, z_train, y_train, z_test, y_test, c_test) -> dict[str, float]:
    """Accuracy, DP and the attribute AUC of the scores of a model trained for the label."""
    model.fit(z_train, y_train)
    scores = fairness_scores(y_test, model.predict(z_test), c_test)
    auc = roc_auc_score(c_test, model.predict_proba(z_test)[:, 1])
    return {"accuracy": scores["accuracy"], "dp": scores["dp"], "auc": max(auc, 1 - auc)}


def measure(dataset: str, name: str, run: int, part: dict) -> dict:
    params = dict(DATASETS[dataset].fairmine)
    penalty = VARIANTS[name]
    weight = 0.0 if penalty is None else MI_WEIGHT
    transformer = MIUnbiasedTransformer(
        mi_weight=weight, penalty=penalty or "auto", random_state=run, **params
    )
    start = time.perf_counter()
    z_train = transformer.fit_transform(
        part["X_train"], part["y_train"], sensitive_features=part["c_train"]
    )
    row = {"fit_seconds": time.perf_counter() - start}
    engine = transformer.estimator_
    z_test, c_test, y_test = transformer.transform(part["X_test"]), part["c_test"], part["y_test"]
    row["critic_steps"] = engine.critic_steps_
    row["train_mi"] = engine.history_[-1].get("train_mi", np.nan)
    row["fresh_mi"] = estimate_mi(z_test, c_test, max_steps=1000, random_state=run)
    row["auc_hgb"] = probe_auc(z_test, c_test, run)
    row["auc_lin"] = probe_auc(z_test, c_test, run, linear=True)
    row["auc_mlp"] = mlp_probe_auc(z_test, c_test, run)
    raw_test = engine.transform(part["X_test"])
    row["auc_zeros"] = probe_auc((raw_test > 0).astype(np.float32), c_test, run)
    row["auc_train_rows"] = probe_auc(z_train, part["c_train"], run)
    row["zero_share"] = float((raw_test == 0).mean())
    logistic = lambda: LogisticRegression(max_iter=1000)  # noqa: E731
    downstream = {
        "logreg": (make_pipeline(StandardScaler(), logistic()), z_train, z_test),
        "logreg_raw_z": (logistic(), engine.transform(part["X_train"]), raw_test),
        "hgb": (HistGradientBoostingClassifier(random_state=run), z_train, z_test),
    }
    for key, (model, train, test) in downstream.items():
        scores = reads_back(model, train, part["y_train"], test, y_test, c_test)
        row.update({f"{key}_{k}": v for k, v in scores.items()})
    return row


def table(summary: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    """A fixed-width table, a column of 16 characters a metric (K: 4)."""
    width = max(len(n) for n in summary.index) + 2
    widths = {k: 4 if k == "critic_steps" else 16 for k in columns}
    lines = [f"{'critic':<{width}}" + "".join(f"{v:>{widths[k]}}" for k, v in columns.items())]
    for name, row in summary.iterrows():
        cells = "".join(
            f"{'-':>{widths[k]}}"
            if not np.isfinite(row[k])
            else f"{row[k]:>{widths[k]}.0f}"
            if k == "critic_steps"
            else f"{row[k]:>{widths[k]}.1f}"
            if k == "fit_seconds"
            else f"{'':{widths[k] - 15}}{row[k]:>6.3f} +- {row[k + '_std']:.3f}"
            for k in columns
        )
        lines.append(f"{name:<{width}}{cells}")
    return lines


def report(rows: pd.DataFrame, settings: Settings) -> str:
    text = []
    for dataset, group in rows.groupby("dataset", sort=False):
        numeric = group.select_dtypes("number").drop(columns="split")
        grouped = numeric.groupby(group["variant"], sort=False)
        summary = grouped.mean().join(grouped.std(ddof=0).add_suffix("_std"))
        summary["fit_seconds"] = grouped["fit_seconds"].median()
        summary = summary.loc[[v for v in VARIANTS if v in summary.index]]
        data = DATASETS[dataset]
        rows_note = f" of {settings.rows:,} rows" if dataset == "adult" else ""
        head = (
            f"{dataset}, attribute {data.attribute}: {group['split'].nunique()} splits of "
            "benchmarks/representations.py (ShuffleSplit, random_state "
            f"{settings.split_seed}){rows_note}; "
            f"MIUnbiasedTransformer({', '.join(f'{k}={v!r}' for k, v in data.fairmine)}, "
            f"criterion='demographic_parity', mi_weight={MI_WEIGHT:g} (ERM: 0), random_state = "
            "split) under each critic; mean +- std (ddof 0); fit s: median, one torch thread on "
            f"a loaded 2-core machine; fits made at commit(s) "
            f"{', '.join(sorted(group['commit'].astype(str).unique()))}."
        )
        text += [f"== {dataset} ==", textwrap.fill(head, 100, subsequent_indent="  "), ""]
        text.append(
            textwrap.fill(
                "Fresh probes' ROC AUC for the attribute on the test rows' z (5-fold "
                "cross-fitted; zeros: the boosted probe on which ReLU units are 0; train rows: on "
                "the training rows' z), the training critic's last estimate and a fresh "
                "critic's (nats):",
                100,
            )
        )
        text += table(summary, {
            "critic_steps": "K", "auc_hgb": "AUC hgb", "auc_lin": "AUC lin", "auc_mlp": "AUC mlp",
            "auc_zeros": "AUC zeros",
        })  # fmt: skip
        text += ["", *table(summary, {
            "auc_train_rows": "AUC train rows", "train_mi": "train MI", "fresh_mi": "fresh MI",
            "fit_seconds": "fit s",
        })]  # fmt: skip
        text += [
            "",
            textwrap.fill(
                "Models trained on z for the label: accuracy, DP difference and their scores' "
                "ROC AUC for the attribute (max(AUC, 1 - AUC)); logreg on standardised z, on "
                "the raw ReLU z, and gradient boosting:",
                100,
            ),
        ]
        for m, label in (("logreg", "lr"), ("logreg_raw_z", "lr raw"), ("hgb", "hgb")):
            columns = {f"{m}_{k}": k for k in ("accuracy", "dp", "auc")}
            text += ["", f"{label}:", *table(summary, columns)]
        text.append("")
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="german,adult")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--adult-splits", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    provenance_lines()
    torch.set_num_threads(1)
    settings = Settings(args.rows, 0, None, (), (), 0)
    args.out.mkdir(parents=True, exist_ok=True)
    runs_csv = args.out / RUNS_CSV
    done = set()
    if runs_csv.exists():
        previous = pd.read_csv(runs_csv)
        done = set(zip(previous["dataset"], previous["split"], previous["variant"], strict=True))
    commit = git_commit()
    datasets = args.dataset.split(",")
    for dataset in datasets:
        splits = args.adult_splits if dataset == "adult" else args.splits
        for run in range(splits):
            part = split(dataset, settings, run)
            for name in VARIANTS:
                if (dataset, run, name) in done:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a collapsed or degenerate z is measured too
                    row = {"dataset": dataset, "split": run, "variant": name, "commit": commit,
                           **measure(dataset, name, run, part)}  # fmt: skip
                pd.DataFrame([row]).to_csv(
                    runs_csv, mode="a", header=not runs_csv.exists(), index=False
                )
                print(f"[{dataset} {run}] {name:<26} AUC hgb {row['auc_hgb']:.3f} lin "
                      f"{row['auc_lin']:.3f} {row['fit_seconds']:.1f} s", file=sys.stderr,
                      flush=True)  # fmt: skip
    rows = pd.read_csv(runs_csv)
    limits = {d: args.adult_splits if d == "adult" else args.splits for d in datasets}
    rows = rows[rows["dataset"].isin(datasets)]
    rows = rows[rows["split"] < rows["dataset"].map(limits)]
    text = report(rows, settings)
    print(text)
    write_results(args.out / "representation_leakage.txt", text)


if __name__ == "__main__":
    main()
