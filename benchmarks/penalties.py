"""The dependence penalties side by side: fronts of accuracy against fairness, and their cost.

    python benchmarks/penalties.py [--dataset german|adult] [--runs N]
        [--criterion demographic_parity|equalized_odds|equal_opportunity] [--penalties ...]
        [--weights hsic=1,10,100 ...] [--clip per_tensor|representation|none]
        [--mi-update joint|separate] [--timing-repeats 3] [--threads 1 2] [--out DIR] [--quick]

German credit and Adult use the splits, encoding and settings of ``fairness_criteria.py``
(German: the paper's 10 random 70/30 splits, seed 0, young = age < 25, 30 epochs, batch 64;
Adult: 10,000 rows sampled with seed 0, 5 random 60/40 splits, sex, 20 epochs, batch 256,
``DonskerVaradhan(steps=10)``). Each penalty of ``fairmine.mi.PENALTIES`` is fitted at each
weight of its grid (``--weights``; the grids differ because the penalties' scales differ) with
the criterion
``--criterion``, next to ERM (``mi_weight=0``), on every split, one process, one torch thread.
Measured on the test part: accuracy, the criterion's fairlearn disparity (DP, EOdds or EO
difference), the MI that a fresh Donsker-Varadhan critic finds in the test part's ``z``
(``estimate_mi``, ``max_steps=1000``, the criterion's quantity: I(Z;C), I(Z;C|Y) or I(Z;C|Y=1)),
the fits that collapsed or predict no better than a constant (``RepresentationCollapseWarning``,
``DegenerateModelWarning``), and the fit time. Cost: each penalty at its middle weight and ERM,
fitted on split 0 in rounds (``--timing-repeats``) at 1 and at 2 torch threads (``--threads``);
the median wall time over ERM's median at the same thread count.

Colored MNIST: the penalties' rows are in ``benchmarks/colored_mnist_ablation.py``
(``PENALTY_ROWS``; 3 seeds, variances .020 and .030, the colour a fresh critic finds in the test
digits' ``z``, and the fronts figure ``colored_mnist_ablation_penalties.png``); their cost is in
``benchmarks/penalty_cost.py``.

``--clip`` and ``--mi-update`` set ``clip_mi_gradient`` and ``mi_update`` of the penalised fits
(default: the estimator's, ``per_tensor`` and ``joint``); other values name the output files
after them (``..._clip-none``, ``..._update-separate``).

Writes ``penalties_<dataset>[_<criterion>][_clip-...][_update-...].txt`` (the table),
``..._runs.csv`` (one row per fit) and ``....png`` (the fronts: accuracy against the
disparity and against the fresh MI, all penalties in one plot) to ``--out``. ``--quick`` is a
smoke run (2 runs, 2 epochs, one weight).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _provenance import provenance_lines, write_results
from fairness_criteria import FIGURE_DPI, MI_AUDIT_STEPS, Setup, split

from fairmine import MIUnbiasedClassifier, estimate_mi
from fairmine.exceptions import DegenerateModelWarning, RepresentationCollapseWarning
from fairmine.experiments import (
    fairness_scores,
)
from fairmine.mi import PENALTIES, DonskerVaradhan, make_penalty

#: the weights of each penalty: the criteria benchmark's 1, 3, 10 for the Donsker-Varadhan
#: critics; for the others, chosen on one German split that the benchmark does not use
#: (ShuffleSplit(2, test_size=0.3, random_state=123), the first): the weights below the one at
#: which the fit first became degenerate (CLUB 10, sliced 10, HSIC 30)
WEIGHTS = {
    "donsker_varadhan": (1.0, 3.0, 10.0),
    "classifier_critic": (1.0, 3.0, 10.0),
    "club": (1.0, 3.0, 5.0),
    "sliced": (1.0, 3.0, 5.0),
    "hsic": (3.0, 10.0, 20.0),
}
#: the disparity of each criterion, a key of ``fairness_scores``
DISPARITY = {"demographic_parity": "dp", "equalized_odds": "eodds", "equal_opportunity": "eo"}
NETS = {
    "german": {"max_epochs": 30, "batch_size": 64},
    "adult": {
        "max_epochs": 20,
        "batch_size": 256,
        "lr": 1e-3,
        "hidden_units": (64,),
        "embedding_dim": 8,
        "penalty__steps": 10,
    },
}
FLAGS = {"collapsed": RepresentationCollapseWarning, "degenerate": DegenerateModelWarning}


def make_setup(dataset: str, runs: int | None, quick: bool) -> Setup:
    """The criteria benchmark's ``Setup`` of a data set (its splits and cache key)."""
    net = dict(NETS[dataset], max_epochs=2) if quick else NETS[dataset]
    return Setup(
        dataset=dataset,
        runs=runs or (2 if quick else {"german": 10, "adult": 5}[dataset]),
        test_size={"german": 0.3, "adult": 0.4}[dataset],
        rows=10_000 if dataset == "adult" else None,
        net=tuple(net.items()),
        adversary_batch_size=64,
        weights=(),
        audit_mi=True,
        quick=quick,
    )


#: ``--clip`` names of the ``clip_mi_gradient`` values
CLIPS: dict[str, str | None] = {
    "per_tensor": "per_tensor",
    "representation": "representation",
    "none": None,
}


def estimator(
    setup: Setup,
    criterion: str,
    penalty: str,
    weight: float,
    run: int,
    clip: str = "per_tensor",
    mi_update: str = "joint",
) -> MIUnbiasedClassifier:
    net = setup.net_params
    # the data set's critic settings (Adult: K = 10) configure the Donsker-Varadhan penalties
    critic = net.pop("penalty", DonskerVaradhan()).get_params()
    if penalty == "classifier_critic":
        critic["critic_type"] = "classifier"
    named = penalty in ("donsker_varadhan", "classifier_critic")
    return MIUnbiasedClassifier(
        penalty=DonskerVaradhan(**critic) if named else make_penalty(penalty),
        mi_weight=weight,
        criterion=criterion,
        random_state=run,
        clip_mi_gradient=CLIPS[clip],
        mi_update=mi_update,
        **net,
    )


def fresh_mi(z: np.ndarray, c: np.ndarray, y: np.ndarray, criterion: str, run: int) -> float:
    """A fresh DV critic's estimate of the criterion's quantity in the test part's ``z``."""
    if criterion == "equal_opportunity":
        z, c, y = z[y == 1], c[y == 1], None
    given = y if criterion == "equalized_odds" else None
    return estimate_mi(z, c, given=given, max_steps=MI_AUDIT_STEPS, random_state=run)


def fit_one(setup: Setup, args: argparse.Namespace, penalty: str, weight: float, run: int) -> dict:
    """Fit and score one model on one split."""
    criterion = args.criterion
    X_train, X_test, y_train, y_test, c_train, c_test = split(setup, run)
    model = estimator(setup, criterion, penalty, weight, run, args.clip, args.mi_update)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X_train, y_train, sensitive_features=c_train)
    seconds = time.perf_counter() - start
    scores = fairness_scores(y_test, model.predict(X_test), c_test)
    row = {
        "penalty": penalty if weight else "ERM",
        "weight": weight,
        "run": run,
        "accuracy": scores["accuracy"],
        "disparity": scores[DISPARITY[criterion]],
        "fresh_mi": fresh_mi(model.transform(X_test), c_test, y_test, criterion, run),
        "fit_seconds": seconds,
    }
    for flag, category in FLAGS.items():
        row[flag] = any(issubclass(w.category, category) for w in caught)
    return row


def timings(setup: Setup, args: argparse.Namespace, repeats: int) -> pd.DataFrame:
    """Median wall time of a fit on split 0 per penalty (middle weight) and ERM, 1 and 2 threads."""
    X_train, _, y_train, _, c_train, _ = split(setup, 0)
    configs = {"ERM": ("donsker_varadhan", 0.0)}
    configs.update({p: (p, WEIGHTS[p][len(WEIGHTS[p]) // 2]) for p in args.penalties})
    rows = []
    threads_before = torch.get_num_threads()
    for threads in args.threads:
        torch.set_num_threads(threads)
        seconds: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(repeats):  # rounds: a drifting machine moves every row alike
            for name, (penalty, weight) in configs.items():
                model = estimator(
                    setup, args.criterion, penalty, weight, 0, args.clip, args.mi_update
                )
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train, y_train, sensitive_features=c_train)
                seconds[name].append(time.perf_counter() - start)
        erm = statistics.median(seconds["ERM"])
        for name, values in seconds.items():
            median = statistics.median(values)
            rows.append(
                {"penalty": name, "threads": threads, "seconds": median, "x_erm": median / erm}
            )
    torch.set_num_threads(threads_before)
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    grouped = runs.groupby(["penalty", "weight"], sort=False)
    summary = grouped[["accuracy", "disparity", "fresh_mi", "fit_seconds"]].agg(["mean", "std"])
    summary.columns = [f"{k}_{s}" if s == "std" else k for k, s in summary.columns]
    summary["fresh_mi_median"] = grouped["fresh_mi"].median()
    summary["collapsed"] = grouped["collapsed"].sum()
    summary["degenerate"] = grouped["degenerate"].sum()
    summary["runs"] = grouped.size()
    return summary.reset_index()


def table(summary: pd.DataFrame, cost: pd.DataFrame, criterion: str) -> list[str]:
    metric = {"dp": "DP", "eodds": "EOdds", "eo": "EO"}[DISPARITY[criterion]]
    lines = [
        f"{'penalty':<18}{'weight':>7}{'accuracy':>17}{metric:>17}{'fresh MI':>17}"
        f"{'MI median':>10}{'collapsed':>10}{'degenerate':>11}{'fit s':>7}"
    ]
    for _, row in summary.iterrows():
        cells = "".join(
            f"{row[k]:>8.3f} +- {row[f'{k}_std']:.3f}"
            for k in ("accuracy", "disparity", "fresh_mi")
        )
        lines.append(
            f"{row.penalty:<18}{row.weight:>7g}{cells}{row.fresh_mi_median:>10.3f}"
            f"{int(row.collapsed):>7}/{int(row.runs)}"
            f"{int(row.degenerate):>8}/{int(row.runs)}{row.fit_seconds:>7.1f}"
        )
    lines += ["", "cost (split 0, middle weight; median wall time, x ERM at the same threads):"]
    for name, rows in cost.groupby("penalty", sort=False):
        cells = "   ".join(
            f"{row.threads} thread(s) {row.seconds:6.2f} s ({row.x_erm:4.2f}x)"
            for row in rows.itertuples()
        )
        lines.append(f"  {name:<18} {cells}")
    return lines


def plot(summary: pd.DataFrame, criterion: str, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fairmine.plotting import label_points

    metric = {"dp": "demographic-parity", "eodds": "equalized-odds", "eo": "equal-opportunity"}
    # the panels one above the other, as wide as the docs' column: labels stay legible there
    fig, axes = plt.subplots(2, 1, figsize=(7.2, 9.6), layout="constrained")
    for ax, (key, label) in zip(
        axes,
        [
            ("disparity", f"{metric[DISPARITY[criterion]]} difference"),
            ("fresh_mi_median", "median MI a fresh DV critic finds in test z (nats)"),
        ],
        strict=True,
    ):
        for i, (name, rows) in enumerate(summary.groupby("penalty", sort=False)):
            marker = "s" if name == "ERM" else "o-"
            xerr = rows[f"{key}_std"] if f"{key}_std" in rows else None  # none for a median
            ax.errorbar(
                rows[key], rows["accuracy"], xerr=xerr, yerr=rows["accuracy_std"],
                fmt=marker, color="0.3" if name == "ERM" else f"C{i}", capsize=2, label=name,
                alpha=0.9,
            )  # fmt: skip
        ax.set_xlabel(f"{label} (lower is fairer)")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
    legend = axes[0].legend(fontsize="small")
    fig.suptitle(title)
    for ax, key in zip(axes, ("disparity", "fresh_mi_median"), strict=True):
        for i, (name, rows) in enumerate(summary.groupby("penalty", sort=False)):
            if name != "ERM":  # each weight beside its point, clear of the others and the legend
                points = [(r[key], r["accuracy"], f"{r.weight:g}") for _, r in rows.iterrows()]
                label_points(ax, points, avoid=[legend], fontsize="small", color=f"C{i}")
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)


def run_tabular(args: argparse.Namespace, out: Path) -> None:
    setup = make_setup(args.dataset, args.runs, args.quick)
    weights = {
        p: (WEIGHTS[p][1],) if args.quick else args.weights.get(p, WEIGHTS[p])
        for p in args.penalties
    }
    tasks = [("donsker_varadhan", 0.0)] + [(p, w) for p in args.penalties for w in weights[p]]
    stem = file_stem(args)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    started = time.perf_counter()
    for run in range(setup.runs):
        if rows:  # the finished splits, in case the run is stopped
            pd.DataFrame(rows).to_csv(out / f"{stem}_runs.csv", index=False)
        for done, (penalty, weight) in enumerate(tasks, start=1):
            row = fit_one(setup, args, penalty, weight, run)
            rows.append(row)
            print(
                f"[run {run + 1}/{setup.runs} {done}/{len(tasks)}] {row['penalty']:<18} "
                f"w={weight:<5g} acc {row['accuracy']:.3f} disparity {row['disparity']:.3f} "
                f"MI {row['fresh_mi']:.3f} ({row['fit_seconds']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    runs = pd.DataFrame(rows)
    repeats = 1 if args.quick else args.timing_repeats
    cost = timings(setup, args, repeats)
    runs.to_csv(out / f"{stem}_runs.csv", index=False)
    cost.to_csv(out / f"{stem}_cost.csv", index=False)
    report(args, setup, runs, cost, f"{time.perf_counter() - started:.0f} s", out / stem)


def report(
    args: argparse.Namespace,
    setup: Setup,
    runs: pd.DataFrame,
    cost: pd.DataFrame,
    wall: str,
    path: Path,
) -> None:
    """Print the table and write it and the fronts figure next to the CSV files at ``path``."""
    summary = summarise(runs)
    net = ", ".join(f"{k}={v!r}" for k, v in setup.net)
    header = [
        f"{args.dataset}: {setup.runs} splits of fairness_criteria.py (seed 0), criterion "
        f"{args.criterion}; MIUnbiasedClassifier({net}, penalty=..., mi_weight=..., "
        f"clip_mi_gradient={CLIPS[args.clip]!r}, mi_update={args.mi_update!r}, "
        "random_state = run index), other parameters at their defaults; ERM = mi_weight 0. "
        f"fresh MI = estimate_mi(z_test, c_test, max_steps={MI_AUDIT_STEPS}, random_state = run "
        "index) of the criterion's quantity (mean +- std, and the median over the splits). "
        "collapsed / degenerate: fits that raised RepresentationCollapseWarning / "
        "DegenerateModelWarning. mean +- std (ddof 1) over splits; one process, one torch "
        f"thread; wall time {wall}.",
    ]
    if args.quick:
        header.insert(0, "QUICK SMOKE RUN (--quick): settings shrunk, not a result.")
    text = "\n".join(
        [*(textwrap.fill(h, 100, subsequent_indent="  ") for h in header), "",
         *table(summary, cost, args.criterion)]
    )  # fmt: skip
    print(text)
    write_results(path.with_suffix(".txt"), text)
    title = f"{args.dataset}, criterion {args.criterion}: mean +- std over {setup.runs} splits"
    plot(
        summary,
        args.criterion,
        title + (" (QUICK)" if args.quick else ""),
        path.with_suffix(".png"),
    )


def replot(args: argparse.Namespace, out: Path) -> None:
    """Rebuild the table and the figure from the saved CSV files of a finished run."""
    stem = file_stem(args)
    runs = pd.read_csv(out / f"{stem}_runs.csv")
    cost = pd.read_csv(out / f"{stem}_cost.csv")
    setup = make_setup(args.dataset, int(runs["run"].nunique()), args.quick)
    report(args, setup, runs, cost, "not recorded (rebuilt with --replot)", out / stem)


def file_stem(args: argparse.Namespace) -> str:
    """``penalties_<dataset>``, then the criterion, clipping and update where not the default."""
    stem = f"penalties_{args.dataset}"
    if args.criterion != "demographic_parity":
        stem += f"_{args.criterion}"
    if args.clip != "per_tensor":
        stem += f"_clip-{args.clip}"
    if args.mi_update != "joint":
        stem += f"_update-{args.mi_update}"
    return stem


def parse_weights(text: str) -> tuple[str, tuple[float, ...]]:
    name, _, values = text.partition("=")
    if name not in PENALTIES or not values:
        raise argparse.ArgumentTypeError(
            f"expected PENALTY=w1,w2,... with PENALTY in {list(PENALTIES)}"
        )
    return name, tuple(float(v) for v in values.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("german", "adult"), default="german")
    parser.add_argument("--runs", type=int, help="splits (default: 10 German, 5 Adult)")
    parser.add_argument("--criterion", choices=tuple(DISPARITY), default="demographic_parity")
    parser.add_argument("--penalties", nargs="+", choices=tuple(PENALTIES), default=list(PENALTIES))
    parser.add_argument("--weights", type=parse_weights, nargs="*", default=[])
    parser.add_argument("--clip", choices=tuple(CLIPS), default="per_tensor")
    parser.add_argument("--mi-update", choices=("joint", "separate"), default="joint")
    parser.add_argument("--timing-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="timing threads")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--replot", action="store_true", help="rebuild table and figure from the saved CSVs"
    )
    args = parser.parse_args()
    args.weights = dict(args.weights)
    torch.set_num_threads(1)
    provenance_lines()  # the files' headers record the run as it starts
    out = args.out or (
        Path(tempfile.mkdtemp()) if args.quick else Path(__file__).parent / "results"
    )
    if args.replot:
        replot(args, out)
    else:
        run_tabular(args, out)


if __name__ == "__main__":
    main()
